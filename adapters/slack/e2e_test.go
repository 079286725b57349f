package slack

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// The whole stack: slack-go's real client against the local Slack fake,
// this adapter, the real hub with the offline model and a bolt store, and
// the apps' own code in in-process spokes (what the adapter sees of a turn
// does not depend on how spokes are confined; cli's TestCLI runs the
// binary with sandboxed ones). Main keeps Sandboxed usable here.
func TestMain(m *testing.M) { hubtest.Main(m) }

const rideQuery = "quick_ride fare from 'Main Street' to 'Elm Avenue'"

// countingAssistant counts Handle calls on the way to the hub.
type countingAssistant struct {
	chat.Assistant
	handles atomic.Int32
}

func (c *countingAssistant) Handle(ctx context.Context, m chat.Message, conv chat.Conversation) {
	c.handles.Add(1)
	c.Assistant.Handle(ctx, m, conv)
}

func startStack(t *testing.T, o hubtest.Options, tweak func(*Config, *slackfake.Server)) (*env, *countingAssistant) {
	t.Helper()
	if o.Apps == nil {
		o.Apps = []ids.AppID{"quick_ride"}
	}
	h := hubtest.New(t, o)
	ca := &countingAssistant{Assistant: h}
	e := startAdapter(t, ca, tweak)
	e.connected(1)
	return e, ca
}

// answer waits for a bot message in channel whose text contains want.
func (e *env) answer(channel, want string) slackfake.Message {
	e.t.Helper()
	return e.message("answer containing "+want, func(m slackfake.Message) bool {
		return m.Channel == channel && len(m.Buttons()) == 0 && strings.Contains(m.AllText(), want)
	})
}

func (e *env) botMessages(channel, containing string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range e.fake.Messages() {
		if m.User == slackfake.DefaultBotUserID && !m.Ephemeral && m.Channel == channel && strings.Contains(m.AllText(), containing) {
			out = append(out, m)
		}
	}
	return out
}

func (e *env) resolvedPrompt(p slackfake.Message) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitMessage(e.ctx, "prompt update", func(m slackfake.Message) bool { return m.TS == p.TS && m.Updates > 0 })
	if err != nil {
		e.t.Fatal(err)
	}
	if len(m.Buttons()) != 0 {
		e.t.Errorf("resolved prompt still has buttons: %+v", m.Buttons())
	}
	return m
}

func TestE2EAllowOnce(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{}, nil)
	e.dm("U1", rideQuery)
	prompt := e.prompt("DU1")
	if n := len(prompt.Buttons()); n != 5 {
		t.Fatalf("plan prompt has %d buttons, want 5 (the fifth: review steps one by one)", n)
	}
	if !strings.Contains(prompt.AllText(), "quick_ride") || !strings.Contains(prompt.AllText(), "<@U1>") {
		t.Errorf("prompt does not say who is asked for what:\n%s", prompt.AllText())
	}
	e.click("U1", prompt, chat.AllowOnce)
	e.answer("DU1", "$57.00")
	if got := e.resolvedPrompt(prompt).AllText(); !strings.Contains(got, "Allowed once") || !strings.Contains(got, "<@U1>") {
		t.Errorf("prompt update does not show the decision and who made it:\n%s", got)
	}
	// The status message was shown while working, named the app being
	// run, and is removed after.
	if _, err := e.fake.WaitMessage(e.ctx, "status removed", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "Running app quick_ride") && m.Deleted
	}); err != nil {
		t.Fatal(err)
	}
}

