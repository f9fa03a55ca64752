// Package testkit is what tests of several packages share: a webhook receiver that records
// what it gets, valid message data, and waiting for a condition. Test code only: no
// production package imports it.
package testkit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/event"
)

// Message is the catalog's MessageReceived example moved into workspaceID: valid data to
// publish. Each call returns a fresh map the caller may change.
func Message(workspaceID string) map[string]any {
	typ, ok := event.Lookup(event.MessageReceived)
	if !ok {
		panic("testkit: MessageReceived is not in the catalog")
	}
	var m map[string]any
	if err := json.Unmarshal(typ.Example, &m); err != nil {
		panic(err)
	}
	m["workspaceId"] = workspaceID
	return m
}

// MessageJSON is Message, encoded.
func MessageJSON(workspaceID string) json.RawMessage {
	b, err := json.Marshal(Message(workspaceID))
	if err != nil {
		panic(err)
	}
	return b
}

// pollEvery is how often Eventually and Until look again.
const pollEvery = 50 * time.Millisecond

// Eventually waits until cond holds, failing the test if it does not within the time.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// Until waits until cond holds and reports whether it did within the time (for callers
// that say more than Eventually when it does not).
func Until(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}
