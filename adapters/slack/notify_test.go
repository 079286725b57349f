package slack

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
)

// TestNotifyLinkedAccount: a notice goes to the user's DM (posted to their
// user id), neutralised, with an Unlink button; clicking it runs
// "!disconnect google" as that user.
func TestNotifyLinkedAccount(t *testing.T) {
	asst := &homeAssistant{linked: true}
	e := startAdapter(t, asst, nil)
	e.connected(1)
	user := UserID(slackfake.DefaultTeamID, "U1")
	err := e.a.Notify(e.ctx, user, chat.Notice{Text: "The Google account **mallory@example.com** was just linked to you \x1b[2J here.", Disconnect: "google"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.fake.WaitMessage(e.ctx, "the notice", func(m slackfake.Message) bool { return m.Channel == "U1" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.AllText(), "mallory@example.com") || strings.ContainsRune(m.AllText(), 0x1b) {
		t.Errorf("notice text %q", m.AllText())
	}
	bs := m.Buttons()
	if len(bs) != 1 || bs[0].ActionID != disconnectAction || bs[0].Value != "google" {
		t.Fatalf("notice buttons %+v", bs)
	}
	env, err := e.fake.SendClick(slackfake.Click{User: "U1", Channel: m.Channel, MessageTS: m.TS, Button: bs[0]})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	if _, err := e.fake.WaitHome(e.ctx, "U1", func(v string) bool { return strings.Contains(v, "unlinked") }); err != nil {
		t.Fatal(err)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(asst.texts(), "|"); !strings.Contains(got, "!disconnect google") {
		t.Errorf("commands run: %q", got)
	}
	for _, h := range asst.handled {
		if h.User != user {
			t.Errorf("the unlink ran as %s", h.User)
		}
	}
	if err := e.a.Notify(e.ctx, "matrix:@a:example.org", chat.Notice{Text: "x"}); err == nil {
		t.Error("a notice to a non-Slack user was accepted")
	}
}
