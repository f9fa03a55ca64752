// Package clock is the one optional clock of relaydesk's services: the zero Clock is the
// wall clock, and tests set a fake one.
package clock

import "time"

// Clock returns the current time; nil means time.Now.
type Clock func() time.Time

// Now is c's time, or the wall clock's when c is nil.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}
