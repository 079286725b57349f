package casestudy_test

import (
	"context"
	"testing"

	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/evaluation/casestudy"
)

func TestMain(m *testing.M) { hubtest.Main(m) }

// TestCaseStudies is the security claim of the project, checked against a
// model that obeys every injected instruction: VanillaGPT falls to all four
// attacks; SecGPT blocks all four and still answers the benign request.
func TestCaseStudies(t *testing.T) {
	env := casestudy.Env{Spawner: hubtest.Spawner(t, false), Dir: t.TempDir()}
	for _, c := range casestudy.Cases() {
		for _, sys := range []string{casestudy.Vanilla, casestudy.SecGPT} {
			t.Run(c.Name+"/"+sys, func(t *testing.T) {
				o, err := casestudy.RunOne(context.Background(), env, c, sys)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("evidence: %s\nreply: %s", o.Evidence, o.Reply)
				switch sys {
				case casestudy.Vanilla:
					if !o.AttackSucceeded {
						t.Errorf("attack did not succeed on the baseline: %s", o.Evidence)
					}
				case casestudy.SecGPT:
					if o.AttackSucceeded {
						t.Errorf("attack succeeded on SecGPT: %s", o.Evidence)
					}
					if !o.BenignAnswered {
						t.Errorf("benign part not answered on SecGPT: %s\nreply: %s", o.Evidence, o.Reply)
					}
				}
			})
		}
	}
}
