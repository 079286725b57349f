package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/state"
)

// definition is a tool as it is pinned: the function as the hub keeps it
// (name, request and response schemas, description, and the annotations
// as hints), without the effect, which is the operator's to decide.
func definition(f apps.Function) json.RawMessage {
	f.Effect = ""
	b, err := json.Marshal(f)
	if err != nil {
		return json.RawMessage(`null`)
	}
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return b
	}
	return c.Bytes()
}

// Reconcile holds the tools a server listed (s.Tools) against its pin, and
// returns the server with only the approved tools and their aliases, and
// the pin to store (changed reports whether it differs from pin).
//
// With no pin yet (havePin false) every listed tool is approved: the
// operator installed the server, and this is its first listing. Later, a
// tool whose definition is the pinned one is kept; a new tool, or one
// whose name, schemas, description or annotations changed, is withheld and
// recorded in the pin's Pending until the operator approves it (Approve).
// A tool's alias is the operator's (operator, keyed by tool name), else
// the one pinned with it.
func Reconcile(s Server, pin state.Pin, havePin bool, operator map[string]string, now time.Time) (out Server, next state.Pin, changed bool) {
	next = state.Pin{Server: s.ID(), Tools: maps.Clone(pin.Tools), Updated: pin.Updated}
	if next.Tools == nil {
		next.Tools = map[string]state.PinnedTool{}
	}
	pending := map[string]json.RawMessage{}
	out = s
	out.Tools, out.Aliases = nil, map[string]string{}
	for _, f := range s.Tools {
		tool := toolName(s.Name, f)
		def := definition(f)
		pt, ok := next.Tools[tool]
		switch {
		case ok && bytes.Equal(pt.Definition, def):
		case !havePin:
			next.Tools[tool] = state.PinnedTool{Alias: freeAlias(next.Tools), Definition: def}
		default:
			pending[tool] = def
			continue
		}
		out.Tools = append(out.Tools, f)
		out.Aliases[tool] = next.Tools[tool].Alias
		if a := operator[tool]; a != "" {
			out.Aliases[tool] = a
		}
	}
	if len(pending) > 0 {
		next.Pending = pending
	}
	// With a pin, only Pending can differ: approved tools change only
	// through Approve.
	changed = !havePin || !samePending(pin.Pending, next.Pending)
	if changed {
		next.Updated = now
	}
	return out, next, changed
}

func samePending(a, b map[string]json.RawMessage) bool {
	return maps.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// freeAlias is the first DefaultAlias no pinned tool has.
func freeAlias(tools map[string]state.PinnedTool) string {
	used := map[string]bool{}
	for _, t := range tools {
		used[t.Alias] = true
	}
	for n := 1; ; n++ {
		if a := DefaultAlias(n); !used[a] {
			return a
		}
	}
}

// Approve approves p's pending definitions: each replaces the pinned one
// (keeping its alias) or, for a new tool, is pinned under a free alias.
func Approve(p state.Pin, now time.Time) state.Pin {
	next := state.Pin{Server: p.Server, Tools: maps.Clone(p.Tools), Updated: now}
	if next.Tools == nil {
		next.Tools = map[string]state.PinnedTool{}
	}
	for _, tool := range slices.Sorted(maps.Keys(p.Pending)) {
		pt, ok := next.Tools[tool]
		if !ok {
			pt.Alias = freeAlias(next.Tools)
		}
		pt.Definition = p.Pending[tool]
		next.Tools[tool] = pt
	}
	return next
}

// Diff shows p's pending changes, tool by tool: a new tool in full, a
// changed one as the lines of its definition that differ (- approved,
// + listed). The text is the server's: a caller shows it as data.
func Diff(p state.Pin) string {
	var b strings.Builder
	for _, tool := range slices.Sorted(maps.Keys(p.Pending)) {
		now := pretty(p.Pending[tool])
		old, ok := p.Tools[tool]
		if !ok {
			fmt.Fprintf(&b, "new tool %s:\n", strconv.Quote(tool))
			for _, l := range now {
				b.WriteString("+ " + l + "\n")
			}
			continue
		}
		fmt.Fprintf(&b, "changed tool %s (alias %s):\n", strconv.Quote(tool), old.Alias)
		for _, l := range lineDiff(pretty(old.Definition), now) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func pretty(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return []string{clean(string(raw), maxText)}
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return strings.Split(clean(string(b), maxText), "\n")
}

// lineDiff returns the lines of a and b that are not in their longest
// common subsequence, "- " for a's and "+ " for b's, in order.
func lineDiff(a, b []string) []string {
	n, m := len(a), len(b)
	if n*m > 1<<20 {
		// Too long to compare line by line: show both whole.
		out := make([]string, 0, n+m)
		for _, l := range a {
			out = append(out, "- "+l)
		}
		for _, l := range b {
			out = append(out, "+ "+l)
		}
		return out
	}
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, "+ "+b[j])
			j++
		default:
			out = append(out, "- "+a[i])
			i++
		}
	}
	return out
}
