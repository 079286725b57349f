package slack

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Notify posts n to user's DM with the bot (chat.postMessage to the user's
// id opens it), with n's Disconnect button: the Home tab's own action, so
// a click runs "!disconnect PROVIDER" as whoever clicks, and only the
// notified user is in that DM.
func (a *Adapter) Notify(ctx context.Context, user ids.UserID, n chat.Notice) error {
	_, u, ok := splitUserID(user)
	if !ok {
		return fmt.Errorf("slack notice: %q is not a Slack user", user)
	}
	text := toMrkdwn(chat.Neutralize(n.Text))
	blocks := []slack.Block{section(truncate(text, 2900))}
	if n.Disconnect == "google" { // the only provider decodeHomeAction takes
		btn := slack.NewButtonBlockElement(disconnectAction, n.Disconnect, plainText("Unlink it"))
		btn.Style = slack.StyleDanger
		btn.Confirm = slack.NewConfirmationBlockObject(plainText("Unlink?"),
			plainText("Unlink this account and delete its token? Apps that use it stop working for you until you link one again."),
			plainText("Unlink"), plainText("Cancel"))
		blocks = append(blocks, slack.NewActionBlock("", btn))
	}
	return a.call(ctx, "chat.postMessage notice", func(ctx context.Context) error {
		_, _, err := a.api.PostMessageContext(ctx, u, slack.MsgOptionText(fallback(text), false), slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
		return err
	})
}

var _ chat.Notifier = (*Adapter)(nil)
