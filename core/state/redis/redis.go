// Package redis is the state.Store for deployments and replicas: every
// replica of one deployment points at one Redis (REDIS_URL) and shares
// memory, grants, sessions, pending prompts, the audit stream and event
// dedup. It also carries the cross-replica prompt Relay and replica liveness.
// Only the wiring (cli/), evaluation/invariants (episodes on replicas) and
// tests import it.
package redis

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// DefaultNamespace prefixes every key when Options.Namespace is "".
const DefaultNamespace = "secgpt"

// Options configures a Store. The zero value is usable.
type Options struct {
	// Namespace prefixes every key and channel, so several deployments can
	// share one Redis; "" means DefaultNamespace.
	Namespace string
	// MemoryRetention hides memory entries older than this and lets a
	// conversation's memory expire after this long without an append
	// (the original SecGPT used 600 s); 0 keeps memory forever.
	MemoryRetention time.Duration
	// PendingTTL bounds how long an unanswered prompt is kept; 0 means a day.
	PendingTTL time.Duration
	// Now is the clock for stamping records and for retention; nil means
	// time.Now. Dedup and pending expiry use the server's clock.
	Now func() time.Time
	// TLS, if set, replaces the TLS settings of a rediss:// URL: a private
	// CA's RootCAs, client certificates. An empty ServerName is filled with
	// the URL's host. It is ignored for redis:// URLs.
	TLS *tls.Config
	// ClientName, if set, names the store's connections (CLIENT SETNAME),
	// so an operator, or the replica harness, can tell them apart.
	ClientName string
}

// Store is a state.Store in Redis. Its methods are safe for concurrent use.
// During an outage they fail fast with state.ErrUnavailable; go-redis probes
// the server about once a second and the store works again once it answers.
type Store struct {
	rdb       *goredis.Client
	ns        string
	retention time.Duration
	pendTTL   time.Duration
	now       func() time.Time
	addr      string
}

// Open connects to the Redis at rawURL ("redis://[:password@]host:port/db",
// "rediss://…" for TLS, "unix:///path?db=N") and checks it answers. An
// unreachable server gives an error wrapping state.ErrUnavailable.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		// url.Error quotes the whole URL, password and all; keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if o.TLSConfig != nil && opts.TLS != nil {
		tc := opts.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = o.TLSConfig.ServerName
		}
		o.TLSConfig = tc
	}
	// Fail fast during an outage rather than holding a user's message for
	// the library's default retries and timeouts.
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 2 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 2 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 2
	}
	if opts.ClientName != "" {
		o.ClientName = opts.ClientName
	}
	s := &Store{
		rdb:       goredis.NewClient(o),
		ns:        opts.Namespace,
		retention: opts.MemoryRetention,
		pendTTL:   opts.PendingTTL,
		now:       opts.Now,
		addr:      fmt.Sprintf("%s/%d", o.Addr, o.DB),
	}
	if s.ns == "" {
		s.ns = DefaultNamespace
	}
	if s.pendTTL <= 0 {
		s.pendTTL = 24 * time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, s.wrap("connect to redis "+s.addr, err)
	}
	return s, nil
}

// Namespace is the key prefix this store uses.
func (s *Store) Namespace() string { return s.ns }

// Describe implements state.Store.
func (s *Store) Describe() string { return "redis " + s.addr + " namespace " + s.ns }

// Close implements state.Store. Closing twice is harmless.
func (s *Store) Close() error {
	if err := s.rdb.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("close redis store: %w", err)
	}
	return nil
}

// wrap adds what was being done to err, and marks errors that mean the
// server cannot be reached with state.ErrUnavailable.
func (s *Store) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, state.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, goredis.ErrPoolTimeout):
		return true
	}
	msg := err.Error()
	// A restarting server answers LOADING; a replica without master MASTERDOWN.
	return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN")
}

// key builds a key from the namespace and escaped parts. Escaping ':' and
// '%' keeps the mapping one-to-one: user "a:b" with app "c" and user "a"
// with app "b:c" get different keys.
func (s *Store) key(parts ...string) string {
	var b strings.Builder
	b.WriteString(s.ns)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(escape(p))
	}
	return b.String()
}

var escaper = strings.NewReplacer("%", "%25", ":", "%3A")

func escape(p string) string { return escaper.Replace(p) }

func need(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s: %w", what, state.ErrInvalid)
	}
	return nil
}

