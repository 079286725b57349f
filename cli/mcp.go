package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/connect"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// The least an MCP server's spoke gets, whatever sandbox.open_files and
// sandbox.procs say; mcp.servers.<name>.limits can set more or less.
const (
	mcpMinOpenFiles = 256
	mcpMinProcs     = 128
)

// appPolicies holds, per app, what its spokes get beyond the defaults:
// declared host files, an MCP server's per-user data directory, limits.
type appPolicies struct {
	dataRoot string
	servers  map[ids.AppID]mcp.Server
	files    map[ids.AppID][]hub.Mount
	limits   map[ids.AppID]config.Limits
	// private are the non-public blocks an operator opened per server.
	private map[ids.AppID][]netip.Prefix
	// signIn runs the MCP authorization flow for servers with oauth.
	signIn *connect.MCP
}

// apply is the hub's PolicyFunc.
func (p *appPolicies) apply(_ context.Context, pol *hub.SpokeSpec) error {
	app, user := pol.App, pol.User
	pol.Mounts = append(pol.Mounts, p.files[app]...)
	if s, ok := p.servers[app]; ok {
		dir, err := mcp.DataDirOf(s, p.dataRoot, user)
		if err != nil {
			return err
		}
		if dir != "" {
			pol.Mounts = append(pol.Mounts, hub.Mount{Source: dir, Target: mcp.DataDir, Write: true})
		}
	}
	pol.PrivateNets = append(pol.PrivateNets, p.private[app]...)
	if _, ok := p.servers[app]; ok {
		// An interpreter opens far more files and starts more threads than
		// a Go spoke (measured: Node loading the memory server's modules
		// failed with EMFILE at 64 descriptors).
		pol.Limits.OpenFiles = max(pol.Limits.OpenFiles, mcpMinOpenFiles)
		pol.Limits.Procs = max(pol.Limits.Procs, mcpMinProcs)
	}
	l := p.limits[app]
	if l.Memory > 0 {
		pol.Limits.Memory = int64(l.Memory)
	}
	if l.CPU > 0 {
		pol.Limits.CPU = l.CPU.D()
	}
	if l.Timeout > 0 {
		pol.Timeout = l.Timeout.D()
	}
	if l.Procs > 0 {
		pol.Limits.Procs = l.Procs
	}
	if l.OpenFiles > 0 {
		pol.Limits.OpenFiles = l.OpenFiles
	}
	return nil
}

// newAppPolicies reads apps.files and applies apps.secrets to the apps'
// settings (appCfg): a secret's value goes only into its app's section,
// which only that app's spokes receive.
func newAppPolicies(cfg config.Config, appCfg map[ids.AppID]json.RawMessage, getenv func(string) string) (*appPolicies, error) {
	p := &appPolicies{dataRoot: cfg.MCPDataDir(), servers: map[ids.AppID]mcp.Server{},
		files: map[ids.AppID][]hub.Mount{}, limits: map[ids.AppID]config.Limits{}, private: map[ids.AppID][]netip.Prefix{}}
	for app, fs := range cfg.Apps.Files {
		p.files[ids.AppID(app)] = mounts(fs)
	}
	for app, secs := range cfg.Apps.Secrets {
		m := map[string]any{}
		if raw := appCfg[ids.AppID(app)]; len(raw) > 0 {
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, &config.KeyError{Key: "apps.settings." + app, Msg: "must be a mapping to take secrets"}
			}
		}
		for k, sec := range secs {
			v, err := sec.Resolve(getenv)
			if err != nil {
				return nil, &config.KeyError{Key: "apps.secrets." + app + "." + k, Msg: err.Error()}
			}
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		appCfg[ids.AppID(app)] = b
	}
	return p, nil
}

func mounts(fs []config.File) []hub.Mount {
	var out []hub.Mount
	for _, f := range fs {
		out = append(out, hub.Mount{Source: filepath.Clean(f.Path), Write: f.Write})
	}
	return out
}

