package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

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

// aliasFor is the planner's name for a tool called tool, if its own name
// can be one: lowercase letters, digits and _ (mcp.CheckAlias), after
// lowering case and turning - and . into _.
func aliasFor(tool string) (string, bool) {
	a := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(tool))
	return a, mcp.CheckAlias(a) == nil
}

// nameTools lists the tools of the server name of cfg in its sandbox, as
// the bot will, and names each for the planner by its own name where that
// name is a plain identifier of at most 32 characters. A tool's name is
// the server's text; the operator who runs `secgpt mcp add` sees every
// name in the report, and the entry's aliases: are theirs to edit. A name
// that is no identifier (spaces, punctuation, instructions) stays unseen.
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
	s := servers[ids.AppID("mcp."+name)]
	out := toolNames{named: map[string]string{}}
	used := map[string]bool{}
	for _, tool := range slices.Sorted(maps.Keys(s.Aliases)) {
		a, ok := aliasFor(tool)
		if !ok || used[a] {
			out.unnamed = append(out.unnamed, tool)
			continue
		}
		used[a] = true
		out.named[tool] = a
	}
	return out, nil
}

// nameEntry names the tools of the server in the entry at path (nameTools)
// and writes the names into the entry's aliases:, keeping any the entry
// already has. It returns the lines for the report.
func nameEntry(ctx context.Context, cfg config.Config, name, path string, progress io.Writer) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("tools not named (%v): the planner sees them as t1, t2, …", err)}
	}
	srv, err := config.DecodeMCPEntry(b)
	if err != nil {
		return []string{fmt.Sprintf("tools not named (%s: %v): the planner sees them as t1, t2, …", path, err)}
	}
	if cfg.MCP.Servers == nil {
		cfg.MCP.Servers = map[string]config.MCPServer{}
	} else {
		cfg.MCP.Servers = maps.Clone(cfg.MCP.Servers)
	}
	cfg.MCP.Servers[name] = srv
	progressLine(progress, "  mcp.%s: listing its tools in its sandbox to name them…", name)
	tn, err := nameTools(ctx, cfg, name)
	if err != nil {
		return []string{fmt.Sprintf("tools not named: the server did not list them (%v); the planner sees them as t1, t2, … until the entry's aliases: name them", err)}
	}
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil || len(node.Content) == 0 || node.Content[0].Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("tools not named: %s is not a mapping", path)}
	}
	aliases := map[string]string{}
	maps.Copy(aliases, tn.named)
	maps.Copy(aliases, srv.Aliases)
	m := node.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "aliases" {
			m.Content = slices.Delete(m.Content, i, i+2)
			break
		}
	}
	var key, val yaml.Node
	key.SetString("aliases")
	if err := val.Encode(aliases); err != nil {
		return []string{fmt.Sprintf("tools not named: %v", err)}
	}
	key.HeadComment = "The names the planner sees for the server's tools: their own names,\nwhich `secgpt mcp add` showed you. A tool left out is shown as t<N>."
	m.Content = append(m.Content, &key, &val)
	var y bytes.Buffer
	enc := yaml.NewEncoder(&y)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return []string{fmt.Sprintf("tools not named: %v", err)}
	}
	if err := writeFileAtomic(path, y.Bytes()); err != nil {
		return []string{fmt.Sprintf("tools not named: %v", err)}
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
