package gate

import (
	"fmt"
	"path"
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

// Rule is one operator rule from the config (permissions.rules). Its
// pattern is SELECTOR:TARGET:
//
//	exec:get_*                         running an app or function whose name matches
//	data:health_*                      remembered facts reaching a matching app
//	collab:search_gmail->send_gmail_*  a result of the first going to the second
//	read:* write:* send:* destroy:*    running a function with that effect
//
// Names match an app id or a function name, with path.Match globs ("*",
// "?", "[a-z]"). Rules apply to planned and unplanned requests alike.
type Rule struct {
	Action  Action
	Pattern string

	selector    string
	from, to    string
	effectMatch bool
}

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
	default:
		return Rule{}, fmt.Errorf("rule %q: selector %q is not exec, data, collab, read, write, send or destroy", r.Pattern, sel)
	}
	for _, g := range []string{r.from, r.to} {
		if _, err := path.Match(g, ""); err != nil {
			return Rule{}, fmt.Errorf("rule %q: bad glob %q: %w", r.Pattern, g, err)
		}
	}
	return r, nil
}

// String is the rule as a prompt and !grants show it ("deny: send:*").
func (r Rule) String() string { return string(r.Action) + ": " + r.Pattern }

// Matches reports whether the rule applies to req.
func (r Rule) Matches(req Request) bool {
	switch {
	case r.effectMatch:
		return req.Kind == chat.KindExec && req.Effect == r.selector && nameMatch(r.to, string(req.Target), req.Function)
	case r.selector == string(chat.KindCollab):
		if req.Kind != chat.KindCollab {
			return false
		}
		return nameMatch(r.from, string(req.Requester), "") && nameMatch(r.to, string(req.Target), req.Function)
	default:
		return string(req.Kind) == r.selector && nameMatch(r.to, string(req.Target), req.Function)
	}
}

func nameMatch(glob, app, fn string) bool {
	if ok, _ := path.Match(glob, app); ok {
		return true
	}
	ok, _ := path.Match(glob, fn)
	return fn != "" && ok
}

// match returns the rule that decides req (deny over ask over allow), or
// false when none matches.
func match(rules []Rule, req Request) (Rule, bool) {
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