// Key layout, all under the namespace:
//
//	mem:{user}:{app}      list of MemoryEntry JSON, oldest first
//	memapps:{user}        set of apps with memory (for ForgetMemory(user, ""))
//	ent:{user}            hash field → value
//	app:{user}:{ns}       hash key → raw JSON
//	grants:{user}         hash kind␀requester␀target␀session → Grant JSON
//	sess:{user}:{conv}    hash id, started, last (unix µs)
//	pend:{prompt}         vocab.Prompt JSON
//	audit                 stream, field "e" → AuditEvent JSON
//	dedup:{key}           "1", with the dedup ttl
//	replica:{id}          heartbeat, with its ttl
//	prompts (channel)     relayed prompt answers

// AppendMemory implements state.Memory. Entries with a zero At are stamped
// with the store's clock.
func (s *Store) AppendMemory(ctx context.Context, user ids.UserID, app ids.AppID, entries ...state.MemoryEntry) error {
	if err := errors.Join(need("user", string(user)), need("app", string(app))); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := s.now()
	vals := make([]any, len(entries))
	for i, e := range entries {
		if e.At.IsZero() {
			e.At = now
		}
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode memory entry: %w", err)
		}
		vals[i] = v
	}
	k, idx := s.key("mem", string(user), string(app)), s.key("memapps", string(user))
	// One round trip. The index is written first, so it names every app
	// with memory even if the push fails.
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.SAdd(ctx, idx, string(app))
		p.RPush(ctx, k, vals...)
		if s.retention > 0 {
			p.PExpire(ctx, k, s.retention)
			p.PExpire(ctx, idx, s.retention)
		}
		return nil
	})
	return s.wrap(fmt.Sprintf("append memory of %s for %s", user, app), err)
}

// ReadMemory implements state.Memory.
func (s *Store) ReadMemory(ctx context.Context, user ids.UserID, app ids.AppID, limit int) ([]state.MemoryEntry, error) {
	start := int64(0)
	if limit > 0 {
		start = -int64(limit)
	}
	raw, err := s.rdb.LRange(ctx, s.key("mem", string(user), string(app)), start, -1).Result()
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("read memory of %s for %s", user, app), err)
	}
	var cut time.Time
	if s.retention > 0 {
		cut = s.now().Add(-s.retention)
	}
	out := make([]state.MemoryEntry, 0, len(raw))
	for _, r := range raw {
		var e state.MemoryEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("read memory of %s for %s: decode entry: %w", user, app, err)
		}
		// Entries are appended in time order, so the ones past retention
		// are at the front of the newest limit; hiding them returns fewer.
		if !cut.IsZero() && e.At.Before(cut) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ForgetMemory implements state.Memory.
func (s *Store) ForgetMemory(ctx context.Context, user ids.UserID, app ids.AppID) error {
	what := fmt.Sprintf("forget memory of %s for %q", user, app)
	idx := s.key("memapps", string(user))
	if app != "" {
		_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, s.key("mem", string(user), string(app)))
			p.SRem(ctx, idx, string(app))
			return nil
		})
		return s.wrap(what, err)
	}
	apps, err := s.rdb.SMembers(ctx, idx).Result()
	if err != nil {
		return s.wrap(what, err)
	}
	keys := []string{idx}
	for _, a := range apps {
		keys = append(keys, s.key("mem", string(user), a))
	}
	return s.wrap(what, s.rdb.Del(ctx, keys...).Err())
}

// PutEntities implements state.Entities; facts are merged into the user's.
func (s *Store) PutEntities(ctx context.Context, user ids.UserID, facts map[string]string) error {
	if err := need("user", string(user)); err != nil {
		return err
	}
	if len(facts) == 0 {
		return nil
	}
	return s.wrap("put entities of "+string(user), s.rdb.HSet(ctx, s.key("ent", string(user)), facts).Err())
}

// Entities implements state.Entities.
func (s *Store) Entities(ctx context.Context, user ids.UserID) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.key("ent", string(user))).Result()
	if err != nil {
		return nil, s.wrap("read entities of "+string(user), err)
	}
	return m, nil
}

// ForgetEntities implements state.Entities.
func (s *Store) ForgetEntities(ctx context.Context, user ids.UserID) error {
	return s.wrap("forget entities of "+string(user), s.rdb.Del(ctx, s.key("ent", string(user))).Err())
}

