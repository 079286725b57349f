package slack

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
)

// TestThreadFollowups: after a mention, messages in that thread need no
// new mention (the "yes"/"no" to "shall I try another plan?" among them);
// so do messages in a thread the bot started. Messages in other threads and
// top-level channel chatter are not answered.
func TestThreadFollowups(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	send := func(ev slackfake.Event) string {
		t.Helper()
		env, _, ts := e.fake.NewEventEnvelope(ev)
		if err := e.fake.Send(env); err != nil {
			t.Fatal(err)
		}
		e.acked(env)
		return ts
	}
	root := send(slackfake.Event{Type: "app_mention", Channel: "C1", ChannelType: "channel", User: "U1", Text: "<@" + slackfake.DefaultBotUserID + "> first"})
	e.message("answer to the mention", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Echo:* first") })
	send(slackfake.Event{Type: "message", Channel: "C1", ChannelType: "channel", User: "U1", ThreadTS: root, Text: "yes"})
	e.message("answer to the follow-up", func(m slackfake.Message) bool {
		return m.ThreadTS == root && strings.Contains(m.AllText(), "Echo:* yes")
	})
	// Another user's thread the bot was never part of.
	other := send(slackfake.Event{Type: "message", Channel: "C1", ChannelType: "channel", User: "U2", Text: "team chatter"})
	send(slackfake.Event{Type: "message", Channel: "C1", ChannelType: "channel", User: "U2", ThreadTS: other, Text: "not for the bot",
		Extra: map[string]any{"parent_user_id": "U2"}})
	// A thread under a message the bot posted (recorded, not delivered).
	_, _, botRoot := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", Channel: "C2", User: slackfake.DefaultBotUserID, Text: "a notice"})
	send(slackfake.Event{Type: "message", Channel: "C2", ChannelType: "group", User: "U1", ThreadTS: botRoot, Text: "in the bot's thread",
		Extra: map[string]any{"parent_user_id": slackfake.DefaultBotUserID}})
	e.message("answer in the bot's thread", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "in the bot") })
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range asst.handledCopy() {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, "|"); got != "first|yes|in the bot's thread" {
		t.Errorf("handled %q", got)
	}
	h := asst.handledCopy()
	if h[0].Conversation != h[1].Conversation {
		t.Errorf("follow-up in another conversation (%s vs %s): a replan answer would not find its question", h[1].Conversation, h[0].Conversation)
	}
}
