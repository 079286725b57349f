package gate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// serverPlan is a plan of one step per function of the MCP app mcp.files,
// each with its operator-declared effect.
func serverPlan(session ids.SessionID, fns ...[2]string) PlanRequest {
	pr := PlanRequest{User: "alice", Session: session, Conversation: "dm"}
	for i, f := range fns {
		pr.Steps = append(pr.Steps, chat.PlanStep{N: i + 1, App: "mcp.files", Function: f[0], Effect: f[1]})
		pr.Parts = append(pr.Parts, PlanPart{Request: Request{Kind: chat.KindExec, Target: "mcp.files", Function: f[0], Effect: f[1]}, Step: i, Flow: -1})
	}
	return pr
}

var (
	readFile  = [2]string{"files__read_file", "read"}
	listDir   = [2]string{"files__list_directory", "read"}
	writeFile = [2]string{"files__write_file", "write"}
	moveFile  = [2]string{"files__move_file", "destroy"}
)

// TestAllowReads: a plan prompt with one app's read steps offers "Always
// allow APP for reads"; choosing it runs that plan once and stores one
// grant, listed and revocable, that covers that app's planned reads only:
// writes, sends, destroys, other apps and calls outside a plan still ask,
// and the button cannot be forged for another app.
func TestAllowReads(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	defer st.Close()
	g := New(st, Options{Timeout: 5 * time.Second})
	c := newConv()
	reads := chat.AllowReads("mcp.files")

	// The button is only the one the prompt offered.
	done := make(chan struct{})
	go func() { _, _ = g.CheckPlan(ctx, c, serverPlan("s0", readFile)); close(done) }()
	var p chat.Prompt
	select {
	case p = <-c.prompts:
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	for _, d := range []chat.Decision{chat.AllowReads("mcp.other"), chat.AllowReads("")} {
		if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: p.User, Decision: d}); err == nil {
			t.Errorf("forged %q accepted", d)
		}
	}
	if err := g.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: p.User, Decision: chat.Deny}); err != nil {
		t.Fatal(err)
	}
	<-done

	res, shown := checkPlan(t, g, c, serverPlan("s1", readFile, writeFile), reads)
	if len(shown) != 1 || shown[0].ReadsApp != "mcp.files" || !slices.Contains(shown[0].Choices(), reads) {
		t.Fatalf("prompts %+v, want one offering %q", shown, reads)
	}
	if reads.Label() != "Always allow mcp.files for reads" {
		t.Errorf("label %q", reads.Label())
	}
	for i, d := range res.Decisions {
		if d != chat.AllowOnce {
			t.Errorf("part %d decided %q, want once", i, d)
		}
	}
	gs, err := st.ListGrants(ctx, "alice")
	if err != nil || len(gs) != 1 || gs[0].Function != chat.ReadsFunction || gs[0].Target != "mcp.files" || gs[0].Decision != chat.AllowAlways {
		t.Fatalf("grants %+v, %v", gs, err)
	}

	// Another session, another read function: no prompt.
	if res, shown := checkPlan(t, g, c, serverPlan("s2", listDir, readFile), chat.Deny); len(shown) != 0 || !res.Decisions[0].Allows() || !res.Decisions[1].Allows() {
		t.Fatalf("reads asked again: %d prompts, %v", len(shown), res.Decisions)
	}
	// A write or destroy still asks, showing the reads as already allowed.
	_, shown = checkPlan(t, g, c, serverPlan("s3", listDir, writeFile, moveFile), chat.Deny)
	if len(shown) != 1 || !shown[0].Steps[0].Granted || shown[0].Steps[1].Granted || shown[0].Steps[2].Granted || shown[0].ReadsApp != "" {
		t.Fatalf("writes: %+v", shown)
	}
	// A read outside a plan, another app's read, or a confirmation: asked.
	for _, r := range []Request{
		{User: "alice", Kind: chat.KindExec, Target: "mcp.files", Function: readFile[0], Effect: "read", Unplanned: true},
		{User: "alice", Kind: chat.KindExec, Target: "mcp.other", Function: "other__read", Effect: "read"},
		{User: "alice", Kind: chat.KindExec, Target: "mcp.files", Function: readFile[0], Effect: "read", Confirm: true},
	} {
		if _, _, decided, err := g.precheck(ctx, r); decided || err != nil {
			t.Errorf("%+v decided without asking (%v)", r, err)
		}
	}
	// Revoked like any grant of the app.
	if n, err := st.RevokeGrants(ctx, "alice", "mcp.files"); n != 1 || err != nil {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	if _, shown := checkPlan(t, g, c, serverPlan("s5", readFile), chat.AllowOnce); len(shown) != 1 {
		t.Fatalf("after revoke: %d prompts", len(shown))
	}
}

// TestReadsGrantShape: the store keeps a grant of every read only as an
// always exec grant for planned steps.
func TestReadsGrantShape(t *testing.T) {
	good := readsGrant("alice", "mcp.files", time.Now())
	if _, err := state.CheckGrant(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*state.Grant){
		func(g *state.Grant) { g.Kind = chat.KindCollab; g.Requester = "x" },
		func(g *state.Grant) { g.Unplanned = true },
		func(g *state.Grant) { g.Decision = chat.AllowSession; g.Session = "s" },
	} {
		g := good
		bad(&g)
		if _, err := state.CheckGrant(g); err == nil {
			t.Errorf("accepted %+v", g)
		}
	}
}
