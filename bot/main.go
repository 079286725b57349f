// Command secgpt is the SecGPT-Go assistant: the hub, the terminal, Slack
// and Matrix front ends, the evaluation, and (re-executed by the hub) the
// spoke process that runs one app invocation in its sandbox.
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"

	_ "github.com/secgpt-go/secgpt/apps/standard" // the bundled apps
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/evaluation/invariants"
	"github.com/secgpt-go/secgpt/sandbox"
)

func main() {
	// A spoke must confine itself before anything else runs.
	if sandbox.IsChild() {
		// Only spokes of `secgpt eval invariants` (started as "__spoke
		// invariants") may run the harness's hostile apps.
		if slices.Contains(os.Args[1:], invariants.SpokeArg) {
			invariants.RegisterApps()
		}
		os.Exit(spoke.Main(enterSpoke))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// enterSpoke confines the spoke process and returns its ISC socket and the
// HTTP client that reaches the app's declared domains through the hub.
func enterSpoke() (*os.File, *http.Client, error) {
	_, f, err := sandbox.Enter()
	if err != nil {
		return nil, nil, err
	}
	return f, sandbox.EgressClient(), nil
}
