package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
)

// TestThreadsAcrossReplicas: two adapters (two processes, two store
// clients) share one Redis. The assistant thread's start and the channel
// mention reach the first; the messages in those threads reach the second,
// which has never seen either. The first is stopped before the second
// connects, because the fake (like Slack with one connection) sends each
// envelope to one socket, and a restart is the same case as a second
// replica here: all the second knows is in Redis. The second
// still uses Slack's status line and title for the assistant thread (no
// posted status message) and answers the channel thread's follow-up that
// carries no mention.
func TestThreadsAcrossReplicas(t *testing.T) {
	url := redistest.Server(t)
	ns := "slackthreads-" + randHex(6)
	openStore := func() ThreadStore {
		s, err := redis.Open(t.Context(), url, redis.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	fake := slackfake.New(slackfake.Options{PingInterval: 500 * time.Millisecond})
	t.Cleanup(fake.Close)
	first := startAdapterOn(t, fake, &commandAssistant{}, func(c *Config, _ *slackfake.Server) { c.Threads = openStore() })
	first.connected(1)

	_, _, root := fake.NewEventEnvelope(slackfake.Event{Type: "message", Channel: "DU1", User: slackfake.DefaultBotUserID, Text: "assistant thread"})
	env, _ := fake.SendEvent(slackfake.Event{Type: "assistant_thread_started", TS: "2.000001", Extra: map[string]any{
		"assistant_thread": map[string]any{"user_id": "U1", "channel_id": "DU1", "thread_ts": root, "context": map[string]any{}}}})
	first.acked(env)
	if _, err := fake.WaitCalls(first.ctx, "assistant.threads.setSuggestedPrompts", 1); err != nil {
		t.Fatal(err)
	}
	env, _, mention := fake.NewEventEnvelope(slackfake.Event{Type: "app_mention", Channel: "C1", ChannelType: "channel", User: "U1",
		Text: "<@" + slackfake.DefaultBotUserID + "> hello"})
	if err := fake.Send(env); err != nil {
		t.Fatal(err)
	}
	first.message("the first replica's answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Answer to hello") })

	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := startAdapterOn(t, fake, &commandAssistant{}, func(c *Config, _ *slackfake.Server) { c.Threads = openStore() })
	second.connected(2)
	env, _, _ = fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", ThreadTS: root, Text: "compare fares"})
	if err := fake.Send(env); err != nil {
		t.Fatal(err)
	}
	second.message("the answer in the assistant thread", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Answer to compare fares") })
	env, _, _ = fake.NewEventEnvelope(slackfake.Event{Type: "message", Channel: "C1", ChannelType: "channel", User: "U1", ThreadTS: mention, Text: "and again",
		Extra: map[string]any{"parent_user_id": "U1"}})
	if err := fake.Send(env); err != nil {
		t.Fatal(err)
	}
	second.message("the follow-up's answer", func(m slackfake.Message) bool {
		return m.ThreadTS == mention && strings.Contains(m.AllText(), "Answer to and again")
	})
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	for _, m := range fake.Messages() {
		if m.Channel == "DU1" && strings.Contains(m.Text, "Working on it") {
			t.Errorf("the second replica posted a status message in the assistant thread: %+v", m)
		}
	}
	var statuses []string
	for _, c := range fake.Calls("assistant.threads.setStatus") {
		statuses = append(statuses, c.Params.Get("status"))
	}
	if got := strings.Join(statuses, "|"); !strings.Contains(got, "Running app quick_ride") {
		t.Errorf("statuses %q: the second replica did not use the thread's status line", got)
	}
	if titles := fake.Calls("assistant.threads.setTitle"); len(titles) != 1 || titles[0].Params.Get("title") != "compare fares" {
		t.Errorf("titles %+v, want one: compare fares", titles)
	}
}
