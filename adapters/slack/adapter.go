package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Adapter connects one Slack app (one bot token, one app-level token) to a
// chat.Assistant over Socket Mode.
type Adapter struct {
	cfg  Config
	asst chat.Assistant
	log  *slog.Logger
	api  *slack.Client
	sm   *socketmode.Client

	// botUser is the bot's own user id, set by Run from auth.test before
	// any event is handled.
	botUser string

	// noNativeStream is set once Slack said this workspace cannot stream
	// (chat.startStream unknown or not allowed); replies then edit.
	noNativeStream atomic.Bool

	envelopes *seenSet // envelope ids already taken
	events    *seenSet // event ids and channel/ts of messages already taken

	mu sync.Mutex // guards all following fields
	// shown holds the prompts this adapter posted and not yet resolved.
	shown map[ids.PromptID]*shownPrompt
	// busy counts each user's messages being answered.
	busy map[ids.UserID]int
	// freed is closed and replaced when a busy count drops, so a test can
	// wait for a slot to free instead of retrying on a timer.
	freed chan struct{}

	wg sync.WaitGroup // handler goroutines
}

// shownPrompt is a posted prompt: where it is and whether it was resolved.
type shownPrompt struct {
	p       chat.Prompt
	channel string
	// ts is "" until chat.postMessage returns.
	ts       string
	resolved bool
	// early holds an outcome that came before ts was known; posted applies it.
	early    *outcomeOf
	postedAt time.Time
}

type outcomeOf struct {
	d       chat.Decision
	by      ids.UserID
	expired bool
}

// New checks cfg (token presence and kind, no network) and builds an
// adapter that will hand messages to a. Call Run to connect.
func New(cfg Config, a chat.Assistant, logger *slog.Logger) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("slack adapter: nil assistant")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	opts := []slack.Option{
		slack.OptionHTTPClient(cfg.HTTPClient),
		slack.OptionAppLevelToken(cfg.AppToken),
		slack.OptionLog(log.New(io.Discard, "", 0)),
	}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	api := slack.New(cfg.BotToken, opts...)
	sm := socketmode.New(api,
		socketmode.OptionPingInterval(cfg.PingInterval),
		socketmode.OptionReadLimit(maxPayload+64<<10),
		socketmode.OptionLog(log.New(io.Discard, "", 0)))
	return &Adapter{
		cfg:       cfg,
		asst:      a,
		log:       logger.With("adapter", "slack"),
		api:       api,
		sm:        sm,
		envelopes: newSeenSet(cfg.DedupSize),
		events:    newSeenSet(cfg.DedupSize),
		shown:     map[ids.PromptID]*shownPrompt{},
		busy:      map[ids.UserID]int{},
		freed:     make(chan struct{}),
	}, nil
}

// Run checks the bot token with auth.test, then serves Socket Mode until ctx
// ends, reconnecting forever after network failures. It returns nil when ctx
// is cancelled (after in-flight messages have wound down) and an error
// wrapping ErrFatalAuth when Slack rejects a token. Call it once.
func (a *Adapter) Run(ctx context.Context) error {
	if err := a.authTest(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fatal := make(chan error, 1)
	go func() { fatal <- a.runSocket(ctx) }()
	var err error
	socketDone := false
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-fatal:
			socketDone = true
			break loop
		case evt := <-a.sm.Events:
			a.dispatch(ctx, evt)
		}
	}
	cancel()
	if !socketDone {
		<-fatal // the socket goroutine honours ctx; don't leave it behind
	}
	a.wg.Wait()
	return err
}

