//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/plan"
)

// stepPlanner plans one step from a message written "function {args}";
// spokes get the offline model, which calls the planned function.
type stepPlanner struct{ app ids.AppID }

func (p stepPlanner) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if !req.HasTool(plan.ToolName) {
		return offline.Model{}.Generate(ctx, req)
	}
	fn, args, _ := strings.Cut(req.LastUser(), " ")
	pl := plan.Plan{Steps: []plan.Step{{App: string(p.app), Function: fn, Instruction: "run " + fn, Args: json.RawMessage(args)}}}
	b, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "p1", Name: plan.ToolName, Arguments: b}}}, nil
}

// TestThroughTheHub installs the real memory server in a hub's catalog
// like cli/ does and uses it from two users' conversations: every call
// runs in a sandboxed spoke with the user's own data directory (the hub's
// SpokePolicy hook), the exec prompt shows the operator's effect beside the
// server's claim, and one user's graph never reaches the other.
func TestThroughTheHub(t *testing.T) {
	dir := npmDir(t)
	in := install(t, memoryServer(dir), dir)
	h, hb := in.h, in.hub(t, 0, 0, nil)
	ctx := context.Background()
	alice := &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}
	bob := &scripted.Conversation{A: hb, User: "test:bob", Policy: scripted.AllowPlanned}
	reply := alice.Send(ctx, `memory__create_entities {"entities":[{"name":"Trip","entityType":"plan","observations":["flight AB123 to Lisbon"]}]}`)
	if !strings.Contains(reply, "AB123") {
		t.Fatalf("create: reply %q\nspokes:\n%s", reply, h.log)
	}
	if reply := alice.Send(ctx, `memory__read_graph {}`); !strings.Contains(reply, "AB123") {
		t.Fatalf("alice's graph lost: %q", reply)
	}
	if reply := bob.Send(ctx, `memory__read_graph {}`); strings.Contains(reply, "AB123") {
		t.Fatalf("bob sees alice's graph: %q", reply)
	}
	ps := alice.Prompts()
	if len(ps) == 0 {
		t.Fatal("no prompt")
	}
	// The plan prompt shows the operator's effect (the strongest, as the
	// server is not trusted) and the server's own claim, marked unverified.
	plans := 0
	for _, p := range ps {
		if p.Kind != chat.KindPlan {
			continue
		}
		plans++
		for _, s := range p.Steps {
			if line := chat.StepLine(s); s.Effect != string(DefaultEffect) || !strings.Contains(line, "not verified") {
				t.Errorf("plan step without the effect and the server's claim: %q (effect %q)", line, s.Effect)
			}
		}
	}
	if plans == 0 {
		t.Fatalf("no plan prompt among %d prompts", len(ps))
	}
}
