package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/health"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/relay"
	"github.com/relaydesk/relaydesk/internal/store"
)

// relayPages is Relays: the list with On/Off switches, templates, the builder (trigger,
// conditions with AND/OR, actions with the endpoint picker) and delete with a confirmation.
type relayPages struct {
	s      *Server
	svc    *relay.Service
	health RelayHealth
}

// RegisterRelays adds the Relays pages (docs/architecture.md §10: relays viewers see them, editors create,
// edit and switch relays on and off, owners delete).
//
// health, when given, puts the health of each action's endpoint beside it on the list.
func (s *Server) RegisterRelays(svc *relay.Service, health ...RelayHealth) {
	rp := &relayPages{s: s, svc: svc}
	if len(health) > 0 {
		rp.health = health[0]
	}
	viewer, editor, owner := access.Require(access.Relays, access.Viewer), access.Require(access.Relays, access.Editor), access.Require(access.Relays, access.Owner)
	s.Page(http.MethodGet, "/relays", viewer, rp.list)
	s.Page(http.MethodPost, "/relays/from-template", editor, rp.fromTemplate)
	// Viewers may open the builder (read-only, like any relay), so every GET of Relays
	// needs the viewer level; saving needs the editor level.
	s.Page(http.MethodGet, "/relays/new", viewer, rp.newPage)
	s.Page(http.MethodPost, "/relays/new", editor, rp.save)
	s.Page(http.MethodGet, "/relays/{id}", viewer, rp.editPage)
	s.Page(http.MethodPost, "/relays/{id}", editor, rp.save)
	s.Page(http.MethodPost, "/relays/{id}/enable", editor, rp.toggle(true))
	s.Page(http.MethodPost, "/relays/{id}/disable", editor, rp.toggle(false))
	s.Page(http.MethodGet, "/relays/{id}/delete", owner, rp.deletePage)
	s.Page(http.MethodPost, "/relays/{id}/delete", owner, rp.delete)
}

var relayFlashes = map[string]string{
	"created":  "Relay created. It is off: switch it on when you are ready.",
	"saved":    "Relay saved.",
	"deleted":  "Relay deleted.",
	"enabled":  "Relay switched on.",
	"disabled": "Relay switched off.",
}

func (rp *relayPages) ctx(r *http.Request, p *access.Principal) context.Context {
	return access.With(r.Context(), p)
}

type relayRow struct {
	relay.Relay
	Conditions string
	Actions    []actionRow
}

// actionRow is one action as the list shows it: what it does and, for Send Webhook, the
// health of the endpoint it targets.
type actionRow struct {
	Text string
	// Health is "" when unknown (no RelayHealth, or not a webhook), else active, failing,
	// disabled, refused or deleted; HealthText and HealthDetail say it for people.
	Health, HealthText, HealthDetail string
	EndpointID                       string
}

// RelayHealth is what the Relays list reads endpoint health from.
type RelayHealth struct {
	Health    *health.Service
	Endpoints *endpoint.Service
}

// actionHealth describes an action with the health of the endpoint it targets (looked up
// once per endpoint).
func (rp *relayPages) actionHealth(ctx context.Context, workspaceID string, a relay.Action, urls map[string]string, memo map[string]actionRow) (actionRow, error) {
	row := actionRow{Text: describeAction(a, urls), EndpointID: a.EndpointID}
	if a.Type != relay.ActionSendWebhook || rp.health.Health == nil || rp.health.Endpoints == nil {
		return row, nil
	}
	if m, ok := memo[a.EndpointID]; ok {
		m.Text = row.Text
		return m, nil
	}
	e, err := rp.health.Endpoints.Get(ctx, workspaceID, a.EndpointID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		row.Health, row.HealthText, row.HealthDetail = "deleted", "Endpoint deleted", "Nothing is sent: choose another endpoint."
	case err != nil:
		return row, err
	case e.Refused != "":
		row.Health, row.HealthText, row.HealthDetail = "refused", "Refused", "The address policy refuses this URL: "+e.Refused+". Deliveries are skipped."
	default:
		h, err := rp.health.Health.Endpoint(ctx, workspaceID, a.EndpointID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return row, err
		}
		switch h.State {
		case health.Failing:
			row.Health, row.HealthText, row.HealthDetail = "failing", "Failing", h.Reason
		case health.Disabled:
			row.Health, row.HealthText = "disabled", "Disabled"
			row.HealthDetail = h.Reason + ". Nothing is sent until it is re-enabled on Developer Tools."
		default:
			row.Health, row.HealthText = "active", "Active"
			if h.SuccessRate >= 0 {
				row.HealthDetail = fmt.Sprintf("%.1f %% delivered over 7 days", h.SuccessRate)
			} else {
				row.HealthDetail = "No attempts in 7 days"
			}
		}
	}
	memo[a.EndpointID] = row
	return row, nil
}

