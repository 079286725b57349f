package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/vanilla"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/ops/auditsock"
	"github.com/secgpt-go/secgpt/ops/metrics"
	"github.com/secgpt-go/secgpt/ops/server"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
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

// buildWith is build with options.
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
	installed, err := installedApps(cfg)
	if err != nil {
		return nil, err
	}
	d.apps = installed
	cat, err := apps.NewCatalog(installed)
	if err != nil {
		return nil, fmt.Errorf("install apps: %w", err)
	}
	settings, err := cfg.AppSettings()
	if err != nil {
		return nil, err
	}
	appCfg := map[ids.AppID]json.RawMessage{}
	for id, raw := range settings {
		appCfg[ids.AppID(id)] = raw
	}
	pols, err := newAppPolicies(cfg, appCfg, nil)
	if err != nil {
		return nil, err
	}
	model, desc, err := newModel(ctx, cfg, d.metrics)
	if err != nil {
		return nil, err
	}
	d.modelDesc = desc
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, st.Close)
	rawStore := st
	st = d.metrics.Store(st)
	d.Store = st
	if err := d.newServer(ctx, cfg, st); err != nil {
		return nil, err
	}
	if _, isBolt := rawStore.(*bolt.Store); isBolt {
		// Other processes cannot open the locked file; `secgpt audit`
		// asks here instead. Without the socket only audit is affected.
		ln, err := auditsock.Listen(auditsock.Path(cfg.Store.Path))
		if err != nil {
			log.Warn("secgpt audit will not work while this bot runs", "err", err)
		} else {
			d.auditLn = ln
			// Serve closes it when Run's context ends; this covers a
			// deployment that never ran. A second Close is harmless.
			d.closers = append(d.closers, func() error { _ = ln.Close(); return nil })
		}
	}

	if cfg.Hub.Vanilla {
		if len(cfg.MCP.Servers) > 0 {
			log.Warn("MCP servers are not installed in the VanillaGPT baseline (it has no sandbox to run them in)")
		}
		v, err := vanilla.New(vanilla.Options{Store: st, Catalog: cat, Model: model, AppConfig: appCfg, MaxSteps: cfg.Hub.MaxSpokeSteps, Logger: log})
		if err != nil {
			return nil, err
		}
		d.Assistant = d.metrics.Assistant(v)
		d.sandbox = "none (VanillaGPT runs every app in its own process)"
		ok = true
		return d, nil
	}
	exe, spokesDesc, err := spokeBinary(ctx, cfg.Sandbox.SpokeBinary, cat.IDs(), log)
	if err != nil {
		return nil, err
	}
	d.spokes = spokesDesc
	sbCfg := sandbox.Config{
		Exe: exe,
		// Spokes kept started and confined up to the app's policy make a
		// spoke's start cost about 2 ms instead of the full spawn.
		Pool:           cfg.Sandbox.Pool,
		Off:            cfg.Sandbox.Mode == "off",
		DefaultTimeout: cfg.Sandbox.Timeout.D(),
		Logger:         log,
		Audit: func(ctx context.Context, app, host string, allowed bool) {
			typ := vocab.AuditEgress
			if !allowed {
				typ = vocab.AuditEgressDenied
			}
			_ = st.AppendAudit(ctx, state.AuditEvent{Type: typ, App: ids.AppID(app), Detail: host})
		},
	}
	sp, err := sandbox.New(sbCfg)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	d.closers = append(d.closers, sp.Close)
	d.sandbox = sandboxSummary(ctx, sbCfg, log)
	limits := hub.SpokeLimits{CPU: cfg.Sandbox.CPU.D(), Memory: int64(cfg.Sandbox.Memory), FileSize: int64(cfg.Sandbox.FileSize),
		OpenFiles: cfg.Sandbox.OpenFiles, Procs: cfg.Sandbox.Procs}
	if pols.signIn, err = newMCPAuth(cfg, d, st, log); err != nil {
		return nil, err
	}
	mcpApps, mcpStatuses, err := installMCP(ctx, cfg, hubspawn.New(sp), st, cat, appCfg, pols,
		func(config.Limits) hub.SpokeSpec {
			return hub.SpokeSpec{Timeout: cfg.Sandbox.Timeout.D(), Limits: limits}
		}, log, bo.progress)
	if err != nil {
		return nil, err
	}
	d.apps = append(d.apps, mcpApps...)
	d.mcp = mcpStatuses
	d.addMCPChecks()
	var relay *redis.Relay
	replicaID := cfg.Hub.ReplicaID
	if replicaID == "" {
		// Audit entries name the replica that took each answer, with one
		// replica too.
		host, _ := os.Hostname()
		replicaID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if rs, ok := rawStore.(*redis.Store); ok {
		relay = rs.Relay(redis.RelayOptions{Logger: log})
		d.heartbeat = func(ctx context.Context) { heartbeat(ctx, relay, replicaID, log) }
		d.sandbox += "; replica " + replicaID
	}
	ho := hub.Options{
		Store: st, Catalog: cat, Model: model, Spawner: d.metrics.Spawner(hubspawn.New(sp)), AppConfig: appCfg,
		PromptTimeout: cfg.Permissions.PromptTimeout.D(), SessionIdle: cfg.Permissions.SessionIdle.D(),
		SpokeTimeout: cfg.Sandbox.Timeout.D(),
		Limits:       limits, SpokePolicy: pols.apply,
		MaxSpokeSteps: cfg.Hub.MaxSpokeSteps, MaxFrame: int(cfg.Hub.MaxFrame), Logger: log,
		WarmIdle: cfg.MCP.IdleTimeout.D(), MaxWarm: cfg.MCP.MaxWarm,
		StateQuota: state.Quota{Keys: cfg.Hub.StateQuotaKeys, Bytes: int64(cfg.Hub.StateQuotaBytes)},
		UserData:   userData(cfg),
		ReplicaID:  replicaID,
	}
	if d.metrics != nil {
		ho.Trace = func(e hub.TraceEvent) {
			// The hub reports a kill reason only for spokes that ended
			// without an answer.
			if e.Type == vocab.TraceSpokeEnd && e.Detail != "" {
				d.metrics.SpokeKilled(e.Detail)
			}
			if e.Type == vocab.TraceUnaudited {
				d.metrics.Unaudited(e.Detail)
			}
		}
	}
	if relay != nil {
		ho.Relay, ho.Liveness, ho.UserEvents = relay, relay, relay
	}
	g, err := newGoogle(cfg, d, st, installed, appCfg, log)
	if err != nil {
		return nil, err
	}
	ho.Accounts = hubAccounts(g, pols.signIn)
	if ho.Rules, err = permissionRules(cfg.Permissions.Rules); err != nil {
		return nil, err
	}
	h, err := hub.New(ho)
	if err != nil {
		return nil, err
	}
	d.hub = h
	d.closers = append(d.closers, h.Close)
	d.Assistant = d.metrics.Assistant(h)
	ok = true
	return d, nil
}
