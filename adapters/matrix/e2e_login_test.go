package matrix_test

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// TestAccessTokenLogin: with an access token the bot uses that token's
// device and answers.
func TestAccessTokenLogin(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	cli, err := mautrix.NewClient(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Login(context.Background(), &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(srv.Bot.UserID)},
		Password:   srv.Bot.Password,
	})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	b := startBot(t, srv, "", fake, func(c *matrix.Config) {
		c.Password, c.UserID, c.AccessToken = "", "", resp.AccessToken
	})
	botID, dev := b.Session()
	if botID != srv.Bot.UserID || dev != resp.DeviceID {
		t.Fatalf("session = %s/%s, want %s/%s", botID, dev, srv.Bot.UserID, resp.DeviceID)
	}
	alice, _, room := dmWithBot(t, srv, b)
	alice.SendText(t, room, "token works")
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("token works")))
}

// TestStaleTokenRelogin: when the stored token has been logged out, the bot
// logs in again with its password and keeps its device ID.
func TestStaleTokenRelogin(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	dir := t.TempDir()
	b1 := startBot(t, srv, dir, newFake(), nil)
	_, dev := b1.Session()
	b1.stop()

	// Log the stored token out, as an admin or a "sign out all sessions" would.
	st := readSession(t, dir)
	cli, err := mautrix.NewClient(srv.URL, srv.Bot.UserID, st.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Logout(context.Background()); err != nil {
		t.Fatalf("logout: %v", err)
	}

	fake := newFake()
	b2 := startBot(t, srv, dir, fake, nil)
	if _, dev2 := b2.Session(); dev2 != dev {
		t.Errorf("device after re-login = %s, want %s", dev2, dev)
	}
	if st2 := readSession(t, dir); st2.AccessToken == st.AccessToken || st2.AccessToken == "" {
		t.Errorf("stored token not replaced after re-login")
	}
	alice, botID, room := dmWithBot(t, srv, b2)
	alice.SendText(t, room, "after relogin")
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("after relogin")))
}

// TestLongAnswer: an answer far over one event's size arrives as several
// messages, in order, with nothing lost.
func TestLongAnswer(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice, botID, room := dmWithBot(t, srv, b)

	var words []string
	for i := 0; i < 9000; i++ {
		words = append(words, "w"+strings.Repeat("x", i%7))
	}
	long := strings.Join(words, " ") + " END"
	alice.SendText(t, room, long)
	alice.Wait(t, wait, "last part", and(fromIn(botID, room), bodyContains("END")))
	parts := alice.Events(and(fromIn(botID, room), func(e *event.Event) bool { return matrixtest.Message(e) != nil }))
	if len(parts) < 3 {
		t.Fatalf("%d messages for a %d-byte answer, want it split", len(parts), len(long))
	}
	var got []string
	for _, p := range parts {
		got = append(got, strings.Fields(matrixtest.Message(p).Body)...)
	}
	want := strings.Fields("**echo**: " + long)
	if strings.Join(got, " ") != strings.Join(want, " ") && strings.Join(got[1:], " ") != strings.Join(want[1:], " ") {
		t.Errorf("split answer does not reassemble to the original (%d vs %d words)", len(got), len(want))
	}
}

// TestStartsWhileHomeserverDown: a homeserver that fails the bot's first
// requests (more than one request's retries) is waited for.
func TestStartsWhileHomeserverDown(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	px, proxied := behindFaultProxy(t, srv)
	px.down.Store(8)
	b := startBot(t, proxied, "", newFake(), nil)
	if n := px.down.Load(); n != 0 {
		t.Fatalf("bot started with %d injected failures unused", n)
	}
	alice, botID, room := dmWithBot(t, srv, b)
	alice.SendText(t, room, "you made it")
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), bodyContains("you made it")))
}
