package hub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// flakyAudit is a real Redis store whose audit appends of the listed
// types fail: the first transient ones with state.ErrUnavailable, then,
// if broken, every one.
type flakyAudit struct {
	state.Store
	types map[vocab.AuditType]bool

	mu        sync.Mutex // guards transient
	transient int
	broken    bool
}

func (s *flakyAudit) AppendAudit(ctx context.Context, e state.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.types[e.Type] {
		if s.transient > 0 {
			s.transient--
			return fmt.Errorf("append audit: connection reset: %w", state.ErrUnavailable)
		}
		if s.broken {
			return errors.New("append audit: OOM command not allowed")
		}
	}
	return s.Store.AppendAudit(ctx, e)
}

func redisStore(t *testing.T) *redis.Store {
	t.Helper()
	st, err := redis.Open(context.Background(), redistest.Server(t), redis.Options{Namespace: fmt.Sprintf("audit-%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestAuditDurable: an audit entry the store cannot take for a moment is
// retried and written, and the action runs; an action whose decision or
// flow cannot be audited at all does not run, the user is told why, and
// the refusal is reported (the metric's trace event).
func TestAuditDurable(t *testing.T) {
	tests := []struct {
		name      string
		types     []vocab.AuditType
		transient int
		broken    bool
		// ran: the reply quotes step 2's fare (step 1's result flowed
		// into it), or at least step 1's.
		wantFlowRan, wantStep1Ran bool
	}{
		{"transient decision", []vocab.AuditType{vocab.AuditDecision}, 2, false, true, true},
		{"transient flow", []vocab.AuditType{vocab.AuditFlow}, 2, false, true, true},
		{"broken decision", []vocab.AuditType{vocab.AuditDecision}, 0, true, false, false},
		{"broken flow", []vocab.AuditType{vocab.AuditFlow}, 0, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			types := map[vocab.AuditType]bool{}
			for _, ty := range tt.types {
				types[ty] = true
			}
			base := redisStore(t)
			st := &flakyAudit{Store: base, types: types, transient: tt.transient, broken: tt.broken}
			var mu sync.Mutex
			var unaudited []string
			h := hubtest.New(t, hubtest.Options{Store: st, Model: chainPlanner, SpokeModel: offline.Model{},
				Apps: []ids.AppID{"quick_ride", "metro_hail"}, Trace: func(e hub.TraceEvent) {
					if e.Type == vocab.TraceUnaudited {
						mu.Lock()
						unaudited = append(unaudited, e.Detail)
						mu.Unlock()
					}
				}})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: func(chat.Prompt) chat.Decision { return chat.AllowOnce }}
			reply := c.Send(context.Background(), "two fares, chained")
			flowRan := strings.Contains(reply, "The estimated fare from The estimated fare")
			step1Ran := strings.Contains(reply, "$57.00")
			if flowRan != tt.wantFlowRan || step1Ran != tt.wantStep1Ran {
				t.Fatalf("flow ran %v (want %v), step 1 ran %v (want %v): %q", flowRan, tt.wantFlowRan, step1Ran, tt.wantStep1Ran, reply)
			}
			es, err := base.ReadAudit(context.Background(), state.AuditFilter{User: "test:alice"})
			if err != nil {
				t.Fatal(err)
			}
			got := map[vocab.AuditType]int{}
			for _, e := range es {
				got[e.Type]++
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.broken {
				if !strings.Contains(reply, "audit log") {
					t.Errorf("the user was not told the audit log failed: %q", reply)
				}
				if len(unaudited) == 0 {
					t.Error("the refusal was not reported")
				}
				return
			}
			for _, ty := range tt.types {
				if got[ty] == 0 {
					t.Errorf("no %s entry after a transient failure: %v", ty, got)
				}
			}
			if len(unaudited) != 0 {
				t.Errorf("reported unaudited after a retry succeeded: %v", unaudited)
			}
		})
	}
}
