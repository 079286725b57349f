package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

// elicitEnv is an app environment whose user answers every question with
// "accept" and the content given.
type elicitEnv struct {
	*appstest.Env
	asked []string
}

func (e *elicitEnv) Elicit(_ context.Context, message string, _ json.RawMessage) (string, map[string]any, error) {
	e.asked = append(e.asked, message)
	return "accept", map[string]any{"ok": true}, nil
}

// TestStandaloneStream: a remote server may send a request on its own
// (the standalone GET stream of streamable HTTP, not the response to one
// of the client's calls): here an elicitation made outside the call's
// context. The client keeps that stream open, so it arrives and is
// answered; without the stream it timed out.
func TestStandaloneStream(t *testing.T) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "remote", Version: "1"}, nil)
	sdk.AddTool(srv, &sdk.Tool{Name: "ask", Description: "Asks out of band."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, struct{}, error) {
			// A context not derived from the call's: the SDK routes the
			// request to the standalone stream.
			octx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			res, err := req.Session.Elicit(octx, &sdk.ElicitParams{Message: "out of band?",
				RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}}})
			if err != nil {
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "elicitation failed: " + err.Error()}}}, struct{}{}, nil
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("answer: %s", res.Action)}}}, struct{}{}, nil
		})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{DisableLocalhostProtection: true})
	ts := httptest.NewServer(h)
	defer ts.Close()

	env := &elicitEnv{Env: appstest.NewEnv()}
	env.Client = &http.Client{}
	a := newApp(Server{Name: "remote", URL: ts.URL})
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sp, err := a.Describe(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	a.spec = sp
	out, err := a.Call(ctx, env, "remote__ask", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "answer: accept") || len(env.asked) != 1 {
		t.Fatalf("result %s, questions %q", out, env.asked)
	}
}
