package hub

import (
	"context"
	"fmt"
	"slices"
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
  facts             list the names of the facts I remember about you
  forget FACT       forget one of them, and what apps kept that came from it
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
			return "Usage: forget APP|FACT|all", true
		}
		return h.forget(ctx, t, arg), true
	case "facts":
		return h.factsText(ctx, t.user), true
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

// forget handles "!forget NAME": everything ("all"), an installed app, one
// of the user's facts, or an app no longer installed, in that order.
// Whatever is forgotten, the user's warm spokes that may hold it end (on
// every replica), and for everything or a fact the prompts waiting for the
// user are withdrawn: a later "Allow" must not move what was just
// forgotten. The user's requests still running are stopped first, and
// have ended, before anything is deleted (stopRunning), and those that
// would start wait until the reply is posted (running.hold): what they
// would write after it would bring back what the reply says is gone.
func (h *Hub) forget(ctx context.Context, t *turn, arg string) string {
	// The user's requests that would start now wait until the reply is
	// posted: none reads what is being deleted and writes it back after.
	release := h.running.hold(ctx, t.user)
	t.answered = release
	if strings.EqualFold(arg, "all") {
		ran := h.stopRunning(ctx, t.user)
		h.dropWarm(ctx, t.user, "", "user data forgotten")
		h.withdraw(ctx, t.user)
		return h.forgetAll(ctx, t, ran)
	}
	// App ids are lower case (ids.AppID.Valid); people type "Quick_Ride".
	app := ids.AppID(strings.ToLower(arg))
	if _, ok := h.o.Catalog.App(app); ok {
		ran := h.stopRunning(ctx, t.user)
		h.dropWarm(ctx, t.user, app, "user data forgotten")
		return h.forgetApp(ctx, t, app, ran)
	}
	facts, err := h.o.Store.Entities(ctx, t.user)
	if err != nil {
		h.log.Error("forget: read facts", "user", t.user, "err", err)
		return "Sorry, I couldn't forget " + arg + " right now."
	}
	if keys := factKeysNamed(facts, arg); len(keys) > 0 {
		// Any warm spoke may hold the fact (warmSpoke.held); ending all of
		// the user's is simpler than asking each replica which.
		ran := h.stopRunning(ctx, t.user)
		h.dropWarm(ctx, t.user, "", "user data forgotten")
		h.withdraw(ctx, t.user)
		return h.forgetFact(ctx, t, keys, ran)
	}
	return h.forgetGone(ctx, t, app, facts)
}

// factKeysNamed returns the keys of facts that name calls: the user types
// "!forget Diagnosis" for the fact kept as "diagnosis".
func factKeysNamed(facts map[string]string, name string) []string {
	var out []string
	for _, k := range sortedKeys(facts) {
		if strings.EqualFold(k, name) {
			out = append(out, k)
		}
	}
	return out
}

// forgetSteps collects what a forget has done, so that a failing step
// can say what had already gone.
type forgetSteps struct {
	h    *Hub
	user ids.UserID
	app  ids.AppID
	done []string
}

// failed logs and audits a step that failed and returns the reply.
func (f *forgetSteps) failed(ctx context.Context, what string, err error) string {
	f.h.log.Error("forget", "what", what, "user", f.user, "err", err)
	f.h.audit(ctx, auditEvent(f.user, vocab.AuditForget, f.app, "partial: "+strings.Join(f.done, "; ")+"; failed: "+what))
	msg := "Sorry, I couldn't forget " + what + " right now."
	if len(f.done) > 0 {
		msg += " Already forgotten: " + strings.Join(f.done, "; ") + "."
	}
	return msg
}

// stopped notes the user's requests the forget stopped (stopRunning).
func (f *forgetSteps) stopped(n int) {
	if n > 0 {
		f.done = append(f.done, fmt.Sprintf("%d request(s) of yours still running, stopped", n))
	}
}

// finish audits what went and returns the reply's list of it.
func (f *forgetSteps) finish(ctx context.Context) string {
	list := strings.Join(f.done, "; ")
	f.h.audit(ctx, auditEvent(f.user, vocab.AuditForget, f.app, list))
	return list
}

