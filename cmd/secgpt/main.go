// Command secgpt is the SecGPT-Go assistant: the hub, the terminal, Slack
// and Matrix front ends, the evaluation, and (re-executed by the hub) the
// spoke process that runs one app invocation in its sandbox. Its commands
// and wiring are package cli.
package main

import (
	"os"
	"slices"

	"github.com/secgpt-go/secgpt/apps/mcp"
	_ "github.com/secgpt-go/secgpt/apps/standard" // the bundled apps
	"github.com/secgpt-go/secgpt/cli"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/evaluation/invariants"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// The hub describes, and its spokes run, MCP servers as apps built from
// their config section (the same registration as cmd/secgpt-spoke's).
func init() { mcp.Register() }

func main() {
	// A spoke must confine itself before anything else runs.
	if sandbox.IsChild() {
		// Only spokes of `secgpt eval invariants` (started from this
		// binary as "__spoke invariants", never from secgpt-spoke) may
		// run the harness's hostile apps.
		if slices.Contains(os.Args[1:], invariants.SpokeArg) {
			invariants.RegisterApps()
		}
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(cli.Main())
}
