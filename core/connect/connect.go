// Package connect links a chat user's Google account to the hub.
//
// "!connect google" gets a consent link (OAuth 2.0 authorization code with
// PKCE); its state is sealed with the hub's key and names the user and the
// conversation that asked, so the callback needs no server-side session and
// works on any replica. The callback (an http.Handler, mounted at
// CallbackPath on the bot's public listener, or on a loopback listener for
// the terminal) exchanges the code and stores the token for that user,
// sealed with AES-256-GCM. Before an app the operator lets use the account
// runs, the hub asks for a Credential: a fresh access token (refreshed here,
// in the hub) for that one invocation; the refresh token and the client
// secret never leave the hub. "!disconnect google" deletes the token and
// revokes it at Google.
//
// Only bot/ wiring and tests import this package; the hub reaches it
// through its own Accounts interface.
package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
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

// tokenKey is the key of a user's Google token in Namespace.
const tokenKey = "google"

// DefaultRevokeURL is Google's token revocation endpoint.
const DefaultRevokeURL = "https://oauth2.googleapis.com/revoke"

// DefaultScopes are what the mail apps (read, send, move to trash) and the
// drive app (read) need.
var DefaultScopes = []string{
	"https://www.googleapis.com/auth/gmail.modify",
	"https://www.googleapis.com/auth/drive.readonly",
}

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
	// Scopes default to DefaultScopes.
	Scopes []string
	// Apps are the apps that may receive the user's access token. Every
	// other app gets none.
	Apps []ids.AppID
	// Key seals states and tokens (KeySize bytes; see ParseKey).
	Key []byte
	// Endpoint defaults to Google's (google.Endpoint); tests point it at a
	// local server.
	Endpoint oauth2.Endpoint
	// RevokeURL defaults to DefaultRevokeURL.
	RevokeURL string
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

// Google links users' Google accounts. It implements the hub's Accounts
// interface and is the http.Handler of the OAuth callback.
type Google struct {
	cfg  Config
	oc   oauth2.Config
	seal *sealer
	st   Store
	apps map[ids.AppID]bool
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
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = slices.Clone(DefaultScopes)
	}
	if cfg.Endpoint.AuthURL == "" && cfg.Endpoint.TokenURL == "" {
		cfg.Endpoint = google.Endpoint
	}
	if cfg.RevokeURL == "" {
		cfg.RevokeURL = DefaultRevokeURL
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
	g := &Google{cfg: cfg, seal: s, st: st, apps: map[ids.AppID]bool{}, log: cfg.Logger.With("component", "connect.google")}
	for _, a := range cfg.Apps {
		g.apps[a] = true
	}
	g.oc = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: cfg.Endpoint, RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes}
	return g, nil
}

// Additional data of the two kinds of sealed values.
const (
	aadState = "secgpt/connect/google/state/v1"
	aadToken = "secgpt/connect/google/token/v1\x00"
)

// oauthState is what the consent link's state carries, sealed.
type oauthState struct {
	User     ids.UserID         `json:"u"`
	Conv     ids.ConversationID `json:"c"`
	Verifier string             `json:"v"`
	Expires  int64              `json:"e"` // unix seconds
}

// record is a user's stored link, sealed.
type record struct {
	Token  oauth2.Token       `json:"token"`
	Conv   ids.ConversationID `json:"conversation,omitempty"`
	Linked time.Time          `json:"linked"`
	// State identifies the consent that made this record, so the same
	// callback URL cannot be replayed over it.
	State string `json:"state"`
}

// ConnectURL returns the consent link for user, bound to conv.
func (g *Google) ConnectURL(_ context.Context, provider string, user ids.UserID, conv ids.ConversationID) (string, error) {
	if provider != ProviderGoogle {
		return "", ErrUnknownProvider
	}
	if user == "" {
		return "", errors.New("connect google: no user")
	}
	v := oauth2.GenerateVerifier()
	b, err := json.Marshal(oauthState{User: user, Conv: conv, Verifier: v, Expires: g.cfg.Now().Add(g.cfg.StateTTL).Unix()})
	if err != nil {
		return "", fmt.Errorf("connect google: encode state: %w", err)
	}
	st := g.seal.seal(b, []byte(aadState))
	return g.oc.AuthCodeURL(st, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(v),
		// Consent every time, so that Google sends a refresh token again
		// after a disconnect.
		oauth2.SetAuthURLParam("prompt", "consent")), nil
}

// Connected reports whether user has a linked Google account.
func (g *Google) Connected(ctx context.Context, user ids.UserID) (bool, error) {
	_, ok, err := g.load(ctx, user)
	return ok, err
}

