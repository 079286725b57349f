package mcp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
)

// TestForgetUser: the user's directories go (one server's, or every
// server's under the root, configured or not), another user's stay, and
// an app name that is a path is refused without touching anything.
func TestForgetUser(t *testing.T) {
	root := t.TempDir()
	mk := func(app ids.AppID, user ids.UserID) string {
		d := UserDir(root, app, user)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "memory.jsonl"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a1, a2, b1 := mk("mcp.memory", "u:alice"), mk("mcp.gone", "u:alice"), mk("mcp.memory", "u:bob")
	outside := filepath.Join(filepath.Dir(root), "keep")
	tests := []struct {
		name    string
		app     ids.AppID
		wantN   int
		wantErr bool
		gone    []string
	}{
		{"path", "../keep", 0, true, nil},
		{"separator", `mcp.memory/..`, 0, true, nil},
		{"one server", "mcp.memory", 1, false, []string{a1}},
		{"all", "", 1, false, []string{a2}},
		{"nothing left", "", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ForgetUser(root, tt.app, "u:alice")
			if (err != nil) != tt.wantErr || n != tt.wantN {
				t.Fatalf("ForgetUser(%q) = %d, %v", tt.app, n, err)
			}
			for _, d := range tt.gone {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("%s still there: %v", d, err)
				}
			}
		})
	}
	if _, err := os.Stat(b1); err != nil {
		t.Fatalf("bob's directory went: %v", err)
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Fatalf("something outside the root was made or kept: %v", err)
	}
}
