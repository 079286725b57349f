package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

const mcpPinsUsage = `usage: secgpt mcp pins             (each MCP server's approved tools, their aliases, and changes waiting for approval)
       secgpt mcp approve SERVER   (approve SERVER's changed and new tools; restart the bot to use them)`

// isMCPPins reports whether args are a pins subcommand of secgpt mcp.
func isMCPPins(args []string) bool {
	return len(args) > 0 && (args[0] == "pins" || args[0] == "approve")
}

// runMCPPins serves `secgpt mcp pins` and `secgpt mcp approve SERVER`.
func runMCPPins(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer) int {
	switch {
	case len(args) == 1 && args[0] == "pins", len(args) == 2 && args[0] == "approve":
	default:
		fmt.Fprintln(errOut, mcpPinsUsage)
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		if cfg.Store.Backend != "redis" {
			err = fmt.Errorf("%w (a running bot holds the state file: stop it first)", err)
		}
		fmt.Fprintln(errOut, "secgpt mcp:", err)
		return 1
	}
	defer st.Close()
	if args[0] == "pins" {
		err = printPins(ctx, st, out)
	} else {
		err = approvePin(ctx, st, args[1], time.Now(), out)
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt mcp:", err)
		return 1
	}
	return 0
}

// printPins lists every pinned server: its approved tools with their
// aliases, and the difference waiting for approval.
func printPins(ctx context.Context, pins state.Pins, out io.Writer) error {
	all, err := pins.ListPins(ctx)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(out, "No MCP server has been pinned yet (a server's tools are pinned when the bot first lists them).")
		return nil
	}
	for _, p := range all {
		fmt.Fprintf(out, "%s (pinned %s): %d approved tools\n", p.Server, p.Updated.Format(time.RFC3339), len(p.Tools))
		for _, tool := range slices.Sorted(maps.Keys(p.Tools)) {
			fmt.Fprintf(out, "  %-24s %q\n", strings.TrimPrefix(string(p.Server), mcp.Prefix)+mcp.Sep+p.Tools[tool].Alias, tool)
		}
		if len(p.Pending) == 0 {
			continue
		}
		fmt.Fprintf(out, "  %d changed or new tools withheld until `secgpt mcp approve %s`:\n", len(p.Pending), strings.TrimPrefix(string(p.Server), mcp.Prefix))
		for _, l := range strings.Split(strings.TrimRight(mcp.Diff(p), "\n"), "\n") {
			fmt.Fprintln(out, "    "+l)
		}
	}
	return nil
}

// approvePin approves server's pending changes (server is the name in
// mcp.servers, or its app id).
func approvePin(ctx context.Context, pins state.Pins, server string, now time.Time, out io.Writer) error {
	id := ids.AppID(server)
	if !strings.HasPrefix(server, mcp.Prefix) {
		id = ids.AppID(mcp.Prefix + server)
	}
	p, ok, err := pins.GetPin(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no pin for %s (see secgpt mcp pins)", id)
	}
	if len(p.Pending) == 0 {
		fmt.Fprintf(out, "%s has no changes waiting for approval.\n", id)
		return nil
	}
	n := len(p.Pending)
	if err := pins.PutPin(ctx, mcp.Approve(p, now)); err != nil {
		return err
	}
	fmt.Fprintf(out, "Approved %d changed or new tools of %s; restart the bot to use them.\n", n, id)
	return nil
}
