package connect

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// legacyServer is an MCP server of the 2025-03-26 revision that is its own
// authorization server: no protected resource metadata, a 401 without
// resource_metadata, RFC 8414 metadata at its root (unless meta is nil)
// naming endpoints under prefix, and a token endpoint that checks PKCE.
type legacyServer struct {
	*httptest.Server
	prefix string
	// meta changes the metadata document; nil serves none (404).
	meta func(doc map[string]any)
	// prm, when set, is the status of the protected resource metadata
	// places; 0 is 404. challenge is an extra WWW-Authenticate parameter.
	prm       int
	challenge string

	mu         sync.Mutex // guards challenges and tokenCalls
	challenges map[string]string
	tokenCalls int
}

func startLegacy(t *testing.T, prefix string, meta func(doc map[string]any)) *legacyServer {
	t.Helper()
	l := &legacyServer{prefix: prefix, meta: meta, challenges: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(cmp.Or(l.prm, http.StatusNotFound))
	})
	mux.HandleFunc("/.well-known/oauth-protected-resource", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(cmp.Or(l.prm, http.StatusNotFound))
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		if l.meta == nil {
			http.NotFound(w, nil)
			return
		}
		base := l.URL + l.prefix
		doc := map[string]any{"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"registration_endpoint": base + "/register", "code_challenge_methods_supported": []string{"S256"},
			"response_types_supported": []string{"code"}}
		l.meta(doc)
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`+l.challenge)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("POST "+prefix+"/register", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"client_id": "legacy-client"})
	})
	mux.HandleFunc("GET "+prefix+"/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != "legacy-client" {
			http.Error(w, "PKCE S256 and the registered client required", http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.challenges["code-1"] = q.Get("code_challenge")
		l.mu.Unlock()
		red, _ := url.Parse(q.Get("redirect_uri"))
		red.RawQuery = url.Values{"code": {"code-1"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, red.String(), http.StatusFound)
	})
	mux.HandleFunc("POST "+prefix+"/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		l.mu.Lock()
		l.tokenCalls++
		ch := l.challenges[r.PostForm.Get("code")]
		l.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if ch == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != ch {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "legacy-token", "token_type": "Bearer", "expires_in": 3600})
	})
	l.Server = httptest.NewServer(mux)
	t.Cleanup(l.Close)
	return l
}

// TestMCPLegacyDiscovery: a server of the MCP 2025-03-26 revision
// (no protected resource metadata) is signed in to through RFC 8414
// metadata at its own root, or, where the operator allowed it, through the
// default endpoints of its origin; nowhere else, and never when the server
// shows it is of a later revision or its metadata is not simply absent.
func TestMCPLegacyDiscovery(t *testing.T) {
	tests := []struct {
		name      string
		prefix    string
		meta      func(doc map[string]any) // nil: no metadata
		defaults  bool
		prm       int
		challenge string
		refused   string // "" when the sign-in must work
	}{
		{name: "metadata at the root, issuer on a path", prefix: "/oauth", meta: func(map[string]any) {}},
		{name: "metadata at the root, issuer the origin", meta: func(map[string]any) {}},
		{name: "default endpoints, allowed", defaults: true},
		{name: "default endpoints, not allowed", refused: "oauth_default_endpoints"},
		{name: "issuer at another origin", meta: func(d map[string]any) { d["issuer"] = "https://evil.example" }, refused: "names issuer"},
		{name: "endpoint not a URL", meta: func(d map[string]any) { d["token_endpoint"] = "file:///etc/passwd" }, refused: "token_endpoint"},
		{name: "no S256", meta: func(d map[string]any) { delete(d, "code_challenge_methods_supported") }, refused: "S256"},
		{name: "resource metadata failing, not absent", defaults: true, prm: http.StatusInternalServerError, refused: "protected resource metadata"},
		{name: "a 401 naming resource metadata", defaults: true, challenge: `, resource_metadata="/nowhere"`, refused: "protected resource metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := startLegacy(t, tc.prefix, tc.meta)
			l.prm = tc.prm
			if tc.challenge != "" {
				l.challenge = strings.Replace(tc.challenge, "/nowhere", l.URL+"/nowhere", 1)
			}
			mux := http.NewServeMux()
			cb := httptest.NewServer(mux)
			t.Cleanup(cb.Close)
			logs := &syncBuffer{}
			m, err := NewMCP(MCPConfig{Servers: []MCPServer{{App: remote, URL: l.URL + "/mcp", DefaultEndpoints: tc.defaults}},
				RedirectURL: cb.URL + MCPCallbackPath, Key: testKey(3), Logger: slog.New(slog.NewTextHandler(logs, nil))}, memstore.New(memstore.Options{}))
			if err != nil {
				t.Fatal(err)
			}
			mux.Handle("GET "+MCPCallbackPath, m)
			c, err := m.Credential(ctx, "u:alice", remote)
			var se *SignInError
			if tc.refused != "" {
				if c != nil || errors.As(err, &se) || !strings.Contains(logs.String(), tc.refused) {
					t.Fatalf("credential %+v, err %v, log %s: want a refusal naming %q", c, err, logs, tc.refused)
				}
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("credential %+v, err %v: want a sign-in link; log %s", c, err, logs)
			}
			if u, _ := url.Parse(se.URL); u.Scheme+"://"+u.Host+u.Path != l.URL+tc.prefix+"/authorize" {
				t.Fatalf("consent link %s", se.URL)
			}
			if code, body := browseAs(t, se.URL, "alice"); code != http.StatusOK {
				t.Fatalf("callback: %d %s", code, body)
			}
			if c, err := m.Credential(ctx, "u:alice", remote); err != nil || c == nil || c.AccessToken != "legacy-token" {
				t.Fatalf("credential after sign-in: %+v %v", c, err)
			}
		})
	}
}
