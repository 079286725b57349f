//go:build goolm || libolm

package matrix_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

func encrypted(e *event.Event) bool { return e.Type == event.EventEncrypted }

func decrypted(e *event.Event) bool { return e.Mautrix.EventSource&event.SourceDecrypted != 0 }

// TestEncryptedRoom: in an encrypted DM the bot decrypts the question,
// answers encrypted, shows an encrypted prompt whose reaction works and whose
// edit decrypts, and after a restart still reads the room with the same
// device and keys.
func TestEncryptedRoom(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	dir := t.TempDir()
	fake := newFake()
	b := startBot(t, srv, dir, fake, nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{Encryption: true})
	botID, dev := b.Session()
	room := alice.CreateRoom(t, "secret dm", true, botID)
	alice.WaitJoined(t, room, botID, wait)

	alice.SendText(t, room, "secret hello")
	if m := fake.next(t); m.Text != "secret hello" {
		t.Fatalf("bot read %q", m.Text)
	}
	alice.Wait(t, wait, "decrypted answer", and(fromIn(botID, room), decrypted, bodyContains("secret hello")))
	if n := len(alice.Events(and(fromIn(botID, room), encrypted))); n == 0 {
		t.Error("the bot's answer did not travel encrypted")
	}
	if n := len(alice.Events(and(fromIn(botID, room), func(e *event.Event) bool { return e.Type == event.EventMessage && !decrypted(e) }))); n > 0 {
		t.Errorf("the bot sent %d plaintext messages into the encrypted room", n)
	}

	alice.SendText(t, room, "ask in secret")
	pe := alice.Wait(t, wait, "decrypted prompt", and(fromIn(botID, room), decrypted, isPrompt))
	fake.next(t)
	alice.React(t, room, pe.ID, "♾")
	edit := alice.Wait(t, wait, "decrypted edit", and(fromIn(botID, room), decrypted, editOf(pe.ID)))
	if nc := matrixtest.Message(edit).NewContent; nc == nil || !strings.Contains(nc.Body, "Always allow") {
		t.Errorf("edit = %+v", nc)
	}
	alice.Wait(t, wait, "answer", and(fromIn(botID, room), decrypted, bodyContains("decision always")))

	b.stop()
	fake2 := newFake()
	b2 := startBot(t, srv, dir, fake2, nil)
	if _, dev2 := b2.Session(); dev2 != dev {
		t.Fatalf("device after restart = %s, want %s", dev2, dev)
	}
	alice.SendText(t, room, "still secret")
	if m := fake2.next(t); m.Text != "still secret" {
		t.Fatalf("restarted bot read %q", m.Text)
	}
	alice.Wait(t, wait, "answer after restart", and(fromIn(botID, room), decrypted, bodyContains("still secret")))
}

// TestCrossSigning: SetupCrossSigning returns a recovery key, and a new
// device of the bot started with it is signed by the bot's self-signing key,
// which is what clients that refuse unverified devices check.
func TestCrossSigning(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	cfg := matrix.Config{
		Homeserver: srv.URL, UserID: string(srv.Bot.UserID), Password: srv.Bot.Password,
		StateDir: t.TempDir(), AllowServers: []string{srv.ServerName},
	}
	setup, err := matrix.New(cfg, newFake(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rk, err := setup.SetupCrossSigning(ctx)
	if err != nil {
		t.Fatalf("SetupCrossSigning: %v", err)
	}
	if rk == "" {
		t.Fatal("empty recovery key")
	}

	b := startBot(t, srv, "", newFake(), func(c *matrix.Config) { c.RecoveryKey = rk })
	botID, dev := b.Session()
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	keys, err := alice.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{botID: mautrix.DeviceIDList{}}})
	if err != nil {
		t.Fatal(err)
	}
	ssk, ok := keys.SelfSigningKeys[botID]
	if !ok {
		t.Fatal("bot has no self-signing key on the server")
	}
	var sskID id.KeyID
	for k := range ssk.Keys {
		sskID = k
	}
	device, ok := keys.DeviceKeys[botID][dev]
	if !ok {
		t.Fatalf("device %s not on the server", dev)
	}
	if _, ok := device.Signatures[botID][sskID]; !ok {
		t.Errorf("device %s is not signed by the self-signing key %s: %v", dev, sskID, device.Signatures)
	}
}

