// Package endpoint owns a workspace's webhook endpoints and its signing secret: saving
// endpoints under the egress address policy, generating, revealing and rotating the secret
// (stored AES-256-GCM encrypted under the master key), sending a test event, and answering
// the delivery engine's per-delivery lookups (Service implements delivery.Targets).
//
// Every method takes the workspace id explicitly and every query filters on it; the acting
// user for the audit log comes from the access.Principal in ctx.
package endpoint

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// MaxPerWorkspace is how many endpoints one workspace may have. Relays point at endpoints
// by id; twenty leaves room for staging/production/Zapier-style splits without letting one
// workspace fan every event out to an unbounded list.
const MaxPerWorkspace = 20

// MaxDescription is the longest endpoint description, in characters.
const MaxDescription = 500

// Orderings of an endpoint's deliveries.
const (
	OrderingNone = "none"
	OrderingFIFO = "fifo"
)

// MaxRate is the highest maxPerSecond: above it a limit is no protection a receiver needs,
// and slots would be finer than the engine's timers.
const MaxRate = 10000

// Endpoint is a URL that receives a workspace's webhooks.
type Endpoint struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	URL         string `json:"url"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	// DisabledReason says why relaydesk disabled the endpoint (410 Gone, failing for 5
	// days); empty while enabled or when a member disabled it.
	DisabledReason string `json:"disabledReason"`
	// Refused says why the current address policy refuses URL (it was saved while private
	// endpoints were allowed, say); empty when the URL may be reached. Deliveries to a
	// refused endpoint are skipped or cancelled with this reason, never retried.
	Refused string `json:"refused,omitempty" doc:"Why the server's current address policy refuses this URL (deliveries are skipped, not retried); absent when the URL is allowed."`
	// Ordering fifo: one delivery at a time, in publish order; a retrying delivery holds
	// the ones behind it back (delivery/fifo.go).
	Ordering string `json:"ordering" enum:"none,fifo" doc:"none: deliveries go in parallel (default). fifo: one at a time, in the order events were published; a delivery that is retrying holds back the ones behind it until it succeeds, fails for good or is skipped."`
	// MaxPerSecond caps sends to the endpoint across all instances; 0 is no limit.
	MaxPerSecond int       `json:"maxPerSecond" minimum:"0" maximum:"10000" doc:"At most this many deliveries per second, across all relaydesk instances; 0 means no limit. Deliveries over the limit wait (status throttled) without using up an attempt."`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Errors the API and pages map to their own answers.
var (
	ErrLimit        = fmt.Errorf("a workspace can have at most %d endpoints; delete one first", MaxPerWorkspace)
	ErrSecretExists = errors.New("this workspace already has a signing secret; reveal or rotate it instead")
	ErrNoSecret     = errors.New("this workspace has no signing secret yet; generate one first")
	ErrConflict     = errors.New("the signing secret changed while rotating; try again")
)

// IsConflict reports whether err is a refusal because of the workspace's current state (a
// limit reached, a secret or key pair that exists or does not, a concurrent rotation): the
// API answers 409 and the pages show the message.
func IsConflict(err error) bool {
	for _, c := range []error{ErrLimit, ErrSecretExists, ErrConflict, ErrKeyExists, ErrNoKey, ErrKeyConflict} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// Service is endpoints and the signing secret of every workspace.
type Service struct {
	DB *store.DB
	// Sender sends test events; its client must be the policy's guarded client.
	Sender *delivery.Sender
	// CacheTTL bounds how stale a Target lookup may be in a process that did not make the
	// change itself (see Target). Zero means DefaultCacheTTL.
	CacheTTL time.Duration

	policy atomic.Pointer[egress.Policy] // save-time URL checks; see SetPolicy
	clock  atomic.Pointer[clock.Clock]   // nil: the wall clock; see SetClock
	sealer *sealer
	cache  targetCache
	// Queue lets an endpoint's waiting deliveries go when it stops delivering in order;
	// the delivery engine (app wires it).
	Queue interface {
		ReleaseOrder(ctx context.Context, tx *store.Tx, endpointID string) error
	}
}

// DefaultCacheTTL is how long Target lookups are served from memory.
const DefaultCacheTTL = 5 * time.Second

// New returns the service. masterKey is the 32-byte key that encrypts signing secrets.
func New(db *store.DB, masterKey []byte, policy egress.Policy, sender *delivery.Sender) (*Service, error) {
	s, err := newSealer(masterKey)
	if err != nil {
		return nil, err
	}
	svc := &Service{DB: db, Sender: sender, sealer: s}
	svc.SetPolicy(policy)
	return svc, nil
}

// SetPolicy replaces the save-time address policy (tests inject a Resolver). It does not
// change the Sender's client, which enforces the policy it was built with at dial time.
// Cached endpoints are dropped: whether the policy refuses their URL is decided again.
func (s *Service) SetPolicy(p egress.Policy) {
	s.policy.Store(&p)
	s.cache.endpoints.clear()
}

// SetClock replaces the clock (tests move through grace windows with it); nil restores
// time.Now. It also dates test events and their webhook-timestamp.
func (s *Service) SetClock(now clock.Clock) {
	if now == nil {
		s.clock.Store(nil)
		return
	}
	s.clock.Store(&now)
}

// now reads the clock through an atomic pointer: tests swap it while workers run.
func (s *Service) now() time.Time {
	var c clock.Clock
	if p := s.clock.Load(); p != nil {
		c = *p
	}
	return c.Now()
}

// Input is what a member sets on an endpoint.
type Input struct {
	URL          string
	Description  string
	Enabled      bool
	Ordering     string // "" is none
	MaxPerSecond int
}

// Patch changes some fields of an endpoint; nil fields stay as they are.
type Patch struct {
	URL          *string
	Description  *string
	Enabled      *bool
	Ordering     *string
	MaxPerSecond *int
}

func checkOrdering(o string) (string, error) {
	switch o {
	case "", OrderingNone:
		return OrderingNone, nil
	case OrderingFIFO:
		return o, nil
	}
	return "", &input.Error{Field: "ordering", Reason: `ordering must be "none" or "fifo"`, Value: o}
}

func checkRate(n int) error {
	if n < 0 || n > MaxRate {
		return &input.Error{Field: "maxPerSecond", Reason: fmt.Sprintf("maxPerSecond must be between 0 (no limit) and %d", MaxRate), Value: n}
	}
	return nil
}

// PrivateHint ends a refusal of an http:// or private URL: the one way to reach a receiver
// on one's own machine is a server flag, which a newcomer cannot guess.
const PrivateHint = " (a receiver on your own machine, such as relaydesk listen on http://127.0.0.1:9000, needs the server started with --allow-private-endpoints, for development only)"

// checkURL applies the save-time address policy and returns the normalised URL.
func (s *Service) checkURL(ctx context.Context, raw string) (string, error) {
	u, err := s.policy.Load().CheckURL(ctx, raw)
	if err != nil {
		var ue *egress.URLError
		if errors.As(err, &ue) {
			v := raw
			if len(v) > 256 {
				v = v[:256] + "…"
			}
			msg := ue.Reason
			if p := s.policy.Load(); !p.AllowPrivate && (errors.Is(err, egress.ErrBlocked) || strings.HasPrefix(strings.ToLower(strings.TrimSpace(raw)), "http://")) {
				msg += PrivateHint
			}
			return "", &input.Error{Field: "url", Reason: msg, Value: v}
		}
		return "", err
	}
	return u.String(), nil
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !utf8.ValidString(d) {
		return "", &input.Error{Field: "description", Reason: "the description is not valid UTF-8 text"}
	}
	for _, r := range d {
		if r < ' ' || r == 0x7f {
			return "", &input.Error{Field: "description", Reason: "the description must not contain control characters (line breaks, tabs, NUL)"}
		}
	}
	if n := utf8.RuneCountInString(d); n > MaxDescription {
		return "", &input.Error{Field: "description", Reason: fmt.Sprintf("the description is %d characters long; the limit is %d", n, MaxDescription)}
	}
	return d, nil
}

// auditURL is the URL as the audit log keeps it: without its query string, which receivers
// sometimes use for tokens.
func auditURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

const endpointCols = `id, workspace_id, url, description, enabled, disabled_reason, created_at, updated_at, ordering, max_per_second`

func scanEndpoint(sc store.Scanner) (Endpoint, error) {
	var e Endpoint
	var created, updated int64
	err := sc.Scan(&e.ID, &e.WorkspaceID, &e.URL, &e.Description, &e.Enabled, &e.DisabledReason, &created, &updated, &e.Ordering, &e.MaxPerSecond)
	if errors.Is(err, sql.ErrNoRows) {
		return e, store.ErrNotFound
	}
	e.CreatedAt, e.UpdatedAt = store.Time(created), store.Time(updated)
	return e, err
}

// List returns the workspace's endpoints, oldest first.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Endpoint, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE workspace_id = ? ORDER BY id`, workspaceID)
	out, err := store.Collect(rows, err, scanEndpoint)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Refused = s.refusal(ctx, out[i].URL)
	}
	return out, nil
}

