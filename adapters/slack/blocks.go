package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// maxDataSections bounds how many blocks the shared data may take, leaving
// room for the other blocks of a prompt within Slack's 50.
const maxDataSections = 40

func mrkdwnText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plainText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func section(s string) slack.Block { return slack.NewSectionBlock(mrkdwnText(s), nil, nil) }

// mention renders a SecGPT user id as a Slack mention when it is a Slack
// user, else as escaped text.
func mention(u ids.UserID) string {
	if _, user, ok := splitUserID(u); ok {
		return "<@" + user + ">"
	}
	return escape(string(u))
}

// promptHead renders what a prompt and its resolved form share: who asks
// for what, the warning, the reason and the exact data.
func promptHead(p chat.Prompt) []slack.Block {
	if p.Kind == chat.KindPlan {
		return planHead(p)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(plainText("Permission request")),
		section("*" + escape(chat.PromptTitle(p)) + "*"),
	}
	who := "SecGPT (the hub)"
	if p.Requester != "" {
		who = "app `" + escape(string(p.Requester)) + "`"
	}
	target := "app `" + escape(chat.AppFunction(p.Target, p.Function)) + "`"
	facts := fmt.Sprintf("*Asked by:* %s\n*For:* %s\n*Kind:* %s\n*Only %s can answer.*", who, target, escape(kindText(p.Kind)), mention(p.User))
	blocks = append(blocks, section(facts))
	if w := chat.PromptWarning(p); w != "" {
		blocks = append(blocks, section(":warning: *"+escape(w)+"*"))
	}
	if p.Reason != "" {
		blocks = append(blocks, section("*Why:* "+escape(truncate(p.Reason, 2500))))
	}
	if p.Data == "" {
		blocks = append(blocks, section("_No data would be shared._"))
		return blocks
	}
	blocks = append(blocks, section("*What it would receive (exactly):*"))
	// plain_text shows the data verbatim: no markup in it can take effect.
	chunks := splitPlain(chat.DataText(p.Data), maxSectionText-100)
	if len(chunks) > maxDataSections {
		hidden := 0
		for _, c := range chunks[maxDataSections:] {
			hidden += textLen(c)
		}
		chunks = chunks[:maxDataSections]
		chunks = append(chunks[:maxDataSections-1], chunks[maxDataSections-1]+fmt.Sprintf("\n… %d more characters not shown", hidden))
	}
	for _, c := range chunks {
		blocks = append(blocks, slack.NewSectionBlock(plainText(c), nil, nil))
	}
	return blocks
}

func kindText(k chat.Kind) string {
	switch k {
	case chat.KindExec:
		return "run an app"
	case chat.KindData:
		return "share remembered data with an app"
	case chat.KindCollab:
		return "pass data between apps"
	}
	return string(k)
}

// promptBlocks renders a waiting prompt with its four buttons.
func promptBlocks(p chat.Prompt) ([]slack.Block, error) {
	blocks := promptHead(p)
	if !p.ExpiresAt.IsZero() {
		unix := p.ExpiresAt.Unix()
		blocks = append(blocks, slack.NewContextBlock("", mrkdwnText(fmt.Sprintf(
			"Expires <!date^%d^{time}|%s>; no answer by then means Deny.", unix, p.ExpiresAt.UTC().Format(time.Kitchen+" UTC")))))
	}
	value, err := json.Marshal(buttonValue{Prompt: p.ID, Nonce: p.Nonce})
	if err != nil {
		return nil, fmt.Errorf("encode button value: %w", err)
	}
	if len(value) > 2000 {
		return nil, fmt.Errorf("prompt id and nonce too long for a Slack button (%d bytes)", len(value))
	}
	var buttons []slack.BlockElement
	for _, d := range p.Choices() {
		b := slack.NewButtonBlockElement(actionPrefix+string(d), string(value), plainText(d.Label()))
		switch d {
		case chat.AllowOnce:
			b.Style = slack.StylePrimary
		case chat.AllowAlways:
			// "Always" outlives this conversation: one more click to be sure.
			b.Confirm = slack.NewConfirmationBlockObject(plainText("Always allow?"),
				plainText(truncate(alwaysText(p), 290)), plainText("Always allow"), plainText("Cancel"))
		case chat.Deny:
			b.Style = slack.StyleDanger
		}
		buttons = append(buttons, b)
	}
	blocks = append(blocks, slack.NewActionBlock("secgpt_perm", buttons...))
	return blocks, nil
}

// outcome says how a prompt ended, for the updated message.
func outcome(d chat.Decision, by ids.UserID, expired bool) string {
	if expired {
		return ":hourglass: *Expired:* no answer came in time, so the request was denied."
	}
	what := map[chat.Decision]string{
		chat.AllowOnce:    ":white_check_mark: *Allowed once*",
		chat.AllowSession: ":white_check_mark: *Allowed for this session*",
		chat.AllowAlways:  ":white_check_mark: *Always allowed*",
		chat.Deny:         ":no_entry: *Denied*",
		chat.Review:       ":mag: *Reviewing the steps one by one*",
	}[d]
	if what == "" {
		what = "*" + escape(string(d)) + "*"
	}
	if by != "" {
		what += " by " + mention(by)
	}
	return what + "."
}

// resolvedBlocks renders a decided prompt: the same facts, no buttons, and
// the outcome.
func resolvedBlocks(p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) []slack.Block {
	return append(promptHead(p), slack.NewDividerBlock(), section(outcome(d, by, expired)))
}

func truncate(s string, n int) string {
	if textLen(s) <= n {
		return s
	}
	return s[:cutPoint(s, n-1)] + "…"
}

// statusText renders a status line.
func statusText(s string) string {
	return ":hourglass_flowing_sand: _" + escape(strings.TrimSpace(truncate(s, 2000))) + "_"
}

// alwaysText is the confirmation dialog's question for an "Always allow"
// click: what would be allowed from now on, without asking.
func alwaysText(p chat.Prompt) string {
	what := "running app " + string(p.Target)
	switch p.Kind {
	case chat.KindData:
		what = "sharing your remembered data with app " + string(p.Target)
	case chat.KindCollab:
		what = "app " + string(p.Requester) + " using app " + string(p.Target)
	}
	return "From now on, " + what + " will be allowed without asking you, also in later conversations. You can undo it with !revoke " + string(p.Target) + " or on the app's Home tab."
}
