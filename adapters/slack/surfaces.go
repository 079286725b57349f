package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// The Slack surfaces besides messages: the /secgpt slash command, the App
// Home tab, and the AI assistant threads. Changes (revoke, disconnect) run
// the hub's own chat commands through chat.Assistant, so they are audited
// in one place; the Home tab reads grants and linked accounts as data
// (homeSource).

// Action ids of the Home tab's buttons.
const (
	revokeAction     = "secgpt_revoke"
	disconnectAction = "secgpt_disconnect"
)

// eventKind is the first look at an events_api payload, to route the
// events that are not messages.
type eventKind struct {
	TeamID string `json:"team_id"`
	Event  struct {
		Type            string `json:"type"`
		User            string `json:"user"`
		Tab             string `json:"tab"`
		AssistantThread struct {
			UserID    string `json:"user_id"`
			ChannelID string `json:"channel_id"`
			ThreadTS  string `json:"thread_ts"`
		} `json:"assistant_thread"`
	} `json:"event"`
}

// onSurfaceEvent handles app_home_opened, assistant_thread_started and
// assistant_thread_context_changed, and reports whether payload was one
// of them.
func (a *Adapter) onSurfaceEvent(ctx context.Context, payload []byte) bool {
	if len(payload) > maxPayload {
		return false
	}
	var k eventKind
	if json.Unmarshal(payload, &k) != nil {
		return false
	}
	switch k.Event.Type {
	case "app_home_opened":
		if k.Event.Tab != "home" || !validID(k.Event.User) || !validID(k.TeamID) {
			return true
		}
		a.wg.Go(func() { a.publishHome(ctx, k.TeamID, k.Event.User, "") })
		return true
	case "assistant_thread_started", "assistant_thread_context_changed":
		// context_changed: the user switched channels with the assistant
		// panel open. The channel they look at is not given to the hub (it
		// would be context the user did not write); the event does say
		// that this is an assistant thread, which a bot that missed its
		// start (it was down) learns here.
		t := k.Event.AssistantThread
		if !validID(t.ChannelID) || !validTS(t.ThreadTS) {
			a.log.Warn("slack assistant thread event with a malformed channel or thread")
			return true
		}
		a.markThread(ctx, markAssistant, t.ChannelID, t.ThreadTS)
		if k.Event.Type == "assistant_thread_started" {
			a.wg.Go(func() { a.suggestPrompts(ctx, t.ChannelID, t.ThreadTS) })
		}
		return true
	}
	return false
}

// suggestPrompts offers the configured example requests in a new assistant
// thread.
func (a *Adapter) suggestPrompts(ctx context.Context, channel, thread string) {
	var prompts []slack.AssistantThreadsPrompt
	for _, p := range a.cfg.SuggestedPrompts {
		if len(prompts) == 4 { // Slack shows at most four
			break
		}
		prompts = append(prompts, slack.AssistantThreadsPrompt{Title: truncate(p, 75), Message: p})
	}
	if len(prompts) == 0 {
		return
	}
	err := a.call(ctx, "assistant.threads.setSuggestedPrompts", func(ctx context.Context) error {
		return a.api.SetAssistantThreadsSuggestedPromptsContext(ctx, slack.AssistantThreadsSetSuggestedPromptsParameters{
			ChannelID: channel, ThreadTS: thread, Title: "Try one of these", Prompts: prompts})
	})
	if err != nil {
		a.log.Warn("slack suggested prompts not set", "err", err)
	}
}

// titleThread names an assistant thread after its first request.
func (a *Adapter) titleThread(ctx context.Context, channel, thread, text string) {
	if !a.firstTitle(ctx, channel, thread) {
		return
	}
	title := strings.Join(strings.Fields(text), " ")
	err := a.call(ctx, "assistant.threads.setTitle", func(ctx context.Context) error {
		return a.api.SetAssistantThreadsTitleContext(ctx, slack.AssistantThreadsSetTitleParameters{
			ChannelID: channel, ThreadTS: thread, Title: truncate(chat.Neutralize(title), 60)})
	})
	if err != nil {
		a.log.Warn("slack assistant thread title not set", "err", err)
	}
}

