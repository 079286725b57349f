package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/public"
	"github.com/secgpt-go/secgpt/core/schema"
)

// Planner asks the hub's model for a plan and checks it.
type Planner struct {
	Model llm.Model
	// Compile compiles (and may cache) a request schema.
	Compile func(json.RawMessage) (*schema.Schema, error)
	Logger  *slog.Logger
}

// Make asks for a plan for query over the candidate apps, with one retry
// when the answer is not a valid plan. facts are the user's remembered
// facts; the planner may use them to fill arguments, and the hub asks
// before any of them reaches an app.
func (pl *Planner) Make(ctx context.Context, query string, cands []apps.App, facts map[string]string) (*Plan, error) {
	req, err := Request(query, Catalog(cands), facts)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		resp, err := pl.Model.Generate(ctx, req)
		if err != nil {
			lastErr = public.Errorf(err, "the model could not be reached")
			if ctx.Err() != nil {
				break
			}
			continue
		}
		p, err := Check(resp, cands, pl.Compile)
		if err == nil {
			return p, nil
		}
		lastErr = public.Errorf(err, "the model's answer was not a valid plan")
		if pl.Logger != nil {
			pl.Logger.Warn("invalid plan", "attempt", attempt+1, "err", err)
		}
		// Tell the model what was wrong, once.
		c := *req
		c.Messages = append(append([]llm.Message(nil), req.Messages...), llm.Message{Role: llm.RoleSystem,
			Content: "Your previous answer was not a valid plan (" + truncate(err.Error(), 500) + "). Call " + ToolName + " once with a plan that matches its schema."})
		req = &c
	}
	return nil, lastErr
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Catalog is the planner's view of the candidate apps: operator-trusted
// metadata only — app ids, function names, declared effects and argument
// types. App, function and schema descriptions are third-party text; they
// are left out, so they cannot add steps, apps or flows to a plan. They
// reach only the app's own spoke. An Aliased app's function names,
// argument names and enum values are third-party text too: it is shown
// through View, under aliases.
func Catalog(cands []apps.App) []CatalogApp {
	cat := make([]CatalogApp, 0, len(cands))
	for _, a := range cands {
		sp := a.Spec()
		ca := CatalogApp{App: string(sp.ID), Annotation: len(sp.Functions) == 0}
		for _, v := range View(a) {
			ca.Functions = append(ca.Functions, CatalogFunction{Name: v.Alias, Effect: string(v.Effect), Parameters: v.Parameters})
		}
		cat = append(cat, ca)
	}
	return cat
}

// textKeys are the JSON Schema keywords that carry prose rather than types.
var textKeys = map[string]bool{"description": true, "title": true, "examples": true, "$comment": true, "default": true,
	"markdownDescription": true, "deprecated": true, "readOnly": true, "writeOnly": true}

// TypesOnly returns a schema with every prose keyword removed, at every
// depth (property names, types, formats, bounds and enums stay).
func TypesOnly(raw json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return json.RawMessage(`{"type":"object"}`)
	}
	out, err := json.Marshal(strip(v, false))
	if err != nil {
		return json.RawMessage(`{"type":"object"}`)
	}
	return out
}

// strip removes prose keywords; inProps is set for a "properties" map,
// whose keys are argument names, not keywords.
func strip(v any, inProps bool) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			if !inProps && textKeys[k] {
				continue
			}
			m[k] = strip(e, !inProps && (k == "properties" || k == "patternProperties" || k == "$defs" || k == "definitions"))
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = strip(e, false)
		}
		return out
	}
	return v
}

const plannerPrompt = `You are the planner of SecGPT, a personal assistant that uses apps. Each app runs isolated; the user approves the whole plan before anything runs.
Make a plan for the user's message by calling the tool ` + ToolName + ` exactly once. Each step names one app and, for apps with functions, one of its functions with arguments matching that function's parameters. A step may use an earlier step's result by writing <result_N> (N is the 1-based step number): as a whole argument value it is replaced by that result's JSON value; inside a longer text, by its text. Steps that do not depend on each other run concurrently, except that steps changing the same app's state run in plan order; mark such a step "independent": true only when it does not depend on the earlier ones. Annotation apps have no functions: give them an instruction only. If no app is needed, return no steps and put your reply in "answer".
Each function's effect says what it does: read, write (changes the user's own data), send (data leaves to a third party), destroy. Use send and destroy functions only when the user asks for that.
The catalog lists app ids, function names, effects and argument types only.
The installed apps, as JSON:
` + AppsOpen + `%s` + AppsClose + `
Facts the user told the assistant earlier (use them only if the request needs them), as JSON:
` + FactsOpen + `%s` + FactsClose

