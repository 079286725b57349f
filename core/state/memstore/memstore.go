// Package memstore is an in-memory state.Store for unit tests of the hub and
// for throwaway runs. Nothing survives Close. Any package may import it; it
// passes the same conformance suite (state/statetest) as the real backends.
package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Options configures a Store. The zero value keeps memory forever and uses
// the wall clock.
type Options struct {
	// MemoryRetention hides memory entries older than this; 0 keeps them.
	MemoryRetention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type memKey struct {
	user ids.UserID
	app  ids.AppID
}

type appKey struct {
	user    ids.UserID
	ns, key string
}

type grantKey struct {
	state.GrantKey
	session ids.SessionID
}

type sessKey struct {
	user ids.UserID
	conv ids.ConversationID
}

// Store is an in-memory state.Store. The zero value is not usable; call New.
type Store struct {
	retention time.Duration
	now       func() time.Time

	mu       sync.Mutex // guards all following fields
	memory   map[memKey][]state.MemoryEntry
	entities map[ids.UserID]map[string]string
	appState map[appKey]json.RawMessage
	grants   map[grantKey]state.Grant
	sessions map[sessKey]state.Session
	pending  map[ids.PromptID]vocab.Prompt
	decided  map[ids.PromptID]state.Decided
	audit    []state.AuditEvent
	auditSeq uint64
	dedup    map[string]time.Time // key → expiry; zero means never
	replans  map[sessKey]replanEntry
	pins     map[ids.AppID][]byte // server → encoded state.Pin
}

// New returns an empty Store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		retention: opts.MemoryRetention,
		now:       now,
		memory:    map[memKey][]state.MemoryEntry{},
		entities:  map[ids.UserID]map[string]string{},
		appState:  map[appKey]json.RawMessage{},
		grants:    map[grantKey]state.Grant{},
		sessions:  map[sessKey]state.Session{},
		pending:   map[ids.PromptID]vocab.Prompt{},
		decided:   map[ids.PromptID]state.Decided{},
		dedup:     map[string]time.Time{},
	}
}

func need(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s: %w", what, state.ErrInvalid)
	}
	return nil
}

// AppendMemory implements state.Memory. Entries with a zero At are stamped
// with the store's clock.
func (s *Store) AppendMemory(_ context.Context, user ids.UserID, app ids.AppID, entries ...state.MemoryEntry) error {
	if err := firstErr(need("user", string(user)), need("app", string(app))); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := memKey{user, app}
	for _, e := range entries {
		if e.At.IsZero() {
			e.At = now
		}
		s.memory[k] = append(s.memory[k], e)
	}
	if s.retention > 0 {
		cut := now.Add(-s.retention)
		s.memory[k] = slices.DeleteFunc(s.memory[k], func(e state.MemoryEntry) bool { return e.At.Before(cut) })
	}
	return nil
}

// ReadMemory implements state.Memory.
func (s *Store) ReadMemory(_ context.Context, user ids.UserID, app ids.AppID, limit int) ([]state.MemoryEntry, error) {
	var cut time.Time
	if s.retention > 0 {
		cut = s.now().Add(-s.retention)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.MemoryEntry
	all := s.memory[memKey{user, app}]
	for i := len(all) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if !cut.IsZero() && all[i].At.Before(cut) {
			continue
		}
		out = append(out, all[i])
	}
	slices.Reverse(out)
	return out, nil
}

// ForgetMemory implements state.Memory.
func (s *Store) ForgetMemory(_ context.Context, user ids.UserID, app ids.AppID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.memory {
		if k.user == user && (app == "" || k.app == app) {
			delete(s.memory, k)
		}
	}
	return nil
}

// PutEntities implements state.Entities; facts are merged into the user's.
func (s *Store) PutEntities(_ context.Context, user ids.UserID, facts map[string]string) error {
	if err := need("user", string(user)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.entities[user]
	if m == nil {
		m = map[string]string{}
		s.entities[user] = m
	}
	maps.Copy(m, facts)
	return nil
}

// Entities implements state.Entities.
func (s *Store) Entities(_ context.Context, user ids.UserID) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	maps.Copy(out, s.entities[user])
	return out, nil
}

