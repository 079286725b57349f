package matrix_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// hubStore is what survives a restart of the bot, as the hub's store does:
// pending prompts and stored grants.
type hubStore struct {
	mu      sync.Mutex // guards all following fields
	pending map[ids.PromptID]chat.Prompt
	grants  map[ids.UserID]bool
	n       int
}

// storeHub is a stand-in for one process's hub with the gate's contract:
// a prompt is pending in the store while its query waits; an answer to a
// pending prompt whose query is gone (a restart) is recorded and gets
// chat.ErrAskAgain; an answer to one no longer pending gets
// chat.ErrUnknownPrompt. graceful selects what a stop does to a waiting
// query: the gate's shutdown (the prompt taken from the store, resolved as
// expired, a closing reply sent with the cancelled context), or nothing at
// all (a killed process).
type storeHub struct {
	st       *hubStore
	graceful bool
	handled  chan chat.Message

	mu      sync.Mutex // guards waiters
	waiters map[ids.PromptID]chan chat.Answer
}

func newStoreHub(st *hubStore, graceful bool) *storeHub {
	return &storeHub{st: st, graceful: graceful, handled: make(chan chat.Message, 16), waiters: map[ids.PromptID]chan chat.Answer{}}
}

func (h *storeHub) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	h.handled <- m
	h.st.mu.Lock()
	granted := h.st.grants[m.User]
	h.st.n++
	p := chat.Prompt{ID: ids.PromptID(fmt.Sprintf("rp%d-%d", h.st.n, time.Now().UnixNano())), Nonce: fmt.Sprintf("n%d", time.Now().UnixNano()),
		User: m.User, Conversation: m.Conversation, Kind: chat.KindExec, Target: "quick_ride", Function: "get_fare", Data: "for " + m.Text,
		ExpiresAt: time.Now().Add(time.Minute)}
	if strings.Contains(m.Text, "short") {
		p.ExpiresAt = time.Now().Add(1500 * time.Millisecond)
	}
	if !granted {
		h.st.pending[p.ID] = p
	}
	h.st.mu.Unlock()
	if granted {
		_ = c.Reply(ctx, "done: "+m.Text)
		return
	}
	ch := make(chan chat.Answer, 1)
	h.mu.Lock()
	h.waiters[p.ID] = ch
	h.mu.Unlock()
	if err := c.Prompt(ctx, p); err != nil {
		return
	}
	rc := c.(chat.ResolvingConversation)
	select {
	case a := <-ch:
		_ = rc.Resolved(ctx, p, a.Decision, a.User, false)
		_ = c.Reply(ctx, "decision "+string(a.Decision))
	case <-ctx.Done():
		if !h.graceful {
			return // killed: nothing more happens in this process
		}
		h.st.mu.Lock()
		delete(h.st.pending, p.ID)
		h.st.mu.Unlock()
		_ = rc.Resolved(context.WithoutCancel(ctx), p, chat.Deny, "", true)
		_ = c.Reply(ctx, "closing reply: denied "+m.Text)
	}
}

func (h *storeHub) Answer(_ context.Context, a chat.Answer) error {
	h.st.mu.Lock()
	p, ok := h.st.pending[a.Prompt]
	switch {
	case !ok || p.Nonce != a.Nonce:
		h.st.mu.Unlock()
		return chat.ErrUnknownPrompt
	case p.User != a.User:
		h.st.mu.Unlock()
		return chat.ErrNotYours
	}
	delete(h.st.pending, a.Prompt)
	if a.Decision == chat.AllowSession || a.Decision == chat.AllowAlways {
		h.st.grants[a.User] = true
	}
	h.st.mu.Unlock()
	h.mu.Lock()
	ch := h.waiters[a.Prompt]
	h.mu.Unlock()
	if ch == nil {
		return chat.ErrAskAgain
	}
	ch <- a
	return nil
}

func promptFor(text string) func(*event.Event) bool {
	return func(e *event.Event) bool {
		return isPrompt(e) && strings.Contains(matrixtest.Message(e).Body, "for "+text)
	}
}

func editSays(evt id.EventID, s string) func(*event.Event) bool {
	return and(editOf(evt), func(e *event.Event) bool {
		nc := matrixtest.Message(e).NewContent
		return nc != nil && strings.Contains(nc.Body, s)
	})
}

