package gate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// replicaGates returns n gates, each over its own connection to one real
// Redis, as the gates of n bot replicas are. relayUp[i] false leaves gate
// i's relay subscription down (a Redis restart's back-off).
func replicaGates(t *testing.T, timeout time.Duration, relayUp ...bool) ([]*Gate, []*redis.Store) {
	t.Helper()
	url := redistest.Server(t)
	ns := fmt.Sprintf("gate-replicas-%d", time.Now().UnixNano())
	var gs []*Gate
	var sts []*redis.Store
	for i, up := range relayUp {
		st, err := redis.Open(context.Background(), url, redis.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		joined := make(chan struct{}, 1)
		rl := st.Relay(redis.RelayOptions{OnSubscribe: func() {
			select {
			case joined <- struct{}{}:
			default:
			}
		}})
		id := fmt.Sprintf("r%d", i)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := rl.Heartbeat(ctx, id, time.Minute); err != nil {
			t.Fatal(err)
		}
		g := New(st, Options{Timeout: timeout, Relay: rl, ReplicaID: id, Liveness: rl})
		if up {
			go g.Run(ctx)
			<-joined
		}
		gs = append(gs, g)
		sts = append(sts, st)
	}
	return gs, sts
}

// TestQuestionAnsweredOnAnotherReplica: an app's question waiting on
// replica A is answered on replica B; A gets exactly the answer given,
// whatever its kind (an option, accept, decline, cancel, typed text).
func TestQuestionAnsweredOnAnotherReplica(t *testing.T) {
	gs, _ := replicaGates(t, 20*time.Second, true, true)
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		options  []chat.Decision
		freeText bool
		answer   chat.Decision
	}{
		{"option", []chat.Decision{chat.Option("small"), chat.Option("large"), chat.Cancel}, false, chat.Option("large")},
		{"accept", []chat.Decision{chat.Accept, chat.Decline, chat.Cancel}, false, chat.Accept},
		{"decline", []chat.Decision{chat.Accept, chat.Decline, chat.Cancel}, false, chat.Decline},
		{"cancel", []chat.Decision{chat.Accept, chat.Decline, chat.Cancel}, false, chat.Cancel},
		{"typed", []chat.Decision{chat.Cancel}, true, chat.Option("Ada Lovelace")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv()
			q := chat.Prompt{User: "u:1", Conversation: "c", Session: "s", Kind: chat.KindElicit, Target: "mcp.x", Data: "question",
				Options: tt.options, FreeText: tt.freeText}
			type res struct {
				d   chat.Decision
				err error
			}
			done := make(chan res, 1)
			go func() { d, err := gs[0].Ask(ctx, c, q); done <- res{d, err} }()
			p := <-c.prompts
			if err := gs[1].Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: tt.answer}); err != nil {
				t.Fatalf("answer on B: %v", err)
			}
			select {
			case r := <-done:
				if r.err != nil || r.d != tt.answer {
					t.Fatalf("A got %q (%v), want %q as answered on B", r.d, r.err, tt.answer)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the answer given on B did not reach A")
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.resolved) != 1 || c.resolved[0] != tt.answer || c.expired[0] {
				t.Fatalf("A showed %v (expired %v), want %q", c.resolved, c.expired, tt.answer)
			}
		})
	}
}

// TestDecisionWhileRelayDown: an "Always allow" clicked on B while A's
// relay subscription is down is what A acts on and shows, not an expiry;
// the grant and the audit entry name who decided and on which replica.
func TestDecisionWhileRelayDown(t *testing.T) {
	gs, sts := replicaGates(t, 3*time.Second, false, true)
	ctx := context.Background()
	c := newConv()
	r := req("u:1", chat.KindExec, "s")
	type res struct {
		d   chat.Decision
		err error
	}
	done := make(chan res, 1)
	go func() { d, err := gs[0].Check(ctx, c, r); done <- res{d, err} }()
	p := <-c.prompts
	if err := gs[1].Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.AllowAlways}); err != nil {
		t.Fatalf("answer on B: %v", err)
	}
	got := <-done
	if got.err != nil || got.d != chat.AllowAlways {
		t.Fatalf("A decided %q (%v), want the stored %q", got.d, got.err, chat.AllowAlways)
	}
	c.mu.Lock()
	if len(c.resolved) != 1 || c.resolved[0] != chat.AllowAlways || c.expired[0] {
		t.Fatalf("A showed %v (expired %v), want always", c.resolved, c.expired)
	}
	c.mu.Unlock()
	if _, ok, err := sts[0].FindGrant(ctx, r.Key(), ""); err != nil || !ok {
		t.Fatalf("grant: %v %v", ok, err)
	}
	es, err := sts[0].ReadAudit(ctx, state.AuditFilter{User: "u:1", Type: vocab.AuditDecision})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range es {
		if e.Decision == string(chat.AllowAlways) && strings.Contains(e.Detail, "answered by u:1 on replica r1 (recorded on replica r0)") {
			found = true
		}
		if strings.Contains(e.Detail, "no answer in time") {
			t.Errorf("audited as expired: %+v", e)
		}
	}
	if !found {
		t.Fatalf("no decision entry names who decided and where: %+v", es)
	}
}
