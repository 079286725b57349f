package relational

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
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

// primary is the SecGPT grant mode whose latencies the tables show: "once"
// when the rows have it (every prompt's round trip is in the figure).
func primary(rows []Row) Grants {
	for _, r := range rows {
		if r.System == SecGPT && r.Grants == GrantsOnce {
			return GrantsOnce
		}
	}
	return GrantsAlways
}

// Groups summarises rows by the paper's groups, then over all questions.
func Groups(rows []Row) []GroupStat {
	mode := primary(rows)
	var out []GroupStat
	for _, g := range []string{GroupFew, GroupMany, "all"} {
		var v, s []float64
		queries := map[int]bool{}
		for _, r := range rows {
			if g != "all" && r.Group != g {
				continue
			}
			queries[r.Query] = true
			switch {
			case r.System == Vanilla:
				v = append(v, r.LatencyMS)
			case r.Grants == mode:
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

// Summary is the suite's figures against the targets of issue 11, from one
// run of both systems.
type Summary struct {
	Questions int `json:"questions"`
	// Model calls over the suite, and the largest per-question excess of
	// SecGPT over VanillaGPT (target: total ≤ VanillaGPT's, excess ≤ 1).
	ModelCallsVanilla int `json:"model_calls_vanilla"`
	ModelCallsSecGPT  int `json:"model_calls_secgpt"`
	MaxExcessCalls    int `json:"max_excess_calls"`
	// Per-question latency ratio SecGPT/VanillaGPT (medians over runs):
	// its median and 90th percentile over the questions.
	RatioMedian float64 `json:"latency_ratio_median"`
	RatioP90    float64 `json:"latency_ratio_p90"`
	// Prompts per question under "once" (min and max; target exactly 1)
	// and the most under stored always grants (target 0; -1 when not run).
	PromptsOnceMin   int `json:"prompts_once_min"`
	PromptsOnceMax   int `json:"prompts_once_max"`
	PromptsAlwaysMax int `json:"prompts_always_max"`
}

// Summarize computes the summary of rows.
func Summarize(rows []Row) Summary {
	mode := primary(rows)
	type agg struct {
		v, s           []float64
		callsV, callsS int
	}
	byQ := map[int]*agg{}
	var order []int
	sm := Summary{PromptsAlwaysMax: -1, PromptsOnceMin: -1}
	for _, r := range rows {
		a, ok := byQ[r.Query]
		if !ok {
			a = &agg{}
			byQ[r.Query] = a
			order = append(order, r.Query)
		}
		switch {
		case r.System == Vanilla:
			a.v = append(a.v, r.LatencyMS)
			a.callsV = r.ModelCalls
		default:
			if r.Grants == mode {
				a.s = append(a.s, r.LatencyMS)
				a.callsS = r.ModelCalls
			}
			if r.Grants == GrantsOnce {
				if sm.PromptsOnceMin < 0 || r.Prompts < sm.PromptsOnceMin {
					sm.PromptsOnceMin = r.Prompts
				}
				sm.PromptsOnceMax = max(sm.PromptsOnceMax, r.Prompts)
			}
			if r.Grants == GrantsAlways {
				sm.PromptsAlwaysMax = max(sm.PromptsAlwaysMax, r.Prompts)
			}
		}
	}
	var ratios []float64
	for _, q := range order {
		a := byQ[q]
		sm.ModelCallsVanilla += a.callsV
		sm.ModelCallsSecGPT += a.callsS
		sm.MaxExcessCalls = max(sm.MaxExcessCalls, a.callsS-a.callsV)
		if mv := median(a.v); mv > 0 {
			ratios = append(ratios, median(a.s)/mv)
		}
	}
	sm.Questions = len(order)
	sm.RatioMedian = median(ratios)
	sm.RatioP90 = percentile(ratios, 0.9)
	return sm
}

// percentile is the nearest-rank percentile p (0..1) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// WriteSummary prints the summary with the targets beside the figures.
func WriteSummary(w io.Writer, sm Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVANILLAGPT\tSECGPT\tTARGET\tMET")
	fmt.Fprintf(tw, "model calls, 21 questions\t%d\t%d\tSecGPT ≤ VanillaGPT\t%s\n", sm.ModelCallsVanilla, sm.ModelCallsSecGPT, yes(sm.ModelCallsSecGPT <= sm.ModelCallsVanilla))
	fmt.Fprintf(tw, "most extra model calls on one question\t-\t%+d\t≤ +1\t%s\n", sm.MaxExcessCalls, yes(sm.MaxExcessCalls <= 1))
	fmt.Fprintf(tw, "latency ratio SecGPT/VanillaGPT, median of questions\t1.00\t%.2f\t≤ 1.00\t%s\n", sm.RatioMedian, yes(sm.RatioMedian <= 1.0))
	fmt.Fprintf(tw, "latency ratio SecGPT/VanillaGPT, p90 of questions\t1.00\t%.2f\t≤ 1.15\t%s\n", sm.RatioP90, yes(sm.RatioP90 <= 1.15))
	if sm.PromptsOnceMin >= 0 {
		fmt.Fprintf(tw, "prompts per question, \"once\" (min..max)\t0\t%d..%d\texactly 1\t%s\n", sm.PromptsOnceMin, sm.PromptsOnceMax, yes(sm.PromptsOnceMin == 1 && sm.PromptsOnceMax == 1))
	}
	if sm.PromptsAlwaysMax >= 0 {
		fmt.Fprintf(tw, "prompts per question after always grants (max)\t0\t%d\t0\t%s\n", sm.PromptsAlwaysMax, yes(sm.PromptsAlwaysMax == 0))
	}
	return tw.Flush()
}

// WriteTable prints the per-question medians, the functionality checks and
// the per-group latencies.
func WriteTable(w io.Writer, rows []Row) error {
	mode := primary(rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Q\tGROUP\tSTEPS\tVANILLA MS (median)\tSECGPT MS (median)\tRATIO\tMODEL CALLS (V/S)\tPROMPTS (once/always)\tTRAJECTORY OK (V/S)\tANSWER OK (V/S)\tSAME CALLS")
	type agg struct {
		v, s                     []float64
		steps                    int
		promptsOnce, promptsAlw  string
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
			a = &agg{group: r.Group, steps: len(r.Expected), trajV: true, trajS: true, ansV: true, ansS: true, same: true, promptsOnce: "-", promptsAlw: "-"}
			byQ[r.Query] = a
			order = append(order, r.Query)
		}
		a.same = a.same && r.SameCalls
		if r.System == Vanilla {
			a.v = append(a.v, r.LatencyMS)
			a.trajV = a.trajV && r.TrajectoryOK
			a.ansV = a.ansV && r.AnswerOK
			a.callsV = r.ModelCalls
			continue
		}
		a.trajS = a.trajS && r.TrajectoryOK
		a.ansS = a.ansS && r.AnswerOK
		if r.Grants == GrantsAlways {
			a.promptsAlw = fmt.Sprint(r.Prompts)
		} else {
			a.promptsOnce = fmt.Sprint(r.Prompts)
		}
		if r.Grants == mode {
			a.s = append(a.s, r.LatencyMS)
			a.callsS = r.ModelCalls
		}
	}
	counts := map[string]int{}
	for _, q := range order {
		a := byQ[q]
		ratio := 0.0
		if mv := median(a.v); mv > 0 {
			ratio = median(a.s) / mv
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%.2f\t%.2f\t%d/%d\t%s/%s\t%s/%s\t%s/%s\t%s\n", q, a.group, a.steps, median(a.v), median(a.s), ratio, a.callsV, a.callsS,
			a.promptsOnce, a.promptsAlw, yes(a.trajV), yes(a.trajS), yes(a.ansV), yes(a.ansS), yes(a.same))
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2fx\n", g.Group, g.Queries, g.Samples,
			g.VanillaMeanMS, g.VanillaMedianMS, g.SecGPTMeanMS, g.SecGPTMedianMS, g.OverheadMedianMS, g.RatioMedian)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return WriteSummary(w, Summarize(rows))
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
