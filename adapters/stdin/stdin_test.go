package stdin

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// fakeAssistant asks two prompts per message and replies with the answers.
type fakeAssistant struct {
	mu      sync.Mutex
	waiting map[ids.PromptID]chan chat.Decision
	handled []string
}

func (f *fakeAssistant) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	f.mu.Lock()
	f.handled = append(f.handled, m.Text)
	f.mu.Unlock()
	if m.Text == "plain" {
		_ = c.Reply(ctx, "plain answer")
		return
	}
	var got []string
	var wg sync.WaitGroup
	res := make([]chat.Decision, 2)
	for i, id := range []ids.PromptID{ids.PromptID(m.Text + "-a"), ids.PromptID(m.Text + "-b")} {
		ch := make(chan chat.Decision, 1)
		f.mu.Lock()
		if f.waiting == nil {
			f.waiting = map[ids.PromptID]chan chat.Decision{}
		}
		f.waiting[id] = ch
		f.mu.Unlock()
		p := chat.Prompt{ID: id, Nonce: "n", User: m.User, Kind: chat.KindExec, Target: "app"}
		_ = c.Prompt(ctx, p)
		wg.Add(1)
		go func(i int, p chat.Prompt) {
			defer wg.Done()
			d := <-ch
			res[i] = d
			_ = c.(chat.ResolvingConversation).Resolved(ctx, p, d, m.User, false)
		}(i, p)
	}
	wg.Wait()
	for _, d := range res {
		got = append(got, string(d))
	}
	_ = c.Reply(ctx, m.Text+": "+strings.Join(got, ","))
}

func (f *fakeAssistant) Answer(_ context.Context, a chat.Answer) error {
	f.mu.Lock()
	ch, ok := f.waiting[a.Prompt]
	delete(f.waiting, a.Prompt)
	f.mu.Unlock()
	if !ok || a.Nonce != "n" {
		return chat.ErrUnknownPrompt
	}
	ch <- a.Decision
	return nil
}

func TestTerminalSession(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		handled int
	}{
		{"answers go to prompts in order", "first\n1\n4\nplain\n", []string{"first: once,deny", "plain answer"}, 2},
		{"a bad answer is asked again", "first\nmaybe\n3\n2\n", []string{"Please answer 1, 2, 3 or 4", "first: always,session"}, 1},
		{"EOF denies what waits", "first\n1\n", []string{"input closed", "first: once,deny"}, 1},
		{"quit ends", "plain\n!quit\nplain\n", []string{"plain answer"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a := New(strings.NewReader(tt.in), &syncWriter{w: &out}, "alice")
			fa := &fakeAssistant{}
			if err := a.Run(context.Background(), fa); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("output lacks %q:\n%s", w, s)
				}
			}
			if len(fa.handled) != tt.handled {
				t.Errorf("handled %v, want %d messages", fa.handled, tt.handled)
			}
			if a.User() != "terminal:alice" {
				t.Errorf("user = %s", a.User())
			}
		})
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
