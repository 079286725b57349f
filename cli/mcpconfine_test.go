package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secgpt-go/secgpt/config"
)

// TestMCPArgPathsKeepOwners: a path a server's arguments name is mounted
// with the host's owners and modes (the spoke gets what other users get);
// a path the operator declared under files: is mapped to the spoke's user,
// as apps.files is (apps/mcp TestArgPathsKeepRealOwners runs both in a
// real sandbox).
func TestMCPArgPathsKeepOwners(t *testing.T) {
	dir := t.TempDir()
	named, declared := filepath.Join(dir, "named"), filepath.Join(dir, "declared")
	for _, d := range []string{named, declared} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, files, err := mcpServer("fs", config.MCPServer{Command: "sh", Args: []string{"-c", "true", named, "/etc"},
		Files: []config.File{{Path: declared}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{named: true, "/etc": true, declared: false}
	for _, m := range files {
		if w, ok := want[m.Source]; ok {
			if m.RealOwners != w {
				t.Errorf("mount %s: RealOwners %v, want %v", m.Source, m.RealOwners, w)
			}
			delete(want, m.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("mounts %+v lack %v", files, want)
	}
}