// ForgetEntity implements state.Entities.
func (s *Store) ForgetEntity(ctx context.Context, user ids.UserID, key string) (bool, error) {
	n, err := s.rdb.HDel(ctx, s.key("ent", string(user)), key).Result()
	if err != nil {
		return false, s.wrap(fmt.Sprintf("forget entity %q of %s", key, user), err)
	}
	return n > 0, nil
}

// GetAppState implements state.AppState.
func (s *Store) GetAppState(ctx context.Context, user ids.UserID, ns, key string) (json.RawMessage, bool, error) {
	v, err := s.rdb.HGet(ctx, s.key("app", string(user), ns), key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap(fmt.Sprintf("get app state %s/%s of %s", ns, key, user), err)
	}
	return v, true, nil
}

// PutAppState implements state.AppState.
func (s *Store) PutAppState(ctx context.Context, user ids.UserID, ns, key string, value json.RawMessage) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	if value == nil {
		value = json.RawMessage("null")
	}
	err := s.rdb.HSet(ctx, s.key("app", string(user), ns), key, []byte(value)).Err()
	return s.wrap(fmt.Sprintf("put app state %s/%s of %s", ns, key, user), err)
}

// putWithinScript writes field ARGV[1] = ARGV[2] of hash KEYS[1] unless the
// hash would then hold more than ARGV[3] fields or ARGV[4] bytes of fields
// and values (0: no bound), and adds ARGV[5] to the set KEYS[2] (the user's
// namespaces, for ForgetAppState). It returns "ok", or a refusal that
// CheckQuota words. It counts with HSTRLEN over the hash, which holds at most
// the key quota's fields; running as one script makes check and write atomic.
var putWithinScript = goredis.NewScript(`
local n = redis.call('HLEN', KEYS[1])
local bytes = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  bytes = bytes + #f + redis.call('HSTRLEN', KEYS[1], f)
end
local old = -1
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  old = redis.call('HSTRLEN', KEYS[1], ARGV[1])
end
local keys, after = n, bytes + #ARGV[1] + #ARGV[2]
if old < 0 then keys = keys + 1 else after = after - #ARGV[1] - old end
local qk, qb = tonumber(ARGV[3]), tonumber(ARGV[4])
if qk > 0 and keys > qk and keys > n then return {'keys', n, bytes, old} end
if qb > 0 and after > qb and after > bytes then return {'bytes', n, bytes, old} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[5])
return {'ok', n, bytes, old}
`)

// PutAppStateWithin implements state.AppStateAdmin.
func (s *Store) PutAppStateWithin(ctx context.Context, user ids.UserID, ns, key string, value json.RawMessage, q state.Quota) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	if value == nil {
		value = json.RawMessage("null")
	}
	what := fmt.Sprintf("put app state %s/%s of %s", ns, key, user)
	keys := []string{s.key("app", string(user), ns), s.key("appnss", string(user))}
	res, err := putWithinScript.Run(ctx, s.rdb, keys, key, []byte(value), q.Keys, q.Bytes, ns).Slice()
	if err != nil {
		return s.wrap(what, err)
	}
	if len(res) != 4 {
		return fmt.Errorf("%s: unexpected script answer %v", what, res)
	}
	if verdict, _ := res[0].(string); verdict != "ok" {
		n, _ := res[1].(int64)
		bytes, _ := res[2].(int64)
		old, _ := res[3].(int64)
		if err := state.CheckQuota(state.Usage{Keys: int(n), Bytes: bytes}, key, int(old), len(value), q); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return fmt.Errorf("%s: %w", what, state.ErrQuota)
	}
	return nil
}

// addSetScript makes field ARGV[1] of hash KEYS[1], a JSON array of
// strings, the union of what it holds and ARGV[3…], sorted, and adds
// ARGV[2] to the set KEYS[2] (the user's namespaces, for ForgetAppState).
// It writes nothing when every member is there already. It returns "ok",
// or "invalid" for a field that is not an array of strings. One script is
// one atomic step: two replicas adding at once both land.
var addSetScript = goredis.NewScript(`
local have, set = {}, {}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local ok, cur = pcall(cjson.decode, raw)
  if not ok or type(cur) ~= 'table' then return 'invalid' end
  for k, v in pairs(cur) do
    if type(k) ~= 'number' or type(v) ~= 'string' then return 'invalid' end
    if not set[v] then set[v] = true; have[#have + 1] = v end
  end
end
local grew = false
for i = 3, #ARGV do
  if not set[ARGV[i]] then set[ARGV[i]] = true; have[#have + 1] = ARGV[i]; grew = true end
end
if not grew then return 'ok' end
table.sort(have)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(have))
redis.call('SADD', KEYS[2], ARGV[2])
return 'ok'
`)

