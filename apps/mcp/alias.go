package mcp

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/secgpt-go/secgpt/core/plan"
)

// aliasRE is what an alias may be: short, lowercase, and no room for a
// sentence. An operator's alias is checked against it too, so that a
// config copied from a server's README cannot carry one either.
var aliasRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// CheckAlias validates an alias (the part after "<server>__").
func CheckAlias(a string) error {
	if !aliasRE.MatchString(a) {
		return fmt.Errorf("alias %q: use a lowercase letter, then lowercase letters, digits and _ (at most 32)", a)
	}
	return nil
}

// PlainAlias is the planner's name for a tool called tool, if its own
// name can be one: after lowering its case and turning - and . into _, an
// alias CheckAlias accepts (so no space, no sentence, nothing but ASCII
// letters, digits and _, at most 32 characters).
func PlainAlias(tool string) (string, bool) {
	a := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(tool))
	return a, CheckAlias(a) == nil
}

// NameTools is how `secgpt mcp add` and `mcp import` name a server's
// tools for the planner (the entry's aliases:): each tool whose own name
// is a plain identifier (PlainAlias) by that name, the first in sorted
// order where two would share one; the others, unnamed, stay t<N>. The
// names are the server's text, so they are printed for the operator and
// written to the entry: only what the operator was shown reaches the
// planner, and a tool the server adds or renames later is no name here
// (invariant I9 holds the harness's server to it).
func NameTools(tools []string) (named map[string]string, unnamed []string) {
	named = map[string]string{}
	used := map[string]bool{}
	for _, tool := range slices.Sorted(slices.Values(tools)) {
		a, ok := PlainAlias(tool)
		if !ok || used[a] {
			unnamed = append(unnamed, tool)
			continue
		}
		used[a] = true
		named[tool] = a
	}
	return named, unnamed
}

// ToolNames are the server's own names of its tools (s.Tools), in order.
func (s Server) ToolNames() []string {
	out := make([]string, len(s.Tools))
	for i, f := range s.Tools {
		out[i] = toolName(s.Name, f)
	}
	return out
}

// DefaultAlias is the alias of a server's n-th tool (1-based) when neither
// the operator nor a pin names it: its place, and nothing the server wrote.
func DefaultAlias(n int) string { return "t" + strconv.Itoa(n) }

// Aliases implements plan.Aliased: every function's alias is
// "<server>__<alias>", the alias from Server.Aliases (keyed by the tool's
// own name) or DefaultAlias of its place. A bad or clashing alias falls
// back to the default, so a spec never shows two functions under one name.
func (a *App) Aliases() map[string]string {
	out := make(map[string]string, len(a.spec.Functions))
	used := map[string]bool{}
	for i, f := range a.spec.Functions {
		al := a.srv.Aliases[toolName(a.srv.Name, f)]
		if CheckAlias(al) != nil || used[al] {
			al = DefaultAlias(i + 1)
		}
		for n := 2; used[al]; n++ {
			al = DefaultAlias(i+1) + "_" + strconv.Itoa(n)
		}
		used[al] = true
		name := a.srv.Name + Sep + al
		out[f.Name] = name
	}
	return out
}

var _ plan.Aliased = (*App)(nil)
