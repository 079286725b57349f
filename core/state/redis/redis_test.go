package redis_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/state/statetest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// open opens a store in a fresh namespace, so tests sharing one server do
// not see each other's keys, and deletes the namespace's keys at cleanup.
func open(t *testing.T, url string, opts redis.Options) *redis.Store {
	t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = "test-" + strings.ToLower(rand.Text()[:10])
	}
	s, err := redis.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropNamespace(t, url, opts.Namespace) })
	return s
}

func rawClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func namespaceKeys(t *testing.T, c *goredis.Client, ns string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(context.Background(), 0, ns+":*", 1000).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s: %v", ns, err)
	}
	slices.Sort(keys)
	return keys
}

func dropNamespace(t *testing.T, url, ns string) {
	c := rawClient(t, url)
	if keys := namespaceKeys(t, c, ns); len(keys) > 0 {
		c.Del(context.Background(), keys...)
	}
}

func TestConformance(t *testing.T) {
	url := redistest.Server(t)
	statetest.Run(t,
		func(t *testing.T) state.Store { return open(t, url, redis.Options{}) },
		statetest.WithClock(func(t *testing.T, retention time.Duration, now func() time.Time) state.Store {
			return open(t, url, redis.Options{MemoryRetention: retention, Now: now})
		}),
		statetest.WithReopen(func(t *testing.T, s state.Store) state.Store {
			ns := s.(*redis.Store).Namespace()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := redis.Open(t.Context(), url, redis.Options{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			return s2
		}),
	)
}

// TestKeyIsolation checks the key space: every key of a deployment is under
// its namespace, keys name the user (and app) they hold, and names that
// would collide when joined naively get distinct keys.
func TestKeyIsolation(t *testing.T) {
	url := redistest.Server(t)
	ctx := t.Context()
	a := open(t, url, redis.Options{})
	b := open(t, url, redis.Options{})
	if err := a.AppendMemory(ctx, "u:1", "mail", state.MemoryEntry{Content: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := a.AppendMemory(ctx, "u", "1:mail", state.MemoryEntry{Content: "y"}); err != nil {
		t.Fatal(err)
	}
	if err := a.PutGrant(ctx, state.Grant{GrantKey: state.GrantKey{User: "u:1", Kind: vocab.KindExec, Target: "mail"}, Decision: vocab.AllowAlways}); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, url)
	keys := namespaceKeys(t, c, a.Namespace())
	want := []string{
		a.Namespace() + ":grants:u%3A1",
		a.Namespace() + ":mem:u%3A1:mail",
		a.Namespace() + ":mem:u:1%3Amail",
		a.Namespace() + ":memapps:u",
		a.Namespace() + ":memapps:u%3A1",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	tests := []struct {
		name  string
		store *redis.Store
		user  string
		app   string
		want  []string
	}{
		{"colliding names 1", a, "u:1", "mail", []string{"x"}},
		{"colliding names 2", a, "u", "1:mail", []string{"y"}},
		{"other deployment", b, "u:1", "mail", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.store.ReadMemory(ctx, ids.UserID(tc.user), ids.AppID(tc.app), 0)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, e := range got {
				texts = append(texts, e.Content)
			}
			if !slices.Equal(texts, tc.want) {
				t.Errorf("read = %q, want %q", texts, tc.want)
			}
		})
	}
	if keys := namespaceKeys(t, c, b.Namespace()); len(keys) != 0 {
		t.Errorf("reading created keys in the other deployment: %q", keys)
	}
}

// TestOutage stops Redis under a live store: every method returns an error
// wrapping state.ErrUnavailable (and nothing panics), then works again once
// Redis is back, on the same client.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redis.Options{})
	ctx := t.Context()
	k := state.GrantKey{User: "alice", Kind: vocab.KindExec, Target: "mail"}
	ops := []struct {
		name string
		op   func() error
	}{
		{"AppendMemory", func() error { return s.AppendMemory(ctx, "alice", "mail", state.MemoryEntry{Content: "x"}) }},
		{"ReadMemory", func() error { _, err := s.ReadMemory(ctx, "alice", "mail", 5); return err }},
		{"ForgetMemory", func() error { return s.ForgetMemory(ctx, "alice", "") }},
		{"PutEntities", func() error { return s.PutEntities(ctx, "alice", map[string]string{"a": "b"}) }},
		{"Entities", func() error { _, err := s.Entities(ctx, "alice"); return err }},
		{"PutAppState", func() error { return s.PutAppState(ctx, "alice", "mail", "k", []byte(`1`)) }},
		{"GetAppState", func() error { _, _, err := s.GetAppState(ctx, "alice", "mail", "k"); return err }},
		{"PutGrant", func() error { return s.PutGrant(ctx, state.Grant{GrantKey: k, Decision: vocab.AllowAlways}) }},
		{"FindGrant", func() error { _, _, err := s.FindGrant(ctx, k, "s1"); return err }},
		{"ListGrants", func() error { _, err := s.ListGrants(ctx, "alice"); return err }},
		{"RevokeGrants", func() error { _, err := s.RevokeGrants(ctx, "alice", "ride"); return err }},
		{"TouchSession", func() error {
			_, err := s.TouchSession(ctx, "alice", "dm", time.Hour, time.Now())
			return err
		}},
		{"EndSession", func() error { return s.EndSession(ctx, "alice", "dm") }},
		{"PutPending", func() error { return s.PutPending(ctx, vocab.Prompt{ID: "p1"}) }},
		{"GetPending", func() error { _, _, err := s.GetPending(ctx, "p1"); return err }},
		{"TakePending", func() error { _, _, err := s.TakePending(ctx, "p1"); return err }},
		{"AppendAudit", func() error { return s.AppendAudit(ctx, state.AuditEvent{Type: "flow"}) }},
		{"ReadAudit", func() error { _, err := s.ReadAudit(ctx, state.AuditFilter{Limit: 3}); return err }},
		{"FirstSeen", func() error { _, err := s.FirstSeen(ctx, "ev", time.Minute); return err }},
	}
	run := func(t *testing.T, wantDown bool) {
		for _, o := range ops {
			err := o.op()
			switch {
			case wantDown && !errors.Is(err, state.ErrUnavailable):
				t.Errorf("%s with Redis down: %v, want an error wrapping ErrUnavailable", o.name, err)
			case !wantDown && err != nil:
				t.Errorf("%s with Redis up: %v", o.name, err)
			}
		}
	}
	t.Run("up", func(t *testing.T) { run(t, false) })
	always := state.GrantKey{User: "alice", Kind: vocab.KindExec, Target: "calendar"}
	if err := s.PutGrant(ctx, state.Grant{GrantKey: always, Decision: vocab.AllowAlways}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	t.Run("down", func(t *testing.T) { run(t, true) })
	srv.Restart()
	// After a run of failed dials go-redis fails fast and probes the server
	// in the background about once a second; wait for it to notice.
	deadline := time.Now().Add(10 * time.Second)
	for _, err := s.Entities(ctx, "alice"); err != nil; _, err = s.Entities(ctx, "alice") {
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after restart: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Run("restarted", func(t *testing.T) { run(t, false) })
	// redistest's server saves on Stop, like a production Redis that
	// persists: the always grant is still there.
	if _, ok, err := s.FindGrant(ctx, always, ""); !ok || err != nil {
		t.Errorf("always grant after restart: found=%v err=%v", ok, err)
	}

	if _, err := redis.Open(ctx, "redis://127.0.0.1:1/0", redis.Options{}); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Open of a closed port: %v, want ErrUnavailable", err)
	}
}

func TestOpenURL(t *testing.T) {
	url := redistest.Server(t)
	tests := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{"plain", url, false},
		{"other db", strings.TrimSuffix(url, "/0") + "/3", false},
		{"bad scheme", "http://127.0.0.1:1", true},
		{"garbage", "::", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redis.Open(t.Context(), tc.url, redis.Options{Namespace: "urltest"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open(%s) err = %v, want error %v", tc.url, err, tc.wantErr)
			}
			if err == nil {
				if !strings.Contains(s.Describe(), "urltest") {
					t.Errorf("Describe() = %q", s.Describe())
				}
				s.Close()
			}
		})
	}
	if _, err := redis.Open(t.Context(), "redis://:s3cret@127.0.0.1:1/x", redis.Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL error %v leaks the password or is nil", err)
	}
}

func TestOpenTLSAndPassword(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Config{TLS: true, Password: "s3cret pw"})
	good := srv.URL()
	if !strings.HasPrefix(good, "rediss://") {
		t.Fatalf("URL %s is not rediss://", good)
	}
	trusted := &tls.Config{RootCAs: srv.CertPool()}
	noPass := strings.Replace(good, url.UserPassword("", "s3cret pw").String()+"@", "", 1)
	tests := []struct {
		name    string
		url     string
		tls     *tls.Config
		wantErr bool
	}{
		{"trusted CA and password", good, trusted, false},
		{"skip_verify", good + "?skip_verify=true", nil, false},
		{"unknown CA", good, nil, true},
		{"no password", noPass, trusted, true},
		{"wrong password", strings.Replace(good, "s3cret", "wrong", 1), trusted, true},
		{"plain text to a TLS port", strings.Replace(good, "rediss://", "redis://", 1), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := redis.Open(ctx, tc.url, redis.Options{Namespace: "tls", TLS: tc.tls})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			defer s.Close()
			if first, err := s.FirstSeen(ctx, "ev-"+tc.name, time.Minute); err != nil || !first {
				t.Errorf("FirstSeen over TLS = %v, %v", first, err)
			}
		})
	}
}

