package hub_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestAlwaysAllowReads: a plan whose steps read one app offers "Always
// allow APP for reads"; chosen, the app's reads run later without a
// prompt, !grants lists the grant, and !revoke ends it.
func TestAlwaysAllowReads(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{InProcess: true, Apps: []ids.AppID{"quick_ride"}})
	reads := chat.AllowReads("quick_ride")
	policy := func(p chat.Prompt) chat.Decision {
		if slices.Contains(p.Choices(), reads) {
			return reads
		}
		return chat.AllowOnce
	}
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: policy}
	ctx := context.Background()
	const ask = "Use quick_ride to calculate the fare for a trip from 'Main Street' to 'Elm Avenue'."
	if reply := c.Send(ctx, ask); !strings.Contains(reply, "57.00") {
		t.Fatalf("reply %q", reply)
	}
	if ps := c.Prompts(); len(ps) != 1 || ps[0].ReadsApp != "quick_ride" {
		t.Fatalf("prompts %+v, want one offering reads of quick_ride", ps)
	}
	if reply := c.Send(ctx, ask); !strings.Contains(reply, "57.00") || len(c.Prompts()) != 1 {
		t.Fatalf("second read: reply %q, %d prompts in all", reply, len(c.Prompts()))
	}
	if reply := c.Send(ctx, "!grants"); !strings.Contains(reply, "exec quick_ride (every read-only function) (always)") {
		t.Fatalf("!grants: %q", reply)
	}
	c.Send(ctx, "!revoke quick_ride")
	c.Send(ctx, ask)
	if n := len(c.Prompts()); n != 2 {
		t.Fatalf("after revoke: %d prompts in all, want 2", n)
	}
}
