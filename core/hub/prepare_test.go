package hub_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
)

// calls records, in order, what the hub asked of its spawner and model.
type calls struct {
	mu  sync.Mutex // guards got
	got []string
}

func (s *calls) add(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, what)
}

func (s *calls) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// preparingSpawner is a PreparingSpawner that records Prepare, its releases and
// Start.
type preparingSpawner struct {
	next  hub.Spawner
	steps *calls
}

func (p preparingSpawner) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	p.steps.add("start")
	return p.next.Start(ctx, spec)
}

func (p preparingSpawner) Prepare() func() {
	p.steps.add("prepare")
	return func() { p.steps.add("release") }
}

// wrappingSpawner wraps a spawner as ops/metrics and the invariants harness do.
type wrappingSpawner struct{ next hub.Spawner }

func (w wrappingSpawner) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	return w.next.Start(ctx, spec)
}

func (w wrappingSpawner) Unwrap() hub.Spawner { return w.next }

// TestPrepareWhilePlanning: the hub tells a spawner that can start spokes
// ahead of need (found through a wrapper) that a turn is planning before
// it asks its model, and releases that expectation once the turn's first
// spoke has started, or when the turn ends without one.
func TestPrepareWhilePlanning(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // the order of the first of each
	}{
		{"a step", "Use quick_ride to calculate the fare for a trip from 'Main Street' to 'Elm Avenue'.", []string{"prepare", "plan", "start", "release"}},
		{"no step", "What is the capital of France?", []string{"prepare", "plan", "release"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &calls{}
			model := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
				st.add("plan")
				return offline.Model{}.Generate(ctx, req)
			})
			h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride"}, Model: model,
				WrapSpawner: func(sp hub.Spawner) hub.Spawner { return wrappingSpawner{preparingSpawner{next: sp, steps: st}} }})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.AllowPlanned}
			reply := c.Send(context.Background(), tc.query)
			got := st.list()
			var first []string
			for _, g := range got {
				if !slices.Contains(first, g) {
					first = append(first, g)
				}
			}
			if !slices.Equal(first, tc.want) {
				t.Fatalf("hub did %v (reply %q), want first of each in the order %v", got, reply, tc.want)
			}
			if n := countOf(got, "prepare"); n != 1 {
				t.Errorf("prepared %d times in one turn: %v", n, got)
			}
		})
	}
}

func countOf(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}
