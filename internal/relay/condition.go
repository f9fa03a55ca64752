package relay

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even where the system has none (scratch images)
	"unicode"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/input"
)

// How the rules of Conditions combine.
const (
	MatchAll = "all" // every rule matches (AND); the default
	MatchAny = "any" // at least one rule matches (OR)
)

// Rule types.
const (
	RuleMessageContains         = "messageContains"
	RulePhoneNumberEquals       = "phoneNumberEquals"
	RuleIsAnonymousConversation = "isAnonymousConversation"
	RuleIsNewConversation       = "isNewConversation"
	RuleActiveHours             = "activeHours"
)

// Conditions decide whether a relay fires for an event. JSON:
//
//	{"match":"all"|"any","rules":[…]}
//
// No rules means every event matches. Match in JSON is optional ("all").
type Conditions struct {
	Mode  string `json:"match"` // MatchAll or MatchAny; "" means MatchAll
	Rules []Rule `json:"rules"`
}

// Rule is one condition. Which fields apply depends on Type; in JSON only
// those fields are allowed:
//
//	{"type":"messageContains","keywords":["help","info"]}     any keyword, case-insensitive substring of the body
//	{"type":"phoneNumberEquals","phoneNumber":"+15557654321"} the workspace line that received it (to[0])
//	{"type":"isAnonymousConversation","value":true}
//	{"type":"isNewConversation","value":true}
//	{"type":"activeHours","days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00",
//	 "timezone":"America/New_York","outside":true}
//
// activeHours: days are mon…sun in the rule's time zone; start is inclusive
// and end exclusive (wall-clock minutes); end before start crosses midnight
// and belongs to the day it starts on (fri 22:00–06:00 covers Saturday
// 00:00–06:00). Wall-clock times that a DST change skips never occur and
// repeated ones occur twice. outside: true matches outside the window.
type Rule struct {
	Type        string   `json:"type"`
	Keywords    []string `json:"keywords,omitempty"`    // messageContains
	PhoneNumber string   `json:"phoneNumber,omitempty"` // phoneNumberEquals
	Value       *bool    `json:"value,omitempty"`       // isAnonymousConversation, isNewConversation
	Days        []string `json:"days,omitempty"`        // activeHours
	Start       string   `json:"start,omitempty"`       // activeHours, "HH:MM"
	End         string   `json:"end,omitempty"`         // activeHours, "HH:MM"
	Timezone    string   `json:"timezone,omitempty"`    // activeHours, IANA name
	Outside     bool     `json:"outside,omitempty"`     // activeHours

	c *compiledRule // set by Definition.Validate; shared, read-only
}

// compiledRule is a Rule prepared for allocation-free evaluation.
type compiledRule struct {
	keywords   []foldedKeyword
	loc        *time.Location // activeHours
	days       uint8          // bit i = time.Weekday(i)
	start, end int            // minutes since midnight
}

// Facts are what conditions look at. Body and WorkspaceLine come from the
// event's data, the booleans from the publish request's context; a nil
// boolean or a zero At is an absent fact, and a rule on an absent fact does
// not match (activeHours with outside included).
type Facts struct {
	Body            string
	WorkspaceLine   string // the workspace number that received the message
	Anonymous       *bool
	NewConversation *bool
	At              time.Time
}

// NewFacts gathers the facts of a validated event. At is when the message
// happened (data.createdAt) when the event carries it, else received.
func NewFacts(v event.Validated, c event.Context, received time.Time) Facts {
	at := v.OccurredAt
	if at.IsZero() {
		at = received
	}
	return Facts{
		Body:            v.Body,
		WorkspaceLine:   v.WorkspaceLine,
		Anonymous:       c.IsAnonymousConversation,
		NewConversation: c.IsNewConversation,
		At:              at,
	}
}

// Match reports whether the facts satisfy the conditions. It does not
// allocate once the definition has been validated; rules that were not
// validated are prepared on the fly, and an invalid rule never matches.
func (c Conditions) Match(f Facts) bool {
	if len(c.Rules) == 0 {
		return true
	}
	anyOf := c.Mode == MatchAny
	for i := range c.Rules {
		ok := c.Rules[i].match(&f)
		if anyOf && ok {
			return true
		}
		if !anyOf && !ok {
			return false
		}
	}
	return !anyOf
}

