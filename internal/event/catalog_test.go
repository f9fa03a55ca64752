package event

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestCatalog(t *testing.T) {
	types := Types()
	if len(types) < 2 || types[0].Name != MessageReceived || types[1].Name != TestEvent {
		t.Fatalf("Types() order = %v", types)
	}
	for _, typ := range types {
		got, ok := Lookup(typ.Name)
		if !ok || got.Name != typ.Name || got.DataType != typ.DataType {
			t.Fatalf("Lookup(%q) = %v, %v", typ.Name, got, ok)
		}
		if typ.Description == "" {
			t.Errorf("%s: no description", typ.Name)
		}
		v, err := ValidateEvent(typ.Name, typ.Example)
		if err != nil {
			t.Fatalf("%s example: %v", typ.Name, err)
		}
		if !bytes.Equal(v.Data, typ.Example) {
			t.Errorf("%s example is not canonical:\n%s\n%s", typ.Name, typ.Example, v.Data)
		}
		b, err := json.Marshal(typ)
		if err != nil || !json.Valid(b) {
			t.Fatalf("marshal %s: %v", typ.Name, err)
		}
	}
	if m, _ := Lookup(MessageReceived); m.DataType != "Message" {
		t.Errorf("MessageReceived dataType = %q", m.DataType)
	}
	if _, ok := Lookup("messagereceived"); ok {
		t.Error("Lookup is case-insensitive")
	}
	// Types returns a copy.
	types[0].Name = "X"
	if Types()[0].Name != MessageReceived {
		t.Error("Types() exposes the registry")
	}
}
