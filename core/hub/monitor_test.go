package hub_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstate"
	"github.com/secgpt-go/secgpt/apps/mail"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// wsApp is a workspace app (a Slack-like suite) with functions of every
// effect. Each call it runs is appended to its state under "calls", so a
// test reads what really ran from the store.
type wsApp struct{}

const wsID ids.AppID = "zz_ws"

func (wsApp) Spec() apps.Spec {
	str := `{"type":"string"}`
	obj := func(props ...string) json.RawMessage {
		var ps []string
		for _, p := range props {
			sch := str
			if p == "user" {
				// A user name, so a fare or a listing never fits as it is.
				sch = `{"type":"string","pattern":"^[A-Z][a-z]+$"}`
			}
			ps = append(ps, `"`+p+`":`+sch)
		}
		return json.RawMessage(`{"type":"object","properties":{` + strings.Join(ps, ",") + `},"required":["` + strings.Join(props, `","`) + `"]}`)
	}
	return apps.Spec{ID: wsID, Functions: []apps.Function{
		{Name: "ws_add_to_channel", Effect: apps.EffectWrite, Request: obj("user", "channel"), Response: json.RawMessage(str)},
		{Name: "ws_invite", Effect: apps.EffectWrite, Request: obj("email"), Response: json.RawMessage(str)},
		{Name: "ws_send_dm", Effect: apps.EffectSend, Request: obj("user", "text"), Response: json.RawMessage(str)},
		{Name: "ws_delete_channel", Effect: apps.EffectDestroy, Request: obj("channel"), Response: json.RawMessage(str)},
		{Name: "ws_note", Effect: apps.EffectWrite, Request: obj("text"), Response: json.RawMessage(str)},
	}}
}

// wsCall is one call the workspace app ran.
type wsCall struct {
	Function string          `json:"function"`
	Args     json.RawMessage `json:"args"`
}

func (wsApp) Call(ctx context.Context, env apps.Env, fn string, args json.RawMessage) (json.RawMessage, error) {
	if fn == "ws_invite" {
		// Slow, so that a step racing it would finish first.
		time.Sleep(150 * time.Millisecond)
	}
	// A key of its own for each function too: two steps that run
	// concurrently may each read the list before the other writes it.
	if err := env.PutState(ctx, "ran:"+fn, args); err != nil {
		return nil, err
	}
	if err := appstate.Append(ctx, env, "calls", wsCall{Function: fn, Args: args}); err != nil {
		return nil, err
	}
	return json.Marshal(fn + " done")
}

func init() { apps.Register(wsID, func() apps.App { return wsApp{} }) }

// wsCalls returns the calls the workspace app ran for user.
func wsCalls(t *testing.T, store state.Store, user ids.UserID) []wsCall {
	t.Helper()
	calls, err := appstate.List[wsCall](context.Background(), appstate.FromStore(store, user, string(wsID)), "calls")
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// planOf is a planner that always answers with the plan p (JSON).
func planOf(p string) llm.Model {
	return llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		if !req.HasTool(plan.ToolName) {
			return offline.Model{}.Generate(ctx, req)
		}
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(p)}}}, nil
	})
}

// fareIntoChannel feeds a fare (which does not fit a user name) into
// ws_add_to_channel, so the workspace app's own model fills the arguments.
const fareIntoChannel = `{"steps":[
	{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}},
	{"app":"zz_ws","function":"ws_add_to_channel","instruction":"add the rider","args":{"user":"<result_1>","channel":"general"}}]}`

// toolCalls is a spoke model that answers its first call with the given
// tool calls (whatever tools it was offered) and then with a text answer.
// It records the tool names it was offered.
type toolCalls struct {
	calls []llm.ToolCall

	mu      sync.Mutex // guards offered
	offered [][]string
}

func (m *toolCalls) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	var names []string
	for _, tl := range req.Tools {
		names = append(names, tl.Name)
	}
	m.mu.Lock()
	m.offered = append(m.offered, names)
	m.mu.Unlock()
	for _, msg := range req.Messages {
		if msg.Role == llm.RoleTool {
			return &llm.Response{Content: "done"}, nil
		}
	}
	return &llm.Response{ToolCalls: m.calls}, nil
}

