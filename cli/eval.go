package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/evaluation/casestudy"
	"github.com/secgpt-go/secgpt/evaluation/invariants"
	"github.com/secgpt-go/secgpt/evaluation/machine"
	"github.com/secgpt-go/secgpt/evaluation/relational"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

const evalUsage = "usage: secgpt eval case-studies [--json] | secgpt eval relational [--json] [--runs N] [--grants once|always|both] [--model-latency D[±J]] | secgpt eval invariants [--episodes N] [--from N] [--seed S] [--episode N] [--parallel P] [--progress N] [--spokes sandbox|inprocess] [--replicas N --store redis [--redis-url URL]] [--json]"

func runEval(ctx context.Context, cfg evalSandbox, args []string, out, errOut io.Writer) int {
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

func evalSpawner(cfg evalSandbox, errOut io.Writer) (*sandbox.Spawner, error) {
	return sandbox.New(sandbox.Config{Pool: 2, PoolMemory: config.DefaultPoolMemory, IdleSpokeMemory: idleSpokeMemory(cfg.exe, cfg.local), Off: cfg.off, Exe: cfg.exe, LocalExe: cfg.local, LocalApps: cfg.localApps, Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

func runCaseStudies(ctx context.Context, cfg evalSandbox, args []string, out, errOut io.Writer) int {
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
	outcomes, err := casestudy.Run(ctx, casestudy.Env{Spawner: hubspawn.New(sp)})
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

func runRelational(ctx context.Context, cfg evalSandbox, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("eval relational", flag.ContinueOnError)
	fs.SetOutput(errOut)
	asJSON := fs.Bool("json", false, "print a JSON array with one row per question, system and run")
	runs := fs.Int("runs", 1, "timed runs of each question on each system")
	grants := fs.String("grants", string(relational.GrantsBoth), `SecGPT permissions: "once" (a scripted user allows every prompt once), "always" (always-grants stored beforehand, no prompts) or "both" (each question on SecGPT in both modes, side by side)`)
	latency := fs.String("model-latency", "", `simulated model latency "D" or "D±J" (also "D+-J"), e.g. 500ms±200ms: each model call waits D plus uniform jitter in [-J, J], the same k-th draw on both systems`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lat, jit, lerr := relational.ParseLatency(*latency)
	if lerr != nil {
		fmt.Fprintln(errOut, "secgpt eval relational:", lerr)
		return 2
	}
	switch relational.Grants(*grants) {
	case relational.GrantsOnce, relational.GrantsAlways, relational.GrantsBoth:
	default:
		fmt.Fprintln(errOut, evalUsage)
		return 2
	}
	if *runs < 1 {
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
	// Latency depends on the machine's state: it goes beside the figures.
	before := machine.Read()
	rows, err := relational.Run(ctx, relational.Env{Spawner: hubspawn.New(sp), Runs: *runs, Grants: relational.Grants(*grants), Logger: logger,
		ModelLatency: lat, ModelJitter: jit})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	if *asJSON {
		err = relational.WriteJSON(out, rows)
	} else {
		model := "zero latency"
		if *latency != "" {
			model = "simulated latency " + *latency
		}
		fmt.Fprintf(out, "Relational-data suite (21 questions, 17 tool apps), oracle model (%s, same tool calls on both systems), in-memory store, SecGPT grants %q, %d run(s).\n", model, *grants, *runs)
		fmt.Fprintln(out, "Accuracy is not measured: the plans are ours. The answer check is a word-level substring match (the original used an LLM grader).")
		fmt.Fprintln(out)
		err = relational.WriteTable(out, rows)
		if err == nil && *latency == "" {
			fmt.Fprintln(out, "(The latency targets are for a simulated model: add --model-latency 500ms±200ms.)")
		}
		fmt.Fprintf(out, "\nmachine start: %s\nmachine end:   %s\n", before, machine.Read())
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt eval:", err)
		return 1
	}
	return 0
}

func runInvariants(ctx context.Context, cfg evalSandbox, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("eval invariants", flag.ContinueOnError)
	fs.SetOutput(errOut)
	episodes := fs.Int("episodes", 1000, "adversarial episodes to run")
	from := fs.Int("from", 0, "number of the first episode (a long run done in parts: --from 50000 continues one that ran 0…49999)")
	seed := fs.Uint64("seed", 1, "seed of the run; a violation names its seed and episode")
	only := fs.Int("episode", -1, "run only this episode of the seed (the reproduction of a reported violation)")
	parallel := fs.Int("parallel", 2, "episodes run at once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	progress := fs.Int("progress", 0, "print a progress line to stderr every N episodes (0: none)")
	spokes := fs.String("spokes", invariants.SpokesSandbox, "how episode spokes run: sandbox (processes, as in production) or inprocess (goroutines over the hub's spoke seam: the hub's logic only, for large counts)")
	replicas := fs.Int("replicas", 1, "hubs per episode; 2 or more need --store redis")
	storeKind := fs.String("store", "memory", `episodes' store: "memory" (one hub each) or "redis" (the hubs of an episode share the Redis at --redis-url, and its connections are cut at random points)`)
	redisURL := fs.String("redis-url", os.Getenv("SECGPT_TEST_REDIS_URL"), "Redis for --store redis (default $SECGPT_TEST_REDIS_URL); each episode uses a namespace of its own and deletes it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *episodes < 1 || *from < 0 || *parallel < 1 || *only < -1 || fs.NArg() > 0 || *replicas < 1 ||
		(*spokes != invariants.SpokesSandbox && *spokes != invariants.SpokesInProcess) ||
		(*storeKind != "memory" && *storeKind != "redis") || (*storeKind == "redis") != (*replicas > 1) ||
		(*storeKind == "redis" && *redisURL == "") {
		fmt.Fprintln(errOut, evalUsage)
		fmt.Fprintln(errOut, "(--replicas 2 or more goes with --store redis and a --redis-url)")
		return 2
	}
	o := invariants.Options{Spokes: *spokes, Episodes: *episodes, From: *from, Seed: *seed, Only: *only,
		Stop: ctx.Done(), Parallel: *parallel, Progress: errOut, ProgressEvery: *progress, Replicas: *replicas, RedisURL: *redisURL}
	if *spokes == invariants.SpokesSandbox {
		// Always this binary: the hostile apps are linked only into it,
		// never into the secgpt-spoke binary users run.
		sp, err := sandbox.New(sandbox.Config{Pool: 2 * *parallel, PoolMemory: config.DefaultPoolMemory, IdleSpokeMemory: spoke.SelfIdleMemory, Off: cfg.off, Args: []string{"__spoke", invariants.SpokeArg}, Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelError}))})
		if err != nil {
			fmt.Fprintln(errOut, "secgpt eval:", err)
			return 1
		}
		defer sp.Close()
		o.Spawner = hubspawn.New(sp)
	}
	run, stop := drainOnStop(ctx, errOut)
	defer stop()
	rep, err := invariants.Run(run, o)
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

// evalSandbox is what the evaluations take from the config: whether the
// sandbox is off, and the binary spokes run from ("" for this one).
type evalSandbox struct {
	off bool
	exe string
	// local runs the spokes of localApps (cli localSpokeBinary).
	local     string
	localApps []string
}

// drainOnStop returns the context a long evaluation runs its episodes in.
// The first interrupt (ctx ending) only stops new episodes, so that the
// report of a run stopped by hand covers a whole range of episodes; a
// second interrupt ends the returned context and cuts the running ones.
func drainOnStop(ctx context.Context, errOut io.Writer) (context.Context, func()) {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
		case <-run.Done():
			return
		}
		// Registered only now: the signal that ended ctx is not counted
		// twice.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		fmt.Fprintln(errOut, "secgpt eval: stopping; the running episodes finish (interrupt again to cut them short)")
		select {
		case <-sigs:
			cancel()
		case <-run.Done():
		}
	}()
	return run, cancel
}
