// Package bolt is the embedded default state.Store: everything a SecGPT
// deployment keeps, in one bbolt file. One process at a time may open the
// file, so it suits a single replica; several replicas share state/redis.
// Only the wiring (cli/), core/hubtest, evaluation/casestudy and tests
// import it.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Options configures a Store. The zero value keeps memory forever and uses
// the wall clock.
type Options struct {
	// MemoryRetention hides memory entries older than this and deletes them
	// on the next append; 0 keeps them forever.
	MemoryRetention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LockTimeout bounds waiting for another process's lock on the file;
	// 0 means one second.
	LockTimeout time.Duration
}

// Top-level buckets. Nested buckets are named by user (then app or
// namespace), so one user's records are never in another user's bucket.
var (
	bMemory    = []byte("memory")   // user / app / seq → MemoryEntry
	bEntities  = []byte("entities") // user / field → value
	bAppState  = []byte("appstate") // user / ns / key → raw JSON
	bGrants    = []byte("grants")   // user / kind␀requester␀target␀session → Grant
	bSessions  = []byte("sessions") // user␀conversation → Session
	bPending   = []byte("pending")  // prompt id → vocab.Prompt
	bAudit     = []byte("audit")    // seq → AuditEvent
	bDedup     = []byte("dedup")    // key → expiry unix ns (0 = never)
	bReplans   = []byte("replans")  // user␀conversation → storedReplan
	bPins      = []byte("pins")     // server → state.Pin
	bDecided   = []byte("decided")  // prompt id → state.Decided
	topBuckets = [][]byte{bMemory, bEntities, bAppState, bGrants, bSessions, bPending, bAudit, bDedup, bReplans, bPins, bDecided}
)

// Store is a state.Store in a bbolt file.
type Store struct {
	db        *bbolt.DB
	path      string
	retention time.Duration
	now       func() time.Time
	// seen counts FirstSeen calls; every purgeEvery-th also purges expired
	// keys, so a long-running process does not grow the file forever.
	seen       atomic.Uint64
	purgeEvery uint64
}

// Open opens (creating if needed) the store file at path. It fails if
// another process holds the file open.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("open bolt store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, retention: opts.MemoryRetention, now: opts.Now, purgeEvery: 1024}
	if s.now == nil {
		s.now = time.Now
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := s.purgeDedup(tx); err != nil {
			return err
		}
		return s.purgeReplans(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init bolt store %s: %w", path, err)
	}
	return s, nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Describe implements state.Store.
func (s *Store) Describe() string { return "bolt file " + s.path }

// Close implements state.Store. Closing twice is harmless.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close bolt store %s: %w", s.path, err)
	}
	return nil
}

func need(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s: %w", what, state.ErrInvalid)
	}
	return nil
}

func itob(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// bucket walks nested buckets from a top-level one, returning nil if any is
// missing.
func bucket(tx *bbolt.Tx, top []byte, path ...string) *bbolt.Bucket {
	b := tx.Bucket(top)
	for _, p := range path {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(p))
	}
	return b
}

