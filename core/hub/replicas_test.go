package hub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// replica is one of several hubs sharing one real Redis, as separate bot
// processes would.
type replica struct {
	id     string
	hub    *hub.Hub
	store  *redis.Store
	cancel context.CancelFunc
}

func startReplicas(t *testing.T, n int, apps ...ids.AppID) []*replica {
	t.Helper()
	if apps == nil {
		apps = []ids.AppID{"quick_ride"}
	}
	url := redistest.Server(t)
	ns := fmt.Sprintf("replicas-%d", time.Now().UnixNano())
	var rs []*replica
	for i := 0; i < n; i++ {
		st, err := redis.Open(context.Background(), url, redis.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		subscribed := make(chan struct{}, 1)
		rl := st.Relay(redis.RelayOptions{OnSubscribe: func() {
			select {
			case subscribed <- struct{}{}:
			default:
			}
		}})
		id := fmt.Sprintf("r%d", i)
		h := hubtest.New(t, hubtest.Options{Store: st, Apps: apps, Relay: rl, ReplicaID: id, Liveness: rl, UserEvents: rl})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := rl.Heartbeat(ctx, id, time.Minute); err != nil {
			t.Fatal(err)
		}
		go h.Run(ctx)
		<-subscribed
		rs = append(rs, &replica{id: id, hub: h, store: st, cancel: cancel})
	}
	return rs
}

// platform is a stand-in for Slack or Matrix: it shows prompts and lets a
// test click them on any replica.
type platform struct {
	mu      sync.Mutex
	prompts []chat.Prompt
	replies []string
	shown   chan chat.Prompt
}

func (p *platform) Reply(_ context.Context, s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replies = append(p.replies, s)
	return nil
}

func (p *platform) Prompt(_ context.Context, pr chat.Prompt) error {
	p.mu.Lock()
	p.prompts = append(p.prompts, pr)
	p.mu.Unlock()
	p.shown <- pr
	return nil
}

const fareQuery = "quick_ride fare from 'Main Street' to 'Elm Avenue'"

// TestReplicas: three replicas share one Redis. A click delivered to
// another replica resumes the waiting query; each event is handled by
// exactly one replica; when the replica holding a waiting query dies, the
// click is answered with "ask again", the grant is kept, and the user's next
// request on a live replica is served with it.
func TestReplicas(t *testing.T) {
	rs := startReplicas(t, 3)
	ctx := context.Background()
	user := ids.UserID("slack:T1/U1")

	// A click on replica 1 resumes the query waiting on replica 0.
	pl := &platform{shown: make(chan chat.Prompt, 4)}
	done := make(chan struct{})
	go func() {
		rs[0].hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: fareQuery, EventID: "ev1"}, pl)
		close(done)
	}()
	p := <-pl.shown
	if p.Replica != "r0" {
		t.Fatalf("prompt replica = %q", p.Replica)
	}
	if err := rs[1].hub.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowOnce}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("query on replica 0 was not resumed by the click on replica 1")
	}
	if !strings.Contains(strings.Join(pl.replies, "\n"), "$57.00") {
		t.Fatalf("replies = %v", pl.replies)
	}

	// The same event delivered to all three replicas is handled once.
	var handled atomic.Int32
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func(r *replica) {
			defer wg.Done()
			cp := &countingConv{n: &handled}
			r.hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: "!help", EventID: "ev-dup"}, cp)
		}(r)
	}
	wg.Wait()
	if n := handled.Load(); n != 1 {
		t.Fatalf("event handled %d times across replicas, want 1", n)
	}

	// Replica 2 asks, then crashes mid-prompt: it stops listening and its
	// heartbeat ends, without cleaning anything up.
	pl2 := &platform{shown: make(chan chat.Prompt, 4)}
	hctx, kill := context.WithCancel(ctx)
	defer kill()
	go rs[2].hub.Handle(hctx, chat.Message{User: user, Conversation: "c2", Text: fareQuery, EventID: "ev2"}, pl2)
	p2 := <-pl2.shown
	rs[2].cancel()
	// Its heartbeat key expires; make that immediate for the test.
	if err := rs[2].store.Relay(redis.RelayOptions{}).Heartbeat(ctx, "r2", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	err := rs[0].hub.Answer(ctx, chat.Answer{Prompt: p2.ID, Nonce: p2.Nonce, User: user, Decision: chat.AllowAlways})
	if !errors.Is(err, chat.ErrAskAgain) {
		t.Fatalf("answer for a dead replica's prompt: err = %v, want ErrAskAgain", err)
	}
	// The grant it gave has an audit entry saying who gave it and where,
	// though the replica that asked never audits the decision.
	answers, err := rs[0].store.ReadAudit(ctx, state.AuditFilter{User: user, Type: vocab.AuditAnswer})
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, e := range answers {
		named = named || (e.Decision == string(chat.AllowAlways) &&
			strings.Contains(e.Detail, "answered by "+string(user)+" on replica r0 (asked on replica r2)"))
	}
	if !named {
		t.Fatalf("no audit entry names who gave the always grant and where: %+v", answers)
	}
	// The grant was kept: asking again on replica 1 needs no prompt.
	pl3 := &platform{shown: make(chan chat.Prompt, 4)}
	rs[1].hub.Handle(ctx, chat.Message{User: user, Conversation: "c2", Text: fareQuery, EventID: "ev3"}, pl3)
	if len(pl3.prompts) != 0 || !strings.Contains(strings.Join(pl3.replies, "\n"), "$57.00") {
		t.Fatalf("after ask-again: prompts %d, replies %v", len(pl3.prompts), pl3.replies)
	}
}

