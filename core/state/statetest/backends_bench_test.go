package statetest_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/state/statetest"
)

// BenchmarkBackends prints the backends side by side:
//
//	go test -run '^$' -bench Backends ./core/state/statetest/
func BenchmarkBackends(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		statetest.Bench(b, func(b *testing.B) state.Store { return memstore.New(memstore.Options{}) })
	})
	b.Run("bolt", func(b *testing.B) {
		statetest.Bench(b, func(b *testing.B) state.Store {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		})
	})
	b.Run("redis", func(b *testing.B) {
		url := redistest.Server(b)
		statetest.Bench(b, func(b *testing.B) state.Store {
			ns := "bench-" + strings.ToLower(rand.Text()[:10])
			s, err := redis.Open(b.Context(), url, redis.Options{Namespace: ns})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				// Leave a shared server as we found it.
				s.ForgetMemory(context.Background(), "alice", "")
				s.RevokeGrants(context.Background(), "alice", "")
				s.Close()
			})
			return s
		})
	})
}
