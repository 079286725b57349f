package vocab

import (
	"slices"
	"testing"
)

// TestReadsChoice: a plan prompt offering the reads choice lists it last,
// so the other choices keep their numbers; its label names the app.
func TestReadsChoice(t *testing.T) {
	p := Prompt{Kind: KindPlan, ReadsApp: "mcp.files"}
	want := append(PlanDecisions[:], AllowReads("mcp.files"))
	if got := p.Choices(); !slices.Equal(got, want) {
		t.Fatalf("choices %v, want %v", got, want)
	}
	if got := (Prompt{Kind: KindPlan}).Choices(); !slices.Equal(got, PlanDecisions[:]) {
		t.Fatalf("choices without the offer %v", got)
	}
	d, ok := p.ParseChoice("6")
	if app, isReads := d.ReadsApp(); !ok || !isReads || app != "mcp.files" || !d.Allows() || !d.Known() || d.Valid() {
		t.Fatalf("6 → %q (%v)", d, ok)
	}
	if d.Label() != "Always allow mcp.files for reads" {
		t.Fatalf("label %q", d.Label())
	}
	if _, ok := Decision("reads:").ReadsApp(); ok {
		t.Fatal("empty app accepted")
	}
}