// mkBucket is bucket that creates what is missing.
func mkBucket(tx *bbolt.Tx, top []byte, path ...string) (*bbolt.Bucket, error) {
	b := tx.Bucket(top)
	for _, p := range path {
		var err error
		if b, err = b.CreateBucketIfNotExists([]byte(p)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func deleteBucket(b *bbolt.Bucket, name string) error {
	if b == nil {
		return nil
	}
	err := b.DeleteBucket([]byte(name))
	if errors.Is(err, bbolterrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// AppendMemory implements state.Memory. Entries with a zero At are stamped
// with the store's clock.
func (s *Store) AppendMemory(_ context.Context, user ids.UserID, app ids.AppID, entries ...state.MemoryEntry) error {
	if err := errors.Join(need("user", string(user)), need("app", string(app))); err != nil {
		return err
	}
	now := s.now()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bMemory, string(user), string(app))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.At.IsZero() {
				e.At = now
			}
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(itob(seq), v); err != nil {
				return err
			}
		}
		if s.retention > 0 {
			return trimMemory(b, now.Add(-s.retention))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append memory of %s for %s: %w", user, app, err)
	}
	return nil
}

// trimMemory deletes the oldest entries while they are older than cut.
// Entries are keyed in append order, which is time order in practice; an
// out-of-order old entry is still hidden by ReadMemory.
func trimMemory(b *bbolt.Bucket, cut time.Time) error {
	var old [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var e state.MemoryEntry
		if json.Unmarshal(v, &e) == nil && !e.At.Before(cut) {
			break
		}
		old = append(old, k)
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ReadMemory implements state.Memory.
func (s *Store) ReadMemory(_ context.Context, user ids.UserID, app ids.AppID, limit int) ([]state.MemoryEntry, error) {
	var cut time.Time
	if s.retention > 0 {
		cut = s.now().Add(-s.retention)
	}
	var out []state.MemoryEntry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := bucket(tx, bMemory, string(user), string(app))
		if b == nil || user == "" || app == "" {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e state.MemoryEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode entry %x: %w", k, err)
			}
			if !cut.IsZero() && e.At.Before(cut) {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read memory of %s for %s: %w", user, app, err)
	}
	slices.Reverse(out)
	return out, nil
}

// ForgetMemory implements state.Memory.
func (s *Store) ForgetMemory(_ context.Context, user ids.UserID, app ids.AppID) error {
	if user == "" {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if app == "" {
			return deleteBucket(tx.Bucket(bMemory), string(user))
		}
		return deleteBucket(bucket(tx, bMemory, string(user)), string(app))
	})
	if err != nil {
		return fmt.Errorf("forget memory of %s for %q: %w", user, app, err)
	}
	return nil
}

// PutEntities implements state.Entities; facts are merged into the user's.
func (s *Store) PutEntities(_ context.Context, user ids.UserID, facts map[string]string) error {
	if err := need("user", string(user)); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bEntities, string(user))
		if err != nil {
			return err
		}
		for k, v := range facts {
			if k == "" {
				return need("entity field", k)
			}
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put entities of %s: %w", user, err)
	}
	return nil
}

// Entities implements state.Entities.
func (s *Store) Entities(_ context.Context, user ids.UserID) (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if user == "" {
			return nil
		}
		b := bucket(tx, bEntities, string(user))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read entities of %s: %w", user, err)
	}
	return out, nil
}

// ForgetEntities implements state.Entities.
func (s *Store) ForgetEntities(_ context.Context, user ids.UserID) error {
	if user == "" {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return deleteBucket(tx.Bucket(bEntities), string(user))
	})
	if err != nil {
		return fmt.Errorf("forget entities of %s: %w", user, err)
	}
	return nil
}

// ForgetEntity implements state.Entities.
func (s *Store) ForgetEntity(_ context.Context, user ids.UserID, key string) (bool, error) {
	if user == "" || key == "" {
		return false, nil
	}
	var found bool
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := bucket(tx, bEntities, string(user))
		if b == nil {
			return nil
		}
		// Get cannot tell an absent key from an empty value; Seek can.
		if k, _ := b.Cursor().Seek([]byte(key)); string(k) != key {
			return nil
		}
		found = true
		return b.Delete([]byte(key))
	})
	if err != nil {
		return false, fmt.Errorf("forget entity %q of %s: %w", key, user, err)
	}
	return found, nil
}

// GetAppState implements state.AppState.
func (s *Store) GetAppState(_ context.Context, user ids.UserID, ns, key string) (json.RawMessage, bool, error) {
	var out json.RawMessage
	err := s.db.View(func(tx *bbolt.Tx) error {
		if user == "" || ns == "" || key == "" {
			return nil
		}
		if b := bucket(tx, bAppState, string(user), ns); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				out = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("get app state %s/%s of %s: %w", ns, key, user, err)
	}
	return out, out != nil, nil
}

// PutAppState implements state.AppState.
func (s *Store) PutAppState(_ context.Context, user ids.UserID, ns, key string, value json.RawMessage) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bAppState, string(user), ns)
		if err != nil {
			return err
		}
		// A nil value would read back as missing; store JSON null instead.
		if value == nil {
			value = json.RawMessage("null")
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("put app state %s/%s of %s: %w", ns, key, user, err)
	}
	return nil
}

// PutAppStateWithin implements state.AppStateAdmin. The usage is counted
// inside the write transaction (bbolt has one writer at a time), so the
// check and the write are atomic; a namespace holds at most Quota.Keys keys,
// so the count is bounded.
func (s *Store) PutAppStateWithin(_ context.Context, user ids.UserID, ns, key string, value json.RawMessage, q state.Quota) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	if value == nil {
		value = json.RawMessage("null")
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bAppState, string(user), ns)
		if err != nil {
			return err
		}
		var u state.Usage
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			u.Keys++
			u.Bytes += int64(len(k) + len(v))
		}
		oldLen := -1
		if v := b.Get([]byte(key)); v != nil {
			oldLen = len(v)
		}
		if err := state.CheckQuota(u, key, oldLen, len(value), q); err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("put app state %s/%s of %s: %w", ns, key, user, err)
	}
	return nil
}

