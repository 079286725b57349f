package connect

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps/mcp/authfake"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

const remote = ids.AppID("mcp.remote")

type mcpRig struct {
	fake  *authfake.Server
	m     *MCP
	st    *memstore.Store
	cb    *httptest.Server
	now   time.Time
	mu    sync.Mutex // guards links
	links []Link     // what MCPConfig.Linked reported
}

func newMCPRig(t *testing.T) *mcpRig {
	t.Helper()
	return newMCPRigWith(t, nil)
}

// newMCPRigWith is newMCPRig with setup changing the server's entry and
// the flow's configuration before the flow is made.
func newMCPRigWith(t *testing.T, setup func(r *mcpRig, srv *MCPServer, cfg *MCPConfig)) *mcpRig {
	t.Helper()
	r := &mcpRig{fake: authfake.Start(), st: memstore.New(memstore.Options{}), now: time.Now()}
	t.Cleanup(r.fake.Close)
	mux := http.NewServeMux()
	r.cb = httptest.NewServer(mux)
	t.Cleanup(r.cb.Close)
	srv := MCPServer{App: remote, URL: r.fake.ResourceURL}
	cfg := MCPConfig{RedirectURL: r.cb.URL + MCPCallbackPath,
		Key: testKey(3), AllowHTTP: true, Now: func() time.Time { return r.now },
		Linked: func(_ context.Context, l Link) {
			r.mu.Lock()
			r.links = append(r.links, l)
			r.mu.Unlock()
		}}
	if setup != nil {
		setup(r, &srv, &cfg)
	}
	cfg.Servers = []MCPServer{srv}
	m, err := NewMCP(cfg, r.st)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	mux.Handle("GET "+MCPCallbackPath, m)
	return r
}

// signInLink asks for user's credential and returns the link of the
// sign-in error it must answer with.
func (r *mcpRig) signInLink(t *testing.T, user ids.UserID) string {
	t.Helper()
	c, err := r.m.Credential(context.Background(), user, remote)
	var se *SignInError
	if !errors.As(err, &se) || c != nil {
		t.Fatalf("credential before sign-in: %+v %v, want a *SignInError", c, err)
	}
	return se.URL
}

func browseAs(t *testing.T, link, account string) (int, string) {
	t.Helper()
	return browseWith(t, authfake.AccountHeader, link, account)
}

// callMCP makes one authenticated request to the MCP endpoint with tok.
func callMCP(t *testing.T, endpoint, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMCPSignIn: the MCP authorization flow against a local authorization
// server: discovery (protected resource and authorization server
// metadata), dynamic client registration, a consent link with PKCE S256
// and the resource indicator, the code exchange, tokens stored sealed per
// user, a refresh naming the resource, a single-use link, and a
// disconnect that revokes.
func TestMCPSignIn(t *testing.T) {
	ctx := context.Background()
	r := newMCPRig(t)
	link := r.signInLink(t, "u:alice")
	q := mustQuery(t, link)
	if q.Get("code_challenge_method") != "S256" || q.Get("resource") != r.fake.ResourceURL || q.Get("client_id") == "" || q.Get("scope") != "mcp:tools" {
		t.Fatalf("consent link %s", link)
	}
	if r.fake.Registrations() != 1 {
		t.Errorf("%d registrations, want 1", r.fake.Registrations())
	}
	if code, body := browseAs(t, link, "alice"); code != http.StatusOK || !strings.Contains(body, "signed in") {
		t.Fatalf("callback: %d %s", code, body)
	}
	if code, _ := browseAs(t, link, "mallory"); code == http.StatusOK {
		t.Error("a used link signed in again")
	}
	r.mu.Lock()
	links := slices.Clone(r.links)
	r.mu.Unlock()
	if len(links) != 1 || links[0].Provider != string(remote) || links[0].User != "u:alice" {
		t.Errorf("sign-ins reported: %+v", links)
	}
	c, err := r.m.Credential(ctx, "u:alice", remote)
	if err != nil || c == nil || c.Provider != ProviderMCP {
		t.Fatalf("credential: %+v %v", c, err)
	}
	if code := callMCP(t, r.fake.ResourceURL, c.AccessToken); code == http.StatusUnauthorized {
		t.Error("the server refused alice's token")
	}
	raw, _, _ := r.st.GetAppState(ctx, "u:alice", Namespace, tokenKeyOf(remote))
	if bytes.Contains(raw, []byte(c.AccessToken)) || bytes.Contains(raw, []byte("rt-")) {
		t.Fatal("token stored in the clear")
	}
	// Bob signed in nowhere: his invocation gets a link of his own, not a token.
	r.signInLink(t, "u:bob")
	if c, err := r.m.Credential(ctx, "u:alice", "mcp.other"); c != nil || err != nil {
		t.Errorf("another app: %+v %v", c, err)
	}
	// Expired: refreshed with the registered client and the resource.
	r.now = r.now.Add(2 * time.Hour)
	c2, err := r.m.Credential(ctx, "u:alice", remote)
	if err != nil || c2 == nil || c2.AccessToken == c.AccessToken {
		t.Fatalf("refreshed credential: %+v %v", c2, err)
	}
	calls := r.fake.TokenCalls()
	last := calls[len(calls)-1]
	if last.Get("grant_type") != "refresh_token" || last.Get("resource") != r.fake.ResourceURL || last.Get("client_id") != q.Get("client_id") {
		t.Errorf("refresh request %v", last)
	}
	if ok, err := r.m.Disconnect(ctx, string(remote), "u:alice"); !ok || err != nil {
		t.Fatalf("disconnect: %v %v", ok, err)
	}
	if len(r.fake.Revoked()) != 1 || callMCP(t, r.fake.ResourceURL, c2.AccessToken) != http.StatusUnauthorized {
		t.Errorf("revoked %v; the token still works", r.fake.Revoked())
	}
	r.signInLink(t, "u:alice")
}

// TestMCPDiscoveryRefusesHostileMetadata: metadata is third-party text. A
// resource document about another resource, an authorization server that
// names another issuer, lacks PKCE S256, or names endpoints that are not
// http(s) URLs is refused before anything is registered or any link given.
func TestMCPDiscoveryRefusesHostileMetadata(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		mutate func(doc map[string]any)
	}{
		{"resource of another server", "resource", func(d map[string]any) { d["resource"] = "https://evil.example/mcp" }},
		{"no authorization server", "resource", func(d map[string]any) { d["authorization_servers"] = []string{} }},
		{"authorization server not a URL", "resource", func(d map[string]any) { d["authorization_servers"] = []string{"javascript:alert(1)"} }},
		{"another issuer", "authorization", func(d map[string]any) { d["issuer"] = "https://evil.example" }},
		{"no S256", "authorization", func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} }},
		{"token endpoint not a URL", "authorization", func(d map[string]any) { d["token_endpoint"] = "file:///etc/passwd" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newMCPRig(t)
			r.fake.SetMutate(func(kind string, doc map[string]any) {
				if kind == tc.kind {
					tc.mutate(doc)
				}
			})
			c, err := r.m.Credential(context.Background(), "u:alice", remote)
			var se *SignInError
			if c != nil || err == nil || errors.As(err, &se) {
				t.Fatalf("credential %+v, err %v: want a refusal without a link", c, err)
			}
			if r.fake.Registrations() != 0 {
				t.Errorf("registered at a server the metadata should have ruled out")
			}
			if !strings.Contains(publicText(err), "could not be used") {
				t.Errorf("the refusal shown to the user: %q", publicText(err))
			}
		})
	}
}

