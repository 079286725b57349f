package matrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// platform is the prefix of every UserID and ConversationID this adapter makes.
const platform = "matrix:"

// Adapter connects one Matrix bot account to a chat.Assistant.
type Adapter struct {
	cfg   Config
	asst  chat.Assistant
	log   *slog.Logger
	store *sessionStore
	// pending keeps the prompts on screen across restarts.
	pending *promptStore
	seen    *seenSet
	ready   chan struct{}

	// Set once by Run before syncing starts; read-only afterwards.
	cli         *mautrix.Client
	runCtx      context.Context
	displayName string
	e2ee        io.Closer
	// verify handles emoji verification of the bot's device (nil without
	// encryption).
	verify verifyAnswerer
	// threadRel names the relation of threads the bot starts.
	threadRel event.RelationType

	readyOnce    sync.Once
	syncFailures atomic.Int32
	handlers     sync.WaitGroup

	mu sync.Mutex // guards all following fields
	// prompts are the permission prompts shown and not yet resolved, by the
	// event ID of the prompt message.
	prompts map[id.EventID]*shownPrompt
	// promptEvents maps a prompt to the event that shows it.
	promptEvents map[ids.PromptID]id.EventID
	// members caches member counts (joined or invited) (DM detection); member events clear it.
	members map[id.RoomID]int
	// told is when each notice about unreadable messages was last posted,
	// by key (a room, or a room and sender); see tellAgain.
	told map[string]time.Time
	// reactions are the choice reactions the bot put under each shown
	// prompt, removed once it is decided.
	reactions map[ids.PromptID][]id.EventID
}

