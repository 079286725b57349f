package offline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/schema"
)

// This file holds how the demo model chooses among an app's functions and
// reads the explicit "function {json}" form. Everything it matches on is
// what the planner's catalog shows (app ids, function names, parameter
// names and types), so an operator's aliases for MCP tools work the same.

// ExplicitCall reads a query written as a catalog function's name followed
// by its arguments as a JSON object ("memory__read_graph {}"). ok is false when the query does not start with a function
// name of the catalog and a "{"; err says what is wrong with the arguments when it
// does.
func ExplicitCall(cat []plan.CatalogApp, query string) (app plan.CatalogApp, fn plan.CatalogFunction, args json.RawMessage, ok bool, err error) {
	q := strings.TrimSpace(query)
	name, rest, _ := strings.Cut(q, " ")
	if name == "" {
		return app, fn, nil, false, nil
	}
	app, fn, found := functionNamed(cat, name)
	if !found {
		return app, fn, nil, false, nil
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasPrefix(rest, "{") {
		// "get_gmail_message please" is a request in words.
		return app, fn, nil, false, nil
	}
	var obj map[string]json.RawMessage
	d := json.NewDecoder(strings.NewReader(rest))
	if err := d.Decode(&obj); err != nil {
		return app, fn, nil, true, fmt.Errorf("the arguments after %s are not a JSON object: %w", fn.Name, err)
	}
	if obj == nil {
		return app, fn, nil, true, fmt.Errorf("the arguments after %s are not a JSON object", fn.Name)
	}
	if d.More() {
		return app, fn, nil, true, fmt.Errorf("text follows the arguments of %s; write the function's name and one JSON object only", fn.Name)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(rest[:d.InputOffset()])); err != nil {
		return app, fn, nil, true, fmt.Errorf("the arguments after %s: %w", fn.Name, err)
	}
	return app, fn, json.RawMessage(b.Bytes()), true, nil
}

// functionNamed finds the catalog function called name (case-insensitive,
// "-" and "_" alike, since chat clients turn one into the other).
func functionNamed(cat []plan.CatalogApp, name string) (plan.CatalogApp, plan.CatalogFunction, bool) {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	n := norm(name)
	for _, a := range cat {
		for _, f := range a.Functions {
			if norm(f.Name) == n {
				return a, f, true
			}
		}
	}
	return plan.CatalogApp{}, plan.CatalogFunction{}, false
}

// PickFunction chooses the function of a that the query asks for: the one
// whose name shares the most words with the query (its words and their
// synonyms), ties going to the name with fewer words the query does not
// use, then to catalog order. With no word in common it is the first
// function, as for a single-function app. It is the one place that
// matches function names, so aliases only need to reach the catalog.
func PickFunction(a plan.CatalogApp, query string) (plan.CatalogFunction, bool) {
	if len(a.Functions) == 0 {
		return plan.CatalogFunction{}, false
	}
	qt := map[string]bool{}
	for _, w := range tokens(query) {
		qt[w] = true
	}
	// Words of the app's own name say which app, not which function.
	own := map[string]bool{}
	for _, w := range tokenize(a.App, false) {
		own[w] = true
	}
	best, bestScore, bestExtra := 0, 0, 0
	for i, f := range a.Functions {
		score, extra := 0, 0
		seen := map[string]bool{}
		for _, w := range tokenize(functionWords(a.App, f.Name), false) {
			if seen[w] || own[w] {
				continue
			}
			seen[w] = true
			if qt[w] {
				score++
			} else {
				extra++
			}
		}
		if score > bestScore || score == bestScore && score > 0 && extra < bestExtra {
			best, bestScore, bestExtra = i, score, extra
		}
	}
	return a.Functions[best], bestScore > 0
}

// functionWords is a function's name without its app's prefix (the
// "memory__" of an MCP tool's function), as words to match.
func functionWords(app, fn string) string {
	short := app[strings.LastIndex(app, ".")+1:]
	if p := short + "__"; strings.HasPrefix(fn, p) {
		return fn[len(p):]
	}
	return fn
}

// shortName is the part of an app id after its namespace ("memory" for
// "mcp.memory"), or "" when the id has no namespace.
func shortName(app string) string {
	i := strings.LastIndex(app, ".")
	if i < 0 {
		return ""
	}
	return app[i+1:]
}

// withoutAppName drops from the query the words that name the app, and a
// "use … to" around them, so that what is left is what the function is
// asked to do ("Use everything to echo hi" → "echo hi").
func withoutAppName(query, app string) string {
	names := []string{strings.ToLower(app)}
	if s := shortName(app); s != "" {
		names = append(names, s)
	}
	var keep []string
	for _, w := range strings.Fields(query) {
		lw := strings.ToLower(strings.Trim(w, ".,!?;:'\""))
		drop := false
		for _, n := range names {
			if lw == n || lw == strings.ReplaceAll(n, "_", " ") {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, w)
		}
	}
	out := strings.Join(keep, " ")
	for _, p := range []string{"use to ", "Use to ", "ask to ", "Ask to ", "with ", "using "} {
		out = strings.TrimPrefix(out, p)
	}
	return out
}

// argsValid reports whether args satisfy the function's parameter schema.
func argsValid(params json.RawMessage, args json.RawMessage) error {
	if len(params) == 0 {
		return nil
	}
	s, err := schema.Compile(params)
	if err != nil {
		return err
	}
	return s.Validate(args)
}

// explicitHint says how to name a function with its arguments when the
// demo model cannot fill them from the message: the form, and the
// required parameters with their types, from the catalog.
func explicitHint(app string, f plan.CatalogFunction) string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(f.Parameters, &s)
	req := append([]string(nil), s.Required...)
	sort.Strings(req)
	var parts []string
	for _, r := range req {
		if !hintNameRE().MatchString(r) || len(parts) == 8 {
			// A schema is the server's text: only plain names are
			// repeated in the answer, and a few of them.
			continue
		}
		t := "value"
		if p, ok := s.Properties[r]; ok {
			switch x := p.Type.(type) {
			case string:
				t = x
			case []any:
				t = fmt.Sprint(x...)
			}
			if !hintNameRE().MatchString(strings.ReplaceAll(t, " ", "_")) {
				t = "value"
			}
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", r, t))
	}
	b := fmt.Sprintf("The offline demo model could not fill the arguments of %s's %s from your message: it only copies simple values. "+
		"Name the function and give its arguments as JSON, e.g. `%s {…}`", app, f.Name, f.Name)
	if len(parts) > 0 {
		b += "; it needs " + strings.Join(parts, ", ")
	}
	return b + "."
}

var (
	hintNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`) })
	pathRE     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|\s)((?:/|\$\{SECGPT_DATA\}|~/)[^\s,;'"]*)`) })
	numberRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|[\s(])(-?\d+(?:\.\d+)?)\b`) })
)

// firstPath is the first absolute path in the query, or "".
func firstPath(query string) string {
	m := pathRE().FindStringSubmatch(query)
	if m == nil {
		return ""
	}
	return strings.TrimRight(m[1], ".?!")
}

// numbers are the query's numbers in order.
func numbers(query string) []json.Number {
	var out []json.Number
	for _, m := range numberRE().FindAllStringSubmatch(query, -1) {
		out = append(out, json.Number(m[1]))
	}
	return out
}

// restText is the query without the leading words that name the function
// or only say what to do ("echo hello world" → "hello world").
func restText(q string, fn string) string {
	fnWords := map[string]bool{}
	for _, w := range tokenize(fn, false) {
		fnWords[w] = true
	}
	fs := strings.Fields(q)
	i := 0
	for ; i < len(fs); i++ {
		lw := strings.ToLower(strings.Trim(fs[i], ".,!?;:'\""))
		if !fnWords[lw] && !commandWords[lw] && lw != "to" && lw != "please" && lw != "use" {
			break
		}
	}
	return strings.Trim(strings.Join(fs[i:], " "), " .!?")
}

// fillRest fills what FillArgs left empty from the message's rest: a
// required path from the first path in it, required numbers from its
// numbers in order, and a lone required string still empty from the rest
// text itself.
func fillRest(params json.RawMessage, filled map[string]any, rest string) {
	var s objSchema
	if json.Unmarshal(params, &s) != nil {
		return
	}
	req := append([]string(nil), s.Required...)
	sort.Strings(req)
	nums := numbers(rest)
	var emptyStrings []string
	for _, n := range req {
		p := s.Properties[n]
		switch {
		case typeIs(p.Type, "number") || typeIs(p.Type, "integer"):
			if v, ok := filled[n]; (!ok || v == 0) && len(nums) > 0 {
				filled[n] = nums[0]
				nums = nums[1:]
			}
		case typeIs(p.Type, "string") && len(p.Enum) == 0:
			if v, _ := filled[n].(string); v != "" {
				continue
			}
			if strings.Contains(strings.ToLower(n), "path") || n == "source" || n == "directory" {
				if path := firstPath(rest); path != "" {
					filled[n] = path
					continue
				}
			}
			emptyStrings = append(emptyStrings, n)
		}
	}
	if len(emptyStrings) == 1 && rest != "" {
		filled[emptyStrings[0]] = rest
	}
}
