// Package authfake is a local MCP authorization setup for tests: an OAuth
// 2.1 authorization server (RFC 8414 metadata, RFC 7591 dynamic client
// registration, authorization code with PKCE S256 only, refresh, RFC 8707
// resource indicators, revocation) and an MCP server that accepts only its
// tokens for itself and publishes RFC 9728 protected resource metadata.
//
// The consent page renders nothing: the simulated browser names its user
// in AccountHeader, and consent is given at once. Mutate lets a test make
// the metadata hostile.
//
// Only tests import this package.
package authfake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// AccountHeader names the user the simulated browser is signed in as.
const AccountHeader = "X-Authfake-Account"

type code struct {
	client, redirect, challenge, account, resource string
}

// client is a registered client: its redirect URIs, and for a
// confidential one its secret and how it sends it.
type client struct {
	redirects      []string
	secret, method string
}

type grant struct {
	client, account, resource string
	expiry                    time.Time
}

// Server is the fake. Its zero value is not usable; call Start.
type Server struct {
	// Issuer is the authorization server's base URL.
	Issuer string
	// ResourceURL is the MCP endpoint.
	ResourceURL string
	as, rs      *httptest.Server

	mu sync.Mutex // guards all following fields
	// Mutate, when set, may change a metadata document before it is
	// served: kind is "resource" or "authorization".
	Mutate        func(kind string, doc map[string]any)
	lifetime      time.Duration
	clients       map[string]client
	codes         map[string]code
	access        map[string]grant
	refresh       map[string]grant
	registrations int
	tokenCalls    []url.Values
	revoked       []string
}