// New checks cfg and opens the adapter's state directory. It does no network
// I/O; Run logs in. log may be nil.
func New(cfg Config, a chat.Assistant, log *slog.Logger) (*Adapter, error) {
	if a == nil {
		return nil, errors.New("matrix adapter: assistant is nil")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("matrix config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	st, err := openSessionStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	pending, err := openPromptStore(cfg.StateDir)
	if err != nil {
		if pending == nil {
			return nil, err
		}
		log.Warn("matrix prompts file unreadable", "err", err)
	}
	return &Adapter{
		pending:      pending,
		cfg:          cfg,
		asst:         a,
		log:          log.With("adapter", "matrix"),
		store:        st,
		seen:         newSeenSet(4096),
		ready:        make(chan struct{}),
		prompts:      make(map[id.EventID]*shownPrompt),
		promptEvents: make(map[ids.PromptID]id.EventID),
		members:      make(map[id.RoomID]int),
		told:         make(map[string]time.Time),
		reactions:    make(map[ids.PromptID][]id.EventID),
	}, nil
}

// Ready is closed once the bot is logged in and its first sync is processed.
func (a *Adapter) Ready() <-chan struct{} { return a.ready }

// Session reports the bot's user and device once Run has logged in.
func (a *Adapter) Session() (id.UserID, id.DeviceID) {
	s := a.store.get()
	return s.UserID, s.DeviceID
}

// Run logs in, then syncs and answers until ctx ends or the homeserver
// rejects the bot's credentials. Transient failures (network, 5xx, rate
// limits) are retried with backoff. It waits for in-flight messages to finish
// before returning.
func (a *Adapter) Run(ctx context.Context) error {
	a.runCtx = ctx
	// A homeserver that is down or restarting when the bot starts is waited
	// for; wrong credentials end Run at once.
	for {
		err := a.login(ctx)
		if err == nil {
			break
		}
		if _, transient := retryAfter(err, 0); !transient || ctx.Err() != nil {
			return err
		}
		wait := a.failureBackoff(err)
		a.log.Warn("matrix login failed; retrying", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	a.syncFailures.Store(0)
	closer, err := a.initCrypto(ctx)
	if err != nil {
		return fmt.Errorf("matrix encryption: %w", err)
	}
	a.e2ee = closer
	if closer == nil {
		a.cli.StateStore = mautrix.NewMemoryStateStore()
	}
	defer func() {
		if a.e2ee != nil {
			if err := a.e2ee.Close(); err != nil {
				a.log.Warn("close crypto store", "err", err)
			}
		}
	}()
	a.register()
	a.restorePrompts(ctx)
	a.threadRel = event.RelThread
	if v, err := a.cli.Versions(ctx); err == nil {
		a.threadRel = threadRelFor(v)
	} else {
		a.log.Warn("matrix server versions unknown; threads use m.thread", "err", err)
	}
	if dn, err := a.cli.GetOwnDisplayName(ctx); err == nil && dn != nil {
		a.displayName = dn.DisplayName
	}
	u, d := a.Session()
	a.log.Info("matrix bot running", "user", u, "device", d, "encryption", a.e2ee != nil)
	// mautrix's handlers (crypto, verification) log through the context.
	err = a.syncLoop(a.cli.Log.WithContext(ctx))
	a.handlers.Wait()
	return err
}

// login authenticates the client, reusing the stored device and token.
func (a *Adapter) login(ctx context.Context) error {
	cli, err := mautrix.NewClient(a.cfg.Homeserver, "", "")
	if err != nil {
		return fmt.Errorf("matrix client: %w", err)
	}
	cli.Log = zerolog.New(slogWriter{a.log}).Level(zerolog.InfoLevel)
	// Rate limits and gateway errors are retried by this package (retry.go),
	// which also reads the body's retry_after_ms that mautrix ignores.
	cli.IgnoreRateLimit = true
	cli.DefaultHTTPRetries = 0
	cli.Store = a.store
	syncer := &syncer{DefaultSyncer: mautrix.NewDefaultSyncer(), a: a}
	syncer.FilterJSON = &mautrix.Filter{Room: &mautrix.RoomFilter{Timeline: &mautrix.FilterPart{Limit: 50}}}
	cli.Syncer = syncer
	a.cli = cli

	prev := a.store.get()
	if prev.Homeserver != "" && (prev.Homeserver != a.cfg.Homeserver || (a.cfg.UserID != "" && prev.UserID != id.UserID(a.cfg.UserID))) {
		// Another account's device and sync position mean nothing here.
		a.log.Warn("stored matrix session is for another account; starting fresh", "stored_user", prev.UserID)
		if err := a.store.update(func(s *session) { *s = session{PickleKey: s.PickleKey} }); err != nil {
			return err
		}
		prev = a.store.get()
	}

	var user id.UserID
	var device id.DeviceID
	token := a.cfg.AccessToken
	switch {
	case token != "":
		cli.AccessToken = token
		who, err := a.whoami(ctx)
		if err != nil {
			return fmt.Errorf("matrix login with access token: %w", err)
		}
		if a.cfg.UserID != "" && who.UserID != id.UserID(a.cfg.UserID) {
			return fmt.Errorf("matrix access token belongs to %s, not %s", who.UserID, a.cfg.UserID)
		}
		user, device = who.UserID, who.DeviceID
		if device == "" {
			device = id.DeviceID(a.cfg.DeviceID)
		}
		if device == "" {
			return errors.New("matrix: the homeserver did not say which device the access token belongs to; set the device ID")
		}
		token = "" // configured tokens are not copied into the state file
	default:
		if prev.AccessToken != "" && prev.UserID == id.UserID(a.cfg.UserID) &&
			(a.cfg.DeviceID == "" || prev.DeviceID == id.DeviceID(a.cfg.DeviceID)) {
			cli.AccessToken = prev.AccessToken
			who, err := a.whoami(ctx)
			switch {
			case err == nil && who.UserID == prev.UserID:
				user, device, token = who.UserID, prev.DeviceID, prev.AccessToken
			case err == nil || errors.Is(err, mautrix.MUnknownToken):
				a.log.Info("stored matrix access token no longer valid; logging in again", "device", prev.DeviceID)
			default:
				return fmt.Errorf("matrix check stored login: %w", err)
			}
		}
		if user == "" {
			deviceID := id.DeviceID(a.cfg.DeviceID)
			if deviceID == "" {
				deviceID = prev.DeviceID
			}
			cli.AccessToken = ""
			var resp *mautrix.RespLogin
			err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) (err error) {
				resp, err = cli.Login(ctx, &mautrix.ReqLogin{
					Type:                     mautrix.AuthTypePassword,
					Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: a.cfg.UserID},
					Password:                 a.cfg.Password,
					DeviceID:                 deviceID,
					InitialDeviceDisplayName: a.cfg.DeviceName,
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("matrix password login as %s: %w", a.cfg.UserID, err)
			}
			user, device, token = resp.UserID, resp.DeviceID, resp.AccessToken
			cli.AccessToken = token
		}
	}
	cli.UserID, cli.DeviceID = user, device
	return a.store.update(func(s *session) {
		if s.UserID != user {
			s.NextBatch, s.FilterID = "", ""
		}
		s.Homeserver, s.UserID, s.DeviceID, s.AccessToken = a.cfg.Homeserver, user, device, token
	})
}

func (a *Adapter) whoami(ctx context.Context) (who *mautrix.RespWhoami, err error) {
	err = retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) (err error) {
		who, err = a.cli.Whoami(ctx)
		return err
	})
	return who, err
}

// register installs the sync handlers. The old-event filter goes first so
// that nothing, not even decryption, sees events from before the bot joined.
func (a *Adapter) register() {
	s := a.cli.Syncer.(*syncer)
	s.OnEventType(event.StateMember, a.onMember)
	s.OnEventType(event.EventMessage, a.onMessage)
	s.OnEventType(event.EventReaction, a.onReaction)
	if a.verify == nil {
		// With encryption, mautrix's verification helper takes requests
		// (verify_on.go).
		s.OnEventType(event.ToDeviceVerificationRequest, a.onVerifyRequestToDevice)
	}
	if a.e2ee == nil {
		s.OnEvent(a.cli.StateStoreSyncHandler)
		s.OnEventType(event.EventEncrypted, a.onUndecryptable)
	}
}

// syncLoop long-polls /sync until ctx ends. The position is saved before a
// response is processed (as mautrix does): an event that crashes a handler
// is skipped after a restart rather than retried forever. Failures back off
// exponentially, honouring rate limits; a rejected token ends the loop.
func (a *Adapter) syncLoop(ctx context.Context) error {
	s := a.cli.Syncer.(*syncer)
	filterID := a.store.get().FilterID
	if filterID == "" {
		var resp *mautrix.RespCreateFilter
		err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) (err error) {
			resp, err = a.cli.CreateFilter(ctx, s.GetFilterJSON(a.cli.UserID))
			return err
		})
		if err != nil {
			return fmt.Errorf("matrix create sync filter: %w", err)
		}
		filterID = resp.FilterID
		if err := a.store.SaveFilterID(ctx, a.cli.UserID, filterID); err != nil {
			return err
		}
	}
	next := a.store.get().NextBatch
	failing := false
	for ctx.Err() == nil {
		timeout := a.cfg.PollTimeout
		if failing || next == "" {
			timeout = 0 // catch up at once
		}
		resp, err := a.cli.FullSyncRequest(ctx, mautrix.ReqSync{Timeout: int(timeout.Milliseconds()), Since: next, FilterID: filterID})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, mautrix.MUnknownToken) {
				return fmt.Errorf("matrix sync: access token rejected: %w", err)
			}
			failing = true
			wait := a.failureBackoff(err)
			a.log.Warn("matrix sync failed", "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		if failing {
			a.log.Info("matrix sync recovered")
		}
		failing = false
		a.syncFailures.Store(0)
		if err := a.store.SaveNextBatch(ctx, a.cli.UserID, resp.NextBatch); err != nil {
			return err
		}
		if err := s.ProcessResponse(ctx, resp, next); err != nil {
			a.log.Error("matrix sync response handling failed; skipping it", "err", err)
		}
		next = resp.NextBatch
	}
	return nil
}

