package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
)

// plansInTurn is a planner that answers the n-th plan request with
// plans[n] (the last one after that).
func plansInTurn(plans ...string) llm.Model {
	var n atomic.Int64
	return llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		if !req.HasTool(plan.ToolName) {
			return offline.Model{}.Generate(ctx, req)
		}
		i := int(n.Add(1)) - 1
		p := plans[min(i, len(plans)-1)]
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(p)}}}, nil
	})
}

// TestLabelsPersistWithAppData (found by the invariant harness, seed 1
// episode 68): an app that was given another app's result keeps it in its
// memory or its state; in a later message it runs alone, reads it back,
// and passes it on. The rule "deny collab:A->B" holds for that data too:
// what an app stores keeps the label of what it held when it stored it.
func TestLabelsPersistWithAppData(t *testing.T) {
	const fare = `{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}}`
	tests := []struct {
		name         string
		first, later string
		rule         string
		// museRuns and wsRuns: how often each ran in the later message.
		wantMuse, wantWS int
	}{
		{name: "through memory, ruled",
			first: `{"steps":[` + fare + `,{"app":"creative_muse","instruction":"a poem about <result_1>"}]}`,
			later: `{"steps":[{"app":"creative_muse","instruction":"the poem again"},{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
			rule:  "collab:quick_ride->zz_ws", wantMuse: 1, wantWS: 0},
		{name: "through memory, no rule",
			first: `{"steps":[` + fare + `,{"app":"creative_muse","instruction":"a poem about <result_1>"}]}`,
			later: `{"steps":[{"app":"creative_muse","instruction":"the poem again"},{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
			rule:  "collab:metro_hail->zz_ws", wantMuse: 1, wantWS: 1},
		{name: "through state, ruled",
			first: `{"steps":[` + fare + `,{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
			later: `{"steps":[{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"hello"}},{"app":"creative_muse","instruction":"a poem about <result_1>"}]}`,
			rule:  "collab:quick_ride->creative_muse", wantMuse: 0, wantWS: 1},
		{name: "through state, no rule",
			first: `{"steps":[` + fare + `,{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`,
			later: `{"steps":[{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"hello"}},{"app":"creative_muse","instruction":"a poem about <result_1>"}]}`,
			rule:  "collab:metro_hail->creative_muse", wantMuse: 1, wantWS: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ru, err := gate.ParseRule("deny", tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			var museRuns atomic.Int64
			sm := llm.ModelFunc(func(_ context.Context, req *llm.Request) (*llm.Response, error) {
				if strings.Contains(req.Messages[0].Content, `"creative_muse"`) {
					museRuns.Add(1)
				}
				return &llm.Response{Content: "a poem"}, nil
			})
			store := hubtest.Store(t)
			user := ids.UserID("test:alice")
			h := hubtest.New(t, hubtest.Options{Store: store, Rules: []gate.Rule{ru}, SpokeModel: sm,
				Apps: []ids.AppID{"quick_ride", "creative_muse", wsID}, Model: plansInTurn(tt.first, tt.later)})
			c := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			ctx := context.Background()
			c.Send(ctx, "a fare, and keep it")
			muse0, ws0 := museRuns.Load(), len(wsCalls(t, store, user))
			reply := c.Send(ctx, "and now pass it on")
			if got := int(museRuns.Load() - muse0); got != tt.wantMuse {
				t.Errorf("creative_muse ran %d times in the later message, want %d (reply %q)", got, tt.wantMuse, reply)
			}
			if got := len(wsCalls(t, store, user)) - ws0; got != tt.wantWS {
				t.Errorf("zz_ws ran %d calls in the later message, want %d (reply %q)", got, tt.wantWS, reply)
			}
		})
	}
}
