package matrix

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

// TestQuestionPrompt: an app's question offers its own options as numbered
// reactions, takes only those, and is rendered without the permission
// legend.
func TestQuestionPrompt(t *testing.T) {
	p := chat.Prompt{User: "matrix:@a:x", Kind: chat.KindElicit, Target: "mcp.x", Data: "Message from app mcp.x (its own text, not from SecGPT): «<b>hi</b>»",
		Options: []chat.Decision{chat.Option("small"), chat.Option("large"), chat.Cancel}}
	cs := promptChoices(p)
	if len(cs) != 3 || cs[0].emoji != "1️⃣" || cs[1].decision != chat.Option("large") {
		t.Fatalf("question reactions %v", cs)
	}
	tests := []struct {
		key  string
		want chat.Decision
		ok   bool
	}{
		{"2️⃣", chat.Option("large"), true},
		{"3\u20e3", chat.Cancel, true}, // without the variation selector
		{"✅", "", false},               // a permission reaction answers no question
		{"4️⃣", "", false},
	}
	for _, tt := range tests {
		if d, ok := elicitDecision(p, tt.key); d != tt.want || ok != tt.ok {
			t.Errorf("reaction %q = %q %v, want %q %v", tt.key, d, ok, tt.want, tt.ok)
		}
	}
	c := renderPrompt(p, "@a:x", nil)
	if strings.Contains(c.Body, "allow once") || !strings.Contains(c.Body, "number of your choice") || !strings.Contains(c.Body, "1️⃣ small") {
		t.Errorf("question body:\n%s", c.Body)
	}
	if strings.Contains(c.FormattedBody, "<b>hi</b>") {
		t.Errorf("the app's markup is not escaped:\n%s", c.FormattedBody)
	}
}
