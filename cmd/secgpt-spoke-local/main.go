// Command secgpt-spoke-local is the smallest spoke binary: the bundled
// apps that need neither the network nor programs (apps/local), the spoke
// loop and the sandbox. The hub runs their spokes from it, and keeps its
// pool of spokes started ahead of need from it, when it sits next to the
// secgpt-spoke in use; every other spoke (Google's apps, MCP servers)
// runs from secgpt-spoke. A start costs less CPU and an idle pooled spoke
// less memory than secgpt-spoke's, whose Google API and MCP clients'
// initialisers it does not run (docs/sandbox.md). Build all three from
// the same tree:
//
//	go build -o bin/ ./cmd/secgpt ./cmd/secgpt-spoke ./cmd/secgpt-spoke-local
//
// It is not meant to be run by hand: outside a sandbox it only describes
// what it was built from (`secgpt-spoke-local describe`), which the hub
// checks at start-up.
package main

import (
	"os"

	_ "github.com/secgpt-go/secgpt/apps/local" // the apps without network
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

func main() {
	// A spoke must confine itself before anything else runs: BinaryMain
	// does that first when IsChild.
	os.Exit(spoke.BinaryMain("secgpt-spoke-local", confine.IsChild(), confine.EnterSpoke, os.Args, os.Stdout, os.Stderr))
}
