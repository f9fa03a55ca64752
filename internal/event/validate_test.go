package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// msg returns a valid MessageReceived data object with the given keys replaced
// (a nil value deletes the key).
func msg(t testing.TB, edits map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"id": "m1", "object": "Message", "workspaceId": "ws1", "conversationId": "c1",
		"communicationType": "sms", "direction": "inbound", "from": "+15551234567",
		"to": []string{"+15557654321"}, "body": "Hello", "media": []any{},
		"contactId": nil, "createdAt": "2025-11-19T14:28:39.459465Z",
	}
	for k, v := range edits {
		if v == nil {
			delete(m, k)
		} else if v == "<null>" {
			m[k] = nil
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateMessage(t *testing.T) {
	data := msg(t, nil)
	v, err := ValidateEvent(MessageReceived, data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"m1","object":"Message","workspaceId":"ws1","conversationId":"c1",` +
		`"communicationType":"sms","direction":"inbound","from":"+15551234567","to":["+15557654321"],` +
		`"body":"Hello","media":[],"contactId":null,"createdAt":"2025-11-19T14:28:39.459465Z"}`
	if string(v.Data) != want {
		t.Fatalf("canonical data:\n got %s\nwant %s", v.Data, want)
	}
	if v.Name != MessageReceived || v.DataType != "Message" || v.WorkspaceID != "ws1" ||
		v.Body != "Hello" || v.WorkspaceLine != "+15557654321" ||
		!v.OccurredAt.Equal(time.Date(2025, 11, 19, 14, 28, 39, 459465000, time.UTC)) {
		t.Errorf("facts: %+v", v)
	}
	// Whitespace, key order, escapes and time zones are normalized.
	in := `{ "createdAt":"2025-11-19T15:28:39.4594651+01:00", "contactId":"ct_1",
	  "media":[{"contentType":"image/png","url":"https://x.example/a.png"}],
	  "body":"\u0048i \u003c3 \/", "to":["+15557654321","+447700900123"], "from":"+15551234567",
	  "direction":"inbound","communicationType":"mms","conversationId":"c1","workspaceId":"ws1",
	  "object":"Message","id":"m1"}`
	got, err := Validate(MessageReceived, json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"id":"m1","object":"Message","workspaceId":"ws1","conversationId":"c1",` +
		`"communicationType":"mms","direction":"inbound","from":"+15551234567",` +
		`"to":["+15557654321","+447700900123"],"body":"Hi <3 /",` +
		`"media":[{"url":"https://x.example/a.png","contentType":"image/png"}],` +
		`"contactId":"ct_1","createdAt":"2025-11-19T14:28:39.459465Z"}`
	if string(got) != want {
		t.Fatalf("normalized:\n got %s\nwant %s", got, want)
	}
	again, err := Validate(MessageReceived, got)
	if err != nil || string(again) != string(got) {
		t.Fatalf("re-validate: %s, %v", again, err)
	}
	m, err := ParseMessage(got)
	if err != nil || m.ContactID == nil || *m.ContactID != "ct_1" || len(m.Media) != 1 || m.WorkspaceLine() != "+15557654321" {
		t.Fatalf("ParseMessage: %+v, %v", m, err)
	}
	if b := m.AppendJSON(nil); string(b) != want {
		t.Errorf("Message.AppendJSON = %s", b)
	}
}

func TestValidateErrors(t *testing.T) {
	tooMany := make([]string, MaxRecipients+1)
	for i := range tooMany {
		tooMany[i] = "+1555000000" + string(rune('0'+i%10))
	}
	media := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]string{"url": "https://x.example/a", "contentType": "image/jpeg"}
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		event     string
		data      []byte
		field     string
		reasonHas string
		tooLarge  bool
	}{
		{"unknown name", "MessageSent", msg(t, nil), "name", "unknown event type", false},
		{"empty name", "", msg(t, nil), "name", "required", false},
		{"no data", MessageReceived, nil, "data", "required", false},
		{"not JSON", MessageReceived, []byte(`{"id":`), "data", "invalid JSON", false},
		{"not object", MessageReceived, []byte(`[1]`), "data", "must be an object", false},
		{"bad utf8", MessageReceived, []byte("{\"id\":\"\xff\"}"), "data", "UTF-8", false},
		{"missing body", MessageReceived, msg(t, map[string]any{"body": nil}), "data.body", "required", false},
		{"missing contactId", MessageReceived, msg(t, map[string]any{"contactId": nil}), "data.contactId", "required", false},
		{"unknown field", MessageReceived, msg(t, map[string]any{"extra": 1}), "data.extra", "unknown field", false},
		{"case differs", MessageReceived, msg(t, map[string]any{"Body": "x"}), "data.Body", "unknown field", false},
		{"duplicate", MessageReceived, []byte(strings.Replace(string(msg(t, nil)), `"body":"Hello"`, `"body":"Hello","body":"x"`, 1)), "data.body", "duplicate", false},
		{"wrong type", MessageReceived, msg(t, map[string]any{"body": 5}), "data.body", "must be a string, not number", false},
		{"object wrong", MessageReceived, msg(t, map[string]any{"object": "Event"}), "data.object", `"Message"`, false},
		{"bad from", MessageReceived, msg(t, map[string]any{"from": "5551234567"}), "data.from", "E.164", false},
		{"from leading zero", MessageReceived, msg(t, map[string]any{"from": "+05551234567"}), "data.from", "E.164", false},
		{"from too long", MessageReceived, msg(t, map[string]any{"from": "+1234567890123456"}), "data.from", "E.164", false},
		{"bad to[1]", MessageReceived, msg(t, map[string]any{"to": []string{"+15551234567", "+1 555"}}), "data.to[1]", "E.164", false},
		{"to not array", MessageReceived, msg(t, map[string]any{"to": "+15551234567"}), "data.to", "must be an array", false},
		{"to empty", MessageReceived, msg(t, map[string]any{"to": []string{}}), "data.to", "at least one", false},
		{"to too many", MessageReceived, msg(t, map[string]any{"to": tooMany}), "data.to", "at most 10", false},
		{"bad type", MessageReceived, msg(t, map[string]any{"communicationType": "email"}), "data.communicationType", "sms", false},
		{"outbound", MessageReceived, msg(t, map[string]any{"direction": "outbound"}), "data.direction", "inbound", false},
		{"body too long", MessageReceived, msg(t, map[string]any{"body": strings.Repeat("a", MaxBodyBytes+1)}), "data.body", "longer than", false},
		{"media too many", MessageReceived, msg(t, map[string]any{"media": media(MaxMedia + 1)}), "data.media", "at most 10", false},
		{"media bad url", MessageReceived, msg(t, map[string]any{"media": []any{map[string]string{"url": "ftp://x/a", "contentType": "image/jpeg"}}}), "data.media[0].url", "http", false},
		{"media no type", MessageReceived, msg(t, map[string]any{"media": []any{map[string]string{"url": "https://x/a"}}}), "data.media[0].contentType", "required", false},
		{"media bad type", MessageReceived, msg(t, map[string]any{"media": []any{map[string]string{"url": "https://x/a", "contentType": "jpeg"}}}), "data.media[0].contentType", "MIME", false},
		{"media extra", MessageReceived, msg(t, map[string]any{"media": []any{map[string]any{"url": "https://x/a", "contentType": "image/png", "size": 3}}}), "data.media[0].size", "unknown", false},
		{"empty id", MessageReceived, msg(t, map[string]any{"id": ""}), "data.id", "empty", false},
		{"contactId number", MessageReceived, msg(t, map[string]any{"contactId": 7}), "data.contactId", "string", false},
		{"bad time", MessageReceived, msg(t, map[string]any{"createdAt": "yesterday"}), "data.createdAt", "RFC 3339", false},
		{"300 KiB", MessageReceived, msg(t, map[string]any{"body": strings.Repeat("a", 300<<10)}), "data", "too large", true},
		{"2 MiB", MessageReceived, msg(t, map[string]any{"body": strings.Repeat("a", 2<<20)}), "data", "too large", true},
		{"test event empty", TestEvent, []byte(`{}`), "data.message", "required", false},
		{"test event extra", TestEvent, []byte(`{"message":"x","y":1}`), "data.y", "unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.event, tc.data)
			var ve *input.Error
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *input.Error", err)
			}
			if ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reasonHas) {
				t.Errorf("err = %q, want field %q reason containing %q", err, tc.field, tc.reasonHas)
			}
			if errors.Is(err, ErrTooLarge) != tc.tooLarge {
				t.Errorf("errors.Is(ErrTooLarge) = %v", !tc.tooLarge)
			}
		})
	}
}

