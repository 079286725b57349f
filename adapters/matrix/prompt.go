package matrix

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
)

// choices are the reactions the bot puts under a prompt, in chat.Decisions order.
var choices = [...]struct {
	decision chat.Decision
	emoji    string
}{
	{chat.AllowOnce, "✅"},
	{chat.AllowSession, "🔁"},
	{chat.AllowAlways, "♾️"},
	{chat.Deny, "❌"},
}

// decisionForKey maps a reaction key to a decision. Variation selectors are
// ignored: clients differ in whether they send "♾" or "♾️".
func decisionForKey(key string) (chat.Decision, bool) {
	key = stripVariation(key)
	for _, c := range append(choices[:], reviewChoice) {
		if stripVariation(c.emoji) == key {
			return c.decision, true
		}
	}
	return "", false
}

func stripVariation(s string) string {
	return strings.NewReplacer("\uFE0F", "", "\uFE0E", "").Replace(strings.TrimSpace(s))
}

// shownPrompt is a prompt on screen waiting for its answer.
type shownPrompt struct {
	p     chat.Prompt
	conv  *conversation
	event id.EventID
	asked id.UserID
	// restored is set for a prompt posted before a restart: the query
	// that asked is gone, and answerRestored handles its answer.
	restored bool
}

// resolution is how a prompt ended, for the edited message.
type resolution struct {
	decision chat.Decision
	by       id.UserID
	byText   string // who answered, when not a Matrix user
	expired  bool
	// shutdown: the assistant stopped while the prompt waited (the hub
	// denies it, as on expiry, but the user should know why).
	shutdown bool
}

// renderPrompt builds the prompt message: who asks for what, the warning for
// unplanned requests, why, the exact data, and either the legend (pending) or
// the outcome (res != nil). Every piece of prompt text is escaped in the HTML
// body: app names and data come from apps and models.
func renderPrompt(p chat.Prompt, asked id.UserID, res *resolution) *event.MessageEventContent {
	var txt, htm strings.Builder
	line := func(t, h string) {
		txt.WriteString(t + "\n")
		htm.WriteString(h + "<br>")
	}
	esc := html.EscapeString
	who := string(asked)
	if who == "" {
		who = string(p.User)
	}
	line("🔐 Permission request for "+who, "🔐 <b>Permission request</b> for "+userLink(asked, who))
	line(chat.PromptTitle(p), "<b>"+esc(chat.PromptTitle(p))+"</b>")
	if w := chat.PromptWarning(p); w != "" {
		line("⚠️ "+w, "⚠️ <b>"+esc(w)+"</b>")
	}
	if p.Reason != "" {
		line("Why: "+p.Reason, "<i>Why:</i> "+esc(p.Reason))
	}
	if p.Kind == chat.KindPlan {
		renderPlan(p, &txt, &htm)
	} else if p.Kind == chat.KindElicit {
		txt.WriteString(p.Data + "\n")
		htm.WriteString("<pre><code>" + esc(p.Data) + "</code></pre>")
	} else if p.Data != "" {
		data := chat.DataText(p.Data)
		txt.WriteString("What it would receive:\n" + data + "\n")
		htm.WriteString("What it would receive:<pre><code>" + esc(data) + "</code></pre>")
	}
	switch {
	case res == nil:
		var legend, hlegend []string
		for i, c := range promptChoices(p) {
			legend = append(legend, fmt.Sprintf("%s %s", c.emoji, c.decision.Label()))
			hlegend = append(hlegend, fmt.Sprintf("%s %s (<code>%d</code>)", c.emoji, esc(c.decision.Label()), i+1))
		}
		line("React: "+strings.Join(legend, " · "), "<b>React:</b> "+strings.Join(hlegend, " · "))
		if p.FreeText {
			line("or reply with your answer (as text). Only "+who+"'s answer counts.",
				"or reply with your answer (as text). Only "+esc(who)+"'s answer counts.")
		} else if p.Kind == chat.KindElicit {
			line("or reply with the number of your choice. Only "+who+"'s answer counts.",
				"or reply with the number of your choice. Only "+esc(who)+"'s answer counts.")
		} else {
			line(`or reply "allow once", "session", "always" or "deny". Only `+who+"'s answer counts.",
				`or reply <code>allow once</code>, <code>session</code>, <code>always</code> or <code>deny</code>. Only `+esc(who)+"'s answer counts.")
		}
		if !p.ExpiresAt.IsZero() {
			at := p.ExpiresAt.UTC().Format("15:04:05 MST")
			line("Unanswered, this is denied at "+at+".", "<i>Unanswered, this is denied at "+at+".</i>")
		}
	case res.shutdown:
		line("⏹ Not answered before the assistant shut down, so it was denied. Send your request again once it is back.",
			"⏹ <b>Not answered before the assistant shut down</b>, so it was denied. Send your request again once it is back.")
	case res.expired:
		line("⌛ Expired: no answer in time, so it was denied.", "⌛ <b>Expired:</b> no answer in time, so it was denied.")
	default:
		mark := "✅"
		if _, opt := res.decision.OptionValue(); !res.decision.Allows() && res.decision != chat.Accept && !opt {
			mark = "❌"
		}
		by := string(res.by)
		hby := userLink(res.by, by)
		if by == "" {
			by, hby = res.byText, esc(res.byText)
		}
		if by == "" {
			by, hby = "the hub", "the hub"
		}
		line(fmt.Sprintf("%s Decision: %s, by %s.", mark, res.decision.Label(), by),
			fmt.Sprintf("%s <b>Decision:</b> %s, by %s.", mark, esc(res.decision.Label()), hby))
	}
	content := &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          strings.TrimRight(txt.String(), "\n"),
		Format:        event.FormatHTML,
		FormattedBody: strings.TrimSuffix(htm.String(), "<br>"),
		Mentions:      &event.Mentions{},
	}
	if asked != "" && res == nil {
		content.Mentions.UserIDs = []id.UserID{asked} // notify the asked user
	}
	return content
}

