package matrix

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

func TestPlanPromptRendering(t *testing.T) {
	p := chat.Prompt{User: "matrix:@a:x", Kind: chat.KindPlan,
		Steps: []chat.PlanStep{{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []chat.Field{{Name: "query", Value: "<b>x</b>"}}}},
		Facts: []chat.PlanFact{{Step: 1, App: "search_gmail", Key: "name", Value: "Alex"}}}
	c := renderPrompt(p, "@a:x", nil)
	for _, want := range []string{"<ol><li>1. search_gmail (search_gmail) — reads only", "<code>&lt;b&gt;x&lt;/b&gt;</code>", "Remembered facts", "🔍 Review steps one by one"} {
		if !strings.Contains(c.FormattedBody, want) {
			t.Errorf("plan prompt HTML lacks %q:\n%s", want, c.FormattedBody)
		}
	}
	if len(promptChoices(p)) != 5 || len(promptChoices(chat.Prompt{Kind: chat.KindExec})) != 4 {
		t.Error("a plan prompt offers 5 reactions, others 4")
	}
	if d, ok := decisionForKey("🔍"); !ok || d != chat.Review {
		t.Errorf("review reaction = %q %v", d, ok)
	}
}
