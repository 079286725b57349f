package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/llm"
)

// oaRequest is the OpenAI chat completions request as the server sees it.
type oaRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role      string `json:"role"`
		Content   any    `json:"content"`
		ToolCalls []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
		ToolCallID string `json:"tool_call_id"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

func (r *oaRequest) roles() []string {
	var out []string
	for _, m := range r.Messages {
		out = append(out, m.Role)
	}
	return out
}

func oaText(text string) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text},
		}},
	})
	return string(b)
}

func oaCalls(calls ...[3]string) string {
	var tcs []any
	for _, c := range calls {
		tcs = append(tcs, map[string]any{
			"id": c[0], "type": "function",
			"function": map[string]any{"name": c[1], "arguments": c[2]},
		})
	}
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-2", "object": "chat.completion", "model": "test-model",
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "tool_calls",
			"message": map[string]any{"role": "assistant", "content": nil, "tool_calls": tcs},
		}},
	})
	return string(b)
}

func newOpenAITest(t *testing.T) (*wireServer, llm.Model) {
	t.Helper()
	s := newWireServer(t, "/v1/chat/completions")
	// Retries off: these cases check how one failed answer surfaces;
	// retry_test.go covers sending again.
	m, err := New(context.Background(), Config{Provider: "openai", Model: "test-model", BaseURL: s.URL + "/v1", APIKey: "sk-test", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func TestOpenAIGenerate(t *testing.T) {
	userOnly := []llm.Message{{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: "weather in Paris?"}}
	tests := []struct {
		name    string
		req     llm.Request
		status  int
		reply   string
		want    *llm.Response
		wantErr string // substring; "" means success
		check   func(t *testing.T, got *oaRequest, hr *http.Request)
	}{
		{
			name:  "text reply",
			req:   llm.Request{Messages: userOnly},
			reply: oaText("Sunny."),
			want:  &llm.Response{Content: "Sunny."},
			check: func(t *testing.T, got *oaRequest, hr *http.Request) {
				if h := hr.Header.Get("Authorization"); h != "Bearer sk-test" {
					t.Errorf("Authorization = %q", h)
				}
				if got.Model != "test-model" {
					t.Errorf("model = %q", got.Model)
				}
				if r := got.roles(); !reflect.DeepEqual(r, []string{"system", "user"}) {
					t.Errorf("roles = %v", r)
				}
				if got.Messages[1].Content != "weather in Paris?" {
					t.Errorf("user content = %v", got.Messages[1].Content)
				}
				if len(got.Tools) != 0 || got.ToolChoice != nil {
					t.Errorf("tools %v / tool_choice %s sent without tools", got.Tools, got.ToolChoice)
				}
			},
		},
		{
			name:  "tool call reply",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool, timeTool}, ToolChoice: "auto"},
			reply: oaCalls([3]string{"call_a", "get_weather", `{"city":"Paris"}`}),
			want: &llm.Response{ToolCalls: []llm.ToolCall{
				{ID: "call_a", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
			}},
			check: func(t *testing.T, got *oaRequest, _ *http.Request) {
				if len(got.Tools) != 2 {
					t.Fatalf("tools = %d, want 2", len(got.Tools))
				}
				f := got.Tools[0]
				if f.Type != "function" || f.Function.Name != "get_weather" || f.Function.Description != "Weather for a city" {
					t.Errorf("tool[0] = %+v", f)
				}
				if !jsonEqual(t, f.Function.Parameters, weatherTool.Parameters) {
					t.Errorf("parameters = %s", f.Function.Parameters)
				}
				if !jsonEqual(t, got.Tools[1].Function.Parameters, []byte(emptySchema)) {
					t.Errorf("tool without parameters sent %s", got.Tools[1].Function.Parameters)
				}
				if string(got.ToolChoice) != `"auto"` {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name: "multi-turn with tool results",
			req: llm.Request{
				Tools: []llm.Tool{weatherTool},
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: "weather in Paris and Rome?"},
					{Role: llm.RoleAssistant, Content: "Checking.", ToolCalls: []llm.ToolCall{
						{ID: "call_1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
						{ID: "call_2", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Rome"}`)},
					}},
					{Role: llm.RoleTool, ToolCallID: "call_1", Name: "get_weather", Content: "sunny"},
					{Role: llm.RoleTool, ToolCallID: "call_2", Name: "get_weather", Content: "rain"},
				},
			},
			reply: oaText("Paris sunny, Rome rain."),
			want:  &llm.Response{Content: "Paris sunny, Rome rain."},
			check: func(t *testing.T, got *oaRequest, _ *http.Request) {
				if r := got.roles(); !reflect.DeepEqual(r, []string{"user", "assistant", "tool", "tool"}) {
					t.Fatalf("roles = %v", r)
				}
				a := got.Messages[1]
				if a.Content != "Checking." || len(a.ToolCalls) != 2 {
					t.Fatalf("assistant message = %+v", a)
				}
				for i, id := range []string{"call_1", "call_2"} {
					tc := a.ToolCalls[i]
					if tc.ID != id || tc.Type != "function" || tc.Function.Name != "get_weather" {
						t.Errorf("tool_calls[%d] = %+v", i, tc)
					}
				}
				if !jsonEqual(t, []byte(a.ToolCalls[1].Function.Arguments), []byte(`{"city":"Rome"}`)) {
					t.Errorf("arguments = %s", a.ToolCalls[1].Function.Arguments)
				}
				if got.Messages[2].ToolCallID != "call_1" || got.Messages[2].Content != "sunny" ||
					got.Messages[3].ToolCallID != "call_2" || got.Messages[3].Content != "rain" {
					t.Errorf("tool messages = %+v / %+v", got.Messages[2], got.Messages[3])
				}
			},
		},
		{
			name:  "forced tool by name",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool, timeTool}, ToolChoice: "get_time"},
			reply: oaCalls([3]string{"call_t", "get_time", `{}`}),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_t", Name: "get_time", Arguments: json.RawMessage(`{}`)}}},
			check: func(t *testing.T, got *oaRequest, _ *http.Request) {
				if !jsonEqual(t, got.ToolChoice, []byte(`{"type":"function","function":{"name":"get_time"}}`)) {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name:  "required tool",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool}, ToolChoice: "required"},
			reply: oaCalls([3]string{"c", "get_weather", `{"city":"Oslo"}`}),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "c", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)}}},
			check: func(t *testing.T, got *oaRequest, _ *http.Request) {
				if string(got.ToolChoice) != `"required"` {
					t.Errorf("tool_choice = %s", got.ToolChoice)
				}
			},
		},
		{
			name:  "invalid JSON arguments become a JSON string",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{weatherTool}},
			reply: oaCalls([3]string{"c", "get_weather", `{"city": Par`}),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "c", Name: "get_weather", Arguments: json.RawMessage(`"{\"city\": Par"`)}}},
		},
		{
			name:  "empty arguments and missing id",
			req:   llm.Request{Messages: userOnly, Tools: []llm.Tool{timeTool}},
			reply: oaCalls([3]string{"", "get_time", ""}),
			want:  &llm.Response{ToolCalls: []llm.ToolCall{{ID: "call_0", Name: "get_time", Arguments: json.RawMessage(`{}`)}}},
		},
		{name: "HTTP 500", req: llm.Request{Messages: userOnly}, status: 500, reply: `{"error":{"message":"boom"}}`, wantErr: "500"},
		{name: "HTTP 429", req: llm.Request{Messages: userOnly}, status: 429, reply: `{"error":{"message":"rate limited"}}`, wantErr: "429"},
		{name: "HTTP 502 non-JSON body", req: llm.Request{Messages: userOnly}, status: 502, reply: `<html>bad gateway</html>`, wantErr: "502"},
		{name: "garbage body", req: llm.Request{Messages: userOnly}, reply: `this is not json`, wantErr: "openai generate"},
		{name: "no choices", req: llm.Request{Messages: userOnly}, reply: `{"choices":[]}`, wantErr: "openai generate"},
		{
			name:    "legacy function_call finish without call",
			req:     llm.Request{Messages: userOnly},
			reply:   `{"choices":[{"index":0,"finish_reason":"function_call","message":{"role":"assistant","content":""}}]}`,
			wantErr: "openai generate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := newOpenAITest(t)
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			s.script(status, tt.reply)
			got, err := m.Generate(context.Background(), &tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Generate error = %v, want one containing %q (response %+v)", err, tt.wantErr, got)
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
			for _, tc := range got.ToolCalls {
				if !json.Valid(tc.Arguments) {
					t.Errorf("arguments %q are not JSON", tc.Arguments)
				}
			}
			var wire oaRequest
			hr := s.last(t, &wire)
			if tt.check != nil {
				tt.check(t, &wire, hr)
			}
		})
	}
}

func TestOpenAIRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name string
		req  *llm.Request
	}{
		{"nil", nil},
		{"no messages", &llm.Request{}},
		{"unknown role", &llm.Request{Messages: []llm.Message{{Role: "robot", Content: "x"}}}},
		{"choice names unknown tool", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Tools: []llm.Tool{weatherTool}, ToolChoice: "rm_rf"}},
		{"required without tools", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, ToolChoice: "required"}},
		{"parameters not an object", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Tools: []llm.Tool{{Name: "t", Parameters: json.RawMessage(`[1`)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := newOpenAITest(t)
			s.script(http.StatusOK, oaText("should not be asked"))
			if _, err := m.Generate(context.Background(), tt.req); err == nil || !strings.HasPrefix(err.Error(), "openai generate: ") {
				t.Errorf("Generate error = %v, want a wrapped error", err)
			}
			if n := s.count(); n != 0 {
				t.Errorf("server received %d requests for an invalid request", n)
			}
		})
	}
}

func TestOpenAIContext(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
	t.Run("cancel", func(t *testing.T) {
		s, m := newOpenAITest(t)
		err := cancelWhenArrived(t, s, m, req)
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "openai generate: ") {
			t.Errorf("error = %v, want wrapped context.Canceled", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := newWireServer(t, "/v1/chat/completions")
		s.block() // the server never answers
		m, err := New(context.Background(), Config{Provider: "openai", Model: "m", BaseURL: s.URL + "/v1", APIKey: "k", Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Generate(context.Background(), req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestOllamaUsesOpenAIWireWithoutKey(t *testing.T) {
	// langchaingo falls back to these; our explicit options must win.
	t.Setenv("OPENAI_API_KEY", "env-secret")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	s := newWireServer(t, "/v1/chat/completions")
	s.script(http.StatusOK, oaCalls([3]string{"call_x", "get_weather", `{"city":"Lima"}`}))
	m, err := New(context.Background(), Config{Provider: "ollama", Model: "llama3.1", BaseURL: s.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Generate(context.Background(), &llm.Request{
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "weather?"}},
		Tools:    []llm.Tool{weatherTool}, ToolChoice: "get_weather",
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(got.ToolCalls) != 1 || got.ToolCalls[0].Name != "get_weather" {
		t.Errorf("Generate = %+v", got)
	}
	var wire oaRequest
	hr := s.last(t, &wire)
	if wire.Model != "llama3.1" || len(wire.Tools) != 1 {
		t.Errorf("request model %q tools %d", wire.Model, len(wire.Tools))
	}
	if !jsonEqual(t, wire.ToolChoice, []byte(`{"type":"function","function":{"name":"get_weather"}}`)) {
		t.Errorf("tool_choice = %s", wire.ToolChoice)
	}
	if h := hr.Header.Get("Authorization"); h != "Bearer "+placeholderKey {
		t.Errorf("Authorization = %q, want the placeholder", h)
	}
}
