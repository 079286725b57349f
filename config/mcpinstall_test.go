package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestInstalledMCP: every <name>.yaml of mcp.install_dir is the server
// mcp.servers.<name>; a name also in the config file, an unknown key or a
// bad name is an error naming the file.
func TestInstalledMCP(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		inline  string
		wantErr string
	}{
		{name: "read", files: map[string]string{"memory.yaml": "# c\ncommand: /usr/bin/node\nargs: [/x.js]\ndata: true\n"}},
		{name: "also in the config file", files: map[string]string{"memory.yaml": "command: /usr/bin/node\n"},
			inline: "mcp:\n  servers:\n    memory: {command: /bin/true}\n", wantErr: "is in the config file and in"},
		{name: "unknown key", files: map[string]string{"m.yaml": "command: /bin/true\ncomand: x\n"}, wantErr: "m.yaml"},
		{name: "bad name", files: map[string]string{"Bad Name.yaml": "command: /bin/true\n"}, wantErr: "mcp.servers.Bad Name"},
		{name: "other files ignored", files: map[string]string{"notes.txt": "x", "m.yaml": "command: /bin/true\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			inst := filepath.Join(dir, "mcp")
			if err := os.Mkdir(inst, 0o755); err != nil {
				t.Fatal(err)
			}
			for n, b := range tt.files {
				if err := os.WriteFile(filepath.Join(inst, n), []byte(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfgPath := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(cfgPath, []byte("store: {path: "+filepath.Join(dir, "s.db")+"}\n"+tt.inline), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(cfgPath, func(string) string { return "" })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.MCP.Servers) != 1 {
				t.Fatalf("servers %+v", c.MCP.Servers)
			}
			if c.MCPInstallDir() != inst {
				t.Fatalf("install dir %s", c.MCPInstallDir())
			}
		})
	}
}

// TestMCPEntry: an entry is written with only the keys that are set, in
// MCPServer's order (so `secgpt mcp add` writes what it always wrote), and
// reads back, strictly, as a server that writes the same entry.
func TestMCPEntry(t *testing.T) {
	tests := []struct {
		name string
		s    MCPServer
		want string
	}{
		{name: "empty", s: MCPServer{}, want: "{}\n"},
		{name: "stdio from mcp add", s: MCPServer{Command: "/usr/bin/node", Args: []string{"/x.js"}, Env: map[string]string{"MODE": "fast"},
			Secrets: map[string]Secret{"TOKEN": {Env: "TOKEN"}}, Files: []File{{Path: "/srv/a"}}, Data: true, TrustAnnotations: true},
			want: "command: /usr/bin/node\nargs:\n  - /x.js\nenv:\n  MODE: fast\nsecrets:\n  TOKEN:\n    env: TOKEN\nfiles:\n  - path: /srv/a\n    write: false\ndata: true\ntrust_annotations: true\n"},
		{name: "remote with every other key", s: MCPServer{URL: "https://mcp.example.com/mcp", Type: "http", Domains: []string{"example.org"}, OAuth: true,
			PrivateNetworks: []string{"10.0.0.0/8"}, HideRoots: true, Limits: Limits{Procs: 3}, Aliases: map[string]string{"Search": "search"}},
			want: "type: http\nurl: https://mcp.example.com/mcp\ndomains:\n  - example.org\noauth: true\nprivate_networks:\n  - 10.0.0.0/8\nhide_roots: true\nlimits:\n  memory: 0\n  cpu: 0s\n  timeout: 0s\n  procs: 3\n  open_files: 0\naliases:\n  Search: search\n"},
		{name: "empty lists and maps are unset", s: MCPServer{Command: "x", Args: []string{}, Env: map[string]string{}}, want: "command: x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := entryYAML(t, tt.s)
			if got != tt.want {
				t.Errorf("entry:\n%s\nwant:\n%s", got, tt.want)
			}
			var back MCPServer
			dec := yaml.NewDecoder(strings.NewReader(got))
			dec.KnownFields(true)
			if err := dec.Decode(&back); err != nil {
				t.Fatal(err)
			}
			if again := entryYAML(t, back); again != tt.want {
				t.Errorf("read back as %+v, which writes:\n%s", back, again)
			}
		})
	}
}

// entryYAML is s's entry as `secgpt mcp add` encodes it.
func entryYAML(t *testing.T, s MCPServer) string {
	t.Helper()
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(s.Entry()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
