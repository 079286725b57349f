package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
)

// anRequest is the Anthropic Messages request as the server sees it.
type anRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	System    string `json:"system"`
	Messages  []struct {
		Role    string           `json:"role"`
		Content []map[string]any `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// blocks flattens the conversation to "role:type:detail" strings.
func (r *anRequest) blocks() []string {
	var out []string
	for _, m := range r.Messages {
		for _, b := range m.Content {
			var detail any
			switch b["type"] {
			case "text":
				detail = b["text"]
			case "tool_use":
				in, _ := json.Marshal(b["input"])
				detail = b["id"].(string) + " " + b["name"].(string) + " " + string(in)
			case "tool_result":
				detail = b["tool_use_id"].(string) + " " + b["content"].(string)
			}
			out = append(out, m.Role+":"+b["type"].(string)+":"+toString(detail))
		}
	}
	return out
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// anReply builds a Messages response from content blocks.
func anReply(stop string, blocks ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
		"stop_reason": stop, "content": blocks,
		"usage": map[string]int{"input_tokens": 10, "output_tokens": 5},
	})
	return string(b)
}

func anText(s string) map[string]any { return map[string]any{"type": "text", "text": s} }

func anToolUse(id, name string, input any) map[string]any {
	return map[string]any{"type": "tool_use", "id": id, "name": name, "input": input}
}

func newAnthropicTest(t *testing.T) (*wireServer, llm.Model) {
	t.Helper()
	s := newWireServer(t, "/v1/messages")
	// Retries off: these cases check how one failed answer surfaces;
	// retry_test.go covers sending again.
	m, err := New(context.Background(), Config{Provider: "anthropic", Model: "claude-test", BaseURL: s.URL + "/v1", APIKey: "sk-ant-test", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func TestAnthropicGenerate(t *testing.T) {
	userOnly := []llm.Message{
		{Role: llm.RoleSystem, Content: "be brief"},
		{Role: llm.RoleSystem, Content: "be kind"},
		{Role: llm.RoleUser, Content: "weather in Paris?"},
	}
	tests := []struct {
		name    string
		req     llm.Request
		status  int
		reply   string
		want    *llm.Response
		wantErr string
		errIs   error
		check   func(t *testing.T, got *anRequest, hr *http.Request)
	}{
		{
			name:  "text reply",
			req:   llm.Request{Messages: userOnly},
			reply: anReply("end_turn", anText("Sunny.")),
			want:  &llm.Response{Content: "Sunny."},
			check: func(t *testing.T, got *anRequest, hr *http.Request) {
				if h := hr.Header.Get("X-Api-Key"); h != "sk-ant-test" {
					t.Errorf("x-api-key = %q", h)
				}
				if hr.Header.Get("Anthropic-Version") == "" {
					t.Error("no anthropic-version header")
				}
				if got.Model != "claude-test" || got.MaxTokens != anthropicMaxTokens {
					t.Errorf("model %q max_tokens %d", got.Model, got.MaxTokens)
				}
				if got.System != "be brief\n\nbe kind" {
					t.Errorf("system = %q", got.System)
				}
				if b := got.blocks(); !reflect.DeepEqual(b, []string{"user:text:weather in Paris?"}) {
					t.Errorf("blocks = %q", b)
				}
				if len(got.Tools) != 0 || got.ToolChoice != nil {
					t.Errorf("tools/tool_choice sent without tools: %s", got.ToolChoice)
				}
			},
		},
		{
			name:  "text and tool_use blocks merge into one response",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool, timeTool}, ToolChoice: "auto"},
			reply: anReply("tool_use", anText("Let me check."), anToolUse("toolu_1", "get_weather", map[string]any{"city": "Paris"}), anToolUse("toolu_2", "get_time", map[string]any{})),
			want: &llm.Response{Content: "Let me check.", ToolCalls: []llm.ToolCall{
				{ID: "toolu_1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
				{ID: "toolu_2", Name: "get_time", Arguments: json.RawMessage(`{}`)},
			}},
			check: func(t *testing.T, got *anRequest, _ *http.Request) {
				if len(got.Tools) != 2 || got.Tools[0].Name != "get_weather" || got.Tools[0].Description != "Weather for a city" {
					t.Fatalf("tools = %+v", got.Tools)
				}
				if !jsonEqual(t, got.Tools[0].InputSchema, weatherTool.Parameters) {
					t.Errorf("input_schema = %s", got.Tools[0].InputSchema)
				}
				if !jsonEqual(t, got.Tools[1].InputSchema, []byte(emptySchema)) {
					t.Errorf("input_schema without parameters = %s", got.Tools[1].InputSchema)
				}
				if !jsonEqual(t, got.ToolChoice, []byte(`{"type":"auto"}`)) {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name: "multi-turn with tool results, one block per message",
			req: llm.Request{
				Tools: []llm.Tool{weatherTool},
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: "Paris and Rome?"},
					{Role: llm.RoleAssistant, Content: "Checking.", ToolCalls: []llm.ToolCall{
						{ID: "toolu_1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
						{ID: "toolu_2", Name: "get_weather", Arguments: json.RawMessage(`"not an object"`)},
					}},
					{Role: llm.RoleTool, ToolCallID: "toolu_1", Name: "get_weather", Content: "sunny"},
					{Role: llm.RoleTool, ToolCallID: "toolu_2", Name: "get_weather", Content: "error: bad arguments"},
				},
			},
			reply: anReply("end_turn", anText("Paris is sunny.")),
			want:  &llm.Response{Content: "Paris is sunny."},
			check: func(t *testing.T, got *anRequest, _ *http.Request) {
				want := []string{
					"user:text:Paris and Rome?",
					"assistant:text:Checking.",
					`assistant:tool_use:toolu_1 get_weather {"city":"Paris"}`,
					`assistant:tool_use:toolu_2 get_weather {}`,
					"user:tool_result:toolu_1 sunny",
					"user:tool_result:toolu_2 error: bad arguments",
				}
				if b := got.blocks(); !reflect.DeepEqual(b, want) {
					t.Errorf("blocks =\n%q\nwant\n%q", b, want)
				}
			},
		},
		{
			name:  "forced tool by name",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool, timeTool}, ToolChoice: "get_time"},
			reply: anReply("tool_use", anToolUse("toolu_t", "get_time", map[string]any{})),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "toolu_t", Name: "get_time", Arguments: json.RawMessage(`{}`)}}},
			check: func(t *testing.T, got *anRequest, _ *http.Request) {
				if !jsonEqual(t, got.ToolChoice, []byte(`{"type":"tool","name":"get_time"}`)) {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name:  "required tool",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool}, ToolChoice: "required"},
			reply: anReply("tool_use", anToolUse("toolu_r", "get_weather", map[string]any{"city": "Oslo"})),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "toolu_r", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)}}},
			check: func(t *testing.T, got *anRequest, _ *http.Request) {
				if !jsonEqual(t, got.ToolChoice, []byte(`{"type":"any"}`)) {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name:  "no tools",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool}, ToolChoice: "none"},
			reply: anReply("end_turn", anText("No tools needed.")),
			want:  &llm.Response{Content: "No tools needed."},
			check: func(t *testing.T, got *anRequest, _ *http.Request) {
				if !jsonEqual(t, got.ToolChoice, []byte(`{"type":"none"}`)) {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{name: "HTTP 500", req: llm.Request{Messages: userOnly}, status: 500, reply: `{"type":"error","error":{"type":"api_error","message":"boom"}}`, wantErr: "500"},
		{name: "HTTP 429", req: llm.Request{Messages: userOnly}, status: 429, reply: `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, wantErr: "429"},
		{name: "HTTP 529 non-JSON body", req: llm.Request{Messages: userOnly}, status: 529, reply: `overloaded`, wantErr: "529"},
		{name: "garbage body", req: llm.Request{Messages: userOnly}, reply: `{"content":[{"type":`, wantErr: "anthropic generate"},
		{name: "unknown block type", req: llm.Request{Messages: userOnly}, reply: anReply("end_turn", map[string]any{"type": "hologram"}), wantErr: "anthropic generate"},
		{name: "tool_use input not an object", req: llm.Request{Messages: userOnly}, reply: anReply("tool_use", anToolUse("t", "get_time", "oops")), wantErr: "anthropic generate"},
		{name: "empty content", req: llm.Request{Messages: userOnly}, reply: anReply("end_turn"), errIs: llm.ErrNoResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := newAnthropicTest(t)
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			s.script(status, tt.reply)
			got, err := m.Generate(context.Background(), &tt.req)
			if tt.wantErr != "" || tt.errIs != nil {
				if err == nil || !strings.HasPrefix(err.Error(), "anthropic generate: ") ||
					!strings.Contains(err.Error(), tt.wantErr) || (tt.errIs != nil && !errors.Is(err, tt.errIs)) {
					t.Fatalf("Generate error = %v, want %q / %v (response %+v)", err, tt.wantErr, tt.errIs, got)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Generate = %+v, want %+v", got, tt.want)
			}
			var wire anRequest
			hr := s.last(t, &wire)
			if tt.check != nil {
				tt.check(t, &wire, hr)
			}
		})
	}
}

func TestAnthropicCancel(t *testing.T) {
	s, m := newAnthropicTest(t)
	err := cancelWhenArrived(t, s, m, &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "anthropic generate: ") {
		t.Errorf("error = %v, want wrapped context.Canceled", err)
	}
}
