package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/secgpt-go/secgpt/evaluation/casestudy"
	"github.com/secgpt-go/secgpt/evaluation/invariants"
	"github.com/secgpt-go/secgpt/evaluation/relational"
	"github.com/secgpt-go/secgpt/sandbox"
)

const evalUsage = "usage: secgpt eval case-studies [--json] | secgpt eval relational [--json] [--runs N] [--grants once|always] | secgpt eval invariants [--episodes N] [--seed S] [--episode N] [--parallel P] [--json]"

func runEval(ctx context.Context, cfg sandboxMode, args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(errOut, evalUsage)
		return 2
	}
	switch args[0] {
	case "case-studies":
		return runCaseStudies(ctx, cfg, args[1:], out, errOut)
	case "relational":
		return runRelational(ctx, cfg, args[1:], out, errOut)
	case "invariants":
		return runInvariants(ctx, cfg, args[1:], out, errOut)
	}
	fmt.Fprintln(errOut, evalUsage)
	return 2
}

func evalSpawner(cfg sandboxMode, errOut io.Writer) (*sandbox.Spawner, error) {
	return sandbox.New(sandbox.Config{Pool: 2, Off: bool(cfg), Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

func runCaseStudies(ctx context.Context, cfg sandboxMode, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("eval case-studies", flag.ContinueOnError)
	fs.SetOutput(errOut)
	asJSON := fs.Bool("json", false, "print a JSON array of {case, system, attack_succeeded, benign_answered, evidence, prompts, reply}")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sp, err := evalSpawner(cfg, errOut)
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

func runRelational(ctx context.Context, cfg sandboxMode, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("eval relational", flag.ContinueOnError)
	fs.SetOutput(errOut)
	asJSON := fs.Bool("json", false, "print a JSON array with one row per question, system and run")
	runs := fs.Int("runs", 1, "timed runs of each question on each system")
	grants := fs.String("grants", string(relational.GrantsOnce), `SecGPT permissions: "once" (a scripted user allows every prompt once) or "always" (always-grants stored beforehand, no prompts)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *runs < 1 || (*grants != string(relational.GrantsOnce) && *grants != string(relational.GrantsAlways)) {
		fmt.Fprintln(errOut, evalUsage)
		return 2
	}
	sp, err := evalSpawner(cfg, errOut)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	defer sp.Close()
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rows, err := relational.Run(ctx, relational.Env{Spawner: sp, Runs: *runs, Grants: relational.Grants(*grants), Logger: logger})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	if *asJSON {
		err = relational.WriteJSON(out, rows)
	} else {
		fmt.Fprintf(out, "Relational-data suite (21 questions, 17 tool apps), oracle model (zero latency, same tool calls on both systems), in-memory store, SecGPT grants %q, %d run(s).\n", *grants, *runs)
		fmt.Fprintln(out, "Accuracy is not measured: the plans are ours. The answer check is a word-level substring match (the original used an LLM grader).")
		fmt.Fprintln(out)
		err = relational.WriteTable(out, rows)
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	return 0
}

func runInvariants(ctx context.Context, cfg sandboxMode, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("eval invariants", flag.ContinueOnError)
	fs.SetOutput(errOut)
	episodes := fs.Int("episodes", 1000, "adversarial episodes to run")
	seed := fs.Uint64("seed", 1, "seed of the run; a violation names its seed and episode")
	only := fs.Int("episode", -1, "run only this episode of the seed (the reproduction of a reported violation)")
	parallel := fs.Int("parallel", 2, "episodes run at once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	progress := fs.Int("progress", 0, "print a progress line to stderr every N episodes (0: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *episodes < 1 || *parallel < 1 || *only < -1 || fs.NArg() > 0 {
		fmt.Fprintln(errOut, evalUsage)
		return 2
	}
	sp, err := sandbox.New(sandbox.Config{Pool: 2 * *parallel, Off: bool(cfg), Args: []string{"__spoke", invariants.SpokeArg}, Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	defer sp.Close()
	rep, err := invariants.Run(ctx, invariants.Options{Spawner: sp, Episodes: *episodes, Seed: *seed, Only: *only,
		Parallel: *parallel, Progress: errOut, ProgressEvery: *progress})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
	}
	if *asJSON {
		err = invariants.WriteJSON(out, rep)
	} else {
		err = invariants.WriteText(out, rep)
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	if rep.Violations > 0 {
		return 1
	}
	return 0
}

// sandboxMode is true when the sandbox is configured off.
type sandboxMode bool
