package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// The MCP authorization flow (MCP specification, "Authorization"): a remote
// MCP server that asks for it gets, per chat user, an access token from the
// authorization server it names. The hub does the whole flow: it reads the
// server's protected resource metadata (RFC 9728), then its authorization
// server's metadata (RFC 8414), registers itself as a public client
// (RFC 7591) or uses the client the operator registered there beforehand,
// sends the user a consent link (authorization code with PKCE
// S256 and the resource indicator of RFC 8707), and stores the user's
// tokens sealed, like a Google account's. The spoke of that server gets a
// fresh access token for one invocation, nothing else.

// ProviderMCP names an MCP server's token in credentials.
const ProviderMCP = "mcp"

// MCPCallbackPath is where an MCP authorization server sends the browser
// back after consent.
const MCPCallbackPath = "/oauth/mcp/callback"

// Additional data of the MCP flow's sealed values.
const (
	aadMCPState   = "secgpt/connect/mcp/state/v1"
	aadMCPToken   = "secgpt/connect/mcp/token/v1\x00"
	aadMCPPending = "secgpt/connect/mcp/pending/v1\x00"
)

// MCPServer is one remote server whose users sign in through the hub.
type MCPServer struct {
	// App is the server's app ID ("mcp.<name>"); only its spokes get the
	// token.
	App ids.AppID
	// URL is the server's MCP endpoint: the resource the tokens are for.
	URL string
	// Scopes asked for; empty means the protected resource metadata's
	// scopes_supported, or none.
	Scopes []string
	// HTTPClient makes the hub's requests for this server (metadata,
	// registration, tokens); nil means MCPConfig's.
	HTTPClient *http.Client
	// DefaultEndpoints lets a server of the MCP 2025-03-26 revision that
	// publishes no metadata at all be signed in to at the default
	// endpoints of its origin (/authorize, /token, /register). Off, such a
	// server is refused: nothing would advertise PKCE S256, which the
	// current revision requires to be advertised.
	DefaultEndpoints bool
	// Client is a client the operator registered beforehand at the
	// server's authorization server, used instead of dynamic client
	// registration; nil means register dynamically.
	Client *MCPClient
}

// MCPClient is an OAuth client registered beforehand (for authorization
// servers without dynamic client registration, such as GitHub's). Its
// secret is sent only to the token and revocation endpoints that Issuer's
// own metadata names: the MCP server's metadata is third-party text and
// could otherwise name an authorization server of its choosing to collect
// it. Its String, GoString and LogValue leave the secret out.
type MCPClient struct {
	// ID is the client ID.
	ID string
	// Secret is the client secret; empty for a public client.
	Secret string
	// Issuer is the authorization server the client is registered at
	// (its issuer identifier, RFC 8414). The flow stops when the MCP
	// server names another. Required with a Secret; empty with none
	// means any (a client ID alone opens nothing).
	Issuer string
}

// String describes the client without its secret.
func (c MCPClient) String() string {
	s := "client " + c.ID
	if c.Issuer != "" {
		s += " at " + c.Issuer
	}
	if c.Secret != "" {
		s += " (secret set)"
	}
	return s
}

// GoString is String: %#v must not print the secret either.
func (c MCPClient) GoString() string { return c.String() }

// LogValue is String, for log/slog.
func (c MCPClient) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MCPConfig configures the MCP authorization flow.
type MCPConfig struct {
	// Servers are the remote servers that use it.
	Servers []MCPServer
	// RedirectURL is the callback's full URL (MCPCallbackPath on the
	// public listener, or on a loopback listener).
	RedirectURL string
	// Key seals states and tokens (KeySize bytes).
	Key []byte
	// HTTPClient makes the hub's requests. The metadata names the hosts
	// they go to, so it is third-party text: cli/ wiring passes a client
	// that dials public addresses only. nil means http.DefaultClient.
	HTTPClient *http.Client
	// AllowHTTP lets endpoints be http:// (tests); otherwise every
	// endpoint the metadata names must be https.
	AllowHTTP   bool
	StateTTL    time.Duration
	MinLifetime time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	// Linked, if set, is called after a user signed in, from the
	// callback's goroutine, so the hub can tell the user (a link someone
	// else opened signs the user in to that person's account).
	Linked func(ctx context.Context, l Link)
}

