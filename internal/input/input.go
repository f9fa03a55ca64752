// Package input has the one error type for input the caller must fix. Every domain
// package refuses input with it; the API answers 422 naming the field (413 when the cause
// is a size limit), the pages show it beside the form.
package input

import "fmt"

// Error is refused input: which field and why. Its text is safe to show as it is.
type Error struct {
	// Field is a path as the API names it ("url", "data.to[1]",
	// "conditions.rules[1].timezone"); "" when the input as a whole is wrong.
	Field  string
	Reason string
	// Value is the refused value, when echoing it helps (cut to an excerpt by the API).
	Value any
	// Err is a cause callers test with errors.Is (event.ErrTooLarge), or nil.
	Err error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf is an Error for field with a formatted reason.
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}
