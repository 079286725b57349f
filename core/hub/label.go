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
