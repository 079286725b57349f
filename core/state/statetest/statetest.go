// Package statetest is the conformance suite every state.Store backend must
// pass. Only tests import it: a backend's test calls Run with a function that
// opens a fresh, empty store.
package statetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Option adds optional capabilities of a backend to the suite.
type Option func(*config)

type config struct {
	reopen    func(t *testing.T, s state.Store) state.Store
	openClock func(t *testing.T, retention time.Duration, now func() time.Time) state.Store
}

// WithReopen lets the suite check durability: reopen must close s and return
// a store over the same data (the same file, the same Redis namespace).
func WithReopen(reopen func(t *testing.T, s state.Store) state.Store) Option {
	return func(c *config) { c.reopen = reopen }
}

// WithClock lets the suite check memory retention: open must return a fresh
// store with the given retention that reads time from now.
func WithClock(open func(t *testing.T, retention time.Duration, now func() time.Time) state.Store) Option {
	return func(c *config) { c.openClock = open }
}

// Run runs the conformance suite. open must return a fresh, empty store; the
// suite closes every store it gets.
func Run(t *testing.T, open func(t *testing.T) state.Store, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	fresh := func(t *testing.T) state.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s state.Store)
	}{
		{"MemoryIsolation", testMemoryIsolation},
		{"MemoryLimit", testMemoryLimit},
		{"MemoryForget", testMemoryForget},
		{"Entities", testEntities},
		{"AppState", testAppState},
		{"AppStateQuota", testAppStateQuota},
		{"AppStateQuotaRace", testAppStateQuotaRace},
		{"AppStateForget", testAppStateForget},
		{"AppStateSet", testAppStateSet},
		{"AppStateSetRace", testAppStateSetRace},
		{"GrantFind", testGrantFind},
		{"GrantScope", testGrantScope},
		{"GrantInvalid", testGrantInvalid},
		{"GrantList", testGrantList},
		{"GrantRevoke", testGrantRevoke},
		{"Sessions", testSessions},
		{"SessionEndDropsGrants", testSessionEndDropsGrants},
		{"EndSessionsUnder", testEndSessionsUnder},
		{"Pending", testPending},
		{"PendingRace", testPendingRace},
		{"Decide", testDecide},
		{"DecideRace", testDecideRace},
		{"Replans", testReplans},
		{"ReplanInvalid", testReplanInvalid},
		{"ReplanExpiry", testReplanExpiry},
		{"ReplanForget", testReplanForget},
		{"ReplanRace", testReplanRace},
		{"Pins", testPins},
		{"PinInvalid", testPinInvalid},
		{"AuditOrder", testAuditOrder},
		{"AuditFilter", testAuditFilter},
		{"Dedup", testDedup},
		{"DedupRace", testDedupRace},
		{"Marks", testMarks},
		{"Describe", func(t *testing.T, s state.Store) {
			if s.Describe() == "" {
				t.Error("Describe() is empty")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, fresh(t)) })
	}
	t.Run("Retention", func(t *testing.T) {
		if c.openClock == nil {
			t.Skip("backend gives no clock hook (statetest.WithClock)")
		}
		testRetention(t, c.openClock)
	})
	t.Run("Reopen", func(t *testing.T) {
		if c.reopen == nil {
			t.Skip("backend cannot be reopened (statetest.WithReopen)")
		}
		testReopen(t, open(t), c.reopen)
	})
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func entry(i int) state.MemoryEntry {
	return state.MemoryEntry{Role: "user", Content: "m" + strconv.Itoa(i), At: t0.Add(time.Duration(i) * time.Second)}
}

func contents(es []state.MemoryEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Content
	}
	return out
}

func testMemoryIsolation(t *testing.T, s state.Store) {
	ctx := t.Context()
	writes := []struct {
		user ids.UserID
		app  ids.AppID
		text string
	}{
		{"slack:T1/alice", "mail", "alice-mail"},
		{"slack:T1/alice", "ride", "alice-ride"},
		{"slack:T1/bob", "mail", "bob-mail"},
		{"matrix:@alice:x", "mail", "matrix-alice-mail"},
		// A user and app whose names concatenate to the same string as
		// another pair must not collide.
		{"slack:T1/alice:mail", "x", "tricky"},
	}
	for _, w := range writes {
		must(t, s.AppendMemory(ctx, w.user, w.app, state.MemoryEntry{Role: "user", Content: w.text, At: t0}), "append")
	}
	for _, w := range writes {
		got, err := s.ReadMemory(ctx, w.user, w.app, 0)
		must(t, err, "read")
		if !slices.Equal(contents(got), []string{w.text}) {
			t.Errorf("ReadMemory(%s, %s) = %q, want only %q", w.user, w.app, contents(got), w.text)
		}
	}
	got, err := s.ReadMemory(ctx, "slack:T1/carol", "mail", 0)
	must(t, err, "read")
	if len(got) != 0 {
		t.Errorf("unknown user reads %q", contents(got))
	}
}

