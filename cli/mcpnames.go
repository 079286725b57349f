package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/ids"
)

// toolNames is what naming a server's tools found.
type toolNames struct {
	// named maps a tool's own name to the alias the planner sees.
	named map[string]string
	// unnamed are the tools whose names are not plain identifiers: the
	// planner sees them by their place (t<N>).
	unnamed []string
}

// nameTools lists the tools of the server name of cfg in its sandbox, as
// the bot will, and names them for the planner (mcp.NameTools: a tool by
// its own name where that is a plain identifier of at most 32 characters).
// A tool's name is the server's text; the operator who runs `secgpt mcp
// add` sees every name in the report, and the entry's aliases: are theirs
// to edit. A name that is no identifier (spaces, punctuation,
// instructions) stays unseen.
func nameTools(ctx context.Context, cfg config.Config, name string) (toolNames, error) {
	one := cfg
	one.MCP.Servers = map[string]config.MCPServer{name: cfg.MCP.Servers[name]}
	sts, servers, err := discoverMCP(ctx, one, slog.New(slog.DiscardHandler))
	if err != nil {
		return toolNames{}, err
	}
	if len(sts) != 1 || !sts[0].Ready {
		reason := "it did not start"
		if len(sts) == 1 {
			reason = sts[0].Reason
		}
		return toolNames{}, errors.New(reason)
	}
	named, unnamed := mcp.NameTools(servers[ids.AppID(mcp.Prefix+name)].ToolNames())
	return toolNames{named: named, unnamed: unnamed}, nil
}

// nameServer names the tools of srv, the server name about to be written,
// for the planner (nameTools) and puts the names in srv.Aliases, keeping
// any alias srv already has. It returns the lines for the report; a
// server that does not list its tools keeps t<N>, and the report says so.
func nameServer(ctx context.Context, cfg config.Config, name string, srv *config.MCPServer, progress io.Writer) []string {
	servers := maps.Clone(cfg.MCP.Servers)
	if servers == nil {
		servers = map[string]config.MCPServer{}
	}
	servers[name] = *srv
	cfg.MCP.Servers = servers
	progressLine(progress, "  mcp.%s: listing its tools in its sandbox to name them…", name)
	tn, err := nameTools(ctx, cfg, name)
	if err != nil {
		return []string{fmt.Sprintf("tools not named: the server did not list them (%v); the planner sees them as t1, t2, … until the entry's aliases: name them", err)}
	}
	aliases := maps.Clone(tn.named)
	maps.Copy(aliases, srv.Aliases)
	if len(aliases) > 0 {
		srv.Aliases = aliases
	}
	var lines []string
	var names []string
	for _, tool := range slices.Sorted(maps.Keys(tn.named)) {
		names = append(names, tn.named[tool])
	}
	lines = append(lines, fmt.Sprintf("tools the planner sees by their own names (aliases: in the entry; edit or remove to hide them): %s", strings.Join(names, ", ")))
	if len(tn.unnamed) > 0 {
		lines = append(lines, fmt.Sprintf("%d tool(s) whose names are not plain identifiers stay unnamed (t<N>) for the planner", len(tn.unnamed)))
	}
	return lines
}
