package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/secgpt-go/secgpt/config"
)

// runHealthcheck asks this container's own listener (server.listen) for
// /healthz, or /readyz with --ready, and exits 0 only on 200. It is the
// Dockerfile's HEALTHCHECK: the runtime image has no curl.
func runHealthcheck(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(errOut)
	ready := fs.Bool("ready", false, "check /readyz (store and platform connected) instead of /healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Server.Listen == "" {
		fmt.Fprintln(errOut, "secgpt healthcheck: server.listen is not set (SECGPT_LISTEN), so there is nothing to ask")
		return 2
	}
	url := "http://" + localAddr(cfg.Server.Listen) + "/healthz"
	if *ready {
		url = "http://" + localAddr(cfg.Server.Listen) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(errOut, "secgpt healthcheck: %s answered %s: %s\n", url, resp.Status, body)
		return 1
	}
	fmt.Fprintf(out, "%s", body)
	return 0
}

// localAddr turns a listen address into one to dial on this host: an
// unspecified or wildcard host becomes loopback.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
