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