func TestValidateTestEvent(t *testing.T) {
	v, err := ValidateEvent(TestEvent, []byte(` { "message" : "hi\u0021" } `))
	if err != nil || string(v.Data) != `{"message":"hi!"}` || v.DataType != "TestEvent" {
		t.Fatalf("%s %+v %v", v.Data, v, err)
	}
}

func TestIsE164(t *testing.T) {
	for s, want := range map[string]bool{
		"+15551234567": true, "+12": true, "+123456789012345": true,
		"+1234567890123456": false, "+1": false, "15551234567": false, "+0123": false,
		"+1-555": false, "": false, "+١٢٣": false, " +15551234567": false,
	} {
		if IsE164(s) != want {
			t.Errorf("IsE164(%q) = %v", s, !want)
		}
	}
}

func TestDecodeContext(t *testing.T) {
	c, err := DecodeContext([]byte(`{"isNewConversation":true,"isAnonymousConversation":false}`))
	if err != nil || c.IsNewConversation == nil || !*c.IsNewConversation || c.IsAnonymousConversation == nil || *c.IsAnonymousConversation {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := DecodeContext(nil); err != nil || c.IsNewConversation != nil {
		t.Fatal(c, err)
	}
	if c, err := DecodeContext([]byte(`{"isNewConversation":null}`)); err != nil || c.IsNewConversation != nil {
		t.Fatal(c, err)
	}
	for in, field := range map[string]string{
		`{"isNew":true}`:                                      "context.isNew",
		`{"isNewConversation":"yes"}`:                         "context.isNewConversation",
		`{"isNewConversation":null,"isNewConversation":true}`: "context.isNewConversation",
		`[]`:   "context",
		`{"a"`: "context",
	} {
		_, err := DecodeContext([]byte(in))
		var ve *input.Error
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("DecodeContext(%s) = %v, want field %s", in, err, field)
		}
	}
	// Not JSON: the parser's words, as for data.
	if _, err := DecodeContext([]byte(`{"a"`)); err == nil || err.Error() != "context: invalid JSON: unexpected end of JSON input" {
		t.Errorf("DecodeContext({\"a\") = %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	for _, typ := range Types() {
		f.Add(typ.Name, []byte(typ.Example))
	}
	f.Add(MessageReceived, msg(f, map[string]any{"body": "a\"\\\u2028<>é\x01", "contactId": "c"}))
	f.Add(MessageReceived, []byte(`{"id":"\ud800","object":"Message"}`))
	f.Add(MessageReceived, []byte(`[[[[{}]]]]`))
	f.Add(TestEvent, []byte(`{"message":"\u0000"}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		v, err := ValidateEvent(name, data)
		if err != nil {
			var ve *input.Error
			if !errors.As(err, &ve) || ve.Field == "" || ve.Reason == "" {
				t.Fatalf("error %v is not a complete *input.Error", err)
			}
			return
		}
		if !json.Valid(v.Data) || len(v.Data) > MaxDataBytes {
			t.Fatalf("accepted data is not valid compact JSON: %q", v.Data)
		}
		again, err := Validate(name, v.Data)
		if err != nil {
			t.Fatalf("accepted %q, canonical %q rejected: %v", data, v.Data, err)
		}
		if string(again) != string(v.Data) {
			t.Fatalf("not stable:\n%q\n%q", v.Data, again)
		}
		body := Encode(Envelope{ID: store.NewID(), Name: name, DataType: v.DataType, Data: v.Data})
		if !json.Valid(body) {
			t.Fatalf("envelope invalid: %q", body)
		}
	})
}

func TestCheckTimeWindow(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	defer func(f func() time.Time) { Now = f }(Now)
	Now = func() time.Time { return now }
	for _, c := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Time{}, false},
		{time.Unix(0, 0), false},
		{Earliest.Add(-time.Microsecond), false},
		{Earliest, true},
		{now, true},
		{now.Add(-20 * 365 * 24 * time.Hour), true},
		{now.Add(MaxFuture), true},
		{now.Add(MaxFuture + time.Second), false},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), false},
	} {
		if got := CheckTime(c.t); (got == "") != c.ok {
			t.Errorf("CheckTime(%s) = %q, want ok=%v", c.t.Format(time.RFC3339Nano), got, c.ok)
		}
	}
}