// MCP runs the authorization flow for the configured servers. It answers
// the hub's Accounts calls for them (provider = the app ID) and is the
// http.Handler of MCPCallbackPath.
type MCP struct {
	cfg     MCPConfig
	seal    *sealer
	st      Store
	servers map[ids.AppID]MCPServer
	log     *slog.Logger

	mu sync.Mutex // guards auth
	// auth is each server's discovered authorization server and the
	// client registered there, once learnt.
	auth map[ids.AppID]*mcpAuth
}

// mcpAuth is what discovery learnt about one server's authorization.
type mcpAuth struct {
	Issuer     string `json:"issuer"`
	AuthURL    string `json:"authorization_endpoint"`
	TokenURL   string `json:"token_endpoint"`
	RevokeURL  string `json:"revocation_endpoint,omitempty"`
	Client     mcpClient
	Scopes     []string `json:"scopes,omitempty"`
	registered time.Time
}

// mcpClient is the client the hub registered at an authorization server:
// public ("none", the default) or, where the server takes no public
// clients, confidential with the secret it issued.
type mcpClient struct {
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"`
	// Method is how the client authenticates at the token endpoint:
	// "none", "client_secret_basic" or "client_secret_post".
	Method string `json:"method,omitempty"`
	// Configured marks the operator's pre-registered client: its secret
	// is not stored with the users' tokens but taken from the
	// configuration when used, so that a rotated secret takes effect.
	Configured bool `json:"configured,omitempty"`
}

// stored is c as the users' records keep it.
func (c mcpClient) stored() mcpClient {
	if c.Configured {
		c.Secret = ""
	}
	return c
}

// clientOf is the client a stored record or pending flow of srv names,
// with the configured secret put back for the pre-registered client.
func clientOf(srv MCPServer, c mcpClient) mcpClient {
	if c.Configured && srv.Client != nil {
		c.ID, c.Secret = srv.Client.ID, srv.Client.Secret
	}
	return c
}

// authenticate adds the client to a token or revocation request's form,
// or returns the credentials to send as HTTP Basic authentication.
func (c mcpClient) authenticate(form url.Values) *clientAuth {
	switch c.Method {
	case "client_secret_basic":
		return &clientAuth{id: c.ID, secret: c.Secret}
	case "client_secret_post":
		form.Set("client_secret", c.Secret)
	}
	form.Set("client_id", c.ID)
	return nil
}

// mcpRecord is a user's stored token for one server, sealed. It keeps the
// endpoints and client it was issued through, so refreshing needs no new
// discovery.
type mcpRecord struct {
	Token    oauth2.Token `json:"token"`
	TokenURL string       `json:"token_url"`
	Revoke   string       `json:"revoke_url,omitempty"`
	Client   mcpClient    `json:"client"`
	Linked   time.Time    `json:"linked"`
}

// mcpState is what the consent link's state carries, sealed.
type mcpState struct {
	User     ids.UserID `json:"u"`
	App      ids.AppID  `json:"a"`
	Verifier string     `json:"v"`
	Expires  int64      `json:"e"`
	Nonce    string     `json:"n"`
}

// mcpPending is the flow a user started last for one server.
type mcpPending struct {
	Nonce    string    `json:"nonce"`
	Expires  int64     `json:"expires"`
	TokenURL string    `json:"token_url"`
	Revoke   string    `json:"revoke_url,omitempty"`
	Client   mcpClient `json:"client"`
}