func userLink(u id.UserID, text string) string {
	if u == "" {
		return html.EscapeString(text)
	}
	return fmt.Sprintf(`<a href="https://matrix.to/#/%s">%s</a>`, html.EscapeString(string(u)), html.EscapeString(text))
}

// promptFor finds the pending prompt a typed answer refers to: the one it
// replies to (m.relates_to in_reply_to), else the only one in the same room
// and thread that asked sender. waiting is how many such prompts wait: with
// several and no reply, sp is nil and the answer must be refused with a
// hint, never bound to one of them by a guess. A reply to a prompt always
// counts as an answer attempt (so the hub can refuse someone else's); a
// bare "yes" only for the sender's own.
func (a *Adapter) promptFor(room id.RoomID, thread, replyTo id.EventID, sender id.UserID) (sp *shownPrompt, waiting int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if sp, ok := a.prompts[replyTo]; ok && sp.conv.room == room {
		return sp, 1
	}
	var only *shownPrompt
	for _, sp := range a.prompts {
		if sp.conv.room != room || sp.asked != sender {
			continue
		}
		if sp.conv.thread != thread && sp.event != thread {
			continue
		}
		only = sp
		waiting++
	}
	if waiting != 1 {
		return nil, waiting
	}
	return only, 1
}

// onReaction turns a reaction to a pending prompt into an answer.
func (a *Adapter) onReaction(ctx context.Context, evt *event.Event) {
	if evt.Sender == a.cli.UserID || !a.seen.add(string(evt.ID)) {
		return
	}
	rel := evt.Content.AsReaction().RelatesTo
	if rel.Type != event.RelAnnotation {
		return
	}
	a.mu.Lock()
	sp, ok := a.prompts[rel.EventID]
	a.mu.Unlock()
	if !ok {
		if _, isChoice := decisionForKey(rel.Key); isChoice {
			a.lateAnswer(ctx, rel.EventID, evt.RoomID, evt.Sender)
		}
		return
	}
	if sp.conv.room != evt.RoomID {
		return
	}
	d, ok := decisionForKey(rel.Key)
	if sp.p.Kind == chat.KindElicit {
		d, ok = elicitDecision(sp.p, rel.Key)
	}
	if !ok {
		return
	}
	a.answer(ctx, sp, evt.Sender, d, "reaction")
}

// answer delivers one answer to the assistant; refusals are logged only.
func (a *Adapter) answer(ctx context.Context, sp *shownPrompt, from id.UserID, d chat.Decision, via string) {
	err := a.asst.Answer(ctx, chat.Answer{Prompt: sp.p.ID, Nonce: sp.p.Nonce, User: userID(from), Decision: d})
	if sp.restored && (errors.Is(err, chat.ErrAskAgain) || errors.Is(err, chat.ErrUnknownPrompt)) {
		a.log.Info("matrix answer to a prompt from before the restart", "prompt", sp.p.ID, "by", from, "decision", d, "hub", err)
		a.answerRestored(ctx, sp, from, d, err)
		return
	}
	switch {
	case err == nil:
		a.log.Info("matrix prompt answered", "prompt", sp.p.ID, "by", from, "decision", d, "via", via)
	case errors.Is(err, chat.ErrNotYours):
		a.log.Info("refusing matrix prompt answer from someone else", "prompt", sp.p.ID, "from", from, "asked", sp.asked)
		// Say so where the prompt is, so whoever tried is not left
		// believing they decided it.
		msg := fmt.Sprintf("%s: this permission request is for %s; only they can answer it. Nothing was changed.", from, sp.asked)
		if err := sp.conv.send(ctx, noticeContent(msg)); err != nil {
			a.log.Warn("post matrix notice", "prompt", sp.p.ID, "err", err)
		}
	case errors.Is(err, chat.ErrUnknownPrompt):
		a.log.Debug("matrix prompt answer for a prompt no longer waiting", "prompt", sp.p.ID, "from", from)
	case errors.Is(err, chat.ErrAskAgain):
		// The query that asked is gone (its replica restarted); the choice
		// was stored, and the user must send the request again.
		if rerr := sp.conv.Reply(ctx, err.Error()); rerr != nil {
			a.log.Warn("tell user to ask again", "prompt", sp.p.ID, "err", rerr)
		}
	default:
		a.log.Warn("deliver matrix prompt answer", "prompt", sp.p.ID, "err", err)
	}
}

// outcomeLine says in one line how a prompt ended (edit fallbacks).
func outcomeLine(p chat.Prompt, res *resolution) string {
	switch {
	case res.shutdown:
		return "Permission request not answered before the assistant shut down (denied): " + chat.PromptTitle(p)
	case res.expired:
		return "Permission request expired (denied): " + chat.PromptTitle(p)
	case res.by != "":
		return fmt.Sprintf("Permission request decided: %s: %s, by %s.", chat.PromptTitle(p), res.decision.Label(), res.by)
	case res.byText != "":
		return fmt.Sprintf("Permission request decided: %s: %s, by %s.", chat.PromptTitle(p), res.decision.Label(), res.byText)
	}
	return fmt.Sprintf("Permission request decided: %s: %s.", chat.PromptTitle(p), res.decision.Label())
}
