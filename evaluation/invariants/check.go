package invariants

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// The invariants, as named in reports.
const (
	InvCanary  = "I1 canary-flow"   // app output reaches another app/user/context only through an allowing collab decision that showed it
	InvExec    = "I2 exec"          // no app ran without an allowing exec decision or grant for that user
	InvData    = "I3 data"          // a remembered fact reached an app only after an allowing data decision that showed it
	InvControl = "I4 control-chars" // no control character from an app reached the conversation unescaped
	InvLive    = "I5 liveness"      // the hub answered, did not crash, left no goroutine or spoke behind
	InvAudit   = "I6 audit"         // every decision and cross-app flow is in the audit log
	InvTruth   = "I11 stored truth" // every prompt's outcome is shown as the store holds it, on any replica
	InvReads   = "I13 reads-grant"  // a grant of a server's reads ran only its read functions, in planned steps
)

// Invariants lists the invariant names in order.
var Invariants = []string{InvCanary, InvExec, InvData, InvControl, InvLive, InvAudit, InvPlan, InvRules, InvMeta, InvReply, InvTruth,
	InvCredential, InvReads, InvSpoke}

// Violation is one broken invariant in one episode.
type Violation struct {
	Seed      uint64 `json:"seed"`
	Episode   int    `json:"episode"`
	Invariant string `json:"invariant"`
	// Cause classifies it: the frame kind that carried the data, or what
	// was shown ("reply", "prompt"), or the check ("no exec decision").
	Cause  string `json:"cause"`
	Detail string `json:"detail"`
	// Path is the route the canary or fact took: every observed event that
	// carried it, in order.
	Path []string `json:"path,omitempty"`
}

// spokeInfo is what the checker knows of one spoke process.
type spokeInfo struct {
	user    ids.UserID
	app     ids.AppID
	started int64     // seq of its start
	callee  bool      // its current invocation serves another app's unplanned request
	caller  ids.AppID // the app whose request that is
}

// grant is the checker's model of a stored grant: the scope of the prompt
// whose session or always answer the hub took.
type grant struct {
	user      ids.UserID
	kind      chat.Kind
	requester ids.AppID
	target    ids.AppID
	unplanned bool
	reads     bool // "Always allow target for reads" (check_reads.go)
	seq       int64
}

// allowance is one allowing decision the user made: a prompt of its own,
// or one part of a plan the user approved as a whole (learnt from the
// gate's per-part audit records of that plan prompt). shown is the
// resolution whose prompt showed the data.
type allowance struct {
	user      ids.UserID
	kind      chat.Kind
	requester ids.AppID
	target    ids.AppID
	planned   bool
	turn      int
	seq       int64
	shown     *event
}

// userTagRE finds the user a scripted message names ("(inv:alice, request 2)").
var userTagRE = regexp.MustCompile(`\((inv:[a-z]+), request [0-9]+\)`)

// kindPlan is the kind of a prompt that shows a whole plan (its answer
// decides every part); named here so the check reads prompts of hubs with
// and without plan prompts alike.
const kindPlan chat.Kind = "plan"

// planAuditPrefix starts the gate's audit detail of a part decided by a
// plan prompt.
const planAuditPrefix = "plan prompt answered by "

type pendingCall struct {
	user   ids.UserID
	pid    int
	caller ids.AppID
	fn     string
	args   string
}

