package slack

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
)

// TestSlashCommandCoversThreads: "/secgpt new" names a channel, so the
// command it becomes acts on that channel's threads too (the hub ends the
// user's thread sessions there: core/hub TestNewEndsThreadSessions).
func TestSlashCommandCoversThreads(t *testing.T) {
	asst := &commandAssistant{}
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, err := e.fake.SendSlashCommand(slackfake.SlashCommand{Command: "/secgpt", Text: "new", User: "U1", Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	asst.mu.Lock()
	defer asst.mu.Unlock()
	if len(asst.handled) != 1 {
		t.Fatalf("handled %+v", asst.handled)
	}
	m := asst.handled[0]
	if m.Text != "!new" || !m.Threads || !strings.HasSuffix(string(m.Conversation), "/C1") {
		t.Fatalf("slash new became %+v, want !new on the channel with its threads", m)
	}
}
