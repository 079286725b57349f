package slack

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/adapters/slack/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
)

// commandAssistant answers the hub's chat commands the way the hub does,
// records what it was asked, and reports progress while it "works".
type commandAssistant struct {
	mu      sync.Mutex // guards all following fields
	handled []chat.Message
	grants  []string
}

func (c *commandAssistant) Handle(ctx context.Context, m chat.Message, conv chat.Conversation) {
	c.mu.Lock()
	c.handled = append(c.handled, m)
	grants := append([]string(nil), c.grants...)
	c.mu.Unlock()
	switch {
	case m.Text == "!grants":
		if len(grants) == 0 {
			_ = conv.Reply(ctx, "You have no stored permissions.")
			return
		}
		_ = conv.Reply(ctx, "Your stored permissions:\n- "+strings.Join(grants, "\n- "))
	case m.Text == "!apps":
		_ = conv.Reply(ctx, "Installed apps:\n- metro_hail (app)\n- quick_ride (app)")
	case strings.HasPrefix(m.Text, "!revoke "):
		app := strings.TrimPrefix(m.Text, "!revoke ")
		c.mu.Lock()
		var kept []string
		for _, g := range c.grants {
			if app != "all" && !strings.Contains(g, app) {
				kept = append(kept, g)
			}
		}
		n := len(c.grants) - len(kept)
		c.grants = kept
		c.mu.Unlock()
		_ = conv.Reply(ctx, "Revoked "+string(rune('0'+n))+" permission(s).")
	case m.Text == "!help":
		_ = conv.Reply(ctx, "Commands (start with !, e.g. !grants):\n  grants  list your stored permissions")
	default:
		if sc, ok := conv.(chat.StatusConversation); ok {
			_ = sc.Status(ctx, "Running app quick_ride…")
		}
		_ = conv.Reply(ctx, "Answer to "+m.Text+" <!channel>")
	}
}

func (c *commandAssistant) Answer(context.Context, chat.Answer) error { return chat.ErrUnknownPrompt }

func (c *commandAssistant) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.handled {
		out = append(out, m.Text)
	}
	return out
}

