package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ThrottledError says how long this account and IP must wait before trying again.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; try again in %s", e.Wait.Round(time.Second))
}

// SignIn checks a password, throttled per account and IP, and starts a session in the
// user's first workspace. The page and the JSON API both sign in through here.
func (s *Service) SignIn(ctx context.Context, t *Throttle, email, password, ip, userAgent string) (token string, u User, err error) {
	key := strings.ToLower(strings.TrimSpace(email))
	if wait := t.Wait(key, ip); wait > 0 {
		return "", User{}, &ThrottledError{Wait: wait}
	}
	u, err = s.Authenticate(ctx, email, password)
	if errors.Is(err, ErrInvalidCredentials) {
		t.Fail(key, ip)
		return "", User{}, err
	}
	if err != nil {
		return "", User{}, err
	}
	t.Succeed(key, ip)
	ms, err := s.Memberships(ctx, u.ID)
	if err != nil {
		return "", User{}, err
	}
	ws := ""
	if len(ms) > 0 {
		ws = ms[0].WorkspaceID
	}
	token, err = s.CreateSession(ctx, u.ID, ws, ip, userAgent)
	return token, u, err
}