// Credential returns a fresh access token of user's Google account for one
// invocation of app, or nil when app may not have it or user linked none. It
// may refresh the token at Google (network I/O) and store the new one.
func (g *Google) Credential(ctx context.Context, user ids.UserID, app ids.AppID) (*isc.Credential, error) {
	if !g.apps[app] {
		return nil, nil
	}
	rec, ok, err := g.load(ctx, user)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	tok := rec.Token
	now := g.cfg.Now()
	if tok.AccessToken == "" || (!tok.Expiry.IsZero() && tok.Expiry.Sub(now) < g.cfg.MinLifetime) {
		if tok.RefreshToken == "" {
			return nil, ErrRelink
		}
		// A token without an access token is one oauth2 refreshes at once.
		fresh, err := g.oc.TokenSource(g.clientCtx(ctx), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			g.log.Warn("refresh google token", "user", user, "err", err)
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				return nil, ErrRelink
			}
			return nil, fmt.Errorf("refresh google token: %w", err)
		}
		rec.Token = *fresh
		if err := g.save(ctx, user, rec); err != nil {
			return nil, err
		}
		tok = *fresh
	}
	return &isc.Credential{Provider: ProviderGoogle, AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: tok.Expiry}, nil
}

// Disconnect deletes user's token and asks Google to revoke it; false means
// none was linked. A failed revocation is logged: the token is gone from
// here either way.
func (g *Google) Disconnect(ctx context.Context, provider string, user ids.UserID) (bool, error) {
	if provider != ProviderGoogle {
		return false, ErrUnknownProvider
	}
	rec, ok, err := g.load(ctx, user)
	if errors.Is(err, errOpen) {
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

func (g *Google) load(ctx context.Context, user ids.UserID) (record, bool, error) {
	raw, ok, err := g.st.GetAppState(ctx, user, Namespace, tokenKey)
	if err != nil {
		return record{}, false, fmt.Errorf("read google token: %w", err)
	}
	var sealed string
	if !ok || string(raw) == "null" || json.Unmarshal(raw, &sealed) != nil || sealed == "" {
		return record{}, false, nil
	}
	plain, err := g.seal.open(sealed, []byte(aadToken+string(user)))
	if err != nil {
		g.log.Warn("stored google token does not open (key changed?)", "user", user)
		return record{}, false, fmt.Errorf("%w: %w", ErrRelink, err)
	}
	var rec record
	if err := json.Unmarshal(plain, &rec); err != nil {
		return record{}, false, fmt.Errorf("%w: decode stored token: %w", ErrRelink, err)
	}
	return rec, true, nil
}

func (g *Google) save(ctx context.Context, user ids.UserID, rec record) error {
	plain, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode google token: %w", err)
	}
	v, _ := json.Marshal(g.seal.seal(plain, []byte(aadToken+string(user))))
	if err := g.st.PutAppState(ctx, user, Namespace, tokenKey, v); err != nil {
		return fmt.Errorf("store google token: %w", err)
	}
	return nil
}

// maxQuery bounds the callback's query string (a sealed state is a few
// hundred bytes, Google's code about a hundred).
const maxQuery = 8 << 10

// ServeHTTP completes the exchange: Google redirects the user's browser
// here with the code and the state of the consent link.
func (g *Google) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		page(w, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	if len(r.URL.RawQuery) > maxQuery {
		page(w, http.StatusRequestURITooLong, "This link is too long to be a Google sign-in.")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		page(w, http.StatusBadRequest, "Google did not link your account ("+truncate(e, 80)+"). You can ask again with !connect google in the chat.")
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
	stateID := stateDigest(q.Get("state"))
	if rec, ok, err := g.load(r.Context(), st.User); err == nil && ok && rec.State == stateID {
		page(w, http.StatusConflict, "This sign-in link was already used; your account is linked.")
		return
	}
	tok, err := g.oc.Exchange(g.clientCtx(r.Context()), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		g.log.Warn("google code exchange", "user", st.User, "err", err)
		page(w, http.StatusBadGateway, "Google did not accept the sign-in. Ask again with !connect google in the chat.")
		return
	}
	if tok.RefreshToken == "" {
		g.log.Warn("google sent no refresh token; the link works until the access token expires", "user", st.User)
	}
	if err := g.save(r.Context(), st.User, record{Token: *tok, Conv: st.Conv, Linked: g.cfg.Now().UTC(), State: stateID}); err != nil {
		g.log.Error("store google token", "user", st.User, "err", err)
		page(w, http.StatusInternalServerError, "Your account could not be saved. Please try again later.")
		return
	}
	g.log.Info("google account linked", "user", st.User, "conversation", st.Conv)
	page(w, http.StatusOK, "Your Google account is linked. You can close this tab and go back to the chat.")
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
