package relay

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/event"
)

func ptr[T any](v T) *T { return &v }

// conds builds validated conditions from JSON.
func conds(t testing.TB, js string) Conditions {
	t.Helper()
	d, err := DecodeDefinition([]byte(`{"name":"t","trigger":"MessageReceived","conditions":` + js +
		`,"actions":[{"type":"sendWebhook","endpointId":"ep1"}]}`))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return d.Conditions
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestActiveHours(t *testing.T) {
	const (
		business    = `{"rules":[{"type":"activeHours","days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00","timezone":"America/New_York"}]}`
		afterHours  = `{"rules":[{"type":"activeHours","days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00","timezone":"America/New_York","outside":true}]}`
		night       = `{"rules":[{"type":"activeHours","days":["fri"],"start":"22:00","end":"06:00","timezone":"America/New_York"}]}`
		mondayEve   = `{"rules":[{"type":"activeHours","days":["mon"],"start":"20:00","end":"23:00","timezone":"America/New_York"}]}`
		springNight = `{"rules":[{"type":"activeHours","days":["sat"],"start":"22:00","end":"03:00","timezone":"America/New_York"}]}`
		skipped     = `{"rules":[{"type":"activeHours","days":["sun"],"start":"02:00","end":"03:00","timezone":"America/New_York"}]}`
		repeated    = `{"rules":[{"type":"activeHours","days":["sun"],"start":"01:00","end":"02:00","timezone":"America/New_York"}]}`
		tokyo       = `{"rules":[{"type":"activeHours","days":["mon"],"start":"00:00","end":"01:00","timezone":"Asia/Tokyo"}]}`
	)
	for _, tc := range []struct {
		name  string
		conds string
		at    string
		want  bool
	}{
		// Boundaries: start inclusive, end exclusive, in the rule's zone (EDT = UTC−4).
		{"mon 09:00 EDT start inclusive", business, "2026-03-09T13:00:00Z", true},
		{"mon 08:59:59 EDT", business, "2026-03-09T12:59:59Z", false},
		{"mon 16:59:59 EDT", business, "2026-03-09T20:59:59Z", true},
		{"mon 17:00 EDT end exclusive", business, "2026-03-09T21:00:00Z", false},
		{"sat noon", business, "2026-03-07T17:00:00Z", false},
		// The same UTC time of day on either side of the spring DST change.
		{"fri 13:30Z = 08:30 EST", business, "2026-03-06T13:30:00Z", false},
		{"mon 13:30Z = 09:30 EDT", business, "2026-03-09T13:30:00Z", true},
		{"fri 21:30Z = 16:30 EST", business, "2026-03-06T21:30:00Z", true},
		{"mon 21:30Z = 17:30 EDT", business, "2026-03-09T21:30:00Z", false},
		// And across the fall change (2026-11-01).
		{"fri 30 oct 21:30Z = 17:30 EDT", business, "2026-10-30T21:30:00Z", false},
		{"mon 2 nov 21:30Z = 16:30 EST", business, "2026-11-02T21:30:00Z", true},
		{"mon 2 nov 13:30Z = 08:30 EST", business, "2026-11-02T13:30:00Z", false},
		// outside: true is the complement.
		{"after hours sat", afterHours, "2026-03-07T17:00:00Z", true},
		{"after hours mon 10:00 EDT", afterHours, "2026-03-09T14:00:00Z", false},
		{"after hours mon 17:00 EDT", afterHours, "2026-03-09T21:00:00Z", true},
		{"after hours mon 08:59 EDT", afterHours, "2026-03-09T12:59:00Z", true},
		// Days are evaluated in the rule's zone, not UTC.
		{"tue 01:30Z = mon 21:30 EDT", mondayEve, "2026-03-10T01:30:00Z", true},
		{"mon 21:30Z = mon 17:30 EDT", mondayEve, "2026-03-09T21:30:00Z", false},
		{"sun 15:30Z = mon 00:30 JST", tokyo, "2026-03-08T15:30:00Z", true},
		{"mon 15:30Z = tue 00:30 JST", tokyo, "2026-03-09T15:30:00Z", false},
		// Across midnight: fri 22:00 → sat 06:00 (EST = UTC−5 in January).
		{"fri 21:59 EST", night, "2026-01-03T02:59:00Z", false},
		{"fri 22:00 EST", night, "2026-01-03T03:00:00Z", true},
		{"fri 23:59 EST", night, "2026-01-03T04:59:00Z", true},
		{"sat 00:00 EST", night, "2026-01-03T05:00:00Z", true},
		{"sat 05:59 EST", night, "2026-01-03T10:59:00Z", true},
		{"sat 06:00 EST", night, "2026-01-03T11:00:00Z", false},
		{"sat 22:30 EST (sat not listed)", night, "2026-01-04T03:30:00Z", false},
		{"fri 03:00 EST (thu not listed)", night, "2026-01-02T08:00:00Z", false},
		{"thu 23:00 EST", night, "2026-01-02T04:00:00Z", false},
		// A night window through the spring-forward change (sun 2026-03-08 02:00 EST → 03:00 EDT).
		{"sat 22:00 EST", springNight, "2026-03-08T03:00:00Z", true},
		{"sun 01:59 EST", springNight, "2026-03-08T06:59:00Z", true},
		{"sun 03:00 EDT (end) right after the jump", springNight, "2026-03-08T07:00:00Z", false},
		// Wall-clock hours a DST change skips never occur…
		{"skipped: sun 01:59 EST", skipped, "2026-03-08T06:59:59Z", false},
		{"skipped: sun 03:00 EDT", skipped, "2026-03-08T07:00:00Z", false},
		// …and repeated hours occur twice (sun 2026-11-01 02:00 EDT → 01:00 EST).
		{"repeated: 00:59 EDT", repeated, "2026-11-01T04:59:00Z", false},
		{"repeated: first 01:30 (EDT)", repeated, "2026-11-01T05:30:00Z", true},
		{"repeated: second 01:30 (EST)", repeated, "2026-11-01T06:30:00Z", true},
		{"repeated: 02:00 EST", repeated, "2026-11-01T07:00:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conds(t, tc.conds)
			if got := c.Match(Facts{At: utc(tc.at)}); got != tc.want {
				local := utc(tc.at).In(c.Rules[0].c.loc)
				t.Errorf("Match at %s (%s) = %v, want %v", tc.at, local.Format("Mon 15:04 MST"), got, tc.want)
			}
		})
	}
	// An absent time matches neither inside nor outside.
	for _, js := range []string{business, afterHours} {
		if conds(t, js).Match(Facts{}) {
			t.Errorf("%s matched without a time", js)
		}
	}
}

