package matrix_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// TestMain also serves as the spoke entry, for a hub whose spokes are
// sandboxed processes of this binary (hubtest.Options.Sandboxed).
func TestMain(m *testing.M) {
	if confine.IsChild() {
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(matrixtest.Main(m))
}

// wait bounds every wait for the homeserver; generous for a loaded 2-core box.
const wait = 20 * time.Second

// fakeAssistant is a chat.Assistant test double. A message starting with
// "ask" makes it show a permission prompt and wait for the answer (or for
// expiry, if the text contains "expire"); anything else is echoed as
// markdown. It checks answers the way the hub does: right nonce, right user.
type fakeAssistant struct {
	// release, if set, holds messages containing "slow" until it is closed.
	release chan struct{}
	handled chan chat.Message
	refused chan chat.Answer // answers rejected with ErrNotYours

	mu      sync.Mutex // guards waiting and n
	waiting map[ids.PromptID]*fakePending
	n       int
}

type fakePending struct {
	p   chat.Prompt
	ans chan chat.Answer
}

func newFake() *fakeAssistant {
	return &fakeAssistant{
		handled: make(chan chat.Message, 64),
		refused: make(chan chat.Answer, 64),
		waiting: make(map[ids.PromptID]*fakePending),
	}
}

func (f *fakeAssistant) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	f.handled <- m
	if f.release != nil && strings.Contains(m.Text, "slow") {
		select {
		case <-f.release:
		case <-ctx.Done():
			return
		}
	}
	if strings.HasPrefix(m.Text, "stream") {
		parts := make(chan string, 4)
		for _, p := range []string{"Hello ", "**streamed** ", "world", "\x1b[2J <b>x</b>"} {
			parts <- p
		}
		close(parts)
		_, _ = chat.StreamReply(ctx, chat.Neutral(c), parts)
		return
	}
	if !strings.HasPrefix(m.Text, "ask") {
		_ = c.Reply(ctx, "**echo**: "+m.Text)
		return
	}
	f.mu.Lock()
	f.n++
	p := chat.Prompt{
		ID:           ids.PromptID(fmt.Sprintf("p%d", f.n)),
		Nonce:        fmt.Sprintf("nonce-%d-%d", f.n, time.Now().UnixNano()),
		User:         m.User,
		Conversation: m.Conversation,
		Kind:         chat.KindCollab,
		Requester:    "quick_ride",
		Target:       "metro_hail",
		Function:     "get_fare",
		Data:         "pickup: 1 Main St <b>not bold</b>",
		Unplanned:    strings.Contains(m.Text, "unplanned"),
		Reason:       "to compare fares",
		ExpiresAt:    time.Now().Add(time.Minute),
	}
	expiry := time.Minute
	if strings.Contains(m.Text, "expire") {
		expiry = 300 * time.Millisecond
	}
	pend := &fakePending{p: p, ans: make(chan chat.Answer, 1)}
	f.waiting[p.ID] = pend
	f.mu.Unlock()

	if err := c.Prompt(ctx, p); err != nil {
		_ = c.Reply(ctx, "prompt failed: "+err.Error())
		return
	}
	d, by, expired := chat.Deny, ids.UserID(""), false
	select {
	case a := <-pend.ans:
		d, by = a.Decision, a.User
	case <-time.After(expiry):
		f.mu.Lock()
		delete(f.waiting, p.ID)
		f.mu.Unlock()
		expired = true
	case <-ctx.Done():
		return
	}
	if rc, ok := c.(chat.ResolvingConversation); ok {
		_ = rc.Resolved(ctx, p, d, by, expired)
	}
	_ = c.Reply(ctx, fmt.Sprintf("decision %s for %q", d, m.Text))
}

func (f *fakeAssistant) Answer(_ context.Context, a chat.Answer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pend, ok := f.waiting[a.Prompt]
	if !ok || pend.p.Nonce != a.Nonce {
		return chat.ErrUnknownPrompt
	}
	if a.User != pend.p.User {
		f.refused <- a
		return chat.ErrNotYours
	}
	delete(f.waiting, a.Prompt)
	pend.ans <- a
	return nil
}

