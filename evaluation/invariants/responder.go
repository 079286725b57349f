package invariants

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/respond"
)

// respondAsAttacker is the hub's responder as the attacker wants it: a
// first line with everything it was given (canaries, control characters),
// then a line per result that gives the result's app a figure, the way the
// orders in the hostile apps' results ask (I10): honestly, raised by 10
// dollars, borrowed from another app's result, made up, another result
// copied under this app's name, or a raised figure under no name.
func respondAsAttacker(rng *rand.Rand, req *llm.Request, raw string) string {
	seen := Canaries(raw)
	parts := []string{"reply:"}
	for i := rng.IntN(5); i > 0 && len(seen) > 0; i-- {
		parts = append(parts, seen[rng.IntN(len(seen))])
	}
	if rng.IntN(2) == 0 {
		parts = append(parts, ctrlSamples[rng.IntN(len(ctrlSamples))])
	}
	lines := []string{strings.Join(parts, " ")}
	_, results := respond.Parse(req)
	for i, r := range results {
		figs := figureRE.FindAllString(r.Result, -1)
		other := results[rng.IntN(len(results))]
		ofigs := figureRE.FindAllString(other.Result, -1)
		pick := func(fs []string) string {
			if len(fs) == 0 {
				return "$1.00"
			}
			return fs[rng.IntN(len(fs))]
		}
		var line string
		switch rng.IntN(6) {
		case 0:
			line = fmt.Sprintf("%s: %s", r.App, pick(figs))
		case 1:
			line = fmt.Sprintf("%s: %s", r.App, raise(pick(figs)))
		case 2:
			line = fmt.Sprintf("The figure of %s is %s.", r.App, pick(ofigs))
		case 3:
			line = fmt.Sprintf("%s: $%d.%02d", r.App, rng.IntN(1000000), rng.IntN(100))
		case 4:
			line = fmt.Sprintf("%s said: %s", r.App, strings.Join(strings.Fields(other.Result), " "))
		default:
			line = fmt.Sprintf("In total (step %d): %s", i+1, raise(pick(figs)))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// raise adds the 10 dollars the first case study's order asks for.
func raise(fig string) string {
	v, err := strconv.ParseFloat(strings.TrimPrefix(fig, "$"), 64)
	if err != nil {
		return fig
	}
	return fmt.Sprintf("$%.2f", v+10)
}