// NewMCP checks cfg and returns an MCP.
func NewMCP(cfg MCPConfig, st Store) (*MCP, error) {
	switch {
	case cfg.RedirectURL == "":
		return nil, errors.New("mcp authorization: no redirect URL")
	case st == nil:
		return nil, errors.New("mcp authorization: no store")
	}
	s, err := newSealer(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("mcp authorization: token key: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.MinLifetime <= 0 {
		cfg.MinLifetime = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &MCP{cfg: cfg, seal: s, st: st, servers: map[ids.AppID]MCPServer{}, auth: map[ids.AppID]*mcpAuth{},
		log: cfg.Logger.With("component", "connect.mcp")}
	for _, srv := range cfg.Servers {
		if err := m.checkURL(srv, "server url", srv.URL); err != nil {
			return nil, fmt.Errorf("mcp authorization for %s: %w", srv.App, err)
		}
		if c := srv.Client; c != nil {
			switch {
			case c.ID == "":
				return nil, fmt.Errorf("mcp authorization for %s: a configured client needs its client ID", srv.App)
			case c.Secret != "" && c.Issuer == "":
				return nil, fmt.Errorf("mcp authorization for %s: a configured client secret needs the issuer the client is registered at", srv.App)
			case c.Issuer != "":
				if err := m.checkURL(srv, "client issuer", c.Issuer); err != nil {
					return nil, fmt.Errorf("mcp authorization for %s: %w", srv.App, err)
				}
			}
		}
		m.servers[srv.App] = srv
	}
	return m, nil
}

// Has reports whether app's users sign in through this flow.
func (m *MCP) Has(app ids.AppID) bool {
	_, ok := m.servers[app]
	return ok
}

// SignInError is returned by Credential when the user has no token for the
// server yet (or it can no longer be refreshed): its text, safe to show,
// carries the consent link.
type SignInError struct {
	App ids.AppID
	URL string
}

func (e *SignInError) Error() string {
	// The link is not last: whoever shows the text may end it with a period.
	return fmt.Sprintf("%s needs you to sign in to its server. Open this link to do so:\n%s\nIt works once, for a few minutes, and only for you; then ask again", e.App, e.URL)
}

// Public reports that the text may be shown to the user.
func (e *SignInError) Public() bool { return true }

// LinkForUser is the text with the link, for the user alone.
func (e *SignInError) LinkForUser() string { return e.Error() }

// ConnectURL returns a consent link for user at app's server (provider is
// the app ID), replacing the user's earlier link for it. It may discover
// and register at the authorization server (network I/O).
func (m *MCP) ConnectURL(ctx context.Context, provider string, user ids.UserID, _ ids.ConversationID) (string, error) {
	app := ids.AppID(provider)
	if !m.Has(app) {
		return "", ErrUnknownProvider
	}
	return m.consentURL(ctx, user, app)
}

// Credential returns user's access token for app's server for one
// invocation, or nil when app does not use this flow. Without a usable
// token it returns a *SignInError with a consent link.
func (m *MCP) Credential(ctx context.Context, user ids.UserID, app ids.AppID) (*isc.Credential, error) {
	srv, ok := m.servers[app]
	if !ok {
		return nil, nil
	}
	var rec mcpRecord
	found, err := m.getSealed(ctx, user, tokenKeyOf(app), aadMCPToken, &rec)
	if err != nil && !errors.Is(err, errUnreadable) {
		return nil, err
	}
	if found && err == nil {
		tok := rec.Token
		if tok.AccessToken != "" && (tok.Expiry.IsZero() || tok.Expiry.Sub(m.cfg.Now()) >= m.cfg.MinLifetime) {
			return &isc.Credential{Provider: ProviderMCP, AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}, nil
		}
		if tok.RefreshToken != "" {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {srv.URL}}
			basic := clientOf(srv, rec.Client).authenticate(form)
			fresh, _, rerr := postToken(ctx, m.client(srv), rec.TokenURL, form, basic, m.cfg.Now())
			if rerr == nil {
				if fresh.RefreshToken == "" {
					fresh.RefreshToken = tok.RefreshToken
				}
				rec.Token = *fresh
				if err := m.putSealed(ctx, user, tokenKeyOf(app), aadMCPToken, rec); err != nil {
					return nil, err
				}
				return &isc.Credential{Provider: ProviderMCP, AccessToken: fresh.AccessToken, TokenType: "Bearer", Expiry: fresh.Expiry}, nil
			}
			var re *oauth2.RetrieveError
			if !errors.As(rerr, &re) || re.ErrorCode != "invalid_grant" {
				rerr = scrub(rerr, srv)
				m.log.Warn("refresh mcp token", "app", app, "user", user, "err", rerr)
				return nil, fmt.Errorf("refresh the token of %s: %w", app, rerr)
			}
		}
	}
	u, err := m.consentURL(ctx, user, app)
	if err != nil {
		return nil, err
	}
	return nil, &SignInError{App: app, URL: u}
}

// Disconnect deletes user's token for app's server (provider is the app
// ID) and its pending link, and revokes the token where the authorization
// server offers revocation; false means there was none.
func (m *MCP) Disconnect(ctx context.Context, provider string, user ids.UserID) (bool, error) {
	app := ids.AppID(provider)
	if !m.Has(app) {
		return false, ErrUnknownProvider
	}
	if err := m.st.PutAppState(ctx, user, Namespace, pendingKeyOf(app), json.RawMessage("null")); err != nil {
		return false, fmt.Errorf("cancel the sign-in link: %w", err)
	}
	var rec mcpRecord
	found, err := m.getSealed(ctx, user, tokenKeyOf(app), aadMCPToken, &rec)
	if errors.Is(err, errUnreadable) {
		found, err = true, nil
	}
	if err != nil || !found {
		return false, err
	}
	if err := m.st.PutAppState(ctx, user, Namespace, tokenKeyOf(app), json.RawMessage("null")); err != nil {
		return false, fmt.Errorf("delete the token of %s: %w", app, err)
	}
	if t := cmpOr(rec.Token.RefreshToken, rec.Token.AccessToken); t != "" && rec.Revoke != "" {
		if err := m.revoke(ctx, m.servers[app], rec, t); err != nil {
			m.log.Warn("revoke mcp token", "app", app, "user", user, "err", scrub(err, m.servers[app]))
		}
	}
	return true, nil
}

func (m *MCP) revoke(ctx context.Context, srv MCPServer, rec mcpRecord, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"token": {token}}
	basic := clientOf(srv, rec.Client).authenticate(form)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.Revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic.id), url.QueryEscape(basic.secret))
	}
	resp, err := m.client(srv).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revoke: http %d", resp.StatusCode)
	}
	return nil
}

