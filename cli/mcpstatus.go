package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/public"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// mcpStatus is how one configured MCP server came up: ready with its
// tools, or failed with the reason. The banner, `secgpt doctor` and
// /readyz show it.
type mcpStatus struct {
	Name  string        `json:"name"`
	Ready bool          `json:"ready"`
	Tools int           `json:"tools,omitempty"`
	Took  time.Duration `json:"took_ns,omitempty"`
	// Reason says why it failed, without paths, hosts or secret values:
	// /readyz shows it to whoever can reach the listener.
	Reason string `json:"reason,omitempty"`
	// Detail is the full error, for the operator's terminal and log.
	Detail string `json:"detail,omitempty"`
}

// String is the status as one line of the banner or the doctor's report.
func (s mcpStatus) String() string {
	if s.Ready {
		return fmt.Sprintf("mcp.%s ready (%d tools, %s)", s.Name, s.Tools, s.Took.Round(10*time.Millisecond))
	}
	d := s.Reason
	if s.Detail != "" && s.Detail != s.Reason {
		d += " (" + s.Detail + ")"
	}
	return fmt.Sprintf("mcp.%s FAILED: %s", s.Name, d)
}

// failed is a server's failure: reason is what the banner and /readyz
// show (no paths, hosts or secret values), err the detail for the log.
func failed(reason string, err error) error { return public.Errorf(err, "%s", reason) }

// preflightMCP checks what can be checked of a server before it is
// started, so that a missing program, secret or file fails in
// milliseconds, named, instead of after the discovery timeout: the
// command is found, every secret resolves, and the declared files and
// the absolute paths among its arguments exist.
func preflightMCP(name string, c config.MCPServer, getenv func(string) string) error {
	if c.Command != "" {
		if _, err := exec.LookPath(c.Command); err != nil {
			return failed(fmt.Sprintf("command %q not found", filepath.Base(c.Command)), err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Secrets)) {
		sec := c.Secrets[k]
		if _, err := sec.Resolve(getenv); err != nil {
			reason := fmt.Sprintf("secret %s is not set", k)
			if sec.Env != "" {
				reason = fmt.Sprintf("secret %s: environment variable %s is unset or empty", k, sec.Env)
			} else if sec.File != "" {
				reason = fmt.Sprintf("secret %s: its file cannot be read", k)
			}
			return failed(reason, err)
		}
	}
	for i, f := range c.Files {
		if _, err := os.Stat(f.Path); err != nil {
			return failed(fmt.Sprintf("files[%d] does not exist or cannot be read", i), err)
		}
	}
	for i, a := range c.Args {
		if !filepath.IsAbs(a) || strings.Contains(a, "${") {
			continue
		}
		if _, err := os.Stat(a); err != nil {
			return failed(fmt.Sprintf("argument %d names a path that does not exist or cannot be read", i+1), err)
		}
	}
	return nil
}

// statusOf turns a server's start into its status.
func statusOf(name string, tools int, took time.Duration, err error) mcpStatus {
	st := mcpStatus{Name: name, Ready: err == nil, Tools: tools, Took: took}
	if err == nil {
		return st
	}
	// Only the reason failed gave, not a public message from deeper down:
	// /readyz shows it to whoever reaches the listener.
	if f, ok := err.(*public.Error); ok {
		st.Reason = f.Public()
	} else {
		st.Reason = "its tools could not be listed"
	}
	st.Detail = err.Error()
	return st
}

// progressLine writes one line of start-up progress, if w is set.
func progressLine(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", a...)
	}
}

// mcpBanner is the banner's line per MCP server, or "" with none.
func mcpBanner(ss []mcpStatus) string {
	var b strings.Builder
	for i, s := range ss {
		label := "         "
		if i == 0 {
			label = "  mcp:   "
		}
		fmt.Fprintf(&b, "%s %s\n", label, s)
	}
	return b.String()
}

// addMCPChecks adds a /readyz check per MCP server (when the listener is
// on): a server that failed at start is not ready, with its public reason,
// until the bot is restarted with it fixed.
func (d *deployment) addMCPChecks() {
	if d.Server == nil {
		return
	}
	for _, s := range d.mcp {
		var err error
		if !s.Ready {
			err = failed(s.Reason, errors.New(s.Detail))
		}
		d.Server.AddCheck("mcp."+s.Name, func(context.Context) error { return err })
	}
}

// doctorMCP starts every configured MCP server as the bot would (preflight,
// then its tools listed in a sandboxed spoke) and returns how each came up.
func doctorMCP(ctx context.Context, cfg config.Config, log *slog.Logger) ([]mcpStatus, error) {
	sts, _, err := discoverMCP(ctx, cfg, log)
	return sts, err
}

// discoverMCP starts every configured MCP server as the bot would and
// returns how each came up and, for those that did, the server with its
// listed tools.
func discoverMCP(ctx context.Context, cfg config.Config, log *slog.Logger) ([]mcpStatus, map[ids.AppID]mcp.Server, error) {
	if len(cfg.MCP.Servers) == 0 {
		return nil, nil, nil
	}
	cat, err := apps.NewCatalog([]ids.AppID{})
	if err != nil {
		return nil, nil, err
	}
	exe, _, err := spokeBinary(ctx, cfg.Sandbox.SpokeBinary, cat.IDs(), log)
	if err != nil {
		return nil, nil, err
	}
	sp, err := sandbox.New(sandbox.Config{Exe: exe, Off: cfg.Sandbox.Mode == "off", DefaultTimeout: cfg.Sandbox.Timeout.D(), Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	defer sp.Close()
	pols := &appPolicies{dataRoot: cfg.MCPDataDir(), servers: map[ids.AppID]mcp.Server{},
		files: map[ids.AppID][]hub.Mount{}, limits: map[ids.AppID]config.Limits{}, private: map[ids.AppID][]netip.Prefix{}}
	limits := hub.SpokeLimits{CPU: cfg.Sandbox.CPU.D(), Memory: int64(cfg.Sandbox.Memory), FileSize: int64(cfg.Sandbox.FileSize),
		OpenFiles: cfg.Sandbox.OpenFiles, Procs: cfg.Sandbox.Procs}
	// The doctor lists the servers' tools but approves nothing: its pins
	// are a throw-away store's, so the bot's pins are neither read (the
	// bot may hold the bolt file) nor written.
	_, sts, err := installMCP(ctx, cfg, hubspawn.New(sp), memstore.New(memstore.Options{}), cat, map[ids.AppID]json.RawMessage{}, pols,
		func(config.Limits) hub.SpokeSpec {
			return hub.SpokeSpec{Timeout: cfg.Sandbox.Timeout.D(), Limits: limits}
		}, log, nil)
	return sts, pols.servers, err
}
