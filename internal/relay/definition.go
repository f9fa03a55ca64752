// Package relay holds Relays: a trigger (an event name from the catalog),
// conditions on the event, and actions (send the event to an endpoint).
//
// The files condition.go, template.go and definition.go are pure: the
// definition, its strict decoding and validation, the condition engine and
// the templates. They know nothing of the store or HTTP.
package relay

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/input"
)

// Limits of a relay definition.
const (
	MaxNameLen        = 100  // characters
	MaxDescriptionLen = 1000 // characters
	MaxRules          = 20
	MaxActions        = 10
	MaxKeywords       = 20
	MaxKeywordLen     = 100 // characters
	MaxEndpointIDLen  = 64
	maxDefinitionSize = 64 << 10 // bytes of JSON
)

// Action types.
const (
	ActionSendWebhook = "sendWebhook"
)

// Definition is what a user builds: everything of a relay except its
// identity and whether it is enabled (new relays start paused). JSON:
//
//	{"name":"Help keyword","description":"…","trigger":"MessageReceived",
//	 "conditions":{"match":"all","rules":[{"type":"messageContains","keywords":["help"]}]},
//	 "actions":[{"type":"sendWebhook","endpointId":"01…"}]}
//
// description and conditions may be omitted (no conditions = every event of
// the trigger). Decode with DecodeDefinition; call Validate before Match.
type Definition struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Trigger     string     `json:"trigger"`
	Conditions  Conditions `json:"conditions"`
	Actions     []Action   `json:"actions"`
}

// Action is one step of a relay; actions run in order. The only type is
// sendWebhook: {"type":"sendWebhook","endpointId":"…"}. The API layer checks
// that the endpoint belongs to the relay's workspace.
type Action struct {
	Type       string `json:"type"`
	EndpointID string `json:"endpointId,omitempty"`
}

// fieldErr refuses a field of a definition; field is a path such as "name",
// "conditions.rules[1].timezone", "actions[0].endpointId".
func fieldErr(field, reason string) *input.Error { return &input.Error{Field: field, Reason: reason} }

// DecodeDefinition strictly decodes a definition and validates it: unknown
// or duplicate keys, keys in the wrong case, wrong JSON types and trailing
// data are refused. Errors are *input.Error naming the field.
func DecodeDefinition(b []byte) (Definition, error) {
	var d Definition
	if err := d.decode(b); err != nil {
		return Definition{}, err
	}
	if err := d.Validate(); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// UnmarshalJSON strictly decodes d (see DecodeDefinition) without
// validating it.
func (d *Definition) UnmarshalJSON(b []byte) error { return d.decode(b) }

func (d *Definition) decode(b []byte) error {
	if len(b) > maxDefinitionSize {
		return fieldErr("", "definition larger than "+strconv.Itoa(maxDefinitionSize>>10)+" KiB")
	}
	if !utf8.Valid(b) {
		return fieldErr("", "definition is not valid UTF-8")
	}
	b, err := input.Compact("", b)
	if err != nil {
		return err
	}
	*d = Definition{}
	return input.Members("", b, func(key string, val []byte) error {
		var err error
		switch key {
		case "name":
			d.Name, err = input.String(key, val)
		case "description":
			if !input.IsNull(val) {
				d.Description, err = input.String(key, val)
			}
		case "trigger":
			d.Trigger, err = input.String(key, val)
		case "conditions":
			if !input.IsNull(val) {
				err = d.Conditions.decode("conditions", val)
			}
		case "actions":
			d.Actions = nil
			err = input.Elements("actions", val, func(i int, el []byte) error {
				var a Action
				err := a.decode(input.Index("actions", i), el)
				d.Actions = append(d.Actions, a)
				return err
			})
		default:
			err = unknownField(key)
		}
		return err
	})
}

// UnmarshalJSON strictly decodes an action.
func (a *Action) UnmarshalJSON(b []byte) error { return unmarshal(b, a.decode) }

func (a *Action) decode(field string, b []byte) error {
	*a = Action{}
	return input.Members(field, b, func(key string, val []byte) error {
		var err error
		f := input.Join(field, key)
		switch key {
		case "type":
			a.Type, err = input.String(f, val)
		case "endpointId":
			a.EndpointID, err = input.String(f, val)
		default:
			err = unknownField(f)
		}
		return err
	})
}

// unmarshal is UnmarshalJSON for the parts of a definition: b comes from encoding/json,
// valid but not compact.
func unmarshal(b []byte, decode func(field string, b []byte) error) error {
	b, err := input.Compact("", b)
	if err != nil {
		return err
	}
	return decode("", b)
}

// Validate checks d and prepares its conditions for Match (keywords folded,
// time zones loaded, hours parsed). The first problem found is returned as a
// *input.Error. Validate normalizes an empty conditions.match to "all".
func (d *Definition) Validate() error {
	if strings.TrimSpace(d.Name) == "" {
		return fieldErr("name", "required")
	}
	if n := utf8.RuneCountInString(d.Name); n > MaxNameLen {
		return fieldErr("name", "longer than "+strconv.Itoa(MaxNameLen)+" characters")
	}
	if hasControl(d.Name) {
		return fieldErr("name", "must not contain control characters")
	}
	if utf8.RuneCountInString(d.Description) > MaxDescriptionLen {
		return fieldErr("description", "longer than "+strconv.Itoa(MaxDescriptionLen)+" characters")
	}
	if strings.IndexByte(d.Description, 0) >= 0 { // PostgreSQL refuses NUL in text
		return fieldErr("description", "must not contain a NUL character")
	}
	if d.Trigger == "" {
		return fieldErr("trigger", "required")
	}
	if _, ok := event.Lookup(d.Trigger); !ok {
		return fieldErr("trigger", "unknown event type "+strconv.Quote(clip(d.Trigger)))
	}
	if err := d.Conditions.validate("conditions"); err != nil {
		return err
	}
	if len(d.Actions) == 0 {
		return fieldErr("actions", "at least one action is required")
	}
	if len(d.Actions) > MaxActions {
		return fieldErr("actions", "at most "+strconv.Itoa(MaxActions)+" actions")
	}
	for i, a := range d.Actions {
		field := "actions[" + strconv.Itoa(i) + "]"
		switch a.Type {
		case ActionSendWebhook:
			if err := checkEndpointID(field+".endpointId", a.EndpointID); err != nil {
				return err
			}
		case "":
			return fieldErr(field+".type", "required")
		default:
			return fieldErr(field+".type", "unknown action type "+strconv.Quote(clip(a.Type)))
		}
	}
	return nil
}

// checkEndpointID accepts ids of 1–64 characters from [0-9A-Za-z_-] (ULIDs,
// possibly prefixed); whether the endpoint exists is the API's business.
func checkEndpointID(field, id string) error {
	if id == "" {
		return fieldErr(field, "required")
	}
	if len(id) > MaxEndpointIDLen {
		return fieldErr(field, "longer than "+strconv.Itoa(MaxEndpointIDLen)+" characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return fieldErr(field, "not a valid endpoint id")
		}
	}
	return nil
}

// EndpointIDs returns the endpoints the sendWebhook actions target, in
// action order, each once.
func (d Definition) EndpointIDs() []string {
	var out []string
outer:
	for _, a := range d.Actions {
		if a.Type != ActionSendWebhook || a.EndpointID == "" {
			continue
		}
		for _, id := range out {
			if id == a.EndpointID {
				continue outer
			}
		}
		out = append(out, a.EndpointID)
	}
	return out
}

func unknownField(field string) error { return fieldErr(field, "unknown field") }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