func testMemoryLimit(t *testing.T, s state.Store) {
	ctx := t.Context()
	const u, a = ids.UserID("u1"), ids.AppID("app")
	must(t, s.AppendMemory(ctx, u, a, entry(1), entry(2)), "append")
	must(t, s.AppendMemory(ctx, u, a, entry(3), entry(4), entry(5)), "append")
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"all", 0, []string{"m1", "m2", "m3", "m4", "m5"}},
		{"negative is all", -1, []string{"m1", "m2", "m3", "m4", "m5"}},
		{"newest three oldest first", 3, []string{"m3", "m4", "m5"}},
		{"one", 1, []string{"m5"}},
		{"more than stored", 50, []string{"m1", "m2", "m3", "m4", "m5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ReadMemory(ctx, u, a, tc.limit)
			must(t, err, "read")
			if !slices.Equal(contents(got), tc.want) {
				t.Errorf("ReadMemory(limit %d) = %q, want %q", tc.limit, contents(got), tc.want)
			}
		})
	}
	got, err := s.ReadMemory(ctx, u, a, 1)
	must(t, err, "read")
	if len(got) == 1 && (!got[0].At.Equal(entry(5).At) || got[0].Role != "user") {
		t.Errorf("entry round trip = %+v, want %+v", got[0], entry(5))
	}
	// A zero At is stamped by the store.
	must(t, s.AppendMemory(ctx, u, "stamp", state.MemoryEntry{Role: "assistant", Content: "x"}), "append")
	got, err = s.ReadMemory(ctx, u, "stamp", 0)
	must(t, err, "read")
	if len(got) != 1 || got[0].At.IsZero() {
		t.Errorf("entry appended with zero At reads back as %+v, want a stamped time", got)
	}
}

func testMemoryForget(t *testing.T, s state.Store) {
	ctx := t.Context()
	type ua struct {
		u ids.UserID
		a ids.AppID
	}
	all := []ua{{"alice", "mail"}, {"alice", "ride"}, {"bob", "mail"}}
	tests := []struct {
		name   string
		user   ids.UserID
		app    ids.AppID
		remain []ua
	}{
		{"one app", "alice", "mail", []ua{{"alice", "ride"}, {"bob", "mail"}}},
		{"all apps", "alice", "", []ua{{"bob", "mail"}}},
		{"nothing stored", "carol", "", all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, x := range all {
				must(t, s.ForgetMemory(ctx, x.u, x.a), "reset")
				must(t, s.AppendMemory(ctx, x.u, x.a, entry(1)), "append")
			}
			must(t, s.ForgetMemory(ctx, tc.user, tc.app), "forget")
			for _, x := range all {
				got, err := s.ReadMemory(ctx, x.u, x.a, 0)
				must(t, err, "read")
				want := 0
				if slices.Contains(tc.remain, x) {
					want = 1
				}
				if len(got) != want {
					t.Errorf("after ForgetMemory(%s, %q): %s/%s has %d entries, want %d", tc.user, tc.app, x.u, x.a, len(got), want)
				}
			}
		})
	}
}

func testRetention(t *testing.T, open func(*testing.T, time.Duration, func() time.Time) state.Store) {
	ctx := t.Context()
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	const retention = 10 * time.Minute
	s := open(t, retention, clock)
	t.Cleanup(func() { s.Close() })
	must(t, s.AppendMemory(ctx, "u", "a", state.MemoryEntry{Role: "user", Content: "old"}), "append")
	advance(retention / 2)
	must(t, s.AppendMemory(ctx, "u", "a", state.MemoryEntry{Role: "user", Content: "mid"}), "append")
	got, err := s.ReadMemory(ctx, "u", "a", 0)
	must(t, err, "read")
	if !slices.Equal(contents(got), []string{"old", "mid"}) {
		t.Fatalf("within retention: %q, want [old mid]", contents(got))
	}
	advance(retention/2 + time.Second)
	must(t, s.AppendMemory(ctx, "u", "a", state.MemoryEntry{Role: "user", Content: "new"}), "append")
	got, err = s.ReadMemory(ctx, "u", "a", 0)
	must(t, err, "read")
	if !slices.Equal(contents(got), []string{"mid", "new"}) {
		t.Errorf("past retention of the first entry: %q, want [mid new]", contents(got))
	}
	advance(retention + time.Second)
	got, err = s.ReadMemory(ctx, "u", "a", 0)
	must(t, err, "read")
	if len(got) != 0 {
		t.Errorf("past retention of all entries: %q, want none", contents(got))
	}
}

