package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/sandbox"
)

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

// newSandbox starts the sandbox spokes run in, from the spoke binary
// spokeBinary picks, closed with the deployment; its egress is audited in
// the store.
func (d *deployment) newSandbox(ctx context.Context, cfg config.Config, cat *apps.Catalog) (*sandbox.Spawner, error) {
	exe, spokesDesc, err := spokeBinary(ctx, cfg.Sandbox.SpokeBinary, cat.IDs(), d.log)
	if err != nil {
		return nil, err
	}
	local, localApps, localDesc := localSpokeBinary(ctx, exe, cat.IDs(), d.log)
	d.spokes = spokesDesc + localDesc
	st := d.Store
	sbCfg := sandbox.Config{
		Exe: exe,
		// The apps that need no network run, and the pool waits, in the
		// smallest spoke binary when it is there.
		LocalExe: local, LocalApps: localApps,
		// Spokes kept started and confined up to the app's policy make a
		// spoke's start cost about 2 ms instead of the full spawn.
		Pool: cfg.Sandbox.Pool,
		// While conversations plan, spokes for them start in the model's
		// latency, within this much memory.
		PoolMemory:      int64(cfg.Sandbox.PoolMemory),
		IdleSpokeMemory: idleSpokeMemory(exe, local),
		Off:             cfg.Sandbox.Mode == "off",
		DefaultTimeout:  cfg.Sandbox.Timeout.D(),
		Logger:          d.log,
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
	d.sandbox = sandboxSummary(ctx, sbCfg, d.log)
	return sp, nil
}

// spokeLimits are the resource limits of every spoke (sandbox.cpu,
// memory, file_size, open_files, procs).
func spokeLimits(cfg config.Config) hub.SpokeLimits {
	return hub.SpokeLimits{CPU: cfg.Sandbox.CPU.D(), Memory: int64(cfg.Sandbox.Memory), FileSize: int64(cfg.Sandbox.FileSize),
		OpenFiles: cfg.Sandbox.OpenFiles, Procs: cfg.Sandbox.Procs}
}
