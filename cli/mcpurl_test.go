package cli

import (
	"net/url"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
)

// TestExpandURLSecrets: a remote server's secrets fill the url's
// references, escaped for where they stand, and never its host.
func TestExpandURLSecrets(t *testing.T) {
	secrets := map[string]string{"PASS": "p@ss/w?rd#1", "KEY": "a&b=c d", "HOST": "evil.example"}
	tests := []struct {
		name, in string
		want     string // the decoded part to check, or the error
		part     func(*url.URL) string
		err      bool
	}{
		{"password", "https://bob:${PASS}@mcp.example.com/mcp", "p@ss/w?rd#1", func(u *url.URL) string { p, _ := u.User.Password(); return p }, false},
		{"query value", "https://mcp.example.com/mcp?api_key=${KEY}&v=2", "a&b=c d", func(u *url.URL) string { return u.Query().Get("api_key") }, false},
		{"path", "https://mcp.example.com/t/${KEY}/mcp", "/t/a&b=c d/mcp", func(u *url.URL) string { return u.Path }, false},
		{"host refused", "https://${HOST}/mcp", "", nil, true},
		{"host part refused", "https://mcp.${HOST}/mcp", "", nil, true},
		{"query key refused", "https://mcp.example.com/mcp?${KEY}=1", "", nil, true},
		{"unknown secret", "https://mcp.example.com/mcp?k=${NOPE}", "", nil, true},
		{"no references", "https://mcp.example.com/mcp?k=1", "k=1", func(u *url.URL) string { return u.RawQuery }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := expandURLSecrets(tt.in, secrets)
			if tt.err {
				if err == nil {
					t.Fatalf("%q expanded to %q, want an error", tt.in, got)
				}
				for _, v := range secrets {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q holds a secret's value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("%q: %v", got, err)
			}
			if u.Host != "mcp.example.com" {
				t.Errorf("host %q", u.Host)
			}
			if p := tt.part(u); p != tt.want {
				t.Errorf("%q: got %q, want %q", got, p, tt.want)
			}
		})
	}
}

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
