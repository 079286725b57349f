package hub

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/isc"
)

// PolicyFunc adjusts what one invocation's spoke gets before it starts
// (spec.App for spec.User): the host files the app may use (its declared
// files, the user's own data directory), the private networks an operator
// opened for it, and per-app limits. It runs on the hub; an error keeps the
// spoke from starting.
type PolicyFunc func(ctx context.Context, spec *SpokeSpec) error

// spokePolicy applies Options.SpokePolicy, if any.
func (h *Hub) spokePolicy(ctx context.Context, spec *SpokeSpec) error {
	if h.o.SpokePolicy == nil {
		return nil
	}
	app, user := spec.App, spec.User
	if err := h.o.SpokePolicy(ctx, spec); err != nil {
		return err
	}
	if spec.App != app || spec.User != user {
		// Whose spoke it is decides which warm spoke it may be.
		return fmt.Errorf("spoke policy: changed the spoke of %s for %s to %s for %s", app, user, spec.App, spec.User)
	}
	return nil
}

// effectNote is what a permission prompt adds about what fn of a may do:
// the operator's Effect, then the app's own claim, marked as such. Both go
// into the prompt's data, which adapters render as plain text.
func effectNote(a apps.App, fn string) string {
	f, ok := a.Spec().Function(fn)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nEffect: " + string(f.Declared()))
	if f.Hints != "" {
		b.WriteString("\nThe app's own claim (not verified): " + f.Hints)
	}
	return b.String()
}

// progress shows a spoke's progress report in the conversation's "working"
// status, as numbers under the app's ID: nothing the app wrote is shown.
func (h *Hub) progress(ctx context.Context, inv *invocation, f isc.Frame) {
	sc, ok := inv.turn.c.(chat.StatusConversation)
	if !ok {
		return
	}
	var p isc.Progress
	if f.Decode(&p) != nil || math.IsNaN(p.Done) || math.IsInf(p.Done, 0) || p.Done < 0 || p.Done > 1e12 {
		return
	}
	text := fmt.Sprintf("Working on it… (%s: %g", inv.app.Spec().ID, p.Done)
	if p.Total > 0 && p.Total <= 1e12 {
		text += fmt.Sprintf(" of %g", p.Total)
	}
	_ = sc.Status(ctx, text+")")
}
