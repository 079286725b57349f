package connect

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/secgpt-go/secgpt/apps/googlefake"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

const (
	alice = ids.UserID("slack:T1:alice")
	bob   = ids.UserID("slack:T1:bob")
	conv  = ids.ConversationID("slack:T1:C1")
	mail  = ids.AppID("search_gmail")
	send  = ids.AppID("send_gmail_message")
	other = ids.AppID("weather")
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

type rig struct {
	fake  *googlefake.Server
	cb    *httptest.Server
	g     *Google
	st    *memstore.Store
	now   time.Time
	clock func() time.Time

	mu    sync.Mutex // guards links
	links []Link     // what Config.Linked reported
}

// newRig starts the fake Google, a callback listener and a Google linker
// whose redirect URL is that listener.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{fake: googlefake.Start("client-1.apps.googleusercontent.com", "secret-1"), st: memstore.New(memstore.Options{}), now: time.Now()}
	t.Cleanup(r.fake.Close)
	r.clock = func() time.Time { return r.now }
	mux := http.NewServeMux()
	r.cb = httptest.NewServer(mux)
	t.Cleanup(r.cb.Close)
	g, err := New(Config{
		ClientID: r.fake.ClientID, ClientSecret: r.fake.Secret,
		RedirectURL: r.cb.URL + CallbackPath,
		Apps:        map[ids.AppID][]string{mail: {ScopeGmailReadonly}, send: {ScopeGmailSend}},
		Key:         testKey(7),
		Endpoint:    oauth2.Endpoint{AuthURL: r.fake.URL + googlefake.AuthPath, TokenURL: r.fake.URL + googlefake.TokenPath, AuthStyle: oauth2.AuthStyleInParams},
		RevokeURL:   r.fake.URL + googlefake.RevokePath,
		UserinfoURL: r.fake.URL + googlefake.UserinfoPath,
		Now:         func() time.Time { return r.clock() },
		Linked: func(_ context.Context, l Link) {
			r.mu.Lock()
			r.links = append(r.links, l)
			r.mu.Unlock()
		},
	}, r.st)
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	mux.Handle("GET "+CallbackPath, g)
	return r
}

// browse is the user's browser: it opens link signed in to Google as
// account and follows the redirect back to the callback.
func browse(t *testing.T, link, account string) (int, string) {
	t.Helper()
	return browseWith(t, googlefake.AccountHeader, link, account)
}

// browseWith is browse at a fake whose signed-in account is named in
// header.
func browseWith(t *testing.T, header, link, account string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, account)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callbackURL opens link at the fake without following the redirect, and
// returns where Google sends the browser.
func callbackURL(t *testing.T, link, account string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set(googlefake.AccountHeader, account)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("consent answered %d, want a redirect", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *rig) link(t *testing.T, user ids.UserID, account string) {
	t.Helper()
	u, err := r.g.ConnectURL(context.Background(), ProviderGoogle, user, conv)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := browse(t, u, account); code != http.StatusOK || !strings.Contains(body, "linked") {
		t.Fatalf("callback answered %d %q", code, body)
	}
}

// grant asks for app's credential, which the linked grant lacks the scopes
// of, opens the consent link it answers with as account, and returns the
// credential asked for again.
func (r *rig) grant(t *testing.T, user ids.UserID, app ids.AppID, account string) *isc.Credential {
	t.Helper()
	ctx := context.Background()
	_, err := r.g.Credential(ctx, user, app)
	var ce *ConsentError
	if !errors.As(err, &ce) {
		t.Fatalf("credential for %s before its consent: %v, want a *ConsentError", app, err)
	}
	if !strings.Contains(err.Error(), ce.URL) {
		t.Fatalf("the consent error does not show its link: %q", err)
	}
	if code, body := browse(t, ce.URL, account); code != http.StatusOK {
		t.Fatalf("consent for %s: %d %s", app, code, body)
	}
	c, err := r.g.Credential(ctx, user, app)
	if err != nil || c == nil {
		t.Fatalf("credential for %s after its consent: %+v %v", app, c, err)
	}
	return c
}

func TestConnectURL(t *testing.T) {
	r := newRig(t)
	u, err := r.g.ConnectURL(context.Background(), ProviderGoogle, alice, conv)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	for k, want := range map[string]string{
		"client_id": r.fake.ClientID, "redirect_uri": r.cb.URL + CallbackPath, "response_type": "code",
		"code_challenge_method": "S256", "access_type": "offline", "prompt": "consent",
		"scope": strings.Join(IdentityScopes, " "),
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge %q is not a S256 challenge", q.Get("code_challenge"))
	}
	// The state hides who asked and the PKCE verifier.
	if st := q.Get("state"); strings.Contains(st, "alice") || strings.Contains(u, "code_verifier") {
		t.Errorf("state shows what it carries: %q", st)
	}
	if _, err := r.g.ConnectURL(context.Background(), "github", alice, conv); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("github: err %v, want ErrUnknownProvider", err)
	}
}

