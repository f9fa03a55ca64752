package event

import (
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/input"
)

// Message is the data of MessageReceived (dataType "Message", docs/architecture.md §2).
// Its canonical JSON, in this order:
//
//	{"id":"…","object":"Message","workspaceId":"…","conversationId":"…",
//	 "communicationType":"sms","direction":"inbound","from":"+15551230000",
//	 "to":["+15559870000"],"body":"…","media":[{"url":"https://…","contentType":"image/jpeg"}],
//	 "contactId":null,"createdAt":"2025-11-19T14:28:39.459465Z"}
//
// Every key is required. to[0] is the workspace line that received the
// message (a group MMS lists the other recipients after it). media is [] when
// there is none; contactId is null when the sender is not a saved contact.
type Message struct {
	ID                string
	WorkspaceID       string
	ConversationID    string
	CommunicationType string // "sms" or "mms"
	Direction         string // "inbound" for MessageReceived
	From              string // E.164
	To                []string
	Body              string
	Media             []Media
	ContactID         *string
	CreatedAt         time.Time
}

// Media is an attachment of a Message.
type Media struct {
	URL         string // absolute http(s) URL
	ContentType string // a MIME type, e.g. "image/jpeg"
}

// Values of Message.CommunicationType and Message.Direction.
const (
	CommunicationSMS = "sms"
	CommunicationMMS = "mms"
	DirectionInbound = "inbound"
)

// WorkspaceLine is the workspace's number that received the message, to[0].
// relay's phoneNumberEquals compares against it.
func (m *Message) WorkspaceLine() string {
	if len(m.To) == 0 {
		return ""
	}
	return m.To[0]
}

// AppendJSON appends the canonical compact JSON of m.
func (m *Message) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, m.ID)
	dst = append(dst, `,"object":"Message","workspaceId":`...)
	dst = appendString(dst, m.WorkspaceID)
	dst = append(dst, `,"conversationId":`...)
	dst = appendString(dst, m.ConversationID)
	dst = append(dst, `,"communicationType":`...)
	dst = appendString(dst, m.CommunicationType)
	dst = append(dst, `,"direction":`...)
	dst = appendString(dst, m.Direction)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, m.From)
	dst = append(dst, `,"to":[`...)
	for i, to := range m.To {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, to)
	}
	dst = append(dst, `],"body":`...)
	dst = appendString(dst, m.Body)
	dst = append(dst, `,"media":[`...)
	for i, md := range m.Media {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"url":`...)
		dst = appendString(dst, md.URL)
		dst = append(dst, `,"contentType":`...)
		dst = appendString(dst, md.ContentType)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"contactId":`...)
	if m.ContactID == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, *m.ContactID)
	}
	dst = append(dst, `,"createdAt":`...)
	dst = appendTime(dst, m.CreatedAt)
	return append(dst, '}')
}

// MarshalJSON returns the canonical compact JSON of m (not validated).
func (m Message) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// ParseMessage strictly decodes and validates Message data as
// MessageReceived carries it. Errors are *input.Error ("data.…").
func ParseMessage(data []byte) (Message, error) {
	v, err := ValidateEvent(MessageReceived, data)
	if err != nil {
		return Message{}, err
	}
	var m Message
	err = parseMessage(v.Data, &m)
	return m, err
}

const (
	mID = 1 << iota
	mObject
	mWorkspaceID
	mConversationID
	mCommunicationType
	mDirection
	mFrom
	mTo
	mBody
	mMedia
	mContactID
	mCreatedAt
	mAll = 1<<iota - 1
)

var messageKeys = [...]string{"id", "object", "workspaceId", "conversationId", "communicationType",
	"direction", "from", "to", "body", "media", "contactId", "createdAt"}

func messageKeyBit(key string) int {
	for i, k := range messageKeys {
		if k == key {
			return 1 << i
		}
	}
	return 0
}

