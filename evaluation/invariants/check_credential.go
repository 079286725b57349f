package invariants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"

	"golang.org/x/oauth2"

	"github.com/secgpt-go/secgpt/apps/googlefake"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/connect"
)

// InvCredential: a spoke receives a linked-account token only when its app
// may have one, only its own user's, and carrying only its app's scopes.
const InvCredential = "I12 credential"

// credentialScopes are the scopes each hostile app's token carries: two
// apps with different ones, the others none.
var credentialScopes = map[ids.AppID][]string{
	appA: {connect.ScopeGmailReadonly},
	appB: {connect.ScopeGmailSend},
}

// accountOf is the Google account each episode user linked.
func accountOf(u ids.UserID) string { return string(u)[len("inv:"):] + "@inv.example" }

// episodeAccounts is an episode's Google link: the real ops/connect
// against a local fake Google, every user linked and every allowed app's
// scopes granted, so that what reaches the spokes is decided by the hub
// and connect alone.
type episodeAccounts struct {
	g    *connect.Google
	fake *googlefake.Server
	cb   *httptest.Server
}

// newEpisodeAccounts links users and grants the apps' scopes.
func newEpisodeAccounts(ctx context.Context, st state.Store, users []ids.UserID) (*episodeAccounts, error) {
	ea := &episodeAccounts{fake: googlefake.Start("inv-client", "inv-secret")}
	mux := http.NewServeMux()
	ea.cb = httptest.NewServer(mux)
	g, err := connect.New(connect.Config{ClientID: ea.fake.ClientID, ClientSecret: ea.fake.Secret,
		RedirectURL: ea.cb.URL + connect.CallbackPath, Apps: credentialScopes, Key: bytes.Repeat([]byte{11}, connect.KeySize),
		Endpoint:  oauth2.Endpoint{AuthURL: ea.fake.URL + googlefake.AuthPath, TokenURL: ea.fake.URL + googlefake.TokenPath, AuthStyle: oauth2.AuthStyleInParams},
		RevokeURL: ea.fake.URL + googlefake.RevokePath, UserinfoURL: ea.fake.URL + googlefake.UserinfoPath,
		// No idle connections: the hub refreshes inside an episode's
		// turns, and a kept connection's goroutines would outlive it (I5).
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		Logger:     slog.New(slog.DiscardHandler)}, st)
	if err != nil {
		ea.close()
		return nil, err
	}
	ea.g = g
	mux.Handle("GET "+connect.CallbackPath, g)
	for _, u := range users {
		link, err := g.ConnectURL(ctx, connect.ProviderGoogle, u, "inv")
		if err == nil {
			err = consent(link, accountOf(u))
		}
		for _, app := range []ids.AppID{appA, appB} {
			if err != nil {
				break
			}
			_, cerr := g.Credential(ctx, u, app)
			var ce *connect.ConsentError
			if !errors.As(cerr, &ce) {
				err = fmt.Errorf("grant %s: %v", app, cerr)
				break
			}
			err = consent(ce.URL, accountOf(u))
		}
		if err != nil {
			ea.close()
			return nil, fmt.Errorf("link %s: %w", u, err)
		}
	}
	return ea, nil
}

// consent is the user's browser at the fake Google.
func consent(link, account string) error {
	req, err := http.NewRequest(http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	req.Header.Set(googlefake.AccountHeader, account)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("consent: http %d", resp.StatusCode)
	}
	return nil
}

func (ea *episodeAccounts) close() {
	if ea.cb != nil {
		ea.cb.Close()
	}
	ea.fake.Close()
}

// check reads every init frame a spoke received.
func (ea *episodeAccounts) check(evs []*event) []Violation {
	return checkCredentials(evs, func(tok string) (string, []string) {
		return ea.fake.TokenAccount(tok), ea.fake.TokenScopes(tok)
	})
}

// checkCredentials checks the credential of every init frame against
// lookup (a token's account and scopes at the issuer).
func checkCredentials(evs []*event, lookup func(token string) (account string, scopes []string)) []Violation {
	var vs []Violation
	add := func(cause, format string, a ...any) {
		vs = append(vs, Violation{Invariant: InvCredential, Cause: cause, Detail: cause + ": " + fmt.Sprintf(format, a...)})
	}
	userOf := map[int]ids.UserID{}
	for _, e := range evs {
		if e.kind == evSpokeStart {
			userOf[e.pid] = e.user
		}
		if e.kind != evFrameIn || e.frame != isc.KindInit {
			continue
		}
		var f struct {
			Body isc.Init `json:"body"`
		}
		if err := json.Unmarshal([]byte(e.text), &f); err != nil || f.Body.Credential == nil {
			continue
		}
		c, user := f.Body.Credential, userOf[e.pid]
		want, allowed := credentialScopes[e.app]
		if !allowed {
			add("unallowed app", "app %s (user %s, #%d) received an access token", e.app, user, e.seq)
			continue
		}
		account, scopes := lookup(c.AccessToken)
		if user == "" || account != accountOf(user) {
			add("other user", "app %s of user %s (#%d) received a token of account %q", e.app, user, e.seq, account)
		}
		if !slices.Equal(scopes, want) {
			add("scopes", "app %s (user %s, #%d) received a token carrying %v, want %v", e.app, user, e.seq, scopes, want)
		}
	}
	return vs
}
