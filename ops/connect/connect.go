// Package connect links a chat user's Google account to the hub.
//
// "!connect google" gets a consent link (OAuth 2.0 authorization code with
// PKCE) for the account's identity only; its state is sealed with the hub's
// key and names the user and the conversation that asked. The link is bound
// to that request: the user's pending flow (a nonce, in the store, so any
// replica can serve the callback) must match, the callback consumes it, and
// a new "!connect", an incremental consent link or "!disconnect" replaces or
// deletes it, so a link works once and dies with the request. The callback
// (an http.Handler, mounted at CallbackPath on the bot's public listener,
// or on a loopback listener for the terminal) exchanges the code, learns
// which Google account consented (OpenID Connect userinfo), stores the
// grant for that user sealed with AES-256-GCM, and reports the link
// (Config.Linked) so the hub can tell the user which account it was.
//
// Scopes are asked for when first needed: an app the operator lets use the
// account has its own scopes (Config.Apps); when the grant lacks them,
// Credential answers with a consent link for just those scopes
// (include_granted_scopes, so the grant grows), which must come back from
// the same Google account. Before the app runs, the hub asks for a
// Credential: an access token minted here, in the hub, by a refresh that
// asks for only that app's scopes (RFC 6749 section 6), so a read-only
// app's spoke never holds a token that can send or delete. The refresh
// token and the client secret never leave the hub. "!disconnect google"
// deletes the grant and revokes it at Google.
//
// Only cli/ wiring, the evaluation (evaluation/invariants links accounts in
// episodes; evaluation/conformance runs the MCP authorization flow) and
// tests import this package; the hub reaches it through its own Accounts
// interface.
package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// ProviderGoogle names Google accounts in chat commands and credentials.
const ProviderGoogle = "google"

// CallbackPath is where Google sends the browser back after consent.
const CallbackPath = "/oauth/google/callback"

// Namespace is the state namespace the sealed tokens live in. It contains a
// character no app ID may contain, so no app's state requests can name it
// (and what is there is sealed for one user anyway).
const Namespace = "hub:accounts"

// tokenKey is the key of a user's Google token in Namespace; pendingKey
// that of the consent flow the user asked for last.
const (
	tokenKey   = "google"
	pendingKey = "google-pending"
)

// DefaultRevokeURL is Google's token revocation endpoint.
const DefaultRevokeURL = "https://oauth2.googleapis.com/revoke"

// DefaultUserinfoURL is Google's OpenID Connect userinfo endpoint.
const DefaultUserinfoURL = "https://openidconnect.googleapis.com/v1/userinfo"

// IdentityScopes are asked for with every consent: they name the account
// that consented, which the hub shows the user and checks on every later
// (incremental) consent.
var IdentityScopes = []string{"openid", "email"}

// Scopes of Google's APIs the bundled apps use, one per kind of access.
const (
	ScopeGmailReadonly = "https://www.googleapis.com/auth/gmail.readonly"
	ScopeGmailSend     = "https://www.googleapis.com/auth/gmail.send"
	ScopeGmailModify   = "https://www.googleapis.com/auth/gmail.modify"
	ScopeDriveReadonly = "https://www.googleapis.com/auth/drive.readonly"
)

// Defaults of Config.
const (
	DefaultStateTTL    = 10 * time.Minute
	DefaultMinLifetime = 5 * time.Minute
)

// PublicError is an error whose text is written for the chat user; the
// hub shows it (and nothing else of an error chain).
type PublicError struct{ msg string }

func (e *PublicError) Error() string { return e.msg }

// Public reports that the text may be shown to the user.
func (e *PublicError) Public() bool { return true }

// Errors returned to the hub; their text is safe to show in chat.
var (
	// ErrUnknownProvider is returned by ConnectURL and Disconnect for a
	// provider other than "google".
	ErrUnknownProvider error = &PublicError{"unknown account provider (only google can be connected)"}
	// ErrRelink is returned by Credential when the stored token can no
	// longer be used (expired without a refresh token, refused by Google,
	// or sealed with another key): the user has to connect again.
	ErrRelink error = &PublicError{"the linked Google account cannot be used any more; link it again with !connect google"}
)

