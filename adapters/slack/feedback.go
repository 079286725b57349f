package slack

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/ids"
)

// feedbackAction is the action id of the feedback buttons under replies.
const feedbackAction = "secgpt_feedback"

// The values the two feedback buttons carry; nothing else is accepted.
const (
	feedbackGood = "good"
	feedbackBad  = "bad"
)

// Feedback is one click on a reply's feedback buttons.
type Feedback struct {
	// User is who clicked (anyone who can see the reply can).
	User ids.UserID
	// Channel and MessageTS locate the reply in Slack.
	Channel, MessageTS string
	// Good is true for the positive button.
	Good bool
}

// feedbackBlock is the row of thumbs up/down buttons under a reply.
func feedbackBlock() slack.Block {
	return slack.NewContextActionsBlock("",
		slack.NewFeedbackButtonsBlockElement(feedbackAction,
			slack.NewFeedbackButton(slack.NewTextBlockObject(slack.PlainTextType, "Good answer", false, false), feedbackGood).
				WithAccessibilityLabel("Mark this answer as good"),
			slack.NewFeedbackButton(slack.NewTextBlockObject(slack.PlainTextType, "Bad answer", false, false), feedbackBad).
				WithAccessibilityLabel("Mark this answer as bad")))
}

// decodeFeedback reads a block_actions payload and returns the feedback
// click in it, if it is one. A payload that names the feedback action with
// another value, or with a malformed team, user, channel or message ts, is
// an error.
func decodeFeedback(raw []byte) (Feedback, bool, error) {
	if len(raw) > maxPayload {
		return Feedback{}, false, fmt.Errorf("interactive payload of %d bytes is too large", len(raw))
	}
	var p interactivePayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Feedback{}, false, fmt.Errorf("decode interactive payload: %w", err)
	}
	if p.Type != "block_actions" || len(p.Actions) != 1 || p.Actions[0].ActionID != feedbackAction {
		return Feedback{}, false, nil
	}
	team := firstNonEmpty(p.User.TeamID, p.Team.ID)
	channel := firstNonEmpty(p.Container.ChannelID, p.Channel.ID)
	if !validID(team) || !validID(p.User.ID) || !validID(channel) || !validTS(p.Container.MessageTS) {
		return Feedback{}, false, fmt.Errorf("feedback with missing or malformed team, user, channel or message")
	}
	v := p.Actions[0].Value
	if v != feedbackGood && v != feedbackBad {
		return Feedback{}, false, fmt.Errorf("feedback with unknown value %q", truncate(v, 20))
	}
	return Feedback{User: UserID(team, p.User.ID), Channel: channel, MessageTS: p.Container.MessageTS, Good: v == feedbackGood}, true, nil
}

// onFeedback hands a feedback click to Config.Feedback (the audit log, in
// the bot's wiring).
func (a *Adapter) onFeedback(ctx context.Context, f Feedback) {
	a.log.Info("slack reply feedback", "by", f.User, "channel", f.Channel, "ts", f.MessageTS, "good", f.Good)
	if a.cfg.Feedback == nil {
		return
	}
	if err := a.cfg.Feedback(ctx, f); err != nil {
		a.log.Error("slack reply feedback not recorded", "by", f.User, "err", err)
	}
}
