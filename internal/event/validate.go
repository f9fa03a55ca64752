package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/input"
)

// Limits of what the producer may publish.
const (
	// MaxEnvelopeBytes bounds the encoded Event envelope (the delivered body).
	MaxEnvelopeBytes = 256 << 10
	// MaxDataBytes bounds the compact data object. The remaining KiB is room
	// for the envelope's own fields (ids, name, time), so validated data
	// always fits in an envelope of MaxEnvelopeBytes.
	MaxDataBytes = MaxEnvelopeBytes - 1<<10
	// MaxBodyBytes bounds a Message body (UTF-8 bytes).
	MaxBodyBytes = 16 << 10
	// MaxRecipients bounds a Message's to[].
	MaxRecipients = 10
	// MaxMedia bounds a Message's media[].
	MaxMedia = 10
	// MaxIDLen bounds the producer's ids (message, workspace, conversation, contact).
	MaxIDLen = 128
	// MaxURLLen bounds a media URL.
	MaxURLLen = 2048
	// MaxContentTypeLen bounds a media content type.
	MaxContentTypeLen = 255
	// MaxTestMessageLen bounds TestEvent's message (characters).
	MaxTestMessageLen = 1000
)

// maxRawDataBytes bounds the work done before the size check: data larger
// than this is refused without being compacted.
const maxRawDataBytes = 4 * MaxEnvelopeBytes

// The window of times an event may carry (data.createdAt, the producer API's occurredAt):
// from Earliest to MaxFuture ahead of relaydesk's clock. Year 1 (an unset time in many
// languages), 1970 (a zero Unix time) and dates in the far future are mistakes, and
// relays' activeHours would judge them as if they were true. The day ahead allows for
// clocks that drift and for local times sent as UTC (at most 14 h off).
var (
	Earliest  = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxFuture = 24 * time.Hour
	// Now is relaydesk's clock (tests replace it).
	Now = time.Now
)

// CheckTime returns "" when t is inside the window, else a reason saying what is expected.
func CheckTime(t time.Time) string {
	switch {
	case t.Before(Earliest):
		return "must be a time after " + Earliest.Format(time.RFC3339) + ", not " + t.UTC().Format(time.RFC3339)
	case t.After(Now().Add(MaxFuture)):
		return "must not be more than 24 hours in the future, not " + t.UTC().Format(time.RFC3339)
	}
	return ""
}

// ErrTooLarge is wrapped by the *input.Error of data (or an envelope) over
// the size limit; the producer API answers 413 for it, 422 for the others.
var ErrTooLarge = errors.New("event too large")

// fieldErr refuses a field of a published event; field is a path: "name", "data",
// "data.to[1]", "data.media[0].url", "context.isNewConversation".
func fieldErr(field, reason string) error {
	return &input.Error{Field: field, Reason: reason}
}

// Validated is a published event that passed validation.
type Validated struct {
	Name     string
	DataType string
	// Data is the canonical compact encoding of the data: keys in the
	// documented order, strings minimally escaped, times normalized to
	// RFC 3339 UTC with microseconds. Validating Data again yields Data.
	Data json.RawMessage

	// Facts read from the data, for relay conditions and the producer API.
	// They are empty when the event type does not carry them.
	WorkspaceID   string    // data.workspaceId; the API checks it matches the request
	Body          string    // the message text
	WorkspaceLine string    // the workspace's number that received the message: to[0]
	OccurredAt    time.Time // data.createdAt
}

// Validate checks data against the catalog entry name and returns its
// canonical compact encoding, to be embedded verbatim in the envelope.
// Errors are *input.Error.
func Validate(name string, data json.RawMessage) (json.RawMessage, error) {
	v, err := ValidateEvent(name, data)
	if err != nil {
		return nil, err
	}
	return v.Data, nil
}

// ValidateEvent is Validate that also returns the facts relays need.
//
// Rules: the name must be in the catalog; data must be a JSON object of at
// most MaxDataBytes once compacted, valid UTF-8, with exactly the documented
// keys (unknown and duplicate keys are refused: the envelope is a contract);
// each field must have its documented type and format. Errors are
// *input.Error naming the first wrong field.
func ValidateEvent(name string, data []byte) (Validated, error) {
	t, ok := Lookup(name)
	if !ok {
		if name == "" {
			return Validated{}, fieldErr("name", "required")
		}
		return Validated{}, fieldErr("name", "unknown event type "+quote(name))
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Validated{}, fieldErr("data", "required")
	}
	if len(data) > maxRawDataBytes {
		return Validated{}, tooLarge("data")
	}
	compact, err := input.Compact("data", data)
	if err != nil {
		return Validated{}, err
	}
	if len(compact) > MaxDataBytes {
		return Validated{}, tooLarge("data")
	}
	v := Validated{Name: t.Name, DataType: t.DataType}
	if err := t.validate(compact, &v); err != nil {
		return Validated{}, err
	}
	if len(v.Data) > MaxDataBytes {
		return Validated{}, tooLarge("data")
	}
	return v, nil
}

func tooLarge(field string) error {
	return &input.Error{Field: field, Reason: "too large: the event envelope is limited to 256 KiB", Err: ErrTooLarge}
}

// CheckEnvelopeSize returns a *input.Error wrapping ErrTooLarge when an
// encoded envelope exceeds MaxEnvelopeBytes.
func CheckEnvelopeSize(body []byte) error {
	if len(body) > MaxEnvelopeBytes {
		return tooLarge("data")
	}
	return nil
}

// IsE164 reports whether s is an E.164 number: ^\+[1-9]\d{1,14}$.
func IsE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Context carries facts about an event that its data does not: the producer
// sends them as the publish request's "context"; they are used for relay
// conditions and never delivered. A nil field is an absent fact, and a
// condition on an absent fact does not match.
type Context struct {
	IsNewConversation       *bool `json:"isNewConversation,omitempty"`
	IsAnonymousConversation *bool `json:"isAnonymousConversation,omitempty"`
}

// DecodeContext strictly decodes a publish request's context: an object with
// only the keys of Context, each a boolean or null. Empty input and null are
// an empty Context. Errors are *input.Error ("context.<key>").
func DecodeContext(raw []byte) (Context, error) {
	var c Context
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	if len(raw) > 4<<10 || !utf8.Valid(raw) {
		return c, fieldErr("context", "must be a small JSON object")
	}
	compact, err := input.Compact("context", raw)
	if err != nil {
		return c, err
	}
	err = input.Members("context", compact, func(key string, val []byte) error {
		var dst **bool
		switch key {
		case "isNewConversation":
			dst = &c.IsNewConversation
		case "isAnonymousConversation":
			dst = &c.IsAnonymousConversation
		default:
			return fieldErr("context."+key, "unknown field")
		}
		if input.IsNull(val) {
			return nil
		}
		b, err := input.Bool("context."+key, val)
		if err == nil {
			*dst = &b
		}
		return err
	})
	return c, err
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return string(appendString(nil, s))
}
