// Package relational reproduces IsolateGPT's functionality and overhead
// comparison on the public "Tool Usage - Relational Data" suite (21
// questions over 17 tools, each tool its own app): every question runs on
// VanillaGPT and on SecGPT with the same zero-latency oracle model, which
// makes both systems issue the same tool calls, so the difference in
// latency is what isolation costs (spoke processes, ISC, permission checks,
// schema validation). It checks that each system called the expected tools
// and that the reply carries the reference answer; it does not measure a
// model's accuracy, since the plans are ours.
//
// Only cli/ (secgpt eval relational) and tests import it.
package relational

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/secgpt-go/secgpt/apps"
	appsrel "github.com/secgpt-go/secgpt/apps/relational"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vanilla"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Systems.
const (
	SecGPT  = "SecGPT"
	Vanilla = "VanillaGPT"
)

// Grants says how SecGPT's permissions are given.
type Grants string

// Grant modes.
const (
	// GrantsOnce: a scripted user answers every prompt "Allow once", so each
	// prompt's round trip is in the latency (the default).
	GrantsOnce Grants = "once"
	// GrantsAlways: "always" grants for every app and app pair are stored
	// before the run, so no prompt is shown.
	GrantsAlways Grants = "always"
	// GrantsBoth runs SecGPT in both modes in one run, so the figures of
	// both are printed side by side.
	GrantsBoth Grants = "both"
)

// Env is what the runner needs from its host.
type Env struct {
	// Spawner starts SecGPT's spokes.
	Spawner hub.Spawner
	// Runs is how many times each question runs on each system (0 means 1).
	Runs int
	// Grants is the permission mode ("" means GrantsOnce).
	Grants Grants
	// Logger is the hub's and VanillaGPT's logger; nil means slog.Default().
	Logger *slog.Logger
	// ModelLatency and ModelJitter simulate a real model: each model call
	// waits ModelLatency plus a jitter drawn uniformly from
	// [-ModelJitter, +ModelJitter]. The k-th call of a question in a run
	// draws the same jitter on both systems.
	ModelLatency, ModelJitter time.Duration
}

// Row is one question on one system in one run.
type Row struct {
	Query    int    `json:"query"`
	Question string `json:"question"`
	Group    string `json:"group"`
	System   string `json:"system"`
	Grants   Grants `json:"grants,omitempty"`
	Run      int    `json:"run"`
	// LatencyMS is the wall time from the message to the reply.
	LatencyMS float64 `json:"latency_ms"`
	// Trajectory is the tools actually called, in order: for SecGPT the
	// apps whose spokes started, for VanillaGPT the calls in its context.
	Trajectory   []string `json:"trajectory"`
	ToolCalls    int      `json:"tool_calls"`
	Expected     []string `json:"expected_steps"`
	OrderMatters bool     `json:"order_matters"`
	TrajectoryOK bool     `json:"trajectory_ok"`
	// Calls are the executed calls as "tool {args}", read from the tool
	// results in the model contexts.
	Calls []string `json:"calls"`
	// SameCalls: the other system made exactly these calls in this run.
	SameCalls bool   `json:"same_calls"`
	Reference string `json:"reference_answer"`
	AnswerOK  bool   `json:"answer_ok"`
	Prompts   int    `json:"prompts"`
	// ModelCalls is how many model requests the system made (SecGPT: the
	// plan plus each spoke's turns; VanillaGPT: one per call plus the
	// answer).
	ModelCalls int    `json:"model_calls"`
	Reply      string `json:"reply"`
}

