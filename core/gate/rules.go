package gate

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
)

// Action is what an operator rule does with the requests it matches.
type Action string

// Rule actions. When several rules match a request, deny wins over ask and
// ask over allow, so a broad allow cannot hide a narrow deny.
const (
	// ActionAllow decides the request without a prompt and stores nothing.
	ActionAllow Action = "allow"
	// ActionDeny refuses the request without a prompt.
	ActionDeny Action = "deny"
	// ActionAsk prompts even when a stored grant would have covered it.
	ActionAsk Action = "ask"
)

// mcpPrefix starts the app id of every MCP server (apps/mcp.Prefix; the
// gate does not import the apps).
const mcpPrefix = "mcp."

// Rule is one operator rule from the config (permissions.rules). Its
// pattern is SELECTOR:TARGET:
//
//	exec:get_*                         running an app or function whose name matches
//	data:health_*                      remembered facts reaching a matching app
//	collab:search_gmail->send_gmail_*  a result of the first going to the second
//	read:* write:* send:* destroy:*    running a function with that effect
//	mcp:github:*                       anything reaching or leaving MCP server
//	                                   github (app mcp.github) whose tool matches
//
// Names match an app id or a function name, with path.Match globs ("*",
// "?", "[a-z]"). An exec, effect or mcp TARGET may end with argument
// conditions, NAME(KEY=GLOB,...): send:send_gmail_message(to=*@example.com).
// A condition is met by a deny or ask rule when any value of the argument
// (one string, or any element of a list) matches, and by an allow rule only
// when every value does; a value not known yet (filled later from another
// app's result) meets a deny or ask condition and never an allow one, so a
// condition can only make a rule stricter than the unknown allows. Rules
// apply to planned and unplanned requests alike.
type Rule struct {
	Action  Action
	Pattern string

	selector    string
	from, to    string
	effectMatch bool
	// server is the MCP server glob of an mcp rule.
	server string
	// conds are the argument conditions, by argument name.
	conds map[string]string
}

// condRE splits NAME(CONDITIONS).
var condRE = regexp.MustCompile(`^([^()]*)\((.*)\)$`)

// ParseRule checks a rule and returns it ready to match.
func ParseRule(action, pattern string) (Rule, error) {
	r := Rule{Action: Action(strings.ToLower(strings.TrimSpace(action))), Pattern: strings.TrimSpace(pattern)}
	switch r.Action {
	case ActionAllow, ActionDeny, ActionAsk:
	default:
		return Rule{}, fmt.Errorf("rule %q: action %q is not allow, deny or ask", pattern, action)
	}
	sel, target, ok := strings.Cut(r.Pattern, ":")
	if !ok || target == "" {
		return Rule{}, fmt.Errorf("rule %q: want SELECTOR:TARGET, e.g. exec:get_* or collab:a->b", r.Pattern)
	}
	r.selector = strings.ToLower(sel)
	if strings.ContainsAny(target, "()") {
		if r.selector == string(chat.KindCollab) || r.selector == string(chat.KindData) {
			return Rule{}, fmt.Errorf("rule %q: argument conditions apply to exec, effect and mcp rules only", r.Pattern)
		}
		m := condRE.FindStringSubmatch(target)
		if m == nil {
			return Rule{}, fmt.Errorf("rule %q: unclosed or stray parenthesis; want NAME(KEY=GLOB,...)", r.Pattern)
		}
		conds, err := parseConds(m[2])
		if err != nil {
			return Rule{}, fmt.Errorf("rule %q: %w", r.Pattern, err)
		}
		target, r.conds = m[1], conds
		if target == "" {
			return Rule{}, fmt.Errorf("rule %q: conditions need a name before them, e.g. send:*(to=*@example.com)", r.Pattern)
		}
	}
	switch r.selector {
	case string(chat.KindExec), string(chat.KindData):
		r.to = target
	case string(chat.KindCollab):
		from, to, ok := strings.Cut(target, "->")
		if !ok || from == "" || to == "" {
			return Rule{}, fmt.Errorf("rule %q: a collab rule names FROM->TO", r.Pattern)
		}
		r.from, r.to = from, to
	case "read", "write", "send", "destroy":
		r.to, r.effectMatch = target, true
	case "mcp":
		server, tool, ok := strings.Cut(target, ":")
		if !ok || server == "" || tool == "" {
			return Rule{}, fmt.Errorf("rule %q: an mcp rule names mcp:SERVER:TOOL, e.g. mcp:github:*", r.Pattern)
		}
		r.server, r.to = server, tool
	default:
		return Rule{}, fmt.Errorf("rule %q: selector %q is not exec, data, collab, read, write, send, destroy or mcp", r.Pattern, sel)
	}
	globs := []string{r.from, r.to, r.server}
	for _, g := range r.conds {
		globs = append(globs, g)
	}
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return Rule{}, fmt.Errorf("rule %q: bad glob %q: %w", r.Pattern, g, err)
		}
	}
	return r, nil
}

