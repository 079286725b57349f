// Command secgpt-spoke is the lean spoke binary: the bundled apps, the
// spoke loop and the sandbox, without the hub, the chat front ends or the
// model providers' SDKs, so that each of the many spoke starts costs less
// (docs/benchmarks.md). The hub runs it when it sits next to the secgpt
// binary or sandbox.spoke_binary names it; otherwise the hub re-executes
// itself. Build both from the same tree:
//
//	go build -o bin/ ./cmd/secgpt ./cmd/secgpt-spoke
//
// It is not meant to be run by hand: outside a sandbox it only describes
// what it was built from (`secgpt-spoke describe`), which the hub checks at
// start-up.
package main

import (
	"os"

	"github.com/secgpt-go/secgpt/apps/mcp"
	_ "github.com/secgpt-go/secgpt/apps/standard" // the bundled apps
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// A spoke builds an MCP app from the config section the hub hands it.
func init() { mcp.Register() }

func main() {
	// A spoke must confine itself before anything else runs: BinaryMain
	// does that first when IsChild.
	os.Exit(spoke.BinaryMain("secgpt-spoke", confine.IsChild(), confine.EnterSpoke, os.Args, os.Stdout, os.Stderr))
}
