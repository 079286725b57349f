package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps"
)

// lister is what listing a server's tools needs of a session.
type lister interface {
	Tools(ctx context.Context, p *sdk.ListToolsParams) iter.Seq2[*sdk.Tool, error]
}

// listTools lists at most maxTools of the server's tools.
func listTools(ctx context.Context, l lister) ([]*sdk.Tool, error) {
	var tools []*sdk.Tool
	for t, err := range l.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("list tools: %w", err)
		}
		if len(tools) == maxTools {
			break
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// checkLive compares the running server's definition of f with the
// approved one (the spoke's config holds only approved, pinned tools), so
// that a server which describes a tool otherwise once it runs for a user
// (a rug pull) gets no call of it. The server is listed once per
// invocation.
func (a *App) checkLive(ctx context.Context, l lister, f apps.Function) error {
	a.mu.Lock()
	live := a.live
	a.mu.Unlock()
	if live == nil {
		tools, err := listTools(ctx, l)
		if err != nil {
			return fmt.Errorf("mcp %s: %w", a.srv.Name, err)
		}
		fns, err := functions(a.srv, tools)
		if err != nil {
			return fmt.Errorf("mcp %s: %w", a.srv.Name, err)
		}
		live = make(map[string]json.RawMessage, len(fns))
		for _, lf := range fns {
			live[lf.Name] = definition(lf)
		}
		a.mu.Lock()
		a.live = live
		a.mu.Unlock()
	}
	if !bytes.Equal(live[f.Name], definition(f)) {
		return fmt.Errorf("mcp %s: the server's definition of %s changed since it was approved (or it is gone); it is not called until the operator approves the change (secgpt mcp pins)", a.srv.Name, f.Name)
	}
	return nil
}