// parseMessage decodes and checks compact JSON data into m.
func parseMessage(data []byte, m *Message) error {
	seen := 0
	err := input.Members("data", data, func(key string, val []byte) error {
		bit := messageKeyBit(key)
		field := path{prefix: "data", idx: -1, key: key}
		if bit == 0 {
			return field.err("unknown field")
		}
		seen |= bit
		var err error
		var ok bool
		switch bit {
		case mID:
			m.ID, err = idString(field, val)
		case mObject:
			if _, ok, err = constant(field, val, "Message"); err == nil && !ok {
				err = field.err(`must be "Message"`)
			}
		case mWorkspaceID:
			m.WorkspaceID, err = idString(field, val)
		case mConversationID:
			m.ConversationID, err = idString(field, val)
		case mCommunicationType:
			if m.CommunicationType, ok, err = constant(field, val, CommunicationSMS, CommunicationMMS); err == nil && !ok {
				err = field.err(`must be "sms" or "mms"`)
			}
		case mDirection:
			if m.Direction, ok, err = constant(field, val, DirectionInbound); err == nil && !ok {
				err = field.err(`must be "inbound"`)
			}
		case mFrom:
			m.From, err = phone(field, val)
		case mTo:
			m.To, err = list(m.To[:0], "data.to", val, MaxRecipients, "recipients", phone)
			if err == nil && len(m.To) == 0 {
				err = field.err("must have at least one recipient (the workspace line)")
			}
		case mBody:
			if m.Body, err = str(field, val); err == nil && len(m.Body) > MaxBodyBytes {
				err = field.err("longer than " + strconv.Itoa(MaxBodyBytes) + " bytes")
			}
		case mMedia:
			m.Media, err = list(m.Media[:0], "data.media", val, MaxMedia, "items", parseMedia)
		case mContactID:
			if val[0] != 'n' {
				var s string
				s, err = idString(field, val)
				m.ContactID = &s
			}
		case mCreatedAt:
			m.CreatedAt, err = timestamp(field, val)
		}
		return err
	})
	if err != nil {
		return err
	}
	if missing := mAll &^ seen; missing != 0 {
		for i, k := range messageKeys {
			if missing&(1<<i) != 0 {
				return fieldErr("data."+k, "required")
			}
		}
	}
	return nil
}

// list appends the elements of the array v at field to dst, each read by parse, and
// refuses more than max of them ("at most 10 recipients").
func list[T any](dst []T, field string, v []byte, max int, noun string, parse func(path, []byte) (T, error)) ([]T, error) {
	err := input.Elements(field, v, func(i int, el []byte) error {
		if i >= max {
			return fieldErr(field, "at most "+strconv.Itoa(max)+" "+noun)
		}
		x, err := parse(path{prefix: field, idx: i}, el)
		dst = append(dst, x)
		return err
	})
	return dst, err
}

func parseMedia(field path, v []byte) (Media, error) {
	var md Media
	var seenURL, seenType bool
	err := input.Members(field.String(), v, func(key string, val []byte) error {
		f := field
		f.key = key
		var err error
		switch key {
		case "url":
			seenURL = true
			if md.URL, err = str(f, val); err != nil {
				return err
			}
			return checkMediaURL(f, md.URL)
		case "contentType":
			seenType = true
			if md.ContentType, err = str(f, val); err != nil {
				return err
			}
			return checkContentType(f, md.ContentType)
		default:
			return f.err("unknown field")
		}
	})
	if err == nil && !seenURL {
		field.key = "url"
		err = field.err("required")
	}
	if err == nil && !seenType {
		field.key = "contentType"
		err = field.err("required")
	}
	return md, err
}

// checkContentType accepts a MIME type "type/subtype" with optional
// parameters.
func checkContentType(field path, s string) error {
	if len(s) > MaxContentTypeLen {
		return field.err("too long")
	}
	mt, _, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(mt, "/") {
		return field.err("must be a MIME type such as \"image/jpeg\"")
	}
	return nil
}

func checkMediaURL(field path, s string) error {
	if s == "" {
		return field.err("required")
	}
	if len(s) > MaxURLLen {
		return field.err("longer than " + strconv.Itoa(MaxURLLen) + " bytes")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return field.err("must be an absolute http(s) URL")
	}
	return nil
}

// path names a field lazily: the string is built only for an error.
// It reads prefix[idx].key, leaving out a negative idx and an empty key.
type path struct {
	prefix string
	idx    int
	key    string
}

func (p path) String() string {
	s := p.prefix
	if p.idx >= 0 {
		s += "[" + strconv.Itoa(p.idx) + "]"
	}
	if p.key != "" {
		s += "." + p.key
	}
	return s
}

func (p path) err(reason string) error { return fieldErr(p.String(), reason) }

