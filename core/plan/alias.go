package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/secgpt-go/secgpt/apps"
)

// Aliased is an app whose function names and schemas are third-party text
// (an MCP server): a tool's name, its argument names and its enum values
// are the server's words, and a server can write instructions in them. The
// planner and the responder see each function of such an app under the
// name Aliases gives it, with a schema of types only whose property names
// and string enum values are aliased too (View); the hub maps a plan's
// aliases back to the real names when it checks the plan, so the app and
// its server receive their own names.
type Aliased interface {
	apps.App
	// Aliases maps each function's real name to the name the planner sees.
	// It is called on every plan and must not block. A function it leaves
	// out is shown as "f<N>" (N its 1-based place in the spec).
	Aliases() map[string]string
}

// FunctionView is one function as the planner and the responder see it.
type FunctionView struct {
	// Alias is the name shown; Real the function's own name (equal for an
	// app that is not Aliased).
	Alias, Real string
	// Effect is the operator's effect, as Declared.
	Effect apps.Effect
	// Parameters is the request schema shown: TypesOnly for a trusted app;
	// for an Aliased app only types, required, known formats and bounds,
	// with aliased property names and string enum values.
	Parameters json.RawMessage

	aliased bool
	// keys and vals map alias to real (property names, string enum and
	// const values); keysOut and valsOut real to alias.
	keys, vals, keysOut, valsOut map[string]string
}

// View returns how the functions of a are shown to the planner, in the
// spec's order.
func View(a apps.App) []FunctionView {
	sp := a.Spec()
	al, isAliased := a.(Aliased)
	var names map[string]string
	if isAliased {
		names = al.Aliases()
	}
	out := make([]FunctionView, 0, len(sp.Functions))
	for i, f := range sp.Functions {
		v := FunctionView{Alias: f.Name, Real: f.Name, Effect: f.Declared()}
		if !isAliased {
			v.Parameters = TypesOnly(f.Request)
			out = append(out, v)
			continue
		}
		v.aliased = true
		v.Alias = names[f.Name]
		if v.Alias == "" {
			v.Alias = "f" + strconv.Itoa(i+1)
		}
		v.Parameters, v.keys, v.vals = aliasSchema(f.Request)
		v.keysOut, v.valsOut = invert(v.keys), invert(v.vals)
		out = append(out, v)
	}
	return out
}

// Lookup finds the function a plan step names, by its alias or by its
// real name (a planner told the real names by its operator's code, like
// the offline model, may use them; args then are in real names too).
func Lookup(a apps.App, name string) (FunctionView, bool) {
	views := View(a)
	for _, v := range views {
		if v.Alias == name {
			return v, true
		}
	}
	for _, v := range views {
		if v.Real == name {
			v.aliased = false // the step speaks real names
			return v, true
		}
	}
	return FunctionView{}, false
}

// Shown is function fn of a with args as the responder may see them: the
// alias and aliased arguments for an Aliased app, unchanged otherwise.
func Shown(a apps.App, fn string, args json.RawMessage) (string, json.RawMessage) {
	if _, ok := a.(Aliased); !ok {
		return fn, args
	}
	for _, v := range View(a) {
		if v.Real == fn {
			return v.Alias, v.ToAlias(args)
		}
	}
	return "", nil
}

// ToReal maps arguments written in the view's names to the function's own
// names: aliased property names and string enum values back to the real
// ones, guided by the schema the planner saw. Anything else (a reference,
// a key the schema does not name) is kept as written.
func (v FunctionView) ToReal(args json.RawMessage) (json.RawMessage, error) {
	if !v.aliased || len(args) == 0 {
		return args, nil
	}
	return v.rename(args, v.keys, v.vals, false)
}

// ToAlias maps real arguments to the view's names (for the responder).
// Arguments that do not decode are withheld.
func (v FunctionView) ToAlias(args json.RawMessage) json.RawMessage {
	if !v.aliased || len(args) == 0 {
		return args
	}
	out, err := v.rename(args, v.keysOut, v.valsOut, true)
	if err != nil {
		return nil
	}
	return out
}