// failureBackoff counts one more sync failure and returns how long to wait.
func (a *Adapter) failureBackoff(err error) time.Duration {
	n := a.syncFailures.Add(1)
	backoff := a.cfg.RetryBase
	for i := int32(1); i < n && backoff < a.cfg.RetryMax; i++ {
		backoff *= 2
	}
	if wait, ok := retryAfter(err, backoff); ok && wait > 0 {
		backoff = wait
	}
	return min(backoff, a.cfg.RetryMax)
}

// syncer is mautrix's default syncer (handler registry and dispatch, which
// the crypto helper hooks into) with this adapter's old-event filter.
type syncer struct {
	*mautrix.DefaultSyncer
	a *Adapter
}

// Dispatch hands one event to the handlers; the crypto helper calls it with
// each decrypted event. In-room verification events get their
// transaction's ID, and may be held back (verifyEvent).
func (s *syncer) Dispatch(ctx context.Context, evt *event.Event) {
	if evt = s.verifyEvent(evt); evt != nil {
		s.DefaultSyncer.Dispatch(ctx, evt)
	}
}

// verifyEvent applies verificationTxnEvent and the verifier's hold to an
// in-room verification event, where the bot verifies; nil drops it.
func (s *syncer) verifyEvent(evt *event.Event) *event.Event {
	if s.a.verify == nil {
		return evt
	}
	if evt = verificationTxnEvent(s.a.cli.UserID, evt); evt != nil && s.a.verify.hold(evt) {
		return nil
	}
	return evt
}

