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
	// aliases names the server's tools for the planner as the operator's
	// entry does, from the tools the server listed when `secgpt mcp add`
	// ran (add) and those it lists at the bot's start (start); nil means
	// as `mcp add` does (addAliases). TestToolNamingEpisodes swaps in
	// looser rules to see I9 catch them.
	aliases func(add, start []string) map[string]string
}

// addAliases is what `secgpt mcp add` writes into the entry's aliases:
// mcp.NameTools over the tools listed when it ran.
func addAliases(add, _ []string) map[string]string {
	named, _ := mcp.NameTools(add)
	return named
}

// acceptedNames are the planner names `secgpt mcp add` prints for the
// server's tools when it runs (mcpserver.py listing with "add"): its two
// plain identifiers, "-" made "_". The checker holds them as the truth,
// not whatever the naming rule under test produced: every other name with
// the episode's token in a model context is a name the operator did not
// accept (I9).
func acceptedNames(token string) []string {
	return []string{"zqmname" + token + "_lookup", "zqmname" + token + "_old"}
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

// install installs the server as an operator does: `secgpt mcp add`
// lists its tools in a sandboxed spoke (with canaries made from token)
// and writes the entry's aliases (m.aliases); the bot's start lists them
// again (the server has renamed one tool and added another since), pins
// them in the episode's store with the entry's aliases, and adds the
// server to cat. It returns the server's config section for its spokes.
// The listed metadata must hold the canaries, or the episode would check
// nothing.
func (m *mcpSetup) install(ctx context.Context, sp hub.Spawner, cat *apps.Catalog, pins state.Pins, token string) (json.RawMessage, error) {
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
	added, err := mcp.Discover(ctx, start, mcp.Server{Name: mcpName, Command: mcpPython, Args: []string{m.script, token, "add"}})
	if err != nil {
		return nil, fmt.Errorf("list the hostile MCP server's tools (mcp add): %w", err)
	}
	s, err := mcp.Discover(ctx, start, mcp.Server{Name: mcpName, Command: mcpPython, Args: []string{m.script, token}})
	if err != nil {
		return nil, fmt.Errorf("list the hostile MCP server's tools: %w", err)
	}
	// (An annotation's title is not kept at all: the hub keeps only the
	// hints, as words of its own.)
	listed, _ := json.Marshal(s.Tools)
	for _, kind := range []string{"tool", "prop", "enum", "desc", "deep", "name", "late"} {
		if !strings.Contains(string(listed), "zqm"+kind+token) {
			return nil, fmt.Errorf("the hostile MCP server's %s canary is not in its listed tools", kind)
		}
	}
	naming := m.aliases
	if naming == nil {
		naming = addAliases
	}
	s, pin, _ := mcp.Reconcile(s, state.Pin{}, false, naming(added.ToolNames(), s.ToolNames()), time.Now())
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
