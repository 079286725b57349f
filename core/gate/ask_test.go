package gate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestAskQuestion: an app's question (chat.KindElicit) is answered only
// with one of its own options, by its own user; a permission decision
// cannot answer it (so no grant comes of it), and its options cannot
// answer a permission prompt.
func TestAskQuestion(t *testing.T) {
	st := memstore.New(memstore.Options{})
	g := New(st, Options{Timeout: 5 * time.Second})
	c := newConv()
	ctx := context.Background()
	q := chat.Prompt{User: "u:1", Conversation: "c", Session: "s", Kind: chat.KindElicit, Target: "mcp.x", Data: "question",
		Options: []chat.Decision{chat.Option("small"), chat.Option("large"), chat.Cancel}}
	done := make(chan chat.Decision, 1)
	go func() { d, _ := g.Ask(ctx, c, q); done <- d }()
	p := <-c.prompts
	for _, tt := range []struct {
		name string
		d    chat.Decision
		user string
		want error // nil: any error
	}{
		{"always allow", chat.AllowAlways, "u:1", nil},
		{"allow once", chat.AllowOnce, "u:1", nil},
		{"accept, not offered", chat.Accept, "u:1", nil},
		{"option not offered", chat.Option("medium"), "u:1", nil},
		{"other user", chat.Option("large"), "u:2", chat.ErrNotYours},
	} {
		err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: ids.UserID(tt.user), Decision: tt.d})
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.Option("large")}); err != nil {
		t.Fatal(err)
	}
	if d := <-done; d != chat.Option("large") {
		t.Fatalf("answer %q, want the chosen option", d)
	}
	if gs, err := st.ListGrants(ctx, "u:1"); err != nil || len(gs) != 0 {
		t.Fatalf("a question left grants: %v (%v)", gs, err)
	}

	// A permission prompt does not take a question's answers.
	go func() { d, _ := g.Check(ctx, c, req("u:1", chat.KindExec, "s")); done <- d }()
	p = <-c.prompts
	for _, d := range []chat.Decision{chat.Accept, chat.Option("yes")} {
		if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: d}); err == nil {
			t.Errorf("%q answered a permission prompt", d)
		}
	}
	if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.Deny}); err != nil {
		t.Fatal(err)
	}
	<-done

	if _, err := g.Ask(ctx, c, chat.Prompt{User: "u:1", Kind: chat.KindExec, Options: q.Options}); err == nil {
		t.Error("Ask showed a permission prompt")
	}
}

// TestAskTimesOutToCancel: an unanswered question is cancelled, never
// accepted.
func TestAskTimesOutToCancel(t *testing.T) {
	g := New(memstore.New(memstore.Options{}), Options{Timeout: 50 * time.Millisecond})
	c := newConv()
	d, err := g.Ask(context.Background(), c, chat.Prompt{User: "u:1", Kind: chat.KindElicit, Target: "mcp.x", Options: []chat.Decision{chat.Accept, chat.Cancel}})
	if err != nil || d != chat.Cancel {
		t.Fatalf("unanswered question: %q, %v; want cancel", d, err)
	}
}

// TestAskTyped: a free-text question takes the user's typed text, a
// button-only question does not.
func TestAskTyped(t *testing.T) {
	g := New(memstore.New(memstore.Options{}), Options{Timeout: 5 * time.Second})
	c := newConv()
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		freeText bool
		ok       bool
	}{{"free text", true, true}, {"buttons only", false, false}} {
		q := chat.Prompt{User: "u:1", Kind: chat.KindElicit, Target: "mcp.x", FreeText: tt.freeText, Options: []chat.Decision{chat.Cancel}}
		done := make(chan chat.Decision, 1)
		go func() { d, _ := g.Ask(ctx, c, q); done <- d }()
		p := <-c.prompts
		err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.Option("Ada Lovelace")})
		if (err == nil) != tt.ok {
			t.Fatalf("%s: typed answer err = %v", tt.name, err)
		}
		if !tt.ok {
			if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: "u:1", Decision: chat.Cancel}); err != nil {
				t.Fatal(err)
			}
		}
		want := chat.Option("Ada Lovelace")
		if !tt.ok {
			want = chat.Cancel
		}
		if d := <-done; d != want {
			t.Errorf("%s: answer %q, want %q", tt.name, d, want)
		}
	}
}
