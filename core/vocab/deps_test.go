package vocab_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf: every layer imports vocab, so vocab imports nothing of the
// project but core/ids.
func TestLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/secgpt-go/secgpt/"
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && dep != module+"core/ids" && dep != module+"core/vocab" {
			t.Errorf("core/vocab imports %s", dep)
		}
	}
}
