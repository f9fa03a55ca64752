package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/store"
)

// MaxExcerpt is how much of a test-send's response body is shown.
const MaxExcerpt = 2 << 10

// TestResult is what "Send test event" shows.
type TestResult struct {
	EventID         string `json:"eventId" doc:"The TestEvent's id, sent as webhook-id."`
	OK              bool   `json:"ok" doc:"The receiver answered 2xx."`
	Status          int    `json:"status" doc:"HTTP status of the answer; 0 when none came."`
	DurationMs      int64  `json:"durationMs"`
	ResponseExcerpt string `json:"responseExcerpt" doc:"The start of the response body (at most 2 KiB)."`
	Error           string `json:"error,omitempty" doc:"Why no answer came: timeout, refused address, connection error."`
}

// TestSend signs a TestEvent with the workspace's secrets (both during a grace window) and
// POSTs it to the endpoint through the guarded client, once, without retrying and without
// recording a delivery. The endpoint may be disabled (so it can be checked before it is
// re-enabled). ErrNoSecret when the workspace has no signing secret.
func (s *Service) TestSend(ctx context.Context, workspaceID, endpointID string) (TestResult, error) {
	e, err := s.Get(ctx, workspaceID, endpointID)
	if err != nil {
		return TestResult{}, err
	}
	// Read fresh rather than from the cache: the member may have just rotated elsewhere.
	cs, err := s.loadSecrets(ctx, workspaceID)
	if err != nil {
		return TestResult{}, err
	}
	now := s.now()
	secrets := cs.active(now)
	if len(secrets) == 0 {
		return TestResult{}, ErrNoSecret
	}
	env := event.Envelope{ID: store.NewID(), Name: event.TestEvent, WorkspaceID: workspaceID, CreatedAt: now,
		DataType: event.DataTypeTestEvent, Data: []byte(event.TestEventData)}
	res := s.Sender.Send(ctx, delivery.Request{URL: e.URL, EventID: env.ID, EventName: env.Name,
		DeliveryID: "test_" + store.NewID(), Attempt: 1, Body: event.Encode(env), Secrets: secrets, Keys: cs.activeKeys(now), Now: now})
	out := TestResult{EventID: env.ID, Status: res.Status, DurationMs: res.Duration.Milliseconds(),
		OK: res.Err == nil && res.Status >= 200 && res.Status < 300, ResponseExcerpt: excerpt(res.ResponseBody)}
	if res.Err != nil {
		out.Error = describeSendError(res.Err, s.Sender.Client.Timeout)
	}
	return out, nil
}

func excerpt(b []byte) string {
	if len(b) > MaxExcerpt {
		b = b[:MaxExcerpt]
		for len(b) > 0 && !utf8.Valid(b) && len(b) > MaxExcerpt-utf8.UTFMax {
			b = b[:len(b)-1]
		}
	}
	return store.Text(string(b))
}

// describeSendError words a transport failure for the person who pressed the button.
func describeSendError(err error, timeout time.Duration) string {
	switch {
	case egress.IsBlocked(err):
		var ae *egress.AddrError
		if errors.As(err, &ae) {
			return "refused: the host now resolves to " + ae.Error()
		}
	case delivery.IsTimeout(err):
		if timeout > 0 {
			return fmt.Sprintf("the receiver did not answer within %s", timeout)
		}
		return "the receiver did not answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
