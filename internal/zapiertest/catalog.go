// Package zapiertest keeps the Zapier app in integrations/zapier honest: its triggers are
// made from a catalog file that this package generates from the event catalog, and its
// tests (Zapier's own runtime, zapier-platform-core's createAppTester, under node --test)
// run against a real relaydesk that the Go test starts on each store.
package zapiertest

import (
	"encoding/json"
	"time"

	"github.com/relaydesk/relaydesk/internal/event"
)

// CatalogFile is where the Zapier app reads the event catalog, relative to the repository root.
const CatalogFile = "integrations/zapier/lib/catalog.json"

// sampleID and sampleTime make the static samples stable, so the file changes only when
// the catalog does.
const sampleID = "01KAE88YX393N7SAE2VQ3WQ0ZB"

var sampleTime = time.Date(2025, 11, 19, 14, 28, 39, 459465000, time.UTC)

// sampleWorkspace is the workspace of a sample whose example names none.
const sampleWorkspace = "01K6N5WEYHS5N0796QX1R2T3V4"

// CatalogEntry is one event type as the Zapier app sees it.
type CatalogEntry struct {
	Name        string          `json:"name"`
	DataType    string          `json:"dataType"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"`
	// Sample is the catalog example in the envelope a hook receives: the trigger's
	// static sample, which Zapier requires for every visible trigger.
	Sample json.RawMessage `json:"sample"`
}

// Catalog returns the contents of CatalogFile for the current event catalog.
func Catalog() ([]byte, error) {
	var out []CatalogEntry
	for _, t := range event.Types() {
		ws := sampleWorkspace
		var probe struct {
			WorkspaceID string `json:"workspaceId"`
		}
		if json.Unmarshal(t.Example, &probe) == nil && probe.WorkspaceID != "" {
			ws = probe.WorkspaceID
		}
		env := event.Envelope{ID: sampleID, Name: t.Name, WorkspaceID: ws, CreatedAt: sampleTime, DataType: t.DataType, Data: t.Example}
		out = append(out, CatalogEntry{Name: t.Name, DataType: t.DataType, Description: t.Description, Example: t.Example, Sample: event.Encode(env)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
