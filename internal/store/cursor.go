package store

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrBadCursor is returned for a cursor that no list of the kind asked for made.
var ErrBadCursor = errors.New("invalid cursor")

// Cursor is the one page cursor of every list the API and pages show (deliveries,
// events, the audit log): opaque, URL-safe base64 of "<kind>1:<id>", id being the last
// row of the page before. Lists are ordered by id (a ULID, NewID), so the next page is
// the rows with smaller ids.
func Cursor(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "1:" + id))
}

// CursorID returns the id in a cursor that Cursor(kind, …) made; ErrBadCursor otherwise.
func CursorID(kind, c string) (string, error) {
	prefix := kind + "1:"
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), prefix) || len(b) != len(prefix)+26 {
		return "", ErrBadCursor
	}
	return string(b[len(prefix):]), nil
}
