package input

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The strict JSON reader: every decoder of JSON that a caller sent (event data, relay
// definitions, the producer API's bodies) reads it with these functions, so a key given twice
// or a value of the wrong type is refused the same way everywhere, as an *Error naming the
// field ("conditions.rules[1].timezone").
//
// Compact checks the input once; the readers then take only what it returned (or values
// Members and Elements handed out), so they never meet a syntax error and need no reflection.

// Compact returns b without insignificant white space, the form the readers take. It refuses
// invalid UTF-8 ("must be valid UTF-8") and anything but one JSON value ("invalid JSON: …"),
// naming field. Size limits are the caller's: each says what it limits.
func Compact(field string, b []byte) ([]byte, error) {
	if !utf8.Valid(b) {
		return nil, &Error{Field: field, Reason: "must be valid UTF-8"}
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return nil, &Error{Field: field, Reason: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	return buf.Bytes(), nil
}

// Members calls fn for each member of the object v, in order. A key that comes again is
// refused ("duplicate field"): encoding/json would keep the last one silently.
func Members(field string, v []byte, fn func(key string, val []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return notA(field, "an object", v)
	}
	var seen keySet
	return items(v, func(rawKey, val []byte) error {
		key := Unquote(rawKey)
		if !seen.add(key) {
			return &Error{Field: Join(field, key), Reason: "duplicate field"}
		}
		return fn(key, val)
	})
}

// Elements calls fn for each element of the array v, in order; Index(field, i) names one.
func Elements(field string, v []byte, fn func(i int, val []byte) error) error {
	if len(v) == 0 || v[0] != '[' {
		return notA(field, "an array", v)
	}
	n := 0
	return items(v, func(_, val []byte) error {
		n++
		return fn(n-1, val)
	})
}

// items calls fn for each value in the object or array v, with its key's literal when v
// is an object, and stops at the first error.
func items(v []byte, fn func(rawKey, val []byte) error) error {
	if len(v) == 2 { // {} or []
		return nil
	}
	for i := 1; ; i++ { // i++ steps past ','
		var key []byte
		if v[0] == '{' {
			end := skipString(v, i)
			key, i = v[i:end], end+1 // past ':'
		}
		end := skipValue(v, i)
		if err := fn(key, v[i:end]); err != nil {
			return err
		}
		if i = end; i == len(v)-1 { // the closing '}' or ']'
			return nil
		}
	}
}

// String decodes the string v.
func String(field string, v []byte) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", notA(field, "a string", v)
	}
	return Unquote(v), nil
}

// Strings decodes the array of strings v; it is never nil when err is nil.
func Strings(field string, v []byte) ([]string, error) {
	out := []string{}
	err := Elements(field, v, func(i int, el []byte) error {
		s, err := String(Index(field, i), el)
		out = append(out, s)
		return err
	})
	return out, err
}

// Bool decodes the boolean v.
func Bool(field string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, notA(field, "a boolean", v)
}

// IsNull reports whether v is null.
func IsNull(v []byte) bool { return string(v) == "null" }

// Kind names the JSON type of v for messages: "string", "number", "object", "array",
// "boolean" or "null".
func Kind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// Unquote decodes the string literal v (quotes included). Without escapes, the common case,
// it is one conversion.
func Unquote(v []byte) string {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(v, &s) // cannot fail: Compact accepted the literal
	return s
}

// Join names the member key of the object at field ("conditions" + "match").
func Join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// Index names element i of the array at field ("actions[0]").
func Index(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

func notA(field, want string, v []byte) error {
	return &Error{Field: field, Reason: "must be " + want + ", not " + Kind(v)}
}

// keySet holds the keys of one object read so far: a list while they are few, as in every
// object relaydesk defines, and a map for larger ones so a hostile object costs linear time.
type keySet struct {
	few  [16]string
	n    int
	many map[string]struct{}
}

// add adds key and reports whether it was new.
func (s *keySet) add(key string) bool {
	if s.many == nil {
		for _, k := range s.few[:s.n] {
			if k == key {
				return false
			}
		}
		if s.n < len(s.few) {
			s.few[s.n] = key
			s.n++
			return true
		}
		s.many = make(map[string]struct{}, 2*len(s.few))
		for _, k := range s.few {
			s.many[k] = struct{}{}
		}
	}
	if _, dup := s.many[key]; dup {
		return false
	}
	s.many[key] = struct{}{}
	return true
}

// skipValue returns the index just past the value that starts at v[i].
func skipValue(v []byte, i int) int {
	switch v[i] {
	case '"':
		return skipString(v, i)
	case '{', '[':
		depth := 0
		for i < len(v) {
			switch v[i] {
			case '"':
				i = skipString(v, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the index just past the string that starts at v[i] == '"'.
func skipString(v []byte, i int) int {
	for i++; i < len(v); {
		switch v[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}
