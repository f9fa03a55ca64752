package bench

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

func TestParseSeq(t *testing.T) {
	for body, want := range map[string]int{
		`{"id":"x","data":{"id":"rdb-42","object":"Message"}}`: 42,
		`{"data":{"id":"rdb-0"}}`:                              0,
		`{"data":{"id":"rdb-"}}`:                               -1,
		`{"data":{"id":"other-1"}}`:                            -1,
		``:                                                     -1,
	} {
		if got := parseSeq([]byte(body)); got != want {
			t.Errorf("parseSeq(%s) = %d, want %d", body, got, want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.P50 != 50 || p.P95 != 95 || p.P99 != 99 || p.Max != 100 {
		t.Fatalf("%+v", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Fatal("empty")
	}
}

// TestReceiverLedger: the receiver verifies, counts each (event, endpoint) once, counts
// duplicates and bad signatures apart, and a report with anything missing is void.
func TestReceiverLedger(t *testing.T) {
	rc, err := NewReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	secret, _ := webhook.NewSecret()
	l := NewLedger(3, 2)
	rc.Use(secret, l)
	post := func(path string, seq int, sign bool) int {
		body := []byte(`{"id":"e","object":"Event","data":{"id":"rdb-` + string(rune('0'+seq)) + `"}}`)
		req, _ := http.NewRequest(http.MethodPost, rc.URL+path, bytes.NewReader(body))
		if sign {
			webhook.Sign(req.Header, "e", time.Now(), body, secret)
		} else {
			req.Header.Set("webhook-id", "e")
			req.Header.Set("webhook-timestamp", "1")
			req.Header.Set("webhook-signature", "v1,AAAA")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	l.Published(0, l.Since())
	l.Published(1, l.Since())
	for _, c := range []struct {
		path string
		seq  int
		sign bool
		want int
	}{{"/d/0", 0, true, 204}, {"/d/1", 0, true, 204}, {"/d/0", 0, true, 204}, {"/d/0", 1, true, 204}, {"/d/0", 2, false, 401}, {"/d/9", 1, true, 204}, {"/ceiling", 0, true, 204}} {
		if got := post(c.path, c.seq, c.sign); got != c.want {
			t.Fatalf("%s seq %d: %d, want %d", c.path, c.seq, got, c.want)
		}
	}
	if l.Unique() != 3 || l.dups.Load() != 1 || l.badSig.Load() != 1 || l.unknown.Load() != 1 || rc.ceiling.Load() != 1 {
		t.Fatalf("unique %d dups %d bad %d unknown %d ceiling %d", l.Unique(), l.dups.Load(), l.badSig.Load(), l.unknown.Load(), rc.ceiling.Load())
	}
	if l.countIn(0, 1) != 2 || l.countIn(1, 3) != 1 {
		t.Fatalf("countIn %d %d", l.countIn(0, 1), l.countIn(1, 3))
	}
	rc.Refuse(true)
	if got := post("/d/1", 1, true); got != http.StatusServiceUnavailable {
		t.Fatalf("refusing: %d", got)
	}

	// 3 events × 2 endpoints published, 3 delivered: the run is void.
	rep := &Report{ledger: l, Publish: Publish{Events: 3}}
	rep.Ledger = LedgerReport{Published: 6, Delivered: 3}
	rep.judge()
	if !rep.Void || rep.Ledger.Balanced || rep.Ledger.Missing != 3 || !strings.Contains(strings.Join(rep.VoidReasons, ";"), "missing") {
		t.Fatalf("%+v %v", rep.Ledger, rep.VoidReasons)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "VOID") || !strings.Contains(out.String(), "NOT balanced") {
		t.Fatal(out.String())
	}
}
