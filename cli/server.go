package cli

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/server"
)

// newServer prepares the HTTP listener when server.listen is set: metrics,
// /readyz's store check, and the bound port (so a taken port fails at
// start, not in the background).
func (d *deployment) newServer(ctx context.Context, cfg config.Config, st state.Store) error {
	if err := d.newPublicServer(ctx, cfg); err != nil {
		return err
	}
	if cfg.Server.Listen == "" {
		return nil
	}
	srv, err := server.New(server.Options{Addr: cfg.Server.Listen, Metrics: d.metrics.Handler(), Logger: d.log})
	if err != nil {
		return err
	}
	srv.AddCheck("store", func(ctx context.Context) error {
		// A read of a user that does not exist: one round trip to Redis or
		// one bolt read transaction.
		_, err := st.Entities(ctx, "readyz:probe")
		if errors.Is(err, state.ErrNotFound) {
			return nil
		}
		return err
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	d.Server, d.listener = srv, ln
	// Serve closes it when Run's context ends; this covers a deployment
	// that never ran. A second Close is harmless.
	d.closers = append(d.closers, func() error { _ = ln.Close(); return nil })
	return nil
}
