package hub

import (
	"maps"
	"slices"

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

// labelFrom rebuilds a label the hub stored beside an app's memory or
// state.
func labelFrom(sources []ids.AppID, facts map[string]string) label {
	l := newLabel("", facts)
	for _, a := range sources {
		l.apps[a] = true
	}
	return l
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

// storedLabel is the label the hub keeps beside an app's state namespace:
// every app and fact whatever was ever written there derives from, until
// the namespace is forgotten. It is one record per namespace, the union of
// all writes, which over-approximates per key.
type storedLabel struct {
	Sources []ids.AppID       `json:"sources,omitempty"`
	Facts   map[string]string `json:"facts,omitempty"`
}

// labelNamespace is where the hub keeps the label of an app-state
// namespace. Spokes cannot name it: the hub picks a spoke's namespace.
func labelNamespace(ns string) string { return "secgpt.label/" + ns }

// labelKey is the one key of a label namespace.
const labelKey = "label"
