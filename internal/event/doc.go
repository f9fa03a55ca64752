// Package event holds what the producer publishes and what a receiver sees:
// the catalog of event types, validation of published event data, and the
// Event envelope that is signed and delivered (docs/architecture.md §2).
//
// It is pure: no store, no network. The producer API calls ValidateEvent on
// every published event, builds an Envelope with store.NewID, and stores the bytes
// of Encode, which are then sent identically on every attempt.
//
// Adding an event type means adding a file to this package that calls
// register in an init function; nothing else (relay engine, API, UI) changes.
package event
