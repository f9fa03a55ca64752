package event

import (
	"encoding/json"
	"errors"
	"time"
)

// Envelope is the Event object a receiver gets (docs/architecture.md §2). Encode produces
// its exact wire form:
//
//	{"id":"01KAE88YX393N7SAE2…","object":"Event","name":"MessageReceived",
//	 "workspaceId":"01K6N5WEYHS5N0796…","createdAt":"2025-11-19T14:28:39.459465Z",
//	 "dataType":"Message","data":{…}}
type Envelope struct {
	ID          string    // a ULID from store.NewID
	Name        string    // catalog name, e.g. MessageReceived
	WorkspaceID string    //
	CreatedAt   time.Time // encoded in UTC with exactly 6 fractional digits
	DataType    string    // the catalog entry's DataType
	Data        json.RawMessage
	// Data is embedded verbatim: it must be compact, valid JSON, such as
	// Validated.Data. Empty Data encodes as null.
}

// timeLayout is RFC 3339 in UTC with microseconds, always 6 digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime formats t as the wire contract writes times:
// RFC 3339, UTC, microseconds (2025-11-19T14:28:39.459465Z).
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeLayout)
	return append(dst, '"')
}

// AppendJSON appends the wire encoding of e to dst. It does not allocate
// when dst has room.
func (e *Envelope) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"object":"Event","name":`...)
	dst = appendString(dst, e.Name)
	dst = append(dst, `,"workspaceId":`...)
	dst = appendString(dst, e.WorkspaceID)
	dst = append(dst, `,"createdAt":`...)
	dst = appendTime(dst, e.CreatedAt)
	dst = append(dst, `,"dataType":`...)
	dst = appendString(dst, e.DataType)
	dst = append(dst, `,"data":`...)
	if len(e.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, e.Data...)
	}
	return append(dst, '}')
}

// EncodedLen returns an upper bound of len(Encode(e)) (exact unless a string
// field needs escaping).
func (e *Envelope) EncodedLen() int {
	// {"id":"","object":"Event","name":"","workspaceId":"","createdAt":"","dataType":"","data":}
	const fixed = 90 + len(timeLayout)
	n := len(e.Data)
	if n == 0 {
		n = 4
	}
	return fixed + len(e.ID) + len(e.Name) + len(e.WorkspaceID) + len(e.DataType) + n
}

// Encode returns the wire encoding of e: the body that is signed, stored and
// delivered. It makes one allocation.
func Encode(e Envelope) []byte {
	return e.AppendJSON(make([]byte, 0, e.EncodedLen()+8))
}

// MarshalJSON implements json.Marshaler with the wire encoding.
func (e Envelope) MarshalJSON() ([]byte, error) { return Encode(e), nil }

// UnmarshalJSON decodes an envelope (for receivers, tools and tests). It
// checks object is "Event" and keeps data verbatim.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	var w struct {
		ID          string          `json:"id"`
		Object      string          `json:"object"`
		Name        string          `json:"name"`
		WorkspaceID string          `json:"workspaceId"`
		CreatedAt   time.Time       `json:"createdAt"`
		DataType    string          `json:"dataType"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Object != "Event" {
		return errors.New(`event: envelope object is not "Event"`)
	}
	*e = Envelope{ID: w.ID, Name: w.Name, WorkspaceID: w.WorkspaceID, CreatedAt: w.CreatedAt,
		DataType: w.DataType, Data: w.Data}
	return nil
}