// AddAppStateSet implements state.AppStateAdmin in one round trip.
func (s *Store) AddAppStateSet(ctx context.Context, user ids.UserID, ns, key string, members ...string) error {
	if err := errors.Join(need("user", string(user)), need("namespace", ns), need("key", key)); err != nil {
		return err
	}
	what := fmt.Sprintf("add to app state set %s/%s of %s", ns, key, user)
	if len(members) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(members))
	args = append(args, key, ns)
	for _, m := range members {
		args = append(args, m)
	}
	keys := []string{s.key("app", string(user), ns), s.key("appnss", string(user))}
	res, err := addSetScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return s.wrap(what, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s: not a set of strings: %w", what, state.ErrInvalid)
	}
	return nil
}

// ForgetAppState implements state.AppStateAdmin. The user's namespaces are
// found from the index PutAppStateWithin keeps and from a scan of the user's
// app keys (state written by PutAppState, or before the index existed).
func (s *Store) ForgetAppState(ctx context.Context, user ids.UserID, ns string) (int, error) {
	what := fmt.Sprintf("forget app state %q of %s", ns, user)
	idx := s.key("appnss", string(user))
	var hashes []string
	if ns != "" {
		hashes = []string{s.key("app", string(user), ns)}
	} else {
		nss, err := s.rdb.SMembers(ctx, idx).Result()
		if err != nil {
			return 0, s.wrap(what, err)
		}
		for _, n := range nss {
			hashes = append(hashes, s.key("app", string(user), n))
		}
		// Escaped parts never hold ':' and user's part is followed by one,
		// so this pattern matches this user's app hashes only.
		pattern := globEscaper.Replace(s.key("app", string(user))) + ":*"
		iter := s.rdb.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			if !slices.Contains(hashes, iter.Val()) {
				hashes = append(hashes, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return 0, s.wrap(what, err)
		}
	}
	n := 0
	for _, h := range hashes {
		k, err := s.rdb.HLen(ctx, h).Result()
		if err != nil {
			return n, s.wrap(what, err)
		}
		if err := s.rdb.Del(ctx, h).Err(); err != nil {
			return n, s.wrap(what, err)
		}
		n += int(k)
	}
	if ns == "" {
		if err := s.rdb.Del(ctx, idx).Err(); err != nil {
			return n, s.wrap(what, err)
		}
	} else if err := s.rdb.SRem(ctx, idx, ns).Err(); err != nil {
		return n, s.wrap(what, err)
	}
	return n, nil
}

// globEscaper escapes the glob characters of Redis SCAN MATCH.
var globEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`)

func grantField(k state.GrantKey, session ids.SessionID) string {
	return k.ID() + "\x00" + string(session)
}

// PutGrant implements state.Grants. Grants carry no expiry: "always" grants
// are durable, session grants are deleted when their session ends.
func (s *Store) PutGrant(ctx context.Context, g state.Grant) error {
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
	err = s.rdb.HSet(ctx, s.key("grants", string(g.User)), grantField(g.GrantKey, g.Session), v).Err()
	return s.wrap("put grant for "+string(g.User), err)
}

// FindGrant implements state.Grants with one round trip.
func (s *Store) FindGrant(ctx context.Context, k state.GrantKey, session ids.SessionID) (state.Grant, bool, error) {
	fields := []string{grantField(k, "")}
	if session != "" {
		fields = append(fields, grantField(k, session))
	}
	vals, err := s.rdb.HMGet(ctx, s.key("grants", string(k.User)), fields...).Result()
	if err != nil {
		return state.Grant{}, false, s.wrap("find grant for "+string(k.User), err)
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var g state.Grant
		if err := json.Unmarshal([]byte(str), &g); err != nil {
			return state.Grant{}, false, fmt.Errorf("find grant for %s: decode: %w", k.User, err)
		}
		return g, true, nil
	}
	return state.Grant{}, false, nil
}

// ListGrants implements state.Grants.
func (s *Store) ListGrants(ctx context.Context, user ids.UserID) ([]state.Grant, error) {
	m, err := s.rdb.HGetAll(ctx, s.key("grants", string(user))).Result()
	if err != nil {
		return nil, s.wrap("list grants of "+string(user), err)
	}
	out := make([]state.Grant, 0, len(m))
	for f, v := range m {
		var g state.Grant
		if err := json.Unmarshal([]byte(v), &g); err != nil {
			return nil, fmt.Errorf("list grants of %s: decode %q: %w", user, f, err)
		}
		out = append(out, g)
	}
	state.SortGrants(out)
	return out, nil
}

// RevokeGrants implements state.Grants.
func (s *Store) RevokeGrants(ctx context.Context, user ids.UserID, app ids.AppID) (int, error) {
	gs, err := s.ListGrants(ctx, user)
	if err != nil {
		return 0, err
	}
	var fields []string
	for _, g := range gs {
		if state.RevokeMatches(g, app) {
			fields = append(fields, grantField(g.GrantKey, g.Session))
		}
	}
	if len(fields) == 0 {
		return 0, nil
	}
	n, err := s.rdb.HDel(ctx, s.key("grants", string(user)), fields...).Result()
	if err != nil {
		return 0, s.wrap(fmt.Sprintf("revoke grants of %s for %q", user, app), err)
	}
	return int(n), nil
}

// touchScript continues or replaces the session in KEYS[1] atomically, so
// two replicas touching at once agree on one session, and deletes the
// replaced session's grants from KEYS[2].
// ARGV: now (unix µs), idle (µs, <= 0 never times out), fresh session id.
// Returns {id, started, last}.
var touchScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'id', 'started', 'last')
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
if cur[1] then
  if idle <= 0 or now - tonumber(cur[3]) <= idle then
    if now > tonumber(cur[3]) then
      redis.call('HSET', KEYS[1], 'last', ARGV[1])
      cur[3] = ARGV[1]
    end
    return {cur[1], cur[2], cur[3]}
  end
  local suffix = '\0' .. cur[1]
  for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
    if string.sub(f, -#suffix) == suffix then redis.call('HDEL', KEYS[2], f) end
  end
end
redis.call('HSET', KEYS[1], 'id', ARGV[3], 'started', ARGV[1], 'last', ARGV[1])
return {ARGV[3], ARGV[1], ARGV[1]}
`)