func tokenKeyOf(app ids.AppID) string   { return "mcp:" + string(app) }
func pendingKeyOf(app ids.AppID) string { return "mcp-pending:" + string(app) }

func (m *MCP) client(srv MCPServer) *http.Client {
	if srv.HTTPClient != nil {
		return srv.HTTPClient
	}
	return m.cfg.HTTPClient
}

// consentURL records a new pending flow for user at app's server and
// returns its link.
func (m *MCP) consentURL(ctx context.Context, user ids.UserID, app ids.AppID) (string, error) {
	if user == "" {
		return "", errors.New("mcp sign-in: no user")
	}
	srv := m.servers[app]
	a, err := m.discover(ctx, srv)
	if err != nil {
		m.log.Warn("mcp authorization discovery", "app", app, "err", err)
		return "", &PublicError{fmt.Sprintf("signing in to %s's server is not possible right now (its authorization metadata could not be used); the operator's log says why", app)}
	}
	v := oauth2.GenerateVerifier()
	nonce := oauth2.GenerateVerifier()
	exp := m.cfg.Now().Add(m.cfg.StateTTL).Unix()
	if err := m.putSealed(ctx, user, pendingKeyOf(app), aadMCPPending, mcpPending{Nonce: nonce, Expires: exp, TokenURL: a.TokenURL, Revoke: a.RevokeURL, Client: a.Client.stored()}); err != nil {
		return "", err
	}
	b, err := json.Marshal(mcpState{User: user, App: app, Verifier: v, Expires: exp, Nonce: nonce})
	if err != nil {
		return "", fmt.Errorf("encode state: %w", err)
	}
	oc := oauth2.Config{ClientID: a.Client.ID, Endpoint: oauth2.Endpoint{AuthURL: a.AuthURL, TokenURL: a.TokenURL}, RedirectURL: m.cfg.RedirectURL, Scopes: a.Scopes}
	return oc.AuthCodeURL(m.seal.seal(b, []byte(aadMCPState)), oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("resource", srv.URL)), nil
}

// discoveryTTL bounds how long a discovered authorization is reused
// before the metadata is read again.
const discoveryTTL = time.Hour