// ProcessResponse filters old events out of resp before the handlers run.
func (s *syncer) ProcessResponse(ctx context.Context, resp *mautrix.RespSync, since string) error {
	dropOldEvents(s.a.cli.UserID, resp, since)
	if s.a.verify != nil {
		for roomID, room := range resp.Rooms.Join {
			// Unencrypted in-room verification events do not pass
			// through Dispatch.
			kept := room.Timeline.Events[:0]
			for _, e := range room.Timeline.Events {
				if e = s.verifyEvent(e); e != nil {
					kept = append(kept, e)
				}
			}
			room.Timeline.Events = kept
			resp.Rooms.Join[roomID] = room
		}
	}
	err := s.DefaultSyncer.ProcessResponse(ctx, resp, since)
	s.a.readyOnce.Do(func() { close(s.a.ready) })
	return err
}

// dropOldEvents removes timeline messages a bot must not answer: everything
// in the first sync of a fresh session (history), and everything before the
// bot's own join in a room it just joined (history sent along with the join).
// State events stay: the state store and the crypto machine need them.
func dropOldEvents(self id.UserID, resp *mautrix.RespSync, since string) {
	for roomID, room := range resp.Rooms.Join {
		evts := room.Timeline.Events
		cut := 0
		if since == "" {
			cut = len(evts)
		} else {
			for i := len(evts) - 1; i >= 0; i-- {
				if isOwnJoin(self, evts[i]) {
					cut = i
					break
				}
			}
		}
		if cut == 0 {
			continue
		}
		kept := evts[:0:0]
		for i, e := range evts {
			if i >= cut || e.StateKey != nil {
				kept = append(kept, e)
			}
		}
		room.Timeline.Events = kept
		resp.Rooms.Join[roomID] = room
	}
}

// isOwnJoin reports whether e is the bot joining (not a profile change).
func isOwnJoin(self id.UserID, e *event.Event) bool {
	if e.Type != event.StateMember || e.GetStateKey() != string(self) {
		return false
	}
	if membership(e) != event.MembershipJoin {
		return false
	}
	if e.Unsigned.PrevContent != nil {
		if pm, _ := e.Unsigned.PrevContent.Raw["membership"].(string); pm == string(event.MembershipJoin) {
			return false
		}
	}
	return true
}

