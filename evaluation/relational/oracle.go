package relational

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/respond"
)

// Oracle is a zero-latency model that knows our plan for each of the 21
// questions. It exists to measure overhead, not accuracy: both systems get
// the same tool calls, so what differs is the cost of isolation.
//
//   - As the hub's planner it submits the plan: one step per call, each
//     later step naming the earlier results it needs as <result_N> (a whole
//     argument, so the hub substitutes the typed value). A step fed by a
//     search gets the search's hits, which do not fit its ID argument: the
//     hub then runs it with the spoke's model, and the step's instruction
//     says which hit to take ("the entry named \"alice\"").
//   - In such a spoke it reads the hits, calls the function with the ID of
//     the entry a reader picks (see pick), and the function's result is the
//     step's answer. Steps whose arguments fit run as direct calls, with no
//     model.
//   - As the responder it answers the question from the step results.
//   - In VanillaGPT's single context it makes the calls one per model turn,
//     reading each <result_N> from the tool results before it, as a ReAct
//     agent would, then answers.
//
// The zero value is not usable; call NewOracle. It is safe for concurrent use.
type Oracle struct {
	byQuestion map[string]Query
}

// NewOracle returns the oracle for Queries().
func NewOracle() *Oracle {
	o := &Oracle{byQuestion: map[string]Query{}}
	for _, q := range Queries() {
		o.byQuestion[strings.TrimSpace(q.Question)] = q
	}
	return o
}

// Generate answers one request.
func (o *Oracle) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.HasTool(plan.ToolName) {
		return o.plan(req)
	}
	if respond.Is(req) {
		return o.responder(req), nil
	}
	if t := offline.Task(req); t.Function != "" {
		return o.spoke(req, t), nil
	}
	return o.react(req), nil
}

func (o *Oracle) plan(req *llm.Request) (*llm.Response, error) {
	p := plan.Plan{Steps: []plan.Step{}}
	q, ok := o.byQuestion[strings.TrimSpace(req.LastUser())]
	if !ok {
		p.Answer = "(relational oracle) I have no plan for this question."
	}
	for _, c := range q.Calls {
		st := plan.Step{App: c.Tool, Function: c.Tool, Args: json.RawMessage(c.Args), Instruction: "Call " + c.Tool + " with the arguments."}
		for _, m := range refRE.FindAllStringSubmatch(c.Args, -1) {
			n, _ := strconv.Atoi(m[1])
			if src := q.Calls[n-1]; strings.HasPrefix(src.Tool, "find_") {
				st.Instruction = fmt.Sprintf("Call %s with the id of the entry named %q in the search result <result_%d>.", c.Tool, searchTerm(json.RawMessage(src.Args)), n)
			}
		}
		p.Steps = append(p.Steps, st)
	}
	// Not json.Marshal: it would write "<result_1>" inside args as
	// "\u003cresult_1\u003e", which is valid JSON but not a reference.
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("relational oracle: encode plan: %w", err)
	}
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_plan", Name: plan.ToolName, Arguments: bytes.TrimSpace(raw.Bytes())}}}, nil
}

var (
	refRE   = regexp.MustCompile(`<result_(\d+)>`)
	namedRE = regexp.MustCompile(`the entry named "([^"]*)"`)
)

