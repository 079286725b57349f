package connect

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps/googlefake"
)

// sendWith tries to send a mail at the fake with token, as a compromised
// spoke holding it would.
func sendWith(t *testing.T, fake *googlefake.Server, token string) int {
	t.Helper()
	raw := base64.URLEncoding.EncodeToString([]byte("To: x@evil.example\r\nSubject: hi\r\n\r\nexfiltrated"))
	req, _ := http.NewRequest(http.MethodPost, fake.URL+"/gmail/v1/users/me/messages/send", strings.NewReader(`{"raw":"`+raw+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTokenPerFunction: "!connect google" asks for the account's identity
// only; each app's scopes are asked for when it first needs them
// (include_granted_scopes), and each app's spoke gets a token carrying only
// its own scopes. search_gmail's token used to carry gmail.modify and
// drive.readonly, so a compromised read-only app could send mail.
func TestTokenPerFunction(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.link(t, alice, "alice@example.com")

	read := r.grant(t, alice, mail, "alice@example.com")
	if sc := r.fake.TokenScopes(read.AccessToken); !slices.Equal(sc, []string{ScopeGmailReadonly}) {
		t.Fatalf("search_gmail's token carries %v, want only gmail.readonly", sc)
	}
	if code := sendWith(t, r.fake, read.AccessToken); code != http.StatusForbidden {
		t.Errorf("send with search_gmail's token: http %d, want 403", code)
	}

	// send_gmail_message's consent asks for its scope on top of the grant.
	_, err := r.g.Credential(ctx, alice, send)
	var ce *ConsentError
	if !errors.As(err, &ce) {
		t.Fatalf("send before its consent: %v", err)
	}
	q := mustQuery(t, ce.URL)
	if q.Get("include_granted_scopes") != "true" || !strings.Contains(q.Get("scope"), ScopeGmailSend) || strings.Contains(q.Get("scope"), ScopeGmailReadonly) {
		t.Errorf("incremental consent asks %q (include_granted_scopes %q)", q.Get("scope"), q.Get("include_granted_scopes"))
	}
	if !strings.Contains(ce.Error(), "send mail as you") {
		t.Errorf("consent text does not say what it allows: %q", ce.Error())
	}
	// Opened by someone else signed in to their own account: refused, and
	// alice's grant does not change.
	if code, body := browse(t, ce.URL, "mallory@example.com"); code != http.StatusConflict {
		t.Fatalf("grow consent from another account: %d %s", code, body)
	}
	if _, err := r.g.Credential(ctx, alice, send); !errors.As(err, &ce) {
		t.Fatalf("after mallory's consent, send got %v", err)
	}
	sendTok := r.grant(t, alice, send, "alice@example.com")
	if sc := r.fake.TokenScopes(sendTok.AccessToken); !slices.Equal(sc, []string{ScopeGmailSend}) {
		t.Fatalf("send_gmail_message's token carries %v, want only gmail.send", sc)
	}
	if code := sendWith(t, r.fake, sendTok.AccessToken); code != http.StatusOK {
		t.Errorf("send with its own token: http %d", code)
	}
	// Both grants now: search needs no new consent and still gets only its
	// scope.
	again, err := r.g.Credential(ctx, alice, mail)
	if err != nil || again == nil {
		t.Fatalf("search after both consents: %v", err)
	}
	if sc := r.fake.TokenScopes(again.AccessToken); !slices.Equal(sc, []string{ScopeGmailReadonly}) {
		t.Errorf("search's token now carries %v", sc)
	}

	r.mu.Lock()
	links := slices.Clone(r.links)
	r.mu.Unlock()
	if len(links) != 3 || links[0].Account != "alice@example.com" || links[0].Grown || !links[2].Grown ||
		!slices.Contains(links[2].Scopes, ScopeGmailSend) || !slices.Contains(links[2].Scopes, ScopeGmailReadonly) {
		t.Errorf("links reported: %+v", links)
	}
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query()
}