type templateForm struct {
	TemplateID, EndpointID, Keyword, Timezone string
}

type relaysData struct {
	Relays             []relayRow
	CanEdit, CanDelete bool
	Templates          []relay.Template
	Endpoints          []relay.EndpointChoice
	Template           templateForm
	CanDevelop         bool
}

func (rp *relayPages) list(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	rp.renderList(w, r, p, http.StatusOK, "", templateForm{TemplateID: relay.TemplateAllInbound, Timezone: "UTC"})
}

func (rp *relayPages) renderList(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, errMsg string, tf templateForm) {
	ctx := r.Context()
	rs, err := rp.svc.List(ctx, p.WorkspaceID)
	if err != nil {
		rp.fail(w, r, p, err)
		return
	}
	eps, err := rp.svc.Endpoints(ctx, p.WorkspaceID)
	if err != nil {
		rp.fail(w, r, p, err)
		return
	}
	urls := endpointURLs(eps)
	d := relaysData{CanEdit: p.Can(access.Relays, access.Editor), CanDelete: p.Can(access.Relays, access.Owner),
		Templates: relay.Templates(), Endpoints: eps, Template: tf, CanDevelop: p.Can(access.Developer, access.Viewer)}
	memo := map[string]actionRow{}
	for _, x := range rs {
		row := relayRow{Relay: x, Conditions: describeConditions(x.Conditions)}
		for _, a := range x.Actions {
			ar, err := rp.actionHealth(ctx, p.WorkspaceID, a, urls, memo)
			if err != nil {
				rp.fail(w, r, p, err)
				return
			}
			row.Actions = append(row.Actions, ar)
		}
		d.Relays = append(d.Relays, row)
	}
	rp.s.Render(w, r, status, "relays", View{Title: "Relays", Principal: p, Active: "relays", Error: errMsg,
		Flash: relayFlashes[r.URL.Query().Get("ok")], Data: d})
}

func (rp *relayPages) fail(w http.ResponseWriter, r *http.Request, p *access.Principal, err error) {
	rp.s.fail(w, r, p, err, "relays page", "There is no such relay in this workspace.")
}

func endpointURLs(eps []relay.EndpointChoice) map[string]string {
	m := make(map[string]string, len(eps))
	for _, e := range eps {
		m[e.ID] = e.URL
	}
	return m
}

func describeAction(a relay.Action, urls map[string]string) string {
	if a.Type != relay.ActionSendWebhook {
		return a.Type
	}
	if u, ok := urls[a.EndpointID]; ok {
		return "Send webhook to " + u
	}
	return "Send webhook to a deleted endpoint (" + a.EndpointID + ")"
}

// describeConditions says in words when a relay fires.
func describeConditions(c relay.Conditions) string {
	if len(c.Rules) == 0 {
		return "Every event"
	}
	parts := make([]string, 0, len(c.Rules))
	for _, r := range c.Rules {
		parts = append(parts, describeRule(r))
	}
	join := " and "
	if c.Mode == relay.MatchAny {
		join = " or "
	}
	return strings.Join(parts, join)
}

