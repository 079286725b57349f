package hub

import (
	"context"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// HelpText lists the chat commands. Commands start with "/" or "!" (Slack
// intercepts "/" in its composer, so "!" works everywhere).
const HelpText = `Commands (start with !, e.g. !grants):
  help              show this help
  apps              list the installed apps
  grants            list your stored permissions
  revoke APP|all    delete your stored permissions for an app, or all of them
  forget APP|all    forget what apps (and I) remember about you
  new               start a new session (ends "for this session" permissions)
Anything else is a request: I plan which apps to use and ask your permission before each one runs.`

// command handles a chat command; ok is false for ordinary messages.
func (h *Hub) command(ctx context.Context, t *turn) (reply string, ok bool) {
	q := t.query
	if !strings.HasPrefix(q, "/") && !strings.HasPrefix(q, "!") {
		return "", false
	}
	fields := strings.Fields(q[1:])
	if len(fields) == 0 {
		return HelpText, true
	}
	arg := ""
	if len(fields) > 1 {
		arg = fields[1]
	}
	switch strings.ToLower(fields[0]) {
	case "help", "h", "?":
		return HelpText, true
	case "apps":
		var b strings.Builder
		b.WriteString("Installed apps:")
		for _, id := range h.o.Catalog.IDs() {
			a, _ := h.o.Catalog.App(id)
			sp := a.Spec()
			kind := "app"
			if len(sp.Functions) == 0 {
				kind = "annotation"
			}
			fmt.Fprintf(&b, "\n- %s (%s)", id, kind)
		}
		return b.String(), true
	case "grants", "permissions":
		gs, err := h.o.Store.ListGrants(ctx, t.user)
		if err != nil {
			h.log.Error("list grants", "err", err)
			return "Sorry, I can't read your permissions right now.", true
		}
		if len(gs) == 0 {
			return "You have no stored permissions.", true
		}
		var b strings.Builder
		b.WriteString("Your stored permissions:")
		for _, g := range gs {
			scope := "always"
			if g.Session != "" {
				scope = "this session"
				if g.Session != t.session {
					scope = "an earlier session"
				}
			}
			target := string(g.Target)
			if g.Requester != "" {
				target = string(g.Requester) + " → " + target
			}
			fmt.Fprintf(&b, "\n- %s %s (%s)", g.Kind, target, scope)
		}
		return b.String(), true
	case "revoke":
		if arg == "" {
			return "Usage: revoke APP|all", true
		}
		app := ids.AppID(arg)
		if arg == "all" {
			app = ""
		}
		n, err := h.o.Store.RevokeGrants(ctx, t.user, app)
		if err != nil {
			h.log.Error("revoke grants", "err", err)
			return "Sorry, I couldn't revoke that right now.", true
		}
		h.audit(ctx, auditEvent(t.user, "revoke", app, fmt.Sprintf("%d grants", n)))
		return fmt.Sprintf("Revoked %d permission(s).", n), true
	case "forget":
		if arg == "" {
			return "Usage: forget APP|all", true
		}
		app := ids.AppID(arg)
		if arg == "all" {
			app = ""
			if err := h.o.Store.ForgetEntities(ctx, t.user); err != nil {
				h.log.Error("forget entities", "err", err)
				return "Sorry, I couldn't forget that right now.", true
			}
		}
		if err := h.o.Store.ForgetMemory(ctx, t.user, app); err != nil {
			h.log.Error("forget memory", "err", err)
			return "Sorry, I couldn't forget that right now.", true
		}
		h.audit(ctx, auditEvent(t.user, "forget", app, ""))
		if app == "" {
			return "Forgotten: everything I and the apps remembered about you.", true
		}
		return fmt.Sprintf("Forgotten: what %s remembered about you.", app), true
	case "new", "reset":
		if err := h.o.Store.EndSession(ctx, t.user, t.conv); err != nil {
			h.log.Error("end session", "err", err)
			return "Sorry, I couldn't end the session right now.", true
		}
		return "Started a new session; session permissions have ended.", true
	}
	return fmt.Sprintf("Unknown command %q.\n%s", fields[0], HelpText), true
}

func auditEvent(user ids.UserID, typ string, app ids.AppID, detail string) state.AuditEvent {
	return state.AuditEvent{User: user, Type: typ, App: app, Detail: detail}
}