// Run runs every question Runs times on both systems, after one untimed
// warm-up question on each (the first spokes and schema compilations are
// not what the comparison is about).
func Run(ctx context.Context, env Env) ([]Row, error) {
	qs := Queries()
	for _, sys := range []string{Vanilla, SecGPT} {
		if _, err := RunOne(ctx, env, qs[0], sys, 0); err != nil {
			return nil, fmt.Errorf("warm-up on %s: %w", sys, err)
		}
	}
	runs := max(env.Runs, 1)
	modes := []Grants{env.Grants}
	switch env.Grants {
	case "":
		modes = []Grants{GrantsOnce}
	case GrantsBoth:
		modes = []Grants{GrantsOnce, GrantsAlways}
	}
	var out []Row
	for run := 1; run <= runs; run++ {
		for _, q := range qs {
			v, err := RunOne(ctx, env, q, Vanilla, run)
			if err != nil {
				return out, fmt.Errorf("query %d on %s: %w", q.N, Vanilla, err)
			}
			out = append(out, v)
			vi := len(out) - 1
			for _, m := range modes {
				e := env
				e.Grants = m
				s, err := RunOne(ctx, e, q, SecGPT, run)
				if err != nil {
					return out, fmt.Errorf("query %d on %s (%s): %w", q.N, SecGPT, m, err)
				}
				s.SameCalls = sameCalls(out[vi].Calls, s.Calls)
				out[vi].SameCalls = s.SameCalls && (m == modes[0] || out[vi].SameCalls)
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// sameCalls compares two systems' calls as multisets: steps of a plan that
// do not depend on each other run concurrently, so their order may differ.
func sameCalls(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// user is the scripted user's ID.
const user ids.UserID = "eval:relational"

// RunOne runs question q on system sys with a fresh in-memory store: the
// store is not what is compared, and bolt's fsync per write would dominate
// a zero-latency model's figures.
func RunOne(ctx context.Context, env Env, q Query, sys string, run int) (Row, error) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	cat, err := apps.NewCatalog(appsrel.IDs())
	if err != nil {
		return Row{}, err
	}
	grants := env.Grants
	if grants == "" {
		grants = GrantsOnce
	}
	tr := &tracer{}
	// Count model calls: with a real model each costs its latency, which
	// the oracle does not have.
	var modelCalls atomic.Int64
	oracle := NewOracle()
	model := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		k := modelCalls.Add(1)
		if err := env.wait(ctx, q.N, run, int(k)); err != nil {
			return nil, err
		}
		resp, err := oracle.Generate(ctx, req)
		if err == nil && sys == SecGPT && offline.Task(req).Function != "" {
			tr.spokeResponse(resp)
		}
		return resp, err
	})
	var as chat.Assistant
	switch sys {
	case Vanilla:
		as, err = vanilla.New(vanilla.Options{Store: st, Catalog: cat, Model: model, Logger: env.Logger, Trace: tr.vanilla})
		grants = ""
	case SecGPT:
		if grants == GrantsAlways {
			if err := grantAll(ctx, st); err != nil {
				return Row{}, err
			}
		}
		as, err = hub.New(hub.Options{Store: st, Catalog: cat, Model: model, Spawner: env.Spawner, Logger: env.Logger, Trace: tr.hub})
	default:
		return Row{}, fmt.Errorf("unknown system %q", sys)
	}
	if err != nil {
		return Row{}, err
	}
	conv := &scripted.Conversation{A: as, User: user, Policy: scripted.Always(chat.AllowOnce)}
	start := time.Now()
	reply := conv.Send(ctx, q.Question)
	lat := time.Since(start)
	traj, calls := tr.result(sys)
	return Row{Query: q.N, Question: q.Question, Group: q.Group(), System: sys, Grants: grants, Run: run,
		LatencyMS: float64(lat.Microseconds()) / 1000, Trajectory: traj, ToolCalls: len(traj),
		Expected: q.Expected, OrderMatters: q.OrderMatters, TrajectoryOK: TrajectoryMatches(traj, q.Expected, q.OrderMatters),
		Calls: calls, Reference: q.Reference, AnswerOK: ContainsAnswer(reply, q.Reference),
		Prompts: len(conv.Prompts()), ModelCalls: int(modelCalls.Load()), Reply: reply}, nil
}

// wait is the simulated model latency of the k-th model call of question
// n in run: ModelLatency plus a jitter that depends only on (n, run, k).
func (env Env) wait(ctx context.Context, n, run, k int) error {
	if env.ModelLatency <= 0 && env.ModelJitter <= 0 {
		return nil
	}
	d := env.ModelLatency
	if env.ModelJitter > 0 {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%d/%d", n, run, k)
		u := float64(h.Sum64()%1_000_001)/1_000_000*2 - 1 // uniform in [-1, 1]
		d += time.Duration(u * float64(env.ModelJitter))
	}
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// grantAll stores "always" grants for running every app and for passing
// results between any two apps. Grants are per function (each app here has
// one, named as the app).
func grantAll(ctx context.Context, st state.Store) error {
	now := time.Now()
	all := appsrel.IDs()
	put := func(k chat.Kind, from, to ids.AppID) error {
		return st.PutGrant(ctx, state.Grant{GrantKey: state.GrantKey{User: user, Kind: k, Requester: from, Target: to, Function: string(to)},
			Decision: chat.AllowAlways, At: now})
	}
	for _, to := range all {
		if err := put(chat.KindExec, "", to); err != nil {
			return fmt.Errorf("store grant: %w", err)
		}
		for _, from := range all {
			if err := put(chat.KindCollab, from, to); err != nil {
				return fmt.Errorf("store grant: %w", err)
			}
		}
	}
	return nil
}

// tracer collects what the systems report.
type tracer struct {
	mu sync.Mutex // guards the fields below
	// started are the apps whose spokes started (SecGPT).
	started []string
	// steps are the plan steps that ran, by step number (SecGPT).
	steps map[int]string
	// spokeCalls are the calls executed in spokes (SecGPT).
	spokeCalls []string
	// last is VanillaGPT's latest request, which holds every call so far.
	last *llm.Request
}

func (t *tracer) hub(e hub.TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Type {
	case vocab.TraceSpokeStart:
		t.started = append(t.started, string(e.App))
	case vocab.TraceStepRun:
		if t.steps == nil {
			t.steps = map[int]string{}
		}
		t.steps[e.Step] = string(e.App)
	case vocab.TraceDirectCall:
		t.spokeCalls = append(t.spokeCalls, e.Detail)
	}
}

// spokeResponse records the calls a spoke's model made (steps whose
// arguments the model filled; the function's result ends such a step).
func (t *tracer) spokeResponse(resp *llm.Response) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range resp.ToolCalls {
		var b bytes.Buffer
		if err := json.Compact(&b, c.Arguments); err != nil {
			b.Reset()
			b.Write(c.Arguments)
		}
		t.spokeCalls = append(t.spokeCalls, c.Name+" "+b.String())
	}
}

func (t *tracer) vanilla(req *llm.Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = req
}

func (t *tracer) result(sys string) (trajectory, calls []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if sys == SecGPT {
		// The plan's steps in plan order: independent steps run
		// concurrently, so the order their spokes start in is not the
		// plan's. A spoke started outside the plan (a call between apps)
		// would show as a difference in length.
		var traj []string
		for _, n := range slices.Sorted(maps.Keys(t.steps)) {
			traj = append(traj, t.steps[n])
		}
		for i := len(t.steps); i < len(t.started); i++ {
			traj = append(traj, "(unplanned) "+t.started[i])
		}
		return traj, slices.Clone(t.spokeCalls)
	}
	if t.last == nil {
		return nil, nil
	}
	calls = executed(t.last)
	for _, c := range calls {
		name, _, _ := strings.Cut(c, " ")
		trajectory = append(trajectory, name)
	}
	return trajectory, calls
}

// executed returns the calls since the last user message that have a
// result, as "tool {compact args}".
func executed(req *llm.Request) []string {
	start := 0
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			start = i + 1
			break
		}
	}
	calls := map[string]llm.ToolCall{}
	var out []string
	for _, m := range req.Messages[start:] {
		for _, c := range m.ToolCalls {
			calls[c.ID] = c
		}
		if m.Role != llm.RoleTool {
			continue
		}
		c, ok := calls[m.ToolCallID]
		if !ok {
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, c.Arguments); err != nil {
			b.Reset()
			b.Write(c.Arguments)
		}
		out = append(out, c.Name+" "+b.String())
	}
	return out
}

