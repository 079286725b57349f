//go:build goolm || libolm

package matrix

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/crypto/ssss"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// backupBatch bounds the sessions sent in one upload request.
const backupBatch = 200

// backupRetry is how long a failed upload waits before the next attempt
// (a new room key tries at once).
const backupRetry = time.Minute

// keyBackup is the bot's server-side key backup
// (m.megolm_backup.v1.curve25519-aes-sha2): the Megolm sessions the bot
// creates and receives are uploaded, encrypted to the backup's public key,
// so a new device of the bot (same account, same recovery key) can read
// messages sent before it existed. The backup's private key lives in secret
// storage (SSSS) as m.megolm_backup.v1, unlocked by the recovery key, where
// people's clients (Element) find it too.
type keyBackup struct {
	a       *Adapter
	mach    *crypto.OlmMachine
	key     *backup.MegolmBackupKey
	version id.KeyBackupVersion
	store   backupMarker

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// backupMarker records which backup holds a session (the SQL crypto store
// does; mautrix's Store interface lacks it).
type backupMarker interface {
	SetGroupSessionKeyBackupVersion(context.Context, id.SessionID, id.KeyBackupVersion) error
}

// backupPublicKey is the auth_data public key of a backup with this key.
func backupPublicKey(k *backup.MegolmBackupKey) id.Ed25519 {
	return id.Ed25519(base64.RawStdEncoding.EncodeToString(k.PublicKey().Bytes()))
}

// startKeyBackup opens the account's key backup with the recovery key
// (configured, or stored in the session file by the cross-signing
// bootstrap), creating one if the account has none, restores the room keys
// this device lacks from it, and starts uploading new ones. An account
// whose backup the recovery key cannot unlock (made by a person's client
// with other secret storage) is left alone. Failures are logged; the bot
// then runs without a backup. It returns nil when there is no backup.
func (a *Adapter) startKeyBackup(ctx context.Context, mach *crypto.OlmMachine) *keyBackup {
	rk := a.cfg.RecoveryKey
	if rk == "" {
		rk = a.store.get().RecoveryKey
	}
	if rk == "" {
		a.log.Info("matrix key backup off: no recovery key (set matrix.recovery_key)")
		return nil
	}
	marker, ok := mach.CryptoStore.(backupMarker)
	if !ok {
		a.log.Warn("matrix key backup off: the crypto store cannot record uploads")
		return nil
	}
	kb, err := a.openKeyBackup(ctx, mach, rk)
	if err != nil {
		a.log.Warn("matrix key backup off", "err", err)
		return nil
	}
	kb.store = marker
	if n, err := kb.restore(ctx); err != nil {
		a.log.Warn("matrix key backup: restoring room keys failed", "version", kb.version, "err", err)
	} else {
		a.log.Info("matrix key backup on", "version", kb.version, "restored_sessions", n)
	}
	kb.kick = make(chan struct{}, 1)
	kb.done = make(chan struct{})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	kb.cancel = cancel
	mach.SessionReceived = func(context.Context, id.RoomID, id.SessionID, uint32) { kb.poke() }
	go kb.loop(runCtx)
	kb.poke() // sessions from before the backup existed, or from a failed upload
	return kb
}

// openKeyBackup finds (or creates) the backup the recovery key unlocks.
func (a *Adapter) openKeyBackup(ctx context.Context, mach *crypto.OlmMachine, recoveryKey string) (*keyBackup, error) {
	ssssKey, err := secretStorageKey(ctx, mach, recoveryKey)
	if err != nil {
		return nil, err
	}
	key, err := backupKeyFromSSSS(ctx, mach, ssssKey)
	if err != nil {
		return nil, err
	}
	latest, err := mach.Client.GetKeyBackupLatestVersion(ctx)
	if errors.Is(err, mautrix.MNotFound) {
		latest, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up the key backup: %w", err)
	}
	if latest != nil {
		if key == nil || latest.Algorithm != id.KeyBackupAlgorithmMegolmBackupV1 || latest.AuthData.PublicKey != backupPublicKey(key) {
			return nil, fmt.Errorf("the account has a key backup (version %s) the recovery key does not unlock; leaving it alone", latest.Version)
		}
		return &keyBackup{a: a, mach: mach, key: key, version: latest.Version}, nil
	}
	// No backup yet: make one, with the key from secret storage if a
	// deleted backup left one there.
	if key == nil {
		if key, err = backup.NewMegolmBackupKey(); err != nil {
			return nil, err
		}
		if err := mach.SSSS.SetEncryptedAccountData(ctx, event.AccountDataMegolmBackupKey, key.Bytes(), ssssKey); err != nil {
			return nil, fmt.Errorf("store the backup key in secret storage: %w", err)
		}
	}
	auth := backup.MegolmAuthData{PublicKey: backupPublicKey(key)}
	if cs := mach.CrossSigningKeys; cs != nil && cs.MasterKey != nil {
		// Signed by the master key, so people's clients trust the backup.
		sig, err := cs.MasterKey.SignJSON(auth)
		if err != nil {
			return nil, fmt.Errorf("sign the key backup: %w", err)
		}
		master := cs.MasterKey.PublicKey()
		auth.Signatures = signatures.NewSingleSignature(mach.Client.UserID, id.KeyAlgorithmEd25519, master.String(), sig)
	}
	resp, err := mach.Client.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
		Algorithm: id.KeyBackupAlgorithmMegolmBackupV1,
		AuthData:  auth,
	})
	if err != nil {
		return nil, fmt.Errorf("create a key backup: %w", err)
	}
	a.log.Info("created a matrix key backup; its key is in secret storage, unlocked by the recovery key", "version", resp.Version)
	return &keyBackup{a: a, mach: mach, key: key, version: resp.Version}, nil
}