func publicText(err error) string {
	var pe *PublicError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return ""
}

// TestWellKnown: metadata locations per RFC 8414 and RFC 9728.
func TestWellKnown(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp https://mcp.example.com/.well-known/oauth-protected-resource"},
		{"https://mcp.example.com", "https://mcp.example.com/.well-known/oauth-protected-resource"},
		{"https://mcp.example.com/", "https://mcp.example.com/.well-known/oauth-protected-resource"},
	} {
		if got := strings.Join(wellKnown(tc.base, "oauth-protected-resource"), " "); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.base, got, tc.want)
		}
	}
}

// FuzzMCPCallback: whatever reaches the MCP callback, it never signs
// anyone in without a state sealed by this hub for a pending flow.
func FuzzMCPCallback(f *testing.F) {
	f.Add("code=x&state=y")
	f.Add("error=access_denied")
	f.Add("state=" + strings.Repeat("A", 300) + "&code=c")
	f.Add("%zz&&==;")
	m, err := NewMCP(MCPConfig{Servers: []MCPServer{{App: remote, URL: "https://mcp.example.com/mcp"}}, RedirectURL: "http://127.0.0.1:1/cb", Key: testKey(5)},
		memstore.New(memstore.Options{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, MCPCallbackPath, nil)
		req.URL.RawQuery = query
		w := httptest.NewRecorder()
		m.ServeHTTP(w, req)
		if w.Code == http.StatusOK {
			t.Fatalf("query %q signed someone in", query)
		}
	})
}

// TestBearerParams: the parameters of a 401's Bearer challenge, quoted or
// not, with escapes; anything but Bearer is not one.
func TestBearerParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="files:read files:write"`,
			map[string]string{"resource_metadata": "https://mcp.example.com/.well-known/oauth-protected-resource", "scope": "files:read files:write"}},
		{`bearer error=invalid_token, scope=a`, map[string]string{"error": "invalid_token", "scope": "a"}},
		{`Bearer realm="a \"b\" c"`, map[string]string{"realm": `a "b" c`}},
		{`Bearer`, map[string]string{}},
		{`Basic realm="x"`, nil},
	} {
		got := bearerParams(tc.in)
		if len(got) != len(tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

// FuzzBearerParams: any header is read without panicking, within bounds.
func FuzzBearerParams(f *testing.F) {
	f.Add(`Bearer resource_metadata="x", scope="a b"`)
	f.Add(`Bearer a="\`)
	f.Add(`Bearer ,,,=,"=`)
	f.Fuzz(func(t *testing.T, h string) {
		for k, v := range bearerParams(h) {
			if len(k) > 4096 || len(v) > 4096 {
				t.Fatalf("%q: oversized parameter", h)
			}
		}
	})
}

// TestIssuerMetadata: authorization server metadata locations in the MCP
// specification's order; an issuer with a path is never looked up at the
// host's root.
func TestIssuerMetadata(t *testing.T) {
	for _, tc := range []struct{ issuer, want string }{
		{"https://as.example.com", "https://as.example.com/.well-known/oauth-authorization-server https://as.example.com/.well-known/openid-configuration"},
		{"https://as.example.com/tenant1", "https://as.example.com/.well-known/oauth-authorization-server/tenant1 https://as.example.com/.well-known/openid-configuration/tenant1 https://as.example.com/tenant1/.well-known/openid-configuration"},
	} {
		if got := strings.Join(issuerMetadata(tc.issuer), " "); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.issuer, got, tc.want)
		}
	}
}
