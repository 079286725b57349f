package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps/mcp"
	_ "github.com/secgpt-go/secgpt/apps/standard" // the bundled apps, as cmd/secgpt links them
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// The test binary registers the apps as cmd/secgpt does.
func init() { mcp.Register() }

func TestMain(m *testing.M) {
	if sandbox.IsChild() {
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(m.Run())
}

func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("model:\n  provder: openai\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		stdin    string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{name: "help", args: []string{"--help"}, wantCode: 0, wantErr: []string{"Commands:", "-config", "-vanilla"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantErr: []string{`unknown command "frobnicate"`}},
		{name: "config error names the key", args: []string{"--config", badCfg}, wantCode: 2, wantErr: []string{"provder"}},
		{name: "env error names the key", env: map[string]string{"SECGPT_SANDBOX": "maybe"}, wantCode: 2, wantErr: []string{"sandbox.mode"}},
		{name: "unknown app", env: map[string]string{"SECGPT_APPS": "quick_ride,nosuch"}, wantCode: 1, wantErr: []string{"apps.installed[1]", "nosuch"}},
		{name: "missing api key", env: map[string]string{"SECGPT_MODEL_PROVIDER": "openai", "SECGPT_MODEL": "gpt-4o-mini"}, wantCode: 2, wantErr: []string{"model.api_key"}},
		{name: "config masks secrets", args: []string{"config"}, env: map[string]string{"SLACK_BOT_TOKEN": "xoxb-secret"}, wantCode: 0, wantOut: []string{"bot_token: '***'"}},
		{name: "chat on embedded defaults", stdin: "quick_ride fare from 'Main Street' to 'Elm Avenue'\n1\n", wantCode: 0,
			wantOut: []string{"model:   offline demo model", "store:   bolt file", "spokes:  this binary", "[permission] Run this 1-step plan?", "1. quick_ride(end_point=Elm Avenue, start_point=Main Street) — reads only", "5) Review steps one by one", "$57.00"}},
		{name: "vanilla chat", args: []string{"--vanilla"}, stdin: "quick_ride fare from 'Main Street' to 'Elm Avenue'\n", wantCode: 0,
			wantOut: []string{"VanillaGPT baseline (NOT isolated", "$57.00"}},
		{name: "audit after nothing", args: []string{"audit", "--kind", "exec"}, wantCode: 0, wantOut: []string{"TIME"}},
		{name: "audit bad kind", args: []string{"audit", "--kind", "root"}, wantCode: 2, wantErr: []string{"--kind"}},
		{name: "doctor json", args: []string{"doctor", "--json"}, wantCode: 0, wantOut: []string{"{"}},
		{name: "eval usage", args: []string{"eval"}, wantCode: 2, wantErr: []string{"usage: secgpt eval case-studies"}},
		{name: "connect google on the terminal: loopback callback", stdin: "!connect google\n", wantCode: 0,
			env:     map[string]string{"SECGPT_GOOGLE_CLIENT_ID": "c1", "SECGPT_GOOGLE_TOKEN_KEY": "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="},
			wantOut: []string{"https://accounts.google.com/o/oauth2/auth?", "client_id=c1", "code_challenge_method=S256", "redirect_uri=http%3A%2F%2F127.0.0.1%3A"}},
		{name: "connect google not set up", stdin: "!connect google\n", wantCode: 0, wantOut: []string{"not set up"}},
		{name: "google token key unreadable", env: map[string]string{"SECGPT_GOOGLE_CLIENT_ID": "c1", "SECGPT_GOOGLE_TOKEN_KEY": "short"}, wantCode: 1, wantErr: []string{"google.token_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.stdin, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestEvalCaseStudiesJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "", nil, "eval", "case-studies", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	for _, r := range rows {
		for _, k := range []string{"case", "system", "attack_succeeded", "benign_answered", "evidence"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("row lacks %q: %v", k, r)
			}
		}
		if r["system"] == "SecGPT" && (r["attack_succeeded"] != false || r["benign_answered"] != true) {
			t.Errorf("SecGPT row: %v", r)
		}
		if r["system"] == "VanillaGPT" && r["attack_succeeded"] != true {
			t.Errorf("VanillaGPT row: %v", r)
		}
	}
}

func TestConfigMasksAppSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("apps:\n  settings:\n    search_gmail: {backend: gmail, access_token: ya29.secret}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECGPT_GOOGLE_CLIENT_ID": "client-id-1", "SECGPT_GOOGLE_CLIENT_SECRET": "GOCSPX-secret", "SECGPT_GOOGLE_TOKEN_KEY": "sealing-key-1"}
	code, out, errOut := runCLI(t, "", env, "--config", path, "config")
	if code != 0 || strings.Contains(out, "ya29.secret") || !strings.Contains(out, "search_gmail") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(out, "GOCSPX-secret") || strings.Contains(out, "sealing-key-1") || !strings.Contains(out, "client-id-1") {
		t.Fatalf("google secrets not masked: %q", out)
	}
}

func TestPermissionRules(t *testing.T) {
	rs, err := permissionRules([]map[string]string{{"deny": "collab:search_gmail->send_gmail_message"}, {"allow": "exec:get_*"}, {"ask": "send:*"}})
	if err != nil || len(rs) != 3 || rs[2].String() != "ask: send:*" {
		t.Fatalf("rules %v, %v", rs, err)
	}
	_, err = permissionRules([]map[string]string{{"allow": "exec:*"}, {"deny": "network:*"}})
	if err == nil || !strings.Contains(err.Error(), "permissions.rules[1]") {
		t.Fatalf("bad rule error = %v", err)
	}
}