// TestAppStateSetReplicas: two replicas (two stores, each with its own
// connections, over one Redis namespace) adding different members to one
// set at once lose none of them, which a read then a write would.
func TestAppStateSetReplicas(t *testing.T) {
	url := redistest.Server(t)
	a := open(t, url, redis.Options{})
	b, err := redis.Open(t.Context(), url, redis.Options{Namespace: a.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const each = 200
	var wg sync.WaitGroup
	want := []string{}
	for r, st := range []*redis.Store{a, b} {
		for i := range each {
			want = append(want, fmt.Sprintf("app:r%d-%d", r, i))
		}
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < each; i += 2 {
					if err := st.AddAppStateSet(t.Context(), "alice", "secgpt.label/notes", "label", fmt.Sprintf("app:r%d-%d", r, i)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	raw, ok, err := b.GetAppState(t.Context(), "alice", "secgpt.label/notes", "label")
	if err != nil || !ok {
		t.Fatalf("read the set: %v (found %v)", err, ok)
	}
	var got []string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("two replicas added %d members at once; the set holds %d", len(want), len(got))
	}
}

// BenchmarkLabelUpdate is the label update of one state_put frame on the
// real Redis, as the hub did it (read the label record, write it back
// when it grew: two round trips when it grows, one when not) and as it
// does it now (one AddAppStateSet). The members cycle over 8 apps, as a
// namespace's label names a few apps and an app writing its namespace
// again mostly holds what it held before.
//
//	go test -run '^$' -bench LabelUpdate ./core/state/redis/
func BenchmarkLabelUpdate(b *testing.B) {
	url := redistest.Server(b)
	member := func(i int) string { return fmt.Sprintf("app:a%d", i%8) }
	b.Run("read-modify-write", func(b *testing.B) {
		s := openBench(b, url)
		for i := 0; b.Loop(); i++ {
			raw, _, err := s.GetAppState(b.Context(), "alice", "secgpt.label/ns", "label")
			if err != nil {
				b.Fatal(err)
			}
			set, grew, err := state.UnionSet(raw, []string{member(i)})
			if err != nil {
				b.Fatal(err)
			}
			if grew {
				raw, _ := json.Marshal(set)
				if err := s.PutAppState(b.Context(), "alice", "secgpt.label/ns", "label", raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("AddAppStateSet", func(b *testing.B) {
		s := openBench(b, url)
		for i := 0; b.Loop(); i++ {
			if err := s.AddAppStateSet(b.Context(), "alice", "secgpt.label/ns", "label", member(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// openBench opens a store in a fresh namespace for a benchmark, deleted
// at cleanup.
func openBench(b *testing.B, url string) *redis.Store {
	b.Helper()
	ns := "bench-" + strings.ToLower(rand.Text()[:10])
	s, err := redis.Open(b.Context(), url, redis.Options{Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c := goredis.NewClient(o)
		defer c.Close()
		if keys, _ := c.Keys(context.Background(), ns+":*").Result(); len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
		s.Close()
	})
	return s
}
