package matrix

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

func TestPlanPromptRendering(t *testing.T) {
	p := chat.Prompt{User: "matrix:@a:x", Kind: chat.KindPlan,
		Steps: []chat.PlanStep{
			{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []chat.Field{{Name: "query", Value: "<b>x</b>"}}},
			{N: 2, App: "gmail", Function: "send", Effect: "destroy", Claims: "the server says: read-only", Args: []chat.Field{{Name: "body", Value: strings.Repeat("long ", 20) + "<end>"}}},
		},
		Facts: []chat.PlanFact{{Step: 1, App: "search_gmail", Key: "name", Value: "Alex"}}}
	c := renderPrompt(p, "@a:x", nil)
	for _, want := range []string{"<ol><li>1. search_gmail(query=&lt;b&gt;x&lt;/b&gt;) — reads only",
		"<li>2. gmail · send(body=" + strings.Repeat("long ", 7) + "long…) — treated as: deletes or irreversibly changes data (the app claims: read-only;",
		"<details><summary>Show all values</summary><ul><li><code>body</code>: <code>" + strings.Repeat("long ", 20) + "&lt;end&gt;</code>",
		"Remembered facts", "🔍 Review steps one by one"} {
		if !strings.Contains(c.FormattedBody, want) {
			t.Errorf("plan prompt HTML lacks %q:\n%s", want, c.FormattedBody)
		}
	}
	if strings.Count(c.FormattedBody, "Show all values") != 1 || strings.Count(c.Body, "all values:") != 1 {
		t.Errorf("full values shown other than for the shortened step:\n%s\n%s", c.FormattedBody, c.Body)
	}
	e := renderPrompt(chat.Prompt{User: "matrix:@a:x", Kind: chat.KindExec, Target: "quick_ride", Function: "quick_ride",
		Data: `Arguments: {"start_point":"Main <St>"}`}, "@a:x", nil)
	for _, want := range []string{"Run app quick_ride?", "What it would receive:\nArguments:\n  start_point: Main <St>"} {
		if !strings.Contains(e.Body, want) {
			t.Errorf("exec prompt text lacks %q:\n%s", want, e.Body)
		}
	}
	if strings.Contains(e.Body, "(quick_ride)") || strings.Contains(e.Body, "{") || !strings.Contains(e.FormattedBody, "start_point: Main &lt;St&gt;") {
		t.Errorf("exec prompt repeats the name, shows raw JSON or does not escape:\n%s\n%s", e.Body, e.FormattedBody)
	}
	if len(promptChoices(p)) != 5 || len(promptChoices(chat.Prompt{Kind: chat.KindExec})) != 4 {
		t.Error("a plan prompt offers 5 reactions, others 4")
	}
	if d, ok := decisionForKey("🔍"); !ok || d != chat.Review {
		t.Errorf("review reaction = %q %v", d, ok)
	}
}