// ConsentError is returned by Credential when the linked grant lacks the
// scopes the app needs: its text (safe to show) carries a consent link for
// them, bound to the user like "!connect google"'s.
type ConsentError struct {
	App    ids.AppID
	Scopes []string
	URL    string
}

func (e *ConsentError) Error() string {
	// The link is not last: whoever shows the text may end it with a period.
	return fmt.Sprintf("%s needs your permission to %s on your linked Google account. Open this link to give it:\n%s\nIt works once, for a few minutes, and only for you; then ask again",
		e.App, describeScopes(e.Scopes), e.URL)
}

// Public reports that the text may be shown to the user.
func (e *ConsentError) Public() bool { return true }

// LinkForUser is the text with the link, for the user alone (the hub posts
// it to the user's conversation and keeps it from other apps).
func (e *ConsentError) LinkForUser() string { return e.Error() }

// describeScopes says in words what scopes allow.
func describeScopes(scopes []string) string {
	words := map[string]string{ScopeGmailReadonly: "read your mail", ScopeGmailSend: "send mail as you",
		ScopeGmailModify: "change your mail (move it to the trash)", ScopeDriveReadonly: "read your Drive files"}
	var out []string
	for _, sc := range scopes {
		if w, ok := words[sc]; ok {
			out = append(out, w)
		} else {
			out = append(out, "use "+sc)
		}
	}
	return strings.Join(out, ", ")
}

// Store is the part of the hub's state store that keeps the sealed tokens
// (state.Store satisfies it).
type Store interface {
	GetAppState(ctx context.Context, user ids.UserID, ns string, key string) (json.RawMessage, bool, error)
	PutAppState(ctx context.Context, user ids.UserID, ns string, key string, value json.RawMessage) error
}

