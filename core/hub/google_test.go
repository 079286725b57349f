package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/secgpt-go/secgpt/apps/googlefake"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/ops/connect"
)

// gmailPlanner plans one search of the user's mail for "invoice".
var gmailPlanner = llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if !req.HasTool(plan.ToolName) {
		return offline.Model{}.Generate(ctx, req)
	}
	p := `{"steps":[{"app":"search_gmail","function":"search_gmail","instruction":"find the invoice mail","args":{"query":"invoice"}}]}`
	if strings.Contains(req.LastUser(), "hostile") {
		p = `{"steps":[{"app":"hostile","function":"hostile","instruction":"x","args":{"action":"credential"}}]}`
	}
	if strings.Contains(req.LastUser(), "hostile call") {
		p = `{"steps":[{"app":"hostile","function":"hostile","instruction":"x","args":{"action":"call_gmail"}}]}`
	}
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(p)}}}, nil
})

// TestGoogleAccountEndToEnd: "!connect google" gives a consent link; the
// user's browser consents at (a local stand-in for) Google and comes back
// to the hub's callback; the token is stored sealed; search_gmail, run in a
// real sandboxed spoke with the real Gmail client library, reads that
// user's mailbox with it; another user's invocation gets nothing; and
// "!disconnect google" deletes and revokes it.
func TestGoogleAccountEndToEnd(t *testing.T) {
	ctx := context.Background()
	fake := googlefake.Start("client-1.apps.googleusercontent.com", "secret-1")
	t.Cleanup(fake.Close)
	fake.AddMessage("alice@example.com", googlefake.Message{ID: "a1", From: "Billing <billing@example.com>", To: []string{"alice@example.com"},
		Subject: "Quarterly invoice 4711", Body: "Your invoice 4711 over 120 EUR is attached.", Date: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)})
	fake.AddMessage("bob@example.com", googlefake.Message{ID: "b1", From: "Shop <shop@example.com>", To: []string{"bob@example.com"},
		Subject: "Bob's private invoice 999", Body: "invoice for bob only", Date: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)})
	fakeAddr := strings.TrimPrefix(fake.URL, "http://")

	st := hubtest.Store(t)
	mux := http.NewServeMux()
	cb := httptest.NewServer(mux)
	t.Cleanup(cb.Close)
	g, err := connect.New(connect.Config{
		ClientID: fake.ClientID, ClientSecret: fake.Secret,
		RedirectURL: cb.URL + connect.CallbackPath,
		Apps:        map[ids.AppID][]string{"search_gmail": {connect.ScopeGmailReadonly}},
		Key:         bytes.Repeat([]byte{42}, connect.KeySize),
		Endpoint:    oauth2.Endpoint{AuthURL: fake.URL + googlefake.AuthPath, TokenURL: fake.URL + googlefake.TokenPath, AuthStyle: oauth2.AuthStyleInParams},
		RevokeURL:   fake.URL + googlefake.RevokePath,
		UserinfoURL: fake.URL + googlefake.UserinfoPath,
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET "+connect.CallbackPath, g)

	var dialed []string
	h := hubtest.New(t, hubtest.Options{
		Model: gmailPlanner, SpokeModel: offline.Model{}, Store: st,
		Apps:      []ids.AppID{"search_gmail", "hostile"},
		AppConfig: map[ids.AppID]json.RawMessage{"search_gmail": json.RawMessage(`{"backend":"gmail","base_url":"http://gmail.googleapis.com:443"}`)},
		Accounts:  g,
		Sandboxed: true,
		// The spoke reaches gmail.googleapis.com through the hub's egress
		// proxy as always; only the proxy's dialer sends it to the fake.
		// The fake speaks plain HTTP, sent to port 443: the only port the
		// proxy allows an app that declares none.
		EgressDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			if addr != "gmail.googleapis.com:443" {
				return nil, fmt.Errorf("test dialer: %s is not the fake", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, fakeAddr)
		},
	})
	allow := func(chat.Prompt) chat.Decision { return chat.AllowOnce }
	alice := &scripted.Conversation{A: h, User: "test:alice", Policy: allow}
	bob := &scripted.Conversation{A: h, User: "test:bob", Policy: allow}

	// Before linking, the gmail backend has no credentials.
	if reply := alice.Send(ctx, "find my invoice mail"); strings.Contains(reply, "4711") || !strings.Contains(reply, "connect google") {
		t.Fatalf("before linking: %q", reply)
	}

	if help := alice.Send(ctx, "!help"); !strings.Contains(help, "connect google") {
		t.Errorf("help without the account commands: %q", help)
	}
	// consent opens the consent link in reply as the user's browser,
	// signed in to Google as alice@example.com: it consents and follows
	// Google's redirect to the hub's callback.
	consent := func(reply, want string) {
		t.Helper()
		link := ""
		for _, line := range strings.Split(reply, "\n") {
			if i := strings.Index(line, fake.URL+googlefake.AuthPath); i >= 0 {
				link = strings.Fields(line[i:])[0]
			}
		}
		if link == "" {
			t.Fatalf("no consent link in %q", reply)
		}
		req, _ := http.NewRequest(http.MethodGet, link, nil)
		req.Header.Set(googlefake.AccountHeader, "alice@example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), want) {
			t.Fatalf("callback: %d %s", resp.StatusCode, page)
		}
		if u, _ := url.Parse(resp.Request.URL.String()); u.Host != strings.TrimPrefix(cb.URL, "http://") {
			t.Fatalf("browser ended at %s, not the hub's callback", u)
		}
	}
	consent(alice.Send(ctx, "!connect google"), "alice@example.com is linked")
	// A consent link is for the user alone: another app that calls
	// search_gmail through the hub learns that it failed, not the link
	// (with it, that app could spend the user's consent flow).
	reply := alice.Send(ctx, "run the hostile call")
	_, got, _ := strings.Cut(reply, "caller got:")
	got, _, _ = strings.Cut(got, "\n")
	if got == "" || strings.Contains(got, googlefake.AuthPath) || strings.Contains(got, "state=") {
		t.Fatalf("the calling app got %q (reply %q)", got, reply)
	}
	if !strings.Contains(reply, fake.URL+googlefake.AuthPath) {
		t.Fatalf("the user did not get the consent link: %q", reply)
	}
	// The first search asks for its own scope (read mail) only, with a
	// consent link; the search runs once it is given.
	reply = alice.Send(ctx, "find my invoice mail")
	if strings.Contains(reply, "4711") || !strings.Contains(reply, "read your mail") {
		t.Fatalf("first search after linking: %q", reply)
	}
	consent(reply, "now allows read your mail")

	// Stored sealed: no token of the fake appears in the store.
	raw, ok, err := st.GetAppState(ctx, "test:alice", connect.Namespace, "google")
	if err != nil || !ok {
		t.Fatalf("stored token: %v %v", ok, err)
	}
	for _, tok := range fake.AccessTokens() {
		if bytes.Contains(raw, []byte(tok)) {
			t.Fatal("access token stored in the clear")
		}
	}
	if bytes.Contains(raw, []byte("refresh-")) {
		t.Fatal("refresh token stored in the clear")
	}

	reply = alice.Send(ctx, "find my invoice mail")
	t.Logf("alice's search: %s", reply)
	if !strings.Contains(reply, "Quarterly invoice 4711") || strings.Contains(reply, "Bob's private") {
		t.Fatalf("alice's search: %q", reply)
	}
	// The spoke's token could read mail and do nothing else.
	if sc := fake.LastCallScopes(); len(sc) != 1 || sc[0] != connect.ScopeGmailReadonly {
		t.Errorf("search_gmail's spoke called Gmail with a token carrying %v, want only gmail.readonly", sc)
	}
	// One refresh, by the hub, minted the search's token: the spoke can
	// reach only gmail.googleapis.com and holds no refresh token.
	if fake.Refreshes() != 1 {
		t.Errorf("%d refreshes, want the hub's one", fake.Refreshes())
	}
	for _, a := range dialed {
		if !strings.HasPrefix(a, "gmail.googleapis.com") {
			t.Errorf("the spoke reached %s", a)
		}
	}

	// An app the operator did not allow gets no token, and cannot reach
	// the stored one, even for the user who linked an account.
	if reply := alice.Send(ctx, "run the hostile app"); !strings.Contains(reply, "credential: false; google state found: false") {
		t.Fatalf("hostile app: %q", reply)
	}

	// Bob linked nothing: his invocation gets no token, and neither
	// mailbox is read for him.
	calls := fake.APICalls()
	reply = bob.Send(ctx, "find my invoice mail")
	t.Logf("bob's search: %s", reply)
	if strings.Contains(reply, "4711") || strings.Contains(reply, "Bob's private") || fake.APICalls() != calls {
		t.Fatalf("bob's search read a mailbox: %q", reply)
	}
	evs, err := st.ReadAudit(ctx, state.AuditFilter{Type: vocab.AuditCredential})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].User != "test:alice" || evs[0].App != "search_gmail" {
		t.Fatalf("credential audit events %+v, want one for alice's search", evs)
	}
	for _, ev := range evs {
		for _, tok := range fake.AccessTokens() {
			if strings.Contains(ev.Detail, tok) {
				t.Fatal("token in the audit log")
			}
		}
	}

	// A stored token that no longer opens (the key changed): the app does
	// not start, and the user is told to link again, with nothing internal.
	sealed, _, _ := st.GetAppState(ctx, "test:alice", connect.Namespace, "google")
	if err := st.PutAppState(ctx, "test:alice", connect.Namespace, "google", json.RawMessage(`"AAAAsealed-with-another-key"`)); err != nil {
		t.Fatal(err)
	}
	calls = fake.APICalls()
	if reply := alice.Send(ctx, "find my invoice mail"); !strings.Contains(reply, "link it again with !connect google") || strings.Contains(reply, "does not open") || fake.APICalls() != calls {
		t.Fatalf("unopenable token: %q", reply)
	}
	if err := st.PutAppState(ctx, "test:alice", connect.Namespace, "google", sealed); err != nil {
		t.Fatal(err)
	}

	if reply := bob.Send(ctx, "!disconnect google"); !strings.Contains(reply, "No google account") {
		t.Errorf("bob's disconnect: %q", reply)
	}
	if reply := alice.Send(ctx, "!disconnect google"); !strings.Contains(reply, "unlinked") {
		t.Fatalf("alice's disconnect: %q", reply)
	}
	if len(fake.Revoked()) != 1 || len(fake.AccessTokens()) != 0 {
		t.Errorf("revoked %v, live tokens %v: want the grant revoked at Google", fake.Revoked(), fake.AccessTokens())
	}
	raw, _, _ = st.GetAppState(ctx, "test:alice", connect.Namespace, "google")
	if string(raw) != "null" {
		t.Errorf("after disconnect the store holds %s", raw)
	}
	calls = fake.APICalls()
	if reply := alice.Send(ctx, "find my invoice mail"); strings.Contains(reply, "4711") || fake.APICalls() != calls {
		t.Fatalf("after disconnect: %q", reply)
	}
}

// TestAccountCommandsWithoutAccounts: a hub without a Google client says so
// and does not list the commands in its help.
func TestAccountCommandsWithoutAccounts(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride"}})
	c := &scripted.Conversation{A: h, User: "test:alice"}
	for _, tc := range []struct{ msg, want string }{
		{"!connect google", "not set up"},
		{"!disconnect google", "not set up"},
	} {
		if got := c.Send(context.Background(), tc.msg); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.msg, got, tc.want)
		}
	}
	if help := c.Send(context.Background(), "!help"); strings.Contains(help, "connect google") {
		t.Errorf("help lists account commands without accounts: %q", help)
	}
}