// AddAppStateSet implements state.AppStateAdmin. A read transaction sees
// first whether the set already holds every member, so the common case
// (an app writing again with what it already held) costs no write and no
// fsync; the union itself is decided again inside the write transaction,
// bbolt's one writer at a time, so concurrent unions lose nothing.
func (s *Store) AddAppStateSet(ctx context.Context, user ids.UserID, ns, key string, members ...string) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	what := fmt.Sprintf("add to app state set %s/%s of %s", ns, key, user)
	raw, _, err := s.GetAppState(ctx, user, ns, key)
	if err != nil {
		return err
	}
	if _, grew, err := state.UnionSet(raw, members); err != nil || !grew {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bAppState, string(user), ns)
		if err != nil {
			return err
		}
		set, grew, err := state.UnionSet(b.Get([]byte(key)), members)
		if err != nil || !grew {
			return err
		}
		raw, err := json.Marshal(set)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), raw)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ForgetAppState implements state.AppStateAdmin.
func (s *Store) ForgetAppState(_ context.Context, user ids.UserID, ns string) (int, error) {
	if user == "" {
		return 0, nil
	}
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		ub := bucket(tx, bAppState, string(user))
		if ub == nil {
			return nil
		}
		var names []string
		err := ub.ForEachBucket(func(name []byte) error {
			if ns == "" || string(name) == ns {
				names = append(names, string(name))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range names {
			n += ub.Bucket([]byte(name)).Stats().KeyN
			if err := deleteBucket(ub, name); err != nil {
				return err
			}
		}
		if ns == "" {
			return deleteBucket(tx.Bucket(bAppState), string(user))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("forget app state %q of %s: %w", ns, user, err)
	}
	return n, nil
}

func grantID(k state.GrantKey, session ids.SessionID) []byte {
	return []byte(k.ID() + "\x00" + string(session))
}

// PutGrant implements state.Grants.
func (s *Store) PutGrant(_ context.Context, g state.Grant) error {
	g, err := state.CheckGrant(g)
	if err != nil {
		return err
	}
	if g.At.IsZero() {
		g.At = s.now()
	}
	v, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode grant: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := mkBucket(tx, bGrants, string(g.User))
		if err != nil {
			return err
		}
		return b.Put(grantID(g.GrantKey, g.Session), v)
	})
	if err != nil {
		return fmt.Errorf("put grant for %s: %w", g.User, err)
	}
	return nil
}

// FindGrant implements state.Grants.
func (s *Store) FindGrant(_ context.Context, k state.GrantKey, session ids.SessionID) (state.Grant, bool, error) {
	var g state.Grant
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if k.User == "" {
			return nil
		}
		b := bucket(tx, bGrants, string(k.User))
		if b == nil {
			return nil
		}
		v := b.Get(grantID(k, ""))
		if v == nil && session != "" {
			v = b.Get(grantID(k, session))
		}
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &g)
	})
	if err != nil {
		return state.Grant{}, false, fmt.Errorf("find grant for %s: %w", k.User, err)
	}
	return g, found, nil
}

// ListGrants implements state.Grants.
func (s *Store) ListGrants(_ context.Context, user ids.UserID) ([]state.Grant, error) {
	var out []state.Grant
	err := s.db.View(func(tx *bbolt.Tx) error {
		if user == "" {
			return nil
		}
		b := bucket(tx, bGrants, string(user))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var g state.Grant
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("decode grant %q: %w", k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list grants of %s: %w", user, err)
	}
	state.SortGrants(out)
	return out, nil
}

// RevokeGrants implements state.Grants.
func (s *Store) RevokeGrants(_ context.Context, user ids.UserID, app ids.AppID) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if user == "" {
			return nil
		}
		var err error
		n, err = deleteGrants(bucket(tx, bGrants, string(user)), func(g state.Grant) bool { return state.RevokeMatches(g, app) })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke grants of %s for %q: %w", user, app, err)
	}
	return n, nil
}

// deleteGrants deletes the grants in b (one user's) that match.
func deleteGrants(b *bbolt.Bucket, match func(state.Grant) bool) (int, error) {
	if b == nil {
		return 0, nil
	}
	var del [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var g state.Grant
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("decode grant %q: %w", k, err)
		}
		if match(g) {
			del = append(del, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(del), nil
}

func sessionID(user ids.UserID, conv ids.ConversationID) []byte {
	return []byte(string(user) + "\x00" + string(conv))
}

// TouchSession implements state.Sessions. idle <= 0 never times out. When a
// session ends (timeout or EndSession) its session grants are deleted.
func (s *Store) TouchSession(_ context.Context, user ids.UserID, conv ids.ConversationID, idle time.Duration, now time.Time) (state.Session, error) {
	if err := need("user", string(user)); err != nil {
		return state.Session{}, err
	}
	var cur state.Session
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bSessions)
		key := sessionID(user, conv)
		if v := b.Get(key); v != nil {
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if idle <= 0 || now.Sub(cur.LastActive) <= idle {
				if now.After(cur.LastActive) {
					cur.LastActive = now
				}
				return putJSON(b, key, cur)
			}
			if err := dropSessionGrants(tx, user, cur.ID); err != nil {
				return err
			}
		}
		cur = state.Session{ID: state.NewSessionID(), User: user, Conversation: conv, Started: now, LastActive: now}
		return putJSON(b, key, cur)
	})
	if err != nil {
		return state.Session{}, fmt.Errorf("touch session of %s in %s: %w", user, conv, err)
	}
	return cur, nil
}

