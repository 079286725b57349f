package main

import (
	"strings"
	"testing"
)

// TestEvalInvariantsSpokes: --spokes inprocess runs episodes without a
// sandbox and says so in the report; an unknown mode is a usage error.
func TestEvalInvariantsSpokes(t *testing.T) {
	code, out, errOut := runCLI(t, "", nil, "eval", "invariants", "--spokes", "inprocess", "--episodes", "3", "--seed", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, out, errOut)
	}
	for _, w := range []string{"seed 5: 3 episodes", "spokes: inprocess", "machine start: load average", "I10 reply-integrity"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if code, _, errOut := runCLI(t, "", nil, "eval", "invariants", "--spokes", "threads"); code != 2 || !strings.Contains(errOut, "--spokes sandbox|inprocess") {
		t.Errorf("--spokes threads: exit %d, stderr %q; want 2 and the usage", code, errOut)
	}
}
