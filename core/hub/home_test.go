package hub_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// TestGrantsAsData: Grants returns, per user, the grants !grants lists,
// with their scope; a revoke empties it.
func TestGrantsAsData(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride", "metro_hail"}})
	ctx := context.Background()
	tests := []struct {
		user     ids.UserID
		decision chat.Decision
		session  bool
	}{
		{"test:alice", chat.AllowAlways, false},
		{"test:bob", chat.AllowSession, true},
		{"test:carol", chat.AllowOnce, false}, // stores nothing
	}
	for _, tt := range tests {
		c := &scripted.Conversation{A: h, User: tt.user, Policy: scripted.Always(tt.decision)}
		if reply := c.Send(ctx, "quick_ride fare from Main Street to Elm Avenue"); !strings.Contains(reply, "$") {
			t.Fatalf("%s: %q", tt.user, reply)
		}
		gs, err := h.Grants(ctx, tt.user)
		if err != nil {
			t.Fatal(err)
		}
		text := c.Send(ctx, "!grants")
		if tt.decision == chat.AllowOnce {
			if len(gs) != 0 {
				t.Errorf("%s: grants %+v after allow once", tt.user, gs)
			}
			continue
		}
		if len(gs) == 0 {
			t.Fatalf("%s: no grants; !grants says %q", tt.user, text)
		}
		for _, g := range gs {
			if g.App != "quick_ride" || g.Session != tt.session || g.Kind == "" {
				t.Errorf("%s: grant %+v", tt.user, g)
			}
			if !strings.Contains(text, string(g.Kind)+" "+string(g.App)) {
				t.Errorf("%s: grant %+v not in !grants %q", tt.user, g, text)
			}
		}
		if strings.Count(text, "\n- ") != len(gs) {
			t.Errorf("%s: %d grants as data, !grants lists %q", tt.user, len(gs), text)
		}
		c.Send(ctx, "!revoke all")
		if gs, _ := h.Grants(ctx, tt.user); len(gs) != 0 {
			t.Errorf("%s: grants after revoke: %+v", tt.user, gs)
		}
	}
}

// fakeAccounts links accounts in a map; withStatus adds Connected.
type fakeAccounts struct{ linked map[ids.UserID]bool }

func (f *fakeAccounts) ConnectURL(context.Context, string, ids.UserID, ids.ConversationID) (string, error) {
	return "https://accounts.example/consent", nil
}

func (f *fakeAccounts) Disconnect(_ context.Context, _ string, u ids.UserID) (bool, error) {
	ok := f.linked[u]
	delete(f.linked, u)
	return ok, nil
}

func (f *fakeAccounts) Credential(context.Context, ids.UserID, ids.AppID) (*isc.Credential, error) {
	return nil, nil
}

type fakeAccountsWithStatus struct{ fakeAccounts }

func (f *fakeAccountsWithStatus) Connected(_ context.Context, u ids.UserID) (bool, error) {
	if u == "test:broken" {
		return false, errors.New("store down")
	}
	return f.linked[u], nil
}

func TestAccountsAsData(t *testing.T) {
	ctx := context.Background()
	withStatus := &fakeAccountsWithStatus{fakeAccounts{linked: map[ids.UserID]bool{"test:alice": true}}}
	tests := []struct {
		name     string
		accounts hub.Accounts
		user     ids.UserID
		want     string // fmt of the result, "" for none
		wantErr  string
	}{
		{name: "not set up", user: "test:alice"},
		{name: "linked", accounts: withStatus, user: "test:alice", want: "google:true"},
		{name: "not linked", accounts: withStatus, user: "test:bob", want: "google:false"},
		{name: "store error", accounts: withStatus, user: "test:broken", wantErr: "store down"},
		{name: "cannot tell", accounts: &fakeAccounts{}, user: "test:alice", wantErr: "cannot tell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hubtest.Options{Apps: []ids.AppID{"quick_ride"}}
			if tt.accounts != nil {
				o.Accounts = tt.accounts
			}
			h := hubtest.New(t, o)
			got, err := h.Accounts(ctx, tt.user)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Accounts = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, a := range got {
				parts = append(parts, a.Provider+":"+map[bool]string{true: "true", false: "false"}[a.Connected])
			}
			if strings.Join(parts, ",") != tt.want {
				t.Errorf("Accounts = %v, want %q", parts, tt.want)
			}
		})
	}
}