func (v FunctionView) rename(args json.RawMessage, keys, vals map[string]string, toAlias bool) (json.RawMessage, error) {
	var x, node any
	if err := json.Unmarshal(args, &x); err != nil {
		return nil, fmt.Errorf("arguments of %s: %w", v.Alias, err)
	}
	if err := json.Unmarshal(v.Parameters, &node); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", v.Alias, err)
	}
	out, err := canonical(mustJSON(walkArgs(x, node, keys, vals, toAlias)))
	if err != nil {
		return nil, fmt.Errorf("arguments of %s: %w", v.Alias, err)
	}
	return out, nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// walkArgs renames x's keys and enum values along the shown schema node.
// The node's property names are aliases; toAlias says which way keys and
// vals map.
func walkArgs(x, node any, keys, vals map[string]string, toAlias bool) any {
	n, _ := node.(map[string]any)
	switch x := x.(type) {
	case map[string]any:
		props := collect(n, "properties")
		out := make(map[string]any, len(x))
		for k, e := range x {
			nk, mapped := keys[k]
			shown := k
			if toAlias {
				shown = nk
			}
			if sub, ok := props[shown]; mapped && ok {
				out[nk] = walkArgs(e, sub, keys, vals, toAlias)
				continue
			}
			if toAlias {
				// A key of the server's that the view does not show is
				// the server's text: withheld.
				if mapped {
					continue
				}
			}
			out[k] = walkArgs(e, n["additionalProperties"], keys, vals, toAlias)
		}
		return out
	case []any:
		for i := range x {
			x[i] = walkArgs(x[i], n["items"], keys, vals, toAlias)
		}
		return x
	case string:
		if hasEnum(n) {
			if r, ok := vals[x]; ok {
				return r
			}
		}
	}
	return x
}

// collect merges the maps under key of n and of its anyOf, oneOf and
// allOf branches.
func collect(n map[string]any, key string) map[string]any {
	out := map[string]any{}
	if n == nil {
		return out
	}
	if m, ok := n[key].(map[string]any); ok {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, b := range []string{"anyOf", "oneOf", "allOf"} {
		bs, _ := n[b].([]any)
		for _, e := range bs {
			m, _ := e.(map[string]any)
			for k, v := range collect(m, key) {
				out[k] = v
			}
		}
	}
	return out
}

func hasEnum(n map[string]any) bool {
	if n == nil {
		return false
	}
	if _, ok := n["enum"]; ok {
		return true
	}
	if _, ok := n["const"]; ok {
		return true
	}
	for _, b := range []string{"anyOf", "oneOf", "allOf"} {
		bs, _ := n[b].([]any)
		for _, e := range bs {
			if m, _ := e.(map[string]any); hasEnum(m) {
				return true
			}
		}
	}
	return false
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// The keywords an aliased schema keeps. Everything else (descriptions,
// titles, patterns, $ref, unknown keywords, any "x-" extension) is the
// server's text and is dropped: a dropped constraint is still enforced,
// against the real schema, when the plan is checked and when the step runs.
var (
	keepTypes   = map[string]bool{"object": true, "array": true, "string": true, "integer": true, "number": true, "boolean": true, "null": true}
	keepFormats = map[string]bool{"date-time": true, "date": true, "time": true, "duration": true, "email": true, "hostname": true,
		"ipv4": true, "ipv6": true, "uri": true, "uri-reference": true, "uuid": true}
	keepNumbers = map[string]bool{"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
		"minLength": true, "maxLength": true, "minItems": true, "maxItems": true, "minProperties": true, "maxProperties": true, "uniqueItems": true}
)

// aliasSchema returns the shown form of an untrusted request schema and
// the alias-to-real maps of its property names and string enum values.
// Aliases are assigned in sorted order of the real names, so the same
// schema always gets the same aliases.
func aliasSchema(raw json.RawMessage) (json.RawMessage, map[string]string, map[string]string) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return json.RawMessage(`{"type":"object"}`), nil, nil
	}
	names, values := map[string]bool{}, map[string]bool{}
	gather(v, names, values)
	keysOut := numbered(names, "p")
	valsOut := numbered(values, "v")
	shown, _ := shownNode(v, keysOut, valsOut).(map[string]any)
	if shown == nil {
		shown = map[string]any{}
	}
	shown["type"] = "object"
	b, err := json.Marshal(shown)
	if err != nil {
		return json.RawMessage(`{"type":"object"}`), nil, nil
	}
	return b, invert(keysOut), invert(valsOut)
}