// authTest learns the bot's identity. Bad tokens are fatal; network errors
// are retried with backoff until ctx ends.
func (a *Adapter) authTest(ctx context.Context) error {
	backoff := a.cfg.RetryBackoff
	for {
		resp, err := a.api.AuthTestContext(ctx)
		if err == nil {
			a.botUser = resp.UserID
			a.log.Info("slack bot authenticated", "team", resp.Team, "team_id", resp.TeamID, "bot_user", resp.UserID)
			return nil
		}
		if isFatalAuth(err) {
			return fmt.Errorf("%w: %w", ErrFatalAuth, &TokenError{Token: "bot token", Env: EnvBotToken,
				Reason: "auth.test failed with " + slackCode(err) + "; copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions, and reinstall the app if it was revoked"})
		}
		if code := slackCode(err); code != "" && !transientCodes[code] {
			return fmt.Errorf("slack auth.test: %w", err)
		}
		wait, _, limited := retryDelay(err)
		if !limited {
			wait = backoff
			backoff = min(2*backoff, a.cfg.MaxBackoff)
		}
		a.log.Warn("slack auth.test failed, retrying", "err", err, "in", wait)
		if sleep(ctx, wait) != nil {
			return ctx.Err()
		}
	}
}

// runSocket keeps a Socket Mode connection up until ctx ends. slack-go's
// RunContext reconnects on its own after disconnects and retries failed
// connection attempts, but returns on errors it deems final; only rejected
// tokens are final here.
func (a *Adapter) runSocket(ctx context.Context) error {
	backoff := a.cfg.RetryBackoff
	for {
		err := a.sm.RunContext(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if isFatalAuth(err) {
			return fmt.Errorf("%w: %w", ErrFatalAuth, &TokenError{Token: "app-level token", Env: EnvAppToken,
				Reason: "apps.connections.open failed with " + slackCode(err) + "; create an app-level token with the connections:write scope under Basic Information and check that Socket Mode is on"})
		}
		a.log.Warn("slack socket mode stopped, reconnecting", "err", err, "in", backoff)
		if sleep(ctx, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

// dispatch handles one socketmode event. It runs on the Run goroutine and
// must not block: envelopes are acked first, then work moves to goroutines.
func (a *Adapter) dispatch(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.Debug("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			a.log.Warn("slack socket mode connection failed", "err", e.ErrorObj, "attempt", e.Attempt, "retry_in", e.Backoff)
		}
	case socketmode.EventTypeIncomingError:
		a.log.Warn("slack socket mode read error", "data", evt.Data)
	case socketmode.EventTypeErrorBadMessage:
		// slack-go could not parse it, so it never reached a handler; still
		// ack it, or Slack redelivers it forever.
		if e, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			a.log.Warn("slack sent a message we cannot parse", "err", e.Cause)
			if id := envelopeID(e.Message); id != "" {
				a.ack(ctx, socketmode.Request{EnvelopeID: id})
			}
		}
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		a.ack(ctx, *evt.Request)
		if !a.envelopes.first(evt.Request.EnvelopeID) {
			a.log.Debug("slack duplicate envelope dropped", "envelope", evt.Request.EnvelopeID)
			return
		}
		a.onEvent(ctx, evt.Request.Payload, evt.Request.RetryAttempt)
	case socketmode.EventTypeInteractive:
		if evt.Request == nil {
			return
		}
		a.ack(ctx, *evt.Request)
		if !a.envelopes.first(evt.Request.EnvelopeID) {
			a.log.Debug("slack duplicate envelope dropped", "envelope", evt.Request.EnvelopeID)
			return
		}
		a.onInteractive(ctx, evt.Request.Payload)
	case socketmode.EventTypeSlashCommand:
		if evt.Request == nil {
			return
		}
		a.ack(ctx, *evt.Request)
		if !a.envelopes.first(evt.Request.EnvelopeID) {
			return
		}
		a.onSlash(ctx, evt.Request.Payload)
	}
}

func (a *Adapter) ack(ctx context.Context, req socketmode.Request) {
	if req.EnvelopeID == "" {
		return
	}
	if err := a.sm.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		a.log.Warn("slack ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}

func (a *Adapter) onEvent(ctx context.Context, payload []byte, retry int) {
	if a.onSurfaceEvent(ctx, payload) {
		return
	}
	in, err := decodeEvent(payload, a.botUser)
	if errors.Is(err, errIgnored) {
		a.log.Debug("slack event ignored", "why", err)
		return
	}
	if err != nil {
		a.log.Warn("slack event refused", "err", err)
		return
	}
	if in.Followup && in.ParentUser != a.botUser && !a.threadMarked(ctx, markThread, in.Channel, in.ThreadTS) {
		a.log.Debug("slack thread message ignored: not a thread the bot is part of", "channel", in.Channel)
		return
	}
	// The same message can arrive as a retry (same event id) or, in rare
	// cases, through two event types (same channel and ts).
	if !a.events.first("ev:"+in.EventID) || !a.events.first("msg:"+in.Channel+"/"+in.TS) {
		a.log.Debug("slack duplicate event dropped", "event", in.EventID, "retry", retry)
		return
	}
	thread := in.ThreadTS
	if !in.DM && thread == "" {
		thread = in.TS // mentions in channels are answered in a thread
	}
	if !in.DM {
		a.markThread(ctx, markThread, in.Channel, thread)
	}
	m := chat.Message{
		User:         UserID(in.Team, in.User),
		Conversation: conversationID(in.Team, in.Channel, thread),
		Text:         in.Text,
		EventID:      "slack:" + in.EventID,
	}
	if in.EventID == "" {
		m.EventID = "slack:" + in.Channel + "/" + in.TS
	}
	c := &conversation{a: a, channel: in.Channel, thread: thread, user: in.User, team: in.Team}
	a.mu.Lock()
	busy := a.busy[m.User] >= a.cfg.MaxPerUser
	if !busy {
		a.busy[m.User]++
	}
	a.mu.Unlock()
	if busy {
		// One person's flood must not occupy the hub for everyone else.
		a.log.Warn("slack message refused: too many in flight for this user", "user", m.User)
		a.wg.Go(func() {
			_ = c.Reply(ctx, "I'm still working on your earlier messages; please wait for those answers first.")
		})
		return
	}
	c.feedback = true
	a.wg.Go(func() {
		defer func() {
			a.mu.Lock()
			if a.busy[m.User]--; a.busy[m.User] <= 0 {
				delete(a.busy, m.User)
			}
			close(a.freed)
			a.freed = make(chan struct{})
			a.mu.Unlock()
		}()
		if c.assistant = a.threadMarked(ctx, markAssistant, in.Channel, thread); c.assistant {
			a.titleThread(ctx, in.Channel, thread, in.Text)
		}
		c.startWorking(ctx)
		a.asst.Handle(ctx, m, c)
		// The status message goes even when ctx ended (shutdown).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.clearStatus(cctx)
	})
}

func (a *Adapter) onInteractive(ctx context.Context, payload []byte) {
	if h, ok := decodeHomeAction(payload); ok {
		a.wg.Go(func() { a.onHomeAction(ctx, h) })
		return
	}
	switch f, ok, err := decodeFeedback(payload); {
	case err != nil:
		a.log.Warn("slack feedback refused", "err", err)
		return
	case ok:
		a.wg.Go(func() { a.onFeedback(ctx, f) })
		return
	}
	clicks, err := decodeClicks(payload)
	if errors.Is(err, errIgnored) {
		a.log.Debug("slack interaction ignored", "why", err)
		return
	}
	if err != nil {
		a.log.Warn("slack interaction refused", "err", err)
		return
	}
	for _, cl := range clicks {
		a.wg.Go(func() { a.onClick(ctx, cl) })
	}
}

// onClick delivers a button press. The hub decides whether it counts; the
// adapter also refuses clicks on prompts it knows belong to someone else,
// so a stranger's click never reaches the hub at all.
func (a *Adapter) onClick(ctx context.Context, cl click) {
	by := UserID(cl.Team, cl.User)
	a.mu.Lock()
	sp := a.shown[cl.Prompt]
	var p chat.Prompt
	if sp != nil {
		p = sp.p
	}
	a.mu.Unlock()
	if sp != nil && p.User != by {
		a.log.Info("slack permission click refused: not the asked user", "prompt", cl.Prompt, "by", by)
		a.ephemeral(ctx, cl, "This permission request is for "+mention(p.User)+"; only they can answer it. Nothing was changed.")
		return
	}
	err := a.asst.Answer(ctx, chat.Answer{Prompt: cl.Prompt, Nonce: cl.Nonce, User: by, Decision: cl.Decision})
	switch {
	case err == nil:
		a.log.Info("slack permission answered", "prompt", cl.Prompt, "decision", cl.Decision, "by", by)
		if sp != nil {
			a.resolve(ctx, p, cl.Decision, by, false)
		}
	case errors.Is(err, chat.ErrNotYours):
		a.log.Info("slack permission click refused by the hub: not the asked user", "prompt", cl.Prompt, "by", by)
		a.ephemeral(ctx, cl, "This permission request is for someone else; only they can answer it. Nothing was changed.")
	case errors.Is(err, chat.ErrUnknownPrompt):
		a.ephemeral(ctx, cl, "This permission request is no longer waiting (already answered or expired).")
	case errors.Is(err, chat.ErrAskAgain):
		// The replica whose query asked is gone; the choice was stored.
		a.ephemeral(ctx, cl, "Your choice was saved, but the assistant restarted while waiting for it. Please send your request again.")
		if sp != nil {
			a.resolve(ctx, p, cl.Decision, by, false)
		}
	default:
		a.log.Error("slack permission answer failed", "prompt", cl.Prompt, "err", err)
		a.ephemeral(ctx, cl, "Sorry, your answer could not be recorded. Please try again.")
	}
}

func (a *Adapter) ephemeral(ctx context.Context, cl click, text string) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	err := a.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := a.api.PostEphemeralContext(ctx, cl.Channel, cl.User, opts...)
		return err
	})
	if err != nil {
		a.log.Error("slack ephemeral message failed", "err", err)
	}
}

// resolve updates a shown prompt's message once: the decision and who made
// it (or that it expired), buttons removed. It is called both after a
// successful click and from Conversation.Resolved; the second call is a
// no-op.
func (a *Adapter) resolve(ctx context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	a.mu.Lock()
	sp := a.shown[p.ID]
	if sp == nil || sp.resolved {
		a.mu.Unlock()
		return nil
	}
	sp.resolved = true
	channel, ts := sp.channel, sp.ts
	if ts == "" {
		// Decided before chat.postMessage returned: posted will update it.
		sp.early = &outcomeOf{d: d, by: by, expired: expired}
		a.mu.Unlock()
		return nil
	}
	delete(a.shown, p.ID)
	a.mu.Unlock()
	return a.update(ctx, p, channel, ts, d, by, expired)
}

// update rewrites a prompt's message with its outcome.
func (a *Adapter) update(ctx context.Context, p chat.Prompt, channel, ts string, d chat.Decision, by ids.UserID, expired bool) error {
	blocks := resolvedBlocks(p, d, by, expired)
	text := escape(chat.PromptTitle(p) + " " + plainOutcome(d, expired))
	err := a.call(ctx, "chat.update prompt", func(ctx context.Context) error {
		_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		a.log.Error("slack prompt update failed", "prompt", p.ID, "err", err)
	}
	return err
}

func plainOutcome(d chat.Decision, expired bool) string {
	if expired {
		return "(expired: denied)"
	}
	return "(" + d.Label() + ")"
}

// remember records a prompt about to be posted (so a click that races
// the post is still checked against the asked user) and forgets prompts
// long past expiry (their conversation never called Resolved).
func (a *Adapter) remember(sp *shownPrompt) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, old := range a.shown {
		limit := old.postedAt.Add(24 * time.Hour)
		if !old.p.ExpiresAt.IsZero() {
			limit = old.p.ExpiresAt.Add(time.Hour)
		}
		if time.Now().After(limit) {
			delete(a.shown, id)
		}
	}
	a.shown[sp.p.ID] = sp
}

// posted records where a remembered prompt landed, or forgets it when the
// post failed (ts == "").
func (a *Adapter) posted(ctx context.Context, id ids.PromptID, ts string) {
	a.mu.Lock()
	sp := a.shown[id]
	if sp == nil {
		a.mu.Unlock()
		return
	}
	if ts == "" || sp.early != nil {
		delete(a.shown, id)
	}
	sp.ts = ts
	early := sp.early
	a.mu.Unlock()
	if early != nil && ts != "" {
		_ = a.update(ctx, sp.p, sp.channel, ts, early.d, early.by, early.expired)
	}
}
