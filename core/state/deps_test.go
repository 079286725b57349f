package state_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStateDoesNotImportChat: the store and its backends keep prompts,
// grants and audit entries in core/vocab's words, never through the
// adapters' seam (core/chat).
func TestStateDoesNotImportChat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{".", "./memstore", "./bolt", "./redis", "../../ops/auditcli", "../../ops/auditsock"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "github.com/secgpt-go/secgpt/core/chat" {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
}
