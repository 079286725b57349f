// Package llm defines the model seam used by the hub, the spokes (through the
// hub) and VanillaGPT: a provider-neutral request with native tool calling,
// and a Model interface. Every type here is plain data that crosses the ISC
// socket as JSON, so a spoke's model call can be relayed by the hub without
// the spoke ever holding a key.
package llm

import (
	"context"
	"encoding/json"
	"errors"
)

// Role of a message in a chat request.
type Role string

// Roles, as in the OpenAI chat API.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one chat message.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message made.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a tool message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Name is the tool's name on a tool message.
	Name string `json:"name,omitempty"`
}

// Tool is a function the model may call. Parameters is a JSON Schema object.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is one call the model made. Arguments is a JSON object.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Request is one model call.
type Request struct {
	Messages []Message `json:"messages"`
	Tools    []Tool    `json:"tools,omitempty"`
	// ToolChoice is "" (provider default), "auto", "none", "required", or a
	// tool name that the model must call.
	ToolChoice string `json:"tool_choice,omitempty"`
}

// Response is the model's answer: text, tool calls, or both.
type Response struct {
	Content   string     `json:"content,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// Model generates one response. Implementations must be safe for concurrent
// use: the hub calls one Model from many goroutines.
type Model interface {
	Generate(ctx context.Context, req *Request) (*Response, error)
}

// ModelFunc adapts a function to Model.
type ModelFunc func(ctx context.Context, req *Request) (*Response, error)

// Generate calls f.
func (f ModelFunc) Generate(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// ErrNoResponse is returned by providers when the model returned no choice.
var ErrNoResponse = errors.New("model returned no response")

// LastUser returns the content of the last user message, or "".
func (r *Request) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == RoleUser {
			return r.Messages[i].Content
		}
	}
	return ""
}

// SystemText returns the concatenated system messages.
func (r *Request) SystemText() string {
	var s string
	for _, m := range r.Messages {
		if m.Role == RoleSystem {
			if s != "" {
				s += "\n"
			}
			s += m.Content
		}
	}
	return s
}

// HasTool reports whether the request offers a tool called name.
func (r *Request) HasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// StreamingModel is a Model that can also hand over the text of its answer
// while it is being generated, so a reply can be shown as it is written.
//
// GenerateStream is Generate, calling onText with each new piece of the
// answer's text (a delta, in order) as it arrives. The returned Response is
// the whole answer, as Generate would return it; its Content is what the
// caller shows in the end, whatever the pieces were. Pieces come from one
// attempt only: an implementation that retries does so before the first
// piece (a status or connection error) or not at all, so text is never
// repeated. When GenerateStream fails after some pieces, the caller must
// treat them as void. An error from onText ends the call with that error.
// A request that offers tools may be answered without pieces, or with the
// whole text as one piece once the call is done: pieces are only ever
// answer text, never tool-call arguments.
type StreamingModel interface {
	Model
	GenerateStream(ctx context.Context, req *Request, onText func(ctx context.Context, piece string) error) (*Response, error)
}

// GenerateStream calls m.GenerateStream when m can stream, and otherwise
// m.Generate followed by one onText with the whole answer text (when there
// is any), so callers need one path for both kinds of model.
func GenerateStream(ctx context.Context, m Model, req *Request, onText func(ctx context.Context, piece string) error) (*Response, error) {
	if sm, ok := m.(StreamingModel); ok {
		return sm.GenerateStream(ctx, req, onText)
	}
	resp, err := m.Generate(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.Content != "" {
		if err := onText(ctx, resp.Content); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
