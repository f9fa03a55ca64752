// Package notify tells people when an endpoint's health changes (issue 11): it starts
// failing, is disabled by relaydesk (410 Gone, 5 days failing), or recovers.
//
// Each transition is
//   - stored in-app (the notifications table: Developer Tools lists them, the navigation
//     shows the unread count, members mark them read);
//   - emailed to the workspace's developer owners when SMTP is configured (the team
//     package's Mailer);
//   - sent to the platform as an operational webhook of its own
//     (RELAYDESK_PLATFORM_WEBHOOK_URL, signed with RELAYDESK_PLATFORM_WEBHOOK_SECRET exactly
//     like deliveries, through the guarded egress client).
//
// The delivery engine calls EndpointChanged after the transition committed; the row is
// written at once, email and webhook are sent in the background (best effort, logged).
package notify

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/webhook"
)

// Mailer sends one plain-text email (team.SMTP implements it).
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// Platform is the operator's own webhook for operational events.
type Platform struct {
	URL    string
	Secret webhook.Secret
	// Client is the guarded egress client (egress.Policy.Client).
	Client *http.Client
	// UserAgent, e.g. relaydesk/1.2.3.
	UserAgent string
}

// Service stores and sends notifications.
type Service struct {
	DB  *store.DB
	Log *slog.Logger
	// Mailer, when set, emails the workspace's developer owners.
	Mailer Mailer
	// PublicURL is the origin for links in emails (RELAYDESK_PUBLIC_URL); may be empty.
	PublicURL string
	// Platform, when set, gets every notification as a signed webhook.
	Platform *Platform
	Now      clock.Clock

	wg   sync.WaitGroup
	sem  chan struct{}
	once sync.Once
}

var _ delivery.Notifier = (*Service)(nil)

// Notification is one stored notification.
type Notification struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspaceId"`
	EndpointID  string     `json:"endpointId,omitempty"`
	Kind        string     `json:"kind"`
	Title       string     `json:"title"`
	Detail      string     `json:"detail,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	ReadAt      *time.Time `json:"readAt,omitempty"`
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// text is what a transition says, for people.
func text(t delivery.Transition, url string) (title, detail string) {
	switch t.Kind {
	case delivery.EndpointFailing:
		title = "Webhook endpoint is failing"
		detail = "Deliveries to " + url + " are failing"
		if t.Reason != "" {
			detail += ": " + t.Reason
		}
		detail += ". Each delivery is retried on the schedule (10 attempts over about 3 days), then marked failed; " +
			"if every attempt to this endpoint keeps failing for 5 days, relaydesk disables it. Recover resends failed deliveries once it is fixed."
	case delivery.EndpointRecovered:
		title = "Webhook endpoint recovered"
		detail = "Deliveries to " + url + " succeed again."
	case delivery.EndpointDisabled:
		title = "Webhook endpoint disabled"
		detail = "relaydesk disabled " + url
		if t.Reason != "" {
			detail += ": " + t.Reason
		}
		detail += ". Re-enable it on Developer Tools, then Recover to resend what failed."
	default:
		title = t.Kind
	}
	return title, detail
}

// EndpointChanged stores the notification and sends it on (delivery.Notifier).
func (s *Service) EndpointChanged(ctx context.Context, t delivery.Transition) {
	if _, err := s.Add(ctx, t); err != nil {
		s.log().Error("store notification", "workspace", t.WorkspaceID, "endpoint", t.EndpointID, "kind", t.Kind, "err", err)
	}
}

// Add stores a notification for t and starts sending it by email and platform webhook.
func (s *Service) Add(ctx context.Context, t delivery.Transition) (Notification, error) {
	var url string
	err := s.DB.QueryRow(ctx, `SELECT url FROM endpoints WHERE workspace_id = ? AND id = ?`, t.WorkspaceID, t.EndpointID).Scan(&url)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Notification{}, err
	}
	if url == "" {
		url = "endpoint " + t.EndpointID
	}
	if t.At.IsZero() {
		t.At = s.Now.Now()
	}
	n := Notification{ID: store.NewID(), WorkspaceID: t.WorkspaceID, EndpointID: t.EndpointID, Kind: t.Kind, CreatedAt: t.At.UTC()}
	n.Title, n.Detail = text(t, url)
	if _, err := s.DB.Exec(ctx, `INSERT INTO notifications (id, workspace_id, endpoint_id, kind, title, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.WorkspaceID, n.EndpointID, n.Kind, n.Title, n.Detail, store.Micros(n.CreatedAt)); err != nil {
		return n, err
	}
	s.log().Info("endpoint health changed", "workspace", t.WorkspaceID, "endpoint", t.EndpointID, "kind", t.Kind, "reason", t.Reason)
	if s.Mailer != nil || s.Platform != nil {
		s.background(func(ctx context.Context) {
			if s.Mailer != nil {
				s.email(ctx, n)
			}
			if s.Platform != nil {
				if err := s.Platform.Send(ctx, n, t.Reason); err != nil {
					s.log().Warn("platform webhook", "notification", n.ID, "err", err)
				}
			}
		})
	}
	return n, nil
}