func describeRule(r relay.Rule) string {
	yes := r.Value != nil && *r.Value
	switch r.Type {
	case relay.RuleMessageContains:
		return "message contains " + strings.Join(quoteAll(r.Keywords), " or ")
	case relay.RulePhoneNumberEquals:
		return "received on " + r.PhoneNumber
	case relay.RuleIsAnonymousConversation:
		if yes {
			return "conversation is anonymous"
		}
		return "conversation is not anonymous"
	case relay.RuleIsNewConversation:
		if yes {
			return "conversation is new"
		}
		return "conversation is not new"
	case relay.RuleActiveHours:
		w := "within"
		if r.Outside {
			w = "outside"
		}
		return w + " " + strings.Join(r.Days, ", ") + " " + r.Start + "–" + r.End + " " + r.Timezone
	}
	return r.Type
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

func (rp *relayPages) fromTemplate(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !rp.s.form(w, r, p, 16<<10) {
		return
	}
	tf := templateForm{TemplateID: r.PostForm.Get("templateId"), EndpointID: r.PostForm.Get("endpointId"),
		Keyword: strings.TrimSpace(r.PostForm.Get("keyword")), Timezone: strings.TrimSpace(r.PostForm.Get("timezone"))}
	// The form shows the keyword and time zone boxes for every template; only the matching
	// template's box counts.
	req := relay.Template{}
	if t, ok := relay.TemplateByID(tf.TemplateID); ok {
		req = t
	}
	keyword, tz := "", ""
	if req.ID == relay.TemplateKeyword {
		keyword = tf.Keyword
	}
	if req.ID == relay.TemplateAfterHours {
		tz = tf.Timezone
	}
	d, err := relay.FromTemplate(tf.TemplateID, tf.EndpointID, keyword, tz)
	if err == nil {
		var created relay.Relay
		if created, err = rp.svc.Create(rp.ctx(r, p), p.WorkspaceID, d); err == nil {
			http.Redirect(w, r, "/relays?ok=created#relay-"+created.ID, http.StatusSeeOther)
			return
		}
	}
	var fe *input.Error
	if errors.As(err, &fe) {
		msg := fe.Reason
		switch {
		case fe.Field == "endpointId" || strings.HasPrefix(fe.Field, "actions"):
			msg = "Endpoint: " + fe.Reason
			if tf.EndpointID == "" {
				msg = "Choose an endpoint."
			}
		case fe.Field == "keyword":
			msg = "Keyword: " + fe.Reason
		case fe.Field == "timezone":
			msg = "Time zone: " + fe.Reason
		case fe.Field == "templateId":
			msg = "Choose a template."
		}
		rp.renderList(w, r, p, http.StatusUnprocessableEntity, msg, tf)
		return
	}
	rp.fail(w, r, p, err)
}

// The builder form. Rows are numbered; a row whose type (or endpoint) is empty is ignored,
// so the page can always offer one blank row to fill in, and "Add condition" / "Add action"
// re-render the form with one more without any script.

type ruleForm struct {
	N                                                  int // row number shown, from 1
	Type, Keywords, Phone, Value, Start, End, Timezone string
	Days                                               map[string]bool
	Outside                                            bool
}

type actionForm struct {
	N          int // row number shown, from 1
	EndpointID string
}

type builderForm struct {
	Name, Description, Trigger, Match string
	Rules                             []ruleForm
	Actions                           []actionForm
}

type option struct{ Value, Label string }

type builderData struct {
	ID         string // empty for a new relay
	Enabled    bool
	CanEdit    bool
	CanDelete  bool
	Form       builderForm
	Types      []event.Type
	RuleTypes  []option
	Days       []option
	Endpoints  []relay.EndpointChoice
	CanDevelop bool
}

var ruleTypes = []option{
	{"", "— none —"},
	{relay.RuleMessageContains, "Message contains"},
	{relay.RulePhoneNumberEquals, "Received on number"},
	{relay.RuleIsNewConversation, "New conversation"},
	{relay.RuleIsAnonymousConversation, "Anonymous conversation"},
	{relay.RuleActiveHours, "Active hours"},
}

var dayOptions = []option{{"mon", "Mon"}, {"tue", "Tue"}, {"wed", "Wed"}, {"thu", "Thu"}, {"fri", "Fri"}, {"sat", "Sat"}, {"sun", "Sun"}}

func formFromDefinition(d relay.Definition) builderForm {
	f := builderForm{Name: d.Name, Description: d.Description, Trigger: d.Trigger, Match: d.Conditions.Mode}
	for _, r := range d.Conditions.Rules {
		rf := ruleForm{Type: r.Type, Keywords: strings.Join(r.Keywords, ", "), Phone: r.PhoneNumber, Start: r.Start, End: r.End,
			Timezone: r.Timezone, Outside: r.Outside, Days: map[string]bool{}}
		if r.Value != nil {
			rf.Value = strconv.FormatBool(*r.Value)
		}
		for _, day := range r.Days {
			rf.Days[day] = true
		}
		f.Rules = append(f.Rules, rf)
	}
	for _, a := range d.Actions {
		f.Actions = append(f.Actions, actionForm{EndpointID: a.EndpointID})
	}
	return f
}

// blankRows makes sure the form ends with an empty condition row and has an action row.
func (f *builderForm) blankRows() {
	if len(f.Rules) == 0 || f.Rules[len(f.Rules)-1].Type != "" {
		f.Rules = append(f.Rules, ruleForm{Days: map[string]bool{}, Timezone: "UTC"})
	}
	if len(f.Actions) == 0 {
		f.Actions = append(f.Actions, actionForm{})
	}
	for i := range f.Rules {
		f.Rules[i].N = i + 1
	}
	for i := range f.Actions {
		f.Actions[i].N = i + 1
	}
}

const maxFormRows = 30

func parseBuilder(r *http.Request) builderForm {
	pf := r.PostForm
	f := builderForm{Name: strings.TrimSpace(pf.Get("name")), Description: strings.TrimSpace(pf.Get("description")),
		Trigger: pf.Get("trigger"), Match: pf.Get("match")}
	nr, _ := strconv.Atoi(pf.Get("rules"))
	na, _ := strconv.Atoi(pf.Get("actions"))
	for i := range min(max(nr, 0), maxFormRows) {
		k := "rule" + strconv.Itoa(i) + "."
		rf := ruleForm{Type: pf.Get(k + "type"), Keywords: pf.Get(k + "keywords"), Phone: strings.TrimSpace(pf.Get(k + "phone")),
			Value: pf.Get(k + "value"), Start: pf.Get(k + "start"), End: pf.Get(k + "end"), Timezone: strings.TrimSpace(pf.Get(k + "timezone")),
			Outside: pf.Get(k+"outside") != "", Days: map[string]bool{}}
		for _, day := range pf[k+"days"] {
			rf.Days[day] = true
		}
		f.Rules = append(f.Rules, rf)
	}
	for i := range min(max(na, 0), maxFormRows) {
		f.Actions = append(f.Actions, actionForm{EndpointID: pf.Get("action" + strconv.Itoa(i) + ".endpoint")})
	}
	return f
}

// definition assembles the form into a definition. ruleRow and actionRow map the
// definition's indexes back to the form's rows, for error messages.
func (f builderForm) definition() (d relay.Definition, ruleRow, actionRow []int) {
	d = relay.Definition{Name: f.Name, Description: f.Description, Trigger: f.Trigger, Conditions: relay.Conditions{Mode: f.Match, Rules: []relay.Rule{}}}
	for i, rf := range f.Rules {
		if rf.Type == "" {
			continue
		}
		r := relay.Rule{Type: rf.Type}
		switch rf.Type {
		case relay.RuleMessageContains:
			for _, k := range strings.Split(rf.Keywords, ",") {
				if k = strings.TrimSpace(k); k != "" {
					r.Keywords = append(r.Keywords, k)
				}
			}
		case relay.RulePhoneNumberEquals:
			r.PhoneNumber = rf.Phone
		case relay.RuleIsNewConversation, relay.RuleIsAnonymousConversation:
			v := rf.Value != "false"
			r.Value = &v
		case relay.RuleActiveHours:
			for _, day := range relay.Days {
				if rf.Days[day] {
					r.Days = append(r.Days, day)
				}
			}
			r.Start, r.End, r.Timezone, r.Outside = rf.Start, rf.End, rf.Timezone, rf.Outside
		}
		d.Conditions.Rules = append(d.Conditions.Rules, r)
		ruleRow = append(ruleRow, i)
	}
	for i, af := range f.Actions {
		if af.EndpointID == "" {
			continue
		}
		d.Actions = append(d.Actions, relay.Action{Type: relay.ActionSendWebhook, EndpointID: af.EndpointID})
		actionRow = append(actionRow, i)
	}
	return d, ruleRow, actionRow
}

var indexed = regexp.MustCompile(`^(conditions\.rules|actions)\[(\d+)\]\.?(.*)$`)

// humanField turns a definition field path into words about the form.
func humanField(field string, ruleRow, actionRow []int) string {
	m := indexed.FindStringSubmatch(field)
	if m == nil {
		switch field {
		case "actions":
			return "Actions"
		case "conditions.match":
			return "Match"
		}
		if field == "" {
			return ""
		}
		return strings.ToUpper(field[:1]) + field[1:]
	}
	i, _ := strconv.Atoi(m[2])
	what, rows := "Condition", ruleRow
	if m[1] == "actions" {
		what, rows = "Action", actionRow
	}
	if i < len(rows) {
		i = rows[i]
	}
	s := what + " " + strconv.Itoa(i+1)
	if m[3] != "" {
		s += " (" + m[3] + ")"
	}
	return s
}

func (rp *relayPages) renderBuilder(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, id string, enabled bool, f builderForm, errMsg string) {
	eps, err := rp.svc.Endpoints(r.Context(), p.WorkspaceID)
	if err != nil {
		rp.fail(w, r, p, err)
		return
	}
	f.blankRows()
	title := "New relay"
	if id != "" {
		title = f.Name
	}
	rp.s.Render(w, r, status, "relays_builder", View{Title: title, Principal: p, Active: "relays", Error: errMsg,
		Flash: relayFlashes[r.URL.Query().Get("ok")],
		Data: builderData{ID: id, Enabled: enabled, CanEdit: p.Can(access.Relays, access.Editor), CanDelete: p.Can(access.Relays, access.Owner),
			Form: f, Types: event.Types(), RuleTypes: ruleTypes, Days: dayOptions, Endpoints: eps, CanDevelop: p.Can(access.Developer, access.Viewer)}})
}

func (rp *relayPages) newPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	rp.renderBuilder(w, r, p, http.StatusOK, "", false, builderForm{Trigger: event.MessageReceived, Match: relay.MatchAll}, "")
}