// endScript deletes the session in KEYS[1] and its grants from KEYS[2].
var endScript = goredis.NewScript(`
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return 0 end
local suffix = '\0' .. id
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(f, -#suffix) == suffix then redis.call('HDEL', KEYS[2], f) end
end
redis.call('DEL', KEYS[1])
return 1
`)

// TouchSession implements state.Sessions. idle <= 0 never times out. When a
// session ends (timeout or EndSession) its session grants are deleted.
// Times are kept to the microsecond.
func (s *Store) TouchSession(ctx context.Context, user ids.UserID, conv ids.ConversationID, idle time.Duration, now time.Time) (state.Session, error) {
	if err := need("user", string(user)); err != nil {
		return state.Session{}, err
	}
	what := fmt.Sprintf("touch session of %s in %s", user, conv)
	keys := []string{s.key("sess", string(user), string(conv)), s.key("grants", string(user))}
	res, err := touchScript.Run(ctx, s.rdb, keys, now.UnixMicro(), idle.Microseconds(), string(state.NewSessionID())).StringSlice()
	if err != nil {
		return state.Session{}, s.wrap(what, err)
	}
	if len(res) != 3 {
		return state.Session{}, fmt.Errorf("%s: script returned %d values", what, len(res))
	}
	started, err1 := strconv.ParseInt(res[1], 10, 64)
	last, err2 := strconv.ParseInt(res[2], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return state.Session{}, fmt.Errorf("%s: decode: %w", what, err)
	}
	return state.Session{
		ID: ids.SessionID(res[0]), User: user, Conversation: conv,
		Started: time.UnixMicro(started).UTC(), LastActive: time.UnixMicro(last).UTC(),
	}, nil
}

// EndSession implements state.Sessions.
func (s *Store) EndSession(ctx context.Context, user ids.UserID, conv ids.ConversationID) error {
	keys := []string{s.key("sess", string(user), string(conv)), s.key("grants", string(user))}
	err := endScript.Run(ctx, s.rdb, keys).Err()
	return s.wrap(fmt.Sprintf("end session of %s in %s", user, conv), err)
}

