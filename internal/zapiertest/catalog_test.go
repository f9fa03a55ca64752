package zapiertest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+CatalogFile+" from the event catalog")

// The Zapier app's catalog file is the event catalog: an event added to internal/event
// without regenerating it fails here (and the app's own tests then demand a trigger label
// and described output fields for it).
func TestCatalogFileIsCurrent(t *testing.T) {
	want, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", CatalogFile)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the event catalog; run: go test ./internal/zapiertest -run TestCatalogFileIsCurrent -update", CatalogFile)
	}
}
