package mcp

import (
	"encoding/json"
	"strings"
)

// Render is a tool result as text: the server's text (or, with none, its
// structured content), marked when the server reports an error, with the
// notes on what was left out. It is what the spoke's model reads, what the
// reply shows and what a later step is given, instead of the envelope.
func (a *App) Render(_ string, result json.RawMessage) string {
	var r Result
	if json.Unmarshal(result, &r) != nil {
		return string(result)
	}
	return r.String()
}

// String renders r as text (see Render).
func (r Result) String() string {
	text := r.Text
	if strings.TrimSpace(text) == "" && len(r.Structured) > 0 {
		text = string(r.Structured)
	}
	if r.IsError {
		text = "The server reported an error: " + text
	}
	for _, n := range r.Notes {
		text += "\n(" + n + ")"
	}
	return text
}