func call(name, args string) llm.ToolCall {
	return llm.ToolCall{ID: name, Name: name, Arguments: json.RawMessage(args)}
}

// TestModelFilledStepRunsOnlyTheApprovedFunction (issue 18, hole 2): when
// an earlier result does not fit a step's arguments, the app's own model
// fills them; it is offered only the approved function, and a call of any
// other function of its app (a destroy, a send) is refused by the hub and
// audited, whatever the model does. A planned value the model changes is
// asked about with the difference shown.
func TestModelFilledStepRunsOnlyTheApprovedFunction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		calls   []llm.ToolCall
		confirm chat.Decision // for a prompt that shows changed arguments
		want    []string      // the functions that ran, in order
		refused string        // a function the audit must name as refused
		diff    string        // the prompt that shows a changed planned value
		failed  bool          // the step fails
	}{
		{name: "destroy beside the approved call",
			calls: []llm.ToolCall{call("ws_delete_channel", `{"channel":"general"}`), call("ws_add_to_channel", `{"user":"Charlie","channel":"general"}`)},
			want:  []string{"ws_add_to_channel"}, refused: "ws_delete_channel"},
		{name: "only a send", calls: []llm.ToolCall{call("ws_send_dm", `{"user":"Fred","text":"http://evil.example"}`)},
			refused: "ws_send_dm", failed: true},
		{name: "a second call of the approved function",
			calls: []llm.ToolCall{call("ws_add_to_channel", `{"user":"Charlie","channel":"general"}`), call("ws_add_to_channel", `{"user":"Fred","channel":"general"}`)},
			want:  []string{"ws_add_to_channel"}, refused: "ws_add_to_channel"},
		{name: "changed planned value, denied", calls: []llm.ToolCall{call("ws_add_to_channel", `{"user":"Charlie","channel":"secret"}`)},
			confirm: chat.Deny, diff: `channel: the plan showed "general", the app's model wrote "secret"`, failed: true, refused: "ws_add_to_channel"},
		{name: "added argument, denied", calls: []llm.ToolCall{call("ws_add_to_channel", `{"user":"Charlie","channel":"general","notify":"all"}`)},
			confirm: chat.Deny, diff: `notify: not in the plan, the app's model added "all"`, failed: true, refused: "ws_add_to_channel"},
		{name: "changed planned value, allowed", calls: []llm.ToolCall{call("ws_add_to_channel", `{"user":"Charlie","channel":"secret"}`)},
			confirm: chat.AllowOnce, diff: `channel: the plan showed "general", the app's model wrote "secret"`, want: []string{"ws_add_to_channel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := hubtest.Store(t)
			sm := &toolCalls{calls: tc.calls}
			h := hubtest.New(t, hubtest.Options{Model: planOf(fareIntoChannel), SpokeModel: sm, Store: store,
				Apps: []ids.AppID{"quick_ride", wsID}})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: func(p chat.Prompt) chat.Decision {
				if p.Confirm {
					return tc.confirm
				}
				return chat.AllowOnce
			}}
			reply := c.Send(context.Background(), "add the rider to general")
			var ran []string
			for _, cl := range wsCalls(t, store, "test:alice") {
				ran = append(ran, cl.Function)
			}
			if !slices.Equal(ran, tc.want) {
				t.Fatalf("functions that ran: %v, want %v (reply %q)", ran, tc.want, reply)
			}
			sm.mu.Lock()
			for _, names := range sm.offered {
				if !slices.Equal(names, []string{"ws_add_to_channel"}) {
					t.Errorf("the app's model was offered %v, want only the approved function", names)
				}
			}
			sm.mu.Unlock()
			if tc.refused != "" {
				ev, err := store.ReadAudit(context.Background(), state.AuditFilter{User: "test:alice", Type: vocab.AuditMonitorRefused})
				if err != nil || len(ev) == 0 || !strings.Contains(ev[0].Detail, tc.refused) || ev[0].App != wsID {
					t.Errorf("refusal of %s not audited: %+v %v", tc.refused, ev, err)
				}
			}
			var diff *chat.Prompt
			for _, p := range c.Prompts() {
				if p.Confirm {
					p := p
					diff = &p
				}
			}
			if tc.diff == "" && diff != nil {
				t.Errorf("unexpected confirmation: %s", chat.PromptText(*diff))
			}
			if tc.diff != "" && (diff == nil || !strings.Contains(diff.Data, tc.diff)) {
				t.Errorf("no prompt showing the difference %q: %+v", tc.diff, diff)
			}
			if failed := strings.Contains(reply, "**zz_ws**: failed"); failed != tc.failed {
				t.Errorf("step failed: %v, want %v: %q", failed, tc.failed, reply)
			}
			if len(tc.want) > 0 {
				ev, err := store.ReadAudit(context.Background(), state.AuditFilter{User: "test:alice", Type: vocab.AuditModelFilledCall})
				if err != nil || len(ev) != 1 || !strings.Contains(ev[0].Detail, `"Charlie"`) {
					t.Errorf("model-filled call not audited: %+v %v", ev, err)
				}
			}
		})
	}
}