type countingConv struct{ n *atomic.Int32 }

func (c *countingConv) Reply(context.Context, string) error { c.n.Add(1); return nil }
func (c *countingConv) Prompt(context.Context, chat.Prompt) error {
	return nil
}

// TestReplanOnAnotherReplica: the "shall I try another plan?" question
// asked by one replica is answered on another: a yes plans the original
// question again without the denied app, a no drops it, and either answer
// is used once.
func TestReplanOnAnotherReplica(t *testing.T) {
	rs := startReplicas(t, 2, "quick_ride", "metro_hail")
	ctx := context.Background()
	user := ids.UserID("slack:T1/U2")
	// send delivers text to replica r, answering its prompts with d there;
	// Review reviews the plan and denies only quick_ride's step, so that a
	// plan without it exists (metro_hail) and is offered.
	send := func(r *replica, text, event string, d chat.Decision) (prompts []chat.Prompt, reply string) {
		t.Helper()
		pl := &platform{shown: make(chan chat.Prompt, 4)}
		go func() {
			for p := range pl.shown {
				dec := d
				if d == chat.Review && p.Kind != chat.KindPlan {
					dec = chat.AllowOnce
					if p.Target == "quick_ride" {
						dec = chat.Deny
					}
				}
				_ = r.hub.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: dec})
			}
		}()
		r.hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: text, EventID: event}, pl)
		close(pl.shown)
		pl.mu.Lock()
		defer pl.mu.Unlock()
		if len(pl.replies) != 1 {
			t.Fatalf("%q on %s: replies %q, want one", text, r.id, pl.replies)
		}
		return pl.prompts, pl.replies[0]
	}

	if _, reply := send(rs[0], rideQuery, "rp1", chat.Review); !strings.Contains(reply, "another plan") {
		t.Fatalf("deny on r0: %q", reply)
	}
	prompts, reply := send(rs[1], "yes", "rp2", chat.AllowOnce)
	// The new plan is for the original question, and quick_ride is out of
	// it: metro_hail alone answers ($51.80).
	if !strings.Contains(reply, "Main Street") || !strings.Contains(reply, "$51.80") {
		t.Fatalf("yes on r1 did not plan the question again without quick_ride: %q", reply)
	}
	for _, p := range prompts {
		if p.Target == "quick_ride" {
			t.Fatalf("the replan asked for the denied app: %+v", p)
		}
	}
	if _, reply := send(rs[0], "yes", "rp3", chat.AllowOnce); strings.Contains(reply, "Main Street") {
		t.Fatalf("the question was answered twice: %q", reply)
	}

	if _, reply := send(rs[1], rideQuery, "rp4", chat.Review); !strings.Contains(reply, "another plan") {
		t.Fatalf("deny on r1: %q", reply)
	}
	if _, reply := send(rs[0], "no", "rp5", chat.AllowOnce); !strings.Contains(reply, "won't try another plan") {
		t.Fatalf("no on r0: %q", reply)
	}
}

