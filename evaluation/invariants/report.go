package invariants

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteJSON writes the report as one JSON object.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: the figures, the count per
// invariant, and each reported violation with its reproduction and path.
func WriteText(w io.Writer, r Report) error {
	rate := 0.0
	if r.Wall > 0 {
		rate = float64(r.Episodes) / r.Wall.Seconds()
	}
	span := ""
	if r.To > r.From {
		span = fmt.Sprintf(" %d…%d", r.From, r.To-1)
	}
	if r.Cut {
		span += " (stopped: the last running episodes were cut short)"
	}
	fmt.Fprintf(w, "seed %d: %d episodes%s, %d messages, %d spokes, %d prompts, %d ISC frames in %s (%.1f episodes/s)\n",
		r.Seed, r.Episodes, span, r.Messages, r.Spokes, r.Prompts, r.Frames, r.Wall.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "spokes: %s\n", r.SpokesMode)
	for _, m := range r.Machine {
		fmt.Fprintf(w, "machine %s\n", m)
	}
	if r.Replicas > 1 {
		fmt.Fprintf(w, "replicas: %d per episode on one Redis; %d Redis connection cuts\n", r.Replicas, r.RedisCuts)
	}
	fmt.Fprintf(w, "violations: %d in %d episodes\n", r.Violations, r.FailedEpisodes)
	for _, inv := range Invariants {
		fmt.Fprintf(w, "  %-18s %d\n", inv, r.ByInvariant[inv])
		var causes []string
		for k := range r.ByCause {
			if strings.HasPrefix(k, inv+": ") {
				causes = append(causes, k)
			}
		}
		sort.Strings(causes)
		for _, k := range causes {
			fmt.Fprintf(w, "      %-40s %d\n", strings.TrimPrefix(k, inv+": "), r.ByCause[k])
		}
	}
	for i, v := range r.Reported {
		fmt.Fprintf(w, "\nviolation %d: %s (%s), seed %d episode %d\n  %s\n  reproduce: secgpt eval invariants --seed %d --episode %d\n",
			i+1, v.Invariant, v.Cause, v.Seed, v.Episode, v.Detail, v.Seed, v.Episode)
		if len(v.Path) > 0 {
			fmt.Fprintln(w, "  path:")
			for _, p := range v.Path {
				fmt.Fprintln(w, "    "+p)
			}
		}
	}
	if len(r.Reported) < r.Violations {
		fmt.Fprintf(w, "\n(%d more violations not shown)\n", r.Violations-len(r.Reported))
	}
	return nil
}
