package slack

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

func TestNewValidatesTokens(t *testing.T) {
	tests := []struct {
		name     string
		bot, app string
		want     []string // substrings of the error; nil means no error
	}{
		{"ok", "xoxb-1-2", "xapp-1-2", nil},
		{"both missing", "", "", []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "missing"}},
		{"user token as bot token", "xoxp-123", "xapp-1", []string{"SLACK_BOT_TOKEN", "must start with xoxb-", "xoxp-"}},
		{"tokens swapped", "xapp-1", "xoxb-1", []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}},
		{"whitespace", "xoxb-1 2", "xapp-1", []string{"whitespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{BotToken: tt.bot, AppToken: tt.app}, newFakeAssistant(), nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted bad tokens")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "123") {
				t.Errorf("error leaks the token: %q", err)
			}
		})
	}
}

func TestRunFatalAuth(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config, *slackfake.Server)
		want  []string
	}{
		{"wrong bot token", func(c *Config, _ *slackfake.Server) { c.BotToken = "xoxb-wrong" },
			[]string{"SLACK_BOT_TOKEN", "invalid_auth"}},
		{"revoked", func(_ *Config, f *slackfake.Server) { f.Revoke() },
			[]string{"SLACK_BOT_TOKEN", "token_revoked"}},
		{"wrong app token", func(c *Config, _ *slackfake.Server) { c.AppToken = "xapp-wrong" },
			[]string{"SLACK_APP_TOKEN", "invalid_auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startAdapter(t, newFakeAssistant(), tt.tweak)
			// Run ends by itself on a fatal error.
			err := e.wait()
			if !errors.Is(err, ErrFatalAuth) {
				t.Fatalf("Run = %v, want ErrFatalAuth", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRunRetriesNetworkErrors(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, func(_ *Config, f *slackfake.Server) {
		f.Inject("auth.test", slackfake.Fault{Status: 503})
		f.Inject("auth.test", slackfake.Fault{SlackError: "internal_error"})
		f.Inject("apps.connections.open", slackfake.Fault{Status: 500})
	})
	e.connected(1)
	if n := len(e.fake.Calls("auth.test")); n != 3 {
		t.Errorf("auth.test called %d times, want 3 (two failures, one success)", n)
	}
	if n := len(e.fake.Calls("apps.connections.open")); n < 2 {
		t.Errorf("apps.connections.open called %d times, want a retry", n)
	}
}

func TestDMPromptAllowOnce(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, ts := e.dm("U1", "ask for a ride (unplanned)")
	e.acked(env)
	prompt := e.prompt("DU1")

	// The prompt says who asks for what, shows the data verbatim, warns, and
	// offers the four choices in order.
	var labels []string
	for _, b := range prompt.Buttons() {
		labels = append(labels, b.Text)
	}
	if got, want := strings.Join(labels, "|"), "Allow once|Allow for this session|Always allow|Deny"; got != want {
		t.Errorf("buttons = %q, want %q", got, want)
	}
	text := prompt.AllText()
	for _, want := range []string{"quick_ride", "metro_hail", "book", "pickup: 1 Main St\ndropoff: <!channel> *airport*",
		"not part of the plan", "compare prices", "<@U1>"} {
		if !strings.Contains(text, want) {
			t.Errorf("prompt lacks %q:\n%s", want, text)
		}
	}
	if prompt.ThreadTS != "" {
		t.Errorf("top-level DM prompt went into thread %q", prompt.ThreadTS)
	}
	// The notification text carries the data too; it must not ping anyone.
	if !strings.Contains(prompt.Text, "&lt;!channel&gt;") || strings.Contains(prompt.Text, "<!") {
		t.Errorf("fallback text not escaped: %q", prompt.Text)
	}
	h := asst.handledCopy()
	if len(h) != 1 || h[0].User != "slack:T0FAKE/U1" || h[0].Conversation != "slack:T0FAKE/DU1" ||
		h[0].Text != "ask for a ride (unplanned)" || !strings.HasPrefix(h[0].EventID, "slack:Ev") {
		t.Errorf("handled = %+v", h)
	}
	_ = ts

	click := e.click("U1", prompt, chat.AllowOnce)
	e.acked(click)
	e.message("the answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Booked: *once*") })
	updated, err := e.fake.WaitMessage(e.ctx, "prompt update", func(m slackfake.Message) bool {
		return m.TS == prompt.TS && m.Updates > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(updated.Buttons()) != 0 {
		t.Errorf("buttons not removed: %+v", updated.Buttons())
	}
	if u := updated.AllText(); !strings.Contains(u, "Allowed once") || !strings.Contains(u, "<@U1>") {
		t.Errorf("updated prompt does not say the decision and who made it:\n%s", u)
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	// The status message was shown and removed once the answer was posted.
	var status []slackfake.Message
	for _, m := range e.fake.Messages() {
		if strings.Contains(m.Text, "Working on it") {
			status = append(status, m)
		}
	}
	if len(status) != 1 || !status[0].Deleted {
		t.Errorf("status messages = %+v, want one, deleted", status)
	}
	for _, c := range e.fake.Calls("chat.postMessage") {
		if c.Params.Get("unfurl_links") != "false" || c.Params.Get("unfurl_media") != "false" {
			t.Errorf("post without unfurling off: %v", c.Params)
		}
	}
	if n := len(e.fake.Calls("chat.update")); n != 1 {
		t.Errorf("chat.update called %d times, want 1 (click and Resolved update once)", n)
	}
}

func TestClickByAnotherUserIsRefused(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	// A mention in a channel: everyone there can see the prompt.
	env, _, ts := e.fake.NewEventEnvelope(slackfake.Event{Type: "app_mention", Channel: "C1", User: "U1",
		Text: "<@" + slackfake.DefaultBotUserID + "> ask for a ride"})
	if err := e.fake.Send(env); err != nil {
		t.Fatal(err)
	}
	prompt := e.prompt("C1")
	if prompt.ThreadTS != ts {
		t.Errorf("prompt thread = %q, want the mention's ts %q", prompt.ThreadTS, ts)
	}
	if h := asst.handledCopy(); len(h) != 1 || h[0].Text != "ask for a ride" || string(h[0].Conversation) != "slack:T0FAKE/C1/"+ts {
		t.Errorf("handled = %+v", h)
	}

	// U2, and U1 of another workspace, click Allow: both refused.
	for _, who := range []slackfake.Click{{User: "U2"}, {User: "U1", Team: "T0OTHER"}} {
		var b slackfake.Button
		for _, x := range prompt.Buttons() {
			if x.ActionID == actionPrefix+string(chat.AllowAlways) {
				b = x
			}
		}
		who.Channel, who.MessageTS, who.Button = "C1", prompt.TS, b
		env, err := e.fake.SendClick(who)
		if err != nil {
			t.Fatal(err)
		}
		e.acked(env)
		eph, err := e.fake.WaitMessage(e.ctx, "ephemeral refusal to "+who.User, func(m slackfake.Message) bool {
			return m.Ephemeral && m.EphemeralUser == who.User && strings.Contains(m.Text, "only they can answer")
		})
		if err != nil {
			t.Fatal(err)
		}
		if eph.Channel != "C1" {
			t.Errorf("ephemeral went to %q", eph.Channel)
		}
	}
	if got, _ := e.fake.Message("C1", prompt.TS); got.Updates != 0 || len(got.Buttons()) != 4 {
		t.Errorf("prompt changed after a stranger's click: %+v", got)
	}
	if a := asst.answersCopy(); len(a) != 0 {
		t.Errorf("stranger's clicks reached the assistant: %+v", a)
	}
	// The query still waits; the asked user can still answer.
	e.click("U1", prompt, chat.Deny)
	e.message("the denial", func(m slackfake.Message) bool {
		return m.ThreadTS == ts && strings.Contains(m.AllText(), "Denied. Shall I find another way?")
	})
	updated, err := e.fake.WaitMessage(e.ctx, "prompt update", func(m slackfake.Message) bool { return m.TS == prompt.TS && m.Updates > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(updated.AllText(), "Denied") || len(updated.Buttons()) != 0 {
		t.Errorf("prompt after deny: %s", updated.AllText())
	}
}

func TestStaleClickGetsEphemeral(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	e.dm("U1", "ask")
	prompt := e.prompt("DU1")
	e.click("U1", prompt, chat.AllowOnce)
	e.message("the answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Booked") })
	// A second click on the old message (e.g. a stale client) changes nothing.
	e.click("U1", prompt, chat.Deny)
	if _, err := e.fake.WaitMessage(e.ctx, "no longer waiting", func(m slackfake.Message) bool {
		return m.Ephemeral && strings.Contains(m.Text, "no longer waiting")
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.fake.Message("DU1", prompt.TS)
	if strings.Contains(got.AllText(), "Denied") {
		t.Errorf("stale click changed the prompt: %s", got.AllText())
	}
}

func TestPromptExpires(t *testing.T) {
	asst := newFakeAssistant()
	asst.timeout = 50 * time.Millisecond
	e := startAdapter(t, asst, nil)
	e.connected(1)
	e.dm("U1", "ask")
	prompt := e.prompt("DU1")
	updated, err := e.fake.WaitMessage(e.ctx, "expired prompt", func(m slackfake.Message) bool {
		return m.TS == prompt.TS && m.Updates > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(updated.AllText(), "Expired") || len(updated.Buttons()) != 0 {
		t.Errorf("expired prompt: %s", updated.AllText())
	}
	e.message("expiry answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "expired") })
}

func TestDuplicatesProcessedOnce(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	env, _, _ := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", Text: "hello"})
	// The same envelope twice, then Slack's retry: new envelope, same event.
	retry := env
	retry.ID, retry.RetryAttempt, retry.RetryReason = "env-retry", 1, "timeout"
	for _, x := range []slackfake.Envelope{env, env, retry} {
		if err := e.fake.Send(x); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := e.dm("U1", "bye")
	e.acked(last)
	asst.wait(e.ctx, t, "two replies", func() bool { return len(asst.replyErr) >= 2 })
	if err := e.stop(); err != nil { // waits for all handlers
		t.Fatal(err)
	}
	var texts []string
	for _, m := range asst.handledCopy() {
		texts = append(texts, m.Text)
	}
	slices.Sort(texts)
	if got := strings.Join(texts, ","); got != "bye,hello" {
		t.Errorf("handled %q, want each message once", got)
	}
	if n := e.fake.AckCount(env.ID); n != 2 {
		t.Errorf("duplicate envelope acked %d times, want every delivery acked (2)", n)
	}
	if _, ok := e.fake.Acked("env-retry"); !ok {
		t.Error("retry envelope not acked")
	}
	replies := 0
	for _, m := range e.fake.Messages() {
		if strings.Contains(m.AllText(), "*Echo:* hello") {
			replies++
		}
	}
	if replies != 1 {
		t.Errorf("%d replies to hello, want 1", replies)
	}
}

func TestIgnoredEvents(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	ignored := []slackfake.Event{
		{Type: "message", ChannelType: "im", Channel: "DU1", BotID: "B2", Text: "from another bot"},
		{Type: "message", ChannelType: "im", Channel: "DU1", User: slackfake.DefaultBotUserID, Text: "from myself"},
		{Type: "message", ChannelType: "im", Channel: "DU1", Subtype: "bot_message", Text: "bot message"},
		{Type: "message", ChannelType: "im", Channel: "DU1", Subtype: "message_changed", TS: "1.000001",
			Extra: map[string]any{"message": map[string]any{"user": "U1", "text": "edited", "ts": "1.000000"}}},
		{Type: "message", ChannelType: "im", Channel: "DU1", Subtype: "message_deleted", TS: "1.000002",
			Extra: map[string]any{"deleted_ts": "1.000000"}},
		{Type: "app_mention", Channel: "C1", User: "U1", Text: "<@UBOT> edited mention", Edited: true},
		{Type: "message", ChannelType: "channel", Channel: "C1", User: "U1", Text: "channel chatter"},
		{Type: "reaction_added", User: "U1"},
		{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", Text: "<@UBOT>"},
	}
	for _, ev := range ignored {
		env, err := e.fake.SendEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		e.acked(env)
	}
	last, _ := e.dm("U1", "real")
	e.acked(last)
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if h := asst.handledCopy(); len(h) != 1 || h[0].Text != "real" {
		t.Errorf("handled = %+v, want only the real message", h)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, func(_ *Config, f *slackfake.Server) {
		f.Inject("chat.postMessage", slackfake.Fault{Status: 429, RetryAfter: 1, Match: func(v url.Values) bool {
			return strings.Contains(v.Get("text"), "Echo")
		}})
	})
	e.connected(1)
	e.dm("U1", "hi")
	e.message("the answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Echo") })
	var limited, ok *slackfake.Call
	calls := e.fake.Calls("chat.postMessage")
	for i := range calls {
		if !strings.Contains(calls[i].Params.Get("text"), "Echo") {
			continue
		}
		if calls[i].Status == 429 {
			limited = &calls[i]
		} else if limited != nil && ok == nil {
			ok = &calls[i]
		}
	}
	if limited == nil || ok == nil {
		t.Fatalf("want a 429 then a success, calls: %+v", calls)
	}
	if gap := ok.At.Sub(limited.At); gap < time.Second {
		t.Errorf("retried after %v, before Retry-After (1s)", gap)
	}
}

func TestFailingPostIsRetriedThenLogged(t *testing.T) {
	asst := newFakeAssistant()
	isEcho := func(v url.Values) bool { return strings.Contains(v.Get("text"), "Echo:* first") }
	e := startAdapter(t, asst, func(c *Config, f *slackfake.Server) {
		c.MaxAttempts = 3
		for range 3 {
			f.Inject("chat.postMessage", slackfake.Fault{Status: 500, Match: isEcho})
		}
		// A transient failure on the second answer is retried and succeeds.
		f.Inject("chat.postMessage", slackfake.Fault{SlackError: "internal_error", Match: func(v url.Values) bool {
			return strings.Contains(v.Get("text"), "second")
		}})
	})
	e.connected(1)
	e.dm("U1", "first")
	asst.wait(e.ctx, t, "failed reply", func() bool { return len(asst.replyErr) == 1 })
	if asst.replyErr[0] == nil {
		t.Fatal("Reply reported success though every post failed")
	}
	if n := len(e.fake.Calls("chat.postMessage")); n < 4 { // status + 3 tries
		t.Errorf("chat.postMessage called %d times, want 3 tries of the answer", n)
	}
	if !strings.Contains(e.logs.String(), "slack reply not delivered") {
		t.Error("failed reply not logged")
	}
	// The conversation goes on.
	e.dm("U1", "second")
	e.message("second answer", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Echo:* second") })
	if got := e.fake.Calls("chat.postMessage"); got[len(got)-1].Status != 200 {
		t.Errorf("last call failed: %+v", got[len(got)-1])
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, func(_ *Config, f *slackfake.Server) {
		f.Inject("chat.postMessage", slackfake.Fault{SlackError: "channel_not_found", Match: func(v url.Values) bool {
			return strings.Contains(v.Get("text"), "Echo")
		}})
	})
	e.connected(1)
	e.dm("U1", "hi")
	asst.wait(e.ctx, t, "failed reply", func() bool { return len(asst.replyErr) == 1 })
	n := 0
	for _, c := range e.fake.Calls("chat.postMessage") {
		if strings.Contains(c.Params.Get("text"), "Echo") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("channel_not_found retried: %d calls", n)
	}
}

func TestReconnects(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	e.fake.DropConnection()
	e.connected(2)
	if err := e.fake.SendDisconnect(); err != nil {
		t.Fatal(err)
	}
	e.connected(3)
	env, _ := e.dm("U1", "still there?")
	e.acked(env)
	e.message("answer after reconnects", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "still there?") })
}

func TestUnparseableEnvelopeIsAcked(t *testing.T) {
	e := startAdapter(t, newFakeAssistant(), nil)
	e.connected(1)
	for _, env := range []slackfake.Envelope{
		{ID: "env-bad-1", Type: "events_api", Payload: []byte(`"not an object"`)},
		{ID: "env-bad-2", Type: "interactive", Payload: []byte(`{"type":"block_actions","actions":"x"}`)},
		{ID: "env-bad-3", Type: "events_api", Payload: []byte(`{"type":"event_callback","event":{"type":"message","channel_type":"im","user":"U1","channel":"D1","ts":"x","text":"hi"}}`)},
	} {
		if err := e.fake.Send(env); err != nil {
			t.Fatal(err)
		}
		e.acked(env)
	}
}

func TestLongAnswerIsSplit(t *testing.T) {
	var para strings.Builder
	for i := range 400 {
		para.WriteString("Paragraph line with some words number ")
		para.WriteString(strings.Repeat("x", i%7))
		para.WriteString(".\n")
		if i%10 == 9 {
			para.WriteString("\n")
		}
	}
	long := para.String() // ~16 000 characters
	asst := newFakeAssistant()
	e := startAdapter(t, asst, nil)
	e.connected(1)
	e.dm("U1", long)
	asst.wait(e.ctx, t, "reply", func() bool { return len(asst.replyErr) == 1 })
	if asst.replyErr[0] != nil {
		t.Fatalf("Reply: %v", asst.replyErr[0])
	}
	// The fake refuses sections over 3000 characters, so success means the
	// split held; check that nothing was lost.
	var got strings.Builder
	for _, m := range e.fake.Messages() {
		if m.User == slackfake.DefaultBotUserID {
			got.WriteString(slackfake.Message{Blocks: m.Blocks}.AllText())
		}
	}
	if n := strings.Count(got.String(), "Paragraph line"); n < 400 {
		t.Errorf("%d of 400 lines arrived", n)
	}
}

func TestPerUserLimit(t *testing.T) {
	asst := newFakeAssistant()
	e := startAdapter(t, asst, func(c *Config, _ *slackfake.Server) { c.MaxPerUser = 2 })
	e.connected(1)
	// Two questions wait on prompts; the third is turned away; others are served.
	e.dm("U1", "ask one")
	e.dm("U1", "ask two")
	asst.wait(e.ctx, t, "two prompts", func() bool { return len(asst.pending) == 2 })
	e.dm("U1", "ask three")
	e.message("please wait", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "still working on your earlier") })
	e.dm("U2", "hello")
	e.message("U2 served", func(m slackfake.Message) bool { return m.Channel == "DU2" && strings.Contains(m.AllText(), "Echo") })
	if n := len(asst.handledCopy()); n != 3 {
		t.Errorf("assistant handled %d messages, want 3", n)
	}
	// Once one finishes, U1 may ask again.
	// The fake assistant has both prompts before Slack has them posted:
	// wait for one to be there.
	e.click("U1", e.prompt("DU1"), chat.Deny)
	e.message("denial", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Denied.") })
	// The slot frees only after the answer is posted and the status
	// cleared; wait for that (not for a number of tries), then U1 is
	// served at once.
	e.waitInFlight(asst.handledCopy()[0].User, 1)
	e.dm("U1", "again")
	e.message("answer to again", func(m slackfake.Message) bool { return strings.Contains(m.AllText(), "Echo:* again") })
	if n := len(e.botMessagesWith("still working on your earlier")); n != 1 {
		t.Errorf("turned away %d times, want 1 (only the third question)", n)
	}
}

// waitInFlight waits until at most n of user's messages are being answered,
// woken by each change of the count rather than by a number of tries.
func (e *env) waitInFlight(user ids.UserID, n int) {
	e.t.Helper()
	for {
		e.a.mu.Lock()
		busy, changed := e.a.busy[user], e.a.freed
		e.a.mu.Unlock()
		if busy <= n {
			return
		}
		select {
		case <-changed:
		case <-e.ctx.Done():
			e.t.Fatalf("%s still has %d messages in flight, want at most %d", user, busy, n)
		}
	}
}

func (e *env) botMessagesWith(s string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range e.fake.Messages() {
		if m.User == slackfake.DefaultBotUserID && strings.Contains(m.AllText(), s) {
			out = append(out, m)
		}
	}
	return out
}

// A prompt decided (or expired) before chat.postMessage returned is updated
// as soon as its ts is known.
func TestResolveBeforePostReturns(t *testing.T) {
	e := startAdapter(t, newFakeAssistant(), nil)
	e.connected(1)
	p := chat.Prompt{ID: "p-early", Nonce: "n", User: "slack:T0FAKE/U1", Kind: chat.KindExec, Target: "quick_ride"}
	c := &conversation{a: e.a, channel: "DU1", user: "U1"}
	e.a.remember(&shownPrompt{p: p, channel: "DU1", postedAt: time.Now()})
	if err := c.Resolved(e.ctx, p, chat.Deny, "", true); err != nil {
		t.Fatal(err)
	}
	blocks, err := promptBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.post(e.ctx, "post", slackgo.MsgOptionBlocks(blocks...))
	if err != nil {
		t.Fatal(err)
	}
	e.a.posted(e.ctx, p.ID, ts)
	m, _ := e.fake.Message("DU1", ts)
	if m.Updates != 1 || !strings.Contains(m.AllText(), "Expired") || len(m.Buttons()) != 0 {
		t.Errorf("prompt not updated after a resolution that came first: %s", m.AllText())
	}
	e.a.mu.Lock()
	n := len(e.a.shown)
	e.a.mu.Unlock()
	if n != 0 {
		t.Errorf("%d prompts still remembered", n)
	}
}
