package stdin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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
		if m.Text == "question" {
			// An app's question: a choice of values, then a typed field.
			p.Kind, p.Options = chat.KindElicit, []chat.Decision{chat.Option("small"), chat.Option("large"), chat.Cancel}
			p.FreeText = i == 1
		}
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
		{"a question takes its options and typed text", "question\n2\n1\n", []string{"1) small  2) large  3) Cancel", "Type your answer", "question: =large,=1"}, 1},
		{"a question refuses a permission answer", "question\nalways\ncancel\nAda Lovelace\n", []string{"Please answer 1, 2 or 3", "question: cancel,=Ada Lovelace"}, 1},
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

// TestLongLineGetsErrorAndChatGoesOn: a 10 MB line is refused with an
// error and the next line is still answered (on main it ended the chat).
func TestLongLineGetsErrorAndChatGoesOn(t *testing.T) {
	in := strings.Repeat("x", 10<<20) + "\nplain\n"
	var out bytes.Buffer
	a := New(strings.NewReader(in), &syncWriter{w: &out}, "alice")
	fa := &fakeAssistant{}
	if err := a.Run(context.Background(), fa); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "over the 1 MiB limit") || !strings.Contains(s, "plain answer") {
		t.Fatalf("output:\n%.2000s", s)
	}
	if len(fa.handled) != 1 || fa.handled[0] != "plain" {
		t.Fatalf("handled %d messages, want only %q", len(fa.handled), "plain")
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string // "ERR" for ErrLineTooLong
	}{
		{"lines", "a\nb\r\nc", 10, []string{"a", "b", "c"}},
		{"exact limit", "0123456789\nx\n", 10, []string{"0123456789", "x"}},
		{"over limit dropped", "0123456789A\nx\n", 10, []string{"ERR", "x"}},
		{"over limit at EOF", "0123456789AB", 10, []string{"ERR"}},
		{"huge line over buffer", strings.Repeat("y", 200<<10) + "\nok\n", 100 << 10, []string{"ERR", "ok"}},
		{"empty lines", "\n\n", 10, []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewLineReader(strings.NewReader(tt.in), tt.max)
			var got []string
			for {
				l, err := r.ReadLine()
				if errors.Is(err, ErrLineTooLong) {
					got = append(got, "ERR")
					continue
				}
				if err != nil {
					break
				}
				got = append(got, l)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("lines %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTerminalCannotBeRepainted: prompt fields and replies holding escape
// sequences are printed with the escapes visible, never raw, so "App
// weather wants to use send_email with your SSN" cannot be redrawn as
// "Run app weather?".
func TestTerminalCannotBeRepainted(t *testing.T) {
	const evil = "App weather wants to use send_email with your SSN\r\x1b[2K\x1b[1ARun app weather?\u202e\u009b"
	var out bytes.Buffer
	a := New(strings.NewReader(""), &syncWriter{w: &out}, "alice")
	ctx := context.Background()
	p := chat.Prompt{ID: "p", Kind: chat.KindCollab, Requester: "weather\x1b[8m", Target: "send_email", Function: "send\r", Data: evil, Reason: evil}
	_ = a.Prompt(ctx, p)
	_ = a.Resolved(ctx, p, chat.Deny, "x\x1b", false)
	_ = a.Reply(ctx, evil)
	_ = a.Status(ctx, evil)
	s := out.String()
	for _, bad := range []string{"\x1b", "\r", "\u202e", "\u009b"} {
		if strings.Contains(s, bad) {
			t.Errorf("raw %q printed:\n%q", bad, s)
		}
	}
	if !strings.Contains(s, `\x1b[1ARun app weather?`) || !strings.Contains(s, `weather\x1b[8m`) {
		t.Errorf("escapes not shown visibly:\n%s", s)
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, in, plain, styled string
	}{
		{"bold", "a **b** c", "a b c", "a \x1b[1mb\x1b[0m c"},
		{"italic", "an *it* word", "an it word", "an \x1b[3mit\x1b[0m word"},
		{"italic underscores", "an _it_ word", "an it word", "an \x1b[3mit\x1b[0m word"},
		{"italic underscores by punctuation", "(_see_).", "(see).", "(\x1b[3msee\x1b[0m)."},
		{"underscores inside words stay", "send_email, snake_case_name and my__dunder__name", "send_email, snake_case_name and my__dunder__name", "send_email, snake_case_name and my__dunder__name"},
		{"underscores inside words beside italic", "run _send_email_ now", "run send_email now", "run \x1b[3msend_email\x1b[0m now"},
		{"lone underscores stay", "a _ b _ c, then _open and", "a _ b _ c, then _open and", "a _ b _ c, then _open and"},
		// CommonMark: "__init__" alone is strong emphasis (spec: __foo__);
		// only a dunder inside a word stays.
		{"dunder alone is strong", "__init__", "init", "\x1b[1minit\x1b[0m"},
		{"bold italic", "**_x_**", "x", "\x1b[1m\x1b[3mx\x1b[0m\x1b[0m"},
		{"link target keeps underscores", "_see_ [the docs](https://x.test/_a_/b_c_)", "see the docs (https://x.test/_a_/b_c_)", "\x1b[3msee\x1b[0m the docs (\x1b[4mhttps://x.test/_a_/b_c_\x1b[0m)"},
		{"bare URL keeps underscores", "see https://x.test/_a_/b_c. and _this_", "see https://x.test/_a_/b_c. and this", "see https://x.test/_a_/b_c. and \x1b[3mthis\x1b[0m"},
		{"link shows its target", "see [your bank](https://evil.example/x)", "see your bank (https://evil.example/x)", "see your bank (\x1b[4mhttps://evil.example/x\x1b[0m)"},
		{"bare link", "[https://x.test](https://x.test)", "https://x.test", "\x1b[4mhttps://x.test\x1b[0m"},
		{"autolink", "<https://x.test>", "https://x.test", "\x1b[4mhttps://x.test\x1b[0m"},
		{"bullets", "- one\n* **two**", "  • one\n  • two", "  • one\n  • \x1b[1mtwo\x1b[0m"},
		{"ordered", "1. first\n2) second", "  1. first\n  2. second", "  1. first\n  2. second"},
		{"heading", "## Fares", "Fares", "\x1b[1m\x1b[4mFares\x1b[0m"},
		{"code block kept", "```\nx := **y**\n```", "\n    x := **y**\n", "\n    \x1b[2mx := **y**\x1b[0m\n"},
		{"code span", "use `**raw**`", "use `**raw**`", "use \x1b[2m**raw**\x1b[0m"},
		{"quote", "> said", "  │ said", "  │ said"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(tt.in, false); got != tt.plain {
				t.Errorf("plain render(%q) = %q, want %q", tt.in, got, tt.plain)
			}
			if got := render(tt.in, true); got != tt.styled {
				t.Errorf("styled render(%q) = %q, want %q", tt.in, got, tt.styled)
			}
		})
	}
}

// TestPromptsQueued: with two prompts waiting only the first is on screen,
// numbered as one of two, and the second appears after the first is
// answered.
func TestPromptsQueued(t *testing.T) {
	var out bytes.Buffer
	a := New(strings.NewReader(""), &syncWriter{w: &out}, "alice")
	ctx := context.Background()
	_ = a.Prompt(ctx, chat.Prompt{ID: "a", Kind: chat.KindExec, Target: "first_app"})
	_ = a.Prompt(ctx, chat.Prompt{ID: "b", Kind: chat.KindExec, Target: "second_app"})
	s := out.String()
	if !strings.Contains(s, "Answer 1-4 for: Run app first_app?") || strings.Contains(s, "Run app second_app?") ||
		!strings.Contains(s, "(1 more permission request waiting after this one: this is 1 of 2)") {
		t.Fatalf("after two prompts:\n%s", s)
	}
	_ = a.Resolved(ctx, chat.Prompt{ID: "a", Kind: chat.KindExec, Target: "first_app"}, chat.AllowOnce, "", false)
	s = out.String()
	if !strings.Contains(s, "[permission] Allow once: Run app first_app?") || !strings.Contains(s, "Answer 1-4 for: Run app second_app?") {
		t.Fatalf("after the first was answered:\n%s", s)
	}
}

func TestStreamReply(t *testing.T) {
	var out bytes.Buffer
	a := New(strings.NewReader(""), &syncWriter{w: &out}, "alice")
	ctx := context.Background()
	s, err := a.StreamReply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Update(ctx, "Hello **wor")
	if strings.Contains(out.String(), "Hello") {
		t.Fatalf("a partial line was printed: %q", out.String())
	}
	_ = s.Update(ctx, "Hello **world**\n- a")
	_ = s.Finish(ctx, "Hello **world**\n- a\x1b[2J\n- b")
	got := out.String()
	if !strings.Contains(got, "secgpt> Hello world\n    • a\\x1b[2J\n    • b\n") {
		t.Fatalf("streamed output %q", got)
	}
}

// TestStreamedReplyLooksLikeReply: a reply streamed in pieces (blank lines,
// a list, Markdown cut mid-mark) prints exactly what Reply prints.
func TestStreamedReplyLooksLikeReply(t *testing.T) {
	const text = "**quick_ride**: $57.00\n\n**metro_hail**: $51.80\n\n- one\n- two\n\n_Drew on: quick_ride, metro_hail._"
	ctx := context.Background()
	var whole, streamed bytes.Buffer
	_ = New(strings.NewReader(""), &syncWriter{w: &whole}, "alice").Reply(ctx, text)
	s, err := New(strings.NewReader(""), &syncWriter{w: &streamed}, "alice").StreamReply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(text); i += 7 {
		_ = s.Update(ctx, text[:i])
	}
	_ = s.Finish(ctx, text)
	if streamed.String() != whole.String() {
		t.Errorf("streamed:\n%q\nreplied:\n%q", streamed.String(), whole.String())
	}
}

func TestLateAnswerIsNotARequest(t *testing.T) {
	var out bytes.Buffer
	a := New(strings.NewReader("2\nplain\n"), &syncWriter{w: &out}, "alice")
	fa := &fakeAssistant{}
	if err := a.Run(context.Background(), fa); err != nil {
		t.Fatal(err)
	}
	if len(fa.handled) != 1 || !strings.Contains(out.String(), "No permission request is waiting") {
		t.Fatalf("handled %v; output:\n%s", fa.handled, out.String())
	}
}

// planAsker asks one plan prompt whose step has a long value.
type planAsker struct{ answers chan chat.Answer }

const longValue = "Dear Ada, here are the minutes of the meeting that you asked for yesterday"

func (f *planAsker) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	p := chat.Prompt{ID: "plan", Nonce: "n", User: m.User, Kind: chat.KindPlan, ExpiresAt: time.Now().Add(5 * time.Minute),
		Steps: []chat.PlanStep{{N: 1, App: "gmail", Function: "send", Effect: "send", Args: []chat.Field{{Name: "to", Value: "ada@example.com"}, {Name: "body", Value: longValue}}}}}
	_ = c.Prompt(ctx, p)
	a := <-f.answers
	_ = c.(chat.ResolvingConversation).Resolved(ctx, p, a.Decision, a.User, false)
	_ = c.Reply(ctx, "done")
}

func (f *planAsker) Answer(_ context.Context, a chat.Answer) error {
	f.answers <- a
	return nil
}

// TestPromptWording: a step reads as one call with long values shortened,
// the prompt says when it expires, and "v" shows every value in full.
func TestPromptWording(t *testing.T) {
	var out bytes.Buffer
	a := New(strings.NewReader("go\nv\n4\n"), &syncWriter{w: &out}, "alice")
	if err := a.Run(context.Background(), &planAsker{answers: make(chan chat.Answer, 1)}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"1. gmail · send(to=ada@example.com, body=Dear Ada, here are the minutes of the m…) — sends data to a third party",
		"(no answer means Deny; expires at ", "(in 5 min); type v to see every value in full)",
		"Every value in full:\n  step 1 (gmail · send):\n    to: ada@example.com\n    body: " + longValue,
		"[permission] Deny: Run this 1-step plan?",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
