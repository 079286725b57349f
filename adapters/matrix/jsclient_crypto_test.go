//go:build goolm || libolm

package matrix_test

import (
	"testing"

	"github.com/secgpt-go/secgpt/adapters/matrix/matrixtest"
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
