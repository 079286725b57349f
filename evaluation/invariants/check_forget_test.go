package invariants

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestCheckForgottenFacts: after "Forgotten: your fact data", a memory
// entry or a state label set of the user still naming the fact is a
// violation, unless the hub remembered the fact again since; another
// user's labels are theirs.
func TestCheckForgottenFacts(t *testing.T) {
	ctx := context.Background()
	registerHubApps()
	cat, err := apps.NewCatalog([]ids.AppID{appA})
	if err != nil {
		t.Fatal(err)
	}
	forgot := &event{kind: evReply, user: alice, seq: 5, text: "Forgotten: your fact data. No app kept anything that came from it."}
	tests := []struct {
		name  string
		keep  func(st state.Store)
		evs   []*event
		wants int
	}{
		{"memory entry", func(st state.Store) {
			_ = st.AppendMemory(ctx, alice, appA, state.MemoryEntry{Role: "user", Content: "x", FactKeys: []string{"data"}})
		}, []*event{forgot}, 1},
		{"state label set", func(st state.Store) {
			raw, _ := json.Marshal([]string{"app:" + string(appA), "fact:data"})
			_ = st.PutAppState(ctx, alice, labelNamespacePrefix+string(appA), "label", raw)
		}, []*event{forgot}, 1},
		{"remembered again", func(st state.Store) {
			_ = st.AppendMemory(ctx, alice, appA, state.MemoryEntry{Role: "user", Content: "x", FactKeys: []string{"data"}})
		}, []*event{forgot, {kind: evEntities, user: alice, seq: 6, facts: map[string]string{"data": "qzabcdef 1234"}}}, 0},
		{"another user's", func(st state.Store) {
			_ = st.AppendMemory(ctx, bob, appA, state.MemoryEntry{Role: "user", Content: "x", FactKeys: []string{"data"}})
		}, []*event{forgot}, 0},
		{"nothing forgotten", func(st state.Store) {
			_ = st.AppendMemory(ctx, alice, appA, state.MemoryEntry{Role: "user", Content: "x", FactKeys: []string{"data"}})
		}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New(memstore.Options{})
			tc.keep(st)
			var got []string
			checkForgottenFacts(ctx, st, cat, tc.evs, func(inv, format string, a ...any) {
				if inv != InvData {
					t.Errorf("reported as %s", inv)
				}
				got = append(got, format)
			})
			if len(got) != tc.wants {
				t.Errorf("%d violations, want %d", len(got), tc.wants)
			}
		})
	}
}