// parseConds parses KEY=GLOB,KEY=GLOB.
func parseConds(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range strings.Split(s, ",") {
		k, g, ok := strings.Cut(strings.TrimSpace(c), "=")
		k, g = strings.TrimSpace(k), strings.TrimSpace(g)
		if !ok || k == "" || g == "" {
			return nil, fmt.Errorf("condition %q: want KEY=GLOB, e.g. to=*@example.com", c)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("condition on %q given twice", k)
		}
		out[k] = g
	}
	return out, nil
}

// String is the rule as a prompt and !grants show it ("deny: send:*").
func (r Rule) String() string { return string(r.Action) + ": " + r.Pattern }

// Matches reports whether the rule applies to req.
func (r Rule) Matches(req Request) bool {
	switch {
	case r.effectMatch:
		return req.Kind == chat.KindExec && req.Effect == r.selector && nameMatch(r.to, string(req.Target), req.Function) && r.condsMet(req)
	case r.selector == "mcp":
		if serverMatch(r.server, string(req.Target)) && (req.Function == "" && r.to == "*" || nameMatch(r.to, "", req.Function)) {
			return req.Kind != chat.KindExec || r.condsMet(req)
		}
		// A server's result leaving it, whatever tool made it.
		return req.Kind == chat.KindCollab && r.to == "*" && len(r.conds) == 0 && serverMatch(r.server, string(req.Requester))
	case r.selector == string(chat.KindCollab):
		if req.Kind != chat.KindCollab {
			return false
		}
		return nameMatch(r.from, string(req.Requester), "") && nameMatch(r.to, string(req.Target), req.Function)
	default:
		return string(req.Kind) == r.selector && nameMatch(r.to, string(req.Target), req.Function) && r.condsMet(req)
	}
}

func serverMatch(glob, app string) bool {
	name, ok := strings.CutPrefix(app, mcpPrefix)
	if !ok {
		return false
	}
	m, _ := path.Match(glob, name)
	return m
}

// condsMet reports whether req's arguments meet every condition, as the
// rule's action reads them (see Rule).
func (r Rule) condsMet(req Request) bool {
	if len(r.conds) == 0 {
		return true
	}
	strict := r.Action == ActionAllow
	var args map[string]any
	if len(req.Args) == 0 || json.Unmarshal(req.Args, &args) != nil {
		// Nothing known of the arguments.
		return !strict
	}
	keys := make([]string, 0, len(r.conds))
	for k := range r.conds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := args[k]
		if !ok || !valueMet(r.conds[k], v, strict) {
			return false
		}
	}
	return true
}

// valueMet matches one argument's value: any element (strict: every
// element) of a list; an unknown value ("<result_N>" inside it) counts as
// met unless strict.
func valueMet(glob string, v any, strict bool) bool {
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	}
	if len(vals) == 0 {
		return false
	}
	for _, x := range vals {
		var s string
		switch x := x.(type) {
		case string:
			s = x
		case nil:
			s = "null"
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		met := strings.Contains(s, "<result_") && !strict
		if !met && !strings.Contains(s, "<result_") {
			met, _ = path.Match(glob, s)
		}
		if strict && !met {
			return false
		}
		if !strict && met {
			return true
		}
	}
	return strict
}

func nameMatch(glob, app, fn string) bool {
	if ok, _ := path.Match(glob, app); ok && app != "" {
		return true
	}
	ok, _ := path.Match(glob, fn)
	return fn != "" && ok
}

// Decide returns the rule among rules that decides req (deny over ask
// over allow), or false when none matches. It prompts, stores and audits
// nothing: the gate uses it first, and a checker (the invariant harness)
// can ask what a set of rules decides.
func Decide(rules []Rule, req Request) (Rule, bool) {
	var best Rule
	found := false
	rank := map[Action]int{ActionAllow: 1, ActionAsk: 2, ActionDeny: 3}
	for _, r := range rules {
		if r.Matches(req) && (!found || rank[r.Action] > rank[best.Action]) {
			best, found = r, true
		}
	}
	return best, found
}

// Rule returns the operator rule that decides req (deny over ask over
// allow), without prompting, storing or auditing: the hub's monitor uses it
// to hold a call to the rules with the values it will really run with.
func (g *Gate) Rule(req Request) (Rule, bool) { return Decide(g.rules, req) }
