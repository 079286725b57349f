//go:build goolm || libolm

package matrix_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// TestJSClientEncryptedRestart: in an encrypted DM created by matrix-js-sdk
// with its Rust crypto, the bot reads the question and answers encrypted,
// the SDK decrypts it; after the bot restarts, the same holds.
func TestJSClientEncryptedRestart(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	dir := t.TempDir()
	b := startBot(t, srv, dir, newFake(), nil)
	botID, _ := b.Session()
	js := startJS(t, srv, srv.Alice)
	dm := js.createRoom("js secret dm", true, botID)
	js.waitJoined(dm, botID)
	js.send(dm, "secret from js", "")
	ans := js.waitEvent("the encrypted answer", fromBot(botID, dm, bodyHas("secret from js")))
	if !ans.Encrypted {
		t.Error("the bot's answer was not encrypted")
	}
	b.stop()
	startBot(t, srv, dir, newFake(), nil)
	js.send(dm, "after the restart", "")
	ans = js.waitEvent("the answer after the restart", fromBot(botID, dm, bodyHas("after the restart")))
	if !ans.Encrypted {
		t.Error("the bot's answer after the restart was not encrypted")
	}
}

// TestJSClientSASVerification: a person on matrix-js-sdk (Element's SDK),
// with cross-signing keys as Element makes them, verifies the bot's device
// by emoji from a DM, as "Verify" on the bot's profile does; the bot has
// its own cross-signing keys (bootstrapped at its first start). The bot
// shows the same emoji in the room, the person confirms on the client
// first and answers "verify yes" to the bot: the SDK then trusts the bot's
// device through cross-signing, and the bot has signed the person's master
// key with its user-signing key. This is the case mautrix's helper failed
// ("master keys do not match", TestMautrixSASConfirmAfterTheirMAC) before
// the bot held the person's MAC back until its own confirmation.
func TestJSClientSASVerification(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	botAcct := srv.Register(t, "sasbot")
	b := startBot(t, srv, "", newFake(), func(c *matrix.Config) { c.UserID, c.Password = string(botAcct.UserID), botAcct.Password })
	botID, botDevice := b.Session()
	person := srv.Register(t, "sasjs")
	js := startJS(t, srv, person)
	js.call("bootstrapCrossSigning", nil)
	dm := js.createRoom("verify the bot", true, botID)
	js.waitJoined(dm, botID)

	done := js.start("verify", map[string]any{"room": dm, "user": botID, "device": botDevice})
	go func() {
		// A verification the SDK gives up on ends the wait for the emoji.
		if res := <-done; res["error"] != nil {
			t.Errorf("verification failed in the SDK: %v", res["error"])
			js.mu.Lock()
			js.events = append(js.events, jsEvent{Sender: string(botID), Room: dm, Body: "SDK failed: Compare these emoji"})
			close(js.changed)
			js.changed = make(chan struct{})
			js.mu.Unlock()
		} else {
			js.finished <- res
		}
	}()
	shown := js.waitEvent("the bot's emoji", fromBot(botID, dm, bodyHas("Compare these emoji")))
	if strings.HasPrefix(shown.Body, "SDK failed") {
		t.FailNow()
	}
	deadline := time.Now().Add(wait)
	var sas string
	for sas == "" && time.Now().Before(deadline) {
		js.mu.Lock()
		if len(js.sas) > 0 {
			sas = js.sas[0]
		}
		js.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	if sas == "" {
		t.Fatal("the SDK showed no emoji")
	}
	for _, e := range sas {
		if e == '\uFE0F' || e == '\uFE0E' {
			continue // variation selectors: clients differ
		}
		if !strings.ContainsRune(shown.Body, e) {
			t.Fatalf("the bot's emoji %q lack %q of the SDK's %q", shown.Body, e, sas)
		}
	}
	js.send(dm, "verify yes", "")
	var res map[string]any
	select {
	case res = <-js.finished:
	case <-time.After(wait):
		t.Fatal("the verification did not finish")
	}
	if res["verified"] != true || res["crossSigned"] != true {
		t.Errorf("the SDK's trust in the bot's device after verifying: %v", res)
	}
	js.waitEvent("the bot says verified", fromBot(botID, dm, bodyHas("Verified")))

	// The bot uploads its signature of the person's master key as the
	// verification ends; give it a moment. A server shows a user's
	// signatures on others' keys only to that user: ask as the bot.
	mc := srv.Login(t, botAcct, matrixtest.LoginOptions{})
	deadline = time.Now().Add(wait)
	for {
		keys, err := mc.QueryKeys(context.Background(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{person.UserID: mautrix.DeviceIDList{}}})
		if err != nil {
			t.Fatal(err)
		}
		mk, ok := keys.MasterKeys[person.UserID]
		if ok && len(mk.Signatures[botID]) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not sign the person's master key: %+v", mk)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
