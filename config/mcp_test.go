package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMCPConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		err        string // "" for valid
	}{
		{"stdio server", "mcp:\n  servers:\n    memory: {command: /usr/bin/node, args: [/srv/m.js], data: true, env: {A: b}}\n", ""},
		{"remote server with a secret token", "mcp:\n  servers:\n    gh: {url: 'https://mcp.example.com/mcp', secrets: {BEARER_TOKEN: {env: GH_TOKEN}}}\n", ""},
		{"bad name", "mcp:\n  servers:\n    Bad.Name: {command: /bin/true}\n", "mcp.servers.Bad.Name"},
		{"neither command nor url", "mcp:\n  servers:\n    x: {args: [a]}\n", "needs command"},
		{"both", "mcp:\n  servers:\n    x: {command: /bin/true, url: 'https://a.example'}\n", "both command and url"},
		{"sse", "mcp:\n  servers:\n    x: {type: sse, url: 'https://a.example/sse'}\n", "SSE"},
		{"bad url", "mcp:\n  servers:\n    x: {url: 'ftp://a.example'}\n", "mcp.servers.x.url"},
		{"bad env name", "mcp:\n  servers:\n    x: {command: /bin/true, env: {'A=B': c}}\n", "mcp.servers.x.env"},
		{"secret with both sources", "mcp:\n  servers:\n    x: {command: /bin/true, secrets: {T: {env: A, file: /b}}}\n", "mcp.servers.x.secrets.T"},
		{"relative file", "mcp:\n  servers:\n    x: {command: /bin/true, files: [{path: data}]}\n", "mcp.servers.x.files[0].path"},
		{"small memory", "mcp:\n  servers:\n    x: {command: /bin/true, limits: {memory: 1MiB}}\n", "limits.memory"},
		{"unknown key", "mcp:\n  servers:\n    x: {command: /bin/true, comand: y}\n", "comand"},
		{"pre-registered oauth client", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: Iv1.abc, oauth_client_secret: {env: GH_OAUTH_SECRET}, oauth_issuer: 'https://github.com/login/oauth'}\n", ""},
		{"public pre-registered client", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: Iv1.abc}\n", ""},
		{"client secret in clear", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: Iv1.abc, oauth_client_secret: s3cr3t-value, oauth_issuer: 'https://as.example'}\n", "never its value"},
		{"client secret without issuer", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: Iv1.abc, oauth_client_secret: {file: /run/s}}\n", "mcp.servers.gh.oauth_issuer"},
		{"client secret without id", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_secret: {file: /run/s}, oauth_issuer: 'https://as.example'}\n", "mcp.servers.gh.oauth_client_id"},
		{"client without oauth", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth_client_id: Iv1.abc}\n", "mcp.servers.gh.oauth_client_id"},
		{"client secret with both sources", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: a, oauth_client_secret: {env: A, file: /b}, oauth_issuer: 'https://as.example'}\n", "oauth_client_secret"},
		{"issuer not a URL", "mcp:\n  servers:\n    gh: {url: 'https://api.example.com/mcp', oauth: true, oauth_client_id: a, oauth_issuer: as.example}\n", "mcp.servers.gh.oauth_issuer"},
		{"default endpoints", "mcp:\n  servers:\n    old: {url: 'https://old.example.com/mcp', oauth: true, oauth_default_endpoints: true}\n", ""},
		{"default endpoints without oauth", "mcp:\n  servers:\n    old: {url: 'https://old.example.com/mcp', oauth_default_endpoints: true}\n", "mcp.servers.old.oauth_default_endpoints"},
		{"app files and secrets", "apps:\n  files:\n    search_gmail: [{path: /srv/mail.json}]\n  secrets:\n    search_gmail: {access_token: {env: T}}\n", ""},
		{"relative app file", "apps:\n  files:\n    search_gmail: [{path: mail.json}]\n", "apps.files.search_gmail[0].path"},
		{"app secret without a source", "apps:\n  secrets:\n    search_gmail: {access_token: {}}\n", "apps.secrets.search_gmail.access_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p, func(string) string { return "" })
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one naming %q", err, tc.err)
			case err != nil && strings.Contains(err.Error(), "s3cr3t"):
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("v-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "e")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"S": "v-env"}[k] }
	tests := []struct {
		name string
		s    Secret
		want string
		err  string
	}{
		{"env", Secret{Env: "S"}, "v-env", ""},
		{"file without the final newline", Secret{File: file}, "v-file", ""},
		{"unset env", Secret{Env: "NOPE"}, "", "NOPE is empty or unset"},
		{"missing file", Secret{File: filepath.Join(dir, "missing")}, "", "no such file"},
		{"empty file", Secret{File: empty}, "", "is empty"},
		{"both", Secret{Env: "S", File: file}, "", "both"},
		{"neither", Secret{}, "", "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.s.Resolve(env)
			if v != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %q, %v; want %q, %q", v, err, tc.want, tc.err)
			}
		})
	}
}
