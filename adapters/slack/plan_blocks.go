package slack

import (
	"strings"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
)

// maxPlanSteps bounds the step sections of a plan prompt, leaving room for
// the other blocks within Slack's 50 (a plan has at most 12 steps).
const maxPlanSteps = 12

// planHead renders a plan prompt: a section per step (app, function,
// effect, arguments as fields), then the flows between steps and the
// remembered facts it would share. Arguments, flows and facts are plain
// text, so nothing an app or model wrote can take effect as markup.
func planHead(p chat.Prompt) []slack.Block {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plainText("Permission request: a plan")),
		section("*" + escape(chat.PromptTitle(p)) + "*\n*Only " + mention(p.User) + " can answer.* Your answer covers every part not marked as already allowed."),
	}
	if p.Rule != "" {
		blocks = append(blocks, section("*Rule:* "+escape(p.Rule)))
	}
	for i, s := range p.Steps {
		if i == maxPlanSteps {
			blocks = append(blocks, section("_… more steps not shown_"))
			break
		}
		var fields []*slack.TextBlockObject
		if s.Instruction != "" && len(s.Args) == 0 {
			fields = append(fields, plainText(truncate("instruction: "+s.Instruction, 1900)))
		}
		blocks = append(blocks, slack.NewSectionBlock(plainText(truncate(chat.StepLine(s), 2900)), fields, nil))
		if chat.Shortened(s.Args) || (s.Function == "" && len(s.Args) > 0) {
			// The step line shortens long values; every value in full
			// follows, small, under it.
			blocks = append(blocks, slack.NewContextBlock("", plainText(truncate("All values: "+strings.Join(chat.FullArgs(s.Args), "\n"), 1900))))
		}
	}
	if len(p.Flows) > 0 {
		var lines []string
		for _, f := range p.Flows {
			lines = append(lines, chat.FlowLine(f))
		}
		blocks = append(blocks, section("*Data passed between apps:*"), slack.NewSectionBlock(plainText(truncate(strings.Join(lines, "\n"), 2900)), nil, nil))
	}
	if len(p.Facts) > 0 {
		var lines []string
		for _, f := range p.Facts {
			lines = append(lines, chat.FactLine(f))
		}
		blocks = append(blocks, section("*Remembered facts it would share* (you did not mention them in this message):"),
			slack.NewSectionBlock(plainText(truncate(strings.Join(lines, "\n"), 2900)), nil, nil))
	}
	return blocks
}
