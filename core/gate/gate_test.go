package gate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// conv records prompts and hands them to a channel.
type conv struct {
	prompts  chan chat.Prompt
	mu       sync.Mutex
	resolved []chat.Decision
	expired  []bool
	failShow bool
}

func newConv() *conv { return &conv{prompts: make(chan chat.Prompt, 8)} }

func (c *conv) Reply(context.Context, string) error { return nil }
func (c *conv) Prompt(_ context.Context, p chat.Prompt) error {
	if c.failShow {
		return errors.New("platform down")
	}
	c.prompts <- p
	return nil
}
func (c *conv) Resolved(_ context.Context, _ chat.Prompt, d chat.Decision, _ ids.UserID, expired bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resolved = append(c.resolved, d)
	c.expired = append(c.expired, expired)
	return nil
}

func req(user ids.UserID, kind chat.Kind, session ids.SessionID) Request {
	return Request{User: user, Session: session, Kind: kind, Target: "quick_ride", Data: "args"}
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name      string
		answer    chat.Decision
		wantAllow bool
		// asked again on a second Check in the same session / a new session
		againSame, againNew bool
	}{
		{"once", chat.AllowOnce, true, true, true},
		{"session", chat.AllowSession, true, false, true},
		{"always", chat.AllowAlways, true, false, false},
		{"deny", chat.Deny, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New(memstore.Options{})
			g := New(st, Options{Timeout: 5 * time.Second})
			c := newConv()
			ctx := context.Background()
			ask := func(sess ids.SessionID) (chat.Decision, bool) {
				done := make(chan chat.Decision, 1)
				go func() {
					d, err := g.Check(ctx, c, req("u:1", chat.KindExec, sess))
					if err != nil {
						t.Error(err)
					}
					done <- d
				}()
				select {
				case p := <-c.prompts:
					if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: tt.answer}); err != nil {
						t.Fatal(err)
					}
					return <-done, true
				case d := <-done:
					return d, false
				}
			}
			d, asked := ask("s1")
			if !asked || d.Allows() != tt.wantAllow {
				t.Fatalf("first: decision %s asked %v", d, asked)
			}
			if _, asked := ask("s1"); asked != tt.againSame {
				t.Fatalf("same session: asked = %v, want %v", asked, tt.againSame)
			}
			if _, asked := ask("s2"); asked != tt.againNew {
				t.Fatalf("new session: asked = %v, want %v", asked, tt.againNew)
			}
			evs, _ := st.ReadAudit(ctx, state.AuditFilter{Type: vocab.AuditDecision})
			if len(evs) != 3 {
				t.Fatalf("audit has %d decisions, want 3", len(evs))
			}
		})
	}
}

func TestTimeoutDenies(t *testing.T) {
	st := memstore.New(memstore.Options{})
	g := New(st, Options{Timeout: 50 * time.Millisecond})
	c := newConv()
	d, err := g.Check(context.Background(), c, req("u:1", chat.KindData, "s"))
	if err != nil || d != chat.Deny {
		t.Fatalf("decision %s err %v", d, err)
	}
	p := <-c.prompts
	if len(c.expired) != 1 || !c.expired[0] {
		t.Fatalf("resolved as expired: %v", c.expired)
	}
	if err := g.Answer(context.Background(), chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.AllowAlways}); !errors.Is(err, chat.ErrUnknownPrompt) {
		t.Fatalf("late answer: %v", err)
	}
	if gs, _ := st.ListGrants(context.Background(), "u:1"); len(gs) != 0 {
		t.Fatalf("late answer stored a grant: %v", gs)
	}
}

func TestAnswerChecks(t *testing.T) {
	st := memstore.New(memstore.Options{})
	g := New(st, Options{Timeout: 5 * time.Second})
	c := newConv()
	ctx := context.Background()
	done := make(chan chat.Decision, 1)
	go func() { d, _ := g.Check(ctx, c, req("u:1", chat.KindCollab, "s")); done <- d }()
	p := <-c.prompts
	for _, tt := range []struct {
		name string
		a    chat.Answer
		want error
	}{
		{"other user", chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:2", Decision: chat.AllowAlways}, chat.ErrNotYours},
		{"wrong nonce", chat.Answer{Prompt: p.ID, Nonce: "x", User: "u:1", Decision: chat.AllowAlways}, chat.ErrUnknownPrompt},
		{"unknown prompt", chat.Answer{Prompt: "nope", Nonce: p.Nonce, User: "u:1", Decision: chat.AllowAlways}, chat.ErrUnknownPrompt},
	} {
		if err := g.Answer(ctx, tt.a); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: "maybe"}); err == nil {
		t.Error("invalid decision accepted")
	}
	if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.Deny}); err != nil {
		t.Fatal(err)
	}
	if d := <-done; d != chat.Deny {
		t.Fatalf("decision %s", d)
	}
	evs, _ := st.ReadAudit(ctx, state.AuditFilter{Type: vocab.AuditRefusedAnswer})
	if len(evs) != 1 {
		t.Fatalf("refused answer not audited: %v", evs)
	}
}

func TestPromptNotShownDenies(t *testing.T) {
	st := memstore.New(memstore.Options{})
	g := New(st, Options{})
	c := newConv()
	c.failShow = true
	d, err := g.Check(context.Background(), c, req("u:1", chat.KindExec, "s"))
	if err == nil || d != chat.Deny {
		t.Fatalf("d=%s err=%v", d, err)
	}
}

// relay is an in-process Relay shared by two gates, as Redis pub/sub is
// shared by two replicas.
type relay struct {
	mu   sync.Mutex
	subs []func(ids.PromptID, chat.Decision, ids.UserID)
}

func (r *relay) Publish(_ context.Context, id ids.PromptID, d chat.Decision, by ids.UserID) error {
	r.mu.Lock()
	subs := append([]func(ids.PromptID, chat.Decision, ids.UserID){}, r.subs...)
	r.mu.Unlock()
	for _, f := range subs {
		f(id, d, by)
	}
	return nil
}

func (r *relay) Subscribe(ctx context.Context, fn func(ids.PromptID, chat.Decision, ids.UserID)) error {
	r.mu.Lock()
	r.subs = append(r.subs, fn)
	r.mu.Unlock()
	<-ctx.Done()
	return nil
}

func TestAnswerOnAnotherReplica(t *testing.T) {
	st := memstore.New(memstore.Options{})
	rl := &relay{}
	a := New(st, Options{Relay: rl, Timeout: 5 * time.Second})
	b := New(st, Options{Relay: rl, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	go b.Run(ctx)
	for {
		rl.mu.Lock()
		n := len(rl.subs)
		rl.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c := newConv()
	done := make(chan chat.Decision, 1)
	go func() { d, _ := a.Check(ctx, c, req("u:1", chat.KindExec, "s")); done <- d }()
	p := <-c.prompts
	if err := b.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.AllowAlways}); err != nil {
		t.Fatal(err)
	}
	if d := <-done; d != chat.AllowAlways {
		t.Fatalf("decision on replica a = %s", d)
	}
	if _, ok, _ := st.FindGrant(ctx, req("u:1", chat.KindExec, "").Key(), ""); !ok {
		t.Fatal("always grant not stored by the answering replica")
	}
}
