package webhook

import (
	"crypto/sha256"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// Header names of the wire contract. HTTP header names are case-insensitive; Go's net/http
// sends and reads them in canonical form (e.g. "Webhook-Id"), which every receiver accepts.
const (
	// HeaderSignature is base64 (standard, padded) of HMAC-SHA256 over the raw body, keyed
	// with the UTF-8 bytes of the secret string as shown ("whsec_…"). It carries no timestamp
	// and therefore no replay protection.
	HeaderSignature = "X-MessageDesk-Signature"
	// HeaderID is the Standard Webhooks message id: the event id, the same on every retry
	// and for every endpoint. Receivers use it as their idempotency key.
	HeaderID = "webhook-id"
	// HeaderTimestamp is the Standard Webhooks timestamp: Unix seconds of this attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderStdSignature is the Standard Webhooks signature list: "v1,<base64>" per secret
	// and, when the workspace has a signing key pair, "v1a,<base64 ed25519>" per key,
	// space-separated.
	HeaderStdSignature = "webhook-signature"
	// HeaderKeyID names the keys of the v1a entries, in the same order, space-separated: each
	// is the kid of a key in the workspace's JWKS document (PublicKey.KeyID). Not signed: it
	// only tells the receiver which published key to try.
	HeaderKeyID = "X-MessageDesk-Key-Id"

	// HeaderEvent, HeaderDelivery and HeaderAttempt describe the delivery; they are not signed.
	HeaderEvent    = "X-MessageDesk-Event"
	HeaderDelivery = "X-MessageDesk-Delivery"
	HeaderAttempt  = "X-MessageDesk-Attempt"
)

// Canonical forms, computed once so the hot path does not canonicalise on every call.
var (
	canonSignature    = textproto.CanonicalMIMEHeaderKey(HeaderSignature)
	canonID           = textproto.CanonicalMIMEHeaderKey(HeaderID)
	canonTimestamp    = textproto.CanonicalMIMEHeaderKey(HeaderTimestamp)
	canonStdSignature = textproto.CanonicalMIMEHeaderKey(HeaderStdSignature)
	canonKeyID        = textproto.CanonicalMIMEHeaderKey(HeaderKeyID)
)

// scratch is reusable working memory for Sign and verification.
type scratch struct {
	prefix []byte // "id.timestamp."
	out    []byte // the header values, back to back
	sum    [sha256.Size]byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{prefix: make([]byte, 0, 64), out: make([]byte, 0, 256)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.prefix) > 4096 || cap(sc.out) > 4096 { // do not keep oversized buffers
		return
	}
	scratchPool.Put(sc)
}

// Sign sets the signature headers of one delivery attempt on h, replacing any already there:
//
//   - X-MessageDesk-Signature: keyed with secrets[0] (the current secret);
//   - webhook-id: msgID;
//   - webhook-timestamp: ts as Unix seconds;
//   - webhook-signature: "v1,<sig>" for each secret, space-separated. secrets[0] is the
//     current secret; later ones are previous secrets still in a rotation grace window.
//
// Zero secrets are skipped; with no usable secret only webhook-id and webhook-timestamp are
// set and both signature headers are removed. Sign sets no other header (not Content-Type).
// It is safe for concurrent use and makes two small allocations per call.
func Sign(h http.Header, msgID string, ts time.Time, body []byte, secrets ...Secret) {
	sc := getScratch()
	defer putScratch(sc)

	prefix := append(sc.prefix[:0], msgID...)
	prefix = append(prefix, '.')
	tsStart := len(prefix)
	prefix = strconv.AppendInt(prefix, ts.Unix(), 10)
	tsEnd := len(prefix)
	prefix = append(prefix, '.')
	sc.prefix = prefix

	// All values go into one buffer that becomes one string; the headers hold substrings.
	out := append(sc.out[:0], prefix[tsStart:tsEnd]...)
	mdStart, mdEnd := len(out), len(out)
	var stdStart int
	n := 0
	for _, s := range secrets {
		if s.k == nil {
			continue
		}
		if n == 0 {
			out = s.k.mdMAC(out, sc.sum[:], body)
			mdEnd = len(out)
			stdStart = len(out)
		} else {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = s.k.stdMAC(out, sc.sum[:], prefix, body)
		n++
	}
	sc.out = out
	str := string(out)

	if n == 0 {
		vals := make([]string, 2)
		vals[0], vals[1] = msgID, str
		h[canonID] = vals[0:1:1]
		h[canonTimestamp] = vals[1:2:2]
		delete(h, canonSignature)
		delete(h, canonStdSignature)
		return
	}
	vals := make([]string, 4)
	vals[0] = msgID
	vals[1] = str[:mdStart]
	vals[2] = str[mdStart:mdEnd]
	vals[3] = str[stdStart:]
	h[canonID] = vals[0:1:1]
	h[canonTimestamp] = vals[1:2:2]
	h[canonSignature] = vals[2:3:3]
	h[canonStdSignature] = vals[3:4:4]
}

// SignV1a adds the asymmetric Standard Webhooks signatures: a "v1a,<base64 ed25519 signature
// of id.timestamp.body>" entry per key, appended to the webhook-signature that Sign set (call
// it after Sign, with the same msgID, ts and body), and X-MessageDesk-Key-Id naming the keys
// in the same order. keys[0] is the current key, later ones previous keys still in a rotation
// grace window. It also sets webhook-id and webhook-timestamp, so it can sign alone.
// Zero keys are skipped; with none, h is left as it was.
func SignV1a(h http.Header, msgID string, ts time.Time, body []byte, keys ...SigningKey) {
	n := 0
	for _, k := range keys {
		if !k.IsZero() {
			n++
		}
	}
	if n == 0 {
		return
	}
	sc := getScratch()
	defer putScratch(sc)
	msg := append(sc.prefix[:0], msgID...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts.Unix(), 10)
	msg = append(msg, '.')
	msg = append(msg, body...)
	sc.prefix = msg

	sig := sc.out[:0]
	if vs := h[canonStdSignature]; len(vs) > 0 && vs[0] != "" {
		sig = append(sig, vs[0]...)
	}
	var kids []byte
	for _, k := range keys {
		if k.IsZero() {
			continue
		}
		if len(sig) > 0 {
			sig = append(sig, ' ')
		}
		sig = append(sig, "v1a,"...)
		sig = k.sign(sig, msg)
		if len(kids) > 0 {
			kids = append(kids, ' ')
		}
		kids = append(kids, k.KeyID()...)
	}
	sc.out = sig
	h[canonID] = []string{msgID}
	h[canonTimestamp] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h[canonStdSignature] = []string{string(sig)}
	h[canonKeyID] = []string{string(kids)}
}