// discover learns app's authorization server and registers a client there
// (once per process and hour).
func (m *MCP) discover(ctx context.Context, srv MCPServer) (*mcpAuth, error) {
	m.mu.Lock()
	a := m.auth[srv.App]
	m.mu.Unlock()
	if a != nil && m.cfg.Now().Sub(a.registered) < discoveryTTL {
		return a, nil
	}
	hc := m.client(srv)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		Scopes               []string `json:"scopes_supported"`
	}
	// The server's own 401 may name where its metadata is and what scope
	// to ask for (RFC 9728 section 5.1); the well-known places follow.
	where := wellKnown(srv.URL, "oauth-protected-resource")
	metaURL, challengeScope := m.challenge(ctx, hc, srv.URL)
	if metaURL != "" && m.checkURL(srv, "resource_metadata", metaURL) == nil {
		where = append([]string{metaURL}, where...)
	}
	// legacy is a server of the 2025-03-26 revision: it publishes no
	// protected resource metadata (every place answered 404, and its 401
	// named none), and its origin is its authorization server's base URL.
	var legacy bool
	var issuer string
	switch err := m.getFirst(ctx, hc, where, &prm); {
	case err == nil:
		// RFC 9728 section 3.3: the metadata must be about this resource.
		if prm.Resource != srv.URL && prm.Resource != originOf(srv.URL) {
			return nil, fmt.Errorf("protected resource metadata names resource %q, not %q", truncate(prm.Resource, 200), srv.URL)
		}
		if len(prm.AuthorizationServers) == 0 {
			return nil, errors.New("protected resource metadata names no authorization server")
		}
		issuer = prm.AuthorizationServers[0]
		if err := m.checkURL(srv, "authorization server", issuer); err != nil {
			return nil, err
		}
	case metaURL == "" && errors.Is(err, errNoMetadata):
		legacy, issuer = true, originOf(srv.URL)
	default:
		return nil, fmt.Errorf("protected resource metadata: %w", err)
	}
	var asm struct {
		Issuer               string   `json:"issuer"`
		AuthURL              string   `json:"authorization_endpoint"`
		TokenURL             string   `json:"token_endpoint"`
		RegistrationURL      string   `json:"registration_endpoint"`
		RevokeURL            string   `json:"revocation_endpoint"`
		ChallengeMethods     []string `json:"code_challenge_methods_supported"`
		TokenEndpointMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	asmWhere := issuerMetadata(issuer)
	if legacy {
		// 2025-03-26: RFC 8414 metadata at the base URL's root only.
		asmWhere = asmWhere[:1]
	}
	switch err := m.getFirst(ctx, hc, asmWhere, &asm); {
	case err == nil && legacy:
		// The base URL is the server's origin, and the document is served
		// there: an issuer at another origin is refused; one on a path of
		// that origin (RFC 8414's exact match cannot hold for a document
		// read at the root) is the origin's own.
		if asm.Issuer == "" || originOf(asm.Issuer) != issuer || m.checkURL(srv, "issuer", asm.Issuer) != nil {
			return nil, fmt.Errorf("authorization server metadata at the server's root names issuer %q, not one of %q", truncate(asm.Issuer, 200), issuer)
		}
		issuer = asm.Issuer
	case err == nil:
		// RFC 8414 section 3.3: the issuer must be the one asked about.
		if asm.Issuer != issuer {
			return nil, fmt.Errorf("authorization server metadata names issuer %q, not %q", truncate(asm.Issuer, 200), issuer)
		}
	case legacy && errors.Is(err, errNoMetadata) && srv.DefaultEndpoints:
		// 2025-03-26, a server without any metadata: the default endpoints
		// at its origin, where the operator vouched for them. Nothing
		// advertises PKCE; the revision requires it (OAuth 2.1), and the
		// hub sends S256 as always.
		asm.AuthURL, asm.TokenURL, asm.RegistrationURL = issuer+"/authorize", issuer+"/token", issuer+"/register"
		asm.ChallengeMethods = []string{"S256"}
	case legacy && errors.Is(err, errNoMetadata):
		return nil, errors.New("the server publishes no authorization metadata (an MCP 2025-03-26 server): its default endpoints /authorize, /token and /register are used only with oauth_default_endpoints")
	default:
		return nil, fmt.Errorf("authorization server metadata: %w", err)
	}
	// The MCP specification: without S256 advertised, refuse to proceed.
	if !slices.Contains(asm.ChallengeMethods, "S256") {
		return nil, errors.New("the authorization server does not advertise PKCE S256")
	}
	for what, u := range map[string]string{"authorization_endpoint": asm.AuthURL, "token_endpoint": asm.TokenURL} {
		if err := m.checkURL(srv, what, u); err != nil {
			return nil, err
		}
	}
	if asm.RevokeURL != "" && m.checkURL(srv, "revocation_endpoint", asm.RevokeURL) != nil {
		asm.RevokeURL = ""
	}
	var client mcpClient
	if srv.Client != nil {
		var err error
		if client, err = preRegistered(*srv.Client, issuer, asm.TokenEndpointMethods); err != nil {
			return nil, err
		}
	} else {
		if asm.RegistrationURL == "" {
			return nil, errors.New("the authorization server offers no dynamic client registration (registration_endpoint): configure a pre-registered client (oauth_client_id)")
		}
		if err := m.checkURL(srv, "registration_endpoint", asm.RegistrationURL); err != nil {
			return nil, err
		}
		method, err := authMethod(asm.TokenEndpointMethods)
		if err != nil {
			return nil, err
		}
		if client, err = m.register(ctx, hc, asm.RegistrationURL, method); err != nil {
			return nil, fmt.Errorf("dynamic client registration: %w", err)
		}
	}
	scopes := srv.Scopes
	if len(scopes) == 0 {
		scopes = strings.Fields(challengeScope)
	}
	if len(scopes) == 0 {
		scopes = prm.Scopes
	}
	a = &mcpAuth{Issuer: issuer, AuthURL: asm.AuthURL, TokenURL: asm.TokenURL, RevokeURL: asm.RevokeURL, Client: client,
		Scopes: scopes, registered: m.cfg.Now()}
	m.mu.Lock()
	m.auth[srv.App] = a
	m.mu.Unlock()
	m.log.Info("mcp authorization discovered", "app", srv.App, "issuer", issuer, "legacy", legacy)
	return a, nil
}