// EndSession implements state.Sessions.
func (s *Store) EndSession(_ context.Context, user ids.UserID, conv ids.ConversationID) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bSessions)
		key := sessionID(user, conv)
		v := b.Get(key)
		if v == nil {
			return nil
		}
		var cur state.Session
		if err := json.Unmarshal(v, &cur); err != nil {
			return fmt.Errorf("decode session: %w", err)
		}
		if err := dropSessionGrants(tx, user, cur.ID); err != nil {
			return err
		}
		return b.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("end session of %s in %s: %w", user, conv, err)
	}
	return nil
}

func dropSessionGrants(tx *bbolt.Tx, user ids.UserID, id ids.SessionID) error {
	_, err := deleteGrants(bucket(tx, bGrants, string(user)), func(g state.Grant) bool { return g.Session == id })
	return err
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// PutPending implements state.Pending.
func (s *Store) PutPending(_ context.Context, p vocab.Prompt) error {
	if err := need("prompt id", string(p.ID)); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bPending), []byte(p.ID), p)
	})
	if err != nil {
		return fmt.Errorf("put pending prompt %s: %w", p.ID, err)
	}
	return nil
}

// GetPending implements state.Pending.
func (s *Store) GetPending(_ context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	return s.pending(id, false)
}

// TakePending implements state.Pending. bbolt runs one write transaction at
// a time, so exactly one of several racing callers finds the prompt.
func (s *Store) TakePending(_ context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	return s.pending(id, true)
}

func (s *Store) pending(id ids.PromptID, take bool) (vocab.Prompt, bool, error) {
	var p vocab.Prompt
	found := false
	fn := func(tx *bbolt.Tx) error {
		if id == "" {
			return nil
		}
		b := tx.Bucket(bPending)
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode prompt: %w", err)
		}
		found = true
		if take {
			return b.Delete([]byte(id))
		}
		return nil
	}
	var err error
	if take {
		err = s.db.Update(fn)
	} else {
		err = s.db.View(fn)
	}
	if err != nil {
		return vocab.Prompt{}, false, fmt.Errorf("read pending prompt %s: %w", id, err)
	}
	return p, found, nil
}

// AppendAudit implements state.Audit. The store assigns e.ID (zero-padded
// decimal, so IDs also sort as strings) and stamps a zero At with its clock.
func (s *Store) AppendAudit(_ context.Context, e state.AuditEvent) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.ID = fmt.Sprintf("%020d", seq)
		return putJSON(b, itob(seq), e)
	})
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// ReadAudit implements state.Audit.
func (s *Store) ReadAudit(_ context.Context, f state.AuditFilter) ([]state.AuditEvent, error) {
	var out []state.AuditEvent
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		for k, v := c.Last(); k != nil && (f.Limit <= 0 || len(out) < f.Limit); k, v = c.Prev() {
			var e state.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode audit event %x: %w", k, err)
			}
			if f.Match(e) {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// FirstSeen implements state.Dedup. ttl <= 0 remembers key forever.
func (s *Store) FirstSeen(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if err := need("dedup key", key); err != nil {
		return false, err
	}
	now := s.now()
	first := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bDedup)
		if v := b.Get([]byte(key)); len(v) == 8 {
			exp := int64(binary.BigEndian.Uint64(v))
			if exp == 0 || now.UnixNano() < exp {
				return nil
			}
		}
		first = true
		var exp int64
		if ttl > 0 {
			exp = now.Add(ttl).UnixNano()
		}
		if err := b.Put([]byte(key), itob(uint64(exp))); err != nil {
			return err
		}
		if s.seen.Add(1)%s.purgeEvery == 0 {
			return s.purgeDedup(tx)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", key, err)
	}
	return first, nil
}

// purgeDedup deletes expired dedup keys, so the file does not grow with
// every platform event ever seen.
func (s *Store) purgeDedup(tx *bbolt.Tx) error {
	now := s.now().UnixNano()
	b := tx.Bucket(bDedup)
	var del [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			if exp := int64(binary.BigEndian.Uint64(v)); exp != 0 && exp <= now {
				del = append(del, bytes.Clone(k))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

var _ state.Store = (*Store)(nil)
