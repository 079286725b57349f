//go:build goolm || libolm

package matrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/cryptodb"
)

// EncryptionCompiled reports whether this build can use end-to-end
// encryption (built with -tags goolm or -tags libolm).
const EncryptionCompiled = true

// cryptoFile is the crypto store (Olm account, Megolm sessions, device
// lists, room state) beside the session file.
const cryptoFile = "matrix-crypto.db"

// initCrypto sets up mautrix's crypto helper on a SQLite store in StateDir.
// The store keeps the Olm account, so the same device keeps its keys across
// restarts; the pickle key encrypts them at rest.
func (a *Adapter) initCrypto(ctx context.Context) (io.Closer, error) {
	if a.cfg.DisableEncryption {
		return nil, nil
	}
	key := a.cfg.PickleKey
	if key == "" {
		var err error
		if key, err = a.store.pickleKey(); err != nil {
			return nil, err
		}
	}
	h, err := a.openCrypto(ctx, key)
	if err != nil && strings.Contains(err.Error(), "keys seem to have disappeared from the server") {
		// The device was deleted on the server (a logout, "sign out all
		// sessions") and the bot logged in again under the same device ID:
		// its old Olm identity can never be used again. Keep the old store
		// for forensics and start a new identity.
		old := filepath.Join(a.cfg.StateDir, fmt.Sprintf("%s.%d.old", cryptoFile, time.Now().Unix()))
		a.log.Warn("matrix device was deleted on the server; starting a new encryption identity", "old_store", old)
		if rerr := os.Rename(filepath.Join(a.cfg.StateDir, cryptoFile), old); rerr != nil {
			return nil, fmt.Errorf("%w (and moving the store away failed: %v)", err, rerr)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			_ = os.Rename(filepath.Join(a.cfg.StateDir, cryptoFile+suffix), old+suffix)
		}
		h, err = a.openCrypto(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	a.cli.Crypto = h
	// The directory is 0700 already; keep the store itself private too.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Chmod(filepath.Join(a.cfg.StateDir, cryptoFile+suffix), 0o600)
	}
	if a.cfg.RecoveryKey != "" {
		if err := h.Machine().VerifyWithRecoveryKey(ctx, a.cfg.RecoveryKey); err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("cross-sign device with recovery key: %w", err)
		}
		a.log.Info("matrix device cross-signed with the recovery key")
	}
	return h, nil
}

// openCrypto opens the store and loads (or creates) the device's Olm account.
func (a *Adapter) openCrypto(ctx context.Context, key string) (*cryptohelper.CryptoHelper, error) {
	db, err := cryptodb.Open(filepath.Join(a.cfg.StateDir, cryptoFile))
	if err != nil {
		return nil, err
	}
	h, err := cryptohelper.NewCryptoHelper(a.cli, []byte(key), db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open crypto store: %w", err)
	}
	h.DecryptErrorCallback = func(evt *event.Event, err error) { go a.onDecryptError(h, evt, err) }
	if err := h.Init(ctx); err != nil {
		_ = h.Close()
		a.cli.StateStore = nil // it lived in the closed database
		return nil, fmt.Errorf("init crypto (if the device changed, move %s away): %w", cryptoFile, err)
	}
	return h, nil
}

// SetupCrossSigning logs the bot in, creates its cross-signing keys, signs
// its device with them, stores the private keys in secret storage and
// returns the recovery key. Run it once per account (it replaces existing
// cross-signing keys); later devices of the bot verify themselves with
// Config.RecoveryKey. The homeserver asks for the account password.
func (a *Adapter) SetupCrossSigning(ctx context.Context) (string, error) {
	if a.cfg.Password == "" {
		return "", errors.New("setting up cross-signing needs the bot's password")
	}
	if a.cfg.DisableEncryption {
		return "", errors.New("encryption is disabled in the config")
	}
	if err := a.login(ctx); err != nil {
		return "", err
	}
	cfg := a.cfg
	a.cfg.RecoveryKey = ""
	closer, err := a.initCrypto(ctx)
	a.cfg = cfg
	if err != nil {
		return "", err
	}
	defer closer.Close()
	h := closer.(*cryptohelper.CryptoHelper)
	mach := h.Machine()
	rk, _, err := mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, a.cfg.Password, "")
	if err != nil {
		return "", fmt.Errorf("create cross-signing keys: %w", err)
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return "", fmt.Errorf("sign own device: %w", err)
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		return "", fmt.Errorf("sign own master key: %w", err)
	}
	return rk, nil
}
