package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// evalChildEnv marks the re-executed test binary that runs `eval
// invariants`: the harness registers its hostile apps in the process's app
// registry, and every other test of this package builds a deployment of
// every registered app, so the run must not share their process.
const evalChildEnv = "SECGPT_TEST_EVAL_CHILD"

// TestEvalInvariantsSpokes: --spokes inprocess runs episodes without a
// sandbox and says so in the report; an unknown mode is a usage error.
func TestEvalInvariantsSpokes(t *testing.T) {
	if os.Getenv(evalChildEnv) == "1" {
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
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEvalInvariantsSpokes$", "-test.count=1")
	cmd.Env = append(os.Environ(), evalChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("eval invariants in a child process: %v\n%s", err, out)
	}
}
