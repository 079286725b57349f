package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
)

// bedrockEnv gives the AWS SDK static credentials and keeps it off the
// network and the user's own AWS files.
func bedrockEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

const bedrockModelID = "anthropic.claude-3-5-sonnet-20240620-v1:0"

// TestBedrockWire drives langchaingo's Bedrock client and the AWS SDK
// against a local server: the InvokeModel path, a SigV4 signature, the
// Anthropic body with system, tools and tool_choice, and a tool-call
// answer parsed back.
func TestBedrockWire(t *testing.T) {
	bedrockEnv(t)
	s := newWireServer(t, "/model/"+bedrockModelID+"/invoke")
	s.script(http.StatusOK, `{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"checking"},{"type":"tool_use","id":"tu_1","name":"get_weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":7}}`)
	m, err := New(context.Background(), Config{Provider: "bedrock", Model: bedrockModelID, BaseURL: s.URL, Region: "eu-west-1", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(context.Background(), &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "be brief"},
			{Role: llm.RoleUser, Content: "weather in Oslo?"},
		},
		Tools:      []llm.Tool{weatherTool},
		ToolChoice: "get_weather",
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.Content != "checking" || len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "get_weather" || resp.ToolCalls[0].ID != "tu_1" {
		t.Fatalf("Generate = %+v", resp)
	}
	if !jsonEqual(t, resp.ToolCalls[0].Arguments, []byte(`{"city":"Oslo"}`)) {
		t.Errorf("arguments = %s", resp.ToolCalls[0].Arguments)
	}
	var body struct {
		System     string            `json:"system"`
		MaxTokens  int               `json:"max_tokens"`
		Messages   []json.RawMessage `json:"messages"`
		Tools      []struct{ Name string }
		ToolChoice struct{ Type, Name string } `json:"tool_choice"`
	}
	r := s.last(t, &body)
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/eu-west-1/bedrock/aws4_request") {
		t.Errorf("Authorization = %q, want a SigV4 signature for eu-west-1 bedrock", auth)
	}
	if body.System != "be brief" || len(body.Messages) != 1 || body.MaxTokens != anthropicMaxTokens {
		t.Errorf("body system=%q messages=%d max_tokens=%d", body.System, len(body.Messages), body.MaxTokens)
	}
	if len(body.Tools) != 1 || body.Tools[0].Name != "get_weather" || body.ToolChoice.Type != "tool" || body.ToolChoice.Name != "get_weather" {
		t.Errorf("tools = %+v, tool_choice = %+v", body.Tools, body.ToolChoice)
	}
}

// TestBedrockRetriesThrottling: Bedrock's 429 ThrottlingException and 503
// go through the same retry policy as the other providers.
func TestBedrockRetriesThrottling(t *testing.T) {
	bedrockEnv(t)
	s := newSeqServer(t,
		answer{status: 429, retryAfter: "0", body: `{"message":"Too many requests"}`},
		answer{status: 503, retryAfter: "0", body: `{"message":"ServiceUnavailable"}`},
		answer{status: 200, body: `{"id":"m","type":"message","role":"assistant","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn"}`},
	)
	var rec retryRecord
	m, err := New(context.Background(), Config{Provider: "bedrock", Model: bedrockModelID, BaseURL: s.URL, Region: "us-east-1", OnRetry: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(context.Background(), &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.Content != "hello" {
		t.Errorf("Content = %q", resp.Content)
	}
	if bodies, _ := s.requests(); len(bodies) != 3 {
		t.Errorf("server saw %d requests, want 3", len(bodies))
	}
	if !equalInts(rec.statuses, []int{429, 503}) {
		t.Errorf("retried after %v", rec.statuses)
	}
}

func TestBedrockConfigErrors(t *testing.T) {
	bedrockEnv(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"not a claude model", Config{Provider: "bedrock", Model: "amazon.titan-text-express-v1", Region: "us-east-1"}, "not an Anthropic Claude model"},
		{"no region", Config{Provider: "bedrock", Model: bedrockModelID}, "no AWS region"},
		{"no model", Config{Provider: "bedrock", Region: "us-east-1"}, "model is empty"},
	}
	for _, tt := range tests {
		if _, err := New(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %v, want %q", tt.name, err, tt.want)
		}
	}
}
