package hub

import (
	"context"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
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
// threads: the command acts on the conversations under t's too
// (chat.Message.Threads).
func (h *Hub) command(ctx context.Context, t *turn, threads bool) (reply string, ok bool) {
	q := t.query
	if !strings.HasPrefix(q, "/") && !strings.HasPrefix(q, "!") {
		return "", false
	}
	fields := strings.Fields(q[1:])
	if len(fields) == 0 {
		return h.helpText(), true
	}
	arg := ""
	if len(fields) > 1 {
		arg = fields[1]
	}
	switch strings.ToLower(fields[0]) {
	case "help", "h", "?":
		return h.helpText(), true
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
		rules := h.rulesText()
		if len(gs) == 0 {
			return "You have no stored permissions." + rules, true
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
			if g.Function == chat.ReadsFunction {
				target += " (every read-only function)"
			} else if g.Function != "" && g.Function != string(g.Target) {
				target += "." + g.Function
			}
			if g.Unplanned {
				scope += ", calls outside a plan"
			}
			fmt.Fprintf(&b, "\n- %s %s (%s)", g.Kind, target, scope)
		}
		return b.String() + rules, true
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
		h.dropWarm(ctx, t.user, app, "permission revoked")
		h.audit(ctx, auditEvent(t.user, vocab.AuditRevoke, app, fmt.Sprintf("%d grants", n)))
		return fmt.Sprintf("Revoked %d permission(s).", n), true
	case "forget":
		if arg == "" {
			return "Usage: forget APP|all", true
		}
		app := ids.AppID(arg)
		if arg == "all" {
			app = ""
		}
		h.dropWarm(ctx, t.user, app, "user data forgotten")
		if app == "" {
			h.withdraw(ctx, t.user)
		}
		return h.forget(ctx, t, arg), true
	case "connect", "disconnect":
		return h.accountCommand(ctx, t, strings.ToLower(fields[0]), arg), true
	case "new", "reset":
		if err := h.o.Store.EndSession(ctx, t.user, t.conv); err != nil {
			h.log.Error("end session", "err", err)
			return "Sorry, I couldn't end the session right now.", true
		}
		var under []ids.ConversationID
		if threads {
			var err error
			if under, err = h.o.Store.EndSessionsUnder(ctx, t.user, t.conv); err != nil {
				h.log.Error("end thread sessions", "err", err)
				return "Started a new session here, but I couldn't end the sessions of your threads in it right now; try again.", true
			}
		}
		h.dropWarm(ctx, t.user, "", "session ended")
		// The question whether to try another plan lives as long as a
		// session (it expires after the same idle time), so a new session
		// drops it: a yes later in the fresh session would run the old one.
		pending := false
		for _, conv := range append([]ids.ConversationID{t.conv}, under...) {
			_, p, err := h.o.Store.TakeReplan(ctx, t.user, conv)
			if err != nil {
				h.log.Error("drop replan", "user", t.user, "err", err)
				return "Started a new session" + threadsText(t.conv, under) + "; session permissions have ended, but I couldn't drop the pending question whether to try another plan.", true
			}
			pending = pending || p
		}
		if pending {
			return "Started a new session" + threadsText(t.conv, under) + "; session permissions have ended and the pending question whether to try another plan is dropped.", true
		}
		return "Started a new session" + threadsText(t.conv, under) + "; session permissions have ended.", true
	}
	return fmt.Sprintf("Unknown command %q.\n%s", fields[0], h.helpText()), true
}

// threadsText says which threads under conv a new session also covered
// ("" for none): their IDs' last part (Slack's thread timestamps).
func threadsText(conv ids.ConversationID, under []ids.ConversationID) string {
	if len(under) == 0 {
		return ""
	}
	var names []string
	for i, c := range under {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(under)-i))
			break
		}
		names = append(names, strings.TrimPrefix(string(c), string(conv)+"/"))
	}
	noun := "threads"
	if len(under) == 1 {
		noun = "thread"
	}
	return fmt.Sprintf(" here and in your %d %s of this channel (%s)", len(under), noun, strings.Join(names, ", "))
}

// helpText is HelpText with the account commands when linking is set up.
func (h *Hub) helpText() string {
	if h.o.Accounts == nil {
		return HelpText
	}
	head, tail, ok := strings.Cut(HelpText, "\nAnything else")
	if !ok {
		return HelpText + "\n" + HelpAccounts
	}
	return head + "\n" + HelpAccounts + "\nAnything else" + tail
}