// mcpServer is the one place a configured server (config.MCPServer)
// becomes what its spoke receives (mcp.Server, its secrets resolved), and
// gives the host files its spokes may use: the declared ones, plus the program
// and every absolute path named in its arguments that exists (read-only,
// with the host's owners and modes), since a spoke sees nothing of the
// host that is not named.
func mcpServer(name string, c config.MCPServer, getenv func(string) string) (mcp.Server, []hub.Mount, error) {
	key := "mcp.servers." + name
	s := mcp.Server{Name: name, Command: c.Command, Args: c.Args, URL: c.URL, BearerToken: c.BearerToken,
		Domains: c.Domains, Data: c.Data, HideRoots: c.HideRoots, TrustAnnotations: c.TrustAnnotations, OAuth: c.OAuth}
	if len(c.Env) > 0 || len(c.Secrets) > 0 {
		s.Env = map[string]string{}
	}
	for k, v := range c.Env {
		s.Env[k] = v
	}
	resolved := map[string]string{}
	for k, sec := range c.Secrets {
		v, err := sec.Resolve(getenv)
		if err != nil {
			return s, nil, &config.KeyError{Key: key + ".secrets." + k, Msg: err.Error()}
		}
		resolved[k] = v
	}
	// A secret the url refers to goes into the url only. The url is
	// checked with stand-ins for the secrets: the message of a bad url
	// must never hold a secret's value.
	var inURL map[string]bool
	probe := c.URL
	if c.URL != "" {
		var err error
		if probe, inURL, err = mcp.ExpandURL(c.URL, placeholders(resolved)); err != nil {
			return s, nil, &config.KeyError{Key: key + ".url", Msg: err.Error()}
		}
	}
	for k, v := range resolved {
		switch {
		case k == "BEARER_TOKEN" && c.URL != "":
			s.BearerToken = v
		case inURL[k]:
			// In the url only: the spoke's client sends it there.
		default:
			s.Env[k] = v
		}
	}
	files := mounts(c.Files)
	for _, f := range files {
		if fi, err := os.Stat(f.Source); err == nil && fi.IsDir() {
			s.Roots = append(s.Roots, f.Source)
		}
	}
	if c.Command != "" {
		p, err := exec.LookPath(c.Command)
		if err != nil {
			return s, nil, &config.KeyError{Key: key + ".command", Msg: err.Error()}
		}
		if p, err = filepath.Abs(p); err != nil {
			return s, nil, &config.KeyError{Key: key + ".command", Msg: err.Error()}
		}
		s.Command = p
		named := append([]string{p}, c.Args...)
		for _, a := range named {
			if !filepath.IsAbs(a) || under(a, "/usr", "/bin", "/lib", "/lib64", "/sbin") {
				continue
			}
			a = packageTree(filepath.Clean(a))
			if _, err := os.Stat(a); err == nil && !hasMount(files, a) {
				// With the host's owners: naming /etc in an argument must
				// not make /etc/shadow the spoke's own file.
				files = append(files, hub.Mount{Source: a, RealOwners: true})
			}
		}
	}
	check := s
	check.URL = probe
	if err := check.Check(); err != nil {
		return s, nil, &config.KeyError{Key: key, Msg: err.Error()}
	}
	if len(inURL) > 0 {
		if _, err := s.SetURL(c.URL, resolved); err != nil {
			return s, nil, &config.KeyError{Key: key + ".url", Msg: "a secret's value does not fit where the url refers to it"}
		}
	}
	for tool, a := range c.Aliases {
		if err := mcp.CheckAlias(a); err != nil {
			return s, nil, &config.KeyError{Key: key + ".aliases." + tool, Msg: err.Error()}
		}
	}
	return s, files, nil
}

// placeholders maps each secret to a stand-in value, so that a url can be
// checked (and named in an error) without any secret's value in it.
func placeholders(secrets map[string]string) map[string]string {
	out := make(map[string]string, len(secrets))
	for k := range secrets {
		out[k] = "SECRET"
	}
	return out
}

// packageTree widens a path inside a node_modules tree to that whole tree
// (measured: a server's entry file alone fails, since Node resolves its
// dependencies from the node_modules directories above it). Anything else
// stays as named: a script's directory may be a home directory.
func packageTree(p string) string {
	if i := strings.Index(p, "/node_modules/"); i >= 0 {
		return p[:i+len("/node_modules")]
	}
	return p
}

func under(p string, dirs ...string) bool {
	for _, d := range dirs {
		if p == d || len(p) > len(d) && p[:len(d)+1] == d+"/" {
			return true
		}
	}
	return false
}

func hasMount(ms []hub.Mount, p string) bool {
	for _, m := range ms {
		if under(p, m.Source) {
			return true
		}
	}
	return false
}

