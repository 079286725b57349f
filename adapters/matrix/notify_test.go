package matrix_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestNotifyGoesToTheUserAlone (issue 19 item 8 on Matrix): the notice that
// an account was linked in a user's name reaches that user in a room only
// they and the bot are in: never a room anyone else is in, the same room
// for the next notice, the DM the user opened when there is one, and
// nothing for a user the bot may not talk to.
func TestNotifyGoesToTheUserAlone(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	b := startBot(t, srv, "", newFake(), nil)
	botID, _ := b.Session()
	ctx := context.Background()
	opts := matrixtest.LoginOptions{Encryption: matrix.EncryptionCompiled}
	carol := srv.Login(t, srv.Register(t, "notifycarol"), opts)
	notice := func(u id.UserID, text string) error {
		return b.Notify(ctx, ids.UserID("matrix:"+string(u)), chat.Notice{Text: text, Disconnect: "google"})
	}

	// A room with carol, Bob and the bot is no place for carol's notice.
	group := carol.CreateRoom(t, "group", false, botID, srv.Bob.UserID)
	carol.WaitJoined(t, group, botID, wait)
	if err := notice(carol.UserID, "The Google account **carol@example.com** was just linked to you here. Say `!disconnect google` to undo."); err != nil {
		t.Fatal(err)
	}
	inv := carol.Wait(t, wait, "an invite to a direct room", func(e *event.Event) bool {
		return e.Type == event.StateMember && e.Sender == botID && e.GetStateKey() == string(carol.UserID) && e.RoomID != group &&
			e.Content.AsMember().Membership == event.MembershipInvite && e.Content.AsMember().IsDirect
	})
	dm := inv.RoomID
	carol.Join(t, dm)
	carol.Wait(t, wait, "the notice", and(fromIn(botID, dm), bodyContains("!disconnect google")))
	if got := carol.Events(and(fromIn(botID, group), bodyContains("linked"))); len(got) > 0 {
		t.Errorf("the notice went to a room with Bob in it: %v", got)
	}

	// The next notice goes to the same room.
	if err := notice(carol.UserID, "second notice"); err != nil {
		t.Fatal(err)
	}
	second := carol.Wait(t, wait, "the second notice", bodyContains("second notice"))
	if second.RoomID != dm {
		t.Errorf("second notice in %s, want the direct room %s", second.RoomID, dm)
	}

	// A user who opened a DM with the bot gets the notice there.
	dave := srv.Login(t, srv.Register(t, "notifydave"), opts)
	own := dave.CreateRoom(t, "dm", matrix.EncryptionCompiled, botID)
	dave.WaitJoined(t, own, botID, wait)
	if err := notice(dave.UserID, "dave's notice"); err != nil {
		t.Fatal(err)
	}
	if got := dave.Wait(t, wait, "dave's notice", bodyContains("dave's notice")); got.RoomID != own {
		t.Errorf("dave's notice in %s, want the DM he opened (%s)", got.RoomID, own)
	}

	if err := notice("@mallory:elsewhere.example", "x"); err == nil {
		t.Error("a notice to a user of a server the bot does not allow was sent")
	}
	if err := b.Notify(ctx, "slack:T1:U1", chat.Notice{Text: "x"}); err == nil {
		t.Error("a notice to a Slack user was sent on Matrix")
	}
}
