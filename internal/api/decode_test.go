package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/relaydesk/relaydesk/internal/input"
)

// checkKeys knows a struct's keys as encoding/json does, and follows the types down.
func TestCheckKeys(t *testing.T) {
	type inner struct {
		Value int `json:"value"`
	}
	type embedded struct {
		Promoted string `json:"promoted"`
	}
	type doc struct {
		embedded
		Tagged   string            `json:"tagged,omitempty"`
		Untagged string            //
		Skipped  string            `json:"-"`
		Dash     string            `json:"-,"`
		Items    []inner           `json:"items"`
		ByName   map[string]inner  `json:"byName"`
		Raw      json.RawMessage   `json:"raw"`
		Any      any               `json:"any"`
		Ptr      *inner            `json:"ptr"`
		Strings  map[string]string `json:"strings"`
		hidden   string
	}
	for in, want := range map[string]string{
		`{"promoted":"a","tagged":"b","Untagged":"c","-":"d"}`:    "",
		`{"items":[{"value":1},{"value":2}],"ptr":{"value":3}}`:   "",
		`{"byName":{"anything":{"value":1}},"strings":{"x":"y"}}`: "",
		`{"raw":{"any":{"keys":1}},"any":[{"k":1},{"k":2}]}`:      "",
		`{"Tagged":"b"}`:                      "Tagged: unknown field",
		`{"untagged":"c"}`:                    "untagged: unknown field",
		`{"Skipped":"x"}`:                     "Skipped: unknown field",
		`{"hidden":"x"}`:                      "hidden: unknown field",
		`{"embedded":{}}`:                     "embedded: unknown field",
		`{"items":[{"value":1},{"Value":2}]}`: "items[1].Value: unknown field",
		`{"byName":{"a":{"valu":1}}}`:         "byName.a.valu: unknown field",
		`{"ptr":{"value":1,"value":2}}`:       "ptr.value: duplicate field",
		// A json.RawMessage is its own reader's to check (the publish route's strict_test
		// shows a repeated key in data refused, by event validation).
		`{"raw":{"a":{"b":1,"b":2}}}`: "",
		`{"any":[{},{"k":1,"k":1}]}`:  "any[1].k: duplicate field",
		`{"tagged":"a","tagged":"b"}`: "tagged: duplicate field",
	} {
		err := checkKeys("", []byte(in), reflect.TypeFor[*doc]())
		var e *input.Error
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", in, err)
		case want != "" && (!errors.As(err, &e) || e.Error() != want):
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
