package hub

import (
	"context"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/sandbox"
)

// PolicyFunc adjusts the sandbox policy of one invocation of app for user
// before its spoke starts: the host files the app may use (its declared
// files, the user's own data directory) and per-app limits. It runs on the
// hub; an error keeps the spoke from starting.
type PolicyFunc func(ctx context.Context, app ids.AppID, user ids.UserID, p *sandbox.Policy) error

// spokePolicy applies Options.SpokePolicy, if any.
func (h *Hub) spokePolicy(ctx context.Context, app ids.AppID, user ids.UserID, p *sandbox.Policy) error {
	if h.o.SpokePolicy == nil {
		return nil
	}
	return h.o.SpokePolicy(ctx, app, user, p)
}

// effectNote is what a permission prompt adds about what fn of a may do:
// the operator's Effect, then the app's own claim, marked as such. Both go
// into the prompt's data, which adapters render as plain text.
func effectNote(a apps.App, fn string) string {
	f, ok := a.Spec().Function(fn)
	if !ok || (f.Effect == "" && f.Hints == "") {
		return ""
	}
	var b strings.Builder
	if f.Effect != "" {
		b.WriteString("\nEffect: " + f.Effect)
	}
	if f.Hints != "" {
		b.WriteString("\nThe app's own claim (not verified): " + f.Hints)
	}
	return b.String()
}