// challenge asks the server without a token and reads its 401's
// WWW-Authenticate: the resource_metadata URL and the scope, if named.
func (m *MCP) challenge(ctx context.Context, hc *http.Client, endpoint string) (metadata, scope string) {
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"secgpt","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return "", ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return "", ""
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxTokenAnswer))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return "", ""
	}
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		params := bearerParams(h)
		if params != nil {
			return params["resource_metadata"], params["scope"]
		}
	}
	return "", ""
}

// bearerParams reads the parameters of a Bearer challenge (RFC 6750
// section 3: auth-param = token "=" ( token / quoted-string )), or nil
// when h is not one. It reads at most 4 KiB.
func bearerParams(h string) map[string]string {
	if len(h) > 4096 {
		h = h[:4096]
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	out := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		after = strings.TrimSpace(after)
		var val string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			val, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			val, rest, _ = strings.Cut(after, ",")
			val = strings.TrimSpace(val)
		}
		if _, seen := out[name]; !seen {
			out[name] = val
		}
		rest = strings.TrimLeft(strings.TrimSpace(rest), ",")
		rest = strings.TrimSpace(rest)
	}
	return out
}

// preRegistered is the operator's client at issuer, authenticating as
// the authorization server takes it: with its secret (client_secret_basic,
// the default of RFC 8414, else client_secret_post), or without one as a
// public client. It refuses an issuer other than the one the client was
// registered at, before anything is sent there.
func preRegistered(c MCPClient, issuer string, supported []string) (mcpClient, error) {
	if c.Issuer != "" && c.Issuer != issuer {
		return mcpClient{}, fmt.Errorf("the server names authorization server %q, not %q where its configured client is registered", truncate(issuer, 200), c.Issuer)
	}
	if c.Secret == "" {
		if len(supported) == 0 || slices.Contains(supported, "none") {
			return mcpClient{ID: c.ID, Method: "none", Configured: true}, nil
		}
		return mcpClient{}, fmt.Errorf("the authorization server takes no public clients (it lists %v): configure the client's secret", truncateList(supported))
	}
	if c.Issuer == "" {
		return mcpClient{}, errors.New("a configured client secret needs the issuer it is registered at")
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post"} {
		if len(supported) == 0 || slices.Contains(supported, m) {
			return mcpClient{ID: c.ID, Secret: c.Secret, Method: m, Configured: true}, nil
		}
	}
	return mcpClient{}, fmt.Errorf("the authorization server supports neither client_secret_basic nor client_secret_post (it lists %v)", truncateList(supported))
}