// Config configures the Google link.
type Config struct {
	// ClientID and ClientSecret are the OAuth client of the Google Cloud
	// project (a "Web application" client for a public callback, a
	// "Desktop" client for the loopback flow).
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback's full URL: the bot's public base URL
	// plus CallbackPath, or the loopback listener's (see ListenLoopback).
	RedirectURL string
	// Scopes are asked for at "!connect google" beside IdentityScopes;
	// empty means none, each app's scopes being asked for when it first
	// needs them.
	Scopes []string
	// Apps are the apps that may receive the user's access token, each
	// with the scopes its token carries (at least one). Every other app
	// gets none.
	Apps map[ids.AppID][]string
	// Key seals states and tokens (KeySize bytes; see ParseKey).
	Key []byte
	// Endpoint defaults to Google's (google.Endpoint); tests point it at a
	// local server.
	Endpoint oauth2.Endpoint
	// RevokeURL defaults to DefaultRevokeURL.
	RevokeURL string
	// UserinfoURL defaults to DefaultUserinfoURL.
	UserinfoURL string
	// Linked, if set, is called after an account is linked (or its grant
	// grown), from the callback's goroutine, so the hub can tell the user
	// which account it was. It must not block for long.
	Linked func(ctx context.Context, l Link)
	// HTTPClient makes the token and revocation calls; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// StateTTL bounds how long a consent link works.
	StateTTL time.Duration
	// MinLifetime: an access token with less left than this is refreshed
	// before it is handed to a spoke, so it outlives the invocation.
	MinLifetime time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Link is one completed consent, as Config.Linked (and MCPConfig.Linked)
// reports it.
type Link struct {
	// Provider is ProviderGoogle, or the MCP server's app ID.
	Provider string
	User     ids.UserID
	Conv     ids.ConversationID
	// Account is the Google account's email address; "" for an MCP
	// server, whose accounts have no standard name.
	Account string
	// Scopes are all the scopes the grant now carries.
	Scopes []string
	// Grown is true when the consent added scopes to the linked grant
	// rather than linking the account.
	Grown bool
}

// Google links users' Google accounts. It implements the hub's Accounts
// interface and is the http.Handler of the OAuth callback.
type Google struct {
	cfg  Config
	oc   oauth2.Config
	seal *sealer
	st   Store
	log  *slog.Logger
}

// New checks cfg and returns a Google.
func New(cfg Config, st Store) (*Google, error) {
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("google: no client_id")
	case cfg.RedirectURL == "":
		return nil, errors.New("google: no redirect URL (set google.redirect_base_url, or use the terminal's loopback listener)")
	case st == nil:
		return nil, errors.New("google: no store")
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("google: redirect URL %q is not an absolute http(s) URL", cfg.RedirectURL)
	}
	s, err := newSealer(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("google: token key: %w", err)
	}
	for app, sc := range cfg.Apps {
		if len(sc) == 0 {
			return nil, fmt.Errorf("google: app %s has no scopes", app)
		}
	}
	if cfg.Endpoint.AuthURL == "" && cfg.Endpoint.TokenURL == "" {
		cfg.Endpoint = google.Endpoint
	}
	if cfg.RevokeURL == "" {
		cfg.RevokeURL = DefaultRevokeURL
	}
	if cfg.UserinfoURL == "" {
		cfg.UserinfoURL = DefaultUserinfoURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.MinLifetime <= 0 {
		cfg.MinLifetime = DefaultMinLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Google{cfg: cfg, seal: s, st: st, log: cfg.Logger.With("component", "connect.google")}
	g.oc = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: cfg.Endpoint, RedirectURL: cfg.RedirectURL}
	return g, nil
}

// Additional data of the kinds of sealed values.
const (
	aadState   = "secgpt/connect/google/state/v1"
	aadToken   = "secgpt/connect/google/token/v1\x00"
	aadPending = "secgpt/connect/google/pending/v1\x00"
)

// oauthState is what the consent link's state carries, sealed.
type oauthState struct {
	User     ids.UserID         `json:"u"`
	Conv     ids.ConversationID `json:"c"`
	Verifier string             `json:"v"`
	Expires  int64              `json:"e"` // unix seconds
	// Nonce names the pending flow this link belongs to.
	Nonce string `json:"n"`
}

// pending is the consent flow a user asked for last, sealed. Only the link
// carrying its nonce completes, once.
type pending struct {
	Nonce   string   `json:"nonce"`
	Expires int64    `json:"expires"`
	Scopes  []string `json:"scopes"`
	// Grow marks a consent for more scopes of the linked account: it must
	// come back from that account.
	Grow bool `json:"grow,omitempty"`
}

// record is a user's stored link, sealed.
type record struct {
	// Token is the grant: its refresh token mints every access token. Its
	// own access token is never handed to a spoke.
	Token oauth2.Token `json:"token"`
	// Account and Subject name the Google account (userinfo's email and
	// sub).
	Account string `json:"account,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Granted are the scopes the grant carries.
	Granted []string `json:"granted,omitempty"`
	// Access holds the access tokens minted for each scope set (scopes
	// sorted, space-separated), so an app's token carries only its scopes.
	Access map[string]oauth2.Token `json:"access,omitempty"`
	Conv   ids.ConversationID      `json:"conversation,omitempty"`
	Linked time.Time               `json:"linked"`
	// State identifies the consent that made this record, so the same
	// callback URL cannot be replayed over it.
	State string `json:"state"`
}

// ConnectURL returns the consent link for user, bound to conv. It replaces
// the user's earlier pending link, which stops working.
func (g *Google) ConnectURL(ctx context.Context, provider string, user ids.UserID, conv ids.ConversationID) (string, error) {
	if provider != ProviderGoogle {
		return "", ErrUnknownProvider
	}
	if user == "" {
		return "", errors.New("connect google: no user")
	}
	return g.consentURL(ctx, user, conv, union(IdentityScopes, g.cfg.Scopes), false)
}

// consentURL records a new pending flow for user and returns its link.
// With grow the link asks for scopes on top of those already granted.
func (g *Google) consentURL(ctx context.Context, user ids.UserID, conv ids.ConversationID, scopes []string, grow bool) (string, error) {
	v := oauth2.GenerateVerifier()
	nonce := oauth2.GenerateVerifier()
	exp := g.cfg.Now().Add(g.cfg.StateTTL).Unix()
	if err := g.putSealed(ctx, user, pendingKey, aadPending, pending{Nonce: nonce, Expires: exp, Scopes: scopes, Grow: grow}); err != nil {
		return "", fmt.Errorf("connect google: %w", err)
	}
	b, err := json.Marshal(oauthState{User: user, Conv: conv, Verifier: v, Expires: exp, Nonce: nonce})
	if err != nil {
		return "", fmt.Errorf("connect google: encode state: %w", err)
	}
	st := g.seal.seal(b, []byte(aadState))
	oc := g.oc
	oc.Scopes = scopes
	opts := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(v),
		// Consent every time, so that Google sends a refresh token again
		// after a disconnect.
		oauth2.SetAuthURLParam("prompt", "consent")}
	if grow {
		opts = append(opts, oauth2.SetAuthURLParam("include_granted_scopes", "true"))
	}
	return oc.AuthCodeURL(st, opts...), nil
}

// Connected reports whether user has a linked Google account.
func (g *Google) Connected(ctx context.Context, user ids.UserID) (bool, error) {
	_, ok, err := g.load(ctx, user)
	return ok, err
}

// Credential returns an access token of user's Google account carrying
// only app's scopes, for one invocation of app, or nil when app may not
// have one or user linked no account. When the grant lacks app's scopes it
// returns a *ConsentError with a link that asks for them. It may refresh at
// Google (network I/O) and store the new token.
func (g *Google) Credential(ctx context.Context, user ids.UserID, app ids.AppID) (*isc.Credential, error) {
	scopes, ok := g.cfg.Apps[app]
	if !ok {
		return nil, nil
	}
	rec, ok, err := g.load(ctx, user)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	if missing := minus(scopes, rec.Granted); len(missing) > 0 {
		u, err := g.consentURL(ctx, user, rec.Conv, union(IdentityScopes, missing), true)
		if err != nil {
			return nil, err
		}
		return nil, &ConsentError{App: app, Scopes: missing, URL: u}
	}
	key := scopeKey(scopes)
	tok, ok := rec.Access[key]
	now := g.cfg.Now()
	if !ok || tok.AccessToken == "" || (!tok.Expiry.IsZero() && tok.Expiry.Sub(now) < g.cfg.MinLifetime) {
		if rec.Token.RefreshToken == "" {
			return nil, ErrRelink
		}
		fresh, err := g.refresh(ctx, rec.Token.RefreshToken, key)
		if err != nil {
			g.log.Warn("refresh google token", "user", user, "app", app, "err", err)
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				return nil, ErrRelink
			}
			return nil, fmt.Errorf("refresh google token: %w", err)
		}
		if fresh.RefreshToken != "" {
			rec.Token.RefreshToken = fresh.RefreshToken // rotated
		}
		fresh.RefreshToken = ""
		if rec.Access == nil {
			rec.Access = map[string]oauth2.Token{}
		}
		rec.Access[key] = *fresh
		if err := g.save(ctx, user, rec); err != nil {
			return nil, err
		}
		tok = *fresh
	}
	return &isc.Credential{Provider: ProviderGoogle, AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}, nil
}

// refresh mints an access token carrying only scope (space-separated) from
// the grant's refresh token (RFC 6749 section 6). golang.org/x/oauth2's
// refresh cannot name a scope, so the request is made here; its errors
// are oauth2's *RetrieveError, as the library's would be.
func (g *Google) refresh(ctx context.Context, refreshToken, scope string) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "scope": {scope}}
	var basic *clientAuth
	if g.cfg.Endpoint.AuthStyle == oauth2.AuthStyleInHeader {
		basic = &clientAuth{id: g.cfg.ClientID, secret: g.cfg.ClientSecret}
	} else {
		form.Set("client_id", g.cfg.ClientID)
		form.Set("client_secret", g.cfg.ClientSecret)
	}
	tok, granted, err := postToken(ctx, g.cfg.HTTPClient, g.cfg.Endpoint.TokenURL, form, basic, g.cfg.Now())
	if err != nil {
		return nil, err
	}
	// A server that ignored the narrowing must not hand a spoke more than
	// it asked for.
	if granted != "" {
		if extra := minus(strings.Fields(granted), strings.Fields(scope)); len(extra) > 0 {
			return nil, fmt.Errorf("the token endpoint granted %v beyond the scopes asked for", extra)
		}
	}
	return tok, nil
}

// Disconnect deletes user's token and pending consent link and asks Google
// to revoke the token; false means none was linked. A failed revocation is
// logged: the token is gone from here either way.
func (g *Google) Disconnect(ctx context.Context, provider string, user ids.UserID) (bool, error) {
	if provider != ProviderGoogle {
		return false, ErrUnknownProvider
	}
	if err := g.st.PutAppState(ctx, user, Namespace, pendingKey, json.RawMessage("null")); err != nil {
		return false, fmt.Errorf("cancel the google consent link: %w", err)
	}
	rec, ok, err := g.load(ctx, user)
	if errors.Is(err, errUnreadable) {
		ok, err = true, nil // sealed with another key: still delete it
	}
	if err != nil {
		return false, err
	}
	if !ok {
		return false, nil
	}
	if err := g.st.PutAppState(ctx, user, Namespace, tokenKey, json.RawMessage("null")); err != nil {
		return false, fmt.Errorf("delete google token: %w", err)
	}
	if t := cmpOr(rec.Token.RefreshToken, rec.Token.AccessToken); t != "" {
		if err := g.revoke(ctx, t); err != nil {
			g.log.Warn("revoke google token", "user", user, "err", err)
		}
	}
	return true, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (g *Google) revoke(ctx context.Context, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.RevokeURL, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("build revoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("revoke: http %d", resp.StatusCode)
	}
	return nil
}

func (g *Google) clientCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, g.cfg.HTTPClient)
}

// identity asks the userinfo endpoint which account tok belongs to.
func (g *Google) identity(ctx context.Context, tok *oauth2.Token) (email, subject string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.UserinfoURL, nil)
	if err != nil {
		return "", "", fmt.Errorf("build userinfo request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("get userinfo: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("userinfo: http %d", resp.StatusCode)
	}
	var ui struct {
		Sub   string `json:"sub"`
		Email string `json:"email"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(&ui); err != nil {
		return "", "", fmt.Errorf("decode userinfo: %w", err)
	}
	if ui.Sub == "" || ui.Email == "" {
		return "", "", errors.New("userinfo without sub or email")
	}
	return truncate(ui.Email, 320), truncate(ui.Sub, 255), nil
}

func (g *Google) load(ctx context.Context, user ids.UserID) (record, bool, error) {
	var rec record
	ok, err := g.getSealed(ctx, user, tokenKey, aadToken, &rec)
	if errors.Is(err, errUnreadable) {
		g.log.Warn("stored google token does not open (key changed?)", "user", user)
		return record{}, false, fmt.Errorf("%w: %w", ErrRelink, err)
	}
	if err != nil {
		return record{}, false, err
	}
	return rec, ok, nil
}

func (g *Google) save(ctx context.Context, user ids.UserID, rec record) error {
	return g.putSealed(ctx, user, tokenKey, aadToken, rec)
}

// getSealed reads and opens the value of user at key into v; false when
// there is none. A value sealed for another user or purpose does not open.
func (g *Google) getSealed(ctx context.Context, user ids.UserID, key, aad string, v any) (bool, error) {
	return getSealed(ctx, g.st, g.seal, user, key, aad, v)
}

// putSealed seals v for user and stores it at key.
func (g *Google) putSealed(ctx context.Context, user ids.UserID, key, aad string, v any) error {
	return putSealed(ctx, g.st, g.seal, user, key, aad, v)
}

// getSealed reads and opens the value of user at key in Namespace into v;
// false when there is none. A value sealed for another user or purpose
// does not open (errUnreadable).
func getSealed(ctx context.Context, st Store, s *sealer, user ids.UserID, key, aad string, v any) (bool, error) {
	raw, ok, err := st.GetAppState(ctx, user, Namespace, key)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	var sealed string
	if !ok || string(raw) == "null" || json.Unmarshal(raw, &sealed) != nil || sealed == "" {
		return false, nil
	}
	plain, err := s.open(sealed, []byte(aad+string(user)))
	if err != nil {
		return false, fmt.Errorf("%w: %s: %w", errUnreadable, key, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return false, fmt.Errorf("%w: decode %s: %w", errUnreadable, key, err)
	}
	return true, nil
}

// putSealed seals v for user and stores it at key in Namespace.
func putSealed(ctx context.Context, st Store, s *sealer, user ids.UserID, key, aad string, v any) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	b, _ := json.Marshal(s.seal(plain, []byte(aad+string(user))))
	if err := st.PutAppState(ctx, user, Namespace, key, b); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// errUnreadable: a stored value that does not open with this key for this
// user, or does not decode.
var errUnreadable = errors.New("stored value unreadable")

// takePending consumes user's pending flow if st belongs to it: a link
// works once, and only while it is the user's latest.
func (g *Google) takePending(ctx context.Context, st oauthState) (pending, error) {
	var p pending
	ok, err := g.getSealed(ctx, st.User, pendingKey, aadPending, &p)
	if err != nil {
		return p, err
	}
	if !ok || p.Nonce == "" || p.Nonce != st.Nonce || g.cfg.Now().Unix() > p.Expires {
		return p, errors.New("no pending consent with this link's nonce")
	}
	if err := g.st.PutAppState(ctx, st.User, Namespace, pendingKey, json.RawMessage("null")); err != nil {
		return p, fmt.Errorf("consume the consent link: %w", err)
	}
	return p, nil
}

// maxQuery bounds the callback's query string (a sealed state is a few
// hundred bytes, Google's code about a hundred).
const maxQuery = 8 << 10

// callbackQuery answers what every OAuth callback refuses (a method other
// than GET, an oversized query, the authorization server's error, shown
// with refused, a format with one %s) and otherwise returns the query.
func callbackQuery(w http.ResponseWriter, r *http.Request, refused string) (url.Values, bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		page(w, http.StatusMethodNotAllowed, "Method not allowed.")
		return nil, false
	}
	if len(r.URL.RawQuery) > maxQuery {
		page(w, http.StatusRequestURITooLong, "This link is too long to be a sign-in.")
		return nil, false
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		page(w, http.StatusBadRequest, fmt.Sprintf(refused, truncate(e, 80)))
		return nil, false
	}
	return q, true
}

// ServeHTTP completes the exchange: Google redirects the user's browser
// here with the code and the state of the consent link.
func (g *Google) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, ok := callbackQuery(w, r, "Google did not link your account (%s). You can ask again with !connect google in the chat.")
	if !ok {
		return
	}
	st, err := g.openState(q.Get("state"))
	if err != nil {
		g.log.Info("google callback with a bad state", "err", err)
		page(w, http.StatusBadRequest, "This sign-in link is invalid or has expired. Ask again with !connect google in the chat.")
		return
	}
	code := q.Get("code")
	if code == "" {
		page(w, http.StatusBadRequest, "Google sent no authorization code. Ask again with !connect google in the chat.")
		return
	}
	ctx := r.Context()
	stateID := stateDigest(q.Get("state"))
	old, linked, err := g.load(ctx, st.User)
	if err == nil && linked && old.State == stateID {
		page(w, http.StatusConflict, "This sign-in link was already used; your account is linked.")
		return
	}
	p, err := g.takePending(ctx, st)
	if err != nil {
		g.log.Info("google callback for a link that is no longer pending", "user", st.User, "err", err)
		page(w, http.StatusBadRequest, "This sign-in link no longer works: it was used already, or a newer link or !disconnect google replaced it. Ask again with !connect google in the chat.")
		return
	}
	tok, err := g.oc.Exchange(g.clientCtx(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		g.log.Warn("google code exchange", "user", st.User, "err", err)
		page(w, http.StatusBadGateway, "Google did not accept the sign-in. Ask again with !connect google in the chat.")
		return
	}
	email, sub, err := g.identity(ctx, tok)
	if err != nil {
		g.log.Warn("google userinfo", "user", st.User, "err", err)
		g.revokeQuietly(ctx, tok, st.User)
		page(w, http.StatusBadGateway, "Google did not say which account signed in, so nothing was linked. Ask again with !connect google in the chat.")
		return
	}
	if p.Grow && (!linked || old.Subject != sub) {
		// Only the linked account may grow its own grant: anyone else who
		// opens the link would otherwise swap their account in.
		g.log.Warn("google consent for more scopes came back from another account", "user", st.User)
		if !linked || old.Token.RefreshToken != tok.RefreshToken {
			g.revokeQuietly(ctx, tok, st.User)
		}
		page(w, http.StatusConflict, "This link was opened with a different Google account than the one linked, so nothing changed. Ask again in the chat.")
		return
	}
	if tok.RefreshToken == "" {
		g.log.Warn("google sent no refresh token; the link works until the access token expires", "user", st.User)
	}
	granted := strings.Fields(cmpOr(tokenScope(tok), strings.Join(p.Scopes, " ")))
	if p.Grow {
		// The grown grant keeps what it had, whatever the answer lists.
		granted = union(old.Granted, granted)
	}
	rec := record{Token: *tok, Account: email, Subject: sub, Granted: granted, Conv: st.Conv, Linked: g.cfg.Now().UTC(), State: stateID}
	if err := g.save(ctx, st.User, rec); err != nil {
		g.log.Error("store google token", "user", st.User, "err", err)
		page(w, http.StatusInternalServerError, "Your account could not be saved. Please try again later.")
		return
	}
	if linked && old.Subject != sub && old.Token.RefreshToken != "" {
		// Another account replaced the linked one: end the old grant.
		if err := g.revoke(ctx, old.Token.RefreshToken); err != nil {
			g.log.Warn("revoke the replaced google token", "user", st.User, "err", err)
		}
	}
	g.log.Info("google account linked", "user", st.User, "conversation", st.Conv, "grown", p.Grow)
	if g.cfg.Linked != nil {
		g.cfg.Linked(ctx, Link{Provider: ProviderGoogle, User: st.User, Conv: st.Conv, Account: email, Scopes: granted, Grown: p.Grow})
	}
	if p.Grow {
		page(w, http.StatusOK, "Your Google account "+email+" now allows "+describeScopes(minus(granted, IdentityScopes))+". You can close this tab and go back to the chat.")
		return
	}
	page(w, http.StatusOK, "Your Google account "+email+" is linked. You can close this tab and go back to the chat.")
}

// revokeQuietly revokes a token the callback will not keep.
func (g *Google) revokeQuietly(ctx context.Context, tok *oauth2.Token, user ids.UserID) {
	if t := cmpOr(tok.RefreshToken, tok.AccessToken); t != "" {
		if err := g.revoke(ctx, t); err != nil {
			g.log.Warn("revoke an unused google token", "user", user, "err", err)
		}
	}
}

// tokenScope is the scope a token answer says was granted.
func tokenScope(tok *oauth2.Token) string {
	s, _ := tok.Extra("scope").(string)
	return s
}

// scopeKey names a set of scopes: sorted, space-separated.
func scopeKey(scopes []string) string {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), " ")
}

// union returns a followed by those of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// minus returns those of a that b lacks.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (g *Google) openState(s string) (oauthState, error) {
	var st oauthState
	if s == "" {
		return st, errors.New("no state")
	}
	plain, err := g.seal.open(s, []byte(aadState))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(plain, &st); err != nil {
		return st, fmt.Errorf("decode state: %w", err)
	}
	if st.User == "" || st.Verifier == "" {
		return st, errors.New("state without user or verifier")
	}
	if g.cfg.Now().Unix() > st.Expires {
		return st, errors.New("state expired")
	}
	return st, nil
}

func stateDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// page writes a minimal HTML answer for the user's browser.
func page(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>SecGPT</title><p>%s</p>\n", html.EscapeString(msg))
}

var _ http.Handler = (*Google)(nil)
