// Package offline is the deterministic demo model built into the binary, so
// that SecGPT runs without a server or an API key. It is not a language
// model: it picks apps by name and keyword, fills arguments from the query
// with simple patterns, calls the tools it is given, and answers with the
// tools' results. Tests and the evaluation build on it.
package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/respond"
	"github.com/secgpt-go/secgpt/core/schema"
)

// Name is how the model is described in the start-up banner.
const Name = "offline demo model (deterministic, no network; picks apps by keyword)"

// Model is the demo model. The zero value is ready to use.
type Model struct {
	// Pace is the wait between the pieces of a streamed answer, so that
	// the demo shows a reply being written as a real model's would be; 0
	// means DefaultPace, negative means no wait.
	Pace time.Duration
}

// DefaultPace is Model.Pace when it is zero.
const DefaultPace = 40 * time.Millisecond

// streamWords is how many words each streamed piece holds.
const streamWords = 3

// GenerateStream answers like Generate and hands the answer's text to
// onText a few words at a time, Pace apart. The pieces joined are exactly
// the answer's Content. A request with tools (a plan, an agent step) is
// answered whole, like Generate.
func (m Model) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	resp, err := m.Generate(ctx, req)
	if err != nil || len(req.Tools) > 0 || resp.Content == "" {
		return resp, err
	}
	pace := m.Pace
	if pace == 0 {
		pace = DefaultPace
	}
	for i, p := range Pieces(resp.Content, streamWords) {
		if i > 0 && pace > 0 {
			t := time.NewTimer(pace)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		if err := onText(ctx, p); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Pieces cuts s into pieces of n words each (a word with the spaces and
// newlines after it), which joined are s again.
func Pieces(s string, n int) []string {
	if n < 1 {
		n = 1
	}
	var out []string
	start, words := 0, 0
	inWord := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			// A word starts: it opens the next piece when this one is full.
			if words == n {
				out = append(out, s[start:i])
				start, words = i, 0
			}
			words++
		}
		inWord = !space
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Generate answers one request.
func (Model) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.HasTool(plan.ToolName) {
		return Plan(req, nil)
	}
	if respond.Is(req) {
		return &llm.Response{Content: Respond(req)}, nil
	}
	return Agent(req), nil
}

// Respond answers a responder request: each app's result under its name
// (a single result as it is). It has no language of its own to write with.
func Respond(req *llm.Request) string {
	_, results := respond.Parse(req)
	if len(results) == 1 {
		return resultText(results[0].Result)
	}
	var parts []string
	for _, r := range results {
		parts = append(parts, "**"+r.App+"**: "+resultText(r.Result))
	}
	return strings.Join(parts, "\n\n")
}

// Plan answers a planner request with a submit_plan call. extra, if not nil,
// may edit the plan before it is returned (the adversary uses it).
func Plan(req *llm.Request, extra func(p *plan.Plan, cat []plan.CatalogApp, facts map[string]string)) (*llm.Response, error) {
	sys := req.SystemText()
	var cat []plan.CatalogApp
	if b := plan.ExtractBlock(sys, plan.AppsOpen, plan.AppsClose); b != "" {
		if err := json.Unmarshal([]byte(b), &cat); err != nil {
			return nil, fmt.Errorf("offline model: read app catalog: %w", err)
		}
	}
	facts := map[string]string{}
	if b := plan.ExtractBlock(sys, plan.FactsOpen, plan.FactsClose); strings.TrimSpace(b) != "" {
		_ = json.Unmarshal([]byte(b), &facts)
	}
	query := req.LastUser()
	p := &plan.Plan{Steps: []plan.Step{}}
	if a, f, args, ok, err := ExplicitCall(cat, query); ok {
		// "server__tool {json}": the user named the function and wrote
		// its arguments; nothing is guessed.
		if err != nil {
			p.Answer = err.Error() + "."
		} else {
			p.Steps = append(p.Steps, plan.Step{App: a.App, Function: f.Name, Instruction: "Run " + f.Name + " with the given arguments.", Args: args})
		}
		if extra != nil {
			extra(p, cat, facts)
		}
		raw, _ := json.Marshal(p)
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_plan", Name: plan.ToolName, Arguments: raw}}}, nil
	}
	var needID []missingID
	hint := ""
	for _, a := range SelectApps(cat, query) {
		st := plan.Step{App: a.App, Instruction: query}
		if len(a.Functions) > 0 {
			f, _ := PickFunction(a, query)
			st.Function = f.Name
			st.Instruction = fmt.Sprintf("Use %s for: %s", f.Name, query)
			// A namespaced app (an MCP server) has general tools: its
			// name is not part of what a function is asked, and what the
			// patterns leave empty is filled from the rest of the message
			// (built-in apps keep the patterns alone).
			namespaced := shortName(a.App) != ""
			q := query
			if namespaced {
				q = withoutAppName(query, a.App)
			}
			filled := FillArgs(f.Parameters, q, facts)
			if namespaced {
				fillRest(f.Parameters, filled, restText(q, functionWords(a.App, f.Name)))
			}
			// The adversary (extra != nil) edits whatever plan it gets;
			// its plans stay as they were.
			if prop := unfilledID(f.Parameters, filled); prop != "" && extra == nil {
				needID = append(needID, missingID{app: a.App, prop: prop})
			}
			args, _ := json.Marshal(filled)
			st.Args = args
			if err := argsValid(f.Parameters, args); err != nil && namespaced && hint == "" && extra == nil {
				hint = explicitHint(a.App, f)
			}
		}
		p.Steps = append(p.Steps, st)
	}
	switch {
	case len(needID) > 0:
		// A step without its ID would fail the plan check and the user
		// would read "could not make a plan"; say what the demo needs.
		p.Steps = []plan.Step{}
		p.Answer = needIDAnswer(query, cat, needID[0])
	case hint != "":
		// Arguments that do not fit the function would fail the same
		// way; say how to write them instead.
		p.Steps = []plan.Step{}
		p.Answer = hint
	}
	if len(p.Steps) == 0 && p.Answer == "" {
		p.Answer = noAppAnswer(query, cat)
	}
	if extra != nil {
		extra(p, cat, facts)
	}
	raw, _ := json.Marshal(p)
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_plan", Name: plan.ToolName, Arguments: raw}}}, nil
}

// missingID is a required ID argument the query did not give.
type missingID struct {
	app  string
	prop string
}

// unfilledID returns the first required "…_id" property (in name order)
// that FillArgs left empty and whose schema refuses an empty string: an ID
// the demo model cannot know, since it only copies values from the query.
func unfilledID(schemaJSON json.RawMessage, filled map[string]any) string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	if json.Unmarshal(schemaJSON, &s) != nil {
		return ""
	}
	req := append([]string(nil), s.Required...)
	sort.Strings(req)
	for _, n := range req {
		if n != "id" && !strings.HasSuffix(n, "_id") {
			continue
		}
		if v, ok := filled[n]; ok && v != "" {
			continue
		}
		ps, err := schema.Compile(s.Properties[n])
		if err != nil || ps.Validate(json.RawMessage(`""`)) != nil {
			return n
		}
	}
	return ""
}

// needIDAnswer says plainly that the demo cannot turn a name into the ID
// m.app needs, and offers two requests that work here: the catalog's
// lookup function for that kind of ID, then the app with an ID.
func needIDAnswer(query string, cat []plan.CatalogApp, m missingID) string {
	label := strings.ReplaceAll(m.prop, "_", " ")
	var b strings.Builder
	fmt.Fprintf(&b, "The offline demo model cannot look up the %s that %s needs: it only copies values from your message, and cannot turn a name into an ID. ", label, m.app)
	var tries []string
	if l, arg := lookupFor(cat, strings.TrimSuffix(m.prop, "_id")); l != "" {
		tries = append(tries, fmt.Sprintf("%q (lists what the demo knows, with IDs)", strings.TrimSpace(l+" "+arg+" "+lastName(query))))
	}
	tries = append(tries, fmt.Sprintf("%q", fmt.Sprintf("%s %s 1", m.app, label)))
	b.WriteString("Try " + strings.Join(tries, ", then ") + ".")
	return b.String()
}

// lookupFor finds a catalog function that looks things of a kind up by
// name ("find_locations_by_name" for "location") and the label of its
// first required argument.
func lookupFor(cat []plan.CatalogApp, kind string) (fn, arg string) {
	if kind == "" {
		return "", ""
	}
	for _, a := range cat {
		for _, f := range a.Functions {
			if !strings.HasPrefix(f.Name, "find_") || !strings.Contains(f.Name, kind) || !strings.HasSuffix(f.Name, "_by_name") {
				continue
			}
			var s struct {
				Required []string `json:"required"`
			}
			_ = json.Unmarshal(f.Parameters, &s)
			if len(s.Required) > 0 {
				arg = strings.ReplaceAll(s.Required[0], "_", " ")
			}
			return f.Name, arg
		}
	}
	return "", ""
}

// lastName is the query's last capitalised word after its first, e.g.
// "Paris" in "What's the weather in Paris?", or "".
func lastName(query string) string {
	fs := strings.Fields(query)
	for i := len(fs) - 1; i > 0; i-- {
		w := strings.Trim(fs[i], ".,!?;:'\"")
		if w != "" && w[0] >= 'A' && w[0] <= 'Z' {
			return w
		}
	}
	return ""
}

func noAppAnswer(query string, cat []plan.CatalogApp) string {
	var names []string
	for _, a := range cat {
		names = append(names, a.App)
	}
	if len(names) == 0 {
		return "No apps are installed, and the offline demo model can only route requests to apps."
	}
	return fmt.Sprintf("I found no installed app for %q. The offline demo model picks apps by name or keyword; installed: %s.", query, strings.Join(names, ", "))
}

// Agent answers an agent-loop request (a spoke, or VanillaGPT's single
// context): call the tool the task names, or the tools that match the query,
// then answer from their results.
func Agent(req *llm.Request) *llm.Response {
	results := ToolResults(req)
	if len(results) > 0 {
		var parts []string
		for _, r := range results {
			if len(results) == 1 {
				parts = append(parts, r.Content)
			} else {
				parts = append(parts, r.Name+": "+r.Content)
			}
		}
		return &llm.Response{Content: strings.Join(parts, "\n")}
	}
	if calls := FirstCalls(req); len(calls) > 0 {
		return &llm.Response{ToolCalls: calls}
	}
	return &llm.Response{Content: "(offline demo model) I can only run apps; I have no answer of my own to: " + Task(req).Query}
}

// TaskInfo is what a spoke's user message says.
type TaskInfo struct {
	Query    string
	Function string
	Args     json.RawMessage
}

// Task reads the task from the last user message: the hub's spoke prompt
// has "Function: name" and "Arguments: {json}" lines.
func Task(req *llm.Request) TaskInfo {
	u := req.LastUser()
	var t TaskInfo
	var rest []string
	for _, line := range strings.Split(u, "\n") {
		switch {
		case strings.HasPrefix(line, "Function: "):
			t.Function = strings.TrimSpace(strings.TrimPrefix(line, "Function: "))
		case strings.HasPrefix(line, "Arguments: "):
			t.Args = json.RawMessage(strings.TrimSpace(strings.TrimPrefix(line, "Arguments: ")))
		case strings.HasPrefix(line, "Task: "):
			rest = append(rest, strings.TrimPrefix(line, "Task: "))
		default:
			rest = append(rest, line)
		}
	}
	t.Query = strings.TrimSpace(strings.Join(rest, "\n"))
	return t
}

// FirstCalls returns the tool calls the demo model makes before it has any
// result: the task's function with its arguments, or (no task) every tool
// whose name or description matches the query.
func FirstCalls(req *llm.Request) []llm.ToolCall {
	t := Task(req)
	if t.Function != "" {
		for _, tl := range req.Tools {
			if tl.Name == t.Function {
				args := t.Args
				if len(args) == 0 || !json.Valid(args) {
					args, _ = json.Marshal(FillArgs(tl.Parameters, t.Query, nil))
				}
				return []llm.ToolCall{{ID: "call_1", Name: tl.Name, Arguments: args}}
			}
		}
	}
	var cat []plan.CatalogApp
	for _, tl := range req.Tools {
		cat = append(cat, plan.CatalogApp{App: tl.Name, Description: tl.Description,
			Functions: []plan.CatalogFunction{{Name: tl.Name, Description: tl.Description, Parameters: tl.Parameters}}})
	}
	var calls []llm.ToolCall
	for i, a := range SelectApps(cat, t.Query) {
		args, _ := json.Marshal(FillArgs(a.Functions[0].Parameters, t.Query, nil))
		calls = append(calls, llm.ToolCall{ID: fmt.Sprintf("call_%d", i+1), Name: a.App, Arguments: args})
	}
	return calls
}

// Result is a tool result seen in a request.
type Result struct {
	Name    string
	Content string
}

// ToolResults returns the tool messages after the last user message.
func ToolResults(req *llm.Request) []Result {
	var out []Result
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role == llm.RoleUser {
			break
		}
		if m.Role == llm.RoleTool {
			out = append([]Result{{Name: m.Name, Content: m.Content}}, out...)
		}
	}
	return out
}

