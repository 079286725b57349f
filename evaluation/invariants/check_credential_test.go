package invariants

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/ops/connect"
)

// TestCheckCredentials: the I12 checker flags a token in an app that may
// have none, a token of another user's account, and a token carrying more
// (or other) scopes than the app's; the app's own token passes.
func TestCheckCredentials(t *testing.T) {
	issued := map[string]struct {
		account string
		scopes  []string
	}{
		"t-alice-read":  {"alice@inv.example", []string{connect.ScopeGmailReadonly}},
		"t-bob-read":    {"bob@inv.example", []string{connect.ScopeGmailReadonly}},
		"t-alice-broad": {"alice@inv.example", []string{connect.ScopeGmailModify, connect.ScopeDriveReadonly}},
	}
	lookup := func(tok string) (string, []string) { return issued[tok].account, issued[tok].scopes }
	withCred := func(app ids.AppID, tok string) string {
		return `{"app":"` + string(app) + `","task":{"instruction":"run"},"max_steps":3,"credential":{"provider":"google","access_token":"` + tok + `"}}`
	}
	tests := []struct {
		name  string
		app   ids.AppID
		token string
		want  string // cause, or "" for none
	}{
		{"its own", appA, "t-alice-read", ""},
		{"an app that may have none", appC, "t-alice-read", "unallowed app"},
		{"another user's", appA, "t-bob-read", "other user"},
		{"broader scopes", appA, "t-alice-broad", "scopes"},
		{"another app's scopes", appB, "t-alice-read", "scopes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			s.spoke(7, alice, tc.app)
			s.in(7, tc.app, isc.KindInit, withCred(tc.app, tc.token))
			s.in(7, tc.app, isc.KindInit, initBody(tc.app, fnName(tc.app), `{"seed":1}`)) // no credential: nothing to check
			vs := checkCredentials(s.evs, lookup)
			var causes []string
			for _, v := range vs {
				if v.Invariant != InvCredential {
					t.Errorf("violation of %s", v.Invariant)
				}
				causes = append(causes, v.Cause)
			}
			if got := strings.Join(causes, ","); got != tc.want {
				t.Errorf("causes %q, want %q", got, tc.want)
			}
		})
	}
}
