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

// TestResultFlowNeedsCollab: one app's output reaches another only after a
// collab prompt that shows exactly that output; denying it stops the step.
func TestResultFlowNeedsCollab(t *testing.T) {
	for _, collab := range []chat.Decision{chat.AllowOnce, chat.Deny} {
		t.Run(string(collab), func(t *testing.T) {
			h := hubtest.New(t, hubtest.Options{Model: chainPlanner, SpokeModel: offline.Model{}, Apps: []ids.AppID{"quick_ride", "metro_hail"}})
			c := &scripted.Conversation{A: h, User: "test:alice", Policy: func(p chat.Prompt) chat.Decision {
				if p.Kind == chat.KindCollab {
					return collab
				}
				return chat.AllowOnce
			}}
			reply := c.Send(context.Background(), "two fares, chained")
			var cp *chat.Prompt
			for _, p := range c.Prompts() {
				if p.Kind == chat.KindCollab {
					p := p
					cp = &p
				}
			}
			if cp == nil {
				t.Fatalf("no collab prompt; prompts %+v", c.Prompts())
			}
			if cp.Requester != "quick_ride" || cp.Target != "metro_hail" || cp.Data != "The estimated fare from Main Street to Elm Avenue is $57.00." {
				t.Fatalf("collab prompt = %+v", *cp)
			}
			metroRan := false
			for _, p := range c.Prompts() {
				if p.Kind == chat.KindExec && p.Target == "metro_hail" {
					metroRan = true
				}
			}
			if collab == chat.Deny {
				if metroRan || !strings.Contains(reply, "**metro_hail**: not run") {
					t.Fatalf("denied flow still ran metro_hail: %q", reply)
				}
				return
			}
			if !metroRan || !strings.Contains(reply, "**metro_hail**: The estimated fare from The estimated fare") {
				t.Fatalf("allowed flow: %q", reply)
			}
		})
	}
}
