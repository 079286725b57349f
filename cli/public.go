package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/ops/server"
)

// newPublicServer prepares the internet-facing listener when
// server.public_listen is set: no handlers of its own, the port bound now
// (a taken port fails at start). The OAuth callback is mounted on it.
func (d *deployment) newPublicServer(ctx context.Context, cfg config.Config) error {
	if cfg.Server.PublicListen == "" {
		return nil
	}
	srv, err := server.New(server.Options{Addr: cfg.Server.PublicListen, Public: true, Logger: d.log})
	if err != nil {
		return &config.KeyError{Key: "server.public_listen", Msg: err.Error()}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.PublicListen)
	if err != nil {
		return fmt.Errorf("server.public_listen: %w", err)
	}
	d.Public, d.publicLn = srv, ln
	d.closers = append(d.closers, func() error { _ = ln.Close(); return nil })
	return nil
}
