package event

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// This file reads and writes JSON without reflection. The reader works only
// on input that json.Compact accepted (syntactically valid, no insignificant
// whitespace), which keeps it small: it never has to report syntax errors.

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
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
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		switch b[i] {
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

// decodeString decodes the JSON string literal raw (quotes included).
func decodeString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // cannot fail: raw is a valid string literal
	return s
}

// jsonKind describes the JSON type of a value for error messages.
func jsonKind(v []byte) string {
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
	default:
		return "number"
	}
}

// eachMember calls fn for every member of the object v, in order. field names
// v in errors.
func eachMember(v []byte, field string, fn func(key string, val []byte) error) error {
	if v[0] != '{' {
		return fieldErr(field, "must be an object, not "+jsonKind(v))
	}
	i := 1
	if v[i] == '}' {
		return nil
	}
	for {
		end := skipString(v, i)
		key := decodeString(v[i:end])
		i = end + 1 // ':'
		vend := skipValue(v, i)
		if err := fn(key, v[i:vend]); err != nil {
			return err
		}
		i = vend
		if v[i] == '}' {
			return nil
		}
		i++ // ','
	}
}

// eachElement calls fn for every element of the array v, in order.
func eachElement(v []byte, field string, fn func(i int, val []byte) error) error {
	if v[0] != '[' {
		return fieldErr(field, "must be an array, not "+jsonKind(v))
	}
	i := 1
	if v[i] == ']' {
		return nil
	}
	for n := 0; ; n++ {
		end := skipValue(v, i)
		if err := fn(n, v[i:end]); err != nil {
			return err
		}
		i = end
		if v[i] == ']' {
			return nil
		}
		i++ // ','
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal. It escapes only what JSON
// requires (quote, backslash, control characters); invalid UTF-8 becomes
// U+FFFD, as encoding/json does. Unlike encoding/json it does not escape
// <, > and &: the output is a webhook body, not HTML.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