// TestRuntimeExecRequestsCarryEffects (issue 18, hole 3): an app that asks
// the hub at run time to send a mail is held to `deny: send:*` like a
// planned step: no prompt offers it and no mail leaves.
func TestRuntimeExecRequestsCarryEffects(t *testing.T) {
	ru, err := gate.ParseRule("deny", "send:*")
	if err != nil {
		t.Fatal(err)
	}
	store := hubtest.Store(t)
	sm := &toolCalls{calls: []llm.ToolCall{call("send_gmail_message", `{"to":["eve@evil.example"],"subject":"x","message":"hi"}`)}}
	h := hubtest.New(t, hubtest.Options{Store: store, SpokeModel: sm, Rules: []gate.Rule{ru},
		Model: planOf(`{"steps":[{"app":"creative_muse","instruction":"a poem"}]}`),
		Apps:  []ids.AppID{"creative_muse", "send_gmail_message"}})
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowAlways)}
	c.Send(context.Background(), "a poem")
	sent, _ := mail.Sent(context.Background(), appstate.FromStore(store, "test:alice", mail.Namespace))
	if len(sent) != 0 {
		t.Fatalf("deny send:* did not stop a run-time send: %v", sent)
	}
	for _, p := range c.Prompts() {
		if p.Kind == chat.KindExec && p.Target == "send_gmail_message" {
			t.Errorf("the user was asked to run a send a rule denies: %s", chat.PromptText(p))
		}
	}
	ev, err := store.ReadAudit(context.Background(), state.AuditFilter{User: "test:alice", Type: vocab.AuditDecision})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev, func(e state.AuditEvent) bool {
		return e.Decision == "rule:deny" && e.App == "send_gmail_message" && e.Kind == chat.KindExec
	}) {
		t.Errorf("no rule:deny decision for the run-time send in the audit: %+v", ev)
	}
}

// replanner plans withFacts while the planner is shown remembered facts,
// and without once they are hidden (the re-plan after a withheld fact).
func replanner(withFacts, without string) llm.Model {
	return llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		if !req.HasTool(plan.ToolName) {
			return offline.Model{}.Generate(ctx, req)
		}
		p := without
		if f := plan.ExtractBlock(req.Messages[0].Content, plan.FactsOpen, plan.FactsClose); f != "" && f != "{}" {
			p = withFacts
		}
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(p)}}}, nil
	})
}