// onMember joins rooms allowed users invite the bot to and refuses the rest.
func (a *Adapter) onMember(ctx context.Context, evt *event.Event) {
	a.mu.Lock()
	delete(a.members, evt.RoomID)
	a.mu.Unlock()
	if evt.GetStateKey() != string(a.cli.UserID) {
		return
	}
	mem := membership(evt)
	inviteKey := "invite|" + string(evt.RoomID)
	if mem != event.MembershipInvite {
		if mem.IsLeaveOrBan() || mem == event.MembershipJoin {
			a.seen.forget(inviteKey) // a later invite to this room is new
		}
		return
	}
	if evt.Mautrix.EventSource&event.SourceInvite == 0 || !a.seen.add(inviteKey) {
		return
	}
	if !a.cfg.allowed(evt.Sender) {
		a.log.Warn("refusing matrix invite from user not on the allow-list", "room", evt.RoomID, "inviter", evt.Sender)
		err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) error {
			_, err := a.cli.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: "this bot only joins rooms of allowed users"})
			return err
		})
		if err != nil {
			a.log.Warn("reject matrix invite", "room", evt.RoomID, "err", err)
		}
		return
	}
	a.log.Info("joining matrix room", "room", evt.RoomID, "inviter", evt.Sender)
	err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) error {
		_, err := a.cli.JoinRoomByID(ctx, evt.RoomID)
		return err
	})
	if err != nil {
		a.log.Warn("join matrix room", "room", evt.RoomID, "err", err)
		a.seen.forget(inviteKey)
	}
}

// membership reads a member event's membership from the raw content: the
// parsed struct may be shared with, and later changed by, mautrix's memory
// state store (SetMembership updates the stored pointer in place).
func membership(e *event.Event) event.Membership {
	m, _ := e.Content.Raw["membership"].(string)
	return event.Membership(m)
}

// onMessage routes a room message: a typed answer to a pending prompt, a
// message for the assistant, or nothing.
func (a *Adapter) onMessage(ctx context.Context, evt *event.Event) {
	if evt.Sender == a.cli.UserID || !a.seen.add(string(evt.ID)) {
		return
	}
	content := evt.Content.AsMessage()
	if content.MsgType == event.MsgVerificationRequest {
		if a.verify == nil && a.cfg.allowed(evt.Sender) {
			a.onVerifyRequestInRoom(ctx, evt, content)
		}
		return
	}
	if content.MsgType != event.MsgText && content.MsgType != event.MsgEmote {
		return // notices are what bots send; images etc. carry no question
	}
	if content.RelatesTo.GetReplaceID() != "" {
		return // an edit of an earlier message, which was answered already
	}
	if !a.cfg.allowed(evt.Sender) {
		a.log.Info("ignoring matrix message from user not on the allow-list", "room", evt.RoomID, "sender", evt.Sender)
		return
	}
	content.RemoveReplyFallback()
	text, addressed := a.addressed(content)
	thread, threadRel := threadOf(content.RelatesTo)
	replyTo := replyTarget(content.RelatesTo)
	if a.verify != nil && a.verify.answer(ctx, evt, text, addressed) {
		return
	}

	// A reply to a prompt that expired while the bot was down is a late
	// answer, never a new request nor an answer to another prompt.
	if replyTo != "" && a.lateAnswer(ctx, replyTo, evt.RoomID, evt.Sender) {
		return
	}
	// An app's question takes its own choices (numbers, labels).
	if sp, _ := a.promptFor(evt.RoomID, thread, replyTo, evt.Sender); sp != nil && sp.p.Kind == chat.KindElicit {
		if d, ok := sp.p.ParseChoice(text); ok {
			a.answer(ctx, sp, evt.Sender, d, "text")
			return
		}
	}
	if d, ok := chat.ParseDecision(text); ok {
		sp, waiting := a.promptFor(evt.RoomID, thread, replyTo, evt.Sender)
		if sp != nil {
			a.answer(ctx, sp, evt.Sender, d, "text")
			return
		}
		if waiting > 1 {
			a.ambiguousAnswer(ctx, evt, thread, threadRel, waiting)
			return
		}
	}

	dm := a.isDM(ctx, evt.RoomID)
	if !dm && !addressed {
		return
	}
	if strings.TrimSpace(text) == "" {
		return
	}
	c := &conversation{a: a, room: evt.RoomID, thread: thread, threadRel: threadRel, trigger: evt.ID, user: evt.Sender}
	if !dm && thread == "" {
		// In rooms the answer goes to the message's thread, under the
		// relation name the server's clients use.
		c.thread, c.threadRel = evt.ID, a.threadRel
	}
	msg := chat.Message{
		User:         userID(evt.Sender),
		Conversation: c.id(),
		Text:         text,
		EventID:      string(evt.ID),
	}
	c.request = msg
	a.handlers.Add(1)
	go func() {
		defer a.handlers.Done()
		stop := c.startTyping(a.runCtx)
		defer stop()
		a.asst.Handle(a.runCtx, msg, c)
	}()
}