func TestE2EClickByAnotherUserRefused(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{}, nil)
	env, _, ts := e.fake.NewEventEnvelope(slackfake.Event{Type: "app_mention", Channel: "C1", User: "U1",
		Text: "<@" + slackfake.DefaultBotUserID + "> " + rideQuery})
	if err := e.fake.Send(env); err != nil {
		t.Fatal(err)
	}
	prompt := e.prompt("C1")
	if prompt.ThreadTS != ts {
		t.Errorf("prompt not in the mention's thread")
	}
	e.click("U2", prompt, chat.AllowAlways)
	if _, err := e.fake.WaitMessage(e.ctx, "refusal", func(m slackfake.Message) bool {
		return m.Ephemeral && m.EphemeralUser == "U2"
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: the prompt still has its buttons and no answer came.
	if got, _ := e.fake.Message("C1", prompt.TS); got.Updates != 0 || len(got.Buttons()) != 5 {
		t.Errorf("prompt changed after a stranger's click")
	}
	if ms := e.botMessages("C1", "$57.00"); len(ms) != 0 {
		t.Fatalf("query answered after a stranger's click: %+v", ms)
	}
	// The query is still waiting for U1.
	e.click("U1", prompt, chat.AllowOnce)
	if m := e.answer("C1", "$57.00"); m.ThreadTS != ts {
		t.Errorf("answer not in the thread")
	}
}

func TestE2EAlwaysAllowIsRemembered(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{}, nil)
	e.dm("U1", rideQuery)
	e.click("U1", e.prompt("DU1"), chat.AllowAlways)
	first := e.answer("DU1", "$57.00")
	e.dm("U1", rideQuery)
	e.message("second answer", func(m slackfake.Message) bool {
		return m.Channel == "DU1" && m.TS != first.TS && strings.Contains(m.AllText(), "$57.00")
	})
	if n := len(e.botMessages("DU1", "Permission request")); n != 1 {
		t.Errorf("%d prompts for U1, want 1 (the grant is remembered)", n)
	}
	// Grants are per Slack user: U2 is still asked.
	e.dm("U2", rideQuery)
	e.prompt("DU2")
}

func TestE2EDenyAsksToReplan(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{}, nil)
	e.dm("U1", rideQuery)
	prompt := e.prompt("DU1")
	e.click("U1", prompt, chat.Deny)
	// No other installed app fits, so no replan is offered
	// (core/hub TestReplanOfferedOnlyWhereOneExists).
	e.answer("DU1", "no other plan without them")
	if got := e.resolvedPrompt(prompt).AllText(); !strings.Contains(got, "Denied") {
		t.Errorf("prompt update: %s", got)
	}
}

func TestE2EPromptExpires(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{PromptTimeout: 300 * time.Millisecond}, nil)
	e.dm("U1", rideQuery)
	prompt := e.prompt("DU1")
	if got := e.resolvedPrompt(prompt).AllText(); !strings.Contains(got, "Expired") {
		t.Errorf("expired prompt: %s", got)
	}
}

func TestE2EDuplicateEnvelopeProcessedOnce(t *testing.T) {
	e, ca := startStack(t, hubtest.Options{}, nil)
	env, _, _ := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "DU1", User: "U1", Text: rideQuery})
	retry := env
	retry.ID, retry.RetryAttempt, retry.RetryReason = "env-retry", 1, "timeout"
	for _, x := range []slackfake.Envelope{env, env, retry} {
		if err := e.fake.Send(x); err != nil {
			t.Fatal(err)
		}
	}
	e.click("U1", e.prompt("DU1"), chat.AllowOnce)
	e.answer("DU1", "$57.00")
	last, _ := e.dm("U1", "!help")
	e.acked(last)
	e.answer("DU1", "new")
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	if n := ca.handles.Load(); n != 2 {
		t.Errorf("hub handled %d messages, want 2 (the query once, then !help)", n)
	}
	if n := len(e.botMessages("DU1", "Permission request")); n != 1 {
		t.Errorf("%d prompts, want 1", n)
	}
	if n := len(e.botMessages("DU1", "$57.00")); n != 1 {
		t.Errorf("%d answers, want 1", n)
	}
}

func TestE2ERateLimitedAnswerIsRetried(t *testing.T) {
	e, _ := startStack(t, hubtest.Options{}, func(_ *Config, f *slackfake.Server) {
		f.Inject("chat.postMessage", slackfake.Fault{Status: 429, RetryAfter: 1, Match: func(v url.Values) bool {
			return strings.Contains(v.Get("text"), "57.00")
		}})
	})
	e.dm("U1", rideQuery)
	e.click("U1", e.prompt("DU1"), chat.AllowOnce)
	e.answer("DU1", "$57.00")
	var limited, ok time.Time
	for _, c := range e.fake.Calls("chat.postMessage") {
		if !strings.Contains(c.Params.Get("text"), "57.00") {
			continue
		}
		if c.Status == 429 {
			limited = c.At
		} else if !limited.IsZero() && ok.IsZero() {
			ok = c.At
		}
	}
	if limited.IsZero() || ok.IsZero() {
		t.Fatal("want a 429 and then a successful post of the answer")
	}
	if gap := ok.Sub(limited); gap < time.Second {
		t.Errorf("retried after %v, before Retry-After (1s)", gap)
	}
}
