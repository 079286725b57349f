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
)

// Oracle is a zero-latency model that knows our plan for each of the 21
// questions. It exists to measure overhead, not accuracy: both systems get
// the same tool calls, so what differs is the cost of isolation.
//
//   - As the hub's planner it submits the plan: one step per call, each
//     later step naming the earlier results it needs as <result_N>; the last
//     step's instruction carries the question and every earlier result, so
//     that the spoke that answers has what it needs (the hub composes the
//     reply from the spokes' answers and does not re-read them with a model).
//   - In a spoke it calls the function it was given with the arguments it
//     was given, then answers with the call's value, or, in the last step,
//     with the answer to the question.
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
	if t := offline.Task(req); t.Function != "" {
		return o.spoke(req, t), nil
	}
	return o.react(req), nil
}

const questionPrefix = "Question: "

func (o *Oracle) plan(req *llm.Request) (*llm.Response, error) {
	p := plan.Plan{Steps: []plan.Step{}}
	q, ok := o.byQuestion[strings.TrimSpace(req.LastUser())]
	if !ok {
		p.Answer = "(relational oracle) I have no plan for this question."
	}
	last := len(q.Calls) - 1
	for i, c := range q.Calls {
		st := plan.Step{App: c.Tool, Function: c.Tool, Args: json.RawMessage(c.Args),
			Instruction: "Call " + c.Tool + " with the arguments and answer with its result only (for a search, the ID of the matching entry)."}
		if i == last {
			var b strings.Builder
			b.WriteString("Call " + c.Tool + " with the arguments, then answer the user's question from its result and the earlier results.\n")
			b.WriteString(questionPrefix + q.Question)
			for j := 1; j <= last; j++ {
				fmt.Fprintf(&b, "\nResult %d: <result_%d>", j, j)
			}
			st.Instruction = b.String()
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

var resultLineRE = regexp.MustCompile(`(?m)^Result (\d+): (.*)$`)

// spoke answers a spoke's agent loop for task t.
func (o *Oracle) spoke(req *llm.Request, t offline.TaskInfo) *llm.Response {
	results := offline.ToolResults(req)
	if len(results) == 0 {
		if !req.HasTool(t.Function) {
			return &llm.Response{Content: "(relational oracle) my task names no function I have: " + t.Function}
		}
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_1", Name: t.Function, Arguments: t.Args}}}
	}
	own := results[len(results)-1].Content
	val := value(t.Function, t.Args, own)
	i := strings.Index(t.Query, questionPrefix)
	if i < 0 {
		return &llm.Response{Content: val}
	}
	question := t.Query[i+len(questionPrefix):]
	if j := strings.IndexByte(question, '\n'); j >= 0 {
		question = question[:j]
	}
	q, ok := o.byQuestion[strings.TrimSpace(question)]
	if !ok {
		return &llm.Response{Content: val}
	}
	vals := make([]string, len(q.Calls))
	for _, m := range resultLineRE.FindAllStringSubmatch(t.Query, -1) {
		n, err := strconv.Atoi(m[1])
		if err == nil && n >= 1 && n < len(vals) {
			vals[n-1] = strings.TrimSpace(m[2])
		}
	}
	vals[len(vals)-1] = val
	return &llm.Response{Content: q.answer(vals, own)}
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
		args := plan.Substitute(c.Args, vals, true)
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: fmt.Sprintf("call_%d", k+1), Name: c.Tool, Arguments: json.RawMessage(args)}}}
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
