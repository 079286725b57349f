package relational

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// GroupStat is one group's latencies on both systems, over every run.
type GroupStat struct {
	Group string `json:"group"`
	// Queries is how many questions are in the group; Samples how many
	// timed runs per system.
	Queries          int     `json:"queries"`
	Samples          int     `json:"samples"`
	VanillaMeanMS    float64 `json:"vanilla_mean_ms"`
	VanillaMedianMS  float64 `json:"vanilla_median_ms"`
	SecGPTMeanMS     float64 `json:"secgpt_mean_ms"`
	SecGPTMedianMS   float64 `json:"secgpt_median_ms"`
	RatioMedian      float64 `json:"overhead_ratio_median"`
	OverheadMedianMS float64 `json:"overhead_median_ms"`
}

// Groups summarises rows by the paper's groups, then over all questions.
func Groups(rows []Row) []GroupStat {
	var out []GroupStat
	for _, g := range []string{GroupFew, GroupMany, "all"} {
		var v, s []float64
		queries := map[int]bool{}
		for _, r := range rows {
			if g != "all" && r.Group != g {
				continue
			}
			queries[r.Query] = true
			if r.System == Vanilla {
				v = append(v, r.LatencyMS)
			} else {
				s = append(s, r.LatencyMS)
			}
		}
		if len(v) == 0 && len(s) == 0 {
			continue
		}
		st := GroupStat{Group: g, Queries: len(queries), Samples: len(s),
			VanillaMeanMS: mean(v), VanillaMedianMS: median(v), SecGPTMeanMS: mean(s), SecGPTMedianMS: median(s)}
		if st.VanillaMedianMS > 0 {
			st.RatioMedian = st.SecGPTMedianMS / st.VanillaMedianMS
		}
		st.OverheadMedianMS = st.SecGPTMedianMS - st.VanillaMedianMS
		out = append(out, st)
	}
	return out
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// WriteTable prints the per-question medians, the functionality checks and
// the per-group latencies.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Q\tGROUP\tSTEPS\tVANILLA MS (median)\tSECGPT MS (median)\tMODEL CALLS (V/S)\tPROMPTS\tTRAJECTORY OK (V/S)\tANSWER OK (V/S)\tSAME CALLS")
	type agg struct {
		v, s                     []float64
		steps, prompts           int
		callsV, callsS           int
		group                    string
		trajV, trajS, ansV, ansS bool
		same                     bool
	}
	byQ := map[int]*agg{}
	var order []int
	for _, r := range rows {
		a, ok := byQ[r.Query]
		if !ok {
			a = &agg{group: r.Group, steps: len(r.Expected), trajV: true, trajS: true, ansV: true, ansS: true, same: true}
			byQ[r.Query] = a
			order = append(order, r.Query)
		}
		a.same = a.same && r.SameCalls
		if r.System == Vanilla {
			a.v = append(a.v, r.LatencyMS)
			a.trajV = a.trajV && r.TrajectoryOK
			a.ansV = a.ansV && r.AnswerOK
			a.callsV = r.ModelCalls
		} else {
			a.s = append(a.s, r.LatencyMS)
			a.trajS = a.trajS && r.TrajectoryOK
			a.ansS = a.ansS && r.AnswerOK
			a.prompts = r.Prompts
			a.callsS = r.ModelCalls
		}
	}
	counts := map[string]int{}
	for _, q := range order {
		a := byQ[q]
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%.2f\t%d/%d\t%d\t%s/%s\t%s/%s\t%s\n", q, a.group, a.steps, median(a.v), median(a.s), a.callsV, a.callsS, a.prompts,
			yes(a.trajV), yes(a.trajS), yes(a.ansV), yes(a.ansS), yes(a.same))
		for k, ok := range map[string]bool{"trajV": a.trajV, "trajS": a.trajS, "ansV": a.ansV, "ansS": a.ansS, "same": a.same} {
			if ok {
				counts[k]++
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := len(order)
	fmt.Fprintf(w, "\nTrajectory matches expected_steps: VanillaGPT %d/%d, SecGPT %d/%d. Reference answer in reply: VanillaGPT %d/%d, SecGPT %d/%d. Same tool calls on both: %d/%d.\n\n",
		counts["trajV"], n, counts["trajS"], n, counts["ansV"], n, counts["ansS"], n, counts["same"], n)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tQUERIES\tRUNS/SYSTEM\tVANILLA MEAN MS\tVANILLA MEDIAN MS\tSECGPT MEAN MS\tSECGPT MEDIAN MS\tOVERHEAD (median, ms)\tRATIO (median)")
	for _, g := range Groups(rows) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.0fx\n", g.Group, g.Queries, g.Samples,
			g.VanillaMeanMS, g.VanillaMedianMS, g.SecGPTMeanMS, g.SecGPTMedianMS, g.OverheadMedianMS, g.RatioMedian)
	}
	return tw.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// WriteJSON prints rows as a JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}
