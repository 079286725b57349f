package connect

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps/mcp/authfake"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

const preSecret = "pre-registered-secret-7f3a"

// syncBuffer is a log sink the callback's goroutine may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noRegistration makes the fake's authorization server offer no dynamic
// client registration and list methods as its token endpoint's.
func noRegistration(methods ...string) func(kind string, doc map[string]any) {
	return func(kind string, doc map[string]any) {
		if kind == "authorization" {
			delete(doc, "registration_endpoint")
			doc["token_endpoint_auth_methods_supported"] = methods
		}
	}
}

// TestMCPPreRegisteredClient: with a client registered beforehand the hub
// never registers; it signs the user in, refreshes and revokes as that
// client, authenticating as the authorization server lists, and keeps the
// client secret out of the consent link, the users' records, the spoke's
// credential and the log.
func TestMCPPreRegisteredClient(t *testing.T) {
	tests := []struct {
		name, method, secret string
	}{
		{"basic", "client_secret_basic", preSecret},
		{"post", "client_secret_post", preSecret},
		{"public", "none", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var logs syncBuffer
			r := newMCPRigWith(t, func(r *mcpRig, srv *MCPServer, cfg *MCPConfig) {
				srv.Client = &MCPClient{ID: "pre-registered-client", Secret: tc.secret, Issuer: r.fake.Issuer}
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				r.fake.AddClient("pre-registered-client", tc.secret, tc.method, cfg.RedirectURL)
			})
			r.fake.SetMutate(noRegistration(tc.method))
			link := r.signInLink(t, "u:alice")
			if q := mustQuery(t, link); q.Get("client_id") != "pre-registered-client" {
				t.Fatalf("consent link with client %q", q.Get("client_id"))
			}
			if code, body := browseAs(t, link, "alice"); code != http.StatusOK {
				t.Fatalf("callback: %d %s", code, body)
			}
			c, err := r.m.Credential(ctx, "u:alice", remote)
			if err != nil || c == nil || callMCP(t, r.fake.ResourceURL, c.AccessToken) == http.StatusUnauthorized {
				t.Fatalf("credential after sign-in: %+v %v", c, err)
			}
			r.now = r.now.Add(2 * time.Hour)
			c2, err := r.m.Credential(ctx, "u:alice", remote)
			if err != nil || c2 == nil || c2.AccessToken == c.AccessToken {
				t.Fatalf("refresh as the configured client: %+v %v", c2, err)
			}
			if ok, err := r.m.Disconnect(ctx, string(remote), "u:alice"); !ok || err != nil || len(r.fake.Revoked()) != 1 {
				t.Fatalf("disconnect: %v %v, revoked %v", ok, err, r.fake.Revoked())
			}
			if r.fake.Registrations() != 0 {
				t.Errorf("%d dynamic registrations with a configured client", r.fake.Registrations())
			}
			if tc.secret == "" {
				return
			}
			raw, _, _ := r.st.GetAppState(ctx, "u:alice", Namespace, pendingKeyOf(remote))
			for what, text := range map[string]string{"link": link, "log": logs.String(), "credential": fmt.Sprintf("%+v %+v", c, c2),
				"stored record": string(raw), "config printed": fmt.Sprintf("%v %+v %#v", r.m.servers[remote], *r.m.servers[remote].Client, r.m.servers[remote].Client)} {
				if strings.Contains(text, preSecret) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(preSecret))) {
					t.Errorf("the client secret is in the %s", what)
				}
			}
		})
	}
}

