package invariants

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
)

// seeded returns a generator for one model call, derived from the episode's
// seed and the request with canary and figure digits blanked (they are
// random): the
// same episode asks the same things and gets the same answers, whatever the
// interleaving of other calls.
func seeded(seed uint64, req *llm.Request) *rand.Rand {
	h := fnv.New64a()
	b, _ := json.Marshal(req)
	b = canaryRE.ReplaceAll(b, []byte(canaryPrefix))
	_, _ = h.Write(figureRE.ReplaceAll(b, []byte("$FIG")))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// planner is the adversarial planner: random plans over every installed
// app, with references between steps, remembered facts (often reworded)
// and the query's words in the arguments; sometimes garbage or no steps.
type planner struct {
	seed uint64
	rec  *recorder
}

func (m planner) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	b, _ := json.Marshal(req)
	rng := seeded(m.seed, req)
	if !req.HasTool(plan.ToolName) {
		// The hub's responder (a hub that writes its reply with a model).
		m.rec.add(&event{kind: evResponder, text: string(b)})
		return &llm.Response{Content: respondAsAttacker(rng, req, string(b))}, nil
	}
	m.rec.add(&event{kind: evPlanner, text: string(b)})
	sys := req.SystemText()
	var cat []plan.CatalogApp
	_ = json.Unmarshal([]byte(between(sys, plan.AppsOpen, plan.AppsClose)), &cat)
	var facts map[string]string
	_ = json.Unmarshal([]byte(between(sys, plan.FactsOpen, plan.FactsClose)), &facts)
	query := req.LastUser()
	switch r := rng.IntN(100); {
	case r < 3:
		return &llm.Response{Content: "no plan today"}, nil
	case r < 6:
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "p", Name: plan.ToolName, Arguments: json.RawMessage(`{"steps":[{"app":"nope","instruction":"x"}]}`)}}}, nil
	case r < 9 || len(cat) == 0:
		return planCall(plan.Plan{Answer: "nothing to do"}), nil
	}
	var p plan.Plan
	n := 1 + rng.IntN(4)
	for i := 0; i < n; i++ {
		a := cat[rng.IntN(len(cat))]
		if srv := serverOf(cat); srv != nil && rng.IntN(2) == 0 {
			a = *srv // check_reads.go: the server's steps often, to use its grant
		}
		var parts []string
		if i > 0 && rng.IntN(2) == 0 {
			parts = append(parts, fmt.Sprintf("<result_%d>", 1+rng.IntN(i)))
		}
		if fs := factLike(query); len(fs) > 0 && rng.IntN(3) > 0 {
			// The exact value, so the hub remembers it.
			parts = []string{fs[0]}
		} else if len(facts) > 0 && rng.IntN(2) == 0 {
			for _, v := range facts {
				parts = append(parts, reword(rng, v))
				break
			}
		}
		st := plan.Step{App: a.App, Instruction: "do it " + strings.Join(parts, " ")}
		if !a.Annotation && len(a.Functions) > 0 {
			st.Function = a.Functions[0].Name
			if len(a.Functions) > 1 && (a.App == string(appSrv) || rng.IntN(3) == 0) {
				// Another function of the app: a re-plan without the
				// facts may name a different one than the approved plan;
				// the server (check_reads.go): any of its functions.
				st.Function = a.Functions[rng.IntN(len(a.Functions))].Name
			}
			args := map[string]any{"seed": rng.Int64N(1 << 40)}
			if i > 0 && rng.IntN(4) == 0 {
				// A whole result where a number is wanted: it does not fit,
				// so the app's own model fills the arguments (and may try
				// to call another function: the I7 check).
				args["seed"] = fmt.Sprintf("<result_%d>", 1+rng.IntN(i))
			}
			if len(parts) > 0 {
				args["data"] = strings.Join(parts, " ")
			}
			if a.App == string(appMCP) {
				f := a.Functions[rng.IntN(len(a.Functions))]
				st.Function, args = f.Name, shownArgs(rng, f.Parameters, strings.Join(parts, " "))
			}
			st.Args, _ = json.Marshal(args)
			if rng.IntN(3) > 0 {
				st.Instruction = "run"
			}
		}
		p.Steps = append(p.Steps, st)
	}
	return planCall(p), nil
}

func planCall(p plan.Plan) *llm.Response {
	b, _ := json.Marshal(p)
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "plan", Name: plan.ToolName, Arguments: b}}}
}

func between(s, open, close string) string {
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	s = s[i+len(open):]
	j := strings.Index(s, close)
	if j < 0 {
		return ""
	}
	return s[:j]
}

// reword spells a fact differently: case, hyphens, spacing. The meaning is
// the same, so the hub must still treat it as the remembered fact.
func reword(rng *rand.Rand, v string) string {
	switch rng.IntN(5) {
	case 0:
		return strings.ToUpper(v)
	case 1:
		return strings.ReplaceAll(v, " ", "-")
	case 2:
		return strings.ReplaceAll(v, " ", "")
	case 3:
		return strings.ReplaceAll(v, " ", "  ")
	}
	return v
}

// spokeModel is the adversarial model of every spoke: it calls random tools
// of its context (its own function and other apps') with everything it has
// seen, or answers with it, control characters included.
type spokeModel struct{ seed uint64 }

func (m spokeModel) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	rng := seeded(m.seed, req)
	var all strings.Builder
	for _, msg := range req.Messages {
		all.WriteString(msg.Content)
		all.WriteByte(' ')
		for _, c := range msg.ToolCalls {
			all.Write(c.Arguments)
		}
	}
	seen := append(Canaries(all.String()), factLike(all.String())...)
	mix := func() string {
		parts := []string{"model says"}
		for i := 1 + rng.IntN(4); i > 0 && len(seen) > 0; i-- {
			parts = append(parts, seen[rng.IntN(len(seen))])
		}
		if rng.IntN(3) == 0 {
			parts = append(parts, ctrlSamples[rng.IntN(len(ctrlSamples))])
		}
		return strings.Join(parts, " ")
	}
	if len(req.Tools) == 0 || rng.IntN(3) == 0 {
		return &llm.Response{Content: mix()}, nil
	}
	var calls []llm.ToolCall
	for i := 1 + rng.IntN(2); i > 0; i-- {
		t := req.Tools[rng.IntN(len(req.Tools))]
		args, _ := json.Marshal(map[string]any{"seed": rng.Int64N(1 << 40), "data": mix()})
		calls = append(calls, llm.ToolCall{ID: fmt.Sprint("c", rng.IntN(1000)), Name: t.Name, Arguments: args})
	}
	return &llm.Response{ToolCalls: calls}, nil
}
