//go:build goolm || libolm

package matrix_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/crypto/ssss"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// TestKeyBackup: at its first start the bot creates a key backup (its key
// in secret storage, under the recovery key it keeps), uploads the room
// keys it receives and creates, readable by any client with the recovery
// key; and a new device of the bot (fresh data directory, same account and
// recovery key) restores them and decrypts a message sent before it
// existed, without the sender's client sharing the key again.
func TestKeyBackup(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	acct := srv.Register(t, "backupbot")
	asBot := func(c *matrix.Config) { c.UserID, c.Password = string(acct.UserID), acct.Password }
	fake := newFake()
	dir := t.TempDir()
	b := startBot(t, srv, dir, fake, asBot)
	botID, _ := b.Session()
	alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{Encryption: true})
	room := alice.CreateRoom(t, "backup dm", true, botID)
	alice.WaitJoined(t, room, botID, wait)
	first := alice.SendText(t, room, "before the new device")
	if m := fake.next(t); m.Text != "before the new device" {
		t.Fatalf("bot read %q", m.Text)
	}
	answer := alice.Wait(t, wait, "decrypted answer", and(fromIn(botID, room), decrypted, bodyContains("before the new device")))

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

	// Another login of the bot's account reads the backup as a person's
	// client would: the backup key from secret storage, with the recovery key.
	ctx := context.Background()
	other := srv.Login(t, acct, matrixtest.LoginOptions{})
	sm := ssss.NewSSSSMachine(other.Client)
	keyID, keyData, err := sm.GetDefaultKeyData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ssssKey, err := keyData.VerifyRecoveryKey(keyID, s.RecoveryKey)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := sm.GetDecryptedAccountData(ctx, event.AccountDataMegolmBackupKey, ssssKey)
	if err != nil {
		t.Fatalf("no backup key in secret storage: %v", err)
	}
	bk, err := backup.MegolmBackupKeyFromBytes(secret)
	if err != nil {
		t.Fatal(err)
	}
	sessionOf := func(evt id.EventID) id.SessionID {
		e, err := other.GetEvent(ctx, room, evt)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Content.ParseRaw(e.Type); err != nil {
			t.Fatal(err)
		}
		return e.Content.AsEncrypted().SessionID
	}
	want := map[id.SessionID]string{sessionOf(first): "alice's", sessionOf(answer.ID): "the bot's"}
	deadline := time.Now().Add(wait)
	for {
		latest, err := other.GetKeyBackupLatestVersion(ctx)
		if err != nil {
			t.Fatalf("no key backup: %v", err)
		}
		if latest.Algorithm != id.KeyBackupAlgorithmMegolmBackupV1 || latest.AuthData.PublicKey != id.Ed25519(encodeKey(bk)) {
			t.Fatalf("backup %+v does not match the key in secret storage", latest)
		}
		if len(latest.AuthData.Signatures[acct.UserID]) == 0 {
			t.Error("the backup is not signed by the bot's account")
		}
		keys, err := other.GetKeyBackup(ctx, latest.Version)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for sid, whose := range want {
			d, ok := keys.Rooms[room].Sessions[sid]
			if !ok {
				missing++
				continue
			}
			sd, err := d.SessionData.Decrypt(bk)
			if err != nil || sd.SessionKey == "" || sd.Algorithm != id.AlgorithmMegolmV1 {
				t.Fatalf("%s session in the backup does not decrypt: %v", whose, err)
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the room's sessions not in the backup: have %v", missing, keys.Rooms[room])
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.stop()

	// A new device: a fresh data directory and crypto store, the same
	// account and recovery key.
	b2 := startBot(t, srv, "", newFake(), func(c *matrix.Config) { asBot(c); c.RecoveryKey = s.RecoveryKey })
	if _, dev2 := b2.Session(); dev2 == "" {
		t.Fatal("no device")
	}
	body, src, err := b2.DecryptStored(ctx, room, first)
	if err != nil {
		t.Fatalf("the new device cannot decrypt the earlier message: %v", err)
	}
	if body != "before the new device" || src != id.KeySourceBackup {
		t.Errorf("decrypted %q with a key from %q, want the message with a key from the backup", body, src)
	}
	b2.stop()

	// New cross-signing keys (--setup-cross-signing) replace the secret
	// storage key; the backup's key is carried over, so the new recovery
	// key still restores the backup.
	setup, err := matrix.New(matrix.Config{
		Homeserver: srv.URL, UserID: string(acct.UserID), Password: acct.Password, RecoveryKey: s.RecoveryKey,
		StateDir: t.TempDir(), AllowServers: []string{srv.ServerName},
	}, newFake(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rk2, err := setup.SetupCrossSigning(ctx)
	if err != nil || rk2 == "" || rk2 == s.RecoveryKey {
		t.Fatalf("SetupCrossSigning = %q, %v", rk2, err)
	}
	b3 := startBot(t, srv, "", newFake(), func(c *matrix.Config) { asBot(c); c.RecoveryKey = rk2 })
	if body, src, err := b3.DecryptStored(ctx, room, first); err != nil || body != "before the new device" || src != id.KeySourceBackup {
		t.Errorf("after new cross-signing keys: decrypted %q from %q: %v", body, src, err)
	}
}

// encodeKey is a backup's auth_data public_key for its private key.
func encodeKey(k *backup.MegolmBackupKey) string {
	return base64.RawStdEncoding.EncodeToString(k.PublicKey().Bytes())
}
