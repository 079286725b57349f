package invariants

import (
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestCheckStoredTruth: an outcome shown otherwise than stored (the
// replica that asked showed "expired: denied" while another stored an
// "always"), or not stored at all, is an I11 violation; one shown as
// stored is not.
func TestCheckStoredTruth(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	for _, id := range []string{"p1", "p2"} {
		if err := st.PutPending(ctx, chat.Prompt{ID: ids.PromptID(id), User: "inv:alice", Kind: chat.KindExec, Target: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.DecidePending(ctx, state.Decided{Prompt: ids.PromptID(id), Decision: chat.AllowAlways, By: "inv:alice", Replica: "r1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	resolved := func(id string, d chat.Decision, by string, expired bool) *event {
		return &event{kind: evResolved, prompt: &chat.Prompt{ID: ids.PromptID(id)}, decision: d, by: ids.UserID(by), expired: expired}
	}
	tests := []struct {
		name string
		ev   *event
		want string // "" for no violation
	}{
		{"as stored", resolved("p1", chat.AllowAlways, "inv:alice", false), ""},
		{"expired while stored always", resolved("p2", chat.Deny, "", true), "shown differently"},
		{"not stored", resolved("p3", chat.Deny, "", true), "outcome not stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			checkStoredTruth(ctx, []*event{tt.ev}, st, func(inv, format string, a ...any) {
				if inv != InvTruth {
					t.Errorf("invariant %q", inv)
				}
				got = append(got, format)
			})
			switch {
			case tt.want == "" && len(got) > 0:
				t.Fatalf("violations %q", got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.want)):
				t.Fatalf("violations %q, want %q", got, tt.want)
			}
		})
	}
}