// next returns the next message the fake was asked to handle.
func (f *fakeAssistant) next(t *testing.T) chat.Message {
	t.Helper()
	select {
	case m := <-f.handled:
		return m
	case <-time.After(wait):
		t.Fatal("assistant got no message")
		return chat.Message{}
	}
}

// bot is a running adapter in a test.
type bot struct {
	*matrix.Adapter
	stop func()
}

// startBot runs an adapter for the homeserver's bot account with state in
// dir ("" for a fresh one) until the test ends or stop is called.
func startBot(t *testing.T, srv *matrixtest.Server, dir string, asst chat.Assistant, mod func(*matrix.Config)) *bot {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := matrix.Config{
		Homeserver:   srv.URL,
		UserID:       string(srv.Bot.UserID),
		Password:     srv.Bot.Password,
		StateDir:     dir,
		AllowServers: []string{srv.ServerName},
		RetryBase:    50 * time.Millisecond,
		RetryMax:     2 * time.Second,
		PollTimeout:  5 * time.Second, // see matrixtest's pollTimeout
	}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := matrix.New(cfg, asst, log)
	if err != nil {
		t.Fatalf("matrix.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("bot stopped before its first sync: %v", err)
	case <-time.After(wait):
		cancel()
		t.Fatal("bot not ready")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("bot Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &bot{Adapter: a, stop: stop}
}

// dmWithBot logs alice in and opens an unencrypted DM with b's bot,
// returning once the bot has joined it.
func dmWithBot(t *testing.T, srv *matrixtest.Server, b *bot) (alice *matrixtest.Client, botID id.UserID, room id.RoomID) {
	t.Helper()
	alice = srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	botID, _ = b.Session()
	room = alice.CreateRoom(t, "dm", false, botID)
	alice.WaitJoined(t, room, botID, wait)
	return alice, botID, room
}

// behindFaultProxy is srv as a bot sees it through a fault-injecting
// proxy; the people in the test still talk to srv directly.
func behindFaultProxy(t *testing.T, srv *matrixtest.Server) (*faultProxy, *matrixtest.Server) {
	t.Helper()
	px := newFaultProxy(t, srv.URL)
	proxied := *srv
	proxied.URL = px.URL
	return px, &proxied
}

// Event matchers.

func fromIn(sender id.UserID, room id.RoomID) func(*event.Event) bool {
	return func(e *event.Event) bool { return e.Sender == sender && e.RoomID == room }
}

func and(fs ...func(*event.Event) bool) func(*event.Event) bool {
	return func(e *event.Event) bool {
		for _, f := range fs {
			if !f(e) {
				return false
			}
		}
		return true
	}
}

func bodyContains(s string) func(*event.Event) bool {
	return func(e *event.Event) bool {
		m := matrixtest.Message(e)
		return m != nil && strings.Contains(m.Body, s)
	}
}

func isPrompt(e *event.Event) bool {
	m := matrixtest.Message(e)
	return m != nil && m.NewContent == nil && strings.Contains(m.Body, "Permission request")
}

func editOf(evt id.EventID) func(*event.Event) bool {
	return func(e *event.Event) bool {
		m := matrixtest.Message(e)
		return m != nil && m.RelatesTo.GetReplaceID() == evt
	}
}

func reactionTo(evt id.EventID) func(*event.Event) bool {
	return func(e *event.Event) bool {
		if e.Type != event.EventReaction {
			return false
		}
		r, ok := e.Content.Parsed.(*event.ReactionEventContent)
		return ok && r.RelatesTo.EventID == evt
	}
}

func typing(user id.UserID, room id.RoomID) func(*event.Event) bool {
	return func(e *event.Event) bool {
		if e.Type != event.EphemeralEventTyping || e.RoomID != room {
			return false
		}
		t, ok := e.Content.Parsed.(*event.TypingEventContent)
		if !ok {
			return false
		}
		for _, u := range t.UserIDs {
			if u == user {
				return true
			}
		}
		return false
	}
}

// TestRoomPromptReaction: invite → join; an unaddressed message is ignored;
// an addressed one gets a prompt in its thread with reactions; bob's click is
// refused; alice's click allows; the prompt is edited; the answer arrives.
func TestRoomPromptReaction(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	bob := srv.Login(t, srv.Bob, matrixtest.LoginOptions{})
	botID, _ := b.Session()

	room := alice.CreateRoom(t, "group", false, botID, srv.Bob.UserID)
	bob.Join(t, room)
	alice.WaitJoined(t, room, botID, wait)

	alice.SendText(t, room, "just chatting, not for the bot")
	q := alice.SendText(t, room, "!secgpt ask for a ride unplanned")
	m := fake.next(t)
	if m.Text != "ask for a ride unplanned" || m.User != ids.UserID("matrix:"+string(srv.Alice.UserID)) || m.EventID != string(q) {
		t.Fatalf("assistant got %+v; want the prefixed message from alice without the prefix", m)
	}
	if want := ids.ConversationID("matrix:" + string(room) + "/" + string(q)); m.Conversation != want {
		t.Errorf("conversation = %q, want %q", m.Conversation, want)
	}

	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), isPrompt))
	pm := matrixtest.Message(pe)
	for _, want := range []string{"metro_hail", "pickup: 1 Main St <b>not bold</b>", "Warning", "Allow once", "Deny", string(srv.Alice.UserID)} {
		if !strings.Contains(pm.Body, want) {
			t.Errorf("prompt body lacks %q:\n%s", want, pm.Body)
		}
	}
	if strings.Contains(pm.FormattedBody, "<b>not bold</b>") {
		t.Errorf("prompt HTML passes app data through unescaped: %s", pm.FormattedBody)
	}
	if threadParent(pm) != q {
		t.Errorf("prompt thread = %q, want %q", threadParent(pm), q)
	}
	alice.Wait(t, wait, "4 reactions", func(*event.Event) bool {
		return len(alice.Events(and(fromIn(botID, room), reactionTo(pe.ID)))) >= 4
	})

	bob.React(t, room, pe.ID, "✅")
	select {
	case a := <-fake.refused:
		if a.User != ids.UserID("matrix:"+string(srv.Bob.UserID)) || a.Decision != chat.AllowOnce {
			t.Errorf("refused answer = %+v", a)
		}
	case <-time.After(wait):
		t.Fatal("bob's reaction never reached the assistant")
	}
	notice := alice.Wait(t, wait, "notice to bob", and(fromIn(botID, room), bodyContains("only they can answer it")))
	if nm := matrixtest.Message(notice); nm.MsgType != event.MsgNotice || threadParent(nm) != q || !strings.Contains(nm.Body, string(srv.Bob.UserID)) {
		t.Errorf("refusal notice = %+v, want an m.notice to bob in the prompt's thread", nm)
	}

	alice.React(t, room, pe.ID, "✅")
	edit := alice.Wait(t, wait, "prompt edit", and(fromIn(botID, room), editOf(pe.ID)))
	nc := matrixtest.Message(edit).NewContent
	if nc == nil || !strings.Contains(nc.Body, "Allow once") || !strings.Contains(nc.Body, string(srv.Alice.UserID)) {
		t.Errorf("edit does not show the decision and who made it: %+v", nc)
	}
	if em := matrixtest.Message(edit); !strings.HasPrefix(em.Body, "* Permission request decided:") || strings.Contains(em.Body, "React:") {
		t.Errorf("edit fallback is not one readable line: %q", em.Body)
	}
	ans := alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("decision once")))
	if got := threadParent(matrixtest.Message(ans)); got != q {
		t.Errorf("answer thread = %q, want %q", got, q)
	}
	if mt := matrixtest.Message(ans).MsgType; mt != event.MsgNotice {
		t.Errorf("answer is %s, want m.notice", mt)
	}
	reacted := map[id.EventID]bool{}
	for _, e := range alice.Events(and(fromIn(botID, room), reactionTo(pe.ID))) {
		reacted[e.ID] = true
	}
	alice.Wait(t, wait, "bot's reactions removed", func(*event.Event) bool {
		n := 0
		for _, e := range alice.Events(and(fromIn(botID, room), func(e *event.Event) bool { return e.Type == event.EventRedaction })) {
			if reacted[e.Redacts] {
				n++
			}
		}
		return n == len(reacted)
	})
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains("echo")))); n != 0 {
		t.Errorf("bot answered %d unaddressed messages", n)
	}
	select {
	case m := <-fake.handled:
		t.Errorf("assistant got an unexpected message %+v", m)
	default:
	}
}

