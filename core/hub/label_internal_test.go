package hub

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestKeptLabel: what the hub keeps of a label names apps and fact keys,
// never a fact's value; read back, a fact resolves to the user's value as
// it is now, and to nothing once the user's facts no longer hold it.
func TestKeptLabel(t *testing.T) {
	tests := []struct {
		name  string
		held  label
		now   map[string]string // the user's facts when the label is read
		apps  []ids.AppID
		facts map[string]string
	}{
		{"still remembered", newLabel("a", map[string]string{"city": "qzparis"}), map[string]string{"city": "qzparis"},
			[]ids.AppID{"a"}, map[string]string{"city": "qzparis"}},
		{"forgotten", newLabel("a", map[string]string{"city": "qzparis"}), map[string]string{},
			[]ids.AppID{"a"}, map[string]string{}},
		{"changed", newLabel("a", map[string]string{"city": "qzparis"}), map[string]string{"city": "qzberlin"},
			[]ids.AppID{"a"}, map[string]string{"city": "qzberlin"}},
		{"one of two forgotten", newLabel("", map[string]string{"city": "qzparis", "name": "qzbob"}), map[string]string{"name": "qzbob", "other": "x"},
			nil, map[string]string{"name": "qzbob"}},
		{"no facts", newLabel("b", nil), nil, []ids.AppID{"b"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := memstore.New(memstore.Options{})
			if err := st.PutEntities(ctx, "u", tt.now); err != nil {
				t.Fatal(err)
			}
			h := &Hub{o: Options{Store: st}}
			k := tt.held.keep()
			for _, m := range k.members() {
				for _, v := range tt.held.facts {
					if strings.Contains(m, v) {
						t.Errorf("kept member %q holds the fact's value %q", m, v)
					}
				}
			}
			back, err := keptFrom(k.members())
			if err != nil {
				t.Fatal(err)
			}
			l, err := h.resolve(ctx, "u", back)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.sources(); !slices.Equal(got, tt.apps) {
				t.Errorf("apps %v, want %v", got, tt.apps)
			}
			if !maps.Equal(l.facts, tt.facts) {
				t.Errorf("facts %v, want %v", l.facts, tt.facts)
			}
		})
	}
	if _, err := keptFrom([]string{"app:a", "sources"}); err == nil {
		t.Error("a label set with a member of no known kind was read")
	}
}