// CalledTools returns the names of tools called since the last user message.
func CalledTools(req *llm.Request) map[string]bool {
	out := map[string]bool{}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role == llm.RoleUser {
			break
		}
		for _, c := range m.ToolCalls {
			out[c.Name] = true
		}
	}
	return out
}

// Compiled on first use, not at start: every spoke process links this
// package (a spoke is this binary re-executed) and most never use them.
var wordRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[a-z0-9]+`) })

var stop = map[string]bool{"the": true, "and": true, "for": true, "with": true, "from": true, "that": true, "this": true,
	"use": true, "both": true, "your": true, "you": true, "are": true, "can": true, "app": true, "apps": true, "tool": true,
	"have": true, "will": true, "what": true, "into": true, "about": true, "their": true, "them": true, "its": true,
	"all": true, "any": true, "also": true, "user": true, "users": true, "based": true, "help": true, "helps": true,
	"designed": true, "information": true, "message": true, "string": true, "given": true, "like": true, "such": true}

// synonyms map query words to words that app names and descriptions use.
var synonyms = map[string]string{
	"email": "gmail", "emails": "gmail", "mail": "gmail", "inbox": "gmail", "mailbox": "gmail",
	"newest": "search", "latest": "search", "summarize": "search", "summarise": "search", "find": "search", "read": "search", "recent": "search",
	"fare": "ride", "fares": "ride", "taxi": "ride", "cab": "ride", "trip": "ride",
	"flight": "travel", "fly": "travel", "trip's": "travel", "airline": "travel", "holiday": "travel",
	"appointment": "health", "doctor": "health", "clinic": "health",
	"pain": "symptom", "fatigue": "symptom", "symptoms": "symptom", "medical": "symptom", "fever": "symptom", "ache": "symptom", "sick": "symptom",
	"story": "creative", "poem": "creative", "novel": "creative", "fiction": "creative",
	"document": "drive", "documents": "drive", "files": "drive", "file": "drive",
	"delete": "delete", "remove": "delete", "send": "send",
}

func tokens(s string) []string { return tokenize(s, true) }

// tokenize splits s into words; with expand, each word's synonym follows
// it. App and function names are not expanded: a synonym says what a
// request means, not what an app is called.
func tokenize(s string, expand bool) []string {
	var out []string
	for _, w := range wordRE().FindAllString(strings.ToLower(strings.ReplaceAll(s, "_", " ")), -1) {
		if len(w) < 3 || stop[w] {
			continue
		}
		out = append(out, w)
		if syn, ok := synonyms[w]; expand && ok && syn != w {
			out = append(out, syn)
		}
	}
	return out
}

// SelectApps picks the catalog apps the query names (by name, with or
// without underscores), or else the ones whose names and descriptions share
// the most words with it. It returns them in catalog order.
func SelectApps(cat []plan.CatalogApp, query string) []plan.CatalogApp {
	q := strings.ToLower(query)
	var named []plan.CatalogApp
	for _, a := range cat {
		n := strings.ToLower(a.App)
		if strings.Contains(q, n) || strings.Contains(q, strings.ReplaceAll(n, "_", " ")) {
			named = append(named, a)
		} else if s := shortName(n); s != "" && (indexWord(q, s) >= 0 || indexWord(q, strings.ReplaceAll(s, "_", " ")) >= 0) {
			// "memory" names the app mcp.memory.
			named = append(named, a)
		}
	}
	if len(named) > 0 {
		return named
	}
	qt := map[string]bool{}
	for _, w := range tokens(query) {
		qt[w] = true
	}
	type scored struct {
		i, score int
	}
	var ss []scored
	best := 0
	for i, a := range cat {
		nameWords := map[string]bool{}
		for _, w := range tokenize(a.App, false) {
			nameWords[w] = true
		}
		for _, f := range a.Functions {
			for _, w := range tokenize(f.Name, false) {
				nameWords[w] = true
			}
		}
		descWords := map[string]bool{}
		for _, w := range tokens(a.Description) {
			descWords[w] = true
		}
		s := 0
		for w := range qt {
			if nameWords[w] {
				s += 3
			} else if descWords[w] {
				s++
			}
		}
		if s > best {
			best = s
		}
		ss = append(ss, scored{i, s})
	}
	if best == 0 {
		return nil
	}
	var out []plan.CatalogApp
	for _, s := range ss {
		if s.score == best {
			out = append(out, cat[s.i])
		}
	}
	return out
}

type objSchema struct {
	Properties map[string]struct {
		Type    any             `json:"type"`
		Format  string          `json:"format"`
		Enum    []any           `json:"enum"`
		Default json.RawMessage `json:"default"`
		OneOf   []struct {
			Type   any    `json:"type"`
			Format string `json:"format"`
		} `json:"oneOf"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// aliases are extra labels a query may use for a property.
