package slack

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
)

// botMessages returns the non-ephemeral messages the bot posted.
func botMessages(fake *slackfake.Server) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range fake.Messages() {
		if m.User == slackfake.DefaultBotUserID && !m.Ephemeral {
			out = append(out, m)
		}
	}
	return out
}

// streamIn runs one streamed reply through a Neutral-wrapped conversation
// in channel/thread, as the hub does: updates of the growing text, then
// Finish.
func streamIn(t *testing.T, e *env, channel, thread string, updates []string, final string) {
	t.Helper()
	c := &conversation{a: e.a, channel: channel, thread: thread, user: "U1", team: slackfake.DefaultTeamID, feedback: true}
	s, err := chat.Neutral(c).(chat.StreamingConversation).StreamReply(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range updates {
		if err := s.Update(e.ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(e.ctx, final); err != nil {
		t.Fatal(err)
	}
}

// TestNativeStream: a reply in a thread is streamed with chat.startStream
// (its first text, for the user who asked) and chat.appendStream, and
// stopped; what was streamed carries no live mention, link or URL; the
// stopped message then shows exactly the converted reply, with feedback
// buttons, and nothing else was posted.
func TestNativeStream(t *testing.T) {
	e := startAdapter(t, newFakeAssistant(), func(c *Config, _ *slackfake.Server) { c.StreamInterval = time.Nanosecond })
	e.connected(1)
	_, _, root := e.fake.NewEventEnvelope(slackfake.Event{Type: "app_mention", Channel: "C1", User: "U1", Text: "question"})
	hostile := "Hello <!channel> [paypal.com](https://evil.example/x) @here <@U999>"
	streamIn(t, e, "C1", root, []string{"Hello", hostile, hostile + " and more"}, "**Final** "+hostile+"\x1b[2J")

	starts := e.fake.Calls("chat.startStream")
	if len(starts) != 1 {
		t.Fatalf("%d chat.startStream calls, want 1", len(starts))
	}
	p := starts[0].Params
	if p.Get("thread_ts") != root || p.Get("recipient_user_id") != "U1" || p.Get("recipient_team_id") != slackfake.DefaultTeamID || p.Get("markdown_text") != "Hello" {
		t.Errorf("chat.startStream params %v", p)
	}
	streamed := p.Get("markdown_text")
	for _, c := range e.fake.Calls("chat.appendStream") {
		streamed += c.Params.Get("markdown_text")
	}
	for _, live := range []string{"<!channel>", "<@U999>", "@here", "](", "https://"} {
		if strings.Contains(streamed, live) {
			t.Errorf("streamed text carries %q live: %q", live, streamed)
		}
	}
	if !strings.Contains(streamed, "paypal.com") || !strings.Contains(streamed, "and more") {
		t.Errorf("streamed text lost content: %q", streamed)
	}
	if n := len(e.fake.Calls("chat.stopStream")); n != 1 {
		t.Errorf("%d chat.stopStream calls, want 1", n)
	}
	msgs := botMessages(e.fake)
	if len(msgs) != 1 {
		t.Fatalf("%d bot messages, want the one streamed: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	got := m.AllText()
	if m.Streaming || !m.Streamed || !strings.Contains(got, "*Final*") || strings.Contains(got, "<!channel>") || !strings.Contains(got, `\x1b[2J`) ||
		!strings.Contains(got, "https://evil.example/x") {
		t.Errorf("final message %+v: %q", m, got)
	}
	if fb := m.FeedbackButtons(); len(fb) != 2 || fb[0].Value != feedbackGood || fb[1].Value != feedbackBad {
		t.Errorf("feedback buttons %+v", fb)
	}
}

// TestStreamFallback: in a workspace without native streaming the first
// chat.startStream's unknown_method switches the adapter to posting the
// first text and editing it, for this reply and the next (no second try);
// no "…" placeholder is ever posted, and the final text has the feedback
// buttons.
func TestStreamFallback(t *testing.T) {
	fake := slackfake.New(slackfake.Options{PingInterval: 500 * time.Millisecond, NoStreaming: true})
	t.Cleanup(fake.Close)
	e := startAdapterOn(t, fake, newFakeAssistant(), nil)
	e.connected(1)
	_, _, root := fake.NewEventEnvelope(slackfake.Event{Type: "app_mention", Channel: "C1", User: "U1", Text: "question"})
	streamIn(t, e, "C1", root, []string{"first words", "first words, more"}, "first words, more, **done**")
	streamIn(t, e, "C1", root, []string{"second"}, "second reply")
	if n := len(fake.Calls("chat.startStream")); n != 1 {
		t.Errorf("%d chat.startStream calls, want 1 (then remembered)", n)
	}
	msgs := botMessages(fake)
	if len(msgs) != 2 {
		t.Fatalf("%d bot messages, want 2: %+v", len(msgs), msgs)
	}
	for _, c := range fake.Calls("chat.postMessage") {
		if strings.TrimSpace(c.Params.Get("text")) == "…" {
			t.Errorf("a placeholder was posted: %v", c.Params)
		}
	}
	if got := msgs[0].AllText(); !strings.Contains(got, "*done*") || len(msgs[0].FeedbackButtons()) != 2 {
		t.Errorf("first reply %q, feedback %+v", got, msgs[0].FeedbackButtons())
	}
	if !strings.Contains(msgs[1].AllText(), "second reply") {
		t.Errorf("second reply %q", msgs[1].AllText())
	}
}

// TestFeedbackRecorded: a click on a reply's feedback button reaches
// Config.Feedback as the clicking user, with the verdict; a forged value
// reaches nothing.
func TestFeedbackRecorded(t *testing.T) {
	var mu sync.Mutex
	var got []Feedback
	done := make(chan struct{}, 4)
	e := startAdapter(t, newFakeAssistant(), func(c *Config, _ *slackfake.Server) {
		c.Feedback = func(_ context.Context, f Feedback) error {
			mu.Lock()
			got = append(got, f)
			mu.Unlock()
			done <- struct{}{}
			return nil
		}
	})
	e.connected(1)
	e.dm("U1", "hello")
	ans := e.message("answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Echo") })
	fb := ans.FeedbackButtons()
	if len(fb) != 2 {
		t.Fatalf("reply without feedback buttons: %s", ans.Blocks)
	}
	forged := fb[0]
	forged.Value = "excellent"
	env, err := e.fake.SendClick(slackfake.Click{User: "U2", Channel: ans.Channel, MessageTS: ans.TS, Button: forged})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	if _, err := e.fake.SendClick(slackfake.Click{User: "U2", Channel: ans.Channel, MessageTS: ans.TS, Button: fb[1]}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-e.ctx.Done():
		t.Fatal("feedback not recorded")
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := Feedback{User: UserID(slackfake.DefaultTeamID, "U2"), Channel: ans.Channel, MessageTS: ans.TS, Good: false}
	if len(got) != 1 || got[0] != want {
		t.Errorf("recorded %+v, want only %+v", got, want)
	}
}

// TestAssistantContextChanged: a bot that missed an assistant thread's
// start (it was down) learns from assistant_thread_context_changed that the
// thread is one, and shows progress in its status line.
func TestAssistantContextChanged(t *testing.T) {
	e := startAdapter(t, &commandAssistant{}, nil)
	e.connected(1)
	_, _, root := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", Channel: "DU1", User: slackfake.DefaultBotUserID, Text: "assistant thread"})
	env, _ := e.fake.SendEvent(slackfake.Event{Type: "assistant_thread_context_changed", TS: "2.000001", Extra: map[string]any{
		"assistant_thread": map[string]any{"user_id": "U1", "channel_id": "DU1", "thread_ts": root,
			"context": map[string]any{"channel_id": "C9", "team_id": slackfake.DefaultTeamID}}}})
	e.acked(env)
	env, _, _ = e.fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", ThreadTS: root, Text: "fares"})
	if err := e.fake.Send(env); err != nil {
		t.Fatal(err)
	}
	e.message("answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Answer to fares") })
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Calls("assistant.threads.setStatus")); n == 0 {
		t.Error("no status line in the assistant thread")
	}
	for _, m := range e.fake.Messages() {
		if strings.Contains(m.Text, "Working on it") {
			t.Errorf("a status message was posted in an assistant thread: %+v", m)
		}
	}
}

func FuzzDecodeFeedback(f *testing.F) {
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1","team_id":"T1"},"container":{"channel_id":"C1","message_ts":"1.2"},"actions":[{"action_id":"secgpt_feedback","value":"good"}]}`))
	f.Add([]byte(`{"type":"block_actions","actions":[{"action_id":"secgpt_feedback","value":"bad"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fb, ok, err := decodeFeedback(raw)
		if err != nil || !ok {
			return
		}
		team, user, valid := splitUserID(fb.User)
		if !valid || !validID(team) || !validID(user) || !validID(fb.Channel) || !validTS(fb.MessageTS) {
			t.Fatalf("accepted %+v", fb)
		}
	})
}