// PutPending implements state.Pending. The prompt is kept for PendingTTL at
// most, so abandoned prompts do not pile up.
func (s *Store) PutPending(ctx context.Context, p vocab.Prompt) error {
	if err := need("prompt id", string(p.ID)); err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode prompt: %w", err)
	}
	return s.wrap("put pending prompt "+string(p.ID), s.rdb.Set(ctx, s.key("pend", string(p.ID)), v, s.pendTTL).Err())
}

// GetPending implements state.Pending.
func (s *Store) GetPending(ctx context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	return s.decodePrompt(id, s.rdb.Get(ctx, s.key("pend", string(id))))
}

// TakePending implements state.Pending with GETDEL, which Redis runs
// atomically: exactly one racing caller gets the prompt.
func (s *Store) TakePending(ctx context.Context, id ids.PromptID) (vocab.Prompt, bool, error) {
	return s.decodePrompt(id, s.rdb.GetDel(ctx, s.key("pend", string(id))))
}

func (s *Store) decodePrompt(id ids.PromptID, cmd *goredis.StringCmd) (vocab.Prompt, bool, error) {
	v, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return vocab.Prompt{}, false, nil
	}
	if err != nil {
		return vocab.Prompt{}, false, s.wrap("read pending prompt "+string(id), err)
	}
	var p vocab.Prompt
	if err := json.Unmarshal(v, &p); err != nil {
		return vocab.Prompt{}, false, fmt.Errorf("read pending prompt %s: decode: %w", id, err)
	}
	return p, true, nil
}

// AppendAudit implements state.Audit with XADD; e.ID is the stream entry
// ID, which Redis makes monotonic. A zero At is stamped with the store's
// clock.
func (s *Store) AppendAudit(ctx context.Context, e state.AuditEvent) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.ID = ""
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit event: %w", err)
	}
	err = s.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: s.key("audit"), Values: []any{"e", v}}).Err()
	return s.wrap("append audit event", err)
}

// auditPage is how many stream entries one XRANGE round trip reads.
const auditPage = 500

// ReadAudit implements state.Audit. It filters on the client: with a Limit
// it walks the stream from the newest entry back until it has enough.
func (s *Store) ReadAudit(ctx context.Context, f state.AuditFilter) ([]state.AuditEvent, error) {
	stream := s.key("audit")
	var out []state.AuditEvent
	if f.Limit > 0 {
		end := "+"
		for len(out) < f.Limit {
			msgs, err := s.rdb.XRevRangeN(ctx, stream, end, "-", auditPage).Result()
			if err != nil {
				return nil, s.wrap("read audit", err)
			}
			for _, m := range msgs {
				e, err := decodeAudit(m)
				if err != nil {
					return nil, err
				}
				if f.Match(e) {
					out = append(out, e)
					if len(out) == f.Limit {
						break
					}
				}
			}
			if len(msgs) < auditPage {
				break
			}
			end = "(" + msgs[len(msgs)-1].ID
		}
		slices.Reverse(out)
		return out, nil
	}
	start := "-"
	for {
		msgs, err := s.rdb.XRangeN(ctx, stream, start, "+", auditPage).Result()
		if err != nil {
			return nil, s.wrap("read audit", err)
		}
		for _, m := range msgs {
			e, err := decodeAudit(m)
			if err != nil {
				return nil, err
			}
			if f.Match(e) {
				out = append(out, e)
			}
		}
		if len(msgs) < auditPage {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func decodeAudit(m goredis.XMessage) (state.AuditEvent, error) {
	var e state.AuditEvent
	raw, _ := m.Values["e"].(string)
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return e, fmt.Errorf("read audit: decode entry %s: %w", m.ID, err)
	}
	e.ID = m.ID
	return e, nil
}

// FirstSeen implements state.Dedup with SET NX PX. ttl <= 0 remembers key
// forever.
func (s *Store) FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := need("dedup key", key); err != nil {
		return false, err
	}
	if ttl < 0 {
		ttl = 0
	}
	ok, err := s.rdb.SetNX(ctx, s.key("dedup", key), 1, ttl).Result()
	if err != nil {
		return false, s.wrap("record event "+key, err)
	}
	return ok, nil
}

var _ state.Store = (*Store)(nil)
