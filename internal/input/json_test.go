package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func compact(t testing.TB, s string) []byte {
	t.Helper()
	b, err := Compact("", []byte(s))
	if err != nil {
		t.Fatalf("Compact(%q): %v", s, err)
	}
	return b
}

// wantErr checks that err is an *Error at field whose reason contains reason.
func wantErr(t *testing.T, err error, field, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Field != field || !strings.Contains(e.Reason, reason) {
		t.Errorf("err = %v, want field %q, reason containing %q", err, field, reason)
	}
}

func TestCompact(t *testing.T) {
	b, err := Compact("data", []byte(" { \"a\" : [ 1 , \"x y\" ] ,\n\"b\":{}}\n"))
	if err != nil || string(b) != `{"a":[1,"x y"],"b":{}}` {
		t.Fatalf("Compact = %s, %v", b, err)
	}
	for _, c := range []struct{ in, reason string }{
		{`{"a":`, "invalid JSON: unexpected end of JSON input"},
		{`{"a":1}{}`, "invalid JSON: invalid character '{' after top-level value"},
		{`{'a':1}`, "invalid JSON: invalid character '\\'' looking for beginning of object key string"},
		{``, "invalid JSON: unexpected end of JSON input"},
		{"{\"a\":\"\xff\"}", "must be valid UTF-8"},
	} {
		_, err := Compact("data", []byte(c.in))
		wantErr(t, err, "data", c.reason)
	}
}

func TestMembersInOrder(t *testing.T) {
	var got []string
	err := Members("", compact(t, `{"b":1,"a":{"x":[1,2]},"c\"d":"v","":null,"e\u00e9":true}`), func(key string, val []byte) error {
		got = append(got, key+"="+string(val))
		return nil
	})
	want := []string{`b=1`, `a={"x":[1,2]}`, `c"d="v"`, `=null`, `eé=true`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Members: %q, %v; want %q", got, err, want)
	}
	// fn's error ends the walk and is returned as it is.
	stop := errors.New("stop")
	n := 0
	err = Members("", compact(t, `{"a":1,"b":2}`), func(string, []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Members after an error: %d calls, %v", n, err)
	}
}

func TestMembersRefusesDuplicates(t *testing.T) {
	none := func(string, []byte) error { return nil }
	wantErr(t, Members("", compact(t, `{"a":1,"b":2,"a":3}`), none), "a", "duplicate field")
	wantErr(t, Members("data", compact(t, `{"a":1,"\u0061":2}`), none), "data.a", "duplicate field")
	// Past the keys kept in a list, a map: a duplicate is found either way.
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf(`"k%d":%d`, i, i))
	}
	many := "{" + strings.Join(keys, ",") + "}"
	if err := Members("", compact(t, many), none); err != nil {
		t.Errorf("40 keys: %v", err)
	}
	for _, dup := range []string{"k3", "k20", "k39"} {
		b := compact(t, many[:len(many)-1]+`,"`+dup+`":0}`)
		wantErr(t, Members("x", b, none), "x."+dup, "duplicate field")
	}
	// The same key in different objects is no duplicate.
	if err := Members("", compact(t, `{"a":{"a":1},"b":{"a":2}}`), none); err != nil {
		t.Error(err)
	}
}

func TestElements(t *testing.T) {
	var got []string
	err := Elements("", compact(t, `[1,"a,b",[2,[3]],{"k":"]"},null]`), func(i int, val []byte) error {
		got = append(got, strconv.Itoa(i)+":"+string(val))
		return nil
	})
	want := []string{`0:1`, `1:"a,b"`, `2:[2,[3]]`, `3:{"k":"]"}`, `4:null`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Elements: %q, %v; want %q", got, err, want)
	}
}

func TestEmpty(t *testing.T) {
	called := false
	if err := Members("", []byte(`{}`), func(string, []byte) error { called = true; return nil }); err != nil || called {
		t.Errorf("Members({}): called %v, %v", called, err)
	}
	if err := Elements("", []byte(`[]`), func(int, []byte) error { called = true; return nil }); err != nil || called {
		t.Errorf("Elements([]): called %v, %v", called, err)
	}
	if s, err := Strings("days", []byte(`[]`)); err != nil || s == nil || len(s) != 0 {
		t.Errorf("Strings([]) = %#v, %v", s, err)
	}
}

// TestNestedPaths reads a relay-like definition and names the wrong field at depth.
func TestNestedPaths(t *testing.T) {
	b := compact(t, `{"conditions":{"rules":[{"timezone":"UTC"},{"timezone":7}]}}`)
	var rule func(field string, v []byte) error
	rule = func(field string, v []byte) error {
		return Members(field, v, func(key string, val []byte) error {
			_, err := String(Join(field, key), val)
			return err
		})
	}
	err := Members("", b, func(key string, val []byte) error {
		f := Join("", key)
		return Members(f, val, func(key string, val []byte) error {
			f := Join(f, key)
			return Elements(f, val, func(i int, el []byte) error { return rule(Index(f, i), el) })
		})
	})
	wantErr(t, err, "conditions.rules[1].timezone", "must be a string, not number")
	err = Members("", compact(t, `{"a":{"b":1,"b":2}}`), func(key string, val []byte) error {
		return Members(Join("", key), val, func(string, []byte) error { return nil })
	})
	wantErr(t, err, "a.b", "duplicate field")
	wantErr(t, Members("conditions", []byte(`[]`), nil), "conditions", "must be an object, not array")
	wantErr(t, Elements("actions", []byte(`{}`), nil), "actions", "must be an array, not object")
}