// ambiguousAnswer refuses a typed answer that could be meant for any of
// several waiting prompts, and says how to pick one.
func (a *Adapter) ambiguousAnswer(ctx context.Context, evt *event.Event, thread id.EventID, threadRel event.RelationType, waiting int) {
	a.log.Info("matrix typed answer refused: several prompts wait", "room", evt.RoomID, "sender", evt.Sender, "waiting", waiting)
	c := &conversation{a: a, room: evt.RoomID, thread: thread, threadRel: threadRel, trigger: evt.ID, user: evt.Sender}
	msg := fmt.Sprintf("%d permission requests are waiting for you, so I can't tell which one that answer is for. Nothing was decided: reply to the request you mean (or react to it).", waiting)
	if err := c.send(ctx, noticeContent(msg)); err != nil {
		a.log.Warn("post matrix notice", "room", evt.RoomID, "err", err)
	}
}

// addressed strips a command prefix or leading mention from the message and
// reports whether either was there (or the bot was mentioned anywhere).
func (a *Adapter) addressed(content *event.MessageEventContent) (string, bool) {
	body := strings.TrimSpace(content.Body)
	mentioned := content.Mentions != nil && content.Mentions.Has(a.cli.UserID)
	if rest, ok := cutPrefixFold(body, a.cfg.CommandPrefix); ok {
		return asCommand(rest), true
	}
	names := []string{string(a.cli.UserID), a.cli.UserID.Localpart()}
	if a.displayName != "" {
		names = append(names, a.displayName)
	}
	for _, n := range names {
		if rest, ok := cutPrefixFold(body, n); ok {
			return strings.TrimLeft(rest, ":, "), true
		}
	}
	if !mentioned && strings.Contains(content.FormattedBody, "https://matrix.to/#/"+string(a.cli.UserID)) {
		mentioned = true
	}
	return body, mentioned
}

// commandWords are the hub's chat commands. After the room prefix they
// need no "!" of their own: "!secgpt grants", not "!secgpt !grants".
var commandWords = map[string]bool{"help": true, "apps": true, "grants": true, "permissions": true,
	"revoke": true, "forget": true, "facts": true, "new": true, "reset": true,
	"connect": true, "disconnect": true}

// asCommand turns "grants", "revoke app" or "connect google" (typed after
// the prefix) into the hub's "!grants" / "!revoke app" / "!connect
// google"; anything else is left as it is ("help me book a ride", "connect
// me with Bob" are requests).
func asCommand(rest string) string {
	f := strings.Fields(rest)
	if len(f) == 0 || !commandWords[strings.ToLower(f[0])] {
		return rest
	}
	switch w := strings.ToLower(f[0]); {
	case len(f) == 1, w == "revoke", w == "forget":
		return "!" + rest
	case (w == "connect" || w == "disconnect") && len(f) == 2:
		return "!" + rest
	}
	return rest
}

