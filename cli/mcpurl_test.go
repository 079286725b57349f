package cli

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
)

// TestMCPServerURLSecrets: a secret the url refers to reaches the server's
// url and not its environment, and a bad url's error never shows a value.
func TestMCPServerURLSecrets(t *testing.T) {
	env := map[string]string{"R_PASS": "hunter2", "R_TOKEN": "tok"}
	getenv := func(k string) string { return env[k] }
	c := config.MCPServer{URL: "https://bob:${PASS}@mcp.example.com/mcp",
		Secrets: map[string]config.Secret{"PASS": {Env: "R_PASS"}, "OTHER": {Env: "R_TOKEN"}}}
	s, _, err := mcpServer("r", c, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "https://bob:hunter2@mcp.example.com/mcp" {
		t.Errorf("url %q", s.URL)
	}
	if _, ok := s.Env["PASS"]; ok {
		t.Errorf("the url's secret is also in the environment: %v", s.Env)
	}
	if s.Env["OTHER"] != "tok" {
		t.Errorf("env %v", s.Env)
	}
	c.URL = "ftp://bob:${PASS}@mcp.example.com/mcp"
	if _, _, err := mcpServer("r", c, getenv); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad url: err %v (want one without the secret)", err)
	}
}
