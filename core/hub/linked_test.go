package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// TestAccountLinkedNotice: the notice a user gets when an account is
// linked in their name names the account and the undo, and is audited.
func TestAccountLinkedNotice(t *testing.T) {
	ctx := context.Background()
	st := hubtest.Store(t)
	h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride"}})
	for _, tc := range []struct {
		name              string
		provider, account string
		grown             bool
		want              string
	}{
		{"linked", "google", "mallory@example.com", false, "was just linked to you"},
		{"grown", "google", "mallory@example.com", true, "given more permissions"},
		{"mcp sign-in", "mcp.notes", "", false, "signed in to mcp.notes's server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := h.AccountLinked(ctx, "test:alice", tc.provider, tc.account, tc.grown)
			if !strings.Contains(n.Text, tc.account) || !strings.Contains(n.Text, tc.want) ||
				!strings.Contains(n.Text, "!disconnect "+tc.provider) || n.Disconnect != tc.provider {
				t.Errorf("notice %+v", n)
			}
		})
	}
	evs, err := st.ReadAudit(ctx, state.AuditFilter{Type: vocab.AuditConnect})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].User != "test:alice" || !strings.Contains(evs[0].Detail, "mallory@example.com") {
		t.Errorf("audit %+v", evs)
	}
}
