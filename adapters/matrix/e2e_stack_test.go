package matrix_test

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestWholeStack runs the real hub (offline model, the apps' code in
// in-process spokes, bolt store) behind the adapter: a ride question in a
// DM yields one plan prompt for both apps; alice allows it with a click
// (bob's click is ignored) and the fares come back computed by the apps.
func TestWholeStack(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride", "metro_hail"}})
	b := startBot(t, srv, "", h, nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	bob := srv.Login(t, srv.Bob, matrixtest.LoginOptions{})
	botID, _ := b.Session()
	room := alice.CreateRoom(t, "stack", false, botID, srv.Bob.UserID)
	bob.Join(t, room)
	alice.WaitJoined(t, room, botID, wait)

	q := alice.SendText(t, room, "!secgpt Use both metro_hail and quick_ride to calculate the fares for a trip from 'Main Street' to 'Elm Avenue'.")
	answered := map[id.EventID]bool{}
	for len(answered) < 1 {
		pe := alice.Wait(t, wait, "an unanswered prompt", func(e *event.Event) bool {
			return fromIn(botID, room)(e) && isPrompt(e) && !answered[e.ID]
		})
		if threadParent(matrixtest.Message(pe)) != q {
			t.Errorf("prompt not in the question's thread")
		}
		if len(answered) == 0 {
			bob.React(t, room, pe.ID, "✅")
		}
		alice.React(t, room, pe.ID, "✅")
		edit := alice.Wait(t, wait, "prompt edit", and(fromIn(botID, room), editOf(pe.ID)))
		if nc := matrixtest.Message(edit).NewContent; nc == nil || !strings.Contains(nc.Body, "by "+string(srv.Alice.UserID)) {
			t.Errorf("edit does not name alice: %+v", nc)
		}
		answered[pe.ID] = true
	}
	// The reply is streamed: a placeholder, then edits, the last of which
	// holds the whole answer (an edit's own body is a shortened fallback).
	ans := alice.Wait(t, wait, "fares", and(fromIn(botID, room), shownContains("51.80")))
	if body := shown(ans); !strings.Contains(body, "57.00") {
		t.Errorf("answer lacks the first fare: %q", body)
	}
	if n := len(alice.Events(and(fromIn(botID, room), isPrompt))); n != 1 {
		t.Errorf("%d prompts, want 1 (bob's click must not count)", n)
	}
}

// shown is a message's text as a client displays it: an edit's new
// content, or the message's own body.
func shown(e *event.Event) string {
	m := matrixtest.Message(e)
	switch {
	case m == nil:
		return ""
	case m.NewContent != nil:
		return m.NewContent.Body
	}
	return m.Body
}

func shownContains(s string) func(*event.Event) bool {
	return func(e *event.Event) bool { return strings.Contains(shown(e), s) }
}
