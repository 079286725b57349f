package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// keeper keeps a note in its state whatever it is given: its own state
// never holds what it was given, so any copy of that in the store is the
// hub's.
type keeper struct{}

const keeperID ids.AppID = "zz_keeper"

func (keeper) Spec() apps.Spec {
	return apps.Spec{ID: keeperID, Functions: []apps.Function{
		{Name: "keep", Effect: apps.EffectWrite, Request: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`),
			Response: json.RawMessage(`{"type":"string"}`)},
		{Name: "recall", Effect: apps.EffectRead, Request: json.RawMessage(`{"type":"object","properties":{}}`),
			Response: json.RawMessage(`{"type":"string"}`)},
	}}
}

func (keeper) Call(ctx context.Context, env apps.Env, fn string, _ json.RawMessage) (json.RawMessage, error) {
	if fn == "recall" {
		v, _, err := env.GetState(ctx, "note")
		if err != nil {
			return nil, err
		}
		var s string
		_ = json.Unmarshal(v, &s)
		return json.Marshal("recalled " + s)
	}
	if err := env.PutState(ctx, "note", json.RawMessage(`"a note"`)); err != nil {
		return nil, err
	}
	return json.Marshal("kept")
}

func init() { apps.Register(keeperID, func() apps.App { return keeper{} }) }

// sweptStore remembers which app-state keys were written, so that a test
// can read back every record a memstore keeps for a user.
type sweptStore struct {
	state.Store
	mu   sync.Mutex
	keys map[[2]string]bool
}

func (s *sweptStore) note(ns, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[[2]string{ns, key}] = true
}

func (s *sweptStore) PutAppState(ctx context.Context, u ids.UserID, ns, key string, v json.RawMessage) error {
	s.note(ns, key)
	return s.Store.PutAppState(ctx, u, ns, key, v)
}

func (s *sweptStore) PutAppStateWithin(ctx context.Context, u ids.UserID, ns, key string, v json.RawMessage, q state.Quota) error {
	s.note(ns, key)
	return s.Store.PutAppStateWithin(ctx, u, ns, key, v, q)
}

func (s *sweptStore) AddAppStateSet(ctx context.Context, u ids.UserID, ns, key string, m ...string) error {
	s.note(ns, key)
	return s.Store.AddAppStateSet(ctx, u, ns, key, m...)
}

// records returns every record the store keeps for user but its audit
// log, each as "where: what", with the content of memory entries left
// out (what an app writes to its own memory is the app's).
func (s *sweptStore) records(t *testing.T, user ids.UserID, installed []ids.AppID) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	facts, err := s.Entities(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range facts {
		out = append(out, "fact "+k+": "+v)
	}
	for _, a := range installed {
		es, err := s.ReadMemory(ctx, user, a, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			e.Content = ""
			raw, _ := json.Marshal(e)
			out = append(out, fmt.Sprintf("memory of %s: %s", a, raw))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.keys {
		if v, ok, err := s.GetAppState(ctx, user, k[0], k[1]); err != nil {
			t.Fatal(err)
		} else if ok {
			out = append(out, fmt.Sprintf("state %s/%s: %s", k[0], k[1], v))
		}
	}
	gs, err := s.ListGrants(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		raw, _ := json.Marshal(g)
		out = append(out, "grant: "+string(raw))
	}
	return out
}

// redisRecords returns every record under namespace ns of the Redis at
// url but the audit stream, each as "key: what", with the content of
// memory entries left out.
func redisRecords(t *testing.T, url, ns string) []string {
	t.Helper()
	ctx := context.Background()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	defer c.Close()
	var out []string
	iter := c.Scan(ctx, 0, ns+":*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if k == ns+":audit" {
			continue
		}
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		switch typ {
		case "string":
			v, _ := c.Get(ctx, k).Result()
			vals = []string{v}
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				vals = append(vals, f+"="+v)
			}
		case "list":
			for _, v := range c.LRange(ctx, k, 0, -1).Val() {
				var e state.MemoryEntry
				if json.Unmarshal([]byte(v), &e) == nil && e.Role != "" {
					e.Content = ""
					raw, _ := json.Marshal(e)
					v = string(raw)
				}
				vals = append(vals, v)
			}
		case "set":
			vals = c.SMembers(ctx, k).Val()
		case "zset":
			vals = c.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				raw, _ := json.Marshal(m.Values)
				vals = append(vals, string(raw))
			}
		default:
			t.Fatalf("key %s of type %s: the sweep does not read it", k, typ)
		}
		for _, v := range vals {
			out = append(out, k+": "+v)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sweptBackend is a store whose every record of a user a test can read
// back (records).
type sweptBackend struct {
	name  string
	store func(t *testing.T) (state.Store, func() []string)
}

// sweptBackends are memstore (sweptStore) and a namespace of the test
// Redis, each read back for user with the apps installed.
func sweptBackends(user ids.UserID, installed []ids.AppID) []sweptBackend {
	return []sweptBackend{
		{"memstore", func(t *testing.T) (state.Store, func() []string) {
			st := &sweptStore{Store: memstore.New(memstore.Options{}), keys: map[[2]string]bool{}}
			return st, func() []string { return st.records(t, user, installed) }
		}},
		{"redis", func(t *testing.T) (state.Store, func() []string) {
			url := redistest.Server(t)
			ns := fmt.Sprintf("swept-%d", time.Now().UnixNano())
			st, err := redis.Open(context.Background(), url, redis.Options{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				dropRedisNamespace(t, url, ns)
				st.Close()
			})
			return st, func() []string { return redisRecords(t, url, ns) }
		}},
	}
}

// plansByQuery is a planner that answers a plan request with the plan
// after the first phrase (in phraseThenPlan, phrase and plan in turn) that
// the request's user messages contain.
func plansByQuery(phraseThenPlan ...string) llm.Model {
	return llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		if !req.HasTool(plan.ToolName) {
			return offline.Model{}.Generate(ctx, req)
		}
		for i := 0; i+1 < len(phraseThenPlan); i += 2 {
			for _, m := range req.Messages {
				if m.Role == llm.RoleUser && strings.Contains(m.Content, phraseThenPlan[i]) {
					return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(phraseThenPlan[i+1])}}}, nil
				}
			}
		}
		return nil, fmt.Errorf("no plan for %v", req.Messages)
	})
}

// dropRedisNamespace deletes every key under namespace ns.
func dropRedisNamespace(t *testing.T, url, ns string) {
	t.Helper()
	ctx := context.Background()
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(o)
	defer c.Close()
	keys, err := c.Keys(ctx, ns+":*").Result()
	if err == nil && len(keys) > 0 {
		err = c.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("drop namespace %s: %v", ns, err)
	}
}

// TestChangedFactLeavesNoCopyInLabels (hostile): a remembered fact reaches
// apps that keep data (state, memory), so their labels name it; then the
// user tells another value for it. The old value is no longer a fact the
// hub remembers, and no record of the store holds it any more, but for
// the audit log (the operator's record of what flowed) and what the apps
// wrote themselves (their memory's content): the labels name facts by
// key. While the fact is remembered, the data the app kept still carries
// it: passing it on needs the user's leave, as before.
func TestChangedFactLeavesNoCopyInLabels(t *testing.T) {
	const (
		old   = "qzmarble 4711"
		fresh = "qzpebble 0815"
	)
	keep := func(v string) string {
		return `{"app":"zz_keeper","function":"keep","instruction":"keep it","args":{"text":"` + v + `"}}`
	}
	// The plan of each message, by a phrase of it: the hub also plans
	// to see whether another plan exists after a denial.
	plans := plansByQuery(
		"for me", `{"steps":[`+keep(old)+`]}`,
		"and a poem", `{"steps":[`+keep(old)+`,{"app":"creative_muse","instruction":"a poem about `+old+`"}]}`,
		"the note", `{"steps":[{"app":"zz_keeper","function":"recall","instruction":"recall","args":{}},{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
		"the poem", `{"steps":[{"app":"creative_muse","instruction":"the poem again"},{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
		"is now", `{"steps":[`+keep(fresh)+`]}`,
	)
	installed := []ids.AppID{keeperID, "creative_muse", wsID}
	user := ids.UserID("test:alice")
	for _, b := range sweptBackends(user, installed) {
		t.Run(b.name, func(t *testing.T) {
			store, records := b.store(t)
			sm := llm.ModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
				return &llm.Response{Content: "a poem"}, nil
			})
			h := hubtest.New(t, hubtest.Options{Store: store, SpokeModel: sm, Apps: installed, Model: plans})
			c := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			ctx := context.Background()
			ws := func() int { return len(wsCalls(t, store, user)) }

			c.Send(ctx, "keep "+old+" for me")
			if f, _ := store.Entities(ctx, user); f["text"] != old {
				t.Fatalf("the fact was not remembered: %v", f)
			}
			c.Send(ctx, "keep it again, and a poem")
			// The labels name the fact, so the kept data still carries it.
			for i, what := range []string{"the note", "the poem"} {
				ws0 := ws()
				reply := c.Send(ctx, "pass on "+what)
				if got := ws() - ws0; got != 0 {
					t.Errorf("%s: the data %s kept, which derives from a remembered fact, reached zz_ws without the user's leave (reply %q)", what, installed[i], reply)
				}
				// The user allows every prompt: only the monitor refuses.
				if !strings.Contains(reply, "**zz_ws**: not run") {
					t.Errorf("%s: zz_ws was not refused for the remembered fact the data carries: reply %q", what, reply)
				}
			}

			c.Send(ctx, "my text is now "+fresh)
			if f, _ := store.Entities(ctx, user); f["text"] != fresh {
				t.Fatalf("the fact did not change: %v", f)
			}
			var labels int
			for _, r := range records() {
				if strings.Contains(r, "qzmarble") {
					t.Errorf("after the fact changed, a record of the store still holds its old value: %s", r)
				}
				if strings.Contains(r, `fact:text`) || strings.Contains(r, `"fact_keys":["text"]`) {
					labels++
				}
			}
			if labels < 2 {
				t.Errorf("%d label records name the fact; want its state label and its memory entries", labels)
			}
		})
	}
}

// TestForgetOneFact (hostile): "!forget FACT" forgets one remembered fact
// and every copy the hub can trace: the data of each app whose label
// names the fact (its memory, its state) goes too, because a label names
// a fact by key and a forgotten key guards nothing any more; an app whose
// data never came from the fact keeps it. Afterwards no record of the
// store holds the value or names the fact (but the audit log, which holds
// neither), and a planner that would do whatever it is shown is never
// shown the value again.
func TestForgetOneFact(t *testing.T) {
	const old = "qzmarble 4711"
	keep := func(v string) string {
		return `{"app":"zz_keeper","function":"keep","instruction":"keep it","args":{"text":"` + v + `"}}`
	}
	plans := plansByQuery(
		"my list", `{"steps":[{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"a grocery list"}}]}`,
		"for me", `{"steps":[`+keep(old)+`]}`,
		"and a poem", `{"steps":[`+keep(old)+`,{"app":"creative_muse","instruction":"a poem about `+old+`"}]}`,
		"the poem", `{"steps":[{"app":"creative_muse","instruction":"the poem again"}]}`,
	)
	installed := []ids.AppID{keeperID, "creative_muse", wsID}
	user := ids.UserID("test:alice")
	for _, b := range sweptBackends(user, installed) {
		t.Run(b.name, func(t *testing.T) {
			store, records := b.store(t)
			var (
				mu     sync.Mutex
				shown  []string // the planner's requests, their user messages
				forgot bool
			)
			spy := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
				if req.HasTool(plan.ToolName) {
					var b strings.Builder
					for _, m := range req.Messages {
						b.WriteString(m.Content)
					}
					mu.Lock()
					if forgot {
						shown = append(shown, b.String())
					}
					mu.Unlock()
				}
				return plans.Generate(ctx, req)
			})
			sm := llm.ModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
				return &llm.Response{Content: "a poem"}, nil
			})
			h := hubtest.New(t, hubtest.Options{Store: store, SpokeModel: sm, Apps: installed, Model: spy})
			c := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			ctx := context.Background()

			c.Send(ctx, "jot down my list")
			c.Send(ctx, "keep "+old+" for me")
			c.Send(ctx, "keep it again, and a poem")
			if f, _ := store.Entities(ctx, user); f["text"] != old {
				t.Fatalf("the fact was not remembered: %v", f)
			}
			if reply := c.Send(ctx, "!facts"); !strings.Contains(reply, "text") || strings.Contains(reply, "qzmarble") {
				t.Errorf("!facts = %q; want the fact's name, never its value", reply)
			}

			reply := c.Send(ctx, "!forget Text")
			for _, want := range []string{"Forgotten: your fact text;", "zz_keeper's data (it came from text)", "what creative_muse remembered of your conversations (it came from text)"} {
				if !strings.Contains(reply, want) {
					t.Errorf("!forget Text = %q; want it to say %q", reply, want)
				}
			}
			if strings.Contains(reply, string(wsID)) {
				t.Errorf("!forget Text = %q; zz_ws's data never came from the fact", reply)
			}
			for _, r := range records() {
				if strings.Contains(r, "qzmarble") || strings.Contains(r, "fact:text") || strings.Contains(r, `"fact_keys":["text"]`) {
					t.Errorf("after !forget text, a record of the store still holds the fact or names it: %s", r)
				}
			}
			if n := len(wsCalls(t, store, user)); n != 1 {
				t.Errorf("zz_ws's own data: %d calls kept, want 1", n)
			}
			evs, err := store.ReadAudit(ctx, state.AuditFilter{User: user, Type: vocab.AuditForget})
			if err != nil || len(evs) != 1 || strings.Contains(evs[0].Detail, "qzmarble") {
				t.Errorf("forget audit = %+v, %v; want one event without the value", evs, err)
			}

			mu.Lock()
			forgot = true
			mu.Unlock()
			c.Send(ctx, "tell me the poem")
			c.Send(ctx, "keep it for me") // the planner would keep the old value if shown it
			mu.Lock()
			defer mu.Unlock()
			if len(shown) == 0 {
				t.Fatal("the planner was asked nothing after the forget")
			}
			for _, s := range shown {
				if strings.Contains(s, "qzmarble") {
					t.Errorf("after !forget text, the planner was shown the value: %q", s)
				}
			}
			if reply := c.Send(ctx, "!forget text"); !strings.HasPrefix(reply, `Nothing is called "text" here`) {
				t.Errorf("a second !forget text = %q; the fact is gone", reply)
			}
		})
	}
}