// Get returns one endpoint of the workspace, or store.ErrNotFound.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Endpoint, error) {
	e, err := scanEndpoint(s.DB.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if err == nil {
		e.Refused = s.refusal(ctx, e.URL)
	}
	return e, err
}

// refusalTimeout bounds the DNS lookup of a refusal check.
const refusalTimeout = 2 * time.Second

// refusal is why the current address policy refuses a saved URL, or "" when it does not.
// A lookup that fails or times out is not a refusal: the host may answer later, and the
// dial-time check still guards the attempt.
func (s *Service) refusal(ctx context.Context, raw string) string {
	ctx, cancel := context.WithTimeout(ctx, refusalTimeout)
	defer cancel()
	_, err := s.policy.Load().CheckURL(ctx, raw)
	var ue *egress.URLError
	var dnsErr *net.DNSError
	switch {
	case err == nil, !errors.As(err, &ue), errors.As(err, &dnsErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ""
	}
	return ue.Reason
}

func getTx(ctx context.Context, tx *store.Tx, workspaceID, id string) (Endpoint, error) {
	return scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

// Create saves a new endpoint after checking its URL (which may resolve its host name).
func (s *Service) Create(ctx context.Context, workspaceID string, in Input) (Endpoint, error) {
	u, err := s.checkURL(ctx, in.URL)
	if err != nil {
		return Endpoint{}, err
	}
	d, err := checkDescription(in.Description)
	if err != nil {
		return Endpoint{}, err
	}
	ordering, err := checkOrdering(in.Ordering)
	if err != nil {
		return Endpoint{}, err
	}
	if err := checkRate(in.MaxPerSecond); err != nil {
		return Endpoint{}, err
	}
	now := s.now()
	e := Endpoint{ID: store.NewID(), WorkspaceID: workspaceID, URL: u, Description: d, Enabled: in.Enabled, Ordering: ordering, MaxPerSecond: in.MaxPerSecond,
		CreatedAt: store.Time(store.Micros(now)), UpdatedAt: store.Time(store.Micros(now))}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM endpoints WHERE workspace_id = ?`, workspaceID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxPerWorkspace {
			return ErrLimit
		}
		if _, err := tx.Exec(ctx, `INSERT INTO endpoints (`+endpointCols+`) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?)`,
			e.ID, workspaceID, e.URL, e.Description, e.Enabled, store.Micros(now), store.Micros(now), e.Ordering, e.MaxPerSecond); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "endpoint.create", "endpoint", e.ID,
			map[string]any{"url": auditURL(e.URL), "enabled": e.Enabled, "ordering": e.Ordering, "maxPerSecond": e.MaxPerSecond})
	})
	return e, err
}

// Update changes an endpoint. Enabling it clears its disabled reason.
func (s *Service) Update(ctx context.Context, workspaceID, id string, p Patch) (Endpoint, error) {
	var newURL, newDesc string
	var err error
	if p.URL != nil {
		if newURL, err = s.checkURL(ctx, *p.URL); err != nil {
			return Endpoint{}, err
		}
	}
	if p.Description != nil {
		if newDesc, err = checkDescription(*p.Description); err != nil {
			return Endpoint{}, err
		}
	}
	var newOrdering string
	if p.Ordering != nil {
		if newOrdering, err = checkOrdering(*p.Ordering); err != nil {
			return Endpoint{}, err
		}
	}
	if p.MaxPerSecond != nil {
		if err := checkRate(*p.MaxPerSecond); err != nil {
			return Endpoint{}, err
		}
	}
	var out Endpoint
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		e, err := getTx(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		detail := map[string]any{}
		changed := []string{}
		if p.URL != nil && newURL != e.URL {
			detail["fromUrl"], detail["url"] = auditURL(e.URL), auditURL(newURL)
			e.URL = newURL
			changed = append(changed, "url")
		}
		if p.Description != nil && newDesc != e.Description {
			e.Description = newDesc
			changed = append(changed, "description")
		}
		if p.Enabled != nil && (*p.Enabled != e.Enabled || (*p.Enabled && e.DisabledReason != "")) {
			detail["enabled"] = *p.Enabled
			if e.DisabledReason != "" {
				detail["clearedReason"] = e.DisabledReason
			}
			e.Enabled = *p.Enabled
			e.DisabledReason = ""
			changed = append(changed, "enabled")
		}
		if p.Ordering != nil && newOrdering != e.Ordering {
			detail["fromOrdering"], detail["ordering"] = e.Ordering, newOrdering
			if e.Ordering == OrderingFIFO && s.Queue != nil {
				if err := s.Queue.ReleaseOrder(ctx, tx, id); err != nil {
					return err
				}
			}
			e.Ordering = newOrdering
			changed = append(changed, "ordering")
		}
		if p.MaxPerSecond != nil && *p.MaxPerSecond != e.MaxPerSecond {
			detail["fromMaxPerSecond"], detail["maxPerSecond"] = e.MaxPerSecond, *p.MaxPerSecond
			e.MaxPerSecond = *p.MaxPerSecond
			changed = append(changed, "maxPerSecond")
		}
		if len(changed) == 0 {
			out = e
			return nil
		}
		detail["changed"] = changed
		now := s.now()
		e.UpdatedAt = store.Time(store.Micros(now))
		if _, err := tx.Exec(ctx, `UPDATE endpoints SET url = ?, description = ?, enabled = ?, disabled_reason = ?, updated_at = ?, ordering = ?, max_per_second = ?
			WHERE workspace_id = ? AND id = ?`, e.URL, e.Description, e.Enabled, e.DisabledReason, store.Micros(now), e.Ordering, e.MaxPerSecond, workspaceID, id); err != nil {
			return err
		}
		out = e
		return audit.Record(ctx, tx, workspaceID, "endpoint.update", "endpoint", id, detail)
	})
	s.cache.endpoints.forget(endpointKey{workspaceID, id})
	return out, err
}

// Delete removes an endpoint.
func (s *Service) Delete(ctx context.Context, workspaceID, id string) error {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		e, err := getTx(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM endpoints WHERE workspace_id = ? AND id = ?`, workspaceID, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "endpoint.delete", "endpoint", id, map[string]any{"url": auditURL(e.URL)})
	})
	s.cache.endpoints.forget(endpointKey{workspaceID, id})
	return err
}