func testEntities(t *testing.T, s state.Store) {
	ctx := t.Context()
	must(t, s.PutEntities(ctx, "alice", map[string]string{"name": "Alice", "dob": "1990-01-01"}), "put")
	must(t, s.PutEntities(ctx, "alice", map[string]string{"dob": "1990-02-02", "city": "Oslo"}), "merge")
	must(t, s.PutEntities(ctx, "bob", map[string]string{"name": "Bob"}), "put")
	tests := []struct {
		user ids.UserID
		want map[string]string
	}{
		{"alice", map[string]string{"name": "Alice", "dob": "1990-02-02", "city": "Oslo"}},
		{"bob", map[string]string{"name": "Bob"}},
		{"carol", map[string]string{}},
	}
	for _, tc := range tests {
		got, err := s.Entities(ctx, tc.user)
		must(t, err, "read")
		if !mapsEqual(got, tc.want) {
			t.Errorf("Entities(%s) = %v, want %v", tc.user, got, tc.want)
		}
	}
	for _, tc := range []struct {
		user ids.UserID
		key  string
		want bool
	}{
		{"alice", "city", true},
		{"alice", "city", false}, // already gone
		{"alice", "DOB", false},  // keys are exact
		{"carol", "name", false}, // no facts at all
		{"", "name", false},
	} {
		got, err := s.ForgetEntity(ctx, tc.user, tc.key)
		must(t, err, "forget one")
		if got != tc.want {
			t.Errorf("ForgetEntity(%q, %q) = %v, want %v", tc.user, tc.key, got, tc.want)
		}
	}
	if got, err := s.Entities(ctx, "alice"); err != nil || !mapsEqual(got, map[string]string{"name": "Alice", "dob": "1990-02-02"}) {
		t.Errorf("after forgetting alice's city: %v, %v", got, err)
	}
	must(t, s.ForgetEntities(ctx, "alice"), "forget")
	got, err := s.Entities(ctx, "alice")
	must(t, err, "read")
	if len(got) != 0 {
		t.Errorf("after forget: %v", got)
	}
	got, err = s.Entities(ctx, "bob")
	must(t, err, "read")
	if got["name"] != "Bob" {
		t.Errorf("forgetting alice touched bob: %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testAppState(t *testing.T, s state.Store) {
	ctx := t.Context()
	puts := []struct {
		user    ids.UserID
		ns, key string
		val     string
	}{
		{"alice", "mail", "sent", `["a"]`},
		{"alice", "mail", "deleted", `[]`},
		{"alice", "ride", "sent", `{"r":1}`},
		{"bob", "mail", "sent", `["b"]`},
		{"alice", "mail", "sent", `["a","a2"]`}, // overwrite
	}
	for _, p := range puts {
		must(t, s.PutAppState(ctx, p.user, p.ns, p.key, json.RawMessage(p.val)), "put")
	}
	tests := []struct {
		user    ids.UserID
		ns, key string
		want    string
		ok      bool
	}{
		{"alice", "mail", "sent", `["a","a2"]`, true},
		{"alice", "mail", "deleted", `[]`, true},
		{"alice", "ride", "sent", `{"r":1}`, true},
		{"bob", "mail", "sent", `["b"]`, true},
		{"bob", "ride", "sent", "", false},
		{"alice", "mail", "nope", "", false},
		{"carol", "mail", "sent", "", false},
	}
	for _, tc := range tests {
		got, ok, err := s.GetAppState(ctx, tc.user, tc.ns, tc.key)
		must(t, err, "get")
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("GetAppState(%s, %s, %s) = %s, %v; want %s, %v", tc.user, tc.ns, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

// testAppStateQuota: writes past a (user, namespace) quota of keys or bytes
// fail with ErrQuota and change nothing; overwrites count their new size;
// other users and namespaces have their own quota.
func testAppStateQuota(t *testing.T, s state.Store) {
	ctx := t.Context()
	q := state.Quota{Keys: 3, Bytes: 100}
	val := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`) }
	steps := []struct {
		user    ids.UserID
		ns, key string
		size    int
		quota   bool // want ErrQuota
	}{
		{"alice", "mail", "a", 20, false},      // 21 bytes, 1 key
		{"alice", "mail", "b", 20, false},      // 42, 2
		{"alice", "mail", "c", 20, false},      // 63, 3
		{"alice", "mail", "d", 2, true},        // a fourth key
		{"alice", "mail", "a", 50, false},      // overwrite: 93, 3
		{"alice", "mail", "b", 40, true},       // 113 bytes
		{"alice", "mail", "b", 27, false},      // exactly 100
		{"alice", "mail", "b", 10, false},      // shrinking
		{"alice", "ride", "a", 99, false},      // its own namespace
		{"bob", "mail", "a", 99, false},        // its own user
		{"alice", "ride", "b", 2, true},        // 100 + 3 bytes
		{"alice", "huge", "k", 1 << 20, true},  // one value past the bytes
		{"carol", "mail", "k", 1 << 20, false}, // no bound below
	}
	for i, st := range steps {
		qq := q
		if st.user == "carol" {
			qq = state.Quota{}
		}
		err := s.PutAppStateWithin(ctx, st.user, st.ns, st.key, val(st.size), qq)
		if got := errors.Is(err, state.ErrQuota); got != st.quota || (err != nil && !got) {
			t.Fatalf("step %d: PutAppStateWithin(%s, %s, %s, %d bytes) = %v; want ErrQuota=%v", i, st.user, st.ns, st.key, st.size, err, st.quota)
		}
	}
	for _, c := range []struct {
		user    ids.UserID
		ns, key string
		size    int // 0: absent
	}{{"alice", "mail", "a", 50}, {"alice", "mail", "b", 10}, {"alice", "mail", "d", 0}, {"alice", "ride", "b", 0}, {"alice", "huge", "k", 0}} {
		v, ok, err := s.GetAppState(ctx, c.user, c.ns, c.key)
		must(t, err, "get")
		if ok != (c.size > 0) || len(v) != c.size {
			t.Errorf("after the refusals, %s/%s/%s = %d bytes (found %v); want %d", c.user, c.ns, c.key, len(v), ok, c.size)
		}
	}
}

// testAppStateQuotaRace: concurrent writers of one namespace cannot pass
// the key quota together.
func testAppStateQuotaRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	q := state.Quota{Keys: 5}
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.PutAppStateWithin(ctx, "alice", "ns", fmt.Sprint("k", i), json.RawMessage(`1`), q) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Fatalf("%d concurrent writes of new keys succeeded; the quota is 5", ok.Load())
	}
}

// testAppStateSet: AddAppStateSet keeps a set of strings at a key (each
// member once, whatever was added before), per user and namespace,
// readable with GetAppState; it refuses a value that is not one and
// leaves it as it was; ForgetAppState deletes it.
func testAppStateSet(t *testing.T, s state.Store) {
	ctx := t.Context()
	steps := []struct {
		user    ids.UserID
		ns, key string
		add     []string
		want    []string
	}{
		{"alice", "label/mail", "set", []string{"app:b", "app:a"}, []string{"app:a", "app:b"}},
		{"alice", "label/mail", "set", []string{"app:a"}, []string{"app:a", "app:b"}},
		{"alice", "label/mail", "set", []string{"fact:city", "app:a", "fact:city"}, []string{"app:a", "app:b", "fact:city"}},
		{"alice", "label/mail", "set", nil, []string{"app:a", "app:b", "fact:city"}},
		{"alice", "label/mail", "other", []string{`quote " and \ and ünï`}, []string{`quote " and \ and ünï`}},
		{"alice", "label/ride", "set", []string{"app:c"}, []string{"app:c"}},
		{"bob", "label/mail", "set", []string{"app:z"}, []string{"app:z"}},
	}
	for i, st := range steps {
		must(t, s.AddAppStateSet(ctx, st.user, st.ns, st.key, st.add...), fmt.Sprintf("step %d: add", i))
		if got := readSet(t, s, st.user, st.ns, st.key); !reflect.DeepEqual(got, st.want) {
			t.Errorf("step %d: after adding %q to %s/%s/%s the set is %q, want %q", i, st.add, st.user, st.ns, st.key, got, st.want)
		}
	}
	for _, bad := range []string{`{"sources":["app:a"]}`, `"app:a"`, `[1,2]`, `null`} {
		must(t, s.PutAppState(ctx, "carol", "label/mail", "set", json.RawMessage(bad)), "put")
		if err := s.AddAppStateSet(ctx, "carol", "label/mail", "set", "app:a"); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("AddAppStateSet over %s = %v, want ErrInvalid", bad, err)
		}
		if v, _, _ := s.GetAppState(ctx, "carol", "label/mail", "set"); string(v) != bad {
			t.Errorf("a refused union changed %s to %s", bad, v)
		}
	}
	if err := s.AddAppStateSet(ctx, "", "label/mail", "set", "app:a"); err == nil {
		t.Error("AddAppStateSet without a user succeeded")
	}
	n, err := s.ForgetAppState(ctx, "alice", "label/mail")
	must(t, err, "forget")
	if n != 2 {
		t.Errorf("ForgetAppState(alice, label/mail) = %d keys, want 2", n)
	}
	if got := readSet(t, s, "alice", "label/mail", "set"); got != nil {
		t.Errorf("after forgetting, the set is %q", got)
	}
	must(t, s.AddAppStateSet(ctx, "alice", "label/ride2", "set", "app:a"), "add")
	if _, err := s.ForgetAppState(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"label/ride", "label/ride2"} {
		if got := readSet(t, s, "alice", ns, "set"); got != nil {
			t.Errorf("after forgetting all, %s is %q", ns, got)
		}
	}
	if got := readSet(t, s, "bob", "label/mail", "set"); len(got) != 1 {
		t.Errorf("forgetting alice took bob's set: %q", got)
	}
}

// testAppStateSetRace: concurrent unions of different members into one
// set lose none of them (a read-modify-write would).
func testAppStateSetRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	var want []string
	for w := range writers {
		for i := range each {
			want = append(want, fmt.Sprintf("app:w%d-%d", w, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.AddAppStateSet(ctx, "alice", "label/ns", "set", fmt.Sprintf("app:w%d-%d", w, i), "app:shared"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want = append(want, "app:shared")
	slices.Sort(want)
	if got := readSet(t, s, "alice", "label/ns", "set"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after %d concurrent unions the set has %d members, want %d; missing %q", writers*each, len(got), len(want), missing(want, got))
	}
}

// readSet reads the set AddAppStateSet keeps at key (nil when absent).
func readSet(t *testing.T, s state.Store, user ids.UserID, ns, key string) []string {
	t.Helper()
	raw, ok, err := s.GetAppState(t.Context(), user, ns, key)
	must(t, err, "get set")
	if !ok {
		return nil
	}
	var set []string
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("%s/%s/%s holds %s, not a set: %v", user, ns, key, raw, err)
	}
	slices.Sort(set)
	return set
}

func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// testAppStateForget: forgetting one namespace or all of a user's app state
// deletes exactly that, and says how many keys.
func testAppStateForget(t *testing.T, s state.Store) {
	ctx := t.Context()
	for _, p := range []struct {
		user    ids.UserID
		ns, key string
	}{{"alice", "mail", "a"}, {"alice", "mail", "b"}, {"alice", "ride", "a"}, {"alice", "notes", "a"}, {"bob", "mail", "a"}, {"alice:x", "mail", "a"}, {"alic*", "mail", "a"}} {
		must(t, s.PutAppStateWithin(ctx, p.user, p.ns, p.key, json.RawMessage(`1`), state.Quota{}), "put")
	}
	// State written without a quota is forgotten too.
	must(t, s.PutAppState(ctx, "alice", "legacy", "a", json.RawMessage(`1`)), "put")
	n, err := s.ForgetAppState(ctx, "alice", "ride")
	must(t, err, "forget ns")
	if n != 1 {
		t.Errorf("ForgetAppState(alice, ride) = %d keys, want 1", n)
	}
	n, err = s.ForgetAppState(ctx, "alice", "")
	must(t, err, "forget all")
	if n != 4 {
		t.Errorf("ForgetAppState(alice, all) = %d keys, want 4", n)
	}
	for _, c := range []struct {
		user    ids.UserID
		ns, key string
		want    bool
	}{{"alice", "mail", "a", false}, {"alice", "legacy", "a", false}, {"alice", "notes", "a", false}, {"bob", "mail", "a", true}, {"alice:x", "mail", "a", true}, {"alic*", "mail", "a", true}} {
		_, ok, err := s.GetAppState(ctx, c.user, c.ns, c.key)
		must(t, err, "get")
		if ok != c.want {
			t.Errorf("after forgetting alice: %s/%s/%s found=%v, want %v", c.user, c.ns, c.key, ok, c.want)
		}
	}
	if n, err := s.ForgetAppState(ctx, "alice", ""); err != nil || n != 0 {
		t.Errorf("forgetting again = %d, %v; want 0, nil", n, err)
	}
}

func grant(user ids.UserID, kind vocab.Kind, req, target ids.AppID, d vocab.Decision, session ids.SessionID) state.Grant {
	return state.Grant{
		GrantKey: state.GrantKey{User: user, Kind: kind, Requester: req, Target: target},
		Decision: d, Session: session, At: t0,
	}
}

func testGrantFind(t *testing.T, s state.Store) {
	ctx := t.Context()
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindExec, "", "mail", vocab.AllowAlways, "")), "put")
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowSession, "s1")), "put")
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindData, "", "ride", vocab.AllowAlways, "s9")), "put always with session")
	key := func(u ids.UserID, k vocab.Kind, r, tg ids.AppID) state.GrantKey {
		return state.GrantKey{User: u, Kind: k, Requester: r, Target: tg}
	}
	tests := []struct {
		name     string
		key      state.GrantKey
		session  ids.SessionID
		want     bool
		decision vocab.Decision
	}{
		{"always without session", key("alice", vocab.KindExec, "", "mail"), "", true, vocab.AllowAlways},
		{"always in any session", key("alice", vocab.KindExec, "", "mail"), "s7", true, vocab.AllowAlways},
		{"always stored with a session still applies everywhere", key("alice", vocab.KindData, "", "ride"), "s1", true, vocab.AllowAlways},
		{"session grant in its session", key("alice", vocab.KindCollab, "ride", "mail"), "s1", true, vocab.AllowSession},
		{"session grant in another session", key("alice", vocab.KindCollab, "ride", "mail"), "s2", false, ""},
		{"session grant outside sessions", key("alice", vocab.KindCollab, "ride", "mail"), "", false, ""},
		{"other user", key("bob", vocab.KindExec, "", "mail"), "", false, ""},
		{"other kind", key("alice", vocab.KindData, "", "mail"), "", false, ""},
		{"other target", key("alice", vocab.KindExec, "", "ride"), "", false, ""},
		{"reversed collab pair", key("alice", vocab.KindCollab, "mail", "ride"), "s1", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, ok, err := s.FindGrant(ctx, tc.key, tc.session)
			must(t, err, "find")
			if ok != tc.want {
				t.Fatalf("FindGrant(%+v, %q) found=%v, want %v", tc.key, tc.session, ok, tc.want)
			}
			if ok && (g.Decision != tc.decision || g.GrantKey != tc.key) {
				t.Errorf("FindGrant = %+v, want decision %s for %+v", g, tc.decision, tc.key)
			}
		})
	}
}

// testGrantScope: a grant covers its function and its planned-ness only
// (issue 9 item 8): an always grant for the planned flow ride→mail does
// not cover ride's spoke calling mail at run time, nor mail's other
// function; and each of them survives a round trip with its scope.
func testGrantScope(t *testing.T, s state.Store) {
	ctx := t.Context()
	planned := state.GrantKey{User: "alice", Kind: vocab.KindCollab, Requester: "ride", Target: "mail", Function: "send"}
	unplanned := planned
	unplanned.Unplanned = true
	otherFn := planned
	otherFn.Function = "delete"
	must(t, s.PutGrant(ctx, state.Grant{GrantKey: planned, Decision: vocab.AllowAlways, At: t0}), "put planned")
	for _, tc := range []struct {
		name string
		key  state.GrantKey
		want bool
	}{
		{"the planned flow", planned, true},
		{"the same pair called at run time", unplanned, false},
		{"another function of the target", otherFn, false},
		{"the same pair without a function", state.GrantKey{User: "alice", Kind: vocab.KindCollab, Requester: "ride", Target: "mail"}, false},
	} {
		_, ok, err := s.FindGrant(ctx, tc.key, "s1")
		must(t, err, "find")
		if ok != tc.want {
			t.Errorf("%s: found=%v, want %v", tc.name, ok, tc.want)
		}
	}
	must(t, s.PutGrant(ctx, state.Grant{GrantKey: unplanned, Decision: vocab.AllowSession, Session: "s1", At: t0}), "put unplanned")
	g, ok, err := s.FindGrant(ctx, unplanned, "s1")
	must(t, err, "find")
	if !ok || g.GrantKey != unplanned {
		t.Errorf("unplanned grant: found=%v %+v", ok, g.GrantKey)
	}
	gs, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	if len(gs) != 2 {
		t.Fatalf("ListGrants = %d grants, want 2: %+v", len(gs), gs)
	}
	n, err := s.RevokeGrants(ctx, "alice", "mail")
	must(t, err, "revoke")
	if n != 2 {
		t.Errorf("revoked %d, want 2", n)
	}
}

func testGrantInvalid(t *testing.T, s state.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		g    state.Grant
	}{
		{"once is not stored", grant("alice", vocab.KindExec, "", "mail", vocab.AllowOnce, "")},
		{"deny is not stored", grant("alice", vocab.KindExec, "", "mail", vocab.Deny, "")},
		{"session without session", grant("alice", vocab.KindExec, "", "mail", vocab.AllowSession, "")},
		{"no user", grant("", vocab.KindExec, "", "mail", vocab.AllowAlways, "")},
		{"bad kind", grant("alice", "root", "", "mail", vocab.AllowAlways, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutGrant(ctx, tc.g); err == nil {
				t.Errorf("PutGrant(%+v) succeeded, want an error", tc.g)
			}
		})
	}
	gs, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	if len(gs) != 0 {
		t.Errorf("rejected grants were stored: %+v", gs)
	}
}

func testGrantList(t *testing.T, s state.Store) {
	ctx := t.Context()
	puts := []state.Grant{
		grant("alice", vocab.KindExec, "", "ride", vocab.AllowAlways, ""),
		grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowSession, "s1"),
		grant("alice", vocab.KindExec, "", "mail", vocab.AllowSession, "s1"),
		grant("alice", vocab.KindData, "", "mail", vocab.AllowAlways, ""),
		grant("alice", vocab.KindCollab, "mail", "ride", vocab.AllowAlways, ""),
		grant("bob", vocab.KindExec, "", "calendar", vocab.AllowAlways, ""),
		grant("alice", vocab.KindExec, "", "ride", vocab.AllowAlways, ""), // same key again: replaces
	}
	for _, g := range puts {
		must(t, s.PutGrant(ctx, g), "put")
	}
	got, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	want := []string{"collab/mail/ride", "collab/ride/mail", "data//mail", "exec//mail", "exec//ride"}
	var gotKeys []string
	for _, g := range got {
		gotKeys = append(gotKeys, fmt.Sprintf("%s/%s/%s", g.Kind, g.Requester, g.Target))
		if g.User != "alice" {
			t.Errorf("alice's list holds %+v", g)
		}
	}
	if !slices.Equal(gotKeys, want) {
		t.Errorf("ListGrants(alice) = %q, want %q", gotKeys, want)
	}
	got, err = s.ListGrants(ctx, "carol")
	must(t, err, "list")
	if len(got) != 0 {
		t.Errorf("ListGrants(carol) = %+v, want none", got)
	}
}

func testGrantRevoke(t *testing.T, s state.Store) {
	ctx := t.Context()
	puts := []state.Grant{
		grant("alice", vocab.KindExec, "", "mail", vocab.AllowAlways, ""),
		grant("alice", vocab.KindCollab, "mail", "ride", vocab.AllowAlways, ""),
		grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowSession, "s1"),
		grant("alice", vocab.KindExec, "", "ride", vocab.AllowAlways, ""),
		grant("bob", vocab.KindExec, "", "mail", vocab.AllowAlways, ""),
	}
	for _, g := range puts {
		must(t, s.PutGrant(ctx, g), "put")
	}
	n, err := s.RevokeGrants(ctx, "alice", "mail")
	must(t, err, "revoke")
	if n != 3 {
		t.Errorf("RevokeGrants(alice, mail) = %d, want 3 (as target and as requester)", n)
	}
	got, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	if len(got) != 1 || got[0].Target != "ride" || got[0].Kind != vocab.KindExec {
		t.Errorf("after revoking mail alice has %+v, want only exec/ride", got)
	}
	if _, ok, _ := s.FindGrant(ctx, state.GrantKey{User: "bob", Kind: vocab.KindExec, Target: "mail"}, ""); !ok {
		t.Error("revoking alice's grants removed bob's")
	}
	n, err = s.RevokeGrants(ctx, "alice", "")
	must(t, err, "revoke all")
	if n != 1 {
		t.Errorf("RevokeGrants(alice, \"\") = %d, want 1", n)
	}
	got, err = s.ListGrants(ctx, "alice")
	must(t, err, "list")
	if len(got) != 0 {
		t.Errorf("after revoking all alice has %+v", got)
	}
	n, err = s.RevokeGrants(ctx, "alice", "")
	must(t, err, "revoke none")
	if n != 0 {
		t.Errorf("revoking nothing = %d", n)
	}
}

func testSessions(t *testing.T, s state.Store) {
	ctx := t.Context()
	const idle = 30 * time.Minute
	touch := func(u ids.UserID, c ids.ConversationID, at time.Time) state.Session {
		t.Helper()
		ss, err := s.TouchSession(ctx, u, c, idle, at)
		must(t, err, "touch")
		if ss.ID == "" || ss.User != u || ss.Conversation != c {
			t.Fatalf("TouchSession(%s, %s) = %+v", u, c, ss)
		}
		return ss
	}
	a1 := touch("alice", "dm", t0)
	if !a1.Started.Equal(t0) || !a1.LastActive.Equal(t0) {
		t.Errorf("new session times = %v, %v; want %v", a1.Started, a1.LastActive, t0)
	}
	a2 := touch("alice", "dm", t0.Add(idle-time.Second))
	if a2.ID != a1.ID {
		t.Errorf("touch within idle started a new session %s (was %s)", a2.ID, a1.ID)
	}
	if !a2.Started.Equal(t0) || !a2.LastActive.Equal(t0.Add(idle-time.Second)) {
		t.Errorf("continued session times = %v, %v", a2.Started, a2.LastActive)
	}
	// Idle is measured from the last activity, not the start.
	a3 := touch("alice", "dm", t0.Add(2*idle-2*time.Second))
	if a3.ID != a1.ID {
		t.Errorf("touch within idle of last activity started a new session")
	}
	b := touch("bob", "dm", t0)
	c := touch("alice", "room", t0)
	if b.ID == a1.ID || c.ID == a1.ID || b.ID == c.ID {
		t.Errorf("sessions shared across users or conversations: %s %s %s", a1.ID, b.ID, c.ID)
	}
	late := t0.Add(2*idle - 2*time.Second + idle + time.Second)
	a4 := touch("alice", "dm", late)
	if a4.ID == a1.ID {
		t.Error("touch after idle timeout kept the old session")
	}
	if !a4.Started.Equal(late) {
		t.Errorf("new session started %v, want %v", a4.Started, late)
	}
	must(t, s.EndSession(ctx, "alice", "dm"), "end")
	a5 := touch("alice", "dm", late.Add(time.Second))
	if a5.ID == a4.ID {
		t.Error("touch after EndSession kept the ended session")
	}
	if c2 := touch("alice", "room", t0.Add(time.Minute)); c2.ID != c.ID {
		t.Error("ending alice's dm session ended her room session")
	}
	must(t, s.EndSession(ctx, "carol", "dm"), "end with no session")
}

func testSessionEndDropsGrants(t *testing.T, s state.Store) {
	ctx := t.Context()
	ss, err := s.TouchSession(ctx, "alice", "dm", time.Hour, t0)
	must(t, err, "touch")
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindExec, "", "mail", vocab.AllowSession, ss.ID)), "put")
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindExec, "", "ride", vocab.AllowAlways, "")), "put")
	must(t, s.EndSession(ctx, "alice", "dm"), "end")
	gs, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	if len(gs) != 1 || gs[0].Target != "ride" {
		t.Errorf("after EndSession grants are %+v, want only the always grant", gs)
	}
}

func prompt(id ids.PromptID) vocab.Prompt {
	return vocab.Prompt{
		ID: id, Nonce: "n-" + string(id), User: "alice", Conversation: "dm",
		Kind: vocab.KindCollab, Requester: "ride", Target: "mail", Function: "send",
		Data: "to: bob", Unplanned: true, Reason: "r", ExpiresAt: t0.Add(time.Minute),
	}
}

func samePrompt(a, b vocab.Prompt) bool {
	ea, eb := a.ExpiresAt, b.ExpiresAt
	a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b) && ea.Equal(eb)
}

func testPending(t *testing.T, s state.Store) {
	ctx := t.Context()
	p := prompt("p1")
	must(t, s.PutPending(ctx, p), "put")
	must(t, s.PutPending(ctx, prompt("p2")), "put")
	got, ok, err := s.GetPending(ctx, "p1")
	must(t, err, "get")
	if !ok || !samePrompt(got, p) {
		t.Fatalf("GetPending = %+v, %v; want %+v", got, ok, p)
	}
	if _, ok, _ := s.GetPending(ctx, "p1"); !ok {
		t.Error("GetPending removed the prompt")
	}
	got, ok, err = s.TakePending(ctx, "p1")
	must(t, err, "take")
	if !ok || !samePrompt(got, p) {
		t.Fatalf("TakePending = %+v, %v", got, ok)
	}
	if _, ok, _ := s.TakePending(ctx, "p1"); ok {
		t.Error("second TakePending found the prompt")
	}
	if _, ok, _ := s.GetPending(ctx, "p1"); ok {
		t.Error("GetPending after TakePending found the prompt")
	}
	if _, ok, _ := s.GetPending(ctx, "p2"); !ok {
		t.Error("taking p1 removed p2")
	}
	if _, ok, err := s.GetPending(ctx, "nope"); ok || err != nil {
		t.Errorf("GetPending(unknown) = %v, %v", ok, err)
	}
}

const racers = 16

func testPendingRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	for round := range 5 {
		id := ids.PromptID("race-" + strconv.Itoa(round))
		must(t, s.PutPending(ctx, prompt(id)), "put")
		wins := race(t, func() (bool, error) {
			_, ok, err := s.TakePending(ctx, id)
			return ok, err
		})
		if wins != 1 {
			t.Errorf("round %d: %d racers took the prompt, want exactly 1", round, wins)
		}
	}
}

// race runs fn in racers goroutines released together and counts true results.
func race(t *testing.T, fn func() (bool, error)) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		wins  int
		errs  []error
	)
	for range racers {
		wg.Go(func() {
			<-start
			ok, err := fn()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				wins++
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	return wins
}

// idLess compares audit IDs by their runs of digits as numbers, so both
// zero-padded sequence numbers and Redis stream IDs ("ms-seq") compare in
// the order they were assigned.
func idLess(a, b string) bool {
	na, nb := digitRuns(a), digitRuns(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	return len(na) < len(nb)
}

func digitRuns(s string) []uint64 {
	var out []uint64
	cur, in := uint64(0), false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			cur, in = cur*10+uint64(r-'0'), true
			continue
		}
		if in {
			out = append(out, cur)
		}
		cur, in = 0, false
	}
	if in {
		out = append(out, cur)
	}
	return out
}

func checkIDs(t *testing.T, evs []state.AuditEvent) {
	t.Helper()
	for i, e := range evs {
		if e.ID == "" || e.ID == "forged" {
			t.Errorf("event %d has ID %q, want one assigned by the store", i, e.ID)
		}
		if i > 0 && !idLess(evs[i-1].ID, e.ID) {
			t.Errorf("IDs not increasing: %q then %q", evs[i-1].ID, e.ID)
		}
	}
}

func testAuditOrder(t *testing.T, s state.Store) {
	ctx := t.Context()
	const n = 12
	for i := range n {
		// Times go backwards: the log keeps append order, not time order.
		e := state.AuditEvent{ID: "forged", At: t0.Add(-time.Duration(i) * time.Second), Type: vocab.AuditFlow, Detail: strconv.Itoa(i)}
		must(t, s.AppendAudit(ctx, e), "append")
	}
	got, err := s.ReadAudit(ctx, state.AuditFilter{})
	must(t, err, "read")
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if e.Detail != strconv.Itoa(i) || !e.At.Equal(t0.Add(-time.Duration(i)*time.Second)) {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	checkIDs(t, got)
	must(t, s.AppendAudit(ctx, state.AuditEvent{Type: "spoke"}), "append")
	got, err = s.ReadAudit(ctx, state.AuditFilter{Type: "spoke"})
	must(t, err, "read")
	if len(got) != 1 || got[0].At.IsZero() {
		t.Errorf("event appended with zero At reads back as %+v, want a stamped time", got)
	}
}

func testAuditFilter(t *testing.T, s state.Store) {
	ctx := t.Context()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	events := []state.AuditEvent{
		{At: at(0), User: "alice", Type: vocab.AuditDecision, Kind: vocab.KindExec, App: "mail", Decision: "always", Detail: "e0"},
		{At: at(1), User: "bob", Type: "exec", Kind: vocab.KindExec, App: "mail", Detail: "e1"},
		{At: at(2), User: "alice", Type: vocab.AuditFlow, Kind: vocab.KindCollab, App: "ride", Requester: "mail", Detail: "e2"},
		{At: at(3), User: "alice", Type: "denied", Kind: vocab.KindData, App: "ride", Detail: "e3"},
		{At: at(4), User: "alice", Type: "exec", Kind: vocab.KindExec, App: "calendar", Detail: "e4"},
		{At: at(5), User: "bob", Type: vocab.AuditEgress, App: "ride", Detail: "e5"},
	}
	for _, e := range events {
		must(t, s.AppendAudit(ctx, e), "append")
	}
	tests := []struct {
		name string
		f    state.AuditFilter
		want []string
	}{
		{"all", state.AuditFilter{}, []string{"e0", "e1", "e2", "e3", "e4", "e5"}},
		{"user", state.AuditFilter{User: "alice"}, []string{"e0", "e2", "e3", "e4"}},
		{"app as app or requester", state.AuditFilter{App: "mail"}, []string{"e0", "e1", "e2"}},
		{"kind", state.AuditFilter{Kind: vocab.KindExec}, []string{"e0", "e1", "e4"}},
		{"type", state.AuditFilter{Type: "exec"}, []string{"e1", "e4"}},
		{"since inclusive", state.AuditFilter{Since: at(3)}, []string{"e3", "e4", "e5"}},
		{"until inclusive", state.AuditFilter{Until: at(1)}, []string{"e0", "e1"}},
		{"window", state.AuditFilter{Since: at(1), Until: at(3)}, []string{"e1", "e2", "e3"}},
		{"limit newest oldest first", state.AuditFilter{Limit: 2}, []string{"e4", "e5"}},
		{"limit after filter", state.AuditFilter{User: "alice", Limit: 3}, []string{"e2", "e3", "e4"}},
		{"limit larger", state.AuditFilter{Type: "exec", Limit: 10}, []string{"e1", "e4"}},
		{"combined", state.AuditFilter{User: "bob", App: "ride"}, []string{"e5"}},
		{"no match", state.AuditFilter{User: "carol"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ReadAudit(ctx, tc.f)
			must(t, err, "read")
			var details []string
			for _, e := range got {
				details = append(details, e.Detail)
			}
			if !slices.Equal(details, tc.want) {
				t.Errorf("ReadAudit(%+v) = %q, want %q", tc.f, details, tc.want)
			}
			checkIDs(t, got)
		})
	}
	got, err := s.ReadAudit(ctx, state.AuditFilter{Type: vocab.AuditFlow})
	must(t, err, "read")
	if len(got) == 1 {
		want := events[2]
		want.ID = got[0].ID
		if !got[0].At.Equal(want.At) {
			t.Errorf("At round trip: %v, want %v", got[0].At, want.At)
		}
		got[0].At, want.At = time.Time{}, time.Time{}
		if got[0] != want {
			t.Errorf("event round trip = %+v, want %+v", got[0], want)
		}
	}
}

func testDedup(t *testing.T, s state.Store) {
	ctx := t.Context()
	steps := []struct {
		key  string
		want bool
	}{
		{"slack:Ev1", true},
		{"slack:Ev1", false},
		{"slack:Ev2", true},
		{"slack:Ev1", false},
		{"matrix:$ev1", true},
	}
	for i, st := range steps {
		got, err := s.FirstSeen(ctx, st.key, time.Hour)
		must(t, err, "first seen")
		if got != st.want {
			t.Errorf("step %d: FirstSeen(%s) = %v, want %v", i, st.key, got, st.want)
		}
	}
}

func testDedupRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	for round := range 5 {
		key := "race-" + strconv.Itoa(round)
		wins := race(t, func() (bool, error) { return s.FirstSeen(ctx, key, time.Hour) })
		if wins != 1 {
			t.Errorf("round %d: %d racers saw the event first, want exactly 1", round, wins)
		}
	}
}

func testReopen(t *testing.T, s state.Store, reopen func(*testing.T, state.Store) state.Store) {
	ctx := t.Context()
	always := grant("alice", vocab.KindExec, "", "mail", vocab.AllowAlways, "")
	must(t, s.PutGrant(ctx, always), "put")
	must(t, s.PutGrant(ctx, grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowSession, "s1")), "put")
	must(t, s.AppendAudit(ctx, state.AuditEvent{Type: vocab.AuditDecision, Detail: "before"}), "append")
	must(t, s.PutPending(ctx, prompt("p1")), "put pending")
	must(t, s.PutReplan(ctx, replan("alice", "dm", "q", "mail"), time.Hour), "put replan")
	if _, err := s.FirstSeen(ctx, "ev", time.Hour); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	t.Cleanup(func() { s.Close() })

	g, ok, err := s.FindGrant(ctx, always.GrantKey, "")
	must(t, err, "find")
	if !ok || g.Decision != vocab.AllowAlways {
		t.Errorf("always grant lost on reopen: %+v, %v", g, ok)
	}
	must(t, s.AppendAudit(ctx, state.AuditEvent{Type: vocab.AuditDecision, Detail: "after"}), "append")
	evs, err := s.ReadAudit(ctx, state.AuditFilter{})
	must(t, err, "read")
	if len(evs) != 2 || evs[0].Detail != "before" || evs[1].Detail != "after" {
		t.Errorf("audit after reopen = %+v", evs)
	}
	checkIDs(t, evs)
	if _, ok, _ := s.TakePending(ctx, "p1"); !ok {
		t.Error("pending prompt lost on reopen")
	}
	if r, ok, err := s.TakeReplan(ctx, "alice", "dm"); !ok || err != nil || r.Query != "q" {
		t.Errorf("replan lost on reopen: %+v, %v, %v", r, ok, err)
	}
	if first, err := s.FirstSeen(ctx, "ev", time.Hour); err != nil || first {
		t.Errorf("dedup forgot an event on reopen: first=%v err=%v", first, err)
	}
}