// forgetAll deletes the hub's facts, every app's conversation memory,
// every app's stored state, the pending replan questions of every
// conversation and the apps' data folders; ran requests were stopped
// before. The reply says exactly what went, and what did not when a step
// failed.
func (h *Hub) forgetAll(ctx context.Context, t *turn, ran int) string {
	f := &forgetSteps{h: h, user: t.user}
	if err := h.o.Store.ForgetEntities(ctx, t.user); err != nil {
		return f.failed(ctx, "the facts you told me", err)
	}
	f.done = append(f.done, "the facts you told me")
	if err := h.o.Store.ForgetMemory(ctx, t.user, ""); err != nil {
		return f.failed(ctx, "the apps' conversation memory", err)
	}
	f.done = append(f.done, "every app's conversation memory")
	// The hub's label records sit beside the apps' namespaces; they
	// go first and uncounted, so the count is what the apps stored.
	if err := h.forgetLabels(ctx, t.user); err != nil {
		return f.failed(ctx, "the apps' stored data", err)
	}
	n, err := h.o.Store.ForgetAppState(ctx, t.user, "")
	if err != nil {
		return f.failed(ctx, "the apps' stored data", err)
	}
	f.done = append(f.done, fmt.Sprintf("%d stored item(s) of the apps' data", n))
	// A pending "shall I try another plan?" holds the user's words; a
	// later yes would run a plan built from what was just forgotten.
	n, err = h.o.Store.ForgetReplans(ctx, t.user)
	if err != nil {
		return f.failed(ctx, "your pending question whether to try another plan", err)
	}
	if n > 0 {
		f.done = append(f.done, fmt.Sprintf("%d pending question(s) whether to try another plan", n))
	}
	if what, err := h.forgetUserData(ctx, t.user, ""); err != nil {
		return f.failed(ctx, "the apps' data folders", err)
	} else if what != "" {
		f.done = append(f.done, what)
	}
	f.stopped(ran)
	return "Forgotten: " + f.finish(ctx) + ". Your permissions stay (use revoke all)."
}

// forgetApp deletes an installed app's memory, its state namespace (with
// the hub's label of it) and its data folder; ran requests were stopped
// before.
func (h *Hub) forgetApp(ctx context.Context, t *turn, app ids.AppID, ran int) string {
	f := &forgetSteps{h: h, user: t.user, app: app}
	if reply := h.forgetAppData(ctx, f, app, ""); reply != "" {
		return reply
	}
	f.stopped(ran)
	return "Forgotten: " + f.finish(ctx) + "."
}

// forgetAppData is forgetApp's work, recorded in f; why, if not "", says
// in the reply why the app's data went (a fact it came from). It returns
// a reply only when a step failed.
func (h *Hub) forgetAppData(ctx context.Context, f *forgetSteps, app ids.AppID, why string) string {
	name := string(app)
	if err := h.o.Store.ForgetMemory(ctx, f.user, app); err != nil {
		return f.failed(ctx, "what "+name+" remembered", err)
	}
	f.done = append(f.done, "what "+name+" remembered of your conversations"+why)
	if a, ok := h.o.Catalog.App(app); ok {
		sp := a.Spec()
		n, err := h.o.Store.ForgetAppState(ctx, f.user, sp.Namespace())
		if err != nil {
			return f.failed(ctx, name+"'s stored data", err)
		}
		if _, err := h.o.Store.ForgetAppState(ctx, f.user, labelNamespace(sp.Namespace())); err != nil {
			return f.failed(ctx, name+"'s stored data", err)
		}
		item := fmt.Sprintf("%d stored item(s) of %s's data", n, name)
		if shared := h.sharers(sp); len(shared) > 0 {
			item += " (shared with " + strings.Join(shared, ", ") + ")"
		}
		f.done = append(f.done, item+why)
	}
	if what, err := h.forgetUserData(ctx, f.user, app); err != nil {
		return f.failed(ctx, name+"'s data folder", err)
	} else if what != "" {
		f.done = append(f.done, what+why)
	}
	return ""
}

