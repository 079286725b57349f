package provider

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
)

// TestAzureWire drives langchaingo's OpenAI client in Azure mode against a
// local server: deployment in the path, api-version in the query, the key
// in api-key (not Authorization), and the usual chat completions body.
func TestAzureWire(t *testing.T) {
	tests := []struct {
		name, version, wantVersion string
	}{
		{"default api version", "", DefaultAzureAPIVersion},
		{"configured api version", "2025-01-01-preview", "2025-01-01-preview"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newWireServer(t, "/openai/deployments/my-gpt4o/chat/completions")
			s.script(http.StatusOK, oaText("hi from azure"))
			m, err := New(context.Background(), Config{Provider: "azure", Model: "my-gpt4o", BaseURL: s.URL + "/", APIKey: "az-key", APIVersion: tt.version})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := m.Generate(context.Background(), &llm.Request{
				Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
				Tools:    []llm.Tool{weatherTool}, ToolChoice: "get_weather",
			})
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.Content != "hi from azure" {
				t.Errorf("Content = %q", resp.Content)
			}
			var wire oaRequest
			r := s.last(t, &wire)
			if got := r.URL.Query().Get("api-version"); got != tt.wantVersion {
				t.Errorf("api-version = %q, want %q", got, tt.wantVersion)
			}
			if got := r.Header.Get("api-key"); got != "az-key" {
				t.Errorf("api-key header = %q", got)
			}
			if got := r.Header.Get("Authorization"); got != "" {
				t.Errorf("Authorization header = %q, want none (Azure keys go in api-key)", got)
			}
			if len(wire.Tools) != 1 || !strings.Contains(string(wire.ToolChoice), "get_weather") {
				t.Errorf("tools = %+v, tool_choice = %s", wire.Tools, wire.ToolChoice)
			}
		})
	}
}

func TestAzureConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no endpoint", Config{Provider: "azure", Model: "dep", APIKey: "k"}, "azure provider: base url is empty"},
		{"no key", Config{Provider: "azure", Model: "dep", BaseURL: "https://x.openai.azure.com"}, "azure provider: api key is empty"},
		{"no deployment", Config{Provider: "azure", BaseURL: "https://x.openai.azure.com", APIKey: "k"}, "model is empty"},
	}
	for _, tt := range tests {
		if _, err := New(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %v, want %q", tt.name, err, tt.want)
		}
	}
}
