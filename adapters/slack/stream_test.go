package slack

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
)

// TestStreamReply: a streamed reply is one message edited at most once per
// interval while it grows, and ends showing exactly the final text, with
// app-written mentions neutralised.
func TestStreamReply(t *testing.T) {
	e := startAdapter(t, newFakeAssistant(), nil)
	e.connected(1)
	c := &conversation{a: e.a, channel: "DU1", user: "U1"}
	sc := chat.Neutral(c).(chat.StreamingConversation)
	s, err := sc.StreamReply(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Update(e.ctx, strings.Repeat("word ", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(e.ctx, "**Final** <!channel>\x1b[2J"); err != nil {
		t.Fatal(err)
	}
	msgs := e.fake.Messages()
	var streamed []slackfake.Message
	for _, m := range msgs {
		if m.User == slackfake.DefaultBotUserID && !m.Ephemeral {
			streamed = append(streamed, m)
		}
	}
	if len(streamed) != 1 {
		t.Fatalf("%d messages posted, want one edited message", len(streamed))
	}
	got := streamed[0].AllText()
	if !strings.Contains(got, "*Final*") || strings.Contains(got, "<!channel>") || strings.Contains(got, "\x1b") || !strings.Contains(got, `\x1b[2J`) {
		t.Errorf("final text %q", got)
	}
	// 20 updates within well under a second: the first edit and Finish's.
	if n := len(e.fake.Calls("chat.update")); n > 2 {
		t.Errorf("%d edits for 20 quick updates, want at most 2", n)
	}
}