// TestDMTextReplyAndMarkdown: in a DM no prefix is needed, answers carry an
// HTML body, and a typed "deny" answers a prompt.
func TestDMTextReplyAndMarkdown(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	alice.SendText(t, room, "hello there")
	echo := alice.Wait(t, wait, "echo", and(fromIn(botID, room), bodyContains("hello there")))
	if em := matrixtest.Message(echo); em.Format != event.FormatHTML || !strings.Contains(em.FormattedBody, "<strong>echo</strong>") {
		t.Errorf("answer has no HTML body: %+v", em)
	}
	fake.next(t)

	alice.SendText(t, room, "ask the weather")
	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), isPrompt))
	fake.next(t)
	alice.SendText(t, room, "deny")
	edit := alice.Wait(t, wait, "prompt edit", and(fromIn(botID, room), editOf(pe.ID)))
	if nc := matrixtest.Message(edit).NewContent; nc == nil || !strings.Contains(nc.Body, "Decision: Deny") {
		t.Errorf("edit = %+v", nc)
	}
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains(`decision deny for "ask the weather"`)))
}

// TestTyping: the bot shows as typing while the assistant works and stops
// when the answer is posted.
func TestTyping(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	fake.release = make(chan struct{})
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	alice.SendText(t, room, "a slow question")
	fake.next(t)
	on := alice.Wait(t, wait, "bot typing", typing(botID, room))
	close(fake.release)
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("slow question")))
	alice.Wait(t, wait, "typing stopped", func(e *event.Event) bool {
		return e != on && e.Type == event.EphemeralEventTyping && e.RoomID == room && !typing(botID, room)(e)
	})
}

