package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/sandbox"
)

func runDoctor(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(errOut)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rep := sandbox.Doctor(ctx, sandbox.Config{Off: cfg.Sandbox.Mode == "off", Logger: log})
	sts, mcpErr := doctorMCP(ctx, cfg, log)
	switch {
	case *asJSON && len(cfg.MCP.Servers) > 0:
		var m map[string]any
		_ = json.Unmarshal(rep.JSON(), &m)
		m["mcp_servers"] = sts
		if mcpErr != nil {
			m["mcp_error"] = mcpErr.Error()
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintln(out, string(b))
	case *asJSON:
		fmt.Fprintln(out, string(rep.JSON()))
	default:
		fmt.Fprint(out, rep.String())
		if len(cfg.MCP.Servers) > 0 {
			fmt.Fprintln(out, "MCP servers (each started as the bot starts it, in its sandbox):")
		}
		if mcpErr != nil {
			fmt.Fprintf(out, "  could not start them: %v\n", mcpErr)
		}
		for _, s := range sts {
			fmt.Fprintf(out, "  %s\n", s)
		}
	}
	for _, s := range sts {
		if !s.Ready {
			return 1
		}
	}
	if mcpErr != nil {
		return 1
	}
	return 0
}