// forgetFact deletes the user's facts kept under keys, and first the data
// of every installed app whose kept data the hub labelled with one of
// them (its memory or its state namespace: labels name facts by key, and
// resolve a forgotten key to nothing, so a copy left behind would no
// longer be guarded as the fact) and the user's pending replan questions.
// An app's data goes whole: labels do not say which entry a fact went
// into. ran requests were stopped before.
func (h *Hub) forgetFact(ctx context.Context, t *turn, keys []string, ran int) string {
	f := &forgetSteps{h: h, user: t.user}
	name := strings.Join(keys, ", ")
	holders, err := h.factHolders(ctx, t.user, keys)
	if err != nil {
		return f.failed(ctx, "what apps kept that came from "+name, err)
	}
	for _, app := range holders {
		if reply := h.forgetAppData(ctx, f, app, " (it came from "+name+")"); reply != "" {
			return reply
		}
	}
	// As after "!forget all": a pending "shall I try another plan?" holds
	// the user's words, which may have told the fact.
	n, err := h.o.Store.ForgetReplans(ctx, t.user)
	if err != nil {
		return f.failed(ctx, "your pending question whether to try another plan", err)
	}
	if n > 0 {
		f.done = append(f.done, fmt.Sprintf("%d pending question(s) whether to try another plan", n))
	}
	for _, k := range keys {
		if _, err := h.o.Store.ForgetEntity(ctx, t.user, k); err != nil {
			return f.failed(ctx, "your fact "+k, err)
		}
	}
	f.done = append([]string{"your fact " + name}, f.done...)
	f.stopped(ran)
	// The reply starts "Forgotten: your fact " when every step succeeded
	// (the invariant harness waits for it: forgetFactReply there).
	list := f.finish(ctx)
	if len(holders) == 0 {
		return "Forgotten: " + list + ". No app kept anything that came from it."
	}
	return "Forgotten: " + list + "."
}

// factHolders lists the installed apps whose memory (the newest entries
// an app can read back, maxMemoryRead) or state namespace the hub
// labelled with one of keys.
func (h *Hub) factHolders(ctx context.Context, user ids.UserID, keys []string) ([]ids.AppID, error) {
	names := func(fks []string) bool {
		return slices.ContainsFunc(fks, func(k string) bool { return slices.Contains(keys, k) })
	}
	var out []ids.AppID
	for _, id := range h.o.Catalog.IDs() {
		es, err := h.o.Store.ReadMemory(ctx, user, id, maxMemoryRead)
		if err != nil {
			return nil, fmt.Errorf("read the memory of %s: %w", id, err)
		}
		held := slices.ContainsFunc(es, func(e state.MemoryEntry) bool { return names(e.FactKeys) })
		if !held {
			a, _ := h.o.Catalog.App(id)
			k, err := h.stateKept(ctx, user, a.Spec().Namespace())
			if err != nil {
				return nil, err
			}
			held = names(k.factKeys)
		}
		if held {
			out = append(out, id)
		}
	}
	return out, nil
}

// forgetGone handles "!forget NAME" for a name that is neither an
// installed app nor a fact: an app no longer installed may have left
// memory and a data folder. With nothing there, the reply says what the
// names are.
func (h *Hub) forgetGone(ctx context.Context, t *turn, app ids.AppID, facts map[string]string) string {
	f := &forgetSteps{h: h, user: t.user, app: app}
	if app.Valid() {
		es, err := h.o.Store.ReadMemory(ctx, t.user, app, 1)
		if err != nil {
			return f.failed(ctx, "what "+string(app)+" remembered", err)
		}
		if len(es) > 0 {
			if err := h.o.Store.ForgetMemory(ctx, t.user, app); err != nil {
				return f.failed(ctx, "what "+string(app)+" remembered", err)
			}
			f.done = append(f.done, "what "+string(app)+" (no longer installed) remembered of your conversations")
		}
		if what, err := h.forgetUserData(ctx, t.user, app); err != nil {
			return f.failed(ctx, string(app)+"'s data folder", err)
		} else if what != "" {
			f.done = append(f.done, what)
		}
	}
	if len(f.done) > 0 {
		return "Forgotten: " + f.finish(ctx) + "."
	}
	known := "none"
	if len(facts) > 0 {
		known = strings.Join(sortedKeys(facts), ", ")
	}
	return fmt.Sprintf("Nothing is called %q here: it is no installed app, and no fact I remember about you (facts: %s). Installed apps: %s. !forget all forgets everything.",
		string(app), known, joinApps(h.o.Catalog.IDs()))
}

// joinApps lists apps for a reply.
func joinApps(apps []ids.AppID) string {
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// factsText answers "!facts": the names of the user's facts, never their
// values (the reply may be read in a shared channel).
func (h *Hub) factsText(ctx context.Context, user ids.UserID) string {
	facts, err := h.o.Store.Entities(ctx, user)
	if err != nil {
		h.log.Error("list facts", "user", user, "err", err)
		return "Sorry, I couldn't read the facts I remember right now."
	}
	if len(facts) == 0 {
		return "I remember no facts about you."
	}
	return "Facts I remember about you (names only): " + strings.Join(sortedKeys(facts), ", ") +
		". !forget NAME forgets one, and what apps kept that came from it."
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
