package matrix_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// relElementThread is the unstable thread relation clients use on servers
// without stable threads.
const relElementThread event.RelationType = "io.element.thread"

// threadParent is the thread root of a message under either relation name.
func threadParent(m *event.MessageEventContent) id.EventID {
	if m == nil || m.RelatesTo == nil || (m.RelatesTo.Type != event.RelThread && m.RelatesTo.Type != relElementThread) {
		return ""
	}
	return m.RelatesTo.EventID
}

// inThread builds a text message in thread root under relation rel, with
// the reply fallback (to fallback) that clients add for thread-unaware
// clients.
func inThread(text string, rel event.RelationType, root, fallback id.EventID) *event.MessageEventContent {
	c := &event.MessageEventContent{MsgType: event.MsgText, Body: text}
	c.RelatesTo = (&event.RelatesTo{}).SetThread(root, fallback)
	c.RelatesTo.Type = rel
	return c
}

// TestElementThreads: on a homeserver without stable threads (Dendrite
// advertises up to v1.2), the bot starts threads with io.element.thread, as
// clients there do and show; a typed answer sent in such a thread reaches
// the prompt waiting there; a message that uses m.thread is answered with
// m.thread.
func TestElementThreads(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	botID, _ := b.Session()
	v, err := alice.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.ContainsGreaterOrEqual(mautrix.SpecV14) {
		t.Fatalf("this homeserver advertises stable threads (%v); the test needs one that does not", v.Versions)
	}

	// Three members: a room, not a DM, so the bot answers in a thread.
	room := alice.CreateRoom(t, "threads", false, botID, srv.Bob.UserID)
	alice.WaitJoined(t, room, botID, wait)
	q := alice.SendText(t, room, "!secgpt ask for a ride")
	fake.next(t)
	pe := alice.Wait(t, wait, "prompt", and(fromIn(botID, room), isPrompt))
	pm := matrixtest.Message(pe)
	if pm.RelatesTo == nil || pm.RelatesTo.Type != relElementThread || pm.RelatesTo.EventID != q {
		t.Fatalf("prompt relation %+v, want io.element.thread to %s", pm.RelatesTo, q)
	}

	// Typed in the thread, not as a reply to the prompt: the fallback
	// points at the thread's root.
	alice.Send(t, room, inThread("allow once", relElementThread, q, q))
	ans := alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("decision once")))
	if am := matrixtest.Message(ans); am.RelatesTo == nil || am.RelatesTo.Type != relElementThread || am.RelatesTo.EventID != q {
		t.Errorf("answer relation %+v, want io.element.thread to %s", am.RelatesTo, q)
	}

	// A client that sends m.thread gets m.thread back.
	alice.Send(t, room, inThread("!secgpt hello there", event.RelThread, q, ans.ID))
	if m := fake.next(t); m.Text != "hello there" {
		t.Errorf("assistant got %q", m.Text)
	}
	echo := alice.Wait(t, wait, "echo", and(fromIn(botID, room), bodyContains("hello there")))
	if em := matrixtest.Message(echo); em.RelatesTo == nil || em.RelatesTo.Type != event.RelThread || em.RelatesTo.EventID != q {
		t.Errorf("echo relation %+v, want m.thread to %s", em.RelatesTo, q)
	}
}