// TestPromptsSurviveKill: prompts shown when the bot is killed are known
// to the restarted bot. One answered then is picked up again (the choice
// was still pending in the hub's store, and the session grant lets the
// request run); one that expired while the bot was down is edited to say
// so, and a typed "1" replying to it is told it expired instead of
// reaching the assistant as a request; one the hub no longer has pending
// is edited as expired and its answer told so.
func TestPromptsSurviveKill(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	dir := t.TempDir()
	st := &hubStore{pending: map[ids.PromptID]chat.Prompt{}, grants: map[ids.UserID]bool{}}
	hub1 := newStoreHub(st, false)
	b1 := startBot(t, srv, dir, hub1, nil)
	alice, botID, room := dmWithBot(t, srv, b1)

	var shown []*event.Event
	for _, text := range []string{"ask one", "ask short two", "ask three"} {
		alice.SendText(t, room, text)
		pe := alice.Wait(t, wait, "prompt for "+text, and(fromIn(botID, room), promptFor(text)))
		alice.Wait(t, wait, "reactions under "+text, func(*event.Event) bool {
			return len(alice.Events(and(fromIn(botID, room), reactionTo(pe.ID)))) >= 4
		})
		shown = append(shown, pe)
	}
	p1, p2, p3 := shown[0], shown[1], shown[2]
	b1.stop()
	st.mu.Lock()
	for pid, p := range st.pending {
		if p.Data == "for ask three" {
			delete(st.pending, pid) // expired in the hub, which the bot never heard
		}
	}
	st.mu.Unlock()
	time.Sleep(1600 * time.Millisecond) // "ask short two" expires while the bot is down

	hub2 := newStoreHub(st, false)
	startBot(t, srv, dir, hub2, nil)
	alice.Wait(t, wait, "the prompt that expired while down, edited", and(fromIn(botID, room), editSays(p2.ID, "Expired")))

	alice.React(t, room, p1.ID, "🔁")
	alice.Wait(t, wait, "the answered prompt, edited", and(fromIn(botID, room), editSays(p1.ID, "Allow for this session")))
	alice.Wait(t, wait, "the request picked up again", and(fromIn(botID, room), bodyContains("done: ask one")))

	late := &event.MessageEventContent{MsgType: event.MsgText, Body: "1"}
	late.RelatesTo = (&event.RelatesTo{}).SetReplyTo(p2.ID)
	alice.Send(t, room, late)
	alice.Wait(t, wait, "late answer told", and(fromIn(botID, room), bodyContains("expired while the assistant was restarting")))

	alice.React(t, room, p3.ID, "✅")
	alice.Wait(t, wait, "no longer waiting", and(fromIn(botID, room), bodyContains("no longer waiting")))
	alice.Wait(t, wait, "its prompt edited", and(fromIn(botID, room), editSays(p3.ID, "Expired")))

	close(hub2.handled)
	var got []string
	for m := range hub2.handled {
		got = append(got, m.Text)
	}
	if strings.Join(got, "|") != "ask one" {
		t.Errorf("the restarted assistant handled %q, want only the request picked up again", got)
	}
}

// TestPromptShutdown: stopping the bot (SIGTERM) while a prompt waits
// edits it to say the assistant shut down, not that nobody answered in
// time, and the closing reply the hub sends with its cancelled context
// still arrives.
func TestPromptShutdown(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	st := &hubStore{pending: map[ids.PromptID]chat.Prompt{}, grants: map[ids.UserID]bool{}}
	b := startBot(t, srv, "", newStoreHub(st, true), nil)
	alice, botID, room := dmWithBot(t, srv, b)
	alice.SendText(t, room, "ask before stop")
	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), promptFor("ask before stop")))
	b.stop()
	edit := alice.Wait(t, wait, "prompt edit", and(fromIn(botID, room), editOf(pe.ID)))
	if body := matrixtest.Message(edit).NewContent.Body; !strings.Contains(body, "shut down") || strings.Contains(body, "Expired") {
		t.Errorf("prompt edited to %q, want it to say the assistant shut down", body)
	}
	alice.Wait(t, wait, "closing reply", and(fromIn(botID, room), bodyContains("closing reply: denied ask before stop")))
}

// TestPromptShutdownMidSend: the bot stops while the server has stored its
// prompt but has not yet answered the send; the prompt is still edited to
// say the assistant shut down (a shutdown must not leave a prompt on
// screen that the bot does not know it posted).
func TestPromptShutdownMidSend(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	px, proxied := behindFaultProxy(t, srv)
	st := &hubStore{pending: map[ids.PromptID]chat.Prompt{}, grants: map[ids.UserID]bool{}}
	b := startBot(t, proxied, "", newStoreHub(st, true), nil)
	alice, botID, room := dmWithBot(t, srv, b)
	px.slowSends.Store(1)
	alice.SendText(t, room, "ask as we stop")
	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), promptFor("ask as we stop")))
	b.stop()
	edit := alice.Wait(t, wait, "prompt edit", and(fromIn(botID, room), editOf(pe.ID)))
	if body := matrixtest.Message(edit).NewContent.Body; !strings.Contains(body, "shut down") {
		t.Errorf("prompt edited to %q, want it to say the assistant shut down", body)
	}
}
