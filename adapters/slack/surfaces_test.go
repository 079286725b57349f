package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
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

// homeAssistant is a commandAssistant that also gives the Home tab its
// data (homeSource), as the hub does; revoke and disconnect change it.
type homeAssistant struct {
	commandAssistant
	data   []chat.GrantInfo
	linked bool
}

func (h *homeAssistant) Handle(ctx context.Context, m chat.Message, conv chat.Conversation) {
	switch {
	case strings.HasPrefix(m.Text, "!revoke "):
		app := ids.AppID(strings.TrimPrefix(m.Text, "!revoke "))
		h.mu.Lock()
		h.handled = append(h.handled, m)
		var kept []chat.GrantInfo
		for _, g := range h.data {
			if app != "all" && g.App != app && g.Requester != app {
				kept = append(kept, g)
			}
		}
		n := len(h.data) - len(kept)
		h.data = kept
		h.mu.Unlock()
		_ = conv.Reply(ctx, fmt.Sprintf("Revoked %d permission(s).", n))
	case m.Text == "!disconnect google":
		h.mu.Lock()
		h.handled = append(h.handled, m)
		h.linked = false
		h.mu.Unlock()
		_ = conv.Reply(ctx, "Your Google account is unlinked and its token deleted.")
	default:
		h.commandAssistant.Handle(ctx, m, conv)
	}
}

func (h *homeAssistant) Grants(_ context.Context, user ids.UserID) ([]chat.GrantInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if user != UserID(slackfake.DefaultTeamID, "U1") {
		return nil, nil
	}
	return append([]chat.GrantInfo(nil), h.data...), nil
}

func (h *homeAssistant) Accounts(context.Context, ids.UserID) ([]chat.AccountInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return []chat.AccountInfo{{Provider: "google", Connected: h.linked}}, nil
}

// wrapped hides an assistant behind a wrapper that unwraps, as the
// metrics counter does in the bot.
type wrapped struct{ next chat.Assistant }

func (w wrapped) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	w.next.Handle(ctx, m, c)
}
func (w wrapped) Answer(ctx context.Context, a chat.Answer) error { return w.next.Answer(ctx, a) }
func (w wrapped) Unwrap() chat.Assistant                          { return w.next }

// homeButtons returns the view's buttons as "action=value" with whether
// each has a confirm dialog.
func homeButtons(t *testing.T, view string) (buttons []string, confirmed bool) {
	t.Helper()
	var v struct {
		Blocks slack.Blocks `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(view), &v); err != nil {
		t.Fatal(err)
	}
	confirmed = true
	add := func(b *slack.ButtonBlockElement) {
		buttons = append(buttons, b.ActionID+"="+b.Value)
		if b.Confirm == nil {
			confirmed = false
		}
	}
	for _, b := range v.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Accessory != nil && b.Accessory.ButtonElement != nil {
				add(b.Accessory.ButtonElement)
			}
		case *slack.ActionBlock:
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					add(btn)
				}
			}
		}
	}
	return buttons, confirmed
}

// TestHomeTab: opening the Home tab publishes the user's grants (read as
// data, not parsed from !grants), each with a Revoke button, the linked
// Google account with a Disconnect button, and the installed apps; every
// button asks for confirmation; a click revokes or unlinks for that user
// only and republishes.
func TestHomeTab(t *testing.T) {
	asst := &homeAssistant{linked: true, data: []chat.GrantInfo{
		{Kind: chat.KindExec, App: "quick_ride"},
		{Kind: chat.KindCollab, Requester: "quick_ride", App: "metro_hail", Session: true},
	}}
	e := startAdapter(t, wrapped{asst}, nil)
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
	buttons, confirmed := homeButtons(t, view)
	want := revokeAction + "=quick_ride," + revokeAction + "=metro_hail," + revokeAction + "=all," + disconnectAction + "=google"
	if strings.Join(buttons, ",") != want {
		t.Errorf("buttons %v, want %s", buttons, want)
	}
	if !confirmed {
		t.Error("a button has no confirm dialog")
	}
	for _, s := range []string{"exec quick_ride (always)", "collab quick_ride → metro_hail (for a session)", "Installed apps", "Connected accounts", "Google: linked"} {
		if !strings.Contains(view, s) {
			t.Errorf("home view lacks %q:\n%s", s, view)
		}
	}

	env, _ = e.fake.SendHomeAction(slackfake.HomeAction{User: "U1", ActionID: revokeAction, Value: "metro_hail"})
	e.acked(env)
	if _, err := e.fake.WaitHome(e.ctx, "U1", func(v string) bool {
		return strings.Contains(v, "Revoked 1") && !strings.Contains(v, "→ metro_hail")
	}); err != nil {
		t.Fatal(err)
	}
	env, _ = e.fake.SendHomeAction(slackfake.HomeAction{User: "U1", ActionID: disconnectAction, Value: "google"})
	e.acked(env)
	view, err = e.fake.WaitHome(e.ctx, "U1", func(v string) bool { return strings.Contains(v, "unlinked") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(view, "Google: not linked") {
		t.Errorf("after Disconnect:\n%s", view)
	}
	if buttons, _ := homeButtons(t, view); slices.Contains(buttons, disconnectAction+"=google") {
		t.Errorf("Disconnect still offered: %v", buttons)
	}
	// A click whose value is not a provider we know is not ours.
	env, _ = e.fake.SendHomeAction(slackfake.HomeAction{User: "U1", ActionID: disconnectAction, Value: "evil"})
	e.acked(env)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(asst.texts(), "|")
	if strings.Contains(got, "!grants") || strings.Contains(got, "evil") {
		t.Errorf("commands run: %q (want no !grants: grants come as data)", got)
	}
	if !strings.Contains(got, "!revoke metro_hail") || !strings.Contains(got, "!disconnect google") {
		t.Errorf("commands run: %q", got)
	}
	for _, m := range asst.handled {
		if m.User != UserID(slackfake.DefaultTeamID, "U1") {
			t.Errorf("a home command ran as %s", m.User)
		}
	}
}

// TestHomeTabWithoutData: an assistant that cannot give grants as data
// (VanillaGPT) gets the !grants text and no buttons.
func TestHomeTabWithoutData(t *testing.T) {
	asst := &commandAssistant{grants: []string{"exec quick_ride (always)"}}
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, err := e.fake.SendEvent(slackfake.Event{Type: "app_home_opened", User: "U1", Channel: "DU1", TS: "1.000001", Extra: map[string]any{"tab": "home"}})
	if err != nil {
		t.Fatal(err)
	}
	e.acked(env)
	view, err := e.fake.WaitHome(e.ctx, "U1", func(v string) bool { return strings.Contains(v, "quick_ride (always)") })
	if err != nil {
		t.Fatal(err)
	}
	if buttons, _ := homeButtons(t, view); len(buttons) != 0 {
		t.Errorf("buttons %v on a text-only home tab", buttons)
	}
	if !strings.Contains(view, "No accounts can be linked") {
		t.Errorf("home view:\n%s", view)
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
	if lm := e.fake.Calls("assistant.threads.setStatus")[0].Params.Get("loading_messages"); !strings.Contains(lm, "Planning which apps to use") {
		t.Errorf("first status without loading_messages: %q", lm)
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