// searchTerm is a search call's query (its one string argument).
func searchTerm(args json.RawMessage) string {
	var m map[string]any
	_ = json.Unmarshal(args, &m)
	for _, v := range m {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// spoke answers a spoke's model turn for task t: the hub gave it a search's
// hits where an ID is wanted, so it calls its function with the ID of the
// entry its instruction names.
func (o *Oracle) spoke(req *llm.Request, t offline.TaskInfo) *llm.Response {
	if len(offline.ToolResults(req)) > 0 {
		r := offline.ToolResults(req)
		return &llm.Response{Content: r[len(r)-1].Content}
	}
	if !req.HasTool(t.Function) {
		return &llm.Response{Content: "(relational oracle) my task names no function I have: " + t.Function}
	}
	var args map[string]json.RawMessage
	if json.Unmarshal(t.Args, &args) != nil {
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_1", Name: t.Function, Arguments: t.Args}}}
	}
	name := ""
	if m := namedRE.FindStringSubmatch(t.Query); m != nil {
		name = m[1]
	}
	for k, v := range args {
		var hits []hit
		if json.Unmarshal(v, &hits) != nil || len(hits) == 0 {
			continue
		}
		if h, ok := pick(hits, name); ok {
			args[k] = json.RawMessage(strconv.Itoa(h.ID))
		}
	}
	raw, _ := json.Marshal(args)
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_1", Name: t.Function, Arguments: raw}}}
}

// responder answers the question from the step results the hub passed.
func (o *Oracle) responder(req *llm.Request) *llm.Response {
	question, results := respond.Parse(req)
	q, ok := o.byQuestion[strings.TrimSpace(question)]
	if !ok || len(results) == 0 {
		return &llm.Response{Content: "(relational oracle) I have no answer for this question."}
	}
	vals := make([]string, len(q.Calls))
	for _, r := range results {
		if r.Step >= 1 && r.Step <= len(vals) {
			vals[r.Step-1] = value(r.Function, r.Args, r.Result)
		}
	}
	return &llm.Response{Content: q.answer(vals, results[len(results)-1].Result)}
}

// react answers VanillaGPT's single context: the next call of the plan, or
// the answer once every call has a result.
func (o *Oracle) react(req *llm.Request) *llm.Response {
	question := req.LastUser()
	q, ok := o.byQuestion[strings.TrimSpace(question)]
	if !ok {
		return &llm.Response{Content: "(relational oracle) I have no plan for this question."}
	}
	vals, lastRaw := contextValues(req)
	k := len(vals)
	if k < len(q.Calls) {
		c := q.Calls[k]
		// As the hub does: a whole-argument reference takes the value typed.
		typed := make([]plan.Result, len(vals))
		for i, v := range vals {
			typed[i] = plan.Result{JSON: json.RawMessage(v), Text: v}
			if !json.Valid([]byte(v)) {
				typed[i].JSON, _ = json.Marshal(v)
			}
		}
		args, err := plan.SubstituteArgs(json.RawMessage(c.Args), typed)
		if err != nil {
			return &llm.Response{Content: "(relational oracle) bad plan arguments: " + err.Error()}
		}
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: fmt.Sprintf("call_%d", k+1), Name: c.Tool, Arguments: args}}}
	}
	all := make([]string, len(q.Calls))
	copy(all, vals)
	return &llm.Response{Content: q.answer(all, lastRaw)}
}

// contextValues reads the values of the tool calls made since the last
// user message, in order, and the raw text of the last result.
func contextValues(req *llm.Request) (vals []string, lastRaw string) {
	start := 0
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			start = i + 1
			break
		}
	}
	calls := map[string]llm.ToolCall{}
	for _, m := range req.Messages[start:] {
		for _, c := range m.ToolCalls {
			calls[c.ID] = c
		}
		if m.Role == llm.RoleTool {
			c := calls[m.ToolCallID]
			vals = append(vals, value(m.Name, c.Arguments, m.Content))
			lastRaw = m.Content
		}
	}
	return vals, lastRaw
}

// value is what a call contributes to later steps: for a search, the ID of
// the hit a reader picks for the searched name; otherwise the result as is.
func value(tool string, args json.RawMessage, result string) string {
	result = strings.TrimSpace(result)
	if !strings.HasPrefix(tool, "find_") {
		return result
	}
	var hits []hit
	if json.Unmarshal([]byte(result), &hits) != nil {
		return result
	}
	var m map[string]any
	_ = json.Unmarshal(args, &m)
	var q string
	for _, v := range m {
		if s, ok := v.(string); ok {
			q = s
		}
	}
	h, ok := pick(hits, q)
	if !ok {
		return result
	}
	return strconv.Itoa(h.ID)
}

var _ llm.Model = (*Oracle)(nil)