// installMCP learns every configured server's tools (each in a sandboxed
// spoke of its own) and installs the servers in the catalog. A server that
// fails its preflight checks, or cannot be started or listed, is left out
// with its reason in the statuses (the banner, doctor and /readyz show
// them): one broken server does not keep the bot from starting. progress,
// if not nil, gets a line as each server starts and ends.
func installMCP(ctx context.Context, cfg config.Config, st hub.Spawner, pins state.Pins, cat *apps.Catalog, appCfg map[ids.AppID]json.RawMessage,
	pols *appPolicies, limits func(config.Limits) hub.SpokeSpec, log *slog.Logger, progress io.Writer) ([]ids.AppID, []mcpStatus, error) {
	var installed []ids.AppID
	var statuses []mcpStatus
	timeout := cfg.MCP.DiscoverTimeout.D()
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	for _, name := range cfg.MCPServerNames() {
		c := cfg.MCP.Servers[name]
		start := time.Now()
		if err := preflightMCP(name, c, nil); err != nil {
			st := statusOf(name, 0, time.Since(start), err)
			statuses = append(statuses, st)
			log.Warn("MCP server left out: a preflight check failed", "server", name, "err", err)
			progressLine(progress, "  %s", st)
			continue
		}
		s, files, err := mcpServer(name, c, nil)
		if err != nil {
			return nil, nil, err
		}
		id := s.ID()
		if pols.private[id], err = privateNetworks(name, c, log); err != nil {
			return nil, nil, err
		}
		pols.servers[id], pols.files[id], pols.limits[id] = s, files, c.Limits
		pol := limits(c.Limits)
		pol.App, pol.User = id, "secgpt:discovery"
		tmp, err := os.MkdirTemp("", "secgpt-mcp-discover-")
		if err != nil {
			return nil, nil, err
		}
		discoverPols := *pols
		discoverPols.dataRoot = tmp
		if err := discoverPols.apply(ctx, &pol); err != nil {
			os.RemoveAll(tmp)
			return nil, nil, fmt.Errorf("mcp server %s: %w", name, err)
		}
		progressLine(progress, "  mcp.%s: starting in its sandbox and listing its tools (up to %s)…", name, timeout)
		dctx, cancel := context.WithTimeout(ctx, timeout)
		s, err = mcp.DiscoverWith(dctx, discoveryStarter(st, pol), s, pols.discoveryCredential(dctx, id, log))
		timedOut := dctx.Err() != nil && ctx.Err() == nil
		cancel()
		os.RemoveAll(tmp)
		if err != nil {
			if timedOut {
				err = failed(fmt.Sprintf("its tools were not listed within %s (mcp.discover_timeout)", timeout), err)
			}
			st := statusOf(name, 0, time.Since(start), err)
			statuses = append(statuses, st)
			log.Warn("MCP server left out: its tools could not be listed", "server", name, "err", err)
			progressLine(progress, "  %s", st)
			continue
		}
		if s, err = pinTools(ctx, pins, s, c.Aliases, log); err != nil {
			return nil, nil, fmt.Errorf("mcp server %s: %w", name, err)
		}
		if len(s.Tools) == 0 {
			err := failed("none of its tools is approved (see secgpt mcp pins)", nil)
			st := statusOf(name, 0, time.Since(start), err)
			statuses = append(statuses, st)
			log.Warn("MCP server left out: none of its tools is approved (see secgpt mcp pins)", "server", name)
			progressLine(progress, "  %s", st)
			continue
		}
		pols.servers[id] = s
		raw, err := mcp.Install(cat, s)
		if err != nil {
			return nil, nil, fmt.Errorf("mcp server %s: %w", name, err)
		}
		appCfg[id] = raw
		installed = append(installed, id)
		st := statusOf(name, len(s.Tools), time.Since(start), nil)
		statuses = append(statuses, st)
		progressLine(progress, "  %s", st)
		log.Info("MCP server installed", "app", id, "tools", len(s.Tools))
	}
	return installed, statuses, nil
}

// discoveryStarter starts a server's discovery spoke through st as spec
// says, with what the server needs of the sandbox (mcp.Needs).
func discoveryStarter(st hub.Spawner, spec hub.SpokeSpec) mcp.Starter {
	return func(ctx context.Context, n mcp.Needs) (mcp.Spoke, error) {
		spec.App, spec.AllowExec, spec.Domains, spec.Ports = n.App, n.Exec, n.Domains, n.Ports
		if spec.Timeout <= 0 {
			spec.Timeout = 60 * time.Second
		}
		sp, err := st.Start(ctx, spec)
		if err != nil {
			return nil, err
		}
		return sp, nil
	}
}

// pinTools holds a server's listed tools against its pin in the store
// (mcp.Reconcile): the first listing is pinned; later, a new or changed
// tool is withheld, with a warning, until `secgpt mcp approve` approves it.
func pinTools(ctx context.Context, pins state.Pins, s mcp.Server, aliases map[string]string, log *slog.Logger) (mcp.Server, error) {
	pin, have, err := pins.GetPin(ctx, s.ID())
	if err != nil {
		return s, err
	}
	out, next, changed := mcp.Reconcile(s, pin, have, aliases, time.Now())
	if changed {
		if err := pins.PutPin(ctx, next); err != nil {
			return s, err
		}
	}
	if !have {
		log.Info("MCP server's tools pinned on first listing", "server", s.Name, "tools", len(next.Tools))
	}
	if len(next.Pending) > 0 {
		log.Warn("MCP server's tools changed since they were approved; the changed and new ones are withheld (secgpt mcp pins shows the difference, secgpt mcp approve approves it)",
			"server", s.Name, "withheld", len(next.Pending))
	}
	return out, nil
}

// installMCPServers sets up the MCP servers' sign-in, starts each
// configured server in its sandbox to list its tools, installs those that
// come up beside the built-in apps and adds their readiness checks.
func (d *deployment) installMCPServers(ctx context.Context, cfg config.Config, a *appSet, sp *sandbox.Spawner, limits hub.SpokeLimits, progress io.Writer) error {
	var err error
	if a.pols.signIn, err = newMCPAuth(cfg, d, d.Store, d.log); err != nil {
		return err
	}
	mcpApps, mcpStatuses, err := installMCP(ctx, cfg, hubspawn.New(sp), d.Store, a.cat, a.appCfg, a.pols,
		func(config.Limits) hub.SpokeSpec {
			return hub.SpokeSpec{Timeout: cfg.Sandbox.Timeout.D(), Limits: limits}
		}, d.log, progress)
	if err != nil {
		return err
	}
	d.apps = append(d.apps, mcpApps...)
	d.mcp = mcpStatuses
	d.addMCPChecks()
	return nil
}