// onSlash runs "/secgpt TEXT" as the hub command "!TEXT" and answers with
// a message only the caller sees.
func (a *Adapter) onSlash(ctx context.Context, payload []byte) {
	if len(payload) > maxPayload {
		return
	}
	var sc slack.SlashCommand
	if err := json.Unmarshal(payload, &sc); err != nil {
		a.log.Warn("slack slash command refused", "err", err)
		return
	}
	if !validID(sc.TeamID) || !validID(sc.UserID) || !validID(sc.ChannelID) {
		a.log.Warn("slack slash command with a malformed team, user or channel")
		return
	}
	text := strings.TrimSpace(sc.Text)
	if text == "" {
		text = "help"
	}
	text = "!" + strings.TrimLeft(text, "!/")
	c := &ephemeralConversation{a: a, channel: sc.ChannelID, user: sc.UserID}
	a.wg.Go(func() {
		// The command names the channel: it acts on the user's threads
		// there too.
		a.asst.Handle(ctx, chat.Message{User: UserID(sc.TeamID, sc.UserID),
			Conversation: conversationID(sc.TeamID, sc.ChannelID, ""), Text: text, Threads: true}, c)
	})
}

// ephemeralConversation answers a slash command with ephemeral messages.
type ephemeralConversation struct {
	a             *Adapter
	channel, user string
}

func (c *ephemeralConversation) Reply(ctx context.Context, text string) error {
	text = strings.ReplaceAll(text, "Commands (start with !, e.g. !grants):", "Commands (/secgpt COMMAND, or !COMMAND in a message):")
	var errs []error
	for _, sections := range messages(toMrkdwn(chat.Neutralize(text))) {
		blocks := make([]slack.Block, 0, len(sections))
		for _, s := range sections {
			blocks = append(blocks, section(s))
		}
		err := c.a.call(ctx, "chat.postEphemeral command", func(ctx context.Context) error {
			_, err := c.a.api.PostEphemeralContext(ctx, c.channel, c.user, slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks...))
			return err
		})
		if err != nil {
			c.a.log.Error("slack command answer not delivered", "channel", c.channel, "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Prompt refuses: commands never ask permission, and a prompt only its
// asker could see must not be the only copy of a question.
func (c *ephemeralConversation) Prompt(context.Context, chat.Prompt) error {
	return errors.New("slack slash commands cannot show permission prompts")
}

// captureConversation keeps the replies of a command run for the Home tab.
type captureConversation struct {
	mu      sync.Mutex // guards replies
	replies []string
}

func (c *captureConversation) Reply(_ context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, chat.Neutralize(text))
	return nil
}

func (c *captureConversation) Prompt(context.Context, chat.Prompt) error {
	return errors.New("the home tab cannot show permission prompts")
}

func (c *captureConversation) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.replies, "\n")
}

// command runs one hub command for a user and returns its reply.
func (a *Adapter) command(ctx context.Context, team, user, cmd string) string {
	c := &captureConversation{}
	a.asst.Handle(ctx, chat.Message{User: UserID(team, user), Conversation: conversationID(team, "home-"+user, ""), Text: cmd}, c)
	return c.text()
}

// homeSource is what the Home tab needs of the assistant beyond
// chat.Assistant: the user's grants and linked accounts as data (the hub
// has both). Changes still go through the hub's commands (!revoke,
// !disconnect), which audit them. An assistant without it (VanillaGPT)
// gets a Home tab of command text, without buttons.
type homeSource interface {
	Grants(ctx context.Context, user ids.UserID) ([]chat.GrantInfo, error)
	Accounts(ctx context.Context, user ids.UserID) ([]chat.AccountInfo, error)
}

// home returns the assistant's homeSource, looking through wrappers that
// unwrap (the metrics counter), or nil.
func (a *Adapter) home() homeSource {
	x := a.asst
	for range 8 { // a bound, not a limit anyone reaches
		if h, ok := x.(homeSource); ok {
			return h
		}
		u, ok := x.(interface{ Unwrap() chat.Assistant })
		if !ok {
			return nil
		}
		x = u.Unwrap()
	}
	return nil
}

