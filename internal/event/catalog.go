package event

import (
	"encoding/json"
	"fmt"
)

// Names of the event types in the catalog.
const (
	MessageReceived = "MessageReceived"
	TestEvent       = "TestEvent"
)

// Data types (the envelope's dataType) of the event types in the catalog.
const (
	DataTypeMessage   = "Message"
	DataTypeTestEvent = "TestEvent"
)

// Type is one entry of the event catalog. Its JSON form is what
// GET /v1/event-types lists.
type Type struct {
	Name        string          `json:"name"`
	DataType    string          `json:"dataType"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"` // a valid, compact data object

	// validate checks compact, syntactically valid JSON data and returns its
	// canonical encoding and the facts relays read from it in v.
	validate func(data []byte, v *Validated) error
}

var (
	catalog []Type         // registration order, which is the listing order
	byName  map[string]int // name → index in catalog
)

// register adds t to the catalog. It panics on a duplicate name or an example
// that does not validate, so a broken catalog cannot start.
func register(t Type) {
	if byName == nil {
		byName = make(map[string]int)
	}
	if _, dup := byName[t.Name]; dup {
		panic("event: duplicate event type " + t.Name)
	}
	if t.validate == nil {
		panic("event: event type " + t.Name + " has no validator")
	}
	byName[t.Name] = len(catalog)
	catalog = append(catalog, t)
	v, err := ValidateEvent(t.Name, t.Example)
	if err != nil {
		panic(fmt.Sprintf("event: example of %s does not validate: %v", t.Name, err))
	}
	catalog[len(catalog)-1].Example = v.Data
}

// Lookup returns the catalog entry named name.
func Lookup(name string) (Type, bool) {
	i, ok := byName[name]
	if !ok {
		return Type{}, false
	}
	return catalog[i], true
}

// Types returns the catalog in a stable order (MessageReceived first). The
// slice is a copy; Example bytes are shared and must not be modified.
func Types() []Type {
	out := make([]Type, len(catalog))
	copy(out, catalog)
	return out
}