func TestLinkCredentialDisconnect(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.link(t, alice, "alice@example.com")

	// Stored sealed: no token in the clear.
	raw, ok, err := r.st.GetAppState(ctx, alice, Namespace, tokenKey)
	if err != nil || !ok {
		t.Fatalf("stored token: ok %v err %v", ok, err)
	}
	for _, tok := range r.fake.AccessTokens() {
		if bytes.Contains(raw, []byte(tok)) {
			t.Fatal("access token stored in the clear")
		}
	}
	if bytes.Contains(raw, []byte("refresh")) || bytes.Contains(raw, []byte("ya29")) {
		t.Fatalf("token stored in the clear: %s", raw)
	}

	c := r.grant(t, alice, mail, "alice@example.com")
	if c.Provider != ProviderGoogle || c.TokenType != "Bearer" || !containsStr(r.fake.AccessTokens(), c.AccessToken) {
		t.Fatalf("credential %+v is not a live access token of the fake", c)
	}
	for _, tc := range []struct {
		name string
		user ids.UserID
		app  ids.AppID
	}{
		{"another app", alice, other},
		{"another user", bob, mail},
	} {
		c, err := r.g.Credential(ctx, tc.user, tc.app)
		if err != nil || c != nil {
			t.Errorf("%s: got %+v %v, want nothing", tc.name, c, err)
		}
	}

	ok, err = r.g.Disconnect(ctx, ProviderGoogle, alice)
	if err != nil || !ok {
		t.Fatalf("disconnect: %v %v", ok, err)
	}
	if len(r.fake.Revoked()) != 1 || len(r.fake.AccessTokens()) != 0 {
		t.Errorf("revoked %v, live tokens %v: want the grant revoked", r.fake.Revoked(), r.fake.AccessTokens())
	}
	if c, err := r.g.Credential(ctx, alice, mail); err != nil || c != nil {
		t.Errorf("after disconnect: %+v %v", c, err)
	}
	if linked, _ := r.g.Connected(ctx, alice); linked {
		t.Error("still connected after disconnect")
	}
	if ok, err := r.g.Disconnect(ctx, ProviderGoogle, alice); ok || err != nil {
		t.Errorf("second disconnect: %v %v, want false nil", ok, err)
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.link(t, alice, "alice@example.com")
	r.fake.SetTokenLifetime(time.Minute) // below MinLifetime: refreshed before use
	first := r.grant(t, alice, mail, "alice@example.com")
	if r.fake.Refreshes() != 1 {
		t.Fatalf("%d refreshes, want one that minted the app's token", r.fake.Refreshes())
	}
	r.fake.SetTokenLifetime(time.Hour)
	c, err := r.g.Credential(ctx, alice, mail)
	if err != nil || c == nil {
		t.Fatalf("credential: %v %v", c, err)
	}
	if r.fake.Refreshes() != 2 || c.AccessToken == first.AccessToken {
		t.Fatalf("refreshes %d, token reused %v: want one more refresh and a new token", r.fake.Refreshes(), c.AccessToken == first.AccessToken)
	}
	// The refreshed token was stored: the next invocation needs no refresh.
	c2, err := r.g.Credential(ctx, alice, mail)
	if err != nil || c2.AccessToken != c.AccessToken || r.fake.Refreshes() != 2 {
		t.Fatalf("second credential %v %v, refreshes %d", c2, err, r.fake.Refreshes())
	}
	// Revoked at Google (say, from the account's security page): the user
	// is told to link again.
	r.fake.SetTokenLifetime(time.Minute)
	r.now = r.now.Add(2 * time.Hour)
	if err := revokeAll(t, r); err != nil {
		t.Fatal(err)
	}
	if _, err := r.g.Credential(ctx, alice, mail); !errors.Is(err, ErrRelink) {
		t.Fatalf("revoked grant: err %v, want ErrRelink", err)
	}
}

// revokeAll revokes alice's grant at the fake behind the linker's back.
func revokeAll(t *testing.T, r *rig) error {
	t.Helper()
	rec, ok, err := r.g.load(context.Background(), alice)
	if err != nil || !ok {
		return errors.Join(err, errors.New("no record"))
	}
	resp, err := http.PostForm(r.fake.URL+googlefake.RevokePath, url.Values{"token": {rec.Token.RefreshToken}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestCallbackRefuses(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	link := func() string {
		u, err := r.g.ConnectURL(ctx, ProviderGoogle, alice, conv)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	other, err := New(Config{ClientID: "x", RedirectURL: r.cb.URL + CallbackPath, Key: testKey(9)}, r.st)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.ConnectURL(ctx, ProviderGoogle, alice, conv)
	foreignState, _ := url.Parse(foreign)

	cb := callbackURL(t, link(), "alice@example.com")
	pu, _ := url.Parse(cb)
	code, state := pu.Query().Get("code"), pu.Query().Get("state")
	flipped := []byte(state)
	flipped[len(flipped)/2] ^= 1
	base := r.cb.URL + CallbackPath + "?"

	for _, tc := range []struct {
		name  string
		query url.Values
		want  int
	}{
		{"denied at Google", url.Values{"error": {"access_denied"}, "state": {state}}, http.StatusBadRequest},
		{"no state", url.Values{"code": {code}}, http.StatusBadRequest},
		{"tampered state", url.Values{"code": {code}, "state": {string(flipped)}}, http.StatusBadRequest},
		{"state of another key", url.Values{"code": {code}, "state": {foreignState.Query().Get("state")}}, http.StatusBadRequest},
		{"no code", url.Values{"state": {state}}, http.StatusBadRequest},
		{"code not issued", url.Values{"code": {"made-up"}, "state": {state}}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := get(t, base+tc.query.Encode()); got != tc.want {
				t.Errorf("status %d (%s), want %d", got, body, tc.want)
			}
			if linked, _ := r.g.Connected(ctx, alice); linked {
				t.Error("a refused callback linked the account")
			}
		})
	}
	// A code guessed wrongly above was burnt by the fake; get a fresh one.
	cb = callbackURL(t, link(), "alice@example.com")
	if got, body := get(t, cb); got != http.StatusOK {
		t.Fatalf("good callback: %d %s", got, body)
	}
	if got, _ := get(t, cb); got != http.StatusConflict {
		t.Errorf("replayed callback: %d, want 409", got)
	}
	// Expired link.
	late := callbackURL(t, link(), "alice@example.com")
	r.now = r.now.Add(DefaultStateTTL + time.Minute)
	if got, _ := get(t, late); got != http.StatusBadRequest {
		t.Errorf("expired state: %d, want 400", got)
	}
	resp, err := http.Post(cb, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestTokenBoundToUser(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.link(t, alice, "alice@example.com")
	raw, _, _ := r.st.GetAppState(ctx, alice, Namespace, tokenKey)
	// Copied under bob's name (a store-level attacker), alice's sealed
	// token does not open for bob.
	if err := r.st.PutAppState(ctx, bob, Namespace, tokenKey, raw); err != nil {
		t.Fatal(err)
	}
	if c, err := r.g.Credential(ctx, bob, mail); !errors.Is(err, ErrRelink) || c != nil {
		t.Fatalf("bob with alice's sealed token: %+v %v, want ErrRelink", c, err)
	}
	// Bob can still disconnect the unreadable record.
	if ok, err := r.g.Disconnect(ctx, ProviderGoogle, bob); !ok || err != nil {
		t.Fatalf("disconnect unreadable: %v %v", ok, err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	st := memstore.New(memstore.Options{})
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no client", Config{RedirectURL: "https://bot.example/cb", Key: testKey(1)}},
		{"no redirect", Config{ClientID: "c", Key: testKey(1)}},
		{"relative redirect", Config{ClientID: "c", RedirectURL: "/cb", Key: testKey(1)}},
		{"short key", Config{ClientID: "c", RedirectURL: "https://bot.example/cb", Key: []byte("short")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, st); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	k := testKey(0xab)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"base64", base64.StdEncoding.EncodeToString(k), true},
		{"base64url raw", base64.RawURLEncoding.EncodeToString(k), true},
		{"hex", strings.Repeat("ab", 32), true},
		{"spaces", "  " + base64.StdEncoding.EncodeToString(k) + "\n", true},
		{"empty", "", false},
		{"16 bytes", base64.StdEncoding.EncodeToString(k[:16]), false},
		{"not base64", "this is not a key!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !bytes.Equal(got, k) {
				t.Fatalf("key %x", got)
			}
		})
	}
}

func TestSealAAD(t *testing.T) {
	s, err := newSealer(testKey(3))
	if err != nil {
		t.Fatal(err)
	}
	v := s.seal([]byte("x"), []byte("a"))
	if _, err := s.open(v, []byte("b")); !errors.Is(err, errOpen) {
		t.Errorf("opened with other aad: %v", err)
	}
	if p, err := s.open(v, []byte("a")); err != nil || string(p) != "x" {
		t.Errorf("open: %q %v", p, err)
	}
}

func TestLoopback(t *testing.T) {
	if _, _, err := ListenLoopback("0.0.0.0:0"); err == nil {
		t.Error("a non-loopback address was accepted")
	}
	ln, redirect, err := ListenLoopback("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, CallbackPath) {
		t.Fatalf("redirect %q", redirect)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "cb") }))
	}()
	if code, body := get(t, redirect); code != http.StatusOK || body != "cb" {
		t.Errorf("callback on loopback: %d %q", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// FuzzCallback: whatever a browser (or anyone) sends to the callback, it
// never links an account without a state sealed by this hub.
func FuzzCallback(f *testing.F) {
	f.Add("code=x&state=y")
	f.Add("error=access_denied")
	f.Add("state=" + strings.Repeat("A", 200))
	f.Add("%zz&&==;")
	st := memstore.New(memstore.Options{})
	g, err := New(Config{ClientID: "c", RedirectURL: "http://127.0.0.1:1/cb", Key: testKey(5),
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1:1/auth", TokenURL: "http://127.0.0.1:1/token"}}, st)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth/google/callback", nil)
		req.URL.RawQuery = query
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code == http.StatusOK {
			t.Fatalf("query %q linked an account", query)
		}
	})
}

// FuzzOpenState: the state decoder refuses anything it did not seal.
func FuzzOpenState(f *testing.F) {
	g, err := New(Config{ClientID: "c", RedirectURL: "http://127.0.0.1:1/cb", Key: testKey(5)}, memstore.New(memstore.Options{}))
	if err != nil {
		f.Fatal(err)
	}
	u, _ := g.ConnectURL(context.Background(), ProviderGoogle, alice, conv)
	pu, _ := url.Parse(u)
	good := pu.Query().Get("state")
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, s string) {
		// Only states this key sealed open (the seeds come from another
		// process with the same key; base64 decoding ignores line breaks,
		// so other spellings of one may open too).
		if st, err := g.openState(s); err == nil && (st.User != alice || st.Conv != conv || st.Verifier == "") {
			t.Fatalf("opened a state it did not seal: %q → %+v", s, st)
		}
	})
}