func validAppID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// grantText is one grant as the Home tab shows it, e.g. "exec quick_ride
// (always)" or "collab quick_ride → metro_hail (this session)", as plain
// text: app ids come from operator config, but nothing here is trusted to
// be free of markup.
func grantText(g chat.GrantInfo) string {
	target := string(g.App)
	if g.Requester != "" {
		target = string(g.Requester) + " → " + target
	}
	if g.Function == chat.ReadsFunction {
		target += " (every read-only function)"
	} else if g.Function != "" && g.Function != string(g.App) {
		target += "." + g.Function
	}
	scope := "always"
	if g.Session {
		scope = "for a session"
	}
	if g.Unplanned {
		scope += ", calls outside a plan"
	}
	return fmt.Sprintf("%s %s (%s)", g.Kind, target, scope)
}

// publishHome renders the user's Home tab: stored permissions, each with a
// Revoke button, linked accounts with a Disconnect button, and the
// installed apps. note, if set, says what was just done.
func (a *Adapter) publishHome(ctx context.Context, team, user, note string) {
	appsText := a.command(ctx, team, user, "!apps")
	blocks := []slack.Block{slack.NewHeaderBlock(plainText("SecGPT"))}
	if note != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(escape(note))))
	}
	blocks = append(blocks, section("*Your stored permissions*"))
	src := a.home()
	if src == nil {
		grants := a.command(ctx, team, user, "!grants")
		blocks = append(blocks, slack.NewSectionBlock(plainText(truncate(firstNonEmpty(grants, "You have no stored permissions."), maxSectionText)), nil, nil))
	} else {
		blocks = append(blocks, a.grantBlocks(ctx, src, UserID(team, user))...)
	}
	blocks = append(blocks, slack.NewDividerBlock(), section("*Installed apps*"),
		slack.NewSectionBlock(plainText(truncate(appsText, maxSectionText-100)), nil, nil),
		slack.NewDividerBlock(), section("*Connected accounts*"))
	blocks = append(blocks, a.accountBlocks(ctx, src, UserID(team, user))...)
	blocks = append(blocks,
		slack.NewContextBlock("", mrkdwnText("Commands: `/secgpt help`, `/secgpt grants`, `/secgpt revoke APP|all`, `/secgpt facts`, `/secgpt forget APP|FACT|all`, `/secgpt new`.")))
	err := a.call(ctx, "views.publish home", func(ctx context.Context) error {
		_, err := a.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user,
			View: slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}})
		return err
	})
	if err != nil {
		a.log.Error("slack home tab not published", "user", user, "err", err)
	}
}

// grantBlocks lists the user's grants, each with a Revoke button (with a
// confirm dialog), and a Revoke all button.
func (a *Adapter) grantBlocks(ctx context.Context, src homeSource, user ids.UserID) []slack.Block {
	gs, err := src.Grants(ctx, user)
	if err != nil {
		a.log.Error("slack home tab: read grants", "err", err)
		return []slack.Block{section("_I can't read your permissions right now; try `/secgpt grants`._")}
	}
	var blocks []slack.Block
	if len(gs) == 0 {
		return append(blocks, slack.NewSectionBlock(plainText("You have no stored permissions."), nil, nil))
	}
	const maxGrantRows = 70 // a home view holds 100 blocks
	for i, g := range gs {
		if i == maxGrantRows {
			blocks = append(blocks, section(fmt.Sprintf("_… and %d more; use `/secgpt grants`._", len(gs)-i)))
			break
		}
		text := plainText(truncate(grantText(g), 2900))
		if !validAppID(string(g.App)) {
			// No button for an id a click could not carry back.
			blocks = append(blocks, slack.NewSectionBlock(text, nil, nil))
			continue
		}
		btn := slack.NewButtonBlockElement(revokeAction, string(g.App), plainText("Revoke"))
		btn.Confirm = slack.NewConfirmationBlockObject(plainText("Revoke?"),
			plainText(truncate("Delete every stored permission for app "+string(g.App)+"? It will ask again next time.", 290)),
			plainText("Revoke"), plainText("Cancel"))
		blocks = append(blocks, slack.NewSectionBlock(text, nil, slack.NewAccessory(btn)))
	}
	all := slack.NewButtonBlockElement(revokeAction, "all", plainText("Revoke all"))
	all.Style = slack.StyleDanger
	all.Confirm = slack.NewConfirmationBlockObject(plainText("Revoke all?"),
		plainText("Delete all your stored permissions? Every app will ask again."), plainText("Revoke all"), plainText("Cancel"))
	return append(blocks, slack.NewActionBlock("secgpt_revoke_all", all))
}