// secretStorageKey is the account's default secret storage key, unlocked
// by the recovery key.
func secretStorageKey(ctx context.Context, mach *crypto.OlmMachine, recoveryKey string) (*ssss.Key, error) {
	keyID, keyData, err := mach.SSSS.GetDefaultKeyData(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret storage: %w", err)
	}
	key, err := keyData.VerifyRecoveryKey(keyID, recoveryKey)
	if err != nil && !errors.Is(err, ssss.ErrUnverifiableKey) {
		return nil, fmt.Errorf("the recovery key does not unlock secret storage: %w", err)
	}
	return key, nil
}

// backupKeyFromSSSS is the backup key kept in secret storage, or nil if
// there is none.
func backupKeyFromSSSS(ctx context.Context, mach *crypto.OlmMachine, ssssKey *ssss.Key) (*backup.MegolmBackupKey, error) {
	secret, err := mach.SSSS.GetDecryptedAccountData(ctx, event.AccountDataMegolmBackupKey, ssssKey)
	switch {
	case errors.Is(err, mautrix.MNotFound):
		return nil, nil
	case err != nil:
		// Kept under another secret storage key, or damaged: not ours to replace.
		return nil, fmt.Errorf("cannot read the backup key from secret storage: %w", err)
	}
	key, err := backup.MegolmBackupKeyFromBytes(secret)
	if err != nil {
		return nil, fmt.Errorf("backup key in secret storage: %w", err)
	}
	return key, nil
}

// restore imports the backup's sessions this device does not have.
func (kb *keyBackup) restore(ctx context.Context) (int, error) {
	keys, err := kb.mach.Client.GetKeyBackup(ctx, kb.version)
	if err != nil {
		return 0, err
	}
	n := 0
	for room, rb := range keys.Rooms {
		for sid, data := range rb.Sessions {
			if have, err := kb.mach.CryptoStore.GetGroupSession(ctx, room, sid); err == nil && have != nil {
				continue
			}
			sd, err := data.SessionData.Decrypt(kb.key)
			if err != nil {
				kb.a.log.Warn("matrix key backup: cannot decrypt a session", "room", room, "session", sid, "err", err)
				continue
			}
			if _, err := kb.mach.ImportRoomKeyFromBackup(ctx, kb.version, room, sid, sd); err != nil {
				kb.a.log.Warn("matrix key backup: cannot import a session", "room", room, "session", sid, "err", err)
				continue
			}
			n++
		}
	}
	return n, nil
}

