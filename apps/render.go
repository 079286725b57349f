package apps

import "encoding/json"

// Rendering is an app whose results read better as text than as their
// JSON (an MCP server's result envelope). The spoke calls Render for the
// text of every result: what its own model reads, and what the hub gets
// as the result's text.
type Rendering interface {
	App
	// Render returns the text of fn's result. It runs in the spoke, does
	// no I/O and must not fail: a result it cannot read is returned as
	// its JSON.
	Render(fn string, result json.RawMessage) string
}
