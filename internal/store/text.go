package store

import (
	"strings"
	"unicode/utf8"
)

// Text makes s storable as TEXT on both engines: PostgreSQL refuses NUL bytes and invalid
// UTF-8, so each becomes U+FFFD. For text relaydesk keeps as it came (response bodies,
// error messages); input a caller can fix is refused with TextProblem instead.
func Text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// TextProblem says why s cannot be stored as TEXT ("contains a NUL byte", "is not valid
// UTF-8"), or "" when it can.
func TextProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}
