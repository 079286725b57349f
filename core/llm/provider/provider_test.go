package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/secgpt-go/secgpt/core/llm"
)

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means New succeeds
	}{
		{"empty provider", Config{Model: "m", APIKey: "k"}, "SECGPT_MODEL_PROVIDER"},
		{"unknown provider", Config{Provider: "mistral", Model: "m", APIKey: "k"}, `unknown model provider "mistral"`},
		{"gemini without key", Config{Provider: "gemini", Model: "gemini-2.0-flash"}, "gemini provider: api key is empty (set SECGPT_MODEL_API_KEY"},
		{"gemini", Config{Provider: "gemini", Model: "gemini-2.0-flash", APIKey: "k"}, ""},
		{"gemini at a local server needs no key", Config{Provider: "gemini", Model: "g", BaseURL: "http://127.0.0.1:1"}, ""},
		{"openai without model", Config{Provider: "openai", APIKey: "k"}, "openai provider: model is empty (set SECGPT_MODEL"},
		{"openai without key", Config{Provider: "openai", Model: "gpt-4o-mini"}, "openai provider: api key is empty (set SECGPT_MODEL_API_KEY"},
		{"anthropic without key", Config{Provider: "anthropic", Model: "claude"}, "anthropic provider: api key is empty"},
		{"bad base url", Config{Provider: "openai", Model: "m", APIKey: "k", BaseURL: "localhost:8080"}, "SECGPT_MODEL_BASE_URL"},
		{"base url credentials not echoed", Config{Provider: "openai", Model: "m", APIKey: "k", BaseURL: "ftp://u:hunter2@h/v1"}, "ftp://h/v1"},
		{"ollama needs no key", Config{Provider: "ollama", Model: "llama3.1"}, ""},
		{"self-hosted openai-compatible server needs no key", Config{Provider: "openai", Model: "qwen", BaseURL: "http://127.0.0.1:8000/v1"}, ""},
		{"provider name is case-insensitive", Config{Provider: " OpenAI ", Model: "m", APIKey: "k"}, ""},
		{"anthropic", Config{Provider: "anthropic", Model: "claude", APIKey: "k"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(context.Background(), tt.cfg)
			if tt.wantErr == "" {
				if err != nil || m == nil {
					t.Fatalf("New = %v, %v; want a model", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Provider: "openai", Model: "gpt-4o-mini", APIKey: "sk-secret"}, "openai gpt-4o-mini at https://api.openai.com/v1"},
		{Config{Provider: "ollama", Model: "llama3.1"}, "ollama llama3.1 at http://127.0.0.1:11434/v1"},
		{Config{Provider: "anthropic", Model: "claude-x", APIKey: "sk-secret"}, "anthropic claude-x at https://api.anthropic.com/v1"},
		{Config{Provider: "gemini", Model: "gemini-2.0-flash", APIKey: "sk-secret"}, "gemini gemini-2.0-flash at https://generativelanguage.googleapis.com"},
		{Config{Provider: "openai", Model: "qwen", APIKey: "sk-secret", BaseURL: "http://user:sk-secret@127.0.0.1:8000/v1?key=sk-secret"}, "openai qwen at http://127.0.0.1:8000/v1"},
		{Config{Provider: "openai", APIKey: "sk-secret", BaseURL: "::bad"}, "openai (no model) at (invalid base url)"},
		{Config{}, "(no provider) (no model)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := Describe(tt.cfg)
			if got != tt.want {
				t.Errorf("Describe = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "sk-secret") {
				t.Errorf("Describe leaks the key: %q", got)
			}
		})
	}
}

func TestNormalizeArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`  {"a":1}  `, `{"a":1}`},
		{``, `{}`},
		{`   `, `{}`},
		{`{"a":`, `"{\"a\":"`},
		{`[1,2]`, `[1,2]`},
		{"\xff", `"\ufffd"`},
	}
	for _, tt := range tests {
		if got := normalizeArgs(tt.in); string(got) != tt.want {
			t.Errorf("normalizeArgs(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzResponse checks that whatever a client library hands back, the merged
// response carries JSON arguments and survives the ISC's JSON encoding.
func FuzzResponse(f *testing.F) {
	f.Add("hi", "call_1", "get_weather", `{"city":"Paris"}`, true)
	f.Add("", "", "", `{"city":`, false)
	f.Add("x", "id", "n", "\xff\x00", true)
	f.Fuzz(func(t *testing.T, content, id, name, args string, two bool) {
		choices := []*llms.ContentChoice{{
			Content:   content,
			ToolCalls: []llms.ToolCall{{ID: id, FunctionCall: &llms.FunctionCall{Name: name, Arguments: args}}},
		}}
		if two {
			choices = append(choices, nil, &llms.ContentChoice{FuncCall: &llms.FunctionCall{Name: name, Arguments: args}})
		}
		r := response(choices)
		if len(r.ToolCalls) != len(choices)-boolInt(two) {
			t.Fatalf("got %d tool calls from %d choices", len(r.ToolCalls), len(choices))
		}
		for _, tc := range r.ToolCalls {
			if !json.Valid(tc.Arguments) {
				t.Fatalf("arguments %q are not JSON", tc.Arguments)
			}
			if tc.ID == "" {
				t.Fatal("empty tool call id")
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("response does not marshal: %v", err)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roundTripFunc serves fuzzed bodies without a socket, so each fuzz input
// goes through the real client's decoding quickly.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func fuzzWire(f *testing.F, provider string, seeds []string) {
	for _, s := range seeds {
		f.Add(200, s)
	}
	f.Add(500, `{"error":{"message":"x"}}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 599 {
			status = 200
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		m, err := New(context.Background(), Config{Provider: provider, Model: "m", APIKey: "k", BaseURL: "http://127.0.0.1:1/v1", HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := m.Generate(context.Background(), &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
			Tools:    []llm.Tool{weatherTool},
		})
		if err != nil {
			return
		}
		for _, tc := range resp.ToolCalls {
			if !json.Valid(tc.Arguments) {
				t.Fatalf("arguments %q are not JSON", tc.Arguments)
			}
		}
	})
}

// FuzzOpenAIWire feeds arbitrary server answers through the real OpenAI
// client: Generate must return an error or a well-formed response, never
// panic.
func FuzzOpenAIWire(f *testing.F) {
	fuzzWire(f, "openai", []string{
		oaText("hello"),
		oaCalls([3]string{"c", "get_weather", `{"city":"Paris"}`}),
		`{"choices":[{"finish_reason":"function_call","message":{}}]}`,
		`{"choices":[{"message":{"function_call":{"name":"f","arguments":"{"}}}]}`,
	})
}

// FuzzAnthropicWire does the same for the Anthropic client.
func FuzzAnthropicWire(f *testing.F) {
	fuzzWire(f, "anthropic", []string{
		anReply("end_turn", anText("hello")),
		anReply("tool_use", anText("x"), anToolUse("t", "get_weather", map[string]any{"city": "Paris"})),
		`{"content":[{"type":"thinking","thinking":"hm"}]}`,
	})
}

// TestConcurrentGenerate backs llm.Model's promise that one model serves
// many goroutines (run with -race).
func TestConcurrentGenerate(t *testing.T) {
	for _, p := range []struct {
		name, path, reply string
	}{
		{"openai", "/v1/chat/completions", oaCalls([3]string{"c", "get_weather", `{"city":"Paris"}`})},
		{"anthropic", "/v1/messages", anReply("tool_use", anToolUse("c", "get_weather", map[string]any{"city": "Paris"}))},
		{"gemini", "/v1/v1beta/models/m:generateContent", gemReply(gemCall("get_weather", map[string]any{"city": "Paris"}))},
	} {
		t.Run(p.name, func(t *testing.T) {
			s := newWireServer(t, p.path)
			s.script(http.StatusOK, p.reply)
			m, err := New(context.Background(), Config{Provider: p.name, Model: "m", APIKey: "k", BaseURL: s.URL + "/v1"})
			if err != nil {
				t.Fatal(err)
			}
			const n = 8
			errs := make(chan error, n)
			for range n {
				go func() {
					resp, err := m.Generate(context.Background(), &llm.Request{
						Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
						Tools:    []llm.Tool{weatherTool}, ToolChoice: "get_weather",
					})
					if err == nil && (len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "get_weather") {
						err = fmt.Errorf("unexpected response %+v", resp)
					}
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if got := s.count(); got != n {
				t.Errorf("server saw %d requests, want %d", got, n)
			}
		})
	}
}
