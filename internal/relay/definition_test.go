package relay

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/input"
)

const exampleDefinition = `{"name":"Help keyword","trigger":"MessageReceived","conditions":{"match":"all","rules":[` +
	`{"type":"messageContains","keywords":["help"]},` +
	`{"type":"activeHours","days":["mon","tue"],"start":"09:00","end":"17:00","timezone":"America/New_York","outside":true}]},` +
	`"actions":[{"type":"sendWebhook","endpointId":"01KAE88YX393N7SAE2ABCDEFGH"}]}`

func TestDecodeDefinition(t *testing.T) {
	d, err := DecodeDefinition([]byte(exampleDefinition))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "Help keyword" || d.Trigger != "MessageReceived" || d.Conditions.Mode != MatchAll ||
		len(d.Conditions.Rules) != 2 || d.Conditions.Rules[1].Timezone != "America/New_York" ||
		!d.Conditions.Rules[1].Outside || len(d.Actions) != 1 || d.Actions[0].EndpointID != "01KAE88YX393N7SAE2ABCDEFGH" {
		t.Fatalf("decoded %+v", d)
	}
	// Marshal gives back the same JSON, which decodes to the same definition.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != exampleDefinition {
		t.Errorf("round trip:\n got %s\nwant %s", b, exampleDefinition)
	}
	// json.Unmarshal uses the same strict decoder.
	var d2 Definition
	if err := json.Unmarshal(b, &d2); err != nil {
		t.Fatal(err)
	}
	if err := d2.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripCompiled(d), stripCompiled(d2)) {
		t.Errorf("Unmarshal differs: %+v", d2)
	}
	// Minimal: no description, no conditions.
	d, err = DecodeDefinition([]byte(`{"name":"x","trigger":"TestEvent","description":null,"actions":[{"type":"sendWebhook","endpointId":"e"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(d); string(b) != `{"name":"x","trigger":"TestEvent","conditions":{"match":"all","rules":[]},"actions":[{"type":"sendWebhook","endpointId":"e"}]}` {
		t.Errorf("minimal marshal: %s", b)
	}
}

func stripCompiled(d Definition) Definition {
	rules := make([]Rule, len(d.Conditions.Rules))
	for i, r := range d.Conditions.Rules {
		r.c = nil
		rules[i] = r
	}
	d.Conditions.Rules = rules
	return d
}

func TestDefinitionErrors(t *testing.T) {
	// edit replaces old with new in exampleDefinition.
	edit := func(old, new string) string {
		if !strings.Contains(exampleDefinition, old) {
			t.Fatalf("%q not in example", old)
		}
		return strings.Replace(exampleDefinition, old, new, 1)
	}
	keywords := make([]string, MaxKeywords+1)
	for i := range keywords {
		keywords[i] = `"k"`
	}
	rules := make([]string, MaxRules+1)
	for i := range rules {
		rules[i] = `{"type":"isNewConversation","value":true}`
	}
	actions := make([]string, MaxActions+1)
	for i := range actions {
		actions[i] = `{"type":"sendWebhook","endpointId":"e"}`
	}
	for _, tc := range []struct {
		name, in, field, reason string
	}{
		{"bad timezone", edit("America/New_York", "Mars/Base"), "conditions.rules[1].timezone", `unknown time zone "Mars/Base"`},
		{"Local timezone", edit("America/New_York", "Local"), "conditions.rules[1].timezone", "unknown time zone"},
		{"path timezone", edit("America/New_York", "../../etc/passwd"), "conditions.rules[1].timezone", "unknown time zone"},
		{"no timezone", edit(`,"timezone":"America/New_York"`, ""), "conditions.rules[1].timezone", "required"},
		{"bad day", edit(`"tue"`, `"Tuesday"`), "conditions.rules[1].days[1]", "must be one of"},
		{"dup day", edit(`"tue"`, `"mon"`), "conditions.rules[1].days[1]", "duplicate"},
		{"no days", edit(`["mon","tue"]`, `[]`), "conditions.rules[1].days", "at least one"},
		{"bad start", edit(`"09:00"`, `"9:00"`), "conditions.rules[1].start", "HH:MM"},
		{"24:00", edit(`"17:00"`, `"24:00"`), "conditions.rules[1].end", "HH:MM"},
		{"start == end", edit(`"17:00"`, `"09:00"`), "conditions.rules[1].end", "differ"},
		{"outside string", edit(`"outside":true`, `"outside":"yes"`), "conditions.rules[1].outside", "must be a boolean"},
		{"unknown rule type", edit(`"messageContains"`, `"messageMatches"`), "conditions.rules[0].type", "unknown condition type"},
		{"foreign key", edit(`"keywords":["help"]`, `"keywords":["help"],"days":["mon"]`), "conditions.rules[0].days", "not allowed for messageContains"},
		{"unknown rule key", edit(`"keywords":["help"]`, `"keywords":["help"],"caseSensitive":true`), "conditions.rules[0].caseSensitive", "unknown field"},
		{"no rule type", edit(`"type":"messageContains",`, ``), "conditions.rules[0].type", "required"},
		{"no keywords", edit(`["help"]`, `[]`), "conditions.rules[0].keywords", "at least one"},
		{"blank keyword", edit(`["help"]`, `["help","  "]`), "conditions.rules[0].keywords[1]", "empty"},
		{"long keyword", edit(`["help"]`, `["`+strings.Repeat("é", MaxKeywordLen+1)+`"]`), "conditions.rules[0].keywords[0]", "longer than 100"},
		{"too many keywords", edit(`["help"]`, `[`+strings.Join(keywords, ",")+`]`), "conditions.rules[0].keywords", "at most 20"},
		{"keyword number", edit(`["help"]`, `["help",7]`), "conditions.rules[0].keywords[1]", "must be a string, not number"},
		{"bad phone", edit(`{"type":"messageContains","keywords":["help"]}`, `{"type":"phoneNumberEquals","phoneNumber":"555-1234"}`), "conditions.rules[0].phoneNumber", "E.164"},
		{"bool no value", edit(`{"type":"messageContains","keywords":["help"]}`, `{"type":"isNewConversation"}`), "conditions.rules[0].value", "required"},
		{"bool string", edit(`{"type":"messageContains","keywords":["help"]}`, `{"type":"isAnonymousConversation","value":"true"}`), "conditions.rules[0].value", "boolean"},
		{"bad match", edit(`"match":"all"`, `"match":"xor"`), "conditions.match", `"all" or "any"`},
		{"too many rules", edit(`"rules":[`, `"rules":[`+strings.Join(rules, ",")+`,`), "conditions.rules", "at most 20"},
		{"rules object", `{"name":"x","trigger":"MessageReceived","conditions":{"rules":{}},"actions":[]}`, "conditions.rules", "must be an array"},
		{"unknown trigger", edit(`"MessageReceived"`, `"MessageSent"`), "trigger", `unknown event type "MessageSent"`},
		{"no trigger", edit(`"trigger":"MessageReceived",`, ``), "trigger", "required"},
		{"no name", edit(`"name":"Help keyword",`, ``), "name", "required"},
		{"blank name", edit(`"Help keyword"`, `"   "`), "name", "required"},
		{"long name", edit(`"Help keyword"`, `"`+strings.Repeat("n", MaxNameLen+1)+`"`), "name", "longer than 100"},
		{"name number", edit(`"Help keyword"`, `42`), "name", "must be a string"},
		{"name case", edit(`"name"`, `"Name"`), "Name", "unknown field"},
		{"duplicate key", edit(`"name":"Help keyword"`, `"name":"a","name":"b"`), "name", "duplicate"},
		{"unknown top key", edit(`"name":"Help keyword"`, `"name":"a","enabled":true`), "enabled", "unknown field"},
		{"no actions", edit(`[{"type":"sendWebhook","endpointId":"01KAE88YX393N7SAE2ABCDEFGH"}]`, `[]`), "actions", "at least one"},
		{"too many actions", edit(`[{"type":"sendWebhook","endpointId":"01KAE88YX393N7SAE2ABCDEFGH"}]`, `[`+strings.Join(actions, ",")+`]`), "actions", "at most 10"},
		{"unknown action", edit(`"sendWebhook"`, `"sendEmail"`), "actions[0].type", "unknown action type"},
		{"no endpoint", edit(`,"endpointId":"01KAE88YX393N7SAE2ABCDEFGH"`, ``), "actions[0].endpointId", "required"},
		{"bad endpoint", edit(`"01KAE88YX393N7SAE2ABCDEFGH"`, `"../x"`), "actions[0].endpointId", "not a valid endpoint id"},
		{"action extra", edit(`"endpointId"`, `"url":"http://x","endpointId"`), "actions[0].url", "unknown field"},
		{"not JSON", `{"name":`, "", "invalid JSON"},
		{"trailing", exampleDefinition + `{}`, "", "invalid JSON"},
		{"array", `[]`, "", "must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeDefinition([]byte(tc.in))
			var fe *input.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *input.Error", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("err = %q, want field %q, reason containing %q", err, tc.field, tc.reason)
			}
		})
	}
}

func TestValidateGoDefinition(t *testing.T) {
	d := Definition{Name: "x", Trigger: "MessageReceived", Actions: []Action{{Type: ActionSendWebhook, EndpointID: "e"}},
		Conditions: Conditions{Rules: []Rule{{Type: RuleMessageContains, Keywords: []string{"a"}, PhoneNumber: "+15551234567"}}}}
	var fe *input.Error
	if err := d.Validate(); !errors.As(err, &fe) || fe.Field != "conditions.rules[0].phoneNumber" {
		t.Errorf("foreign field in Go: %v", err)
	}
}

func TestEndpointIDs(t *testing.T) {
	d := Definition{Actions: []Action{
		{Type: ActionSendWebhook, EndpointID: "b"},
		{Type: ActionSendWebhook, EndpointID: "a"},
		{Type: ActionSendWebhook, EndpointID: "b"},
		{Type: ActionSendWebhook, EndpointID: "c"},
	}}
	if got := d.EndpointIDs(); !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Errorf("EndpointIDs = %v", got)
	}
	if got := (Definition{}).EndpointIDs(); len(got) != 0 {
		t.Errorf("EndpointIDs() = %v", got)
	}
}

func FuzzDecodeDefinition(f *testing.F) {
	f.Add([]byte(exampleDefinition))
	for _, tpl := range Templates() {
		b, _ := json.Marshal(tpl.Build("01KAE88YX393N7SAE2ABCDEFGH"))
		f.Add(b)
	}
	f.Add([]byte(`{"name":"a","trigger":"MessageReceived","conditions":{"match":"any","rules":[{"type":"phoneNumberEquals","phoneNumber":"+15551234567"},{"type":"isNewConversation","value":false}]},"actions":[{"type":"sendWebhook","endpointId":"e"}]}`))
	f.Add([]byte(`{"name":"a","conditions":{"rules":[{"type":"activeHours","days":["sun"],"start":"23:59","end":"00:00","timezone":"Asia/Kolkata"}]}}`))
	f.Add([]byte(`[{"type":null}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDefinition(b)
		if err != nil {
			var fe *input.Error
			if !errors.As(err, &fe) || fe.Reason == "" {
				t.Fatalf("error %v is not a *input.Error", err)
			}
			return
		}
		// Accepted definitions re-encode to JSON that decodes to the same thing.
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		d2, err := DecodeDefinition(out)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if !reflect.DeepEqual(stripCompiled(d), stripCompiled(d2)) {
			t.Fatalf("round trip differs:\n%+v\n%+v", d, d2)
		}
		d.Conditions.Match(Facts{Body: string(b), WorkspaceLine: "+15551234567", At: utc("2026-03-08T07:00:00Z")})
		_ = d.EndpointIDs()
	})
}
