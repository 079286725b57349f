package chat

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secgpt-go/secgpt/core/ids"
)

func TestNeutralize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text unchanged", "Fare: $51.80 — ok ✅", "Fare: $51.80 — ok ✅"},
		{"newline and tab kept", "a\n\tb", "a\n\tb"},
		{"CRLF is a newline", "a\r\nb", "a\nb"},
		{"lone CR shown", "safe\rEVIL", `safe\x0dEVIL`},
		{"CSI erase line and cursor up", "\x1b[2K\x1b[1ARun app weather?", `\x1b[2K\x1b[1ARun app weather?`},
		{"OSC 8 hyperlink", "\x1b]8;;https://evil.example\x1b\\bank\x1b]8;;\x1b\\", `\x1b]8;;https://evil.example\x1b\bank\x1b]8;;\x1b\`},
		{"backspace and bell", "ab\b\bX\a", `ab\x08\x08X\x07`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 CSI", "a\u009b2Kb", `a\u009b2Kb`},
		{"bidi override", "file\u202egnp.exe", `file\u202egnp.exe`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"already escaped stays", `\x1b[2K`, `\x1b[2K`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Neutralize(tt.in)
			if got != tt.want {
				t.Fatalf("Neutralize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Neutralize(got); again != got {
				t.Fatalf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

// hasUnsafe reports whether s holds anything Neutralize must replace.
func hasUnsafe(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r < 0x80 && unsafeASCII(byte(r)) || r >= 0x80 && unsafeRune(r) {
			return true
		}
	}
	return false
}

func FuzzNeutralize(f *testing.F) {
	for _, s := range []string{"", "hi", "\x1b[31mred", "\r\n", "\u202e", "\xc2\x9b", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Neutralize(s)
		if hasUnsafe(got) {
			t.Fatalf("Neutralize(%q) = %q still holds a control", s, got)
		}
		if Neutralize(got) != got {
			t.Fatalf("not idempotent on %q", s)
		}
		if !hasUnsafe(s) && !strings.Contains(s, "\r\n") && got != s {
			t.Fatalf("safe text changed: %q → %q", s, got)
		}
	})
}

// TestPromptNeutralizedCoversEveryString: every string field of Prompt,
// including ones added later, comes out neutralised; the original is not
// changed.
func TestPromptNeutralizedCoversEveryString(t *testing.T) {
	const evil = "\x1b[2K"
	var p Prompt
	v := reflect.ValueOf(&p).Elem()
	n := 0
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(evil + v.Type().Field(i).Name)
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d string fields found; the walk is broken", n)
	}
	q := NeutralizePrompt(p)
	qv := reflect.ValueOf(q)
	for i := range qv.NumField() {
		if f := qv.Field(i); f.Kind() == reflect.String && hasUnsafe(f.String()) {
			t.Errorf("field %s = %q", qv.Type().Field(i).Name, f.String())
		}
	}
	for _, s := range []string{PromptTitle(q), PromptText(q), PromptWarning(q)} {
		if hasUnsafe(s) {
			t.Errorf("rendered %q", s)
		}
	}
	if !strings.HasPrefix(string(p.Target), evil) {
		t.Error("the original prompt was changed")
	}
}

// TestNeutralValueNested: strings inside slices, maps, pointers and nested
// structs (the shape plan prompts will have) are reached and copied.
func TestNeutralValueNested(t *testing.T) {
	type step struct {
		App  ids.AppID
		Args map[string]string
		Refs []string
	}
	type plan struct {
		Steps []step
		First *step
		Any   any
	}
	orig := plan{
		Steps: []step{{App: "a\x1b", Args: map[string]string{"k\x07": "v\x1b"}, Refs: []string{"\r"}}},
		First: &step{App: "\u202e"},
		Any:   "\x1b",
	}
	got := orig
	neutralValue(reflect.ValueOf(&got).Elem())
	if got.Steps[0].App != `a\x1b` || got.Steps[0].Args[`k\x07`] != `v\x1b` || got.Steps[0].Refs[0] != `\x0d` ||
		got.First.App != `\u202e` || got.Any != `\x1b` {
		t.Fatalf("nested strings not neutralised: %+v %+v", got, *got.First)
	}
	if orig.Steps[0].App != "a\x1b" || orig.First.App != "\u202e" || orig.Steps[0].Args["k\x07"] != "v\x1b" {
		t.Fatal("the original shares changed memory")
	}
}

// recorder is a plain Conversation without optional capabilities.
type recorder struct {
	replies []string
	prompts []Prompt
}

func (r *recorder) Reply(_ context.Context, s string) error {
	r.replies = append(r.replies, s)
	return nil
}
func (r *recorder) Prompt(_ context.Context, p Prompt) error {
	r.prompts = append(r.prompts, p)
	return nil
}

type fullRecorder struct {
	recorder
	status   []string
	resolved []Prompt
	streamed []string
}

func (r *fullRecorder) Status(_ context.Context, s string) error {
	r.status = append(r.status, s)
	return nil
}
func (r *fullRecorder) Resolved(_ context.Context, p Prompt, _ Decision, by ids.UserID, _ bool) error {
	r.resolved = append(r.resolved, p)
	r.status = append(r.status, string(by))
	return nil
}
func (r *fullRecorder) StreamReply(context.Context) (ReplyStream, error) { return r, nil }
func (r *fullRecorder) Update(_ context.Context, s string) error {
	r.streamed = append(r.streamed, s)
	return nil
}
func (r *fullRecorder) Finish(_ context.Context, s string) error {
	r.replies = append(r.replies, s)
	return nil
}

func TestNeutralConversation(t *testing.T) {
	ctx := context.Background()
	const evil = "App weather wants to use send_email\x1b[2K\r\x1b[1ARun app weather?"
	p := Prompt{ID: "p1", Kind: KindCollab, Requester: "weather", Target: "send_email", Data: evil, Reason: evil, Function: "f\x1b"}

	full := &fullRecorder{}
	c := Neutral(full)
	if Neutral(c) != c {
		t.Fatal("wrapping twice made a second wrapper")
	}
	_ = c.Reply(ctx, evil)
	_ = c.Prompt(ctx, p)
	_ = c.(StatusConversation).Status(ctx, "running \x1b]0;title\x07")
	_ = c.(ResolvingConversation).Resolved(ctx, p, AllowOnce, "u\x1b", false)
	s, err := c.(StreamingConversation).StreamReply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Update(ctx, "part\x1b")
	_ = s.Finish(ctx, "done\x1b")
	var seen []string
	seen = append(seen, full.replies...)
	seen = append(seen, full.status...)
	seen = append(seen, full.streamed...)
	for _, q := range append(full.prompts, full.resolved...) {
		seen = append(seen, PromptText(q), PromptTitle(q), string(q.Function))
	}
	if len(seen) < 9 {
		t.Fatalf("only %d texts reached the conversation", len(seen))
	}
	for _, s := range seen {
		if hasUnsafe(s) {
			t.Errorf("unescaped control reached the adapter: %q", s)
		}
	}
	if !strings.Contains(full.prompts[0].Data, `\x1b[1ARun app weather?`) {
		t.Errorf("data not shown visibly: %q", full.prompts[0].Data)
	}

	plain := Neutral(&recorder{})
	if err := plain.(StatusConversation).Status(ctx, "x"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Status on a plain conversation: %v", err)
	}
	if err := plain.(ResolvingConversation).Resolved(ctx, p, Deny, "", true); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Resolved on a plain conversation: %v", err)
	}
	if _, err := plain.(StreamingConversation).StreamReply(ctx); !errors.Is(err, ErrNotSupported) {
		t.Errorf("StreamReply on a plain conversation: %v", err)
	}
}

func TestStreamReply(t *testing.T) {
	ctx := context.Background()
	parts := func(ss ...string) <-chan string {
		ch := make(chan string, len(ss))
		for _, s := range ss {
			ch <- s
		}
		close(ch)
		return ch
	}
	full := &fullRecorder{}
	text, err := StreamReply(ctx, Neutral(full), parts("Hel", "lo", "\x1b!"))
	if err != nil || text != "Hello\x1b!" {
		t.Fatalf("StreamReply = %q, %v", text, err)
	}
	if strings.Join(full.streamed, "|") != `Hel|Hello|Hello\x1b!` || len(full.replies) != 1 || full.replies[0] != `Hello\x1b!` {
		t.Fatalf("streamed %q, replies %q", full.streamed, full.replies)
	}
	plain := &recorder{}
	if _, err := StreamReply(ctx, Neutral(plain), parts("a", "b")); err != nil || len(plain.replies) != 1 || plain.replies[0] != "ab" {
		t.Fatalf("fallback replies %q, %v", plain.replies, err)
	}
}
