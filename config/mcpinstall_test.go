package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