func (r *Rule) match(f *Facts) bool {
	switch r.Type {
	case RuleMessageContains:
		cr := r.compiled()
		if cr == nil {
			return false
		}
		for i := range cr.keywords {
			if cr.keywords[i].in(f.Body) {
				return true
			}
		}
		return false
	case RulePhoneNumberEquals:
		return f.WorkspaceLine != "" && f.WorkspaceLine == r.PhoneNumber
	case RuleIsAnonymousConversation:
		return r.Value != nil && f.Anonymous != nil && *f.Anonymous == *r.Value
	case RuleIsNewConversation:
		return r.Value != nil && f.NewConversation != nil && *f.NewConversation == *r.Value
	case RuleActiveHours:
		cr := r.compiled()
		if cr == nil || f.At.IsZero() {
			return false
		}
		return cr.inWindow(f.At) != r.Outside
	}
	return false
}

func (r *Rule) compiled() *compiledRule {
	if r.c != nil {
		return r.c
	}
	cr, err := r.compile("")
	if err != nil {
		return nil
	}
	return cr
}

// inWindow reports whether t falls in the activeHours window.
func (cr *compiledRule) inWindow(t time.Time) bool {
	t = t.In(cr.loc)
	h, m, _ := t.Clock()
	minute := h*60 + m
	wd := t.Weekday()
	if cr.start < cr.end {
		return cr.days&(1<<wd) != 0 && minute >= cr.start && minute < cr.end
	}
	// Crosses midnight: the evening part on a listed day, or the morning
	// part after a listed day.
	if minute >= cr.start && cr.days&(1<<wd) != 0 {
		return true
	}
	prev := (wd + 6) % 7
	return minute < cr.end && cr.days&(1<<prev) != 0
}

// foldRune maps r to a canonical member of its simple case-folding orbit
// (the smallest), so a == b case-insensitively iff foldRune(a) == foldRune(b),
// as strings.EqualFold decides it (k, K and the Kelvin sign K are equal).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}

// foldedKeyword is a messageContains keyword prepared for matching.
type foldedKeyword struct {
	runes []rune // folded with foldRune
	// When the first rune is ASCII and no non-ASCII rune folds to it (all
	// letters but k and s), candidates are found by scanning bytes for its
	// two cases.
	asciiFirst bool
	lo, up     byte
}

// asciiOnlyFold[c] reports that ASCII c has no non-ASCII case partner.
var asciiOnlyFold = func() (t [utf8.RuneSelf]bool) {
	for c := range rune(utf8.RuneSelf) {
		t[c] = true
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				t[c] = false
			}
		}
	}
	return t
}()

func foldKeyword(s string) foldedKeyword {
	kw := foldedKeyword{runes: make([]rune, 0, len(s))}
	for _, r := range s {
		kw.runes = append(kw.runes, foldRune(r))
	}
	if len(kw.runes) > 0 {
		if c := kw.runes[0]; c < utf8.RuneSelf && asciiOnlyFold[c] {
			kw.asciiFirst = true
			kw.lo, kw.up = byte(unicode.ToLower(c)), byte(unicode.ToUpper(c))
		}
	}
	return kw
}

// in reports whether the keyword occurs in s, case-insensitively.
func (kw *foldedKeyword) in(s string) bool {
	if len(kw.runes) == 0 {
		return false
	}
	if kw.asciiFirst {
		// Bytes of multi-byte runes are ≥ 0x80, so a match of lo or up is
		// always the start of a rune.
		rest := kw.runes[1:]
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c == kw.lo || c == kw.up) && hasFoldPrefix(s[i+1:], rest) {
				return true
			}
		}
		return false
	}
	return containsFold(s, kw.runes)
}

// containsFold reports whether kw (folded) occurs in s, case-insensitively.
func containsFold(s string, kw []rune) bool {
	first := kw[0]
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if foldRune(r) == first && hasFoldPrefix(s[i:], kw[1:]) {
			return true
		}
	}
	return false
}

func hasFoldPrefix(s string, kw []rune) bool {
	i := 0
	for _, want := range kw {
		if i >= len(s) {
			return false
		}
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if foldRune(r) != want {
			return false
		}
		i += size
	}
	return true
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Days lists the day names activeHours accepts, Monday first.
var Days = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// locations caches loaded time zones: time.LoadLocation reads and parses
// the zone file on every call.
var locations sync.Map // name → *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// parseClock parses "HH:MM" (00:00–23:59) into minutes since midnight.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func (c *Conditions) validate(field string) error {
	switch c.Mode {
	case "":
		c.Mode = MatchAll
	case MatchAll, MatchAny:
	default:
		return fieldErr(field+".match", `must be "all" or "any"`)
	}
	if len(c.Rules) > MaxRules {
		return fieldErr(field+".rules", "at most "+strconv.Itoa(MaxRules)+" rules")
	}
	for i := range c.Rules {
		cr, err := c.Rules[i].compile(field + ".rules[" + strconv.Itoa(i) + "]")
		if err != nil {
			return err
		}
		c.Rules[i].c = cr
	}
	return nil
}