// ForgetEntities implements state.Entities.
func (s *Store) ForgetEntities(_ context.Context, user ids.UserID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entities, user)
	return nil
}

// ForgetEntity implements state.Entities.
func (s *Store) ForgetEntity(_ context.Context, user ids.UserID, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.entities[user]
	if _, ok := m[key]; !ok {
		return false, nil
	}
	delete(m, key)
	if len(m) == 0 {
		delete(s.entities, user)
	}
	return true, nil
}

// GetAppState implements state.AppState.
func (s *Store) GetAppState(_ context.Context, user ids.UserID, ns, key string) (json.RawMessage, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.appState[appKey{user, ns, key}]
	return slices.Clone(v), ok, nil
}

// PutAppState implements state.AppState.
func (s *Store) PutAppState(_ context.Context, user ids.UserID, ns, key string, value json.RawMessage) error {
	if err := firstErr(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appState[appKey{user, ns, key}] = slices.Clone(value)
	return nil
}

// PutAppStateWithin implements state.AppStateAdmin.
func (s *Store) PutAppStateWithin(_ context.Context, user ids.UserID, ns, key string, value json.RawMessage, q state.Quota) error {
	if err := firstErr(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var u state.Usage
	for k, v := range s.appState {
		if k.user == user && k.ns == ns {
			u.Keys++
			u.Bytes += int64(len(k.key) + len(v))
		}
	}
	oldLen := -1
	if v, ok := s.appState[appKey{user, ns, key}]; ok {
		oldLen = len(v)
	}
	if err := state.CheckQuota(u, key, oldLen, len(value), q); err != nil {
		return fmt.Errorf("put app state %s/%s of %s: %w", ns, key, user, err)
	}
	s.appState[appKey{user, ns, key}] = slices.Clone(value)
	return nil
}

// AddAppStateSet implements state.AppStateAdmin.
func (s *Store) AddAppStateSet(_ context.Context, user ids.UserID, ns, key string, members ...string) error {
	if err := firstErr(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := appKey{user, ns, key}
	set, grew, err := state.UnionSet(s.appState[k], members)
	if err != nil {
		return fmt.Errorf("add to app state set %s/%s of %s: %w", ns, key, user, err)
	}
	if !grew {
		return nil
	}
	raw, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("add to app state set %s/%s of %s: %w", ns, key, user, err)
	}
	s.appState[k] = raw
	return nil
}

// ForgetAppState implements state.AppStateAdmin.
func (s *Store) ForgetAppState(_ context.Context, user ids.UserID, ns string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.appState {
		if k.user == user && (ns == "" || k.ns == ns) {
			delete(s.appState, k)
			n++
		}
	}
	return n, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[grantKey{g.GrantKey, g.Session}] = g
	return nil
}

// FindGrant implements state.Grants.
func (s *Store) FindGrant(_ context.Context, k state.GrantKey, session ids.SessionID) (state.Grant, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.grants[grantKey{k, ""}]; ok {
		return g, true, nil
	}
	if session != "" {
		if g, ok := s.grants[grantKey{k, session}]; ok {
			return g, true, nil
		}
	}
	return state.Grant{}, false, nil
}

// ListGrants implements state.Grants.
func (s *Store) ListGrants(_ context.Context, user ids.UserID) ([]state.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Grant
	for k, g := range s.grants {
		if k.User == user {
			out = append(out, g)
		}
	}
	state.SortGrants(out)
	return out, nil
}

// RevokeGrants implements state.Grants.
func (s *Store) RevokeGrants(_ context.Context, user ids.UserID, app ids.AppID) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, g := range s.grants {
		if k.User == user && state.RevokeMatches(g, app) {
			delete(s.grants, k)
			n++
		}
	}
	return n, nil
}

// TouchSession implements state.Sessions. idle <= 0 never times out. When a
// session ends (timeout or EndSession) its session grants are deleted.
func (s *Store) TouchSession(_ context.Context, user ids.UserID, conv ids.ConversationID, idle time.Duration, now time.Time) (state.Session, error) {
	if err := need("user", string(user)); err != nil {
		return state.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessKey{user, conv}
	cur, ok := s.sessions[k]
	if ok && (idle <= 0 || now.Sub(cur.LastActive) <= idle) {
		if now.After(cur.LastActive) {
			cur.LastActive = now
		}
		s.sessions[k] = cur
		return cur, nil
	}
	if ok {
		s.dropSessionGrantsLocked(user, cur.ID)
	}
	cur = state.Session{ID: state.NewSessionID(), User: user, Conversation: conv, Started: now, LastActive: now}
	s.sessions[k] = cur
	return cur, nil
}

// EndSession implements state.Sessions.
func (s *Store) EndSession(_ context.Context, user ids.UserID, conv ids.ConversationID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessKey{user, conv}
	if cur, ok := s.sessions[k]; ok {
		s.dropSessionGrantsLocked(user, cur.ID)
		delete(s.sessions, k)
	}
	return nil
}

// dropSessionGrantsLocked deletes user's grants of session id.
//
// Preconditions: s.mu is held.
func (s *Store) dropSessionGrantsLocked(user ids.UserID, id ids.SessionID) {
	for k := range s.grants {
		if k.User == user && k.session == id {
			delete(s.grants, k)
		}
	}
}

// PutPending implements state.Pending.
func (s *Store) PutPending(_ context.Context, p vocab.Prompt) error {
	if err := need("prompt id", string(p.ID)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[p.ID] = p
	return nil
}

// GetPending implements state.Pending.
func (s *Store) GetPending(_ context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	return p, ok, nil
}

// TakePending implements state.Pending.
func (s *Store) TakePending(_ context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	delete(s.pending, id)
	return p, ok, nil
}

// AppendAudit implements state.Audit. The store assigns e.ID (zero-padded
// decimal, so IDs sort as strings) and stamps a zero At with its clock.
func (s *Store) AppendAudit(_ context.Context, e state.AuditEvent) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auditSeq++
	e.ID = fmt.Sprintf("%020d", s.auditSeq)
	s.audit = append(s.audit, e)
	return nil
}

// ReadAudit implements state.Audit.
func (s *Store) ReadAudit(_ context.Context, f state.AuditFilter) ([]state.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.AuditEvent
	for i := len(s.audit) - 1; i >= 0 && (f.Limit <= 0 || len(out) < f.Limit); i-- {
		if f.Match(s.audit[i]) {
			out = append(out, s.audit[i])
		}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.dedup[key]; ok && (exp.IsZero() || now.Before(exp)) {
		return false, nil
	}
	var exp time.Time
	if ttl > 0 {
		exp = now.Add(ttl)
	}
	s.dedup[key] = exp
	return true, nil
}

// Describe implements state.Store.
func (s *Store) Describe() string { return "memory (not persisted)" }

// Close implements state.Store. The data stays readable; Close only exists to
// satisfy the interface.
func (s *Store) Close() error { return nil }

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var _ state.Store = (*Store)(nil)

// DecidePending implements state.Decisions under the store's lock.
func (s *Store) DecidePending(_ context.Context, d state.Decided, grants []state.Grant) (vocab.Prompt, bool, error) {
	d, gs, err := state.CheckDecided(d, grants, s.now)
	if err != nil {
		return vocab.Prompt{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[d.Prompt]
	if !ok {
		return vocab.Prompt{}, false, nil
	}
	delete(s.pending, d.Prompt)
	for id, old := range s.decided {
		if d.At.Sub(old.At) > state.DecidedTTL {
			delete(s.decided, id)
		}
	}
	s.decided[d.Prompt] = d
	for _, g := range gs {
		s.grants[grantKey{g.GrantKey, g.Session}] = g
	}
	return p, true, nil
}

// Decided implements state.Decisions.
func (s *Store) Decided(_ context.Context, id ids.PromptID) (state.Decided, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.decided[id]
	return d, ok, nil
}
