package relay

import "github.com/relaydesk/relaydesk/internal/event"

// Template is a ready-made relay: Build returns a definition that sends to
// endpointID and passes Validate. Its JSON (for GET /v1/relay-templates) is
// {"id","name","description"}.
type Template struct {
	ID          string                             `json:"id"`
	Name        string                             `json:"name"`
	Description string                             `json:"description"`
	Build       func(endpointID string) Definition `json:"-"`
}

// Template ids.
const (
	TemplateAllInbound = "all-inbound"
	TemplateKeyword    = "keyword"
	TemplateAfterHours = "after-hours"
)

// DefaultKeyword is the keyword of the keyword template.
const DefaultKeyword = "HELP"

// Templates returns the relay templates in display order.
func Templates() []Template {
	return []Template{
		{
			ID:          TemplateAllInbound,
			Name:        "Every inbound message to my webhook",
			Description: "Sends every text message your workspace receives to your endpoint.",
			Build:       AllInboundRelay,
		},
		{
			ID:          TemplateKeyword,
			Name:        "Keyword (e.g. HELP) to my webhook",
			Description: "Sends messages that contain a keyword (HELP by default, any letter case) to your endpoint.",
			Build:       func(endpointID string) Definition { return KeywordRelay(endpointID, DefaultKeyword) },
		},
		{
			ID:          TemplateAfterHours,
			Name:        "After-hours messages to my webhook",
			Description: "Sends messages received outside business hours (Monday to Friday, 09:00–17:00) to your endpoint.",
			Build:       func(endpointID string) Definition { return AfterHoursRelay(endpointID, "UTC") },
		},
	}
}

// TemplateByID returns the template with that id.
func TemplateByID(id string) (Template, bool) {
	for _, t := range Templates() {
		if t.ID == id {
			return t, true
		}
	}
	return Template{}, false
}

func sendTo(endpointID string) []Action {
	return []Action{{Type: ActionSendWebhook, EndpointID: endpointID}}
}

// AllInboundRelay sends every MessageReceived to endpointID.
func AllInboundRelay(endpointID string) Definition {
	return Definition{
		Name:       "Every inbound message to my webhook",
		Trigger:    event.MessageReceived,
		Conditions: Conditions{Mode: MatchAll},
		Actions:    sendTo(endpointID),
	}
}

// KeywordRelay sends messages containing any of keywords to endpointID.
func KeywordRelay(endpointID string, keywords ...string) Definition {
	name := "Keyword to my webhook"
	if len(keywords) > 0 {
		name = keywords[0] + " keyword to my webhook"
	}
	return Definition{
		Name:    clipRunes(name, MaxNameLen),
		Trigger: event.MessageReceived,
		Conditions: Conditions{Mode: MatchAll, Rules: []Rule{
			{Type: RuleMessageContains, Keywords: append([]string(nil), keywords...)},
		}},
		Actions: sendTo(endpointID),
	}
}

// AfterHoursRelay sends messages received outside Monday–Friday 09:00–17:00
// in timezone (an IANA name) to endpointID.
func AfterHoursRelay(endpointID, timezone string) Definition {
	return Definition{
		Name:    "After-hours messages to my webhook",
		Trigger: event.MessageReceived,
		Conditions: Conditions{Mode: MatchAll, Rules: []Rule{{
			Type:     RuleActiveHours,
			Days:     []string{"mon", "tue", "wed", "thu", "fri"},
			Start:    "09:00",
			End:      "17:00",
			Timezone: timezone,
			Outside:  true,
		}}},
		Actions: sendTo(endpointID),
	}
}

func clipRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
