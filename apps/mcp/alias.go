package mcp

import (
	"fmt"
	"regexp"
	"strconv"

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