// TestSlashCommand: "/secgpt grants" runs the hub's !grants for the caller
// and answers ephemerally; an empty "/secgpt" is help, without "/" commands
// Slack would take for itself.
func TestSlashCommand(t *testing.T) {
	asst := &commandAssistant{grants: []string{"exec quick_ride (always)"}}
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, err := e.fake.SendSlashCommand(slackfake.SlashCommand{Command: "/secgpt", Text: "grants", User: "U1", Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	ephemeral := func(what string, pred func(slackfake.Message) bool) slackfake.Message {
		t.Helper()
		m, err := e.fake.WaitMessage(e.ctx, what, func(m slackfake.Message) bool { return m.Ephemeral && pred(m) })
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := ephemeral("ephemeral grants", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "quick_ride") })
	if m.EphemeralUser != "U1" || m.Channel != "C1" {
		t.Errorf("grants went to %s in %s, want only U1 in C1", m.EphemeralUser, m.Channel)
	}
	env, _ = e.fake.SendSlashCommand(slackfake.SlashCommand{Command: "/secgpt", Text: "", User: "U1", Channel: "C1"})
	e.acked(env)
	help := ephemeral("ephemeral help", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Commands") })
	if !strings.Contains(help.AllText(), "/secgpt COMMAND") {
		t.Errorf("help does not show the slash command: %s", help.AllText())
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(asst.texts(), "|"); got != "!grants|!help" {
		t.Errorf("assistant got %q", got)
	}
}

// TestHomeTab: opening the Home tab publishes the user's grants, each with
// a Revoke button, and the installed apps; a Revoke click revokes for that
// user and republishes.
func TestHomeTab(t *testing.T) {
	asst := &commandAssistant{grants: []string{"exec quick_ride (always)", "collab quick_ride → metro_hail (always)"}}
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, err := e.fake.SendEvent(slackfake.Event{Type: "app_home_opened", User: "U1", Channel: "DU1", TS: "1.000001", Extra: map[string]any{"tab": "home"}})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	view, err := e.fake.WaitHome(e.ctx, "U1", func(v string) bool { return strings.Contains(v, "metro_hail") })
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Blocks slack.Blocks `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(view), &v); err != nil {
		t.Fatal(err)
	}
	var revokes []string
	for _, b := range v.Blocks.BlockSet {
		if s, ok := b.(*slack.SectionBlock); ok && s.Accessory != nil && s.Accessory.ButtonElement != nil {
			btn := s.Accessory.ButtonElement
			if btn.ActionID == revokeAction {
				revokes = append(revokes, btn.Value)
				if btn.Confirm == nil {
					t.Error("a Revoke button has no confirm dialog")
				}
			}
		}
	}
	if strings.Join(revokes, ",") != "quick_ride,metro_hail" {
		t.Errorf("revoke buttons for %v", revokes)
	}
	if !strings.Contains(view, "Installed apps") || !strings.Contains(view, "Connected accounts") {
		t.Errorf("home view lacks sections:\n%s", view)
	}
	env, _ = e.fake.SendHomeAction(slackfake.HomeAction{User: "U1", ActionID: revokeAction, Value: "metro_hail"})
	e.acked(env)
	if _, err := e.fake.WaitHome(e.ctx, "U1", func(v string) bool {
		return strings.Contains(v, "Revoked 1") && !strings.Contains(v, "metro_hail (always)")
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	for _, m := range asst.handled {
		if m.User != UserID(slackfake.DefaultTeamID, "U1") {
			t.Errorf("a home command ran as %s", m.User)
		}
	}
}

// TestAssistantThread: a new assistant thread gets suggested prompts; the
// first request titles it; progress is shown with setStatus naming the app,
// not with a posted and deleted message; mentions in the answer stay
// neutralised.
func TestAssistantThread(t *testing.T) {
	asst := &commandAssistant{}
	e := startAdapter(t, asst, func(c *Config, _ *slackfake.Server) {
		c.SuggestedPrompts = []string{"What can you do?", "quick_ride fare"}
	})
	e.connected(1)
	_, _, root := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", Channel: "DU1", User: slackfake.DefaultBotUserID, Text: "assistant thread"})
	env, _ := e.fake.SendEvent(slackfake.Event{Type: "assistant_thread_started", TS: "2.000001", Extra: map[string]any{
		"assistant_thread": map[string]any{"user_id": "U1", "channel_id": "DU1", "thread_ts": root, "context": map[string]any{}}}})
	e.acked(env)
	calls, err := e.fake.WaitCalls(e.ctx, "assistant.threads.setSuggestedPrompts", 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := calls[0].Params.Get("prompts"); !strings.Contains(p, "quick_ride fare") {
		t.Errorf("suggested prompts %s", p)
	}
	env, _, _ = e.fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", ThreadTS: root, Text: "compare fares"})
	_ = e.fake.Send(env)
	e.acked(env)
	ans := e.message("answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Answer to compare fares") })
	if strings.Contains(ans.AllText(), "<!channel>") {
		t.Errorf("mention from the answer not neutralised: %s", ans.AllText())
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, c := range e.fake.Calls("assistant.threads.setStatus") {
		statuses = append(statuses, c.Params.Get("status"))
	}
	if got := strings.Join(statuses, "|"); !strings.Contains(got, "Running app quick_ride") || !strings.HasSuffix(got, "|") {
		t.Errorf("statuses %q: want the app named, then cleared", got)
	}
	for _, m := range e.fake.Messages() {
		if strings.Contains(m.Text, "Working on it") {
			t.Errorf("a status message was posted in an assistant thread: %+v", m)
		}
	}
	if titles := e.fake.Calls("assistant.threads.setTitle"); len(titles) != 1 || titles[0].Params.Get("title") != "compare fares" {
		t.Errorf("titles %+v", titles)
	}
}

func TestAlwaysAllowHasConfirm(t *testing.T) {
	blocks, err := promptBlocks(chat.Prompt{ID: "p", Nonce: "n", Kind: chat.KindExec, Target: "quick_ride"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		a, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, el := range a.Elements.ElementSet {
			btn := el.(*slack.ButtonBlockElement)
			if got := btn.Confirm != nil; got != (btn.ActionID == actionPrefix+string(chat.AllowAlways)) {
				t.Errorf("button %s confirm = %v", btn.ActionID, got)
			}
		}
		return
	}
	t.Fatal("no action block")
}