func TestKinds(t *testing.T) {
	for in, want := range map[string]string{
		`"x"`: "string", `{}`: "object", `[]`: "array", `true`: "boolean", `false`: "boolean",
		`null`: "null", `0`: "number", `-1.5e3`: "number", ``: "nothing",
	} {
		if got := Kind([]byte(in)); got != want {
			t.Errorf("Kind(%s) = %q, want %q", in, got, want)
		}
	}
	if !IsNull([]byte(`null`)) || IsNull([]byte(`"null"`)) {
		t.Error("IsNull")
	}
	for in, want := range map[string]bool{`true`: true, `false`: false} {
		if got, err := Bool("v", []byte(in)); err != nil || got != want {
			t.Errorf("Bool(%s) = %v, %v", in, got, err)
		}
	}
	_, err := Bool("outside", []byte(`"yes"`))
	wantErr(t, err, "outside", "must be a boolean, not string")
	_, err = String("name", []byte(`42`))
	wantErr(t, err, "name", "must be a string, not number")
	_, err = Strings("keywords", []byte(`["a",7]`))
	wantErr(t, err, "keywords[1]", "must be a string, not number")
	if got := Join("", "a") + " " + Join("a", "b") + " " + Index("a", 3); got != "a a.b a[3]" {
		t.Errorf("Join/Index: %q", got)
	}
}

func TestStringsWithEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                    "plain",
		`""`:                         "",
		`"a\"b\\c\/d"`:               `a"b\c/d`,
		`"\n\t\r\b\f"`:               "\n\t\r\b\f",
		`"\u00e9\u4e2d\ud83d\ude00"`: "é中😀",
		`"\ud800"`:                   "\ufffd", // a lone surrogate, as encoding/json reads it
		`"é😀"`:                       "é😀",
	} {
		got, err := String("s", compact(t, in))
		if err != nil || got != want {
			t.Errorf("String(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	got, err := Strings("s", compact(t, `["a\"", "\u0062", "c"]`))
	if err != nil || !reflect.DeepEqual(got, []string{`a"`, "b", "c"}) {
		t.Errorf("Strings = %q, %v", got, err)
	}
}

// TestMembersAllocations: a small object's keys are checked for duplicates without a map.
func TestMembersAllocations(t *testing.T) {
	b := compact(t, `{"id":"x","object":"Message","workspaceId":"w","to":["+1"],"media":[],"body":"hi"}`)
	n := testing.AllocsPerRun(100, func() {
		_ = Members("data", b, func(string, []byte) error { return nil })
	})
	if n > 6 { // the six keys' strings
		t.Errorf("Members allocates %v times for six keys", n)
	}
}

// FuzzReader: on whatever Compact accepts, Members and Elements never panic, refuse exactly
// the objects with a repeated key, and otherwise read what encoding/json reads, in order.
func FuzzReader(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"],"c":{"d":-1.5e3}}`, `{"a":1,"a":2}`, `[[],{},""]`,
		`{"\u0061":1,"a":2}`, `"x\"y"`, `0`, `{"k":{"k":{"k":[{"k":1},{"k":2,"k":3}]}}}`, `{"a":"\ud83d\ude00\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Compact("", in)
		if err != nil {
			return
		}
		got, err := read(b)
		want, dup := readStd(t, b)
		if dup {
			var e *Error
			if !errors.As(err, &e) || e.Reason != "duplicate field" {
				t.Fatalf("%s: a repeated key, yet read gives %q, %v", b, got, err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("%s:\n read %q, %v\n  std %q", b, got, err, want)
		}
	})
}

// read renders the value v with Members, Elements and String, in a form readStd also writes.
func read(v []byte) (string, error) {
	var out strings.Builder
	var err error
	switch Kind(v) {
	case "object":
		out.WriteString("{")
		err = Members("", v, func(key string, val []byte) error {
			s, err := read(val)
			fmt.Fprintf(&out, "%q:%s,", key, s)
			return err
		})
		out.WriteString("}")
	case "array":
		out.WriteString("[")
		err = Elements("", v, func(_ int, el []byte) error {
			s, err := read(el)
			out.WriteString(s + ",")
			return err
		})
		out.WriteString("]")
	case "string":
		var s string
		s, err = String("", v)
		out.WriteString(strconv.Quote(s))
	default:
		out.Write(v)
	}
	return out.String(), err
}

// readStd renders v as read reads it, from encoding/json's tokens, and reports whether an
// object repeats a key.
func readStd(t *testing.T, v []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var out strings.Builder
	var value func() bool
	value = func() bool {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		switch tok := tok.(type) {
		case json.Delim:
			out.WriteString(string(tok))
			keys := map[string]bool{}
			for dec.More() {
				if tok == '{' {
					k, _ := dec.Token()
					key := k.(string)
					if keys[key] {
						return true
					}
					keys[key] = true
					fmt.Fprintf(&out, "%q:", key)
				}
				if value() {
					return true
				}
				out.WriteString(",")
			}
			end, _ := dec.Token()
			out.WriteString(string(end.(json.Delim)))
		case string:
			out.WriteString(strconv.Quote(tok))
		case json.Number:
			out.WriteString(tok.String())
		case bool:
			out.WriteString(strconv.FormatBool(tok))
		case nil:
			out.WriteString("null")
		}
		return false
	}
	dup := value()
	if _, err := dec.Token(); !dup && err != io.EOF {
		t.Fatalf("%s: trailing %v", v, err)
	}
	return out.String(), dup
}
