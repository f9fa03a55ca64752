package event

import (
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is the data of MessageReceived (dataType "Message", DESIGN §2).
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
// MessageReceived carries it. Errors are *ValidationError ("data.…").
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
	err := eachMember(data, "data", func(key string, val []byte) error {
		bit := messageKeyBit(key)
		field := "data." + key
		if bit == 0 {
			return fieldErr(field, "unknown field")
		}
		if seen&bit != 0 {
			return fieldErr(field, "duplicate field")
		}
		seen |= bit
		var err error
		switch bit {
		case mID:
			m.ID, err = idString(field, val)
		case mObject:
			var s string
			if s, err = str(field, val); err == nil && s != "Message" {
				err = fieldErr(field, `must be "Message"`)
			}
		case mWorkspaceID:
			m.WorkspaceID, err = idString(field, val)
		case mConversationID:
			m.ConversationID, err = idString(field, val)
		case mCommunicationType:
			if m.CommunicationType, err = str(field, val); err == nil &&
				m.CommunicationType != CommunicationSMS && m.CommunicationType != CommunicationMMS {
				err = fieldErr(field, `must be "sms" or "mms"`)
			}
		case mDirection:
			if m.Direction, err = str(field, val); err == nil && m.Direction != DirectionInbound {
				err = fieldErr(field, `must be "inbound"`)
			}
		case mFrom:
			m.From, err = phone(field, val)
		case mTo:
			m.To = make([]string, 0, 2)
			err = eachElement(val, field, func(i int, el []byte) error {
				f := field + "[" + strconv.Itoa(i) + "]"
				if i >= MaxRecipients {
					return fieldErr(field, "at most "+strconv.Itoa(MaxRecipients)+" recipients")
				}
				p, err := phone(f, el)
				m.To = append(m.To, p)
				return err
			})
			if err == nil && len(m.To) == 0 {
				err = fieldErr(field, "must have at least one recipient (the workspace line)")
			}
		case mBody:
			if m.Body, err = str(field, val); err == nil && len(m.Body) > MaxBodyBytes {
				err = fieldErr(field, "longer than "+strconv.Itoa(MaxBodyBytes)+" bytes")
			}
		case mMedia:
			err = eachElement(val, field, func(i int, el []byte) error {
				if i >= MaxMedia {
					return fieldErr(field, "at most "+strconv.Itoa(MaxMedia)+" items")
				}
				md, err := parseMedia(field+"["+strconv.Itoa(i)+"]", el)
				m.Media = append(m.Media, md)
				return err
			})
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

func parseMedia(field string, v []byte) (Media, error) {
	var md Media
	var seenURL, seenType bool
	err := eachMember(v, field, func(key string, val []byte) error {
		f := field + "." + key
		var err error
		switch key {
		case "url":
			if seenURL {
				return fieldErr(f, "duplicate field")
			}
			seenURL = true
			if md.URL, err = str(f, val); err != nil {
				return err
			}
			return checkMediaURL(f, md.URL)
		case "contentType":
			if seenType {
				return fieldErr(f, "duplicate field")
			}
			seenType = true
			if md.ContentType, err = str(f, val); err != nil {
				return err
			}
			if len(md.ContentType) > MaxContentTypeLen {
				return fieldErr(f, "too long")
			}
			mt, _, err := mime.ParseMediaType(md.ContentType)
			if err != nil || !strings.Contains(mt, "/") {
				return fieldErr(f, "must be a MIME type such as \"image/jpeg\"")
			}
			return nil
		default:
			return fieldErr(f, "unknown field")
		}
	})
	if err == nil && !seenURL {
		err = fieldErr(field+".url", "required")
	}
	if err == nil && !seenType {
		err = fieldErr(field+".contentType", "required")
	}
	return md, err
}

func checkMediaURL(field, s string) error {
	if s == "" {
		return fieldErr(field, "required")
	}
	if len(s) > MaxURLLen {
		return fieldErr(field, "longer than "+strconv.Itoa(MaxURLLen)+" bytes")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fieldErr(field, "must be an absolute http(s) URL")
	}
	return nil
}

func str(field string, v []byte) (string, error) {
	if v[0] != '"' {
		return "", fieldErr(field, "must be a string, not "+jsonKind(v))
	}
	return decodeString(v), nil
}

func idString(field string, v []byte) (string, error) {
	s, err := str(field, v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fieldErr(field, "must not be empty")
	}
	if len(s) > MaxIDLen {
		return "", fieldErr(field, "longer than "+strconv.Itoa(MaxIDLen)+" bytes")
	}
	return s, nil
}

func phone(field string, v []byte) (string, error) {
	s, err := str(field, v)
	if err != nil {
		return "", err
	}
	if !IsE164(s) {
		return "", fieldErr(field, "must be an E.164 phone number such as +15551234567, not "+quote(s))
	}
	return s, nil
}

func timestamp(field string, v []byte) (time.Time, error) {
	s, err := str(field, v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(field, "must be an RFC 3339 time such as 2025-11-19T14:28:39.459465Z")
	}
	t = t.UTC().Truncate(time.Microsecond)
	if y := t.Year(); y < 1970 || y > 9999 {
		return time.Time{}, fieldErr(field, "year out of range")
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
	err := eachMember(data, "data", func(key string, val []byte) error {
		f := "data." + key
		if key != "message" {
			return fieldErr(f, "unknown field")
		}
		if seen {
			return fieldErr(f, "duplicate field")
		}
		seen = true
		s, err := str(f, val)
		if err != nil {
			return err
		}
		if s == "" {
			return fieldErr(f, "must not be empty")
		}
		if utf8.RuneCountInString(s) > MaxTestMessageLen {
			return fieldErr(f, "longer than "+strconv.Itoa(MaxTestMessageLen)+" characters")
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
