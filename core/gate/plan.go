package gate

import (
	"context"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// PlanRequest is a whole plan put to the user in one prompt.
type PlanRequest struct {
	User         ids.UserID
	Session      ids.SessionID
	Conversation ids.ConversationID
	// Steps, Flows and Facts are what the prompt shows.
	Steps []chat.PlanStep
	Flows []chat.PlanFlow
	Facts []chat.PlanFact
	// Parts are the exec, data and collab requests the plan contains.
	Parts []PlanPart
}

// PlanPart is one request inside a plan, and where the prompt shows it.
type PlanPart struct {
	Request
	// Step is the 0-based step the part belongs to (exec and data: the step
	// that runs or receives facts); Flow the 0-based flow (collab), else -1.
	Step, Flow int
}

// PlanResult is the decision of every part, in Parts order.
type PlanResult struct {
	Decisions []chat.Decision
	// Review: the user chose to decide the plan's parts one by one; the
	// caller asks each part with Check. Decisions are then only those that
	// rules and stored grants already made ("" for the rest).
	Review bool
	// Prompted: a prompt was shown.
	Prompted bool
}

// CheckPlan decides every part of a plan: rules first, then stored grants,
// then one prompt for all the parts still open, showing the whole plan with
// the decided parts marked. The answer applies to every open part; session
// and always answers are stored per part (Gate.Answer).
func (g *Gate) CheckPlan(ctx context.Context, c chat.Conversation, pr PlanRequest) (PlanResult, error) {
	res := PlanResult{Decisions: make([]chat.Decision, len(pr.Parts))}
	steps := append([]chat.PlanStep(nil), pr.Steps...)
	flows := append([]chat.PlanFlow(nil), pr.Flows...)
	facts := append([]chat.PlanFact(nil), pr.Facts...)
	var open []int
	var rules []string
	for i, part := range pr.Parts {
		r := part.Request
		r.User, r.Session, r.Conversation, r.Unplanned = pr.User, pr.Session, pr.Conversation, false
		pr.Parts[i].Request = r
		if !r.Kind.Valid() {
			return res, fmt.Errorf("gate: plan part %d: invalid kind %q", i+1, r.Kind)
		}
		d, rule, decided, err := g.precheck(ctx, r)
		if err != nil {
			return res, err
		}
		if rule != "" && !contains(rules, rule) {
			rules = append(rules, rule)
		}
		if !decided {
			open = append(open, i)
			continue
		}
		res.Decisions[i] = d
		if d.Allows() {
			mark(part, steps, flows, facts)
		}
	}
	if len(open) == 0 {
		return res, nil
	}
	p := chat.Prompt{User: pr.User, Conversation: pr.Conversation, Session: pr.Session, Kind: chat.KindPlan,
		Steps: steps, Flows: flows, Facts: facts, Rule: strings.Join(rules, "; "),
		Reason: "the plan for your message; your answer covers every part not marked as already allowed"}
	var sum []string
	seen := map[chat.Component]bool{}
	for _, i := range open {
		r := pr.Parts[i].Request
		comp := chat.Component{Kind: r.Kind, Requester: r.Requester, Target: r.Target, Function: r.Function}
		if seen[comp] {
			continue
		}
		seen[comp] = true
		p.Components = append(p.Components, comp)
		sum = append(sum, componentText(r))
	}
	p.Data = strings.Join(sum, "\n")
	p.ReadsApp = readsOffer(pr.Parts, open)
	res.Prompted = true
	a, expired, err := g.show(ctx, c, p, chat.Deny)
	if err != nil {
		for _, i := range open {
			res.Decisions[i] = chat.Deny
			_ = g.audit(ctx, pr.Parts[i].Request, string(chat.Deny), "plan prompt could not be shown: "+err.Error())
		}
		return res, err
	}
	detail := "plan prompt " + a.answeredBy()
	if expired {
		detail = "plan prompt: no answer in time: denied"
	}
	if a.d == chat.Review {
		res.Review = true
		for _, i := range open {
			_ = g.audit(ctx, pr.Parts[i].Request, string(chat.Review), detail)
		}
		return res, nil
	}
	// A part whose allowing decision cannot be audited is denied, and the
	// error says why.
	var unaudited error
	for _, i := range open {
		res.Decisions[i] = a.d
		if err := g.audit(ctx, pr.Parts[i].Request, string(a.d), detail); err != nil && a.d.Allows() {
			res.Decisions[i], unaudited = chat.Deny, err
		}
	}
	return res, unaudited
}

// mark shows a decided part as already allowed in the plan view.
func mark(part PlanPart, steps []chat.PlanStep, flows []chat.PlanFlow, facts []chat.PlanFact) {
	switch {
	case part.Kind == chat.KindExec && part.Step >= 0 && part.Step < len(steps):
		steps[part.Step].Granted = true
	case part.Kind == chat.KindCollab && part.Flow >= 0 && part.Flow < len(flows):
		flows[part.Flow].Granted = true
	case part.Kind == chat.KindData:
		// One data request covers every fact its step would receive.
		for i := range facts {
			if facts[i].Step == part.Step+1 {
				facts[i].Granted = true
			}
		}
	}
}

func componentText(r Request) string {
	fn := ""
	if r.Function != "" && r.Function != string(r.Target) {
		fn = "." + r.Function
	}
	switch r.Kind {
	case chat.KindCollab:
		return fmt.Sprintf("collab: %s → %s%s", r.Requester, r.Target, fn)
	default:
		return fmt.Sprintf("%s: %s%s", r.Kind, r.Target, fn)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
