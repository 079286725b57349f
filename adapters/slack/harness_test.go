package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// fakeAssistant is a small stand-in for the hub with the same contract:
// Handle blocks until the answer is posted, asks permission for messages
// starting with "ask", and Answer refuses strangers and stale nonces.
type fakeAssistant struct {
	// timeout is how long a prompt waits before it expires to Deny.
	timeout time.Duration

	mu       sync.Mutex // guards all following fields
	handled  []chat.Message
	answers  []chat.Answer
	pending  map[ids.PromptID]*pendingPrompt
	always   map[ids.UserID]bool
	replyErr []error
	// changed is closed and replaced when anything above changes.
	changed chan struct{}
}

type pendingPrompt struct {
	p  chat.Prompt
	ch chan chat.Answer
}

func newFakeAssistant() *fakeAssistant {
	return &fakeAssistant{timeout: time.Minute, pending: map[ids.PromptID]*pendingPrompt{},
		always: map[ids.UserID]bool{}, changed: make(chan struct{})}
}

func (f *fakeAssistant) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fakeAssistant) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	f.mu.Lock()
	f.handled = append(f.handled, m)
	f.notifyLocked()
	always := f.always[m.User]
	f.mu.Unlock()

	reply := func(text string) {
		err := c.Reply(ctx, text)
		f.mu.Lock()
		f.replyErr = append(f.replyErr, err)
		f.notifyLocked()
		f.mu.Unlock()
	}
	if !strings.HasPrefix(m.Text, "ask") || always {
		reply("**Echo:** " + m.Text)
		return
	}
	p := chat.Prompt{ID: ids.PromptID("p" + randHex(4)), Nonce: randHex(16), User: m.User, Conversation: m.Conversation,
		Kind: chat.KindCollab, Requester: "quick_ride", Target: "metro_hail", Function: "book",
		Data: "pickup: 1 Main St\ndropoff: <!channel> *airport*", Unplanned: strings.Contains(m.Text, "unplanned"),
		Reason: "compare prices", ExpiresAt: time.Now().Add(f.timeout)}
	pp := &pendingPrompt{p: p, ch: make(chan chat.Answer, 1)}
	f.mu.Lock()
	f.pending[p.ID] = pp
	f.notifyLocked()
	f.mu.Unlock()
	if err := c.Prompt(ctx, p); err != nil {
		reply("could not ask: " + err.Error())
		return
	}
	rc, _ := c.(chat.ResolvingConversation)
	t := time.NewTimer(f.timeout)
	defer t.Stop()
	select {
	case a := <-pp.ch:
		if rc != nil {
			_ = rc.Resolved(ctx, p, a.Decision, a.User, false)
		}
		if a.Decision == chat.AllowAlways {
			f.mu.Lock()
			f.always[m.User] = true
			f.mu.Unlock()
		}
		if a.Decision.Allows() {
			reply("Booked: **" + string(a.Decision) + "**")
		} else {
			reply("Denied. Shall I find another way?")
		}
	case <-t.C:
		f.mu.Lock()
		delete(f.pending, p.ID)
		f.notifyLocked()
		f.mu.Unlock()
		if rc != nil {
			_ = rc.Resolved(ctx, p, chat.Deny, "", true)
		}
		reply("The request expired, so it was denied.")
	case <-ctx.Done():
	}
}

func (f *fakeAssistant) Answer(_ context.Context, a chat.Answer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, a)
	f.notifyLocked()
	pp := f.pending[a.Prompt]
	if pp == nil || pp.p.Nonce != a.Nonce {
		return chat.ErrUnknownPrompt
	}
	if pp.p.User != a.User {
		return chat.ErrNotYours
	}
	delete(f.pending, a.Prompt)
	pp.ch <- a
	return nil
}

// wait blocks until cond (run with f.mu held) holds or ctx ends.
func (f *fakeAssistant) wait(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

func (f *fakeAssistant) handledCopy() []chat.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chat.Message(nil), f.handled...)
}