// TestRedisOutage: while Redis is down the user is told and nothing
// crashes; when it is back, service resumes with what was stored before.
func TestRedisOutage(t *testing.T) {
	in := redistest.Start(t)
	st, err := redis.Open(context.Background(), in.URL(), redis.Options{Namespace: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride"}})
	ctx := context.Background()
	user := ids.UserID("slack:T1/U9")
	c := &platform{shown: make(chan chat.Prompt, 4)}
	go func() {
		for p := range c.shown {
			_ = h.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowAlways})
		}
	}()
	defer close(c.shown)
	h.Handle(ctx, chat.Message{User: user, Conversation: "c", Text: fareQuery, EventID: "o1"}, c)

	in.Stop()
	h.Handle(ctx, chat.Message{User: user, Conversation: "c", Text: fareQuery, EventID: "o2"}, c)
	c.mu.Lock()
	last := c.replies[len(c.replies)-1]
	c.mu.Unlock()
	if !strings.Contains(last, "can't reach my state store") {
		t.Fatalf("during the outage the user was told %q", last)
	}

	in.Restart()
	h.Handle(ctx, chat.Message{User: user, Conversation: "c", Text: fareQuery, EventID: "o3"}, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if last := c.replies[len(c.replies)-1]; !strings.Contains(last, "$57.00") {
		t.Fatalf("after the outage: %q", last)
	}
	if len(c.prompts) != 1 {
		t.Fatalf("the always grant was lost across the outage: %d prompts", len(c.prompts))
	}
}

// resolvingPlatform also records how each prompt was shown as resolved.
type resolvingPlatform struct {
	platform
	resolved []string
}

func (p *resolvingPlatform) Resolved(_ context.Context, pr chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resolved = append(p.resolved, fmt.Sprintf("%s by %q expired %v", d, by, expired))
	return nil
}

// TestClickOnAnotherReplicaWhileRelayDown: replica A asks while its relay
// subscription is down (a Redis restart's back-off); the "Always allow"
// clicked on B is what A runs with and shows, and the audit log says who
// decided it and on which replica.
func TestClickOnAnotherReplicaWhileRelayDown(t *testing.T) {
	rs := startReplicas(t, 2)
	rs[0].cancel() // A stops listening; its heartbeat key lives on
	ctx := context.Background()
	user := ids.UserID("slack:T1/U5")
	pl := &resolvingPlatform{platform: platform{shown: make(chan chat.Prompt, 4)}}
	done := make(chan struct{})
	go func() {
		rs[0].hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: fareQuery, EventID: "rd1"}, pl)
		close(done)
	}()
	p := <-pl.shown
	if err := rs[1].hub.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowAlways}); err != nil {
		t.Fatal(err)
	}
	<-done
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if len(pl.resolved) != 1 || pl.resolved[0] != fmt.Sprintf("always by %q expired false", user) {
		t.Fatalf("A showed the prompt as %q, want the stored always", pl.resolved)
	}
	if !strings.Contains(strings.Join(pl.replies, "\n"), "$57.00") {
		t.Fatalf("A did not run the allowed request: %q", pl.replies)
	}
	es, err := rs[0].store.ReadAudit(ctx, state.AuditFilter{User: user})
	if err != nil {
		t.Fatal(err)
	}
	var byWhere bool
	for _, e := range es {
		byWhere = byWhere || (e.Type == vocab.AuditDecision && strings.Contains(e.Detail, "answered by "+string(user)+" on replica r1"))
		if strings.Contains(e.Detail, "no answer in time") {
			t.Fatalf("audited as expired: %+v", e)
		}
	}
	if !byWhere {
		t.Fatalf("no decision entry names who and where: %+v", es)
	}
}

// TestForgetWithdrawsPendingPrompts: a prompt waiting on replica A holds
// the user's words; "!forget all" on B (or on A itself) withdraws it and
// stops the request: A's query ends at once, saying it was stopped, and a
// click on the old prompt changes nothing.
func TestForgetWithdrawsPendingPrompts(t *testing.T) {
	rs := startReplicas(t, 2)
	ctx := context.Background()
	for _, on := range []int{1, 0} {
		user := ids.UserID(fmt.Sprintf("slack:T1/W%d", on))
		pl := &resolvingPlatform{platform: platform{shown: make(chan chat.Prompt, 4)}}
		done := make(chan struct{})
		go func() {
			rs[0].hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: fareQuery}, pl)
			close(done)
		}()
		p := <-pl.shown
		rs[on].hub.Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: "!forget all"}, &platform{shown: make(chan chat.Prompt, 1)})
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("forget on r%d left the prompt on r0 waiting", on)
		}
		err := rs[1].hub.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowAlways})
		if !errors.Is(err, chat.ErrUnknownPrompt) {
			t.Fatalf("forget on r%d: a click on the withdrawn prompt: %v", on, err)
		}
		pl.mu.Lock()
		if strings.Contains(strings.Join(pl.replies, "\n"), "$57.00") || len(pl.resolved) != 1 || strings.HasPrefix(pl.resolved[0], "always") {
			t.Fatalf("forget on r%d: replies %q, resolved %q", on, pl.replies, pl.resolved)
		}
		// The request was stopped, on its own replica or by the event
		// from the other, and says so.
		if !strings.Contains(strings.Join(pl.replies, "\n"), "I stopped this request") {
			t.Errorf("forget on r%d: the request's replies %q do not say it was stopped", on, pl.replies)
		}
		pl.mu.Unlock()
	}
}