func TestConditions(t *testing.T) {
	const (
		help     = `{"rules":[{"type":"messageContains","keywords":["help","stop"]}]}`
		unicode  = `{"rules":[{"type":"messageContains","keywords":["HÉLP","kelvin","ΣΟΦΙΑ","straße"]}]}`
		line     = `{"rules":[{"type":"phoneNumberEquals","phoneNumber":"+15557654321"}]}`
		newConv  = `{"rules":[{"type":"isNewConversation","value":true}]}`
		notNew   = `{"rules":[{"type":"isNewConversation","value":false}]}`
		anon     = `{"rules":[{"type":"isAnonymousConversation","value":true}]}`
		allOf    = `{"match":"all","rules":[{"type":"messageContains","keywords":["help"]},{"type":"phoneNumberEquals","phoneNumber":"+15557654321"}]}`
		anyOf    = `{"match":"any","rules":[{"type":"messageContains","keywords":["help"]},{"type":"phoneNumberEquals","phoneNumber":"+15557654321"}]}`
		empty    = `{"match":"any","rules":[]}`
		ourLine  = "+15557654321"
		elseLine = "+15550000000"
	)
	for _, tc := range []struct {
		name  string
		conds string
		facts Facts
		want  bool
	}{
		{"keyword exact", help, Facts{Body: "help"}, true},
		{"keyword upper", help, Facts{Body: "I need HELP now"}, true},
		{"keyword mixed", help, Facts{Body: "HeLp"}, true},
		{"keyword substring", help, Facts{Body: "helpful"}, true},
		{"second keyword", help, Facts{Body: "STOP"}, true},
		{"no keyword", help, Facts{Body: "hello"}, false},
		{"partial keyword", help, Facts{Body: "hel"}, false},
		{"empty body", help, Facts{}, false},
		{"unicode accent", unicode, Facts{Body: "need hélp"}, true},
		{"kelvin sign", unicode, Facts{Body: "\u212Aelvin"}, true},
		{"greek final sigma", unicode, Facts{Body: "σοφια"}, true},
		{"sharp s is simple folding only", unicode, Facts{Body: "STRASSE"}, false},
		{"sharp s capital", unicode, Facts{Body: "STRAẞE"}, true},
		{"invalid utf8 body", help, Facts{Body: "\xffhelp\xfe"}, true},
		{"line equals", line, Facts{WorkspaceLine: ourLine}, true},
		{"other line", line, Facts{WorkspaceLine: elseLine}, false},
		{"no line", line, Facts{}, false},
		{"new conversation", newConv, Facts{NewConversation: ptr(true)}, true},
		{"not new", newConv, Facts{NewConversation: ptr(false)}, false},
		{"new absent", newConv, Facts{}, false},
		{"value false matches false", notNew, Facts{NewConversation: ptr(false)}, true},
		{"value false, absent", notNew, Facts{}, false},
		{"anonymous", anon, Facts{Anonymous: ptr(true)}, true},
		{"anonymous absent", anon, Facts{NewConversation: ptr(true)}, false},
		{"all both", allOf, Facts{Body: "help", WorkspaceLine: ourLine}, true},
		{"all one", allOf, Facts{Body: "help", WorkspaceLine: elseLine}, false},
		{"any one", anyOf, Facts{Body: "nope", WorkspaceLine: ourLine}, true},
		{"any none", anyOf, Facts{Body: "nope", WorkspaceLine: elseLine}, false},
		{"empty rules", empty, Facts{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := conds(t, tc.conds).Match(tc.facts); got != tc.want {
				t.Errorf("Match(%+v) = %v, want %v", tc.facts, got, tc.want)
			}
		})
	}
	if !(Conditions{}).Match(Facts{}) {
		t.Error("zero Conditions must match")
	}
}

