package matrix

import (
	"html"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
)

// reviewChoice is the fifth reaction of a plan prompt.
var reviewChoice = struct {
	decision chat.Decision
	emoji    string
}{chat.Review, "🔍"}

// promptChoices are the reactions offered under p: a plan prompt adds
// "Review steps one by one".
func promptChoices(p chat.Prompt) []struct {
	decision chat.Decision
	emoji    string
} {
	if p.Kind == chat.KindElicit {
		return elicitChoices(p)
	}
	out := append([]struct {
		decision chat.Decision
		emoji    string
	}(nil), choices[:]...)
	if p.Kind == chat.KindPlan {
		out = append(out, reviewChoice)
	}
	return out
}

// renderPlan writes a plan prompt's steps (an ordered list, each with its
// effect and arguments), flows and remembered facts. Everything in it is
// escaped: app names, arguments and facts may come from apps and models.
func renderPlan(p chat.Prompt, txt, htm *strings.Builder) {
	esc := html.EscapeString
	if p.Rule != "" {
		txt.WriteString("Rule: " + p.Rule + "\n")
		htm.WriteString("<i>Rule:</i> " + esc(p.Rule) + "<br>")
	}
	txt.WriteString("Steps:\n")
	htm.WriteString("<b>Steps:</b><ol>")
	for _, s := range p.Steps {
		txt.WriteString("  " + chat.StepLine(s) + "\n")
		htm.WriteString("<li>" + esc(chat.StepLine(s)))
		if s.Instruction != "" && len(s.Args) == 0 {
			txt.WriteString("     instruction: " + s.Instruction + "\n")
			htm.WriteString("<br><i>instruction:</i> <code>" + esc(s.Instruction) + "</code>")
		}
		if chat.Shortened(s.Args) || (s.Function == "" && len(s.Args) > 0) {
			// The step line shortens long values; all of them follow in
			// full, folded away where the client folds <details>.
			txt.WriteString("     all values:\n")
			htm.WriteString("<details><summary>Show all values</summary><ul>")
			for _, a := range s.Args {
				txt.WriteString("       " + a.Name + ": " + a.Value + "\n")
				htm.WriteString("<li><code>" + esc(a.Name) + "</code>: <code>" + esc(a.Value) + "</code></li>")
			}
			htm.WriteString("</ul></details>")
		}
		htm.WriteString("</li>")
	}
	htm.WriteString("</ol>")
	if len(p.Flows) > 0 {
		txt.WriteString("Data passed between apps:\n")
		htm.WriteString("<b>Data passed between apps:</b><ul>")
		for _, f := range p.Flows {
			txt.WriteString("  " + chat.FlowLine(f) + "\n")
			htm.WriteString("<li>" + esc(chat.FlowLine(f)) + "</li>")
		}
		htm.WriteString("</ul>")
	}
	if len(p.Facts) > 0 {
		txt.WriteString("Remembered facts it would share:\n")
		htm.WriteString("<b>Remembered facts it would share:</b><ul>")
		for _, f := range p.Facts {
			txt.WriteString("  " + chat.FactLine(f) + "\n")
			htm.WriteString("<li>" + esc(chat.FactLine(f)) + "</li>")
		}
		htm.WriteString("</ul>")
	}
}

// keycaps number an app question's options as reactions.
var keycaps = [...]string{"1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣"}

// elicitChoices are the reactions under an app's question (chat.KindElicit):
// its options, numbered.
func elicitChoices(p chat.Prompt) []struct {
	decision chat.Decision
	emoji    string
} {
	var out []struct {
		decision chat.Decision
		emoji    string
	}
	for i, d := range p.Options {
		if i == len(keycaps) {
			break
		}
		out = append(out, struct {
			decision chat.Decision
			emoji    string
		}{d, keycaps[i]})
	}
	return out
}

// elicitDecision maps a reaction under an app's question to its option.
func elicitDecision(p chat.Prompt, key string) (chat.Decision, bool) {
	key = stripVariation(key)
	for _, c := range elicitChoices(p) {
		if stripVariation(c.emoji) == key {
			return c.decision, true
		}
	}
	return "", false
}