// TestPromptExpires: an unanswered prompt is edited to say it expired.
func TestPromptExpires(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	alice.SendText(t, room, "ask and let it expire")
	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), isPrompt))
	edit := alice.Wait(t, wait, "expiry edit", and(fromIn(botID, room), editOf(pe.ID)))
	if nc := matrixtest.Message(edit).NewContent; nc == nil || !strings.Contains(nc.Body, "Expired") {
		t.Errorf("edit = %+v", nc)
	}
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("decision deny")))
}

// TestInviteRefused: an invite from a user off the allow-list is rejected.
func TestInviteRefused(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	b := startBot(t, srv, "", newFake(), func(c *matrix.Config) {
		c.AllowServers = nil
		c.AllowUsers = []string{string(srv.Alice.UserID)}
	})
	bob := srv.Login(t, srv.Bob, matrixtest.LoginOptions{})
	botID, _ := b.Session()
	room := bob.CreateRoom(t, "bob's", false, botID)
	bob.Wait(t, wait, "bot rejects the invite", func(e *event.Event) bool {
		return e.RoomID == room && e.Type == event.StateMember && e.GetStateKey() == string(botID) &&
			matrixtest.Membership(e) == event.MembershipLeave
	})
}

// TestRestartKeepsDeviceAndPosition: a restarted bot keeps its device, does
// not answer old events again, and answers what came while it was down.
func TestRestartKeepsDeviceAndPosition(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	dir := t.TempDir()
	fake1 := newFake()
	b1 := startBot(t, srv, dir, fake1, nil)
	alice, botID, room := dmWithBot(t, srv, b1)
	_, dev1 := b1.Session()
	alice.SendText(t, room, "first")
	alice.Wait(t, wait, "first answer", and(fromIn(botID, room), bodyContains("first")))
	fake1.next(t)
	b1.stop()

	alice.SendText(t, room, "while down")
	fake2 := newFake()
	b2 := startBot(t, srv, dir, fake2, nil)
	if _, dev2 := b2.Session(); dev2 != dev1 {
		t.Errorf("device after restart = %s, want %s", dev2, dev1)
	}
	alice.SendText(t, room, "second")
	for _, want := range []string{"while down", "second"} {
		if m := fake2.next(t); m.Text != want {
			t.Fatalf("restarted bot handled %q, want %q (old events must not be answered again)", m.Text, want)
		}
	}
	alice.Wait(t, wait, "second answer", and(fromIn(botID, room), bodyContains("second")))
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains("first")))); n != 1 {
		t.Errorf("%d answers to the first message, want 1", n)
	}
}

