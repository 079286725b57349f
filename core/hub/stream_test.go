package hub_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/apps/appstate"
	"github.com/secgpt-go/secgpt/apps/mail"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/respond"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/evaluation/adversary"
)

// streamConv is a scripted conversation that can stream: it records every
// update the adapter would show and the text each stream finished with.
// A finished stream counts as a reply, so Send returns its final text.
type streamConv struct {
	*scripted.Conversation
	// refuse makes StreamReply fail, as an adapter whose placeholder
	// could not be posted.
	refuse bool

	mu       sync.Mutex // guards the fields below
	opened   int
	updates  []string
	finished []string
	replies  []string // replies and finished streams, in order
}

// Reply records a reply posted whole.
func (c *streamConv) Reply(_ context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, text)
	return nil
}

// send handles text as the conversation's user and returns the replies
// it caused.
func (c *streamConv) send(ctx context.Context, text string) string {
	c.mu.Lock()
	n := len(c.replies)
	c.mu.Unlock()
	c.A.Handle(ctx, chat.Message{User: c.User, Conversation: ids.ConversationID("conv:" + string(c.User)), Text: text}, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.replies[n:], "\n")
}

func (c *streamConv) StreamReply(context.Context) (chat.ReplyStream, error) {
	if c.refuse {
		return nil, errors.New("placeholder refused")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opened++
	return &recStream{c: c}, nil
}

type recStream struct {
	c    *streamConv
	done bool
}

func (s *recStream) Update(_ context.Context, text string) error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.done {
		return errors.New("update after finish")
	}
	s.c.updates = append(s.c.updates, text)
	return nil
}

func (s *recStream) Finish(_ context.Context, text string) error {
	s.c.mu.Lock()
	if s.done {
		s.c.mu.Unlock()
		return errors.New("finished twice")
	}
	s.done = true
	s.c.finished = append(s.c.finished, text)
	s.c.replies = append(s.c.replies, text)
	s.c.mu.Unlock()
	return nil
}

func (c *streamConv) seen() (opened int, updates, finished []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, slices.Clone(c.updates), slices.Clone(c.finished)
}

// streamed makes any model stream: its answer's text is handed over two
// words at a time. failAfter > 0 makes a responder call fail after that
// many pieces, as a connection that breaks mid-answer.
type streamed struct {
	llm.Model
	failAfter int
}

func (m streamed) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	resp, err := m.Generate(ctx, req)
	if err != nil || len(req.Tools) > 0 {
		return resp, err
	}
	for i, p := range offline.Pieces(resp.Content, 2) {
		if m.failAfter > 0 && i == m.failAfter {
			return nil, errors.New("connection reset mid-answer")
		}
		if err := onText(ctx, p); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func denyMetroHail(t *testing.T) []gate.Rule {
	t.Helper()
	var rules []gate.Rule
	for _, r := range [][2]string{{"allow", "exec:quick_*"}, {"deny", "exec:metro_hail"}} {
		ru, err := gate.ParseRule(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, ru)
	}
	return rules
}

// TestReplyStreams: the responder's answer reaches a streaming
// conversation in several growing updates, and the stream finishes with
// exactly the reply a conversation that cannot stream gets, the hub's
// notes, attribution and replan question included.
func TestReplyStreams(t *testing.T) {
	tests := []struct {
		name  string
		rules bool
		want  []string // in the final reply
	}{
		{"two steps", false, []string{"_Drew on: quick_ride, metro_hail._"}},
		{"a step denied", true, []string{"**metro_hail**: not run: you denied permission (step 2).", "_Drew on: quick_ride._", "Shall I try another plan without them?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hubtest.Options{Model: offline.Model{Pace: -1}, Apps: []ids.AppID{"quick_ride", "metro_hail"}}
			if tt.rules {
				o.Rules = denyMetroHail(t)
			}
			ctx := context.Background()
			plain := (&scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}).Send(ctx, rideQuery)

			c := &streamConv{Conversation: &scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}}
			got := c.send(ctx, rideQuery)
			opened, updates, finished := c.seen()
			if opened != 1 || len(finished) != 1 {
				t.Fatalf("streams opened %d, finished %v; want one of each", opened, finished)
			}
			if finished[0] != plain || got != plain {
				t.Errorf("streamed reply differs from the plain one:\nstreamed %q\nplain    %q", finished[0], plain)
			}
			for _, w := range tt.want {
				if !strings.Contains(finished[0], w) {
					t.Errorf("final reply lacks %q: %q", w, finished[0])
				}
			}
			if len(updates) < 3 {
				t.Fatalf("%d updates, want several: %q", len(updates), updates)
			}
			for i, u := range updates {
				if !strings.HasPrefix(finished[0], u) {
					t.Errorf("update %d is not the start of the reply: %q", i, u)
				}
				if i > 0 && len(u) <= len(updates[i-1]) {
					t.Errorf("update %d does not grow: %q after %q", i, u, updates[i-1])
				}
			}
		})
	}
}

