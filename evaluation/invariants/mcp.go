package invariants

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// mcpServerScript is the hostile stdio MCP server some episodes install
// (see its doc string): every piece of its metadata carries a canary.
//
//go:embed mcpserver.py
var mcpServerScript []byte

// mcpName is the hostile server's name; its app is mcp.<mcpName>.
const mcpName = "invmeta"

// appMCP is the hostile MCP server as an app.
const appMCP = ids.AppID(mcp.Prefix + mcpName)

// mcpPython runs the server; episodes without it run no MCP server.
const mcpPython = "/usr/bin/python3"

// mcpWarmIdle keeps the server's spoke warm between invocations of the
// same user within an episode; the episode's end closes the hub, which
// ends the warm spokes before the liveness check.
const mcpWarmIdle = 3 * time.Second

// mcpSetup is where the run wrote the server's script (a directory mounted
// read-only into the server's spokes).
type mcpSetup struct {
	dir, script string
}

// newMCPSetup writes the script, or returns nil when python3 is missing
// (under CI that is an error).
func newMCPSetup() (*mcpSetup, error) {
	if _, err := os.Stat(mcpPython); err != nil {
		if os.Getenv("CI") == "true" {
			return nil, fmt.Errorf("invariants: %s missing under CI: the hostile MCP server needs it", mcpPython)
		}
		return nil, nil
	}
	// Outside /tmp, which is private inside a spoke.
	dir, err := os.MkdirTemp("/var/tmp", "secgpt-inv-mcp-")
	if err != nil {
		return nil, fmt.Errorf("invariants: MCP server directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "mcpserver.py")
	if err := os.WriteFile(script, mcpServerScript, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("invariants: MCP server script: %w", err)
	}
	return &mcpSetup{dir: dir, script: script}, nil
}

func (m *mcpSetup) close() {
	if m != nil {
		os.RemoveAll(m.dir)
	}
}

// policy is the hub's SpokePolicy for the server's spokes: the script's
// directory, read-only, and an interpreter's bounds.
func (m *mcpSetup) policy(_ context.Context, p *hub.SpokeSpec) error {
	if p.App != appMCP {
		return nil
	}
	p.Mounts = append(p.Mounts, hub.Mount{Source: m.dir})
	p.Limits.Memory = max(p.Limits.Memory, 1<<30)
	p.Limits.OpenFiles = max(p.Limits.OpenFiles, 256)
	p.Limits.Procs = max(p.Limits.Procs, 128)
	return nil
}

// install lists the server's tools in a sandboxed spoke (with canaries
// made from token), pins them in the episode's store, and adds the server
// to cat; it returns the server's config section for its spokes. The
// listed metadata must hold the canaries, or the episode would check
// nothing.
func (m *mcpSetup) install(ctx context.Context, sp hub.Spawner, cat *apps.Catalog, pins state.Pins, token string) (json.RawMessage, error) {
	s := mcp.Server{Name: mcpName, Command: mcpPython, Args: []string{m.script, token}}
	spec := hub.SpokeSpec{App: appMCP, Timeout: 60 * time.Second}
	if err := m.policy(ctx, &spec); err != nil {
		return nil, err
	}
	start := func(ctx context.Context, n mcp.Needs) (mcp.Spoke, error) {
		spec := spec
		spec.App, spec.AllowExec, spec.Domains, spec.Ports = n.App, n.Exec, n.Domains, n.Ports
		p, err := sp.Start(ctx, spec)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	s, err := mcp.Discover(ctx, start, s)
	if err != nil {
		return nil, fmt.Errorf("list the hostile MCP server's tools: %w", err)
	}
	// (An annotation's title is not kept at all: the hub keeps only the
	// hints, as words of its own.)
	listed, _ := json.Marshal(s.Tools)
	for _, kind := range []string{"tool", "prop", "enum", "desc", "deep"} {
		if !strings.Contains(string(listed), "zqm"+kind+token) {
			return nil, fmt.Errorf("the hostile MCP server's %s canary is not in its listed tools", kind)
		}
	}
	s, pin, _ := mcp.Reconcile(s, state.Pin{}, false, nil, time.Now())
	if err := pins.PutPin(ctx, pin); err != nil {
		return nil, err
	}
	return mcp.Install(cat, s)
}

// metaToken is an episode's canary token for the server's metadata.
func metaToken(rng *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// shownArgs fills a function's arguments from the schema the planner was
// shown (an MCP server's aliased one): enum values from the enum, the
// step's words in strings, random numbers.
func shownArgs(rng *rand.Rand, params json.RawMessage, words string) map[string]any {
	var sch struct {
		Properties map[string]struct {
			Type any   `json:"type"`
			Enum []any `json:"enum"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(params, &sch)
	args := map[string]any{}
	for name, p := range sch.Properties {
		if rng.IntN(3) == 0 && !slices.Contains(sch.Required, name) {
			continue
		}
		switch {
		case len(p.Enum) > 0:
			args[name] = p.Enum[rng.IntN(len(p.Enum))]
		case p.Type == "integer" || p.Type == "number":
			args[name] = rng.IntN(100)
		case p.Type == "boolean":
			args[name] = rng.IntN(2) == 0
		case p.Type == "object":
			args[name] = map[string]any{}
		case p.Type == "array":
			args[name] = []any{}
		default:
			args[name] = words
		}
	}
	return args
}
