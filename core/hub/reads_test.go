package hub_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// filesServer is a server-like app (a namespaced id, as an MCP server's
// mcp.NAME) with a read and a write function.
type filesServer struct{}

const pathSchema = `{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`

func (filesServer) Spec() apps.Spec {
	return apps.Spec{ID: "zz.files", Description: "files", Functions: []apps.Function{
		{Name: "files__read_file", Request: json.RawMessage(pathSchema), Response: json.RawMessage(`{"type":"string"}`), Effect: apps.EffectRead},
		{Name: "files__write_file", Request: json.RawMessage(pathSchema), Response: json.RawMessage(`{"type":"string"}`), Effect: apps.EffectWrite},
	}}
}

func (filesServer) Call(_ context.Context, _ apps.Env, fn string, args json.RawMessage) (json.RawMessage, error) {
	return json.Marshal(fn + " done")
}

func init() { apps.Register("zz.files", func() apps.App { return filesServer{} }) }

// TestAlwaysAllowReads: a plan whose steps read one server offers "Always
// allow SERVER for reads"; chosen, the server's reads run later without a
// prompt while its writes still ask, !grants lists the grant, and !revoke
// ends it.
func TestAlwaysAllowReads(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"zz.files", "quick_ride"}})
	reads := chat.AllowReads("zz.files")
	policy := func(p chat.Prompt) chat.Decision {
		if slices.Contains(p.Choices(), reads) {
			return reads
		}
		return chat.AllowOnce
	}
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: policy}
	ctx := context.Background()
	const read = "Use zz.files to read the file /tmp/notes.txt"
	if reply := c.Send(ctx, read); !strings.Contains(reply, "files__read_file done") {
		t.Fatalf("reply %q", reply)
	}
	if ps := c.Prompts(); len(ps) != 1 || ps[0].ReadsApp != "zz.files" {
		t.Fatalf("prompts %+v, want one offering reads of zz.files", ps)
	}
	if reply := c.Send(ctx, read); !strings.Contains(reply, "files__read_file done") || len(c.Prompts()) != 1 {
		t.Fatalf("second read: reply %q, %d prompts in all", reply, len(c.Prompts()))
	}
	if reply := c.Send(ctx, "Use zz.files to write the file /tmp/notes.txt"); !strings.Contains(reply, "files__write_file done") || len(c.Prompts()) != 2 {
		t.Fatalf("write: reply %q, %d prompts in all, want the write asked", reply, len(c.Prompts()))
	}
	// A built-in app's plan is not offered the choice.
	c.Send(ctx, "Use quick_ride to calculate the fare for a trip from 'Main Street' to 'Elm Avenue'.")
	if ps := c.Prompts(); len(ps) != 3 || ps[2].ReadsApp != "" {
		t.Fatalf("built-in app's prompt %+v", ps[len(ps)-1])
	}
	if reply := c.Send(ctx, "!grants"); !strings.Contains(reply, "exec zz.files (every read-only function) (always)") {
		t.Fatalf("!grants: %q", reply)
	}
	c.Send(ctx, "!revoke zz.files")
	c.Send(ctx, read)
	if n := len(c.Prompts()); n != 4 {
		t.Fatalf("after revoke: %d prompts in all, want 4", n)
	}
}