// TestMCPPreRegisteredClientHostile: the configured client's secret goes
// only to the authorization server it is registered at. An MCP server
// that names another one gets no link and that server nothing; an
// authorization server whose error echoes the secret does not put it into
// the log or the error; without a configured client and without dynamic
// registration the operator's log says what to configure.
func TestMCPPreRegisteredClientHostile(t *testing.T) {
	ctx := context.Background()
	t.Run("another authorization server", func(t *testing.T) {
		evil := authfake.Start()
		t.Cleanup(evil.Close)
		evil.SetMutate(noRegistration("client_secret_basic"))
		var logs syncBuffer
		r := newMCPRigWith(t, func(r *mcpRig, srv *MCPServer, cfg *MCPConfig) {
			srv.Client = &MCPClient{ID: "pre-registered-client", Secret: preSecret, Issuer: r.fake.Issuer}
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		r.fake.SetMutate(func(kind string, doc map[string]any) {
			if kind == "resource" {
				doc["authorization_servers"] = []string{evil.Issuer}
			}
		})
		c, err := r.m.Credential(ctx, "u:alice", remote)
		var se *SignInError
		if c != nil || err == nil || errors.As(err, &se) {
			t.Fatalf("credential %+v, err %v: want a refusal without a link", c, err)
		}
		if len(evil.TokenCalls()) != 0 || evil.Registrations() != 0 {
			t.Error("the other authorization server was used")
		}
		if !strings.Contains(logs.String(), "where its configured client is registered") {
			t.Errorf("the log does not say why: %s", logs.String())
		}
	})
	t.Run("echoed secret", func(t *testing.T) {
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, pw, _ := r.BasicAuth()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_client %s","error_description":"bad secret %s"}`, pw, pw)
		}))
		t.Cleanup(echo.Close)
		var logs syncBuffer
		r := newMCPRigWith(t, func(r *mcpRig, srv *MCPServer, cfg *MCPConfig) {
			srv.Client = &MCPClient{ID: "pre-registered-client", Secret: preSecret, Issuer: r.fake.Issuer}
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			r.fake.AddClient("pre-registered-client", preSecret, "client_secret_basic", cfg.RedirectURL)
		})
		r.fake.SetMutate(func(kind string, doc map[string]any) {
			noRegistration("client_secret_basic")(kind, doc)
			if kind == "authorization" {
				doc["token_endpoint"] = echo.URL + "/token"
			}
		})
		link := r.signInLink(t, "u:alice")
		if code, _ := browseAs(t, link, "alice"); code == http.StatusOK {
			t.Fatal("signed in through a token endpoint that refused")
		}
		if !strings.Contains(logs.String(), "mcp code exchange") || strings.Contains(logs.String(), preSecret) {
			t.Errorf("log of the refused exchange: %s", logs.String())
		}
	})
	t.Run("no registration and no client", func(t *testing.T) {
		var logs syncBuffer
		r := newMCPRigWith(t, func(_ *mcpRig, _ *MCPServer, cfg *MCPConfig) {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		r.fake.SetMutate(noRegistration("none"))
		if _, err := r.m.Credential(ctx, "u:alice", remote); err == nil || !strings.Contains(logs.String(), "oauth_client_id") {
			t.Errorf("err %v; log %s", err, logs.String())
		}
	})
}

// TestNewMCPChecksClient: a configured client needs an ID, and a secret
// the issuer it may be sent to.
func TestNewMCPChecksClient(t *testing.T) {
	tests := []struct {
		name   string
		client MCPClient
		ok     bool
	}{
		{"public, any issuer", MCPClient{ID: "x"}, true},
		{"confidential", MCPClient{ID: "x", Secret: "s", Issuer: "https://as.example"}, true},
		{"no ID", MCPClient{Secret: "s", Issuer: "https://as.example"}, false},
		{"secret without issuer", MCPClient{ID: "x", Secret: "s"}, false},
		{"issuer not a URL", MCPClient{ID: "x", Secret: "s", Issuer: "as.example"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			_, err := NewMCP(MCPConfig{Servers: []MCPServer{{App: remote, URL: "https://mcp.example/mcp", Client: &c}},
				RedirectURL: "https://bot.example" + MCPCallbackPath, Key: testKey(3)}, memstore.New(memstore.Options{}))
			if (err == nil) != tc.ok {
				t.Errorf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s\"") {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}
