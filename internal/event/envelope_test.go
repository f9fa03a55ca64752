package event

import (
	"encoding/json"
	"testing"
	"time"
)

func sampleEnvelope(tb testing.TB) Envelope {
	tb.Helper()
	mr, _ := Lookup(MessageReceived)
	return Envelope{
		ID:          "01KAE88YX393N7SAE2ABCDEFGH",
		Name:        MessageReceived,
		WorkspaceID: "01K6N5WEYHS5N0796QX1R2T3V4",
		CreatedAt:   time.Date(2025, 11, 19, 14, 28, 39, 459465123, time.UTC),
		DataType:    mr.DataType,
		Data:        mr.Example,
	}
}

func TestEncodeEnvelope(t *testing.T) {
	e := sampleEnvelope(t)
	got := string(Encode(e))
	want := `{"id":"01KAE88YX393N7SAE2ABCDEFGH","object":"Event","name":"MessageReceived",` +
		`"workspaceId":"01K6N5WEYHS5N0796QX1R2T3V4","createdAt":"2025-11-19T14:28:39.459465Z",` +
		`"dataType":"Message","data":` + string(e.Data) + `}`
	if got != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
	if n := e.EncodedLen(); n != len(got) {
		t.Errorf("EncodedLen = %d, len = %d", n, len(got))
	}
	var back Envelope
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.Name != e.Name || back.WorkspaceID != e.WorkspaceID ||
		!back.CreatedAt.Equal(e.CreatedAt.Truncate(time.Microsecond)) || string(back.Data) != string(e.Data) {
		t.Errorf("round trip: %+v", back)
	}
	m, err := json.Marshal(e)
	if err != nil || string(m) != got {
		t.Errorf("MarshalJSON = %s, %v", m, err)
	}
}

func TestEncodeTimes(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "2025-01-02T03:04:05.000000Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 999, time.UTC), "2025-01-02T03:04:05.000000Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 1000, time.UTC), "2025-01-02T03:04:05.000001Z"},
		{time.Date(2025, 11, 19, 9, 28, 39, 459465000, ny), "2025-11-19T14:28:39.459465Z"},
	} {
		e := Envelope{CreatedAt: tc.in}
		var w struct {
			CreatedAt string `json:"createdAt"`
		}
		if err := json.Unmarshal(Encode(e), &w); err != nil || w.CreatedAt != tc.want {
			t.Errorf("%v → %q (%v), want %q", tc.in, w.CreatedAt, err, tc.want)
		}
		if FormatTime(tc.in) != tc.want {
			t.Errorf("FormatTime(%v) = %q", tc.in, FormatTime(tc.in))
		}
	}
}

func TestEncodeEscapes(t *testing.T) {
	e := Envelope{ID: "a\"b\\c\n\x01é\xff<>", Data: json.RawMessage(`{}`)}
	b := Encode(e)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	var back Envelope
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != "a\"b\\c\n\x01é\ufffd<>" {
		t.Errorf("ID round trip = %q", back.ID)
	}
	if string(Encode(Envelope{})[len(Encode(Envelope{}))-6:]) != ":null}" {
		t.Errorf("empty data: %s", Encode(Envelope{}))
	}
}

// BenchmarkEncodeEnvelope encodes a realistic MessageReceived envelope.
func BenchmarkEncodeEnvelope(b *testing.B) {
	e := sampleEnvelope(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(Encode(e))))
	for b.Loop() {
		_ = Encode(e)
	}
}

// BenchmarkEncodeEnvelopeAppend reuses a buffer: zero allocations.
func BenchmarkEncodeEnvelopeAppend(b *testing.B) {
	e := sampleEnvelope(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

// BenchmarkEncodeEnvelopeStdlib is the baseline: encoding/json with struct tags.
func BenchmarkEncodeEnvelopeStdlib(b *testing.B) {
	e := sampleEnvelope(b)
	type wire struct {
		ID          string          `json:"id"`
		Object      string          `json:"object"`
		Name        string          `json:"name"`
		WorkspaceID string          `json:"workspaceId"`
		CreatedAt   string          `json:"createdAt"`
		DataType    string          `json:"dataType"`
		Data        json.RawMessage `json:"data"`
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(wire{e.ID, "Event", e.Name, e.WorkspaceID,
			e.CreatedAt.UTC().Format(timeLayout), e.DataType, e.Data})
	}
}

func BenchmarkValidateMessage(b *testing.B) {
	mr, _ := Lookup(MessageReceived)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateEvent(MessageReceived, mr.Example); err != nil {
			b.Fatal(err)
		}
	}
}