// forget deletes what is kept about the user: for "all" the hub's facts,
// every app's conversation memory, every app's stored state and the
// pending replan questions of every conversation; for an app
// its memory and its state namespace. The reply says exactly what went,
// and what did not when a step failed.
func (h *Hub) forget(ctx context.Context, t *turn, arg string) string {
	var done []string
	failed := func(what string, err error) string {
		h.log.Error("forget", "what", what, "user", t.user, "err", err)
		h.audit(ctx, auditEvent(t.user, vocab.AuditForget, "", "partial: "+strings.Join(done, "; ")+"; failed: "+what))
		msg := "Sorry, I couldn't forget " + what + " right now."
		if len(done) > 0 {
			msg += " Already forgotten: " + strings.Join(done, "; ") + "."
		}
		return msg
	}
	if arg == "all" {
		if err := h.o.Store.ForgetEntities(ctx, t.user); err != nil {
			return failed("the facts you told me", err)
		}
		done = append(done, "the facts you told me")
		if err := h.o.Store.ForgetMemory(ctx, t.user, ""); err != nil {
			return failed("the apps' conversation memory", err)
		}
		done = append(done, "every app's conversation memory")
		// The hub's label records sit beside the apps' namespaces; they
		// go first and uncounted, so the count is what the apps stored.
		if err := h.forgetLabels(ctx, t.user); err != nil {
			return failed("the apps' stored data", err)
		}
		n, err := h.o.Store.ForgetAppState(ctx, t.user, "")
		if err != nil {
			return failed("the apps' stored data", err)
		}
		done = append(done, fmt.Sprintf("%d stored item(s) of the apps' data", n))
		// A pending "shall I try another plan?" holds the user's words; a
		// later yes would run a plan built from what was just forgotten.
		n, err = h.o.Store.ForgetReplans(ctx, t.user)
		if err != nil {
			return failed("your pending question whether to try another plan", err)
		}
		if n > 0 {
			done = append(done, fmt.Sprintf("%d pending question(s) whether to try another plan", n))
		}
		if what, err := h.forgetUserData(ctx, t.user, ""); err != nil {
			return failed("the apps' data folders", err)
		} else if what != "" {
			done = append(done, what)
		}
		h.audit(ctx, auditEvent(t.user, vocab.AuditForget, "", strings.Join(done, "; ")))
		return "Forgotten: " + strings.Join(done, "; ") + ". Your permissions stay (use revoke all)."
	}
	app := ids.AppID(arg)
	if err := h.o.Store.ForgetMemory(ctx, t.user, app); err != nil {
		return failed("what "+arg+" remembered", err)
	}
	done = append(done, "what "+arg+" remembered of your conversations")
	if a, ok := h.o.Catalog.App(app); ok {
		sp := a.Spec()
		n, err := h.o.Store.ForgetAppState(ctx, t.user, sp.Namespace())
		if err != nil {
			return failed(arg+"'s stored data", err)
		}
		if _, err := h.o.Store.ForgetAppState(ctx, t.user, labelNamespace(sp.Namespace())); err != nil {
			return failed(arg+"'s stored data", err)
		}
		item := fmt.Sprintf("%d stored item(s) of %s's data", n, arg)
		if shared := h.sharers(sp); len(shared) > 0 {
			item += " (shared with " + strings.Join(shared, ", ") + ")"
		}
		done = append(done, item)
	}
	if what, err := h.forgetUserData(ctx, t.user, app); err != nil {
		return failed(arg+"'s data folder", err)
	} else if what != "" {
		done = append(done, what)
	}
	h.audit(ctx, auditEvent(t.user, vocab.AuditForget, app, strings.Join(done, "; ")))
	return "Forgotten: " + strings.Join(done, "; ") + "."
}

// forgetLabels deletes user's label records (labelNamespace) of every
// installed app's state namespace.
func (h *Hub) forgetLabels(ctx context.Context, user ids.UserID) error {
	seen := map[string]bool{}
	for _, id := range h.o.Catalog.IDs() {
		a, _ := h.o.Catalog.App(id)
		ns := a.Spec().Namespace()
		if seen[ns] {
			continue
		}
		seen[ns] = true
		if _, err := h.o.Store.ForgetAppState(ctx, user, labelNamespace(ns)); err != nil {
			return fmt.Errorf("forget the label of %s: %w", ns, err)
		}
	}
	return nil
}

// sharers lists the other installed apps that use sp's state namespace.
func (h *Hub) sharers(sp apps.Spec) []string {
	var out []string
	for _, id := range h.o.Catalog.IDs() {
		a, _ := h.o.Catalog.App(id)
		if o := a.Spec(); o.ID != sp.ID && o.Namespace() == sp.Namespace() {
			out = append(out, string(o.ID))
		}
	}
	return out
}

func auditEvent(user ids.UserID, typ vocab.AuditType, app ids.AppID, detail string) state.AuditEvent {
	return state.AuditEvent{User: user, Type: typ, App: app, Detail: detail}
}

// rulesText lists the operator's permission rules for !grants ("" if none).
func (h *Hub) rulesText() string {
	rs := h.gate.Rules()
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nOperator rules (checked before your permissions; deny wins over ask, ask over allow):")
	for _, r := range rs {
		b.WriteString("\n- " + r.String())
	}
	return b.String()
}