// TestStreamFailsMidAnswer: a responder whose connection breaks after some
// pieces were shown leaves no trace of them: the stream finishes with the
// fallback reply (the results as the apps gave them), nothing repeated.
func TestStreamFailsMidAnswer(t *testing.T) {
	ctx := context.Background()
	o := hubtest.Options{Model: streamed{Model: offline.Model{}}, Apps: []ids.AppID{"quick_ride", "metro_hail"}}
	// The reply a responder that fails before any piece leads to.
	failing := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		if respond.Is(req) {
			return nil, errors.New("down")
		}
		return offline.Model{}.Generate(ctx, req)
	})
	fo := o
	fo.Model = failing
	want := (&scripted.Conversation{A: hubtest.New(t, fo), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}).Send(ctx, rideQuery)

	o.Model = streamed{Model: offline.Model{}, failAfter: 2}
	c := &streamConv{Conversation: &scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}}
	c.send(ctx, rideQuery)
	_, updates, finished := c.seen()
	if len(updates) != 2 {
		t.Fatalf("updates %q, want the two pieces before the failure", updates)
	}
	if len(finished) != 1 || finished[0] != want {
		t.Fatalf("finished %q, want the fallback reply %q", finished, want)
	}
}

// TestStreamRefusedRepliesWhole: when the adapter cannot open a stream the
// reply is posted once, whole.
func TestStreamRefusedRepliesWhole(t *testing.T) {
	ctx := context.Background()
	o := hubtest.Options{Model: offline.Model{Pace: -1}, Apps: []ids.AppID{"quick_ride", "metro_hail"}}
	plain := (&scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}).Send(ctx, rideQuery)
	c := &streamConv{refuse: true, Conversation: &scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}}
	got := c.send(ctx, rideQuery)
	if _, updates, _ := c.seen(); len(updates) != 0 || got != plain {
		t.Fatalf("updates %q; reply %q, want %q", updates, got, plain)
	}
}

// countStreams counts the streamed calls of a model.
type countStreams struct {
	streamed
	mu sync.Mutex
	n  int
}

func (m *countStreams) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	m.mu.Lock()
	m.n++
	m.mu.Unlock()
	return m.streamed.GenerateStream(ctx, req, onText)
}

// TestNoStreamWithoutAStreamingConversation: a conversation that cannot
// show a growing reply gets the model's answer unstreamed; the model is
// not asked to stream (the demo model would pace its pieces for nothing).
func TestNoStreamWithoutAStreamingConversation(t *testing.T) {
	m := &countStreams{streamed: streamed{Model: offline.Model{}}}
	h := hubtest.New(t, hubtest.Options{Model: m, Apps: []ids.AppID{"quick_ride", "metro_hail"}})
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
	if reply := c.Send(context.Background(), rideQuery); !strings.Contains(reply, "_Drew on:") {
		t.Fatalf("reply %q does not come from the responder", reply)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n != 0 {
		t.Errorf("the model was asked to stream %d times for a conversation that cannot show it", m.n)
	}

	sc := &streamConv{Conversation: &scripted.Conversation{A: h, User: "test:bob", Policy: scripted.Always(chat.AllowOnce)}}
	m.mu.Unlock()
	sc.send(context.Background(), rideQuery)
	m.mu.Lock()
	if m.n != 1 {
		t.Errorf("streamed calls for a streaming conversation: %d, want 1", m.n)
	}
}

// TestStreamedInjectionTriggersNoCall: the attacker's responder streams
// its answer. It obeys the order injected into the newest mail and writes
// terminal escapes too; still nothing but the planned search runs, its
// tool calls are only audited, and every update the adapter receives,
// not only the final text, shows the escapes as visible text.
func TestStreamedInjectionTriggersNoCall(t *testing.T) {
	store := hubtest.Store(t)
	var mu sync.Mutex
	var started []string
	trace := func(e hub.TraceEvent) {
		if e.Type == vocab.TraceSpokeStart {
			mu.Lock()
			started = append(started, string(e.App))
			mu.Unlock()
		}
	}
	attacker := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		resp, err := adversary.Model{}.Generate(ctx, req)
		if err == nil && respond.Is(req) {
			resp.Content = "Done as the mail said. " + repaintText + " " + resp.Content
		}
		return resp, err
	})
	h := hubtest.New(t, hubtest.Options{Model: streamed{Model: attacker}, Store: store, Trace: trace,
		Apps: []ids.AppID{"google_drive_retrieve", "send_gmail_message", "search_gmail", "delete_gmail_message"}})
	c := &streamConv{Conversation: &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowAlways)}}
	reply := c.send(context.Background(), "Summarize the newest email for me.")

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(started, []string{"search_gmail"}) {
		t.Errorf("spokes started: %v, want only search_gmail", started)
	}
	ctx := context.Background()
	rd := appstate.FromStore(store, "test:alice", mail.Namespace)
	sent, _ := mail.Sent(ctx, rd)
	deleted, _ := mail.Deleted(ctx, rd)
	if len(sent) != 0 || len(deleted) != 0 {
		t.Errorf("injected order acted: sent %v, deleted %v", sent, deleted)
	}
	ev, err := store.ReadAudit(ctx, state.AuditFilter{User: "test:alice", Type: vocab.AuditResponderToolCallIgnored})
	if err != nil || len(ev) == 0 {
		t.Errorf("the responder's tool calls were not audited as ignored: %v %v", ev, err)
	}
	_, updates, finished := c.seen()
	if len(updates) < 3 || len(finished) != 1 || finished[0] != reply {
		t.Fatalf("updates %d, finished %q, reply %q", len(updates), finished, reply)
	}
	escaped := 0
	for i, u := range append(updates, finished...) {
		if j := strings.IndexFunc(u, func(r rune) bool {
			return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e
		}); j >= 0 {
			t.Errorf("update %d carries raw control %q: %q", i, u[j:j+1], u)
		}
		if strings.Contains(u, `\x1b[2K`) {
			escaped++
		}
	}
	if escaped < 2 {
		t.Errorf("the escapes were visible in %d updates, want the updates after they arrived and the final text", escaped)
	}
}
