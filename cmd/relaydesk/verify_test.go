package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	kaVerifySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	kaVerifyBody   = `{"test": 2432232314}`
)

func runVerifyCmd(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	cmd := newVerifyCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	return out.String(), code, err
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(kaVerifyBody), 0o600); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(tampered, []byte(`{"test": 2432232315}`), 0o600); err != nil {
		t.Fatal(err)
	}
	headerFile := filepath.Join(dir, "headers.txt")
	if err := os.WriteFile(headerFile, []byte("POST /hook HTTP/1.1\r\nwebhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\nWebhook-Timestamp: 1614265330\r\n"+
		"webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	std := []string{
		"-H", "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
		"--header", "webhook-timestamp: 1614265330",
		"--header", "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	}
	md := []string{"--header", "X-MessageDesk-Signature: gOyKic480iEzoQZsrstNBP6nRnZXyFFNcX7ELDilyUw="}
	other := "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"standard vector", append([]string{"--secret", kaVerifySecret, "--body-file", body, "--at", "1614265330"}, std...), 0, "valid: Standard Webhooks, secret #1"},
		{"rotation: second secret", append([]string{"--secret", other, "--secret", kaVerifySecret, "--body-file", body, "--at", "2021-02-25T15:04:00Z"}, std...), 0, "secret #2"},
		{"header file", []string{"--secret", kaVerifySecret, "--body-file", body, "--at", "1614265330", "--header-file", headerFile}, 0, "valid"},
		{"messagedesk vector", append([]string{"--secret", kaVerifySecret, "--body-file", body}, md...), 0, "no replay protection"},
		{"messagedesk, standard only", append([]string{"--secret", kaVerifySecret, "--body-file", body, "--standard-only"}, md...), 1, "missing signature headers"},
		{"expired", append([]string{"--secret", kaVerifySecret, "--body-file", body}, std...), 1, "timestamp too old"},
		{"future", append([]string{"--secret", kaVerifySecret, "--body-file", body, "--at", "1614265000"}, std...), 1, "too far in the future"},
		{"tampered body", append([]string{"--secret", kaVerifySecret, "--body-file", tampered, "--at", "1614265330"}, std...), 1, "no matching signature"},
		{"wrong secret", append([]string{"--secret", other, "--body-file", body, "--at", "1614265330"}, std...), 1, "no matching signature"},
		{"no headers", []string{"--secret", kaVerifySecret, "--body-file", body}, 1, "missing signature headers"},
		{"no secret", []string{"--body-file", body}, 2, "--secret is required"},
		{"bad secret", []string{"--secret", "whsec_nope", "--body-file", body}, 2, "invalid signing secret"},
		{"no body", []string{"--secret", kaVerifySecret}, 2, "--body-file is required"},
		{"bad header", []string{"--secret", kaVerifySecret, "--body-file", body, "-H", "no colon"}, 2, "not of the form"},
		{"unknown flag", []string{"--nope"}, 2, "unknown flag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(webhookSecretEnv, "")
			out, code, err := runVerifyCmd(t, c.args...)
			msg := out
			if err != nil {
				msg += err.Error()
			}
			if code != c.code || !strings.Contains(msg, c.want) {
				t.Fatalf("exit %d, output %q; want exit %d containing %q", code, msg, c.code, c.want)
			}
		})
	}

	t.Run("secret from the environment, body from stdin", func(t *testing.T) {
		t.Setenv(webhookSecretEnv, kaVerifySecret)
		cmd := newVerifyCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetIn(strings.NewReader(kaVerifyBody))
		cmd.SetArgs(append([]string{"--body-file", "-", "--at", "1614265330"}, std...))
		if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "valid") {
			t.Fatalf("%v %q", err, out.String())
		}
	})
}
