package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/llm/provider"
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

func newModel(ctx context.Context, cfg config.Config, met *metrics.Metrics) (llm.Model, string, error) {
	if cfg.Model.Provider == "offline" {
		return met.Model(offline.Model{}), offline.Name, nil
	}
	pc := provider.Config{Provider: cfg.Model.Provider, Model: cfg.Model.Name, BaseURL: cfg.Model.BaseURL, APIKey: cfg.Model.APIKey, Timeout: cfg.Model.Timeout.D(),
		Retries: modelRetries(cfg.Model.Retries), APIVersion: cfg.Model.APIVersion, Region: cfg.Model.Region}
	if met != nil {
		pc.OnRetry = met.ModelRetry
	}
	m, err := provider.New(ctx, pc)
	if err != nil {
		return nil, "", fmt.Errorf("model: %w", err)
	}
	return met.Model(m), provider.Describe(pc), nil
}

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

// modelRetries maps model.retries (0: never) to provider.Config.Retries
// (0: the default, negative: never).
func modelRetries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func installedApps(cfg config.Config) ([]ids.AppID, error) {
	if len(cfg.Apps.Installed) == 0 {
		return apps.Registered(), nil
	}
	var out []ids.AppID
	known := map[ids.AppID]bool{}
	for _, id := range apps.Registered() {
		known[id] = true
	}
	for i, a := range cfg.Apps.Installed {
		if !known[ids.AppID(a)] {
			return nil, &config.KeyError{Key: fmt.Sprintf("apps.installed[%d]", i), Msg: fmt.Sprintf("no app %q (built-in apps: %v)", a, apps.Registered())}
		}
		out = append(out, ids.AppID(a))
	}
	return out, nil
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

// heartbeatTTL is how long a replica counts as alive after its last beat.
const heartbeatTTL = 15 * time.Second

// heartbeat keeps this replica's liveness key fresh until ctx ends, so
// other replicas can tell a crashed replica's prompts from a live one's.
func heartbeat(ctx context.Context, r *redis.Relay, id string, log *slog.Logger) {
	t := time.NewTicker(heartbeatTTL / 3)
	defer t.Stop()
	for {
		if err := r.Heartbeat(ctx, id, heartbeatTTL); err != nil && ctx.Err() == nil {
			log.Warn("replica heartbeat", "replica", id, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sandboxSummary logs what `secgpt doctor` reports and returns one line
// for the banner.
func sandboxSummary(ctx context.Context, c sandbox.Config, log *slog.Logger) string {
	if c.Off {
		return "OFF: spokes are separate processes but not confined (sandbox.mode: off)"
	}
	rep := sandbox.Doctor(ctx, c)
	var on, off []string
	for _, ch := range rep.Checks {
		log.Debug("sandbox protection", "name", ch.Name, "active", ch.Active, "detail", ch.Detail)
		if ch.Active {
			on = append(on, ch.Name)
		} else {
			off = append(off, ch.Name)
			log.Warn("sandbox protection unavailable", "name", ch.Name, "detail", ch.Detail)
		}
	}
	s := "on: " + strings.Join(on, ", ")
	if len(off) > 0 {
		s += "; UNAVAILABLE: " + strings.Join(off, ", ")
	}
	if rep.Error != "" {
		s += "; " + rep.Error
	}
	return s + " (details: secgpt doctor)"
}

// permissionRules parses the config's permissions.rules.
func permissionRules(raw []map[string]string) ([]gate.Rule, error) {
	var out []gate.Rule
	for i, r := range raw {
		for action, pattern := range r {
			ru, err := gate.ParseRule(action, pattern)
			if err != nil {
				return nil, &config.KeyError{Key: fmt.Sprintf("permissions.rules[%d]", i), Msg: err.Error()}
			}
			out = append(out, ru)
		}
	}
	return out, nil
}
