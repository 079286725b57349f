package main

import (
	"context"
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
	if *asJSON {
		fmt.Fprintln(out, string(rep.JSON()))
	} else {
		fmt.Fprint(out, rep.String())
	}
	return 0
}