func numbered(set map[string]bool, prefix string) map[string]string {
	all := make([]string, 0, len(set))
	for k := range set {
		all = append(all, k)
	}
	slices.Sort(all)
	out := make(map[string]string, len(all))
	for i, k := range all {
		out[k] = prefix + strconv.Itoa(i+1)
	}
	return out
}

// gather collects property names and string enum/const values that
// shownNode keeps, at every depth it descends into.
func gather(v any, names, values map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, e := range m {
		switch k {
		case "properties":
			ps, _ := e.(map[string]any)
			for name, sub := range ps {
				names[name] = true
				gather(sub, names, values)
			}
		case "enum":
			es, _ := e.([]any)
			for _, x := range es {
				if s, ok := x.(string); ok {
					values[s] = true
				}
			}
		case "const":
			if s, ok := e.(string); ok {
				values[s] = true
			}
		case "items", "additionalProperties":
			gather(e, names, values)
		case "prefixItems", "anyOf", "oneOf", "allOf":
			es, _ := e.([]any)
			for _, x := range es {
				gather(x, names, values)
			}
		}
	}
}

func shownNode(v any, keys, vals map[string]string) any {
	if b, ok := v.(bool); ok {
		return b
	}
	m, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}
	}
	out := map[string]any{}
	for k, e := range m {
		switch {
		case k == "type":
			if t, ok := shownType(e); ok {
				out[k] = t
			}
		case k == "format":
			if s, ok := e.(string); ok && keepFormats[s] {
				out[k] = s
			}
		case keepNumbers[k]:
			switch e.(type) {
			case float64, bool:
				out[k] = e
			}
		case k == "properties":
			ps, _ := e.(map[string]any)
			shown := make(map[string]any, len(ps))
			for name, sub := range ps {
				shown[keys[name]] = shownNode(sub, keys, vals)
			}
			out[k] = shown
		case k == "required":
			rs, _ := e.([]any)
			var shown []any
			for _, r := range rs {
				if s, ok := r.(string); ok && keys[s] != "" {
					shown = append(shown, keys[s])
				}
			}
			if len(shown) > 0 {
				out[k] = shown
			}
		case k == "enum":
			es, _ := e.([]any)
			shown := make([]any, 0, len(es))
			for _, x := range es {
				shown = append(shown, shownValue(x, vals))
			}
			out[k] = shown
		case k == "const":
			out[k] = shownValue(e, vals)
		case k == "items" || k == "additionalProperties":
			out[k] = shownNode(e, keys, vals)
		case k == "prefixItems" || k == "anyOf" || k == "oneOf" || k == "allOf":
			es, _ := e.([]any)
			shown := make([]any, 0, len(es))
			for _, x := range es {
				shown = append(shown, shownNode(x, keys, vals))
			}
			out[k] = shown
		}
	}
	return out
}

func shownType(e any) (any, bool) {
	switch t := e.(type) {
	case string:
		return t, keepTypes[t]
	case []any:
		var out []any
		for _, x := range t {
			if s, ok := x.(string); ok && keepTypes[s] {
				out = append(out, s)
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

// shownValue aliases a string; numbers, booleans and null carry no words
// and stay. An object or array as an enum value is withheld.
func shownValue(x any, vals map[string]string) any {
	switch x := x.(type) {
	case string:
		return vals[x]
	case map[string]any, []any:
		return nil
	}
	return x
}
