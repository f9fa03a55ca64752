// Package apiclient is a minimal client of relaydesk's own JSON API, for the commands that
// drive a server they started (relaydesk demo, relaydesk bench): JSON in and out, a cookie
// jar for the session routes, and the platform token for the platform routes.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"
)

// Client talks to one server.
type Client struct {
	base  string
	hc    *http.Client
	token string // platform token, for the platform routes
}

// New returns a client of the server at base; token authenticates platform calls.
func New(base, token string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Error is a non-2xx answer.
type Error struct {
	Status int
	Body   string
}

func (e *Error) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Do sends in as JSON (when not nil) and decodes a 2xx answer into out (when not nil);
// platform adds the platform token. Other answers are an *Error.
func (c *Client) Do(ctx context.Context, method, path string, platform bool, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if platform {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &Error{res.StatusCode, strings.TrimSpace(string(b))})
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
