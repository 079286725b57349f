//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
)

// TestResultString: a result reads as its text, an error is marked as
// the server's, dropped parts are noted, and structured content stands in
// for missing text.
func TestResultString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"text", `{"text":"hello"}`, "hello"},
		{"error", `{"text":"EISDIR: illegal operation on a directory, read","is_error":true}`, "The server reported an error: EISDIR: illegal operation on a directory, read"},
		{"notes", `{"text":"x","notes":["an image (image/png) was dropped: SecGPT passes text only"]}`, "x\n(an image (image/png) was dropped: SecGPT passes text only)"},
		{"structured only", `{"text":"","structured":{"temp":21}}`, `{"temp":21}`},
		{"not a result", `[1,2]`, `[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&App{}).Render("f", json.RawMessage(tt.in)); got != tt.want {
				t.Fatalf("Render(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// chainPlanner plans the steps of a message written as lines of
// "function {args}", in order; spokes get the offline model.
type chainPlanner struct{ stepPlanner }

func (p chainPlanner) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if !req.HasTool(plan.ToolName) {
		return p.stepPlanner.Generate(ctx, req)
	}
	var pl plan.Plan
	for _, line := range strings.Split(req.LastUser(), "\n") {
		fn, args, _ := strings.Cut(line, " ")
		pl.Steps = append(pl.Steps, plan.Step{App: string(p.app), Function: fn, Instruction: "run " + fn, Args: json.RawMessage(args)})
	}
	b, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "p1", Name: plan.ToolName, Arguments: b}}}, nil
}

// TestResultTextThroughTheHub: through the hub, a real server's result
// reaches the reply as text, not as the MCP envelope, and a later step
// given the whole result ("<result_1>") gets its text.
func TestResultTextThroughTheHub(t *testing.T) {
	dir := npmDir(t)
	in := install(t, node(dir, "server-everything", "stdio"), dir)
	in.planner = chainPlanner{stepPlanner{app: in.s.ID()}}
	hb := in.hub(t, 0, 0, nil)
	c := &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}
	reply := c.Send(context.Background(), `everything__echo {"message":"hi there"}`)
	if strings.Contains(reply, `"text"`) || !strings.Contains(reply, "Echo: hi there") {
		t.Fatalf("one step: reply %q, want the text alone\nspokes:\n%s", reply, in.h.log)
	}
	reply = c.Send(context.Background(), "everything__echo {\"message\":\"hi there\"}\neverything__echo {\"message\":\"<result_1>\"}")
	if strings.Contains(reply, `text`) || !strings.Contains(reply, "Echo: Echo: hi there") {
		t.Fatalf("two steps: reply %q, want step 2 given step 1's text\nspokes:\n%s", reply, in.h.log)
	}
}
