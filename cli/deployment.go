package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/auditsock"
	"github.com/secgpt-go/secgpt/ops/metrics"
	"github.com/secgpt-go/secgpt/ops/server"
)

// deployment is everything one running assistant is made of.
type deployment struct {
	Assistant chat.Assistant
	Store     state.Store
	hub       *hub.Hub
	modelDesc string
	sandbox   string
	spokes    string // which binary spokes run from
	apps      []ids.AppID
	mcp       []mcpStatus // how each configured MCP server came up
	vanilla   bool
	closers   []func() error
	log       *slog.Logger
	// heartbeat, with several replicas, keeps this replica's liveness key.
	heartbeat func(ctx context.Context)
	// metrics is nil unless server.listen is set.
	metrics *metrics.Metrics
	// Server is the HTTP listener (server.listen), nil when off. Mount
	// more handlers (an OAuth callback) with Server.Handle before Run.
	Server *server.Server
	// listener is bound in build, so a taken port fails at start.
	listener net.Listener
	// Public is the internet-facing listener (server.public_listen), nil
	// when off: only mounted handlers (the OAuth callback), nothing of
	// Server's. publicLn is bound in build like listener.
	Public   *server.Server
	publicLn net.Listener
	// auditLn serves `secgpt audit` while this process holds the bolt file.
	auditLn net.Listener
	// notices reach users' DMs through the platform adapter.
	notices notices
}

func (d *deployment) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		_ = d.closers[i]()
	}
}

// Run serves background work (relayed permission answers) until ctx ends.
func (d *deployment) Run(ctx context.Context) error {
	if d.heartbeat != nil {
		go d.heartbeat(ctx)
	}
	if ln := d.auditLn; ln != nil {
		go func() {
			if err := auditsock.Serve(ctx, ln, d.Store, d.log); err != nil {
				d.log.Error("audit socket", "err", err)
			}
		}()
	}
	if ln := d.listener; d.Server != nil && ln != nil {
		go func() {
			if err := d.Server.Serve(ctx, ln); err != nil {
				d.log.Error("http listener", "err", err)
			}
		}()
	}
	if ln := d.publicLn; d.Public != nil && ln != nil {
		go func() {
			if err := d.Public.Serve(ctx, ln); err != nil {
				d.log.Error("public http listener", "err", err)
			}
		}()
	}
	if d.hub == nil {
		<-ctx.Done()
		return nil
	}
	return d.hub.Run(ctx)
}

// Banner says which model, store, sandbox and apps are in use.
func (d *deployment) Banner() string {
	mode := "SecGPT (isolated hub and spokes)"
	if d.vanilla {
		mode = "VanillaGPT baseline (NOT isolated: every app shares one context)"
	}
	names := make([]string, len(d.apps))
	for i, a := range d.apps {
		names[i] = string(a)
	}
	spokes := ""
	if d.spokes != "" {
		spokes = "  spokes:  " + d.spokes + "\n"
	}
	return fmt.Sprintf("SecGPT-Go: %s\n  model:   %s\n  store:   %s\n  sandbox: %s\n%s  apps:    %s\n%s",
		mode, d.modelDesc, d.Store.Describe(), d.sandbox, spokes, strings.Join(names, ", "), mcpBanner(d.mcp))
}

// build wires a deployment from the config.
func build(ctx context.Context, cfg config.Config, log *slog.Logger) (*deployment, error) {
	return buildWith(ctx, cfg, log, buildOptions{})
}

// buildOptions are what a caller of build may add.
type buildOptions struct {
	// progress gets a line as each MCP server starts and ends (the
	// terminal, which would otherwise wait on a blank screen).
	progress io.Writer
}

// buildWith is build with options. Each step is one subsystem's, in its
// own file: apps (catalog.go), model, store, listeners (server.go), the
// audit socket (audit.go), then either the VanillaGPT baseline
// (vanilla.go) or the sandbox, the MCP servers (mcp.go) and the hub.
func buildWith(ctx context.Context, cfg config.Config, log *slog.Logger, bo buildOptions) (*deployment, error) {
	d := &deployment{vanilla: cfg.Hub.Vanilla, log: log}
	if cfg.Server.Listen != "" {
		d.metrics = metrics.New()
		d.metrics.Registry().MustRegister(buildInfoGauge(readBuildInfo()))
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	a, err := d.installApps(cfg)
	if err != nil {
		return nil, err
	}
	model, err := d.useModel(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rawStore, err := d.useStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := d.newServer(ctx, cfg, d.Store); err != nil {
		return nil, err
	}
	d.listenAudit(cfg, rawStore)

	if cfg.Hub.Vanilla {
		if err := d.useVanilla(cfg, a, model); err != nil {
			return nil, err
		}
		ok = true
		return d, nil
	}
	sp, err := d.newSandbox(ctx, cfg, a.cat)
	if err != nil {
		return nil, err
	}
	limits := spokeLimits(cfg)
	if err := d.installMCPServers(ctx, cfg, a, sp, limits, bo.progress); err != nil {
		return nil, err
	}
	if err := d.newHub(cfg, a, model, sp, limits, rawStore); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}