func (kb *keyBackup) poke() {
	select {
	case kb.kick <- struct{}{}:
	default:
	}
}

// loop uploads new sessions whenever one arrives, until Close.
func (kb *keyBackup) loop(ctx context.Context) {
	defer close(kb.done)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-kb.kick:
		case <-retry:
		}
		retry = nil
		if err := kb.upload(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, mautrix.MWrongRoomKeysVersion) || errors.Is(err, mautrix.MNotFound) {
				kb.a.log.Warn("matrix key backup replaced or deleted on the server; no more uploads until restart", "version", kb.version, "err", err)
				return
			}
			kb.a.log.Warn("matrix key backup upload failed; retrying", "err", err, "retry_in", backupRetry)
			retry = time.After(backupRetry)
		}
	}
}

// upload sends the sessions not yet in this backup, and marks them sent.
func (kb *keyBackup) upload(ctx context.Context) error {
	for {
		sessions, err := kb.mach.CryptoStore.GetGroupSessionsWithoutKeyBackupVersion(ctx, kb.version).AsList()
		if err != nil {
			return err
		}
		if len(sessions) == 0 {
			return nil
		}
		if len(sessions) > backupBatch {
			sessions = sessions[:backupBatch]
		}
		req := &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{}}
		for _, s := range sessions {
			data, err := kb.sessionData(s)
			if err != nil {
				return err
			}
			rb, ok := req.Rooms[s.RoomID]
			if !ok {
				rb = mautrix.ReqRoomKeyBackup{Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{}}
				req.Rooms[s.RoomID] = rb
			}
			rb.Sessions[s.ID()] = *data
		}
		if _, err := kb.mach.Client.PutKeysInBackup(ctx, kb.version, req); err != nil {
			return err
		}
		for _, s := range sessions {
			if err := kb.store.SetGroupSessionKeyBackupVersion(ctx, s.ID(), kb.version); err != nil {
				return err
			}
		}
		kb.a.log.Debug("matrix key backup: uploaded sessions", "count", len(sessions), "version", kb.version)
	}
}

// sessionData is one session encrypted for the backup.
func (kb *keyBackup) sessionData(s *crypto.InboundGroupSession) (*mautrix.ReqKeyBackupData, error) {
	first := s.Internal.FirstKnownIndex()
	exported, err := s.Internal.Export(first)
	if err != nil {
		return nil, fmt.Errorf("export session %s: %w", s.ID(), err)
	}
	chain := s.ForwardingChains
	if chain == nil {
		chain = []string{}
	}
	enc, err := backup.EncryptSessionData(kb.key, backup.MegolmSessionData{
		Algorithm:          id.AlgorithmMegolmV1,
		ForwardingKeyChain: chain,
		SenderClaimedKeys:  backup.SenderClaimedKeys{Ed25519: s.SigningKey},
		SenderKey:          s.SenderKey,
		SessionKey:         string(exported),
		SharedHistory:      s.SharedHistory,
	})
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(enc)
	if err != nil {
		return nil, err
	}
	return &mautrix.ReqKeyBackupData{
		FirstMessageIndex: int(first),
		ForwardedCount:    len(s.ForwardingChains),
		SessionData:       raw,
	}, nil
}

// Close stops the uploads (a pending one is abandoned; it runs again at the
// next start).
func (kb *keyBackup) Close() error {
	kb.once.Do(func() {
		// SessionReceived stays set (sync goroutines may read it); a poke
		// after this finds nobody listening and is dropped.
		kb.cancel()
		<-kb.done
	})
	return nil
}
