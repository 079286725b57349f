package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// effectRead is apps.EffectRead, the operator-declared effect a step must
// have for a grant of every read of its app to cover it.
const effectRead = "read"

// readsGrant is the stored grant of chat.AllowReads(app).
func readsGrant(user ids.UserID, app ids.AppID, now time.Time) state.Grant {
	return state.Grant{GrantKey: state.GrantKey{User: user, Kind: chat.KindExec, Target: app, Function: chat.ReadsFunction},
		Decision: chat.AllowAlways, At: now}
}

// readsGranted reports whether the user trusts r's app for reads and r is
// one: a planned exec of a function whose declared effect is read. A
// write, send or destroy, or a call outside a plan, is never covered.
func (g *Gate) readsGranted(ctx context.Context, r Request) (bool, error) {
	if r.Kind != chat.KindExec || r.Effect != effectRead || r.Unplanned || r.Requester != "" {
		return false, nil
	}
	gr, ok, err := g.store.FindGrant(ctx, readsGrant(r.User, r.Target, time.Time{}).GrantKey, "")
	if err != nil {
		return false, fmt.Errorf("gate: look up grant: %w", err)
	}
	return ok && gr.Decision == chat.AllowAlways, nil
}

// readsOffer is the app a plan prompt offers "Always allow APP for reads"
// for: the one server with open read steps, or "" when there are none or
// several (one button must name one app). A server is a namespaced app
// (an MCP server is mcp.NAME): its many tools are what the choice saves
// prompts for; a built-in app is one function, and its "Always allow"
// already covers it.
func readsOffer(parts []PlanPart, open []int) ids.AppID {
	var app ids.AppID
	for _, i := range open {
		r := parts[i].Request
		if r.Kind != chat.KindExec || r.Effect != effectRead {
			continue
		}
		if !strings.Contains(string(r.Target), ".") {
			continue
		}
		if app != "" && app != r.Target {
			return ""
		}
		app = r.Target
	}
	return app
}
