package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// maxPayload bounds an envelope payload we are willing to decode; Slack's
// events are far smaller.
const maxPayload = 1 << 20

// inbound is a user message worth answering, decoded from an events_api
// payload.
type inbound struct {
	EventID string
	Team    string // the sender's team
	User    string
	Channel string
	// TS is the message's own timestamp; ThreadTS the thread it is in, if any.
	TS, ThreadTS string
	Text         string
	// DM is true for direct messages (message.im), false for app mentions.
	DM bool
	// Followup is true for a message without a mention in a channel
	// thread; it is answered only in a thread the bot is part of.
	Followup bool
	// ParentUser is who started the thread, when Slack says.
	ParentUser string
}

// eventPayload is the subset of an event_callback payload the adapter reads.
type eventPayload struct {
	Type    string `json:"type"`
	TeamID  string `json:"team_id"`
	EventID string `json:"event_id"`
	Event   struct {
		Type        string          `json:"type"`
		Subtype     string          `json:"subtype"`
		User        string          `json:"user"`
		BotID       string          `json:"bot_id"`
		AppID       string          `json:"app_id"`
		Text        string          `json:"text"`
		TS          string          `json:"ts"`
		ThreadTS    string          `json:"thread_ts"`
		Channel     string          `json:"channel"`
		ChannelType string          `json:"channel_type"`
		Team        string          `json:"team"`
		UserTeam    string          `json:"user_team"`
		Edited      json.RawMessage `json:"edited"`
		Hidden      bool            `json:"hidden"`
		ParentUser  string          `json:"parent_user_id"`
	} `json:"event"`
}

// errIgnored marks an event that is valid but not for us (bot messages,
// edits, other event types). It is not logged as a problem.
var errIgnored = errors.New("event ignored")

// decodeEvent reads an events_api payload. It returns errIgnored (wrapped,
// with the reason) for events that must not trigger a query, and another
// error for malformed input. botUser is the bot's own user id.
func decodeEvent(raw []byte, botUser string) (inbound, error) {
	if len(raw) > maxPayload {
		return inbound{}, fmt.Errorf("event payload of %d bytes is too large", len(raw))
	}
	var p eventPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return inbound{}, fmt.Errorf("decode event payload: %w", err)
	}
	if p.Type != "event_callback" {
		return inbound{}, fmt.Errorf("%w: payload type %q", errIgnored, p.Type)
	}
	e := p.Event
	switch {
	case e.Type != "message" && e.Type != "app_mention":
		return inbound{}, fmt.Errorf("%w: event type %q", errIgnored, e.Type)
	case e.BotID != "" || e.AppID != "" || e.Subtype == "bot_message" || (botUser != "" && e.User == botUser):
		return inbound{}, fmt.Errorf("%w: from a bot", errIgnored)
	case e.Subtype != "" && e.Subtype != "file_share" && e.Subtype != "thread_broadcast":
		// message_changed, message_deleted, channel_join, …: edits and
		// deletions must not re-trigger a query.
		return inbound{}, fmt.Errorf("%w: subtype %q", errIgnored, e.Subtype)
	case len(e.Edited) > 0 && string(e.Edited) != "null":
		return inbound{}, fmt.Errorf("%w: edited message", errIgnored)
	case e.Hidden:
		return inbound{}, fmt.Errorf("%w: hidden message", errIgnored)
	}
	dm := e.Type == "message" && e.ChannelType == "im"
	followup := false
	if e.Type == "message" && !dm {
		// Channel messages (message.channels, .groups, .mpim) count only
		// as follow-ups in a thread; the thread must be one the bot is
		// part of, which the adapter checks. Top-level channel messages
		// need a mention and arrive as app_mention.
		if e.ThreadTS == "" || e.ThreadTS == e.TS {
			return inbound{}, fmt.Errorf("%w: top-level message in %q channel", errIgnored, e.ChannelType)
		}
		if botUser != "" && strings.Contains(e.Text, "<@"+botUser+">") {
			return inbound{}, fmt.Errorf("%w: follow-up that mentions the bot (answered as the app_mention)", errIgnored)
		}
		followup = true
	}
	if !dm && (e.ChannelType == "im" || strings.HasPrefix(e.Channel, "D")) {
		// A mention inside a DM also arrives as message.im; answer that one.
		return inbound{}, fmt.Errorf("%w: app_mention in a DM", errIgnored)
	}
	team := firstNonEmpty(e.UserTeam, e.Team, p.TeamID)
	in := inbound{EventID: p.EventID, Team: team, User: e.User, Channel: e.Channel, TS: e.TS, ThreadTS: e.ThreadTS, DM: dm,
		Followup: followup, ParentUser: e.ParentUser}
	if !validID(in.Team) || !validID(in.User) || !validID(in.Channel) || !validTS(in.TS) || (in.ThreadTS != "" && !validTS(in.ThreadTS)) {
		return inbound{}, fmt.Errorf("event with missing or malformed team, user, channel or ts")
	}
	in.Text = cleanText(e.Text, botUser)
	if in.Text == "" {
		return inbound{}, fmt.Errorf("%w: empty text", errIgnored)
	}
	return in, nil
}

