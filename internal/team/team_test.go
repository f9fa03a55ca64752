package team_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/team"
	"github.com/relaydesk/relaydesk/internal/team/teamtest"
)

// Two Admins demoting each other at the same moment: one wins, the other is refused as
// the last Admin — the count is taken with the workspace row locked.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		ws.AddMember("second@example.test", "Admin", nil)
		svc := env.App.Team
		ms, err := svc.Members(ctx, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		roles, err := svc.Roles(ctx, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		var manager string
		for _, r := range roles {
			if r.Name == access.RoleManager {
				manager = r.ID
			}
		}
		principal := func(m team.Member) *access.Principal {
			return &access.Principal{UserID: m.UserID, Email: m.Email, WorkspaceID: ws.ID, RoleID: m.RoleID, RoleName: m.RoleName, Levels: m.Levels, Via: "session"}
		}
		a, b := ms[0], ms[1]
		for round := 0; round < 5; round++ {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, pair := range [][2]team.Member{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := principal(pair[0])
					_, errs[i] = svc.ChangeRole(access.With(ctx, p), p, pair[1].UserID, manager)
				}()
			}
			wg.Wait()
			n := 0
			for _, m := range must(svc.Members(ctx, ws.ID)) {
				if m.IsAdmin() {
					n++
				}
			}
			if n != 1 || (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("round %d: %d Admins left, errors %v", round, n, errs)
			}
			// Make both Admins again for the next round.
			for _, m := range must(svc.Members(ctx, ws.ID)) {
				if !m.IsAdmin() {
					if _, err := env.DB().Exec(ctx, `UPDATE members SET role_id = ? WHERE user_id = ?`, a.RoleID, m.UserID); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestParseSMTP(t *testing.T) {
	m, err := team.ParseSMTP("smtp://user:p%40ss@mail.example.com:2525", "Relaydesk <noreply@example.com>")
	if err != nil || m.Addr != "mail.example.com:2525" || m.Username != "user" || m.Password != "p@ss" || m.From != "noreply@example.com" || m.ImplicitTLS {
		t.Fatalf("%+v %v", m, err)
	}
	if m, err := team.ParseSMTP("smtps://mail.example.com", "a@example.com"); err != nil || m.Addr != "mail.example.com:465" || !m.ImplicitTLS {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"http://mail.example.com", "smtp://", "::"} {
		if _, err := team.ParseSMTP(bad, "a@example.com"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := team.ParseSMTP("smtp://h", "not an address"); err == nil {
		t.Error("bad From accepted")
	}
}

// Header values cannot be split into new headers by a workspace name or address.
func TestSMTPMessageHeaders(t *testing.T) {
	m := &team.SMTP{From: "noreply@example.com"}
	msg := string(m.Message("ana@example.com", "Join Acme\r\nBcc: evil@example.com", "line1\nline2", time.Unix(0, 0)))
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Fatalf("header injected:\n%s", msg)
		}
	}
	if body != "line1\r\nline2" {
		t.Fatalf("body %q", body)
	}
}

func TestSMTPSendsThroughFakeServer(t *testing.T) {
	srv := teamtest.NewSMTP(t)
	m, err := team.ParseSMTP("smtp://"+srv.Addr, "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Send(ctx, "ana@example.com", "Hello", "Hi.\n.\nA line that is a dot."); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].To != "ana@example.com" || got[0].From != "noreply@example.com" || !strings.Contains(got[0].Data, "Subject: Hello") ||
		!strings.Contains(got[0].Data, "\n.\n") {
		t.Fatalf("%+v", got)
	}
}