// Request builds the planner's model request.
func Request(query string, cat []CatalogApp, facts map[string]string) (*llm.Request, error) {
	cj, err := json.Marshal(cat)
	if err != nil {
		return nil, fmt.Errorf("encode app catalog: %w", err)
	}
	if facts == nil {
		facts = map[string]string{}
	}
	fj, err := json.Marshal(facts)
	if err != nil {
		return nil, fmt.Errorf("encode facts: %w", err)
	}
	return &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: fmt.Sprintf(plannerPrompt, cj, fj)},
			{Role: llm.RoleUser, Content: query},
		},
		Tools:      []llm.Tool{{Name: ToolName, Description: "Submit the plan for the user's message.", Parameters: json.RawMessage(Schema)}},
		ToolChoice: ToolName,
	}, nil
}

// Check validates the model's answer: one submit_plan call whose arguments
// match the plan schema, name candidate apps and their functions, refer
// only to earlier steps, and give each function valid arguments (a step
// with references is checked again after substitution, when it runs).
func Check(resp *llm.Response, cands []apps.App, compile func(json.RawMessage) (*schema.Schema, error)) (*Plan, error) {
	var call *llm.ToolCall
	for i := range resp.ToolCalls {
		if resp.ToolCalls[i].Name == ToolName {
			call = &resp.ToolCalls[i]
			break
		}
	}
	if call == nil {
		return nil, fmt.Errorf("no %s call in the answer", ToolName)
	}
	p, err := Decode(call.Arguments)
	if err != nil {
		return nil, err
	}
	if err := p.CheckRefs(); err != nil {
		return nil, err
	}
	allowed := map[ids.AppID]apps.App{}
	for _, a := range cands {
		allowed[a.Spec().ID] = a
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		a, ok := allowed[ids.AppID(s.App)]
		if !ok {
			return nil, fmt.Errorf("step %d names app %q, which is not an installed candidate", i+1, s.App)
		}
		sp := a.Spec()
		if len(sp.Functions) == 0 {
			if s.Function != "" {
				return nil, fmt.Errorf("step %d: annotation app %s has no function %q", i+1, s.App, s.Function)
			}
			s.Args = nil
			continue
		}
		v, ok := stepFunction(a, s.Function)
		if !ok {
			return nil, fmt.Errorf("step %d: app %s has no function %q", i+1, s.App, s.Function)
		}
		f, _ := sp.Function(v.Real)
		if len(s.Args) == 0 {
			s.Args = json.RawMessage(`{}`)
		}
		refs := len(s.Refs()) > 0
		if compile == nil && !refs {
			return nil, errors.New("plan check: no schema compiler")
		}
		if v.aliased && !refs {
			// Checked first as shown, so that what the planner is told
			// names only what it was shown. Arguments in the function's
			// own names (the user's explicit "server__tool {json}", which
			// the offline model passes on as typed) fit the app's own
			// schema instead; the prompt shows them either way, and the
			// own schema's message is never returned.
			if err := validate(compile, v.Parameters, s.Args); err != nil {
				if validate(compile, f.Request, s.Args) != nil {
					return nil, fmt.Errorf("step %d: arguments for %s: %w", i+1, v.Alias, err)
				}
				v.aliased = false
			}
		}
		real, err := v.ToReal(s.Args)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		s.Function, s.Args = v.Real, real
		if refs {
			continue
		}
		if err := validate(compile, f.Request, s.Args); err != nil {
			if _, untrusted := a.(Aliased); untrusted {
				// The validator's message quotes the server's schema,
				// whichever name the step used.
				return nil, fmt.Errorf("step %d: arguments for %s do not meet a constraint of the app's own schema", i+1, v.Alias)
			}
			return nil, fmt.Errorf("step %d: arguments for %s: %w", i+1, f.Name, err)
		}
	}
	return p, nil
}

// stepFunction is the function a step names; a step of an app with one
// function may leave it out.
func stepFunction(a apps.App, name string) (FunctionView, bool) {
	if name == "" {
		if vs := View(a); len(vs) == 1 {
			return vs[0], true
		}
	}
	return Lookup(a, name)
}

func validate(compile func(json.RawMessage) (*schema.Schema, error), sch, args json.RawMessage) error {
	sc, err := compile(sch)
	if err != nil {
		return err
	}
	return sc.Validate(args)
}
