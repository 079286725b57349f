package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/respond"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// respond writes the reply. A responder (one model call with the question
// and the approved results, and no tools) writes it when the plan has more
// than one step or its one result is structured data; a one-step plan whose
// result is already an answer is shown as the app gave it. Steps that did
// not run are listed under the reply. The reply names the apps it drew on.
func (t *turn) respond(ctx context.Context, steps []step, results []stepResult) (string, []ids.AppID) {
	var ok []respond.Result
	var drew []string
	seen := map[ids.AppID]bool{}
	for i, r := range results {
		if r.err != nil || r.denied {
			continue
		}
		// The call as it ran (the planned arguments may hold a fact the user
		// withheld), with a third-party app's names as the planner saw them.
		fn, args := plan.Shown(steps[i].app, r.fn, r.args)
		_, given := plan.Shown(steps[i].app, r.fn, r.given)
		ok = append(ok, respond.Result{Step: i + 1, App: string(r.app), Function: fn, Args: args, Result: r.text, Given: given})
		if !seen[r.app] {
			seen[r.app] = true
			drew = append(drew, string(r.app))
		}
	}
	if len(ok) == 0 || (len(results) == 1 && isAnswer(results[0])) {
		return compose(results)
	}
	var idle []string
	for _, r := range results {
		if (r.err != nil || r.denied) && !seen[r.app] {
			idle = append(idle, string(r.app))
		}
	}
	text, err := t.responder(ctx, ok, idle)
	if err != nil {
		t.h.log.Warn("responder failed; replying with the results as they are", "err", err)
		return compose(results)
	}
	var b strings.Builder
	b.WriteString(text)
	var denied []ids.AppID
	dseen := map[ids.AppID]bool{}
	for i, r := range results {
		switch {
		case r.denied:
			fmt.Fprintf(&b, "\n\n**%s**: not run: you denied permission (step %d).", r.app, i+1)
			if !dseen[r.app] {
				dseen[r.app] = true
				denied = append(denied, r.app)
			}
		case r.err != nil:
			fmt.Fprintf(&b, "\n\n**%s**: failed: %s (step %d).", r.app, publicMessage(r.err), i+1)
		}
	}
	fmt.Fprintf(&b, "\n\n_Drew on: %s._", strings.Join(drew, ", "))
	return b.String(), denied
}

// isAnswer reports whether a step's result can be shown as the reply: the
// app's own model wrote it, or it is a short plain value (a number, or a
// one-line string of at most maxPlainAnswer bytes: a city, a fare). A list
// or a long text (a mailbox listing) needs the responder to answer from it.
func isAnswer(r stepResult) bool {
	if r.err != nil || r.denied || !r.direct {
		return true
	}
	b := bytes.TrimSpace(r.json)
	if len(b) == 0 || b[0] == '{' || b[0] == '[' {
		return false
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return true // a number or a boolean
	}
	return len(s) <= maxPlainAnswer && !strings.Contains(strings.TrimSpace(s), "\n")
}

// maxPlainAnswer bounds a one-step result shown without the responder.
const maxPlainAnswer = 280

// responder makes the one model call that writes the reply. Its context
// holds the question and the approved results and offers no tools; a tool
// call in its answer is ignored (and audited). An instruction injected
// into a result can still make the model misreport another app's figures,
// so every sentence of the answer is checked against the results
// (respond.Checker) before it is shown, streamed or not: a sentence with a
// figure that the app it names did not return is replaced (and audited).
//
// idle are the apps of the steps that did not run or failed: a reply that
// gives one of them a figure is checked too.
func (t *turn) responder(ctx context.Context, results []respond.Result, idle []string) (string, error) {
	req, err := respond.Request(t.query, results)
	if err != nil {
		return "", err
	}
	h := t.h
	h.trace(TraceEvent{User: t.user, Type: vocab.TraceResponderRequest, Request: req})
	m := h.o.ResponderModel
	if m == nil {
		m = h.o.Model
	}
	resp, err := t.generateReply(ctx, m, req, respond.NewChecker(t.query, results, idle))
	if err != nil {
		return "", fmt.Errorf("responder: %w", err)
	}
	if len(resp.ToolCalls) > 0 {
		var names []string
		for _, c := range resp.ToolCalls {
			names = append(names, c.Name)
		}
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditResponderToolCallIgnored, Detail: truncate(strings.Join(names, ", "), 500)})
	}
	if strings.TrimSpace(resp.Content) == "" {
		return "", errors.New("responder: empty answer")
	}
	// The whole answer is checked afresh: the streamed pieces went through
	// the same sentences in the same order, so what was shown is a prefix
	// of this.
	ck := respond.NewChecker(t.query, results, idle)
	text := ck.Text(resp.Content)
	if ck.Replaced > 0 {
		h.log.Warn("responder misreported a result; sentences replaced", "user", t.user, "sentences", ck.Replaced)
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditReplySentenceReplaced,
			Detail: truncate(fmt.Sprintf("%d sentence(s) with figures their app did not return: %s", ck.Replaced, resp.Content), 2000)})
	}
	return text, nil
}

// generateReply makes the responder's model call, streaming its text into
// the conversation when both the model and the conversation can. What is
// streamed is checked: the sentences ck has passed (or replaced), then the
// sentence being written up to its first digit, since a figure can be
// judged only once its sentence has ended. The reply shown in the end is
// the returned Content checked whole (with what respond adds), never the
// pieces: a call that fails after some pieces leaves them to be replaced
// by the fallback reply.
func (t *turn) generateReply(ctx context.Context, m llm.Model, req *llm.Request, ck *respond.Checker) (*llm.Response, error) {
	sm, ok := m.(llm.StreamingModel)
	if !ok || !t.out.streams() {
		return m.Generate(ctx, req)
	}
	var checked strings.Builder
	var pending string
	resp, err := sm.GenerateStream(ctx, req, func(ctx context.Context, text string) error {
		done, rest := respond.Sentences(pending + text)
		pending = rest
		for _, s := range done {
			checked.WriteString(ck.Sentence(s))
		}
		return t.out.show(ctx, checked.String()+beforeFigure(pending))
	})
	if err != nil {
		t.out.restart()
	}
	return resp, err
}

// beforeFigure returns s up to its first digit.
func beforeFigure(s string) string {
	if i := strings.IndexAny(s, "0123456789"); i >= 0 {
		return s[:i]
	}
	return s
}

// compose builds the reply from the steps' results as the apps gave them,
// each under its app's name. With several results, the other apps' names in a
// result are masked (respond.MaskApps): under its app's name, a figure it
// gives for another app would read as that app's.
func compose(results []stepResult) (string, []ids.AppID) {
	var names []string
	for _, r := range results {
		names = append(names, string(r.app))
	}
	var b strings.Builder
	var denied []ids.AppID
	seen := map[ids.AppID]bool{}
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n\n")
		}
		var body string
		switch {
		case r.denied:
			body = "not run: you denied permission."
			if !seen[r.app] {
				denied = append(denied, r.app)
				seen[r.app] = true
			}
		case r.err != nil:
			body = "failed: " + publicMessage(r.err) + "."
		default:
			body = respond.MaskApps(r.text, string(r.app), names)
		}
		if len(results) == 1 && !r.denied && r.err == nil {
			b.WriteString(body)
			continue
		}
		fmt.Fprintf(&b, "**%s**: %s", r.app, body)
	}
	return b.String(), denied
}