// Rules built in Go and never validated still evaluate (slowly), and an
// invalid rule never matches.
func TestMatchUnvalidated(t *testing.T) {
	c := Conditions{Rules: []Rule{{Type: RuleMessageContains, Keywords: []string{"Help"}}}}
	if !c.Match(Facts{Body: "HELP"}) {
		t.Error("unvalidated keyword rule did not match")
	}
	c = Conditions{Rules: []Rule{{Type: RuleActiveHours, Days: []string{"mon"}, Start: "09:00", End: "10:00", Timezone: "Mars/Base"}}}
	if c.Match(Facts{At: utc("2026-03-09T09:30:00Z")}) {
		t.Error("invalid rule matched")
	}
	c = Conditions{Rules: []Rule{{Type: "bogus"}}}
	if c.Match(Facts{Body: "x"}) {
		t.Error("unknown rule matched")
	}
}

func TestNewFacts(t *testing.T) {
	mr, _ := event.Lookup(event.MessageReceived)
	v, err := event.ValidateEvent(mr.Name, mr.Example)
	if err != nil {
		t.Fatal(err)
	}
	recv := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFacts(v, event.Context{IsNewConversation: ptr(true)}, recv)
	if f.Body != v.Body || f.WorkspaceLine != "+15557654321" || !f.At.Equal(v.OccurredAt) ||
		f.NewConversation == nil || !*f.NewConversation || f.Anonymous != nil {
		t.Errorf("NewFacts = %+v", f)
	}
	tv, _ := event.ValidateEvent(event.TestEvent, []byte(event.TestEventData))
	if f := NewFacts(tv, event.Context{}, recv); !f.At.Equal(recv) || f.WorkspaceLine != "" {
		t.Errorf("NewFacts(TestEvent) = %+v", f)
	}
}

// BenchmarkMatch evaluates a realistic rule set: keywords, the line, a new
// conversation and business hours in New York, all of which match.
func BenchmarkMatch(b *testing.B) {
	c := conds(b, `{"match":"all","rules":[
		{"type":"messageContains","keywords":["stop","unsubscribe","help","info"]},
		{"type":"phoneNumberEquals","phoneNumber":"+15557654321"},
		{"type":"isNewConversation","value":true},
		{"type":"activeHours","days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00","timezone":"America/New_York","outside":true}]}`)
	f := Facts{
		Body:            "Hi there, I ordered last week and it has not arrived yet. Can you help me? Order #48213, thanks!",
		WorkspaceLine:   "+15557654321",
		NewConversation: ptr(true),
		At:              utc("2026-03-07T17:00:00Z"),
	}
	if !c.Match(f) {
		b.Fatal("benchmark facts do not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !c.Match(f) {
			b.Fatal("no match")
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	c := conds(t, `{"match":"any","rules":[{"type":"messageContains","keywords":["zzz","ÉTÉ"]},
		{"type":"activeHours","days":["sat"],"start":"22:00","end":"03:00","timezone":"Europe/Paris"}]}`)
	f := Facts{Body: "bonjour, quel été !", At: utc("2026-03-07T17:00:00Z")}
	if n := testing.AllocsPerRun(100, func() { c.Match(f) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

// TestKeywordFoldMatchesEqualFold checks the keyword matcher against a
// reference built on strings.EqualFold, on random strings over an alphabet
// rich in case-folding corner cases.
func TestKeywordFoldMatchesEqualFold(t *testing.T) {
	alphabet := []rune("aAkKsS\u212a\u017féÉßẞσςΣ xX\u0130\u0131iI")
	rng := rand.New(rand.NewPCG(1, 2))
	randString := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	reference := func(s, kw string) bool {
		for i := range s {
			for j := i; j <= len(s); j++ {
				if utf8.ValidString(s[i:j]) && strings.EqualFold(s[i:j], kw) {
					return true
				}
			}
		}
		return false
	}
	for range 20000 {
		s, kw := randString(rng.IntN(8)), randString(1+rng.IntN(3))
		fk := foldKeyword(kw)
		if got, want := fk.in(s), reference(s, kw); got != want {
			t.Fatalf("keyword %q in %q = %v, want %v", kw, s, got, want)
		}
	}
}