func (f *fakeAssistant) answersCopy() []chat.Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chat.Answer(nil), f.answers...)
}

// env is one running adapter against one fake Slack.
type env struct {
	t    *testing.T
	ctx  context.Context
	fake *slackfake.Server
	a    *Adapter
	stop func() error
	wait func() error
	logs *logBuffer
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAdapter runs an adapter for asst against a fresh fake; the returned
// stop cancels Run and returns its error (also done at cleanup).
func startAdapter(t *testing.T, asst chat.Assistant, tweak func(*Config, *slackfake.Server)) *env {
	t.Helper()
	fake := slackfake.New(slackfake.Options{PingInterval: 500 * time.Millisecond})
	t.Cleanup(fake.Close)
	return startAdapterOn(t, fake, asst, tweak)
}

// startAdapterOn runs an adapter against an existing fake, as a second
// replica (the fake sends envelopes to the newest connection) or as the
// process after a restart.
func startAdapterOn(t *testing.T, fake *slackfake.Server, asst chat.Assistant, tweak func(*Config, *slackfake.Server)) *env {
	t.Helper()
	cfg := Config{BotToken: slackfake.DefaultBotToken, AppToken: slackfake.DefaultAppToken, APIURL: fake.APIURL(),
		RetryBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg, fake)
	}
	logs := &logBuffer{}
	a, err := New(cfg, asst, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	runCtx, stopRun := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- a.Run(runCtx) }()
	var once sync.Once
	var runErr error
	wait := func() error {
		once.Do(func() { runErr = <-errc })
		return runErr
	}
	stop := func() error {
		stopRun()
		return wait()
	}
	t.Cleanup(func() {
		if err := stop(); err != nil && !errors.Is(err, ErrFatalAuth) {
			t.Errorf("Run: %v", err)
		}
		cancel()
		if t.Failed() {
			t.Logf("adapter log:\n%s", logs.String())
		}
	})
	return &env{t: t, ctx: ctx, fake: fake, a: a, stop: stop, wait: wait, logs: logs}
}

func (e *env) connected(n int) {
	e.t.Helper()
	if err := e.fake.WaitConnected(e.ctx, n); err != nil {
		e.t.Fatal(err)
	}
}

// dm sends a direct message from user and returns its envelope and ts.
func (e *env) dm(user, text string) (slackfake.Envelope, string) {
	e.t.Helper()
	env, _, ts := e.fake.NewEventEnvelope(slackfake.Event{Type: "message", ChannelType: "im", Channel: "D" + user, User: user, Text: text})
	if err := e.fake.Send(env); err != nil {
		e.t.Fatal(err)
	}
	return env, ts
}

// message waits for a bot message matching pred.
func (e *env) message(what string, pred func(slackfake.Message) bool) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitMessage(e.ctx, what, func(m slackfake.Message) bool {
		return m.User == slackfake.DefaultBotUserID && !m.Ephemeral && pred(m)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) prompt(channel string) slackfake.Message {
	e.t.Helper()
	return e.message("a prompt in "+channel, func(m slackfake.Message) bool {
		return m.Channel == channel && len(m.Buttons()) > 0
	})
}

func (e *env) click(user string, prompt slackfake.Message, d chat.Decision) slackfake.Envelope {
	e.t.Helper()
	for _, b := range prompt.Buttons() {
		if b.ActionID == actionPrefix+string(d) {
			env, err := e.fake.SendClick(slackfake.Click{User: user, Channel: prompt.Channel, MessageTS: prompt.TS, Button: b})
			if err != nil {
				e.t.Fatal(err)
			}
			return env
		}
	}
	e.t.Fatalf("prompt has no %s button: %+v", d, prompt.Buttons())
	return slackfake.Envelope{}
}

func (e *env) acked(env slackfake.Envelope) {
	e.t.Helper()
	if err := e.fake.WaitAck(e.ctx, env.ID); err != nil {
		e.t.Fatal(err)
	}
}