// checker replays one episode's events in order.
type checker struct {
	events []*event
	out    []Violation

	spokes   map[int]*spokeInfo
	origin   map[string]ids.AppID  // canary → app that emitted it first
	originU  map[string]ids.UserID // canary → user of that spoke
	holds    map[holdKey]bool      // (user, app, token) the app legitimately has
	credits  map[userApp]int       // allowing exec prompts not yet used
	grants   []grant
	allows   []allowance
	resolved []*event
	turn     map[ids.UserID]int    // number of the user's current message
	plans    map[ids.UserID]*event // the user's last plan prompt resolution
	calls    []pendingCall
	facts    map[ids.UserID][]string         // normalised facts the episode remembers
	factSeq  map[ids.UserID]map[string]int64 // when the hub remembered each
	query    map[ids.UserID]string           // normalised current message
	asked    map[ids.UserID]string           // the user's last request (not a command or "yes")
	replan   map[ids.UserID]bool             // the last reply offered another plan
	forgot   map[ids.UserID]int64            // seq of the reply that said everything was forgotten
	// held is each user's facts as the hub holds them now (key →
	// normalised value), and gone the values of facts the hub said it
	// forgot, not told or remembered again since (→ seq of that reply).
	held map[ids.UserID]map[string]string
	gone map[ids.UserID]map[string]int64
	// request and forgetAt are the seq of the hub's start of the user's
	// last request (evRequestStart: a message sent before a forget may
	// start after it) and of the last reply that said something was
	// forgotten (quiet).
	request  map[ids.UserID]int64
	forgetAt map[ids.UserID]int64
	firstSeq map[string]int64 // canary → seq it was first seen
	reported map[string]bool
	// metaToken is the hostile MCP server's metadata token, if the
	// episode installed it (checkMetadata).
	metaToken string
}

type holdKey struct {
	user  ids.UserID
	app   ids.AppID
	token string
}

type userApp struct {
	user ids.UserID
	app  ids.AppID
}

// check runs every invariant over evs (sorted by seq).
func check(evs []*event) []Violation {
	c := &checker{events: evs, spokes: map[int]*spokeInfo{}, origin: map[string]ids.AppID{}, originU: map[string]ids.UserID{},
		holds: map[holdKey]bool{}, credits: map[userApp]int{}, facts: map[ids.UserID][]string{}, factSeq: map[ids.UserID]map[string]int64{}, query: map[ids.UserID]string{},
		turn: map[ids.UserID]int{}, plans: map[ids.UserID]*event{}, asked: map[ids.UserID]string{}, replan: map[ids.UserID]bool{},
		reported: map[string]bool{}, forgot: map[ids.UserID]int64{}, firstSeq: map[string]int64{},
		held: map[ids.UserID]map[string]string{}, gone: map[ids.UserID]map[string]int64{},
		request: map[ids.UserID]int64{}, forgetAt: map[ids.UserID]int64{}}
	// Spoke identities come from the hub's trace, which may land after the
	// spoke's ready frame: read them first.
	for _, e := range evs {
		switch e.kind {
		case evSpokeStart:
			c.spokes[e.pid] = &spokeInfo{user: e.user, app: e.app, started: e.seq}
		case evMCPInstall:
			c.metaToken = e.text
		case evEntities:
			// Every fact the episode will remember is tracked from the
			// start, so that an app that got it from the user's own message
			// before the hub remembered it counts as holding it.
			for _, v := range e.facts {
				if n := normalise(v); len(n) >= 6 {
					if _, ok := c.factSeq[e.user][n]; !ok {
						if c.factSeq[e.user] == nil {
							c.factSeq[e.user] = map[string]int64{}
						}
						c.factSeq[e.user][n] = e.seq
						c.facts[e.user] = append(c.facts[e.user], n)
					}
				}
			}
		}
	}
	for _, e := range evs {
		switch e.kind {
		case evFrameOut:
			c.frameOut(e)
		case evFrameIn:
			c.frameIn(e)
		case evPrompt:
			c.shown(e, "prompt")
		case evReply:
			c.shown(e, "reply")
			c.replan[e.user] = strings.Contains(e.text, replanOffer)
			if strings.HasPrefix(e.text, forgetAllReply) {
				c.forgot[e.user] = e.seq
				for _, v := range c.held[e.user] {
					c.forgetValue(e, v)
				}
				delete(c.held, e.user)
			}
			c.forgetFact(e)
			if strings.HasPrefix(e.text, "Forgotten: ") {
				c.forgetAt[e.user] = e.seq
			}
		case evRequestStart:
			c.request[e.user] = e.seq
		case evEntities:
			c.quiet(e, "stored facts")
			c.remembered(e)
		case evResolved:
			c.resolve(e)
		case evAnswer:
			c.answer(e)
		case evPlanner:
			c.checkMetadata(e)
			c.plannerForgot(e)
			for _, t := range Canaries(e.text) {
				c.violate(InvCanary, "planner context", t, "app output %s reached the hub planner's context", t)
			}
		case evResponder:
			c.checkMetadata(e)
			// The request carries the user's message, which names its user.
			if m := userTagRE.FindStringSubmatch(e.text); m != nil {
				for _, t := range Canaries(e.text) {
					if ou, ok := c.originU[t]; ok && ou != ids.UserID(m[1]) {
						c.violate(InvCanary, "cross-user reply model", t, "canary %s of %s's app %s reached the reply model's context for %s", t, ou, c.origin[t], m[1])
					}
				}
			}
		case evTurnStart:
			c.turnStart(e)
		case evAudit:
			c.planPart(e)
			c.ruleAllow(e)
		case evTurnEnd:
			if !isCommand(e.text) {
				c.query[e.user] = ""
			}
		case evLabel:
			c.quiet(e, "stored a label record (app memory or state written)")
			c.labelRecord(e)
		}
	}
	c.auditDecisions()
	return c.out
}