// TestNewEndsThreadSessions: "/secgpt new" in a Slack channel (a command
// with Threads set) handled on replica B ends the session of the user's
// threads in that channel too, and says which; the same request in the
// thread then asks again on replica A.
func TestNewEndsThreadSessions(t *testing.T) {
	rs := startReplicas(t, 2)
	ctx := context.Background()
	user := ids.UserID("slack:T1/U7")
	thread := ids.ConversationID("slack:T1/C1/1700.1")
	ask := func(r *replica, ev string) *platform {
		pl := &platform{shown: make(chan chat.Prompt, 4)}
		go func() {
			for p := range pl.shown {
				_ = r.hub.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowSession})
			}
		}()
		r.hub.Handle(ctx, chat.Message{User: user, Conversation: thread, Text: fareQuery, EventID: ev}, pl)
		close(pl.shown)
		return pl
	}
	if pl := ask(rs[0], "t1"); len(pl.prompts) != 1 {
		t.Fatalf("first request: %d prompts", len(pl.prompts))
	}
	if pl := ask(rs[0], "t2"); len(pl.prompts) != 0 {
		t.Fatalf("the session grant did not hold in the thread: %d prompts", len(pl.prompts))
	}
	cmd := &platform{shown: make(chan chat.Prompt, 1)}
	rs[1].hub.Handle(ctx, chat.Message{User: user, Conversation: "slack:T1/C1", Text: "!new", Threads: true, EventID: "t3"}, cmd)
	if len(cmd.replies) != 1 || !strings.Contains(cmd.replies[0], "1 thread") {
		t.Fatalf("the reply does not say which threads ended: %q", cmd.replies)
	}
	if pl := ask(rs[0], "t4"); len(pl.prompts) != 1 {
		t.Fatalf("after /secgpt new in the channel the thread's session grant still held: %d prompts", len(pl.prompts))
	}
}

// TestClickAcrossRedisRestart: Redis restarts (with its data, as with
// persistence) while replica A waits for an answer; the click taken on B
// after the restart is what A acts on and shows.
func TestClickAcrossRedisRestart(t *testing.T) {
	in := redistest.Start(t)
	ns := fmt.Sprintf("restart-%d", time.Now().UnixNano())
	var hs []*hub.Hub
	for i := range 2 {
		st, err := redis.Open(context.Background(), in.URL(), redis.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rl := st.Relay(redis.RelayOptions{})
		id := fmt.Sprintf("r%d", i)
		h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride"}, Relay: rl, ReplicaID: id, Liveness: rl, UserEvents: rl})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if err := rl.Heartbeat(ctx, id, time.Hour); err != nil {
			t.Fatal(err)
		}
		go h.Run(ctx)
		hs = append(hs, h)
	}
	ctx := context.Background()
	user := ids.UserID("slack:T1/U8")
	pl := &resolvingPlatform{platform: platform{shown: make(chan chat.Prompt, 4)}}
	done := make(chan struct{})
	go func() {
		hs[0].Handle(ctx, chat.Message{User: user, Conversation: "c1", Text: fareQuery, EventID: "rr1"}, pl)
		close(done)
	}()
	p := <-pl.shown
	in.Stop()
	in.Restart()
	var err error
	for i := 0; i < 50; i++ {
		// B's first commands after the restart may still meet the old
		// connections.
		if err = hs[1].Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: user, Decision: chat.AllowAlways}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("answer on B after the restart: %v", err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("A did not resume")
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if len(pl.resolved) != 1 || pl.resolved[0] != fmt.Sprintf("always by %q expired false", user) ||
		!strings.Contains(strings.Join(pl.replies, "\n"), "$57.00") {
		t.Fatalf("A showed %q and replied %q, want the stored always and the fare", pl.resolved, pl.replies)
	}
}
