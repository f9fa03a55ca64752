package relay

import (
	"errors"
	"strings"

	"github.com/relaydesk/relaydesk/internal/input"
)

// FromTemplate builds and validates the relay a template makes, sending to endpointID, with
// the keyword template's keyword and the after-hours template's time zone when given (each
// is refused for the other templates). Errors are *input.Error naming the request's field:
// templateId, endpointId, keyword or timezone.
func FromTemplate(templateID, endpointID, keyword, timezone string) (Definition, error) {
	t, ok := TemplateByID(templateID)
	if !ok {
		return Definition{}, &input.Error{Field: "templateId", Reason: "no such template"}
	}
	if keyword != "" && t.ID != TemplateKeyword {
		return Definition{}, &input.Error{Field: "keyword", Reason: "only the keyword template takes a keyword"}
	}
	if timezone != "" && t.ID != TemplateAfterHours {
		return Definition{}, &input.Error{Field: "timezone", Reason: "only the after-hours template takes a time zone"}
	}
	var d Definition
	switch {
	case t.ID == TemplateKeyword && keyword != "":
		d = KeywordRelay(endpointID, keyword)
	case t.ID == TemplateAfterHours && timezone != "":
		d = AfterHoursRelay(endpointID, timezone)
	default:
		d = t.Build(endpointID)
	}
	if err := d.Validate(); err != nil {
		var fe *input.Error
		if errors.As(err, &fe) {
			return d, &input.Error{Field: TemplateField(fe.Field), Reason: fe.Reason}
		}
		return d, err
	}
	return d, nil
}

// TemplateField names the create-from-template request field behind a problem found in the
// definition a template built (for example the endpoint check of Service.Create).
func TemplateField(definitionField string) string {
	switch {
	case strings.HasPrefix(definitionField, "actions"):
		return "endpointId"
	case strings.Contains(definitionField, "keywords"):
		return "keyword"
	case strings.Contains(definitionField, "timezone"):
		return "timezone"
	}
	return definitionField
}