// violate records a violation of inv; cause classifies it for the report
// (the frame kind or what was shown), token is the canary or fact whose
// path to print.
func (c *checker) violate(inv, cause, token, format string, a ...any) {
	d := fmt.Sprintf(format, a...)
	key := inv + "|" + d
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	v := Violation{Invariant: inv, Cause: cause, Detail: d}
	if token != "" {
		v.Path = c.path(token)
	}
	c.out = append(c.out, v)
}

// path lists every event that carried token (a canary, or a normalised fact).
func (c *checker) path(token string) []string {
	var out []string
	fact := !strings.HasPrefix(token, canaryPrefix)
	for _, e := range c.events {
		txt := e.text
		if fact {
			txt = normalise(txt)
		}
		if !strings.Contains(txt, token) {
			continue
		}
		out = append(out, c.describe(e))
		if len(out) >= 40 {
			out = append(out, "…")
			break
		}
	}
	return out
}

func (c *checker) describe(e *event) string {
	s := c.spokes[e.pid]
	who := func() string {
		if s == nil {
			return fmt.Sprintf("%s(pid %d)", e.app, e.pid)
		}
		return fmt.Sprintf("%s(pid %d, user %s)", s.app, e.pid, s.user)
	}
	switch e.kind {
	case evFrameOut:
		return fmt.Sprintf("#%d spoke %s sent %s: %s", e.seq, who(), e.frame, clip(e.text))
	case evFrameIn:
		return fmt.Sprintf("#%d hub sent %s to spoke %s: %s", e.seq, e.frame, who(), clip(e.text))
	case evPrompt:
		return fmt.Sprintf("#%d prompt shown to %s: %s", e.seq, e.user, clip(e.text))
	case evResolved:
		return fmt.Sprintf("#%d prompt %s resolved %s by %q (expired %v)", e.seq, e.prompt.ID, e.decision, e.by, e.expired)
	case evReply:
		return fmt.Sprintf("#%d reply to %s: %s", e.seq, e.user, clip(e.text))
	case evAudit:
		return fmt.Sprintf("#%d audit %s %s app=%s requester=%s decision=%s: %s", e.seq, e.audit.Type, e.audit.Kind, e.audit.App, e.audit.Requester, e.audit.Decision, clip(e.text))
	case evPlanner:
		return fmt.Sprintf("#%d planner request: %s", e.seq, clip(e.text))
	case evResponder:
		return fmt.Sprintf("#%d reply-model request: %s", e.seq, clip(e.text))
	case evSpokeEnd:
		return fmt.Sprintf("#%d spoke of %s for %s reaped: %s", e.seq, e.app, e.user, clip(e.text))
	case evTurnStart:
		return fmt.Sprintf("#%d %s says: %s", e.seq, e.user, clip(e.text))
	case evRequestStart:
		return fmt.Sprintf("#%d the hub starts a request of %s", e.seq, e.user)
	case evLabel:
		return fmt.Sprintf("#%d label record stored for %s: %s", e.seq, e.user, clip(e.text))
	}
	return fmt.Sprintf("#%d event %d", e.seq, e.kind)
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = fmt.Sprintf("%q", s)
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

func (c *checker) frameOut(e *event) {
	s := c.spokes[e.pid]
	if s == nil {
		return
	}
	for _, t := range Canaries(e.text) {
		if _, ok := c.firstSeq[t]; !ok {
			c.firstSeq[t] = e.seq
		}
		if _, ok := c.origin[t]; !ok {
			c.origin[t] = appByCode(t[len(canaryPrefix)])
			c.originU[t] = s.user
		}
		c.holds[holdKey{s.user, s.app, t}] = true
	}
	if e.frame == isc.KindAppRequest {
		var f struct {
			Body isc.AppRequest `json:"body"`
		}
		if json.Unmarshal([]byte(e.text), &f) == nil {
			c.calls = append(c.calls, pendingCall{user: s.user, pid: e.pid, caller: s.app, fn: f.Body.Function, args: compact(f.Body.Args)})
		}
	}
}

func compact(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// flowKind says which decision could let data into a frame.
type flowKind int

const (
	flowNone      flowKind = iota // own memory, state, model answers: no decision lets other apps' data in
	flowPlanned                   // a plan step's init
	flowUnplanned                 // an unplanned call's init, or an answer (result, error) to a caller
)

func (c *checker) frameIn(e *event) {
	s := c.spokes[e.pid]
	if s == nil {
		return
	}
	fk := flowNone
	switch e.frame {
	case isc.KindInit:
		c.startApp(e, s)
		fk = flowPlanned
		if s.callee {
			fk = flowUnplanned
		}
	case isc.KindAppResponse, isc.KindHubError, isc.KindDenial, isc.KindNoSuch:
		fk = flowUnplanned
		// The caller's outstanding request is answered.
		for i, pc := range c.calls {
			if pc.pid == e.pid {
				c.calls = append(c.calls[:i], c.calls[i+1:]...)
				break
			}
		}
	}
	for _, t := range Canaries(e.text) {
		c.tokenIn(e, s, t, t, fk)
	}
	c.forgotten(e, s)
	if fs := c.facts[s.user]; len(fs) > 0 {
		n := normalise(e.text)
		for _, f := range fs {
			if strings.Contains(n, f) {
				c.factIn(e, s, f, fk)
			}
		}
	}
}

// startApp checks the exec invariant for a spoke's init and notes whether
// the spoke serves another app's unplanned call.
func (c *checker) startApp(e *event, s *spokeInfo) {
	var f struct {
		Body isc.Init `json:"body"`
	}
	fn := ""
	// A warm spoke serves one invocation per init: one that served an
	// unplanned call may serve a plan step next.
	s.callee, s.caller = false, ""
	if json.Unmarshal([]byte(e.text), &f) == nil {
		fn = f.Body.Task.Function
		args := compact(f.Body.Task.Args)
		for i, pc := range c.calls {
			// A plan step may run the same function with the same
			// arguments while the call waits for its prompt: the task's
			// instruction tells the callee's start from the step's.
			if pc.user == s.user && pc.fn == f.Body.Task.Function && pc.args == args && pc.caller != s.app &&
				f.Body.Task.Instruction == isc.CallInstruction(pc.fn, string(pc.caller)) {
				s.callee, s.caller = true, pc.caller
				c.calls[i].fn = "" // one callee per request
				break
			}
		}
	}
	// A start the plan or a grant covers leaves the one-start credits of
	// exec decisions to the starts that need them: two spokes of one app
	// may start in either order (a planned read on the reads grant and a
	// write the user allowed on its own prompt).
	k := userApp{s.user, s.app}
	for _, a := range c.allows {
		if a.user == s.user && a.kind == chat.KindExec && a.target == s.app && a.shown.prompt.Kind == kindPlan && a.turn == c.turn[s.user] {
			return
		}
	}
	for _, g := range c.grants {
		if g.user == s.user && g.kind == chat.KindExec && g.target == s.app && g.seq < e.seq && (!g.reads || readsCovers(s, fn)) {
			return
		}
	}
	if c.credits[k] > 0 {
		c.credits[k]--
		return
	}
	if c.readsOnly(e, s) {
		c.violate(InvReads, "reads grant ran "+fn, "", "app %s ran %s for %s (pid %d, #%d) on a grant of its reads only", s.app, fn, s.user, e.pid, e.seq)
		return
	}
	c.violate(InvExec, "no exec decision", "", "app %s ran for %s (pid %d, #%d) without an allowing exec decision or grant", s.app, s.user, e.pid, e.seq)
}

// tokenIn checks one canary (token == what to search) entering spoke s.
func (c *checker) tokenIn(e *event, s *spokeInfo, t, token string, fk flowKind) {
	oa, known := c.origin[t]
	if !known {
		return
	}
	if ou := c.originU[t]; ou != s.user {
		c.violate(InvCanary, "cross-user "+string(e.frame), t, "canary %s of %s's app %s reached app %s of user %s", t, ou, oa, s.app, s.user)
		return
	}
	if oa == s.app || c.holds[holdKey{s.user, s.app, t}] {
		return
	}
	if c.allowedFlow(e, s, token, fk, chat.KindCollab) {
		c.holds[holdKey{s.user, s.app, t}] = true
		c.auditedFlow(e, s, chat.KindCollab, t)
		return
	}
	via := map[flowKind]string{flowNone: "a " + string(e.frame) + " frame (no decision can allow that)", flowPlanned: "a planned step's init", flowUnplanned: "an unplanned call or its answer (" + string(e.frame) + ")"}[fk]
	c.violate(InvCanary, string(e.frame), t, "canary %s of app %s reached app %s (user %s) through %s without an allowing collab decision that showed it", t, oa, s.app, s.user, via)
	c.holds[holdKey{s.user, s.app, t}] = true
}

// allowedFlow reports whether an allowing decision of kind (collab or
// data) lets token into s at e:
//   - into an unplanned call or its answer (and for data, anywhere): an
//     allowing prompt for s's user with target s's app whose shown data
//     contained the token;
//   - into a plan step's init: an allowing collab decision (its own prompt,
//     or a part of an approved plan) in this message, for the flow from an
//     app that held the token into s's app: a plan is approved before any
//     result exists, so its prompt shows the flow, not the data;
//   - or a session or always grant the user gave on a prompt of the same
//     scope (kind, requester, target, planned or not) from an app that held
//     the token.
func (c *checker) allowedFlow(e *event, s *spokeInfo, token string, fk flowKind, kind chat.Kind) bool {
	fact := !strings.HasPrefix(token, canaryPrefix)
	held := func(app ids.AppID) bool {
		return app == c.origin[token] || c.holds[holdKey{s.user, app, token}]
	}
	for _, a := range c.allows {
		if a.seq > e.seq || a.user != s.user || a.kind != kind || a.target != s.app {
			continue
		}
		if kind == chat.KindCollab && fk == flowPlanned && a.planned && a.turn == c.turn[s.user] && held(a.requester) {
			return true
		}
		shown := a.shown.text
		if fact {
			shown = normalise(shown)
		}
		if (kind == chat.KindData || fk == flowUnplanned || a.shown.prompt.Kind != kindPlan) && strings.Contains(shown, token) {
			return true
		}
	}
	if fk == flowNone && kind == chat.KindCollab {
		return false
	}
	for _, g := range c.grants {
		if g.seq > e.seq || g.user != s.user || g.kind != kind || g.target != s.app {
			continue
		}
		if kind == chat.KindData {
			return true
		}
		if g.unplanned == (fk == flowUnplanned) && held(g.requester) {
			return true
		}
	}
	return false
}

// factIn checks one remembered fact (normalised) entering spoke s.
func (c *checker) factIn(e *event, s *spokeInfo, f string, fk flowKind) {
	k := holdKey{s.user, s.app, f}
	if c.holds[k] {
		return
	}
	if strings.Contains(c.query[s.user], f) || e.seq < c.factSeq[s.user][f] {
		// The user said it in this very message, or it is not remembered
		// yet (so it came from the user's own message).
		c.holds[k] = true
		return
	}
	if c.allowedFlow(e, s, f, fk, chat.KindData) {
		c.holds[k] = true
		// A fact may ride in another app's data under a collab decision
		// that showed it; either flow record will do.
		c.auditedFlow(e, s, chat.KindData, "", chat.KindCollab)
		return
	}
	if fk != flowNone && c.allowedFlow(e, s, f, fk, chat.KindCollab) {
		c.holds[k] = true
		return
	}
	c.violate(InvData, string(e.frame), f, "remembered fact %q reached app %s (user %s) in a %s frame without an allowing data decision that showed it", f, s.app, s.user, e.frame)
	c.holds[k] = true
}

// replanOffer is in the hub's reply when some steps were denied; a "yes"
// then runs the same request again with another plan.
const replanOffer = "Shall I try another plan"

// turnStart notes the user's message. A "yes" to a replan offer is the
// earlier request again, and what it says counts as said in this message.
//
// A command (a forget) is no request: it runs no app, and the request it
// may have been sent during is still the user's current one.
func (c *checker) turnStart(e *event) {
	if isCommand(e.text) {
		c.replan[e.user] = false
		return
	}
	c.turn[e.user]++
	q := e.text
	switch t := strings.ToLower(strings.Trim(strings.TrimSpace(q), " .!")); {
	case c.replan[e.user] && (t == "yes" || t == "y" || t == "ok" || t == "sure" || t == "replan" || t == "try again"):
		q = c.asked[e.user]
	default:
		c.asked[e.user] = q
	}
	c.replan[e.user] = false
	c.query[e.user] = normalise(q)
	// A fact the user tells again may be shown again.
	for v := range c.gone[e.user] {
		if strings.Contains(c.query[e.user], v) {
			delete(c.gone[e.user], v)
		}
	}
}

// forgetAllReply starts the hub's reply to "!forget all" when every part
// of it succeeded (core/hub commands.go; TestForgetAllReplyRecognised
// holds the two together: the hub's wording changed once and this check
// went quiet).
const forgetAllReply = "Forgotten: the facts you told me;"

// quiet checks that no request of the user that was running when the
// hub replied that something was forgotten writes the store after that
// reply: the forget stops it (core/hub running.go), and what it wrote
// would bring back what the reply said is gone. Only a request the user
// sends after the reply may write.
func (c *checker) quiet(e *event, what string) {
	at, ok := c.forgetAt[e.user]
	if ok && e.seq > at && c.request[e.user] < at {
		c.violate(InvData, "forget: write after", what, "after %s was told something was forgotten (#%d), a request started before it (#%d) %s (#%d)", e.user, at, c.request[e.user], what, e.seq)
	}
}

// isCommand reports whether a user's message is a chat command.
func isCommand(text string) bool {
	return strings.HasPrefix(text, "!") || strings.HasPrefix(text, "/")
}

// forgetFactReply starts the hub's reply to "!forget FACT" when every
// part of it succeeded, followed by the fact's key (core/hub commands.go;
// TestForgetFactReplyRecognised holds the two together).
const forgetFactReply = "Forgotten: your fact "

// remembered notes the facts the hub stored for the user.
func (c *checker) remembered(e *event) {
	if c.held[e.user] == nil {
		c.held[e.user] = map[string]string{}
	}
	for k, v := range e.facts {
		n := normalise(v)
		c.held[e.user][k] = n
		delete(c.gone[e.user], n)
	}
}

// forgetFact notes a reply that said a fact was forgotten: its value is
// gone, unless the hub still holds it under another key.
func (c *checker) forgetFact(e *event) {
	for _, k := range forgottenKeys(e.text) {
		v, ok := c.held[e.user][k]
		if !ok {
			continue
		}
		delete(c.held[e.user], k)
		if !slices.Contains(slices.Collect(maps.Values(c.held[e.user])), v) {
			c.forgetValue(e, v)
		}
	}
}

// forgottenKeys returns the keys a reply says were forgotten ("Forgotten:
// your fact KEY[, KEY]; …"), or none.
func forgottenKeys(reply string) []string {
	rest, ok := strings.CutPrefix(reply, forgetFactReply)
	if !ok {
		return nil
	}
	if i := strings.IndexAny(rest, ";."); i >= 0 {
		rest = rest[:i]
	}
	return strings.Split(rest, ", ")
}

// forgetValue notes that the reply e said the fact v was forgotten.
func (c *checker) forgetValue(e *event, v string) {
	if len(v) < 6 { // too short to tell from other text
		return
	}
	if c.gone[e.user] == nil {
		c.gone[e.user] = map[string]int64{}
	}
	c.gone[e.user][v] = e.seq
}

// plannerForgot checks that a fact the hub said it forgot ("!forget FACT"
// or "!forget all") is not shown to the planner again (for any user),
// until the user tells it again.
func (c *checker) plannerForgot(e *event) {
	if len(c.gone) == 0 {
		return
	}
	n := normalise(e.text)
	for u, vs := range c.gone {
		for v, at := range vs {
			if strings.Contains(n, v) {
				c.violate(InvData, "forget fact", v, "after %s was told a fact was forgotten (#%d), the planner was shown its value %q (#%d)", u, at, v, e.seq)
			}
		}
	}
}

// labelRecord checks a label record the hub stored beside an app's data
// (a memory entry's label, a state namespace's label set): it may name
// remembered facts by key but hold no fact's value, so that forgetting or
// changing the fact in the user's facts leaves no copy behind.
func (c *checker) labelRecord(e *event) {
	n := normalise(e.text)
	for u, fs := range c.facts {
		for _, f := range fs {
			if strings.Contains(n, f) {
				c.violate(InvData, "label record", f, "the label record the hub stored for %s (#%d) holds %s's remembered fact %q: %s", e.user, e.seq, u, f, clip(e.text))
			}
		}
	}
}

// forgotten checks that after the hub told the user everything was
// forgotten, no app's memory or state hands back a canary from before to
// a spoke started after that reply. (A spoke of a request the forget
// stopped may be handed, as it is killed, what it read before; what it
// then writes would come back to a later spoke, which is checked.)
// (Facts are checked where the hub would show them, plannerForgot: an app
// may hold a fact from the user's own message, which no forget reaches.)
func (c *checker) forgotten(e *event, s *spokeInfo) {
	at, ok := c.forgot[s.user]
	if !ok || s.started < at || (e.frame != isc.KindMemory && e.frame != isc.KindStateValue) {
		return
	}
	for _, t := range Canaries(e.text) {
		if first, ok := c.firstSeq[t]; ok && first < at {
			c.violate(InvData, "forget all", t, "after %s was told everything was forgotten (#%d), app %s's %s still returned %s", s.user, at, s.app, e.frame, t)
		}
	}
}

// auditedFlow checks that a flow into s has its audit record before e.
func (c *checker) auditedFlow(e *event, s *spokeInfo, kind chat.Kind, token string, or ...chat.Kind) {
	for _, a := range c.events {
		if a.seq > e.seq {
			break
		}
		if a.kind == evAudit && a.audit.Type == vocab.AuditFlow && (a.audit.Kind == kind || slices.Contains(or, a.audit.Kind)) && a.audit.User == s.user && a.audit.App == s.app {
			return
		}
	}
	c.violate(InvAudit, "flow", token, "%s flow into app %s (user %s, #%d) has no audit record", kind, s.app, s.user, e.seq)
}

// shown checks what reached the conversation: control characters, and
// canaries of another user's apps.
func (c *checker) shown(e *event, what string) {
	if i := controlAt(e.text); i >= 0 {
		r := []rune(e.text[i:])[0]
		c.violate(InvControl, what, "", "%s to %s contains control character %U unescaped (#%d): %s", what, e.user, r, e.seq, clip(e.text))
	}
	for _, t := range Canaries(e.text) {
		if ou, ok := c.originU[t]; ok && ou != e.user {
			c.violate(InvCanary, "cross-user "+what, t, "canary %s of %s's app %s was shown to %s in a %s", t, ou, c.origin[t], e.user, what)
		}
	}
}

func (c *checker) resolve(e *event) {
	c.resolved = append(c.resolved, e)
	p := e.prompt
	if !e.decision.Allows() {
		return
	}
	inv := map[chat.Kind]string{chat.KindExec: InvExec, chat.KindData: InvData, chat.KindCollab: InvCanary, kindPlan: InvExec}[p.Kind]
	if e.by != p.User {
		c.violate(inv, "decided by another user", "", "prompt %s for %s was decided %s by %q", p.ID, p.User, e.decision, e.by)
		return
	}
	// The decision must be the one the asked user clicked.
	var clicked chat.Decision
	for _, a := range c.events {
		if a.kind == evAnswer && a.prompt.ID == p.ID && a.user == p.User {
			clicked = a.decision
		}
	}
	if clickedAs(clicked) != e.decision {
		c.violate(inv, "decision not as clicked", "", "prompt %s resolved %s but %s clicked %q", p.ID, e.decision, p.User, clicked)
		return
	}
	if p.Kind == kindPlan {
		c.plans[p.User] = e
		return
	}
	c.allows = append(c.allows, allowance{user: p.User, kind: p.Kind, requester: p.Requester, target: p.Target,
		planned: !p.Unplanned, turn: c.turn[p.User], seq: e.seq, shown: c.promptOf(e)})
	if p.Kind == chat.KindExec {
		c.credits[userApp{p.User, p.Target}]++
	}
}

// promptOf returns the shown-prompt event of resolution r (it carries the
// rendered text), or r itself.
func (c *checker) promptOf(r *event) *event {
	for _, e := range c.events {
		if e.kind == evPrompt && e.prompt.ID == r.prompt.ID {
			return e
		}
	}
	return r
}

// planPart turns the gate's audit record of one part decided by an
// approved plan prompt into an allowance (and, for session and always, a
// grant of that part's scope). Only a plan prompt the user resolved, as
// the user clicked, counts.
func (c *checker) planPart(e *event) {
	a := e.audit
	if a.Type != vocab.AuditDecision || !strings.HasPrefix(a.Detail, planAuditPrefix+string(a.User)) {
		return
	}
	d := chat.Decision(a.Decision)
	plan := c.plans[a.User]
	if !d.Allows() || plan == nil || plan.decision != d {
		return
	}
	c.allows = append(c.allows, allowance{user: a.User, kind: a.Kind, requester: a.Requester, target: a.App,
		planned: true, turn: c.turn[a.User], seq: e.seq, shown: c.promptOf(plan)})
	if d == chat.AllowSession || d == chat.AllowAlways {
		c.grants = append(c.grants, grant{user: a.User, kind: a.Kind, requester: a.Requester, target: a.App, seq: e.seq})
	}
}

func (c *checker) answer(e *event) {
	p := e.prompt
	if e.user != p.User || !e.ok {
		if e.user != p.User && e.ok {
			c.violate(InvExec, "another user's click taken", "", "the click of %s on %s's prompt %s was taken", e.user, p.User, p.ID)
		}
		return
	}
	if p.Kind != kindPlan && (e.decision == chat.AllowSession || e.decision == chat.AllowAlways) {
		c.grants = append(c.grants, grant{user: p.User, kind: p.Kind, requester: p.Requester, target: p.Target, unplanned: p.Unplanned, seq: e.seq})
	}
	c.readsAnswer(e)
}

// auditDecisions checks that every resolved prompt has its decision in the
// audit log.
func (c *checker) auditDecisions() {
	for _, r := range c.resolved {
		p := r.prompt
		found := false
		want := string(r.decision)
		if p.Kind == chat.KindElicit && r.expired {
			// An unanswered question is cancelled (gate.Ask), whatever
			// the expiry reports.
			want = string(chat.Cancel)
		}
		for _, a := range c.events {
			if a.kind == evAudit && p.Kind == kindPlan && a.seq > r.seq && a.audit.Type == vocab.AuditDecision && a.audit.User == p.User &&
				a.audit.Decision == string(r.decision) && strings.HasPrefix(a.audit.Detail, "plan prompt") {
				found = true
				break
			}
			if a.kind == evAudit && a.audit.Type == vocab.AuditDecision && a.audit.User == p.User && a.audit.Kind == p.Kind &&
				a.audit.App == p.Target && a.audit.Requester == p.Requester && a.audit.Decision == want {
				found = true
				break
			}
		}
		if !found {
			c.violate(InvAudit, "decision", "", "decision %s on %s prompt %s (%s → %s) is not in the audit log", r.decision, p.Kind, p.ID, p.Requester, p.Target)
		}
	}
}

// sortEvents orders events by seq.
func sortEvents(evs []*event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].seq < evs[j].seq })
}