// Start starts the authorization server and the MCP server.
func Start() *Server {
	s := &Server{lifetime: time.Hour, clients: map[string]client{}, codes: map[string]code{},
		access: map[string]grant{}, refresh: map[string]grant{}}
	am := http.NewServeMux()
	am.HandleFunc("GET /.well-known/oauth-authorization-server", s.asMetadata)
	am.HandleFunc("POST /register", s.register)
	am.HandleFunc("GET /authorize", s.authorize)
	am.HandleFunc("POST /token", s.token)
	am.HandleFunc("POST /revoke", s.revoke)
	s.as = httptest.NewServer(am)
	s.Issuer = s.as.URL

	srv := sdk.NewServer(&sdk.Implementation{Name: "authfake", Version: "1"}, nil)
	sdk.AddTool(srv, &sdk.Tool{Name: "whoami", Description: "Says whose token called it."},
		func(_ context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, struct{}, error) {
			g, _ := s.lookup(strings.TrimPrefix(req.Extra.Header.Get("Authorization"), "Bearer "))
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "you are " + g.account}}}, struct{}{}, nil
		})
	mcpHandler := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{DisableLocalhostProtection: true})
	rm := http.NewServeMux()
	rm.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", s.prMetadata)
	rm.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		g, found := s.lookup(tok)
		if !ok || !found || g.resource != s.ResourceURL {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+s.rs.URL+`/.well-known/oauth-protected-resource/mcp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	s.rs = httptest.NewServer(rm)
	s.ResourceURL = s.rs.URL + "/mcp"
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.as.Close()
	s.rs.Close()
}

// SetTokenLifetime sets how long access tokens issued from now on live.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// SetMutate sets Mutate.
func (s *Server) SetMutate(f func(kind string, doc map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Mutate = f
}

// IssueToken returns a new access token of account for the MCP server, as
// if account had signed in (for tests of the client alone).
func (s *Server) IssueToken(account string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := randToken("at-")
	s.access[at] = grant{client: "issued", account: account, resource: s.ResourceURL, expiry: time.Now().Add(s.lifetime)}
	return at
}

// AddClient registers a client beforehand, as an operator does at an
// authorization server without dynamic registration: method is how it
// authenticates at the token endpoint ("none", "client_secret_basic" or
// "client_secret_post").
func (s *Server) AddClient(id, secret, method string, redirects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = client{redirects: redirects, secret: secret, method: method}
}

// Registrations counts dynamic client registrations.
func (s *Server) Registrations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registrations
}

// TokenCalls lists the forms posted to the token endpoint.
func (s *Server) TokenCalls() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenCalls)
}

// AccessTokens lists the live access tokens.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.access {
		out = append(out, t)
	}
	return out
}

// Revoked lists the tokens revoked.
func (s *Server) Revoked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revoked)
}

func (s *Server) lookup(tok string) (grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[tok]
	if !ok || time.Now().After(g.expiry) {
		return grant{}, false
	}
	return g, true
}

func (s *Server) serveDoc(w http.ResponseWriter, kind string, doc map[string]any) {
	s.mu.Lock()
	m := s.Mutate
	s.mu.Unlock()
	if m != nil {
		m(kind, doc)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

func (s *Server) prMetadata(w http.ResponseWriter, _ *http.Request) {
	s.serveDoc(w, "resource", map[string]any{"resource": s.ResourceURL, "authorization_servers": []string{s.Issuer},
		"bearer_methods_supported": []string{"header"}, "scopes_supported": []string{"mcp:tools"}})
}

func (s *Server) asMetadata(w http.ResponseWriter, _ *http.Request) {
	s.serveDoc(w, "authorization", map[string]any{"issuer": s.Issuer, "authorization_endpoint": s.Issuer + "/authorize",
		"token_endpoint": s.Issuer + "/token", "registration_endpoint": s.Issuer + "/register", "revocation_endpoint": s.Issuer + "/revoke",
		"response_types_supported": []string{"code"}, "grant_types_supported": []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported": []string{"S256"}, "token_endpoint_auth_methods_supported": []string{"none"}})
}

func randToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func oauthError(w http.ResponseWriter, code int, errCode string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": errCode})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURIs []string `json:"redirect_uris"`
		AuthMethod   string   `json:"token_endpoint_auth_method"`
	}
	// Default per RFC 7591 section 2.
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || len(req.RedirectURIs) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata")
		return
	}
	if req.AuthMethod == "" {
		req.AuthMethod = "client_secret_basic"
	}
	id := randToken("client-")
	c := client{redirects: req.RedirectURIs, method: req.AuthMethod}
	out := map[string]any{"client_id": id, "redirect_uris": req.RedirectURIs, "token_endpoint_auth_method": req.AuthMethod}
	if req.AuthMethod != "none" {
		c.secret = randToken("secret-")
		out["client_secret"] = c.secret
	}
	s.mu.Lock()
	s.clients[id] = c
	s.registrations++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	account := r.Header.Get(AccountHeader)
	s.mu.Lock()
	c, known := s.clients[q.Get("client_id")]
	s.mu.Unlock()
	switch {
	case account == "":
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	case !known || !slices.Contains(c.redirects, q.Get("redirect_uri")):
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 required", http.StatusBadRequest)
		return
	case q.Get("resource") != s.ResourceURL:
		http.Error(w, "invalid_target", http.StatusBadRequest)
		return
	}
	cd := randToken("code-")
	s.mu.Lock()
	s.codes[cd] = code{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), account: account, resource: q.Get("resource")}
	s.mu.Unlock()
	red, _ := url.Parse(q.Get("redirect_uri"))
	rq := red.Query()
	rq.Set("code", cd)
	rq.Set("state", q.Get("state"))
	red.RawQuery = rq.Encode()
	http.Redirect(w, r, red.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls = append(s.tokenCalls, f)
	// The client authenticates as it registered (RFC 6749 section 2.3).
	id := f.Get("client_id")
	bid, bsecret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(bid)
		bsecret, _ = url.QueryUnescape(bsecret)
		f.Set("client_id", id)
	}
	c, known := s.clients[id]
	switch {
	case !known:
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	case c.method == "client_secret_basic" && (!basic || bsecret != c.secret),
		c.method == "client_secret_post" && (basic || f.Get("client_secret") != c.secret):
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var g grant
	var newRefresh bool
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code"))
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		switch {
		case !ok || c.client != f.Get("client_id") || c.redirect != f.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		case f.Get("resource") != c.resource:
			oauthError(w, http.StatusBadRequest, "invalid_target")
			return
		}
		g, newRefresh = grant{client: c.client, account: c.account, resource: c.resource}, true
	case "refresh_token":
		rg, ok := s.refresh[f.Get("refresh_token")]
		if !ok || rg.client != f.Get("client_id") {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if res := f.Get("resource"); res != "" && res != rg.resource {
			oauthError(w, http.StatusBadRequest, "invalid_target")
			return
		}
		g = rg
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	at := randToken("at-")
	g.expiry = time.Now().Add(s.lifetime)
	s.access[at] = g
	out := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.lifetime / time.Second)}
	if newRefresh {
		rt := randToken("rt-")
		s.refresh[rt] = g
		out["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	t := r.PostForm.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, t)
	if g, ok := s.refresh[t]; ok {
		for k, a := range s.access {
			if a.account == g.account && a.client == g.client {
				delete(s.access, k)
			}
		}
		delete(s.refresh, t)
	}
	delete(s.access, t)
	w.WriteHeader(http.StatusOK)
}