// accountBlocks shows each account the user can link, with a Disconnect
// button for a linked one.
func (a *Adapter) accountBlocks(ctx context.Context, src homeSource, user ids.UserID) []slack.Block {
	none := section("No accounts can be linked on this bot: apps that use an account (Gmail, Drive) use the one the operator configured (docs/apps.md).")
	if src == nil {
		return []slack.Block{none}
	}
	accs, err := src.Accounts(ctx, user)
	if err != nil {
		a.log.Error("slack home tab: read linked accounts", "err", err)
		return []slack.Block{section("_I can't read your linked accounts right now._")}
	}
	if len(accs) == 0 {
		return []slack.Block{none}
	}
	var blocks []slack.Block
	for _, acc := range accs {
		name := accountName(acc.Provider)
		if !acc.Connected {
			blocks = append(blocks, section(fmt.Sprintf("%s: not linked. Say `!connect %s` in a message to link it.", name, escape(acc.Provider))))
			continue
		}
		btn := slack.NewButtonBlockElement(disconnectAction, acc.Provider, plainText("Disconnect"))
		btn.Confirm = slack.NewConfirmationBlockObject(plainText("Disconnect?"),
			plainText(truncate("Unlink your "+name+" account and delete its token? Apps that use it stop working for you until you link it again.", 290)),
			plainText("Disconnect"), plainText("Cancel"))
		blocks = append(blocks, slack.NewSectionBlock(plainText(name+": linked"), nil, slack.NewAccessory(btn)))
	}
	return blocks
}

// accountName is how a provider is shown.
func accountName(provider string) string {
	if provider == "google" {
		return "Google"
	}
	return provider
}

// homeAction is a Revoke or Disconnect click on the Home tab.
type homeAction struct {
	team, user string
	action     string // revokeAction or disconnectAction
	value      string // an app id or "all"; a provider
}

// decodeHomeAction reads a block_actions payload from the Home tab; ok is
// false for any other payload.
func decodeHomeAction(raw []byte) (homeAction, bool) {
	if len(raw) > maxPayload {
		return homeAction{}, false
	}
	var p interactivePayload
	if json.Unmarshal(raw, &p) != nil || p.Type != "block_actions" || len(p.Actions) != 1 {
		return homeAction{}, false
	}
	act := p.Actions[0]
	team := firstNonEmpty(p.User.TeamID, p.Team.ID)
	if !validID(team) || !validID(p.User.ID) {
		return homeAction{}, false
	}
	switch act.ActionID {
	case revokeAction:
		if act.Value != "all" && !validAppID(act.Value) {
			return homeAction{}, false
		}
	case disconnectAction:
		// Only providers the hub knows; anything else is not ours.
		if act.Value != "google" {
			return homeAction{}, false
		}
	default:
		return homeAction{}, false
	}
	return homeAction{team: team, user: p.User.ID, action: act.ActionID, value: act.Value}, true
}

// onHomeAction revokes or unlinks for the clicking user (only ever their
// own: the hub command runs as them) and republishes their Home tab.
func (a *Adapter) onHomeAction(ctx context.Context, h homeAction) {
	cmd := "!revoke " + h.value
	if h.action == disconnectAction {
		cmd = "!disconnect " + h.value
	}
	reply := a.command(ctx, h.team, h.user, cmd)
	a.publishHome(ctx, h.team, h.user, reply)
}

var (
	_ chat.Conversation = (*ephemeralConversation)(nil)
	_ chat.Conversation = (*captureConversation)(nil)
)
