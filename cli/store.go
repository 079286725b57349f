package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/core/state/redis"
)

func openStore(ctx context.Context, cfg config.Config) (state.Store, error) {
	switch cfg.Store.Backend {
	case "redis":
		s, err := redis.Open(ctx, cfg.Store.RedisURL, redis.Options{Namespace: cfg.Store.Namespace, MemoryRetention: cfg.Store.MemoryRetention.D()})
		if err != nil {
			return nil, fmt.Errorf("open redis store: %w", err)
		}
		return s, nil
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
		s, err := bolt.Open(cfg.Store.Path, bolt.Options{MemoryRetention: cfg.Store.MemoryRetention.D()})
		if err != nil {
			return nil, fmt.Errorf("open state file %s: %w", cfg.Store.Path, lockedError(cfg.Store.Path, err))
		}
		if err := writeStoreOwner(cfg.Store.Path); err != nil {
			slog.Warn("a second process on this state file will not learn who holds it", "err", err)
		}
		return s, nil
	}
}

// useStore opens the store, closed with the deployment, and makes
// d.Store that store as metrics count it. It returns the store as opened:
// its backend decides the audit socket (bolt) and the replicas' relay
// (Redis).
func (d *deployment) useStore(ctx context.Context, cfg config.Config) (state.Store, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, st.Close)
	d.Store = d.metrics.Store(st)
	return st, nil
}