// TrajectoryMatches is the suite's trajectory score: the called tools equal
// the expected ones exactly, or after sorting both when order does not
// matter. Repetitions count.
func TrajectoryMatches(got, want []string, orderMatters bool) bool {
	if !orderMatters {
		got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	}
	return slices.Equal(got, want)
}

// ContainsAnswer reports whether reply contains the reference answer as a
// run of whole words, ignoring case and punctuation ("milk, soy" matches
// "Milk, Soy"; "no" does not match "not"). The original suite uses an LLM
// grader instead.
func ContainsAnswer(reply, reference string) bool {
	ref := normalize(reference)
	if ref == "" {
		return false
	}
	return strings.Contains(" "+normalize(reply)+" ", " "+ref+" ")
}

func normalize(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.Join(f, " ")
}

// ParseLatency reads a simulated model latency, "D" or "D±J" (or "D+-J"),
// with Go durations: "500ms±200ms". "" is no latency.
func ParseLatency(s string) (d, j time.Duration, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	ds, js, ok := strings.Cut(strings.ReplaceAll(s, "+-", "±"), "±")
	if d, err = time.ParseDuration(strings.TrimSpace(ds)); err != nil || d < 0 {
		return 0, 0, fmt.Errorf("model latency %q: want D or D±J with Go durations, e.g. 500ms±200ms", s)
	}
	if ok {
		if j, err = time.ParseDuration(strings.TrimSpace(js)); err != nil || j < 0 || j > d {
			return 0, 0, fmt.Errorf("model latency %q: jitter must be a duration between 0 and D", s)
		}
	}
	return d, j, nil
}
