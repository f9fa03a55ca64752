// Package chaos holds relaydesk's chaos run (chaos_test.go): a relaydesk binary as a
// subprocess receives a stream of published events while it is killed with SIGKILL at
// random moments and restarted, and a local receiver randomly answers 500, hangs past the
// delivery timeout or resets the connection. At the end every event the producer API
// accepted must have been delivered with a 2xx at least once; duplicates are counted.
//
// The short run (1,000 events, 2 kills per store) is part of `go test ./...`; the full run
// (20,000 events, more kills, a PostgreSQL restart when running as root) is `make chaos`:
//
//	RELAYDESK_CHAOS=full go test -run TestChaos -v -timeout 60m ./internal/chaos/
//
// Knobs (environment): RELAYDESK_CHAOS_EVENTS, RELAYDESK_CHAOS_KILLS,
// RELAYDESK_CHAOS_PG_RESTARTS override the run's size.
package chaos