// TestSurvivesSyncErrorsAndRateLimits puts a fault-injecting proxy between
// the bot and Dendrite: failed syncs back off and recover, and a send that
// hits M_LIMIT_EXCEEDED waits retry_after_ms and is posted once.
func TestSurvivesSyncErrorsAndRateLimits(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	px, proxied := behindFaultProxy(t, srv)
	fake := newFake()
	b := startBot(t, proxied, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	// The sync in flight now was started before the faults: "wake" ends it,
	// so the syncs after it fail twice (502) and are rate-limited once, and
	// "through the storm" can only arrive once the bot has recovered.
	px.failSyncs.Store(2)
	px.limitSyncs.Store(1)
	alice.SendText(t, room, "wake")
	alice.Wait(t, wait, "wake answer", and(fromIn(botID, room), bodyContains("wake")))
	px.limitSends.Store(2)
	alice.SendText(t, room, "through the storm")
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("through the storm")))
	if n := px.failSyncs.Load() + px.limitSyncs.Load(); n > 0 {
		t.Errorf("%d injected sync faults never requested", n)
	}
	if pause := px.syncPause(); pause < retryAfterMS*time.Millisecond {
		t.Errorf("bot synced again %s after a rate limit asking for %dms", pause, retryAfterMS)
	}
	if got := px.limited.Load(); got != 2 {
		t.Errorf("rate-limited sends = %d, want 2", got)
	}
	if gap := px.sinceLimited(); gap < 2*retryAfterMS*time.Millisecond {
		t.Errorf("bot retried %s after the first rate limit; want at least %s", gap, 2*retryAfterMS*time.Millisecond)
	}
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains("through the storm")))); n != 1 {
		t.Errorf("%d copies of the answer, want 1", n)
	}
}

// TestDuplicateSyncResponse: a sync response delivered twice (as after a
// retried request) is answered once.
func TestDuplicateSyncResponse(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	px, proxied := behindFaultProxy(t, srv)
	fake := newFake()
	b := startBot(t, proxied, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	px.duplicateNext("say it once")
	alice.SendText(t, room, "say it once")
	if m := fake.next(t); m.Text != "say it once" {
		t.Fatalf("handled %q", m.Text)
	}
	alice.SendText(t, room, "and then this")
	if m := fake.next(t); m.Text != "and then this" {
		t.Fatalf("handled %q after the duplicate, want the next message", m.Text)
	}
	if px.replayed.Load() != 1 {
		t.Fatalf("the proxy replayed %d responses, want 1", px.replayed.Load())
	}
	alice.Wait(t, wait, "second answer", and(fromIn(botID, room), bodyContains("and then this")))
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains("say it once")))); n != 1 {
		t.Errorf("%d answers to the duplicated message, want 1", n)
	}
}

