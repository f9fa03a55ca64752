package relay

import (
	"encoding/json"
	"testing"
)

func TestTemplates(t *testing.T) {
	ids := map[string]bool{}
	for _, tpl := range Templates() {
		if tpl.ID == "" || tpl.Name == "" || tpl.Description == "" || tpl.Build == nil {
			t.Fatalf("incomplete template %+v", tpl)
		}
		if ids[tpl.ID] {
			t.Fatalf("duplicate template id %s", tpl.ID)
		}
		ids[tpl.ID] = true
		d := tpl.Build("01KAE88YX393N7SAE2ABCDEFGH")
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", tpl.ID, err)
		}
		if got := d.EndpointIDs(); len(got) != 1 || got[0] != "01KAE88YX393N7SAE2ABCDEFGH" {
			t.Errorf("%s: endpoints %v", tpl.ID, got)
		}
		// What the API stores decodes back strictly.
		b, _ := json.Marshal(d)
		if _, err := DecodeDefinition(b); err != nil {
			t.Errorf("%s: %s: %v", tpl.ID, b, err)
		}
		if got, ok := TemplateByID(tpl.ID); !ok || got.ID != tpl.ID {
			t.Errorf("TemplateByID(%s)", tpl.ID)
		}
		if b, _ := json.Marshal(tpl); string(b) != `{"id":"`+tpl.ID+`","name":"`+tpl.Name+`","description":"`+tpl.Description+`"}` {
			t.Errorf("template JSON: %s", b)
		}
	}
	for _, id := range []string{TemplateAllInbound, TemplateKeyword, TemplateAfterHours} {
		if !ids[id] {
			t.Errorf("missing template %s", id)
		}
	}
	if _, ok := TemplateByID("nope"); ok {
		t.Error("TemplateByID(nope)")
	}
}

func TestTemplateBehaviour(t *testing.T) {
	const ep = "ep1"
	all, _ := TemplateByID(TemplateAllInbound)
	kw, _ := TemplateByID(TemplateKeyword)
	ah, _ := TemplateByID(TemplateAfterHours)
	a, k, h := all.Build(ep), kw.Build(ep), ah.Build(ep)
	for _, d := range []*Definition{&a, &k, &h} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	monNoonUTC, satNoonUTC := utc("2026-03-09T12:00:00Z"), utc("2026-03-07T12:00:00Z")
	for _, tc := range []struct {
		name string
		d    Definition
		f    Facts
		want bool
	}{
		{"all inbound", a, Facts{Body: "anything"}, true},
		{"keyword help", k, Facts{Body: "please help"}, true},
		{"keyword none", k, Facts{Body: "hello"}, false},
		{"after hours weekday noon", h, Facts{At: monNoonUTC}, false},
		{"after hours weekend", h, Facts{At: satNoonUTC}, true},
		{"after hours 17:00", h, Facts{At: utc("2026-03-09T17:00:00Z")}, true},
	} {
		if got := tc.d.Conditions.Match(tc.f); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
	ny := AfterHoursRelay(ep, "America/New_York")
	if err := ny.Validate(); err != nil {
		t.Fatal(err)
	}
	if ny.Conditions.Match(Facts{At: utc("2026-03-09T14:00:00Z")}) { // 10:00 EDT
		t.Error("NY after-hours matched at 10:00 EDT")
	}
	multi := KeywordRelay(ep, "STOP", "unsubscribe")
	if err := multi.Validate(); err != nil || !multi.Conditions.Match(Facts{Body: "Unsubscribe me"}) {
		t.Errorf("KeywordRelay: %v", err)
	}
}