var aliases = map[string][]string{
	"dob":              {"date of birth", "born on", "born"},
	"medical_issues":   {"medical issues", "medical history", "conditions", "condition"},
	"preferred_date":   {"preferred date", "appointment date"},
	"preferred_doctor": {"preferred doctor", "doctor"},
	"departure_date":   {"departure date", "departing"},
	"class_of_service": {"class of service", "class"},
	"start_point":      {"start point", "pickup"},
	"end_point":        {"end point", "drop-off", "dropoff"},
	"message_id":       {"message id"},
	"name":             {"name"},
	"city":             {"city"},
	"email":            {"email"},
}

var (
	emailRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`) })
	fromToRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\b[Ff]rom\s+['"]?([^'",.]+?)['"]?\s+to\s+['"]?([^'",.;]+?)['"]?(?:\s+on\s+|\s+at\s+|[,.;?!]|$)`)
	})
	dateRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b(January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?`)
	})
)

// FillArgs builds arguments for an object schema from the query: labelled
// values ("name Michael Smith, city Irvine"), "from X to Y", e-mail
// addresses and dates; facts fill what the query leaves out; defaults and
// enums fill the rest; required fields still missing get an empty string (or
// a placeholder address for e-mail fields).
func FillArgs(schemaJSON json.RawMessage, query string, facts map[string]string) map[string]any {
	var s objSchema
	_ = json.Unmarshal(schemaJSON, &s)
	out := map[string]any{}
	labelled := labelledValues(query, s)
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	dates := dateRE().FindAllString(query, -1)
	for _, n := range names {
		p := s.Properties[n]
		isArray := typeIs(p.Type, "array")
		isEmail := p.Format == "email"
		for _, o := range p.OneOf {
			if o.Format == "email" {
				isEmail = true
			}
		}
		var v string
		switch {
		case labelled[n] != "":
			v = labelled[n]
		case n == "start_point" || n == "departure_city" || n == "origin":
			if m := fromToRE().FindStringSubmatch(query); m != nil {
				v = strings.TrimSpace(m[1])
			}
		case n == "end_point" || n == "destination_city" || n == "destination":
			if m := fromToRE().FindStringSubmatch(query); m != nil {
				v = strings.TrimSpace(m[2])
			}
		case isEmail || n == "email" || n == "to":
			v = emailRE().FindString(query)
		case strings.Contains(n, "date"):
			for _, d := range dates {
				if !strings.Contains(labelled["dob"], d) {
					v = d
					break
				}
			}
		case n == "query":
			v = searchQuery(query)
		}
		if v == "" && facts[n] != "" {
			v = facts[n]
		}
		if v == "" {
			if len(p.Default) > 0 {
				var d any
				if json.Unmarshal(p.Default, &d) == nil {
					out[n] = d
				}
				continue
			}
			if len(p.Enum) > 0 {
				out[n] = p.Enum[0]
				continue
			}
			if !required[n] {
				continue
			}
			if isEmail {
				v = "not-provided@example.invalid"
			}
			if typeIs(p.Type, "integer") || typeIs(p.Type, "number") {
				out[n] = 0
				continue
			}
		}
		if isArray {
			out[n] = []string{v}
		} else {
			out[n] = v
		}
	}
	return out
}

func typeIs(t any, want string) bool {
	switch x := t.(type) {
	case string:
		return x == want
	case []any:
		for _, e := range x {
			if e == want {
				return true
			}
		}
	}
	return false
}

// labelledValues finds "label value" pairs for the schema's properties:
// each value runs from its label to the next label found in the query.
func labelledValues(query string, s objSchema) map[string]string {
	lq := strings.ToLower(query)
	type hit struct {
		prop       string
		start, end int
	}
	var hits []hit
	for n := range s.Properties {
		labels := append([]string{strings.ReplaceAll(n, "_", " ")}, aliases[n]...)
		for _, l := range labels {
			idx := indexWord(lq, l)
			if idx >= 0 {
				hits = append(hits, hit{n, idx, idx + len(l)})
				break
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].start < hits[j].start })
	out := map[string]string{}
	for i, h := range hits {
		end := len(query)
		if i+1 < len(hits) {
			end = hits[i+1].start
		}
		if h.end > end {
			continue
		}
		v := strings.Trim(query[h.end:end], " :,;.")
		v = strings.TrimSuffix(v, " and")
		v = strings.TrimPrefix(strings.TrimPrefix(v, "is "), "of ")
		out[h.prop] = strings.Trim(v, " :,;.'\"")
	}
	return out
}

// indexWord finds l in s at word boundaries.
func indexWord(s, l string) int {
	off := 0
	for {
		i := strings.Index(s[off:], l)
		if i < 0 {
			return -1
		}
		i += off
		before := i == 0 || !isWordByte(s[i-1])
		after := i+len(l) >= len(s) || !isWordByte(s[i+len(l)])
		if before && after {
			return i
		}
		off = i + 1
	}
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'
}

// commandWords are the words of a request that say what to do rather than
// what to look for; a search query keeps the rest.
var commandWords = map[string]bool{"summarize": true, "summarise": true, "show": true, "find": true, "search": true,
	"read": true, "tell": true, "list": true, "get": true, "me": true, "my": true, "for": true, "please": true,
	"the": true, "a": true, "an": true, "what": true, "is": true, "are": true, "in": true, "of": true, "about": true, "can": true, "you": true}

func searchQuery(q string) string {
	var keep []string
	for _, w := range strings.Fields(q) {
		lw := strings.ToLower(strings.Trim(w, ".,!?;:'\""))
		if lw == "" || commandWords[lw] {
			continue
		}
		keep = append(keep, strings.Trim(w, ".,!?;:"))
	}
	if len(keep) == 0 {
		return q
	}
	return strings.Join(keep, " ")
}

var _ llm.StreamingModel = Model{}