func (rp *relayPages) editPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	x, err := rp.svc.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		rp.fail(w, r, p, err)
		return
	}
	rp.renderBuilder(w, r, p, http.StatusOK, x.ID, x.Enabled, formFromDefinition(x.Definition()), "")
}

// save handles the builder's buttons: add a row, remove one, or save.
func (rp *relayPages) save(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !rp.s.form(w, r, p, 64<<10) {
		return
	}
	id := r.PathValue("id")
	enabled := false
	if id != "" {
		x, err := rp.svc.Get(r.Context(), p.WorkspaceID, id)
		if err != nil {
			rp.fail(w, r, p, err)
			return
		}
		enabled = x.Enabled
	}
	f := parseBuilder(r)
	op := r.PostForm.Get("op")
	switch {
	case op == "add-rule":
		f.Rules = append(f.Rules, ruleForm{Days: map[string]bool{}, Timezone: "UTC"})
		rp.renderBuilder(w, r, p, http.StatusOK, id, enabled, f, "")
		return
	case op == "add-action":
		f.Actions = append(f.Actions, actionForm{})
		rp.renderBuilder(w, r, p, http.StatusOK, id, enabled, f, "")
		return
	case strings.HasPrefix(op, "remove-rule-"):
		if i, err := strconv.Atoi(strings.TrimPrefix(op, "remove-rule-")); err == nil && i >= 0 && i < len(f.Rules) {
			f.Rules = append(f.Rules[:i], f.Rules[i+1:]...)
		}
		rp.renderBuilder(w, r, p, http.StatusOK, id, enabled, f, "")
		return
	case strings.HasPrefix(op, "remove-action-"):
		if i, err := strconv.Atoi(strings.TrimPrefix(op, "remove-action-")); err == nil && i >= 0 && i < len(f.Actions) {
			f.Actions = append(f.Actions[:i], f.Actions[i+1:]...)
		}
		rp.renderBuilder(w, r, p, http.StatusOK, id, enabled, f, "")
		return
	}
	d, ruleRow, actionRow := f.definition()
	var saved relay.Relay
	var err error
	if id == "" {
		saved, err = rp.svc.Create(rp.ctx(r, p), p.WorkspaceID, d)
	} else {
		saved, err = rp.svc.Update(rp.ctx(r, p), p.WorkspaceID, id, d)
	}
	var fe *input.Error
	switch {
	case errors.As(err, &fe):
		msg := fe.Reason
		if h := humanField(fe.Field, ruleRow, actionRow); h != "" {
			msg = h + ": " + fe.Reason
		}
		if fe.Field == "actions" {
			msg = "Add at least one action: choose the endpoint to send to."
		}
		rp.renderBuilder(w, r, p, http.StatusUnprocessableEntity, id, enabled, f, msg)
		return
	case err != nil:
		rp.fail(w, r, p, err)
		return
	}
	if id == "" {
		http.Redirect(w, r, "/relays?ok=created#relay-"+saved.ID, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/relays?ok=saved#relay-"+saved.ID, http.StatusSeeOther)
}

func (rp *relayPages) toggle(on bool) Handler {
	return func(w http.ResponseWriter, r *http.Request, p *access.Principal) {
		x, err := rp.svc.SetEnabled(rp.ctx(r, p), p.WorkspaceID, r.PathValue("id"), on)
		var fe *input.Error
		if errors.As(err, &fe) {
			rp.renderList(w, r, p, http.StatusUnprocessableEntity, "This relay cannot be switched on: "+strings.ToLower(fe.Reason[:1])+fe.Reason[1:]+
				". Edit it to choose another endpoint.", templateForm{TemplateID: relay.TemplateAllInbound, Timezone: "UTC"})
			return
		}
		if err != nil {
			rp.fail(w, r, p, err)
			return
		}
		ok := "disabled"
		if on {
			ok = "enabled"
		}
		http.Redirect(w, r, "/relays?ok="+ok+"#relay-"+x.ID, http.StatusSeeOther)
	}
}

func (rp *relayPages) deletePage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	x, err := rp.svc.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		rp.fail(w, r, p, err)
		return
	}
	rp.s.Render(w, r, http.StatusOK, "relays_delete", View{Title: "Delete relay", Principal: p, Active: "relays", Data: confirmForm{
		Item: x, Action: "/relays/" + url.PathEscape(x.ID) + "/delete", Button: "Delete relay", ButtonID: "confirm-delete", Cancel: "/relays",
	}})
}

func (rp *relayPages) delete(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if err := rp.svc.Delete(rp.ctx(r, p), p.WorkspaceID, r.PathValue("id")); err != nil {
		rp.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/relays?ok=deleted", http.StatusSeeOther)
}
