// Package plan defines the hub's plan: the JSON Schema the planner model must
// answer with (through a forced tool call), the catalog of apps the planner
// is shown, and the checks a plan must pass before anything runs.
//
// Imported by core/hub, core/respond, apps/mcp (its tools' aliases), the
// models that plan (core/llm/offline, evaluation/adversary), the evaluation
// (evaluation/invariants, evaluation/relational) and tests.
package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/core/schema"
)

// ToolName is the tool the planner model must call with its plan.
const ToolName = "submit_plan"

// Markers around the JSON blocks of the planner's system prompt.
const (
	AppsOpen   = "<apps>"
	AppsClose  = "</apps>"
	FactsOpen  = "<facts>"
	FactsClose = "</facts>"
)

// MaxSteps bounds the length of a plan.
const MaxSteps = 12

// Schema is the JSON Schema of a plan (the submit_plan tool's parameters).
const Schema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["steps"],
  "properties": {
    "steps": {
      "type": "array",
      "maxItems": 12,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["app", "instruction"],
        "properties": {
          "app": {"type": "string", "minLength": 1, "maxLength": 64},
          "function": {"type": "string", "maxLength": 64},
          "instruction": {"type": "string", "maxLength": 4000},
          "args": {"type": "object"},
          "independent": {"type": "boolean"}
        }
      }
    },
    "answer": {"type": "string", "maxLength": 8000}
  }
}`

// Plan is a validated plan.
type Plan struct {
	Steps []Step `json:"steps"`
	// Answer is the hub's own reply when no app is needed.
	Answer string `json:"answer,omitempty"`
}

// Step runs one app. Args may contain "<result_n>" (1-based) references to
// earlier steps' results.
type Step struct {
	App         string          `json:"app"`
	Function    string          `json:"function,omitempty"`
	Instruction string          `json:"instruction"`
	Args        json.RawMessage `json:"args,omitempty"`
	// Independent: the step does not depend on the earlier steps that
	// change the same app's state, so it need not wait for them
	// (GroupsOrdered).
	Independent bool `json:"independent,omitempty"`
}

// CatalogApp is how one app is shown to the planner: operator-trusted
// metadata only (see Catalog). Description is never filled by the hub; it
// stays for models and tests that build catalogs of their own.
type CatalogApp struct {
	App         string            `json:"app"`
	Description string            `json:"description,omitempty"`
	Annotation  bool              `json:"annotation,omitempty"`
	Functions   []CatalogFunction `json:"functions,omitempty"`
}

// CatalogFunction is one functionality shown to the planner.
type CatalogFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Effect      string          `json:"effect,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// compiled is compiled on first use, not at start: every spoke process
// links this package and never plans.
var compiled = sync.OnceValue(func() *schema.Schema { return schema.MustCompile(Schema) })

// Compiled returns the compiled plan schema.
func Compiled() *schema.Schema { return compiled() }

// Decode validates raw against the plan schema and decodes it.
func Decode(raw json.RawMessage) (*Plan, error) {
	if err := compiled().Validate(raw); err != nil {
		return nil, fmt.Errorf("plan does not match its schema: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	for i := range p.Steps {
		if len(p.Steps[i].Args) == 0 {
			continue
		}
		args, err := canonical(p.Steps[i].Args)
		if err != nil {
			return nil, fmt.Errorf("step %d arguments: %w", i+1, err)
		}
		p.Steps[i].Args = args
	}
	return &p, nil
}

// canonical re-encodes a JSON value without escaping <, > and &, so a
// reference a model wrote as "\u003cresult_1\u003e" is seen and substituted
// like "<result_1>".
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(b.Bytes(), "\n")), nil
}

var refRE = regexp.MustCompile(`<result_(\d+)>`)

// Refs returns the 1-based step numbers step i (0-based) refers to.
func (s Step) Refs() []int {
	var out []int
	seen := map[int]bool{}
	for _, m := range refRE.FindAllStringSubmatch(string(s.Args)+" "+s.Instruction, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// CheckRefs verifies every reference points to an earlier step.
func (p *Plan) CheckRefs() error {
	for i, s := range p.Steps {
		for _, n := range s.Refs() {
			if n < 1 || n > i {
				return fmt.Errorf("step %d refers to <result_%d>, which is not an earlier step", i+1, n)
			}
		}
	}
	return nil
}

// Groups partitions the steps into groups connected by references; steps in
// a group run in order, groups run concurrently. Indices are 0-based.
func (p *Plan) Groups() [][]int { return p.GroupsOrdered(nil) }

// GroupsOrdered is Groups where, besides references, a step j joins the
// group of each earlier step i with shared(i, j) (both change the same
// state) unless step j is marked Independent: such steps run in the plan's
// order, never concurrently.
func (p *Plan) GroupsOrdered(shared func(i, j int) bool) [][]int {
	parent := make([]int, len(p.Steps))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	join := func(i, j int) {
		if a, b := find(i), find(j); a != b {
			parent[a] = b
		}
	}
	for i, s := range p.Steps {
		for _, n := range s.Refs() {
			if n >= 1 && n <= len(p.Steps) {
				join(i, n-1)
			}
		}
		for j := 0; shared != nil && !s.Independent && j < i; j++ {
			if shared(j, i) {
				join(i, j)
			}
		}
	}
	var groups [][]int
	index := map[int]int{}
	for i := range p.Steps {
		r := find(i)
		g, ok := index[r]
		if !ok {
			g = len(groups)
			index[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// Substitute replaces <result_n> in s with results[n-1], JSON-escaped for
// use inside a JSON string.
func Substitute(s string, results []string, inJSON bool) string {
	return refRE.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(refRE.FindStringSubmatch(m)[1])
		if n < 1 || n > len(results) {
			return m
		}
		v := results[n-1]
		if inJSON {
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return v
	})
}

// ExtractBlock returns the text between open and close in s, or "".
func ExtractBlock(s, open, close string) string {
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, close)
	if j < 0 {
		return ""
	}
	return rest[:j]
}