// TestWithheldKeyTold: a client that sends room keys only to verified
// devices withholds them from the bot (m.unverified); the bot cannot read
// the message and says so, naming the reason, instead of staying silent.
func TestWithheldKeyTold(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	fake := newFake()
	b := startBot(t, srv, "", fake, nil)
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{Encryption: true, SendKeysMinTrust: id.TrustStateCrossSignedVerified})
	botID, _ := b.Session()
	room := alice.CreateRoom(t, "strict dm", true, botID)
	alice.WaitJoined(t, room, botID, wait)

	alice.SendText(t, room, "can you read this?")
	n := alice.Wait(t, wait, "notice about the withheld key", and(fromIn(botID, room), decrypted, bodyContains("can't read your message")))
	if body := matrixtest.Message(n).Body; !strings.Contains(body, "not verified") {
		t.Errorf("notice %q does not say the key was withheld because the bot is not verified", body)
	}
	select {
	case m := <-fake.handled:
		t.Errorf("the assistant got %q from a message the bot cannot read", m.Text)
	default:
	}
}

// signedBySSK reports whether user's device dev is signed by user's
// self-signing key on the server.
func signedBySSK(t *testing.T, c *matrixtest.Client, user id.UserID, dev id.DeviceID) bool {
	t.Helper()
	keys, err := c.QueryKeys(context.Background(), &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{user: mautrix.DeviceIDList{}}})
	if err != nil {
		t.Fatal(err)
	}
	ssk, ok := keys.SelfSigningKeys[user]
	if !ok {
		return false
	}
	device, ok := keys.DeviceKeys[user][dev]
	if !ok {
		t.Fatalf("device %s not on the server", dev)
	}
	for k := range ssk.Keys {
		if _, ok := device.Signatures[user][k]; ok {
			return true
		}
	}
	return false
}

// TestCrossSigningBootstrap: a bot on an account without cross-signing
// keys, and no recovery key configured, creates the keys at its first
// start, signs its device and keeps the recovery key in its session file
// (mode 0600); a second device of the same account started without the
// key leaves the account's keys alone (and stays unsigned) instead of
// replacing them.
func TestCrossSigningBootstrap(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	acct := srv.Register(t, "xsbot")
	asBot := func(c *matrix.Config) { c.UserID, c.Password = string(acct.UserID), acct.Password }
	dir := t.TempDir()
	b := startBot(t, srv, dir, newFake(), asBot)
	_, dev := b.Session()
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{})
	if !signedBySSK(t, alice, acct.UserID, dev) {
		t.Fatal("the bot's first device is not cross-signed after its first start")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "matrix-session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		RecoveryKey string `json:"recovery_key"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.RecoveryKey == "" {
		t.Fatalf("no recovery key in the session file: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "matrix-session.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, %v", fi.Mode(), err)
	}
	b.stop()

	b2 := startBot(t, srv, "", newFake(), asBot)
	_, dev2 := b2.Session()
	if dev2 == dev {
		t.Fatal("a fresh data directory reused the device")
	}
	if !signedBySSK(t, alice, acct.UserID, dev) {
		t.Error("the second start replaced the account's cross-signing keys: the first device lost its signature")
	}
	b2.stop()

	// With the stored recovery key (its data directory), a new device is
	// signed too.
	b3 := startBot(t, srv, "", newFake(), func(c *matrix.Config) { asBot(c); c.RecoveryKey = s.RecoveryKey })
	if _, dev3 := b3.Session(); !signedBySSK(t, alice, acct.UserID, dev3) {
		t.Error("the stored recovery key does not sign a new device")
	}
}

// TestVerificationRefusedWithoutSigningKeys: a bot device that holds no
// private cross-signing keys (the account has keys, made by an earlier
// start, and this data directory has no recovery key) could not sign the
// person's master key at the end of an emoji verification; it cancels the
// request at once and says why, instead of after the emoji were compared.
func TestVerificationRefusedWithoutSigningKeys(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	acct := srv.Register(t, "nokeysbot")
	asBot := func(c *matrix.Config) { c.UserID, c.Password = string(acct.UserID), acct.Password }
	startBot(t, srv, "", newFake(), asBot).stop() // creates the account's keys
	b := startBot(t, srv, "", newFake(), asBot)
	alice, botID, room := dmWithBot(t, srv, b)
	req := alice.Send(t, room, &event.MessageEventContent{MsgType: event.MsgVerificationRequest, Body: "alice is requesting to verify your key",
		To: botID, FromDevice: alice.DeviceID, Methods: []event.VerificationMethod{event.VerificationMethodSAS}})
	cancel := alice.Wait(t, wait, "in-room cancellation", and(fromIn(botID, room), func(e *event.Event) bool {
		return e.Type == event.InRoomVerificationCancel
	}))
	if c := parseCancel(t, cancel); c.RelatesTo == nil || c.RelatesTo.EventID != req || !strings.Contains(c.Reason, "recovery_key") {
		t.Errorf("in-room cancellation %+v", c)
	}
}
