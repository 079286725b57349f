package hub

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
)

// label is what a piece of data derives from: every app whose output went
// into it and every remembered fact it may carry. Labels travel with
// results through plan substitution, arguments a model filled, and calls
// one app made of another, so a flow is checked against each source, not
// only the app it comes from last. They over-approximate: an app that saw
// a fact counts as carrying it in whatever it returns.
type label struct {
	apps  map[ids.AppID]bool
	facts map[string]string
}

// newLabel is the label of data from app, with the given facts.
func newLabel(app ids.AppID, facts map[string]string) label {
	l := label{apps: map[ids.AppID]bool{}, facts: map[string]string{}}
	if app != "" {
		l.apps[app] = true
	}
	maps.Copy(l.facts, facts)
	return l
}

// add makes l also derive from everything o derives from.
func (l *label) add(o label) {
	if l.apps == nil {
		l.apps = map[ids.AppID]bool{}
	}
	if l.facts == nil {
		l.facts = map[string]string{}
	}
	maps.Copy(l.apps, o.apps)
	maps.Copy(l.facts, o.facts)
}

// sources returns the apps l derives from, sorted, without those in except.
func (l label) sources(except ...ids.AppID) []ids.AppID {
	var out []ids.AppID
	for a := range l.apps {
		if !slices.Contains(except, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// labelFrom is the label of data from the apps in sources.
func labelFrom(sources []ids.AppID) label {
	l := newLabel("", nil)
	for _, a := range sources {
		l.apps[a] = true
	}
	return l
}

// kept is a label as the hub keeps it beside what an app keeps (its
// memory entries, its state namespace): the apps, and the facts by their
// key only. A fact's value is never kept there: it stays in the user's
// entity memory, and resolve looks it up when the label is read back, so
// forgetting a fact there leaves no copy of it in the labels.
type kept struct {
	sources  []ids.AppID
	factKeys []string
}

// keep is the kept form of l, without the apps in except.
func (l label) keep(except ...ids.AppID) kept {
	return kept{sources: l.sources(except...), factKeys: sortedKeys(l.facts)}
}

// add makes k also name what o names.
func (k *kept) add(o kept) {
	for _, a := range o.sources {
		if !slices.Contains(k.sources, a) {
			k.sources = append(k.sources, a)
		}
	}
	for _, f := range o.factKeys {
		if !slices.Contains(k.factKeys, f) {
			k.factKeys = append(k.factKeys, f)
		}
	}
}

// Members of a state namespace's label set (AddAppStateSet): an app, or
// the key of a fact.
const (
	memberApp  = "app:"
	memberFact = "fact:"
)

// members is k as the members of a label set.
func (k kept) members() []string {
	out := make([]string, 0, len(k.sources)+len(k.factKeys))
	for _, a := range k.sources {
		out = append(out, memberApp+string(a))
	}
	for _, f := range k.factKeys {
		out = append(out, memberFact+f)
	}
	return out
}

// keptFrom reads a label set back. Only the hub writes label sets (no
// spoke can name their namespace), so a member of no known kind means
// the record is not one the hub wrote, and the value it labels is not
// handed out.
func keptFrom(members []string) (kept, error) {
	var k kept
	for _, m := range members {
		switch {
		case strings.HasPrefix(m, memberApp):
			k.sources = append(k.sources, ids.AppID(strings.TrimPrefix(m, memberApp)))
		case strings.HasPrefix(m, memberFact):
			k.factKeys = append(k.factKeys, strings.TrimPrefix(m, memberFact))
		default:
			return kept{}, fmt.Errorf("label member %q of no known kind", m)
		}
	}
	return k, nil
}

// resolve is the label of data kept with k, as the user's facts are now.
// A fact the user's facts no longer hold (forgotten) resolves to nothing:
// the hub keeps no other copy of it to guard. A fact whose value changed
// since resolves to its value now, which the hub guards as a remembered
// fact; the data may carry the old value, which is no longer one.
func (h *Hub) resolve(ctx context.Context, user ids.UserID, k kept) (label, error) {
	l := labelFrom(k.sources)
	if len(k.factKeys) == 0 {
		return l, nil
	}
	facts, err := h.o.Store.Entities(ctx, user)
	if err != nil {
		return l, fmt.Errorf("read the facts a label names: %w", err)
	}
	for _, key := range k.factKeys {
		if v, ok := facts[key]; ok {
			l.facts[key] = v
		}
	}
	return l, nil
}

// absorb makes what inv holds also derive from l: the app read back data
// it kept (its memory, its state) or a warm spoke kept it in its process.
func (inv *invocation) absorb(l label) {
	if len(l.apps) == 0 && len(l.facts) == 0 {
		return
	}
	if inv.label == nil {
		in := inv.inputs()
		inv.label = &in
	}
	inv.label.add(l)
}

// labelNamespace is where the hub keeps the label of an app-state
// namespace. Spokes cannot name it: the hub picks a spoke's namespace.
func labelNamespace(ns string) string { return "secgpt.label/" + ns }

// labelKey is the one key of a label namespace: the set (AddAppStateSet)
// of every app and fact key whatever was ever written to the namespace
// derives from, until the namespace is forgotten. One record per
// namespace, the union of all writes, over-approximates per key.
const labelKey = "label"
