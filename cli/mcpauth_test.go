package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/apps/mcp/authfake"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// logTail collects the log, for the operator's sign-in link.
type logTail struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var linkRE = regexp.MustCompile(`https?://[^\s"]+/authorize\?[^\s"]+`)

// TestMCPServerWithOAuth: a remote MCP server that needs its users'
// tokens (the tests' own authorization server and MCP server, reached from
// a real sandboxed spoke through the egress proxy on a private address
// the operator opened). At start it is left out until the operator signs
// in, with the link in the log; after a restart its tools are listed with
// the operator's token. A chat user's first call answers with a sign-in
// link of their own; after it, the server sees that user's token, and
// another user's call gets a link, not that token.
func TestMCPServerWithOAuth(t *testing.T) {
	fake := authfake.Start()
	defer fake.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "store: {path: " + filepath.Join(dir, "s.db") + "}\nsandbox: {pool: 0}\napps:\n  installed: [quick_ride]\n" +
		"mcp:\n  token_key: " + strings.Repeat("cd", 32) + "\n  servers:\n    remote:\n      url: " + fake.ResourceURL +
		"\n      oauth: true\n      private_networks: [127.0.0.1]\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &logTail{}
	d, err := build(ctx, cfg, slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil)))
	if err != nil {
		if os.Getenv("CI") != "true" && strings.Contains(err.Error(), "sandbox") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if has(d.apps, "mcp.remote") {
		t.Fatal("the server was installed without anyone's sign-in")
	}
	link := linkRE.FindString(logs.String())
	if link == "" {
		d.Close()
		t.Fatalf("no sign-in link for the operator in the log:\n%s", logs)
	}
	if code, body := browseAs(t, link, "operator"); code != http.StatusOK {
		t.Fatalf("operator's sign-in: %d %s", code, body)
	}
	d.Close()

	logs2 := &logTail{}
	d, err = build(ctx, cfg, slog.New(slog.NewTextHandler(logs2, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !has(d.apps, "mcp.remote") {
		t.Fatalf("after the operator's sign-in the server is still left out: %v\n%s", d.apps, logs2)
	}
	alice := &scripted.Conversation{A: d.Assistant, User: "test:alice", Policy: scripted.AllowPlanned}
	reply := alice.Send(ctx, "Use mcp.remote to tell me whoami")
	link = linkRE.FindString(reply)
	if link == "" || strings.Contains(reply, "you are") {
		t.Fatalf("alice's first call: %q, want a sign-in link", reply)
	}
	if code, body := browseAs(t, link, "alice"); code != http.StatusOK {
		t.Fatalf("alice's sign-in: %d %s", code, body)
	}
	if reply := alice.Send(ctx, "Use mcp.remote to tell me whoami"); !strings.Contains(reply, "you are alice") {
		t.Fatalf("alice's call after signing in: %q", reply)
	}
	bob := &scripted.Conversation{A: d.Assistant, User: "test:bob", Policy: scripted.AllowPlanned}
	if reply := bob.Send(ctx, "Use mcp.remote to tell me whoami"); strings.Contains(reply, "you are") || linkRE.FindString(reply) == "" {
		t.Fatalf("bob's call: %q, want a link of his own", reply)
	}
}

func has(list []ids.AppID, a ids.AppID) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func browseAs(t *testing.T, link, account string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set(authfake.AccountHeader, account)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMCPConnectCommand: "!connect mcp.remote" gives a sign-in link for
// that server (not Google's words), and "!disconnect mcp.remote" signs
// out; the account mux sends "google" elsewhere.
func TestMCPConnectCommand(t *testing.T) {
	fake := authfake.Start()
	defer fake.Close()
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "s.db")
	cfg.Sandbox.Mode = "off"
	cfg.Apps.Installed = []string{"quick_ride"}
	cfg.MCP.TokenKey = strings.Repeat("cd", 32)
	cfg.MCP.Servers = map[string]config.MCPServer{"remote": {URL: fake.ResourceURL, OAuth: true, PrivateNetworks: []string{"127.0.0.1"}}}
	d, err := build(context.Background(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := &scripted.Conversation{A: d.Assistant, User: "test:alice"}
	reply := c.Send(context.Background(), "!connect mcp.remote")
	if !strings.Contains(reply, "sign in to mcp.remote") || strings.Contains(reply, "Google") || linkRE.FindString(reply) == "" {
		t.Fatalf("connect: %q", reply)
	}
	if code, _ := browseAs(t, linkRE.FindString(reply), "alice"); code != http.StatusOK {
		t.Fatalf("sign-in: %d", code)
	}
	if reply := c.Send(context.Background(), "!disconnect mcp.remote"); !strings.Contains(reply, "signed out of mcp.remote") {
		t.Fatalf("disconnect: %q", reply)
	}
	if reply := c.Send(context.Background(), "!connect google"); !strings.Contains(reply, "only google can be connected") && !strings.Contains(reply, "can't link") {
		t.Errorf("google without a Google client: %q", reply)
	}
}

// TestMCPAuthPreRegisteredClient: a server's oauth_client_id, secret
// reference and issuer reach the sign-in flow, which then signs users in
// as that client without registering; a secret that cannot be resolved
// stops the start naming the key and where it was looked for, not a
// value.
func TestMCPAuthPreRegisteredClient(t *testing.T) {
	fake := authfake.Start()
	defer fake.Close()
	fake.SetMutate(func(kind string, doc map[string]any) {
		if kind == "authorization" {
			delete(doc, "registration_endpoint")
			doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
		}
	})
	tests := []struct {
		name, env, err string
	}{
		{"resolved", "pre-secret-value", ""},
		{"unset", "", "mcp.servers.remote.oauth_client_secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SECGPT_TEST_OAUTH_SECRET", tc.env)
			var cfg config.Config
			cfg.MCP.TokenKey = strings.Repeat("cd", 32)
			cfg.MCP.Servers = map[string]config.MCPServer{"remote": {URL: fake.ResourceURL, OAuth: true, PrivateNetworks: []string{"127.0.0.1"},
				OAuthClientID: "pre-client", OAuthClientSecret: config.Secret{Env: "SECGPT_TEST_OAUTH_SECRET"}, OAuthIssuer: fake.Issuer}}
			logs := &logTail{}
			d := &deployment{log: slog.New(slog.NewTextHandler(logs, nil))}
			defer d.Close()
			m, err := newMCPAuth(cfg, d, memstore.New(memstore.Options{}), d.log)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "SECGPT_TEST_OAUTH_SECRET") {
					t.Fatalf("err %v, want one naming %s and the variable", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			link, err := m.ConnectURL(context.Background(), "mcp.remote", "test:alice", "")
			if err != nil {
				t.Fatalf("consent link: %v\n%s", err, logs)
			}
			if u, _ := url.Parse(link); u.Query().Get("client_id") != "pre-client" || fake.Registrations() != 0 {
				t.Fatalf("link %s after %d registrations", link, fake.Registrations())
			}
			if strings.Contains(logs.String(), tc.env) {
				t.Fatal("the client secret is in the log")
			}
		})
	}
}
