package hub_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHubDoesNotImportSandbox: the hub describes what a spoke needs in its
// own type (SpokeSpec) behind its own seam (Spawner); starting a sandboxed
// process is sandbox/hubspawn's job. Neither core/hub nor anything it
// links may import a package of the sandbox.
func TestHubDoesNotImportSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/secgpt-go/secgpt"
	out, err := exec.Command("go", "list", "-deps", module+"/core/hub").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), module+"/core/isc\n") {
		t.Fatalf("go list output does not look like core/hub's dependencies:\n%.500s", out)
	}
	for _, d := range deps {
		if d == module+"/sandbox" || strings.HasPrefix(d, module+"/sandbox/") {
			t.Errorf("core/hub links %s", d)
		}
	}
}
