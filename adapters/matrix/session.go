package matrix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/internal/atomicfile"
)

// sessionFile is the name of the adapter's own state in Config.StateDir.
const sessionFile = "matrix-session.json"

// session is what survives a restart: which device the bot is, how it
// authenticates, and how far it has synced. Keeping the sync position is what
// stops a restarted bot from answering old events again; keeping the device is
// what stops it from piling up devices (and losing its encryption keys).
type session struct {
	Homeserver  string      `json:"homeserver"`
	UserID      id.UserID   `json:"user_id"`
	DeviceID    id.DeviceID `json:"device_id"`
	AccessToken string      `json:"access_token,omitempty"`
	NextBatch   string      `json:"next_batch,omitempty"`
	FilterID    string      `json:"filter_id,omitempty"`
	PickleKey   string      `json:"pickle_key,omitempty"`
	// RecoveryKey unlocks the cross-signing keys the bot created at its
	// first start (when no recovery key was configured); see
	// bootstrapCrossSigning.
	RecoveryKey string `json:"recovery_key,omitempty"`
}

// sessionStore keeps a session in a JSON file, rewritten atomically on every
// change. It is the client's mautrix.SyncStore.
type sessionStore struct {
	path string

	mu sync.Mutex // guards s and writes to path
	s  session
}

func openSessionStore(dir string) (*sessionStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	st := &sessionStore{path: filepath.Join(dir, sessionFile)}
	b, err := os.ReadFile(st.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read matrix session: %w", err)
	}
	if err := json.Unmarshal(b, &st.s); err != nil {
		return nil, fmt.Errorf("decode matrix session %s: %w", st.path, err)
	}
	return st, nil
}

func (st *sessionStore) get() session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s
}

// update applies fn to the session and writes it out.
func (st *sessionStore) update(fn func(*session)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	next := st.s
	fn(&next)
	if next == st.s {
		return nil
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("encode matrix session: %w", err)
	}
	if err := atomicfile.Write(st.path, b, 0o600); err != nil {
		return fmt.Errorf("write matrix session: %w", err)
	}
	st.s = next
	return nil
}

// pickleKey returns the stored pickle key, creating one on first use.
func (st *sessionStore) pickleKey() (string, error) {
	if k := st.get().PickleKey; k != "" {
		return k, nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate pickle key: %w", err)
	}
	k := hex.EncodeToString(raw[:])
	if err := st.update(func(s *session) { s.PickleKey = k }); err != nil {
		return "", err
	}
	return k, nil
}

// SaveFilterID implements mautrix.SyncStore.
func (st *sessionStore) SaveFilterID(_ context.Context, _ id.UserID, filterID string) error {
	return st.update(func(s *session) { s.FilterID = filterID })
}

// LoadFilterID implements mautrix.SyncStore.
func (st *sessionStore) LoadFilterID(context.Context, id.UserID) (string, error) {
	return st.get().FilterID, nil
}

// SaveNextBatch implements mautrix.SyncStore.
func (st *sessionStore) SaveNextBatch(_ context.Context, _ id.UserID, token string) error {
	return st.update(func(s *session) { s.NextBatch = token })
}

// LoadNextBatch implements mautrix.SyncStore.
func (st *sessionStore) LoadNextBatch(context.Context, id.UserID) (string, error) {
	return st.get().NextBatch, nil
}

var _ mautrix.SyncStore = (*sessionStore)(nil)