// click is one button press decoded from an interactive payload.
type click struct {
	Team, User  string
	Channel     string
	MessageTS   string
	ResponseURL string
	Decision    chat.Decision
	Prompt      ids.PromptID
	Nonce       string
}

// interactivePayload is the subset of a block_actions payload we read.
type interactivePayload struct {
	Type string `json:"type"`
	User struct {
		ID     string `json:"id"`
		TeamID string `json:"team_id"`
	} `json:"user"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS string `json:"message_ts"`
		ChannelID string `json:"channel_id"`
	} `json:"container"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// buttonValue is what a permission button carries; Slack echoes it back.
type buttonValue struct {
	Prompt ids.PromptID `json:"p"`
	Nonce  string       `json:"n"`
}

const actionPrefix = "secgpt_perm_"

// decodeClicks reads a block_actions payload and returns the permission
// clicks in it (normally one). Other interactive payloads are errIgnored.
func decodeClicks(raw []byte) ([]click, error) {
	if len(raw) > maxPayload {
		return nil, fmt.Errorf("interactive payload of %d bytes is too large", len(raw))
	}
	var p interactivePayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("decode interactive payload: %w", err)
	}
	if p.Type != "block_actions" {
		return nil, fmt.Errorf("%w: interactive type %q", errIgnored, p.Type)
	}
	team := firstNonEmpty(p.User.TeamID, p.Team.ID)
	channel := firstNonEmpty(p.Container.ChannelID, p.Channel.ID)
	if !validID(team) || !validID(p.User.ID) || !validID(channel) {
		return nil, fmt.Errorf("block_actions with missing or malformed team, user or channel")
	}
	var out []click
	for _, a := range p.Actions {
		d, ok := strings.CutPrefix(a.ActionID, actionPrefix)
		if !ok {
			continue
		}
		dec := chat.Decision(d)
		if !dec.Known() {
			return nil, fmt.Errorf("unknown permission action %q", a.ActionID)
		}
		var v buttonValue
		if err := json.Unmarshal([]byte(a.Value), &v); err != nil || v.Prompt == "" || v.Nonce == "" {
			return nil, fmt.Errorf("malformed permission button value")
		}
		out = append(out, click{Team: team, User: p.User.ID, Channel: channel, MessageTS: p.Container.MessageTS,
			ResponseURL: p.ResponseURL, Decision: dec, Prompt: v.Prompt, Nonce: v.Nonce})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no permission action", errIgnored)
	}
	return out, nil
}

// envelopeID digs the envelope id out of a raw Socket Mode message, for
// acking messages slack-go could not parse.
func envelopeID(raw []byte) string {
	var e struct {
		EnvelopeID string `json:"envelope_id"`
	}
	if json.Unmarshal(raw, &e) != nil || !validID(e.EnvelopeID) {
		return ""
	}
	return e.EnvelopeID
}

// UserID is the SecGPT identity of Slack user user in team team.
func UserID(team, user string) ids.UserID { return ids.UserID("slack:" + team + "/" + user) }

// splitUserID is the inverse of UserID.
func splitUserID(u ids.UserID) (team, user string, ok bool) {
	rest, ok := strings.CutPrefix(string(u), "slack:")
	if !ok {
		return "", "", false
	}
	team, user, ok = strings.Cut(rest, "/")
	return team, user, ok && validID(team) && validID(user)
}

// conversationID names where an answer goes: the DM itself for top-level
// DMs (so a session spans the DM), else the thread.
func conversationID(team, channel, thread string) ids.ConversationID {
	if thread == "" {
		return ids.ConversationID("slack:" + team + "/" + channel)
	}
	return ids.ConversationID("slack:" + team + "/" + channel + "/" + thread)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// validID accepts Slack ids and envelope ids: short, no separators we use.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

var tsRE = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,8}$`)

func validTS(s string) bool { return tsRE.MatchString(s) }

var (
	mentionRE = regexp.MustCompile(`<@([A-Z0-9]+)(\|[^>]*)?>`)
	channelRE = regexp.MustCompile(`<#([A-Z0-9]+)(?:\|([^>]*))?>`)
	specialRE = regexp.MustCompile(`<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>`)
	linkInRE  = regexp.MustCompile(`<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>`)
	unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// cleanText turns Slack's message markup into plain text for the hub: the
// bot's own mention goes, other mentions become @id, #channel, @here, links
// their URL, and Slack's HTML-ish escapes are undone.
func cleanText(text, botUser string) string {
	text = mentionRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := mentionRE.FindStringSubmatch(m)
		if sub[1] == botUser {
			return ""
		}
		return "@" + sub[1]
	})
	text = channelRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := channelRE.FindStringSubmatch(m)
		return "#" + firstNonEmpty(sub[2], sub[1])
	})
	text = specialRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := specialRE.FindStringSubmatch(m)
		if sub[1] == "date" {
			return sub[2]
		}
		return "@" + sub[1]
	})
	text = linkInRE.ReplaceAllString(text, "$1")
	text = unescaper.Replace(text)
	return strings.TrimSpace(text)
}
