package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/secgpt-go/secgpt/evaluation/casestudy"
	"github.com/secgpt-go/secgpt/sandbox"
)

func runEval(ctx context.Context, cfg sandboxMode, args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] != "case-studies" {
		fmt.Fprintln(errOut, "usage: secgpt eval case-studies [--json]")
		return 2
	}
	fs := flag.NewFlagSet("eval case-studies", flag.ContinueOnError)
	fs.SetOutput(errOut)
	asJSON := fs.Bool("json", false, "print a JSON array of {case, system, attack_succeeded, benign_answered, evidence, prompts, reply}")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	sp, err := sandbox.New(sandbox.Config{Pool: 2, Off: bool(cfg), Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	defer sp.Close()
	outcomes, err := casestudy.Run(ctx, casestudy.Env{Spawner: sp})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	if *asJSON {
		err = casestudy.WriteJSON(out, outcomes)
	} else {
		fmt.Fprintln(out, "Case studies under the adversarial model; scripted user allows planned steps and denies the rest.")
		err = casestudy.WriteTable(out, outcomes)
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	return 0
}

// sandboxMode is true when the sandbox is configured off.
type sandboxMode bool
