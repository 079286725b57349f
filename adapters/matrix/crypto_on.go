//go:build goolm || libolm

package matrix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/backup"
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
// restarts; the pickle key encrypts them at rest. The device is
// cross-signed with the configured or stored recovery key, or with keys
// created now (bootstrapCrossSigning); the same key opens the server-side
// key backup (startKeyBackup).
func (a *Adapter) initCrypto(ctx context.Context) (io.Closer, error) {
	c, err := a.startCrypto(ctx, true)
	if err != nil || c == nil {
		return c, err
	}
	h := c.(*cryptohelper.CryptoHelper)
	if kb := a.startKeyBackup(ctx, h.Machine()); kb != nil {
		return closers{kb, h}, nil
	}
	return h, nil
}

// closers closes each in turn, and returns the first error.
type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// startCrypto is initCrypto; bootstrap false leaves an account without
// cross-signing keys as it is (SetupCrossSigning makes its own).
func (a *Adapter) startCrypto(ctx context.Context, bootstrap bool) (io.Closer, error) {
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
	if err := a.initVerification(ctx, h); err != nil {
		_ = h.Close()
		return nil, err
	}
	// The directory is 0700 already; keep the store itself private too.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Chmod(filepath.Join(a.cfg.StateDir, cryptoFile+suffix), 0o600)
	}
	switch {
	case a.cfg.RecoveryKey != "":
		if err := h.Machine().VerifyWithRecoveryKey(ctx, a.cfg.RecoveryKey); err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("cross-sign device with recovery key: %w", err)
		}
		a.log.Info("matrix device cross-signed with the recovery key")
	case !bootstrap:
	case a.store.get().RecoveryKey != "":
		// The account's keys may have been replaced since (by a person's
		// client or --setup-cross-signing): then run unsigned, and say so.
		if err := h.Machine().VerifyWithRecoveryKey(ctx, a.store.get().RecoveryKey); err != nil {
			a.log.Warn("matrix device not cross-signed: the recovery key stored in "+sessionFile+" no longer works; set matrix.recovery_key", "err", err)
		} else {
			a.log.Info("matrix device cross-signed with the stored recovery key")
		}
	default:
		a.bootstrapCrossSigning(ctx, h)
	}
	return h, nil
}

// bootstrapCrossSigning gives an account without cross-signing keys a set
// at the bot's first start, signs the bot's device with them and keeps the
// recovery key in the session file (mode 0600, like the pickle key), so the
// bot's device is cross-signed by default and clients that exclude
// unverified devices send it their keys. An account that already has keys
// (made by a person's client, or by --setup-cross-signing) is never
// changed: without its recovery key the device stays unsigned, and the log
// says how to fix that. Failures are logged; the bot runs on unsigned.
func (a *Adapter) bootstrapCrossSigning(ctx context.Context, h *cryptohelper.CryptoHelper) {
	if a.cfg.Password == "" {
		a.log.Warn("matrix device not cross-signed: set matrix.recovery_key, or matrix.password so the bot can create its keys")
		return
	}
	self := a.cli.UserID
	keys, err := a.cli.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{self: mautrix.DeviceIDList{}}})
	if err != nil {
		a.log.Warn("matrix device not cross-signed: cannot look up the account's keys", "err", err)
		return
	}
	if _, ok := keys.MasterKeys[self]; ok {
		a.log.Warn("matrix device not cross-signed: the account has cross-signing keys but no recovery key was given; " +
			"set matrix.recovery_key (or run secgpt matrix --setup-cross-signing to replace the keys)")
		return
	}
	mach := h.Machine()
	rk, _, err := mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, a.cfg.Password, "")
	if err != nil {
		a.log.Warn("matrix device not cross-signed: creating cross-signing keys failed", "err", err)
		return
	}
	// Kept before signing: the keys are on the server now, and only this
	// key unlocks them.
	if err := a.store.update(func(s *session) { s.RecoveryKey = rk }); err != nil {
		a.log.Error("matrix recovery key not stored; run secgpt matrix --setup-cross-signing to make new keys", "err", err)
		return
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		a.log.Warn("matrix device not cross-signed: signing it failed", "err", err)
		return
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		a.log.Warn("matrix master key not signed by the device", "err", err)
	}
	a.log.Info("created cross-signing keys for the matrix account and signed the bot's device; the recovery key is in " + sessionFile)
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
	closer, err := a.startCrypto(ctx, false)
	a.cfg = cfg
	if err != nil {
		return "", err
	}
	defer closer.Close()
	h := closer.(*cryptohelper.CryptoHelper)
	mach := h.Machine()
	// The key backup's key lives in secret storage, which gets a new key
	// now: carry it over if the old recovery key still reads it.
	var backupKey *backup.MegolmBackupKey
	if old := cmp.Or(cfg.RecoveryKey, a.store.get().RecoveryKey); old != "" {
		if sk, err := secretStorageKey(ctx, mach, old); err == nil {
			backupKey, _ = backupKeyFromSSSS(ctx, mach, sk)
		}
	}
	rk, _, err := mach.GenerateAndUploadCrossSigningKeysWithPassword(ctx, a.cfg.Password, "")
	if err != nil {
		return "", fmt.Errorf("create cross-signing keys: %w", err)
	}
	if backupKey != nil {
		sk, err := secretStorageKey(ctx, mach, rk)
		if err == nil {
			err = mach.SSSS.SetEncryptedAccountData(ctx, event.AccountDataMegolmBackupKey, backupKey.Bytes(), sk)
		}
		if err != nil {
			a.log.Warn("matrix key backup key not kept under the new recovery key; the bot will leave the backup alone", "err", err)
		}
	}
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return "", fmt.Errorf("sign own device: %w", err)
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		return "", fmt.Errorf("sign own master key: %w", err)
	}
	// Kept like a bootstrap's key (a key stored earlier no longer unlocks
	// anything), so this data directory needs no matrix.recovery_key.
	if err := a.store.update(func(s *session) { s.RecoveryKey = rk }); err != nil {
		return "", err
	}
	return rk, nil
}