// scrub returns err with srv's configured client secret blanked out of its
// text: an authorization server's answer is third-party text, and one
// that echoes the secret must not put it into the operator's log.
func scrub(err error, srv MCPServer) error {
	if err == nil || srv.Client == nil || srv.Client.Secret == "" || !strings.Contains(err.Error(), srv.Client.Secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), srv.Client.Secret, "[client secret]"))
}

// authMethod picks how the hub's client authenticates at the token
// endpoint: as a public client ("none": the tokens are the user's, and
// PKCE binds each code to its flow) unless the server lists methods
// without it, then with the secret the registration issues.
func authMethod(supported []string) (string, error) {
	if len(supported) == 0 || slices.Contains(supported, "none") {
		return "none", nil
	}
	for _, m := range []string{"client_secret_basic", "client_secret_post"} {
		if slices.Contains(supported, m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("the authorization server supports none of the token endpoint authentication methods none, client_secret_basic, client_secret_post (it lists %v)", truncateList(supported))
}

func truncateList(l []string) []string {
	if len(l) > 8 {
		l = l[:8]
	}
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = truncate(x, 40)
	}
	return out
}

// register registers the hub as a client authenticating with method.
func (m *MCP) register(ctx context.Context, hc *http.Client, endpoint, method string) (mcpClient, error) {
	body, _ := json.Marshal(map[string]any{"client_name": "SecGPT", "redirect_uris": []string{m.cfg.RedirectURL},
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"token_endpoint_auth_method": method})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return mcpClient{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return mcpClient{}, err
	}
	defer resp.Body.Close()
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Method       string `json:"token_endpoint_auth_method"`
	}
	if resp.StatusCode/100 != 2 {
		return mcpClient{}, fmt.Errorf("http %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(&out); err != nil || out.ClientID == "" {
		return mcpClient{}, fmt.Errorf("no client_id in the answer (%v)", err)
	}
	c := mcpClient{ID: truncate(out.ClientID, 512), Secret: truncate(out.ClientSecret, 512), Method: method}
	if out.Method != "" && out.Method != method {
		if _, err := authMethod([]string{out.Method}); err != nil {
			return mcpClient{}, fmt.Errorf("registered with token endpoint authentication %q", truncate(out.Method, 40))
		}
		c.Method = out.Method
	}
	if c.Method != "none" && c.Secret == "" {
		return mcpClient{}, fmt.Errorf("registered for %s without a client_secret", c.Method)
	}
	return c, nil
}

// errNoMetadata is getFirst's error when every place answered 404: the
// server publishes no such metadata (not an outage, nor a refusal).
var errNoMetadata = errors.New("no metadata published")

// getFirst decodes the first of urls that answers 200 with JSON into v.
// When every one answered 404 its error wraps errNoMetadata.
func (m *MCP) getFirst(ctx context.Context, hc *http.Client, urls []string, v any) error {
	var errs []error
	missing := len(urls) > 0
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			errs, missing = append(errs, err), false
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			errs = append(errs, fmt.Errorf("%s: http %d", u, resp.StatusCode))
			missing = missing && resp.StatusCode == http.StatusNotFound
			continue
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(v)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
		return nil
	}
	if missing {
		return fmt.Errorf("%w: %w", errNoMetadata, errors.Join(errs...))
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute https URL without user info or fragment;
// http too with AllowHTTP, or when the operator configured srv itself at
// an http URL (an internal server without TLS: its authorization server
// gets no more protection than the server's own traffic).
func (m *MCP) checkURL(srv MCPServer, what, s string) error {
	plain := m.cfg.AllowHTTP || strings.HasPrefix(srv.URL, "http://")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || (u.Scheme != "https" && !(plain && u.Scheme == "http")) {
		return fmt.Errorf("%s %q is not an absolute https URL", what, truncate(s, 200))
	}
	return nil
}

// wellKnown lists where RFC 8414 and RFC 9728 put the metadata of the
// resource or issuer at base: the well-known name inserted between host
// and path, then at the root.
func wellKnown(base, name string) []string {
	u, err := url.Parse(base)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	root := u.Scheme + "://" + u.Host + "/.well-known/" + name
	if path == "" {
		return []string{root}
	}
	return []string{root + path, root}
}

// issuerMetadata lists where an authorization server's metadata may be,
// in the order the MCP specification gives: for an issuer with a path,
// RFC 8414's and OpenID Connect's well-known names inserted before the
// path, then OpenID Connect's appended to it (never the host's root, which
// belongs to another issuer); for one without, both at the root.
func issuerMetadata(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	root := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		return []string{root + "/.well-known/oauth-authorization-server", root + "/.well-known/openid-configuration"}
	}
	return []string{root + "/.well-known/oauth-authorization-server" + path, root + "/.well-known/openid-configuration" + path,
		root + path + "/.well-known/openid-configuration"}
}

// originOf is the scheme and host of s.
func originOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (m *MCP) getSealed(ctx context.Context, user ids.UserID, key, aad string, v any) (bool, error) {
	return getSealed(ctx, m.st, m.seal, user, key, aad, v)
}

func (m *MCP) putSealed(ctx context.Context, user ids.UserID, key, aad string, v any) error {
	return putSealed(ctx, m.st, m.seal, user, key, aad, v)
}

// ServeHTTP completes a sign-in: the authorization server redirects the
// user's browser here with the code and the state of the consent link.
func (m *MCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, ok := callbackQuery(w, r, "The server did not sign you in (%s). You can ask again in the chat.")
	if !ok {
		return
	}
	var st mcpState
	plain, err := m.seal.open(q.Get("state"), []byte(aadMCPState))
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	srv, known := m.servers[st.App]
	if err != nil || !known || st.User == "" || st.Verifier == "" || m.cfg.Now().Unix() > st.Expires {
		page(w, http.StatusBadRequest, "This sign-in link is invalid or has expired. Ask again in the chat.")
		return
	}
	code := q.Get("code")
	if code == "" {
		page(w, http.StatusBadRequest, "No authorization code came back. Ask again in the chat.")
		return
	}
	ctx := r.Context()
	var p mcpPending
	ok, err = m.getSealed(ctx, st.User, pendingKeyOf(st.App), aadMCPPending, &p)
	if err != nil || !ok || p.Nonce != st.Nonce || m.cfg.Now().Unix() > p.Expires {
		page(w, http.StatusBadRequest, "This sign-in link no longer works: it was used already, or a newer link or !disconnect replaced it. Ask again in the chat.")
		return
	}
	if err := m.st.PutAppState(ctx, st.User, Namespace, pendingKeyOf(st.App), json.RawMessage("null")); err != nil {
		page(w, http.StatusInternalServerError, "The sign-in could not be completed. Please try again later.")
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {m.cfg.RedirectURL},
		"code_verifier": {st.Verifier}, "resource": {srv.URL}}
	basic := clientOf(srv, p.Client).authenticate(form)
	tok, _, err := postToken(ctx, m.client(srv), p.TokenURL, form, basic, m.cfg.Now())
	if err != nil {
		m.log.Warn("mcp code exchange", "app", st.App, "user", st.User, "err", scrub(err, srv))
		page(w, http.StatusBadGateway, "The server did not accept the sign-in. Ask again in the chat.")
		return
	}
	rec := mcpRecord{Token: *tok, TokenURL: p.TokenURL, Revoke: p.Revoke, Client: p.Client.stored(), Linked: m.cfg.Now().UTC()}
	if err := m.putSealed(ctx, st.User, tokenKeyOf(st.App), aadMCPToken, rec); err != nil {
		m.log.Error("store mcp token", "app", st.App, "user", st.User, "err", err)
		page(w, http.StatusInternalServerError, "Your sign-in could not be saved. Please try again later.")
		return
	}
	m.log.Info("mcp server signed in", "app", st.App, "user", st.User)
	if m.cfg.Linked != nil {
		m.cfg.Linked(ctx, Link{Provider: string(st.App), User: st.User})
	}
	page(w, http.StatusOK, "You are signed in to "+string(st.App)+". You can close this tab and go back to the chat.")
}

var _ http.Handler = (*MCP)(nil)