// cutPrefixFold cuts prefix p off s, case-insensitively, if a word boundary
// (space or punctuation) or the end follows it.
func cutPrefixFold(s, p string) (string, bool) {
	if p == "" || len(s) < len(p) || !strings.EqualFold(s[:len(p)], p) {
		return s, false
	}
	rest := s[len(p):]
	if rest != "" && !strings.ContainsRune(" \t\n:,", rune(rest[0])) {
		return s, false
	}
	return strings.TrimSpace(rest), true
}

// roomMembers lists room's member events, retried; a failure is logged.
func (a *Adapter) roomMembers(ctx context.Context, room id.RoomID) (*mautrix.RespMembers, error) {
	var resp *mautrix.RespMembers
	err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) (err error) {
		resp, err = a.cli.Members(ctx, room)
		return err
	})
	if err != nil {
		a.log.Warn("list matrix room members", "room", room, "err", err)
	}
	return resp, err
}

// isDM reports whether the room has just the bot and one other person
// (joined or invited).
func (a *Adapter) isDM(ctx context.Context, room id.RoomID) bool {
	a.mu.Lock()
	n, ok := a.members[room]
	a.mu.Unlock()
	if !ok {
		resp, err := a.roomMembers(ctx, room)
		if err != nil {
			return false
		}
		n = 0
		for _, e := range resp.Chunk {
			if m := membership(e); m == event.MembershipJoin || m == event.MembershipInvite {
				n++
			}
		}
		a.mu.Lock()
		a.members[room] = n
		a.mu.Unlock()
	}
	return n <= 2
}

// onUndecryptable tells a room once that this build cannot read encrypted
// messages, so users are not left waiting.
func (a *Adapter) onUndecryptable(ctx context.Context, evt *event.Event) {
	if evt.Sender == a.cli.UserID || !a.cfg.allowed(evt.Sender) {
		return
	}
	if !a.tellAgain(string(evt.RoomID), 24*time.Hour) {
		return
	}
	a.log.Warn("encrypted matrix message, but this build has no end-to-end encryption", "room", evt.RoomID)
	c := &conversation{a: a, room: evt.RoomID}
	if err := c.send(ctx, noticeContent("I can't read encrypted messages: this SecGPT build has no end-to-end encryption (see docs/matrix.md).")); err != nil {
		a.log.Warn("post matrix notice", "room", evt.RoomID, "err", err)
	}
}

// tellAgain reports whether the notice keyed key may be posted now (it was
// not in the last every), and records that it is.
func (a *Adapter) tellAgain(key string, every time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if last, ok := a.told[key]; ok && time.Since(last) < every {
		return false
	}
	a.told[key] = time.Now()
	return true
}

func userID(u id.UserID) ids.UserID { return ids.UserID(platform + string(u)) }

// matrixUser returns the Matrix user ID inside a SecGPT UserID, or "".
func matrixUser(u ids.UserID) id.UserID {
	s, ok := strings.CutPrefix(string(u), platform)
	if !ok {
		return ""
	}
	return id.UserID(s)
}

// seenSet remembers recently handled keys (event IDs) so that a replayed or
// re-dispatched event is processed once. It forgets the oldest beyond size.
type seenSet struct {
	size int

	mu    sync.Mutex // guards keys and order
	keys  map[string]bool
	order []string
}

func newSeenSet(size int) *seenSet {
	return &seenSet{size: size, keys: make(map[string]bool, size)}
}

// add records k and reports whether it was new.
func (s *seenSet) add(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[k] {
		return false
	}
	s.keys[k] = true
	s.order = append(s.order, k)
	if len(s.order) > s.size {
		delete(s.keys, s.order[0])
		s.order = s.order[1:]
	}
	return true
}

func (s *seenSet) forget(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, k) // a stale copy in order only ages out early
}
