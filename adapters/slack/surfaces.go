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
// Home tab, and the AI assistant threads. The first two run the hub's own
// chat commands (!grants, !revoke …) through chat.Assistant, so they show
// exactly what the commands say and need no second way into the store.

// revokeAction is the action id of a Revoke button on the Home tab.
const revokeAction = "secgpt_revoke"

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

// onSurfaceEvent handles app_home_opened and assistant_thread_started and
// reports whether payload was one of them.
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
	case "assistant_thread_started":
		t := k.Event.AssistantThread
		if !validID(t.ChannelID) || !validTS(t.ThreadTS) {
			a.log.Warn("slack assistant thread event with a malformed channel or thread")
			return true
		}
		a.assistant.first(t.ChannelID + "/" + t.ThreadTS)
		a.wg.Go(func() { a.suggestPrompts(ctx, t.ChannelID, t.ThreadTS) })
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

// isAssistantThread reports whether channel/thread is an AI assistant thread.
func (a *Adapter) isAssistantThread(channel, thread string) bool {
	return thread != "" && a.assistant.has(channel+"/"+thread)
}

// titleThread names an assistant thread after its first request.
func (a *Adapter) titleThread(ctx context.Context, channel, thread, text string) {
	if !a.titled.first(channel + "/" + thread) {
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
		a.asst.Handle(ctx, chat.Message{User: UserID(sc.TeamID, sc.UserID),
			Conversation: conversationID(sc.TeamID, sc.ChannelID, ""), Text: text}, c)
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

// grantLine is one line of the !grants reply: "- KIND TARGET (SCOPE)" or
// "- KIND REQUESTER → TARGET (SCOPE)".
type grantLine struct {
	text string
	app  ids.AppID // the app a Revoke button revokes
}

func parseGrants(reply string) []grantLine {
	var out []grantLine
	for l := range strings.SplitSeq(reply, "\n") {
		rest, ok := strings.CutPrefix(l, "- ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		app := f[1]
		if len(f) >= 4 && f[2] == "→" {
			app = f[3]
		}
		if !validAppID(app) {
			continue
		}
		out = append(out, grantLine{text: rest, app: ids.AppID(app)})
	}
	return out
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

// publishHome renders the user's Home tab: stored permissions, each with a
// Revoke button, and the installed apps. note, if set, says what was just
// done.
func (a *Adapter) publishHome(ctx context.Context, team, user, note string) {
	grants := a.command(ctx, team, user, "!grants")
	appsText := a.command(ctx, team, user, "!apps")
	blocks := []slack.Block{slack.NewHeaderBlock(plainText("SecGPT"))}
	if note != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(escape(note))))
	}
	blocks = append(blocks, section("*Your stored permissions*"))
	lines := parseGrants(grants)
	if len(lines) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(plainText(truncate(firstNonEmpty(grants, "You have no stored permissions."), maxSectionText)), nil, nil))
	}
	const maxGrantRows = 80 // a home view holds 100 blocks
	for i, g := range lines {
		if i == maxGrantRows {
			blocks = append(blocks, section(fmt.Sprintf("_… and %d more; use `/secgpt grants`._", len(lines)-i)))
			break
		}
		btn := slack.NewButtonBlockElement(revokeAction, string(g.app), plainText("Revoke"))
		btn.Confirm = slack.NewConfirmationBlockObject(plainText("Revoke?"),
			plainText(truncate("Delete every stored permission for app "+string(g.app)+"? It will ask again next time.", 290)),
			plainText("Revoke"), plainText("Cancel"))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwnText(escape(truncate(g.text, 2900))), nil, slack.NewAccessory(btn)))
	}
	if len(lines) > 0 {
		all := slack.NewButtonBlockElement(revokeAction, "all", plainText("Revoke all"))
		all.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock("secgpt_revoke_all", all))
	}
	blocks = append(blocks, slack.NewDividerBlock(), section("*Installed apps*"),
		slack.NewSectionBlock(plainText(truncate(appsText, maxSectionText-100)), nil, nil),
		slack.NewDividerBlock(), section("*Connected accounts*"),
		section("No accounts are linked through Slack: apps that use an account (Gmail, Drive) use the one the operator configured (docs/apps.md)."),
		slack.NewContextBlock("", mrkdwnText("Commands: `/secgpt help`, `/secgpt grants`, `/secgpt revoke APP|all`, `/secgpt forget APP|all`, `/secgpt new`.")))
	err := a.call(ctx, "views.publish home", func(ctx context.Context) error {
		_, err := a.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user,
			View: slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}})
		return err
	})
	if err != nil {
		a.log.Error("slack home tab not published", "user", user, "err", err)
	}
}

// homeAction is a Revoke click on the Home tab.
type homeAction struct {
	team, user string
	app        string // an app id or "all"
}

// decodeHomeAction reads a block_actions payload from the Home tab; ok is
// false for any other payload.
func decodeHomeAction(raw []byte) (homeAction, bool) {
	if len(raw) > maxPayload {
		return homeAction{}, false
	}
	var p interactivePayload
	if json.Unmarshal(raw, &p) != nil || p.Type != "block_actions" || len(p.Actions) != 1 || p.Actions[0].ActionID != revokeAction {
		return homeAction{}, false
	}
	team := firstNonEmpty(p.User.TeamID, p.Team.ID)
	app := p.Actions[0].Value
	if !validID(team) || !validID(p.User.ID) || (app != "all" && !validAppID(app)) {
		return homeAction{}, false
	}
	return homeAction{team: team, user: p.User.ID, app: app}, true
}

// onHomeAction revokes for the clicking user (only ever their own grants:
// the hub command runs as them) and republishes their Home tab.
func (a *Adapter) onHomeAction(ctx context.Context, h homeAction) {
	reply := a.command(ctx, h.team, h.user, "!revoke "+h.app)
	a.publishHome(ctx, h.team, h.user, reply)
}

var (
	_ chat.Conversation = (*ephemeralConversation)(nil)
	_ chat.Conversation = (*captureConversation)(nil)
)