func str(field path, v []byte) (string, error) {
	if v[0] != '"' {
		return "", field.err("must be a string, not " + input.Kind(v))
	}
	return input.Unquote(v), nil
}

// constant returns s, or want without allocating when the literal v is want.
func constant(field path, v []byte, want ...string) (string, bool, error) {
	if v[0] != '"' {
		return "", false, field.err("must be a string, not " + input.Kind(v))
	}
	for _, w := range want {
		if len(v) == len(w)+2 && string(v[1:len(v)-1]) == w {
			return w, true, nil
		}
	}
	s := input.Unquote(v)
	for _, w := range want {
		if s == w {
			return w, true, nil
		}
	}
	return s, false, nil
}

func idString(field path, v []byte) (string, error) {
	s, err := str(field, v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", field.err("must not be empty")
	}
	if len(s) > MaxIDLen {
		return "", field.err("longer than " + strconv.Itoa(MaxIDLen) + " bytes")
	}
	return s, nil
}

func phone(field path, v []byte) (string, error) {
	s, err := str(field, v)
	if err != nil {
		return "", err
	}
	if !IsE164(s) {
		return "", field.err("must be an E.164 phone number such as +15551234567, not " + quote(s))
	}
	return s, nil
}

func timestamp(field path, v []byte) (time.Time, error) {
	s, err := str(field, v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, field.err("must be an RFC 3339 time such as 2025-11-19T14:28:39.459465Z")
	}
	t = t.UTC().Truncate(time.Microsecond)
	if reason := CheckTime(t); reason != "" {
		return time.Time{}, field.err(reason)
	}
	return t, nil
}

func validateMessage(data []byte, v *Validated) error {
	var m Message
	if err := parseMessage(data, &m); err != nil {
		return err
	}
	v.Data = m.AppendJSON(make([]byte, 0, len(data)+16))
	v.WorkspaceID = m.WorkspaceID
	v.Body = m.Body
	v.WorkspaceLine = m.WorkspaceLine()
	v.OccurredAt = m.CreatedAt
	return nil
}

// validateTestEvent checks TestEvent data: {"message":"…"}, 1–1000 characters.
func validateTestEvent(data []byte, v *Validated) error {
	var msg string
	seen := false
	err := input.Members("data", data, func(key string, val []byte) error {
		f := path{prefix: "data", idx: -1, key: key}
		if key != "message" {
			return f.err("unknown field")
		}
		seen = true
		s, err := str(f, val)
		if err != nil {
			return err
		}
		if s == "" {
			return f.err("must not be empty")
		}
		if utf8.RuneCountInString(s) > MaxTestMessageLen {
			return f.err("longer than " + strconv.Itoa(MaxTestMessageLen) + " characters")
		}
		msg = s
		return nil
	})
	if err != nil {
		return err
	}
	if !seen {
		return fieldErr("data.message", "required")
	}
	out := append(make([]byte, 0, len(msg)+16), `{"message":`...)
	out = appendString(out, msg)
	v.Data = append(out, '}')
	v.Body = msg
	return nil
}

// TestEventData is the data "Send test event" publishes.
const TestEventData = `{"message":"This is a test event from relaydesk."}`

func init() {
	register(Type{
		Name:     MessageReceived,
		DataType: DataTypeMessage,
		Description: "A text message (SMS or MMS) arrived on one of the workspace's numbers. " +
			"data is the Message; to[0] is the workspace line that received it.",
		Example: []byte(`{"id":"01KAE88YWZ8Q4V6J0Q9D3C2B1A","object":"Message",` +
			`"workspaceId":"01K6N5WEYHS5N0796QX1R2T3V4","conversationId":"01KAE88YWQ3M2N1P0Z9Y8X7W6V",` +
			`"communicationType":"mms","direction":"inbound","from":"+15551234567","to":["+15557654321"],` +
			`"body":"HELP, what are your opening hours?",` +
			`"media":[{"url":"https://media.example.com/01KAE88YWZ/photo.jpg","contentType":"image/jpeg"}],` +
			`"contactId":null,"createdAt":"2025-11-19T14:28:39.459465Z"}`),
		validate: validateMessage,
	})
	register(Type{
		Name:        TestEvent,
		DataType:    DataTypeTestEvent,
		Description: `Sent by "Send test event" to check an endpoint; data is {"message": text}.`,
		Example:     []byte(TestEventData),
		validate:    validateTestEvent,
	})
}
