//go:build !goolm && !libolm

package matrix_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// TestEncryptedRoomWithoutE2EE: a build without encryption tells an
// encrypted room once that it cannot read it, instead of staying silent.
func TestEncryptedRoomWithoutE2EE(t *testing.T) {
	if matrix.EncryptionCompiled {
		t.Fatal("this file is for builds without encryption")
	}
	srv := matrixtest.Homeserver(t)
	b := startBot(t, srv, "", newFake(), nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	botID, _ := b.Session()
	room := alice.CreateRoom(t, "enc", true, botID)
	alice.WaitJoined(t, room, botID, wait)

	// What a client's encrypted message looks like to a server (the
	// ciphertext need not be valid: the bot cannot decrypt anything).
	bogus := &event.EncryptedEventContent{Algorithm: id.AlgorithmMegolmV1, MegolmCiphertext: []byte("AwgA"), SessionID: "s", SenderKey: "k"}
	for i := 0; i < 2; i++ {
		if _, err := alice.SendMessageEvent(context.Background(), room, event.EventEncrypted, bogus); err != nil {
			t.Fatal(err)
		}
	}
	alice.Wait(t, wait, "notice", and(fromIn(botID, room), bodyContains("can't read encrypted messages")))
	alice.SendText(t, room, "plain after")
	alice.Wait(t, wait, "answer to plain text", and(fromIn(botID, room), bodyContains("plain after")))
	if n := len(alice.Events(and(fromIn(botID, room), bodyContains("can't read encrypted")))); n != 1 {
		t.Errorf("%d notices, want 1", n)
	}
}