// compile checks r and prepares it. field prefixes error paths.
func (r *Rule) compile(field string) (*compiledRule, error) {
	cr := &compiledRule{}
	// Fields that do not belong to the type must be empty (decoding refuses
	// them; this catches rules built in Go).
	foreign := func(names ...string) error {
		set := map[string]bool{
			"keywords": len(r.Keywords) > 0, "phoneNumber": r.PhoneNumber != "", "value": r.Value != nil,
			"days": len(r.Days) > 0, "start": r.Start != "", "end": r.End != "", "timezone": r.Timezone != "",
			"outside": r.Outside,
		}
		for _, n := range names {
			delete(set, n)
		}
		for _, n := range []string{"keywords", "phoneNumber", "value", "days", "start", "end", "timezone", "outside"} {
			if set[n] {
				return fieldErr(input.Join(field, n), "not allowed for "+r.Type)
			}
		}
		return nil
	}
	switch r.Type {
	case RuleMessageContains:
		if err := foreign("keywords"); err != nil {
			return nil, err
		}
		f := input.Join(field, "keywords")
		if len(r.Keywords) == 0 {
			return nil, fieldErr(f, "at least one keyword is required")
		}
		if len(r.Keywords) > MaxKeywords {
			return nil, fieldErr(f, "at most "+strconv.Itoa(MaxKeywords)+" keywords")
		}
		for i, kw := range r.Keywords {
			kf := input.Index(f, i)
			if strings.TrimSpace(kw) == "" {
				return nil, fieldErr(kf, "must not be empty")
			}
			if utf8.RuneCountInString(kw) > MaxKeywordLen {
				return nil, fieldErr(kf, "longer than "+strconv.Itoa(MaxKeywordLen)+" characters")
			}
			cr.keywords = append(cr.keywords, foldKeyword(kw))
		}
	case RulePhoneNumberEquals:
		if err := foreign("phoneNumber"); err != nil {
			return nil, err
		}
		if r.PhoneNumber == "" {
			return nil, fieldErr(input.Join(field, "phoneNumber"), "required")
		}
		if !event.IsE164(r.PhoneNumber) {
			return nil, fieldErr(input.Join(field, "phoneNumber"), "must be an E.164 phone number such as +15551234567")
		}
	case RuleIsAnonymousConversation, RuleIsNewConversation:
		if err := foreign("value"); err != nil {
			return nil, err
		}
		if r.Value == nil {
			return nil, fieldErr(input.Join(field, "value"), "required (true or false)")
		}
	case RuleActiveHours:
		if err := foreign("days", "start", "end", "timezone", "outside"); err != nil {
			return nil, err
		}
		f := input.Join(field, "days")
		if len(r.Days) == 0 {
			return nil, fieldErr(f, "at least one day is required")
		}
		for i, d := range r.Days {
			wd, ok := weekdays[d]
			if !ok {
				return nil, fieldErr(input.Index(f, i), `must be one of "mon", "tue", "wed", "thu", "fri", "sat", "sun"`)
			}
			if cr.days&(1<<wd) != 0 {
				return nil, fieldErr(input.Index(f, i), "duplicate day "+strconv.Quote(d))
			}
			cr.days |= 1 << wd
		}
		var ok bool
		if cr.start, ok = parseClock(r.Start); !ok {
			return nil, fieldErr(input.Join(field, "start"), `must be a time "HH:MM" from 00:00 to 23:59`)
		}
		if cr.end, ok = parseClock(r.End); !ok {
			return nil, fieldErr(input.Join(field, "end"), `must be a time "HH:MM" from 00:00 to 23:59`)
		}
		if cr.start == cr.end {
			return nil, fieldErr(input.Join(field, "end"), "must differ from start")
		}
		tf := input.Join(field, "timezone")
		switch {
		case r.Timezone == "":
			return nil, fieldErr(tf, "required (an IANA time zone such as America/New_York or UTC)")
		case r.Timezone == "Local" || len(r.Timezone) > 64:
			return nil, fieldErr(tf, "unknown time zone "+strconv.Quote(clip(r.Timezone)))
		}
		loc, err := loadLocation(r.Timezone)
		if err != nil {
			return nil, fieldErr(tf, "unknown time zone "+strconv.Quote(clip(r.Timezone)))
		}
		cr.loc = loc
	case "":
		return nil, fieldErr(input.Join(field, "type"), "required")
	default:
		return nil, fieldErr(input.Join(field, "type"), "unknown condition type "+strconv.Quote(clip(r.Type)))
	}
	return cr, nil
}