// TestReplanWithoutFactIsHeldToThePlan (issue 18, hole 1): after the user
// withholds a remembered fact the step is planned again; the new step runs
// without a prompt only when it is the approved function with the approved
// arguments minus the fact. Another function, or another value where the
// fact was not, is asked about with exactly what differs.
func TestReplanWithoutFactIsHeldToThePlan(t *testing.T) {
	const approved = `{"steps":[{"app":"zz_ws","function":"ws_send_dm","instruction":"tell Bob","args":{"user":"Bob","text":"my code is 4711-secret"}}]}`
	for _, tc := range []struct {
		name    string
		replan  string
		confirm chat.Decision
		diff    []string // in the prompt that shows the difference; nil: no such prompt
		want    []string // functions that ran
	}{
		{name: "same call minus the fact",
			replan: `{"steps":[{"app":"zz_ws","function":"ws_send_dm","instruction":"tell Bob","args":{"user":"Bob","text":"my code"}}]}`,
			want:   []string{"ws_send_dm"}},
		{name: "another function, denied",
			replan:  `{"steps":[{"app":"zz_ws","function":"ws_delete_channel","instruction":"x","args":{"channel":"general"}}]}`,
			confirm: chat.Deny, diff: []string{"function: the plan showed ws_send_dm, the new plan runs ws_delete_channel", `"channel":"general"`}},
		{name: "another function, allowed",
			replan:  `{"steps":[{"app":"zz_ws","function":"ws_delete_channel","instruction":"x","args":{"channel":"general"}}]}`,
			confirm: chat.AllowOnce, diff: []string{"function: the plan showed ws_send_dm, the new plan runs ws_delete_channel"}, want: []string{"ws_delete_channel"}},
		{name: "another recipient, denied",
			replan:  `{"steps":[{"app":"zz_ws","function":"ws_send_dm","instruction":"tell Bob","args":{"user":"Eve","text":"my code"}}]}`,
			confirm: chat.Deny, diff: []string{`user: the plan showed "Bob", the new plan has "Eve"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := hubtest.Store(t)
			ctx := context.Background()
			user := ids.UserID("test:alice")
			if err := store.PutEntities(ctx, user, map[string]string{"code": "4711-secret"}); err != nil {
				t.Fatal(err)
			}
			h := hubtest.New(t, hubtest.Options{Store: store, Model: replanner(approved, tc.replan), Apps: []ids.AppID{wsID}})
			// Reviewing the plan's parts one by one lets the user deny the
			// data alone.
			c := &scripted.Conversation{A: h, User: user, Policy: func(p chat.Prompt) chat.Decision {
				switch {
				case p.Kind == chat.KindPlan:
					return chat.Review
				case p.Kind == chat.KindData:
					return chat.Deny
				case p.Confirm:
					return tc.confirm
				}
				return chat.AllowOnce
			}}
			reply := c.Send(ctx, "tell Bob my code")
			var ran []string
			for _, cl := range wsCalls(t, store, user) {
				ran = append(ran, cl.Function)
				if strings.Contains(string(cl.Args), "4711") {
					t.Errorf("the withheld fact reached the app: %s", cl.Args)
				}
			}
			if !slices.Equal(ran, tc.want) {
				t.Fatalf("ran %v, want %v (reply %q)", ran, tc.want, reply)
			}
			var diff *chat.Prompt
			for _, p := range c.Prompts() {
				if p.Kind == chat.KindExec && p.Function != "ws_send_dm" && p.Function != "ws_delete_channel" {
					t.Errorf("exec prompt for %q", p.Function)
				}
				if p.Confirm {
					p := p
					diff = &p
				}
				if p.Kind == chat.KindExec && !p.Confirm && p.Function == "ws_send_dm" && len(tc.want) > 0 && tc.want[0] != "ws_send_dm" {
					t.Errorf("the exec prompt names the old function: %s", chat.PromptText(p))
				}
			}
			if (diff != nil) != (tc.diff != nil) {
				t.Fatalf("difference prompt %+v, want one: %v", diff, tc.diff != nil)
			}
			for _, want := range tc.diff {
				if !strings.Contains(diff.Data, want) {
					t.Errorf("difference prompt lacks %q:\n%s", want, diff.Data)
				}
			}
		})
	}
}

// TestRuleArgumentConditions (issue 18 item 9): a rule's argument
// condition is matched against the values a step would run with.
func TestRuleArgumentConditions(t *testing.T) {
	ru, err := gate.ParseRule("allow", "write:ws_add_to_channel(user=Charlie)")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user       string
		wantPrompt bool
	}{{"Charlie", false}, {"Fred", true}} {
		t.Run(tc.user, func(t *testing.T) {
			store := hubtest.Store(t)
			h := hubtest.New(t, hubtest.Options{Store: store, Rules: []gate.Rule{ru}, Apps: []ids.AppID{wsID},
				Model: planOf(`{"steps":[{"app":"zz_ws","function":"ws_add_to_channel","instruction":"add","args":{"user":"` + tc.user + `","channel":"general"}}]}`)})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
			c.Send(context.Background(), "add "+tc.user)
			if got := len(c.Prompts()) > 0; got != tc.wantPrompt {
				t.Errorf("prompted: %v, want %v", got, tc.wantPrompt)
			}
			if n := len(wsCalls(t, store, "test:alice")); n != 1 {
				t.Errorf("%d calls ran, want 1", n)
			}
		})
	}
}

// TestLabelsCarrySourcesThroughIntermediateApps (issue 18, hole 4): a
// result carries every app and remembered fact it derives from, through
// plan substitution and through an app another app called at run time;
// deny: collab:A->B holds however many apps lie between A and B, and a fact
// one step received needs a data decision for every app its result reaches.
func TestLabelsCarrySourcesThroughIntermediateApps(t *testing.T) {
	deny := func(p string) []gate.Rule {
		ru, err := gate.ParseRule("deny", p)
		if err != nil {
			t.Fatal(err)
		}
		return []gate.Rule{ru}
	}
	const chain = `{"steps":[
		{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}},
		{"app":"metro_hail","function":"metro_hail","instruction":"fare","args":{"start_point":"<result_1>","end_point":"Elm Avenue"}},
		{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_2>"}}]}`
	const called = `{"steps":[
		{"app":"creative_muse","instruction":"a poem about the fare"},
		{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`
	const withFact = `{"steps":[
		{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"clinic for type 2 diabetes"}},
		{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`
	for _, tc := range []struct {
		name   string
		plan   string
		rules  []gate.Rule
		apps   []ids.AppID
		fact   bool
		wantWS int // zz_ws calls that ran
	}{
		{name: "through a planned intermediate", plan: chain, rules: deny("collab:quick_ride->zz_ws"),
			apps: []ids.AppID{"quick_ride", "metro_hail", wsID}},
		{name: "planned intermediate, other rule", plan: chain, rules: deny("collab:metro_hail->quick_ride"),
			apps: []ids.AppID{"quick_ride", "metro_hail", wsID}, wantWS: 1},
		{name: "through an app called at run time", plan: called, rules: deny("collab:quick_ride->zz_ws"),
			apps: []ids.AppID{"quick_ride", "creative_muse", wsID}},
		{name: "a fact through a result", plan: withFact, rules: deny("data:zz_ws"), fact: true,
			apps: []ids.AppID{"quick_ride", wsID}},
		{name: "a fact through a result, no rule", plan: withFact, fact: true,
			apps: []ids.AppID{"quick_ride", wsID}, wantWS: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := hubtest.Store(t)
			ctx := context.Background()
			user := ids.UserID("test:alice")
			if tc.fact {
				if err := store.PutEntities(ctx, user, map[string]string{"condition": "type 2 diabetes"}); err != nil {
					t.Fatal(err)
				}
			}
			sm := &toolCalls{calls: []llm.ToolCall{call("quick_ride", `{"start_point":"Main Street","end_point":"Elm Avenue"}`)}}
			h := hubtest.New(t, hubtest.Options{Store: store, Rules: tc.rules, Apps: tc.apps, Model: planOf(tc.plan), SpokeModel: sm})
			c := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			reply := c.Send(ctx, "a fare, noted")
			if n := len(wsCalls(t, store, user)); n != tc.wantWS {
				t.Fatalf("zz_ws ran %d times, want %d (reply %q)", n, tc.wantWS, reply)
			}
			if tc.plan == chain {
				// The plan prompt shows the source two steps up, and is the
				// only prompt.
				ps := c.Prompts()
				if len(ps) != 1 || !slices.ContainsFunc(ps[0].Flows, func(f chat.PlanFlow) bool {
					return f.From == 1 && f.FromApp == "quick_ride" && f.ToApp == wsID && strings.Contains(f.Into, "through step 2")
				}) {
					t.Errorf("want one plan prompt showing quick_ride's result reaching zz_ws through step 2: %+v", ps)
				}
			}
			if tc.fact {
				ps := c.Prompts()
				if len(ps) == 0 || !slices.ContainsFunc(ps[0].Facts, func(f chat.PlanFact) bool { return f.App == wsID && f.Value == "type 2 diabetes" }) {
					t.Errorf("the plan prompt does not show the fact reaching zz_ws through step 1's result: %+v", ps)
				}
			}
		})
	}
}

// TestResponderGetsNoWithheldFact (issue 18, hole 7): the responder is
// given the arguments each step ran with, never the planned ones that held
// a fact the user withheld.
func TestResponderGetsNoWithheldFact(t *testing.T) {
	const withFact = `{"steps":[
		{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"clinic for type 2 diabetes"}},
		{"app":"metro_hail","function":"metro_hail","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}}]}`
	const without = `{"steps":[{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"the clinic"}}]}`
	store := hubtest.Store(t)
	ctx := context.Background()
	user := ids.UserID("test:alice")
	if err := store.PutEntities(ctx, user, map[string]string{"condition": "type 2 diabetes"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var saw string
	h := hubtest.New(t, hubtest.Options{Store: store, Model: replanner(withFact, without), Apps: []ids.AppID{"quick_ride", "metro_hail"},
		Trace: func(e hub.TraceEvent) {
			if e.Type == vocab.TraceResponderRequest {
				raw, _ := json.Marshal(e.Request.Messages)
				mu.Lock()
				saw = string(raw)
				mu.Unlock()
			}
		}})
	c := &scripted.Conversation{A: h, User: user, Policy: func(p chat.Prompt) chat.Decision {
		switch p.Kind {
		case chat.KindPlan:
			return chat.Review
		case chat.KindData:
			return chat.Deny
		}
		return chat.AllowOnce
	}}
	c.Send(ctx, "fares to the clinic and to Elm Avenue")
	mu.Lock()
	defer mu.Unlock()
	if saw == "" {
		t.Fatal("no responder request")
	}
	if strings.Contains(saw, "diabetes") {
		t.Errorf("the responder was given the withheld fact: %s", saw)
	}
	if !strings.Contains(saw, "the clinic") {
		t.Errorf("the responder was not given the arguments the step ran with: %s", saw)
	}
}

// TestRiskyModelFilledCallIsShownFirst (issue 18 item 13): a send or
// destroy step (every MCP tool by default) whose arguments another app's
// result does not fit is no longer refused: the app's model fills them,
// and the hub shows that call, with its concrete values, before the spoke
// may make it, even when an always grant covers the flow.
func TestRiskyModelFilledCallIsShownFirst(t *testing.T) {
	const p = `{"steps":[
		{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}},
		{"app":"zz_ws","function":"ws_send_dm","instruction":"tell the rider","args":{"user":"<result_1>","text":"your fare"}}]}`
	for _, tc := range []struct {
		name     string
		plan     chat.Decision
		confirm  chat.Decision
		wantSent int
	}{
		{"confirmed", chat.AllowOnce, chat.AllowOnce, 1},
		{"denied", chat.AllowOnce, chat.Deny, 0},
		{"denied under an always grant", chat.AllowAlways, chat.Deny, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := hubtest.Store(t)
			sm := &toolCalls{calls: []llm.ToolCall{call("ws_send_dm", `{"user":"Fred","text":"your fare"}`)}}
			h := hubtest.New(t, hubtest.Options{Store: store, Model: planOf(p), SpokeModel: sm, Apps: []ids.AppID{"quick_ride", wsID}})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: func(p chat.Prompt) chat.Decision {
				if p.Confirm {
					return tc.confirm
				}
				return tc.plan
			}}
			reply := c.Send(context.Background(), "tell the rider the fare")
			var confirm *chat.Prompt
			for _, p := range c.Prompts() {
				if p.Confirm {
					p := p
					confirm = &p
				}
			}
			if confirm == nil || !strings.Contains(confirm.Data, `"Fred"`) || confirm.Function != "ws_send_dm" {
				t.Fatalf("the model-filled send was not shown with its values first: %+v (reply %q)", confirm, reply)
			}
			if n := len(wsCalls(t, store, "test:alice")); n != tc.wantSent {
				t.Errorf("%d sends ran, want %d", n, tc.wantSent)
			}
		})
	}
}

// TestSameAppStepsRunInOrder (issue 18 item 13): steps that change the
// same app's state run in the plan's order ("invite Dora", then "add Dora
// to a channel"), unless the plan marks the later one independent.
func TestSameAppStepsRunInOrder(t *testing.T) {
	for _, tc := range []struct {
		name        string
		independent string
		want        []string
	}{
		{"in order", "", []string{"ws_invite", "ws_add_to_channel"}},
		{"independent", `,"independent":true`, []string{"ws_add_to_channel", "ws_invite"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := hubtest.Store(t)
			h := hubtest.New(t, hubtest.Options{Store: store, Apps: []ids.AppID{wsID}, Model: planOf(`{"steps":[
				{"app":"zz_ws","function":"ws_invite","instruction":"invite","args":{"email":"dora@example.com"}},
				{"app":"zz_ws","function":"ws_add_to_channel","instruction":"add","args":{"user":"Dora","channel":"general"}` + tc.independent + `}]}`)})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
			c.Send(context.Background(), "invite Dora and add her to general")
			var ran []string
			for _, cl := range wsCalls(t, store, "test:alice") {
				ran = append(ran, cl.Function)
			}
			if tc.independent != "" {
				// Concurrent: both ran, in whichever order.
				ran = nil
				for _, fn := range tc.want {
					if _, ok, _ := store.GetAppState(context.Background(), "test:alice", string(wsID), "ran:"+fn); ok {
						ran = append(ran, fn)
					}
				}
			}
			if !slices.Equal(ran, tc.want) {
				t.Fatalf("ran %v, want %v", ran, tc.want)
			}
		})
	}
}

// TestCalleeRunsOnlyTheCallItsPromptShowed (issue 18 item 8): an app that
// another app called at run time runs exactly the call the user was shown,
// once: its model's call of another function, or a second call, is
// removed by the hub and audited.
func TestCalleeRunsOnlyTheCallItsPromptShowed(t *testing.T) {
	const args = `{"user":"Charlie","channel":"general"}`
	sm := llm.ModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		for _, msg := range req.Messages {
			if msg.Role == llm.RoleTool {
				return &llm.Response{Content: "done"}, nil
			}
		}
		if strings.Contains(req.Messages[0].Content, `"zz_ws"`) {
			// The callee: another function, the shown call, and the shown
			// call again, whatever it is offered.
			return &llm.Response{ToolCalls: []llm.ToolCall{call("ws_delete_channel", `{"channel":"general"}`), call("ws_add_to_channel", args), call("ws_add_to_channel", args)}}, nil
		}
		// The caller (creative_muse) asks for the call through the hub.
		return &llm.Response{ToolCalls: []llm.ToolCall{call("ws_add_to_channel", args)}}, nil
	})
	store := hubtest.Store(t)
	h := hubtest.New(t, hubtest.Options{Store: store, SpokeModel: sm, Apps: []ids.AppID{"creative_muse", wsID},
		Model: planOf(`{"steps":[{"app":"creative_muse","instruction":"a poem, then add Charlie to general"}]}`)})
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
	reply := c.Send(context.Background(), "a poem")
	var ran []string
	for _, cl := range wsCalls(t, store, "test:alice") {
		ran = append(ran, cl.Function)
	}
	if !slices.Equal(ran, []string{"ws_add_to_channel"}) {
		t.Fatalf("the callee ran %v, want the shown call once (reply %q)", ran, reply)
	}
	ev, err := store.ReadAudit(context.Background(), state.AuditFilter{User: "test:alice", Type: vocab.AuditMonitorRefused})
	if err != nil || len(ev) < 2 {
		t.Errorf("refused calls not audited: %+v %v", ev, err)
	}
}