// TestConfigErrors: New refuses configs that cannot work, with clear errors.
func TestConfigErrors(t *testing.T) {
	base := matrix.Config{Homeserver: "http://127.0.0.1:1", UserID: "@bot:x", Password: "p", StateDir: t.TempDir(), AllowUsers: []string{"@a:x"}}
	tests := []struct {
		name string
		mod  func(*matrix.Config)
		want string
	}{
		{"ok", func(*matrix.Config) {}, ""},
		{"no homeserver", func(c *matrix.Config) { c.Homeserver = "" }, "homeserver"},
		{"bad homeserver", func(c *matrix.Config) { c.Homeserver = "ftp://x" }, "http(s)"},
		{"no credentials", func(c *matrix.Config) { c.Password = "" }, "access token or a password"},
		{"empty allow-list", func(c *matrix.Config) { c.AllowUsers = nil }, "allow-list"},
		{"bad allowed user", func(c *matrix.Config) { c.AllowUsers = []string{"alice"} }, "allowed user"},
		{"no state dir", func(c *matrix.Config) { c.StateDir = "" }, "state directory"},
		{"password without user", func(c *matrix.Config) { c.UserID = "" }, "user ID is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			_, err := matrix.New(cfg, newFake(), nil)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("New error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

type storedSession struct {
	DeviceID    string `json:"device_id"`
	AccessToken string `json:"access_token"`
}

// readSession reads the adapter's session file (its format is the
// adapter's own; the test only needs the token).
func readSession(t *testing.T, dir string) storedSession {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "matrix-session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s storedSession
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTypedAnswerBindsToReply: with two prompts waiting, a bare typed answer
// is refused with a hint and decides nothing; an answer sent as a reply to
// one prompt decides that prompt, not the newest one.
func TestTypedAnswerBindsToReply(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	alice.SendText(t, room, "ask first")
	first := alice.Wait(t, wait, "first prompt", and(fromIn(botID, room), isPrompt))
	fake.next(t)
	alice.SendText(t, room, "ask second")
	alice.Wait(t, wait, "second prompt", func(e *event.Event) bool {
		return len(alice.Events(and(fromIn(botID, room), isPrompt))) >= 2
	})
	fake.next(t)

	alice.SendText(t, room, "allow once")
	hint := alice.Wait(t, wait, "hint", and(fromIn(botID, room), bodyContains("can't tell which one")))
	if m := matrixtest.Message(hint); m.MsgType != event.MsgNotice {
		t.Errorf("hint is %s, want m.notice", m.MsgType)
	}
	if n := len(alice.Events(and(fromIn(botID, room), func(e *event.Event) bool {
		m := matrixtest.Message(e)
		return m != nil && m.RelatesTo.GetReplaceID() != ""
	}))); n != 0 {
		t.Fatalf("a bare answer with two prompts waiting decided %d prompt(s)", n)
	}

	reply := &event.MessageEventContent{MsgType: event.MsgText, Body: "deny"}
	reply.RelatesTo = (&event.RelatesTo{}).SetReplyTo(first.ID)
	alice.Send(t, room, reply)
	edit := alice.Wait(t, wait, "first prompt edited", and(fromIn(botID, room), editOf(first.ID)))
	if nc := matrixtest.Message(edit).NewContent; nc == nil || !strings.Contains(nc.Body, "Decision: Deny") {
		t.Errorf("edit = %+v", nc)
	}
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains(`decision deny for "ask first"`)))
	// Only this room: the homeserver is shared with earlier runs (the suite
	// runs this package with and without -tags goolm), whose rooms alice
	// still sees.
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains(`for "ask second"`)))); n != 0 {
		t.Error("the newest prompt was decided instead of the one replied to")
	}

	// One prompt left: a bare answer now has only one place to go.
	alice.SendText(t, room, "allow once")
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains(`decision once for "ask second"`)))
}

// TestStreamedReplyIsEdited: a streamed reply is one m.notice edited in
// place (m.replace), ending with the whole text, HTML in it escaped. Its
// first event already holds the reply's first text, never a "…"
// placeholder, because that event is what a notification shows.
func TestStreamedReplyIsEdited(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	alice.SendText(t, room, "stream please")
	first := alice.Wait(t, wait, "first event", and(fromIn(botID, room), func(e *event.Event) bool {
		m := matrixtest.Message(e)
		return m != nil && m.NewContent == nil && m.MsgType == event.MsgNotice
	}))
	if body := matrixtest.Message(first).Body; !strings.HasPrefix(body, "Hello") {
		t.Errorf("the streamed reply's first event says %q, want its first text", body)
	}
	final := alice.Wait(t, wait, "final edit", and(fromIn(botID, room), editOf(first.ID), func(e *event.Event) bool {
		nc := matrixtest.Message(e).NewContent
		return nc != nil && strings.Contains(nc.Body, "world")
	}))
	nc := matrixtest.Message(final).NewContent
	if !strings.Contains(nc.FormattedBody, "<strong>streamed</strong>") || strings.Contains(nc.FormattedBody, "<b>x</b>") || !strings.Contains(nc.Body, `\x1b[2J`) || strings.Contains(nc.Body, "\x1b") {
		t.Errorf("final edit = %+v", nc)
	}
	if n := len(alice.Events(and(fromIn(botID, room), func(e *event.Event) bool {
		m := matrixtest.Message(e)
		return m != nil && m.NewContent == nil && e.ID != first.ID && !strings.Contains(m.Body, "stream please")
	}))); n != 0 {
		t.Errorf("%d extra messages besides the streamed one", n)
	}
}