// maxInFlight bounds the background sends (a flapping fleet must not start thousands).
const maxInFlight = 16

func (s *Service) background(f func(ctx context.Context)) {
	s.once.Do(func() { s.sem = make(chan struct{}, maxInFlight) })
	select {
	case s.sem <- struct{}{}:
	default:
		s.log().Warn("notification sends are backed up; dropping one email/webhook (the in-app notification is stored)")
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f(ctx)
	}()
}

// Wait waits for background sends to finish (tests, shutdown).
func (s *Service) Wait() { s.wg.Wait() }

// email sends n to every member whose role is owner of the developer feature.
func (s *Service) email(ctx context.Context, n Notification) {
	to, err := s.developerOwners(ctx, n.WorkspaceID)
	if err != nil {
		s.log().Warn("notification recipients", "workspace", n.WorkspaceID, "err", err)
		return
	}
	body := n.Detail + "\n"
	if s.PublicURL != "" {
		body += "\nDeveloper Tools: " + strings.TrimSuffix(s.PublicURL, "/") + "/settings/developer\n"
	}
	for _, addr := range to {
		if err := s.Mailer.Send(ctx, addr, "relaydesk: "+n.Title, body); err != nil {
			s.log().Warn("notification email", "notification", n.ID, "err", err)
		}
	}
}

func (s *Service) developerOwners(ctx context.Context, workspaceID string) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT u.email, r.levels FROM members m JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id
		WHERE m.workspace_id = ? ORDER BY u.email`, workspaceID)
	var out []string
	err = store.Each(rows, err, func(r store.Scanner) error {
		var email, levels string
		if err := r.Scan(&email, &levels); err != nil {
			return err
		}
		if ls, err := access.DecodeLevels(levels); err == nil && ls.Of(access.Developer) >= access.Owner {
			out = append(out, email)
		}
		return nil
	})
	return out, err
}

// OperationalEvent is the body of the platform webhook.
type OperationalEvent struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"` // "OperationalEvent"
	Type        string    `json:"type"`   // endpoint.failing | endpoint.disabled | endpoint.recovered
	WorkspaceID string    `json:"workspaceId"`
	EndpointID  string    `json:"endpointId,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Title       string    `json:"title"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Send posts n to the platform webhook, signed like a delivery (webhook-id is the
// notification id). Any 2xx is success; nothing is retried.
func (p *Platform) Send(ctx context.Context, n Notification, reason string) error {
	body, err := json.Marshal(OperationalEvent{ID: n.ID, Object: "OperationalEvent", Type: n.Kind, WorkspaceID: n.WorkspaceID,
		EndpointID: n.EndpointID, Reason: reason, Title: n.Title, CreatedAt: n.CreatedAt})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.UserAgent)
	req.Header.Set("X-MessageDesk-Event", "OperationalEvent."+n.Kind)
	webhook.Sign(req.Header, n.ID, time.Now(), body, p.Secret)
	res, err := p.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("platform webhook answered HTTP %d", res.StatusCode)
	}
	return nil
}

// List returns the workspace's latest notifications, newest first.
func (s *Service) List(ctx context.Context, workspaceID string, limit int) ([]Notification, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	rows, err := s.DB.Query(ctx, `SELECT id, workspace_id, endpoint_id, kind, title, detail, created_at, read_at FROM notifications
		WHERE workspace_id = ? ORDER BY id DESC LIMIT ?`, workspaceID, limit)
	return store.Collect(rows, err, func(r store.Scanner) (Notification, error) {
		var n Notification
		var created int64
		var read sql.NullInt64
		err := r.Scan(&n.ID, &n.WorkspaceID, &n.EndpointID, &n.Kind, &n.Title, &n.Detail, &created, &read)
		n.CreatedAt, n.ReadAt = store.Time(created), store.NullTime(read)
		return n, err
	})
}

// Unread counts the workspace's unread notifications.
func (s *Service) Unread(ctx context.Context, workspaceID string) (int, error) {
	var n int
	err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE workspace_id = ? AND read_at IS NULL`, workspaceID).Scan(&n)
	return n, err
}

// MarkRead marks one notification (id) or all of them (id == "") read.
func (s *Service) MarkRead(ctx context.Context, workspaceID, id string) error {
	q := `UPDATE notifications SET read_at = ? WHERE workspace_id = ? AND read_at IS NULL`
	args := []any{store.Micros(s.Now.Now()), workspaceID}
	if id != "" {
		q += ` AND id = ?`
		args = append(args, id)
	}
	_, err := s.DB.Exec(ctx, q, args...)
	return err
}