// UnmarshalJSON strictly decodes conditions.
func (c *Conditions) UnmarshalJSON(b []byte) error { return unmarshal(b, c.decode) }

func (c *Conditions) decode(field string, b []byte) error {
	*c = Conditions{}
	return input.Members(field, b, func(key string, val []byte) error {
		f := input.Join(field, key)
		switch key {
		case "match":
			var err error
			c.Mode, err = input.String(f, val)
			return err
		case "rules":
			if input.IsNull(val) {
				return nil
			}
			return input.Elements(f, val, func(i int, el []byte) error {
				var r Rule
				err := r.decode(input.Index(f, i), el)
				c.Rules = append(c.Rules, r)
				return err
			})
		}
		return unknownField(f)
	})
}

// MarshalJSON writes match explicitly and rules as [] when empty.
func (c Conditions) MarshalJSON() ([]byte, error) {
	type plain Conditions
	p := plain(c)
	if p.Mode == "" {
		p.Mode = MatchAll
	}
	if p.Rules == nil {
		p.Rules = []Rule{}
	}
	return json.Marshal(p)
}

// ruleFields lists the keys each rule type allows besides "type".
var ruleFields = map[string][]string{
	RuleMessageContains:         {"keywords"},
	RulePhoneNumberEquals:       {"phoneNumber"},
	RuleIsAnonymousConversation: {"value"},
	RuleIsNewConversation:       {"value"},
	RuleActiveHours:             {"days", "start", "end", "timezone", "outside"},
}

// UnmarshalJSON strictly decodes a rule: only the keys of its type.
func (r *Rule) UnmarshalJSON(b []byte) error { return unmarshal(b, r.decode) }

func (r *Rule) decode(field string, b []byte) error {
	*r = Rule{}
	// The type decides which keys are allowed, so read it first.
	var typ []byte
	err := input.Members(field, b, func(key string, val []byte) error {
		if key == "type" {
			typ = val
		}
		return nil
	})
	if err != nil {
		return err
	}
	if typ == nil {
		return fieldErr(input.Join(field, "type"), "required")
	}
	if r.Type, err = input.String(input.Join(field, "type"), typ); err != nil {
		return err
	}
	allowed, ok := ruleFields[r.Type]
	if !ok {
		return fieldErr(input.Join(field, "type"), "unknown condition type "+strconv.Quote(clip(r.Type)))
	}
	return input.Members(field, b, func(key string, val []byte) error {
		f := input.Join(field, key)
		if key == "type" {
			return nil
		}
		known := false
		for _, a := range allowed {
			known = known || a == key
		}
		if !known {
			if _, other := ruleKeys[key]; other {
				return fieldErr(f, "not allowed for "+r.Type)
			}
			return unknownField(f)
		}
		var err error
		switch key {
		case "keywords":
			r.Keywords, err = input.Strings(f, val)
		case "phoneNumber":
			r.PhoneNumber, err = input.String(f, val)
		case "value":
			var v bool
			v, err = input.Bool(f, val)
			r.Value = &v
		case "days":
			r.Days, err = input.Strings(f, val)
		case "start":
			r.Start, err = input.String(f, val)
		case "end":
			r.End, err = input.String(f, val)
		case "timezone":
			r.Timezone, err = input.String(f, val)
		case "outside":
			if !input.IsNull(val) {
				r.Outside, err = input.Bool(f, val)
			}
		}
		return err
	})
}

var ruleKeys = map[string]struct{}{
	"keywords": {}, "phoneNumber": {}, "value": {}, "days": {}, "start": {}, "end": {}, "timezone": {}, "outside": {},
}

// MarshalJSON writes only the keys of the rule's type (activeHours always
// writes outside).
func (r Rule) MarshalJSON() ([]byte, error) {
	switch r.Type {
	case RuleActiveHours:
		return json.Marshal(struct {
			Type     string   `json:"type"`
			Days     []string `json:"days"`
			Start    string   `json:"start"`
			End      string   `json:"end"`
			Timezone string   `json:"timezone"`
			Outside  bool     `json:"outside"`
		}{r.Type, orEmpty(r.Days), r.Start, r.End, r.Timezone, r.Outside})
	case RuleIsAnonymousConversation, RuleIsNewConversation:
		return json.Marshal(struct {
			Type  string `json:"type"`
			Value *bool  `json:"value"`
		}{r.Type, r.Value})
	}
	type plain Rule
	return json.Marshal(plain(r))
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
