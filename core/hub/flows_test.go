package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
)

// chainPlanner plans quick_ride, then metro_hail fed with quick_ride's answer.
var chainPlanner = llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if !req.HasTool(plan.ToolName) {
		return offline.Model{}.Generate(ctx, req)
	}
	p := `{"steps":[
		{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}},
		{"app":"metro_hail","function":"metro_hail","instruction":"fare","args":{"start_point":"<result_1>","end_point":"Elm Avenue"}}]}`
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: plan.ToolName, Arguments: json.RawMessage(p)}}}, nil
})

// TestResultFlowNeedsCollab: one app's output reaches another only through
// a flow the user approved: the plan prompt shows it (step 1's result into
// step 2's start_point); reviewing the steps one by one asks the flow on
// its own, with the data that would move, and denying it stops the step.
func TestResultFlowNeedsCollab(t *testing.T) {
	for _, collab := range []chat.Decision{chat.AllowOnce, chat.Deny} {
		t.Run(string(collab), func(t *testing.T) {
			h := hubtest.New(t, hubtest.Options{Model: chainPlanner, SpokeModel: offline.Model{}, Apps: []ids.AppID{"quick_ride", "metro_hail"}})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: func(p chat.Prompt) chat.Decision {
				switch {
				case p.Kind == chat.KindPlan && collab == chat.Deny:
					return chat.Review
				case p.Kind == chat.KindCollab:
					return collab
				}
				return chat.AllowOnce
			}}
			reply := c.Send(context.Background(), "two fares, chained")
			ps := c.Prompts()
			if len(ps) == 0 || ps[0].Kind != chat.KindPlan {
				t.Fatalf("no plan prompt first: %+v", ps)
			}
			fl := ps[0].Flows
			if len(fl) != 1 || fl[0].FromApp != "quick_ride" || fl[0].ToApp != "metro_hail" || fl[0].Into != "start_point" {
				t.Fatalf("plan prompt flows = %+v", fl)
			}
			if collab == chat.AllowOnce {
				if len(ps) != 1 {
					t.Fatalf("%d prompts, want the plan prompt only", len(ps))
				}
				if !strings.Contains(reply, "**metro_hail**: The estimated fare from The estimated fare") {
					t.Fatalf("allowed flow: %q", reply)
				}
				return
			}
			var cp *chat.Prompt
			for _, p := range ps {
				if p.Kind == chat.KindCollab {
					p := p
					cp = &p
				}
			}
			// Reviewed one by one, the flow is asked when it happens, with
			// exactly the data that would move.
			if cp == nil || cp.Requester != "quick_ride" || cp.Target != "metro_hail" || cp.Unplanned ||
				cp.Data != "The estimated fare from Main Street to Elm Avenue is $57.00." {
				t.Fatalf("review: collab prompt = %+v", cp)
			}
			if !strings.Contains(reply, "**metro_hail**: not run") || strings.Contains(reply, "The estimated fare from The estimated fare") {
				t.Fatalf("denied flow still ran metro_hail: %q", reply)
			}
		})
	}
}
