package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

func TestPlanPromptBlocks(t *testing.T) {
	p := chat.Prompt{ID: "p1", Nonce: "n", User: "slack:T1/U1", Kind: chat.KindPlan,
		Steps: []chat.PlanStep{
			{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []chat.Field{{Name: "query", Value: "*bold* <http://evil|x>"}}},
			{N: 2, App: "send_gmail_message", Function: "send_gmail_message", Effect: "send", Confirm: true, Args: []chat.Field{{Name: "message", Value: "(step 1's result)"}}},
		},
		Flows: []chat.PlanFlow{{From: 1, To: 2, FromApp: "search_gmail", ToApp: "send_gmail_message", Into: "message"}}}
	blocks, err := promptBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(blocks)
	s := string(raw)
	for _, want := range []string{"Run this 2-step plan?", "1. search_gmail (search_gmail) — reads only", "sends data to a third party",
		`"type":"plain_text","text":"query: *bold* \u003chttp://evil|x\u003e"`, "step 1's result (search_gmail)", "secgpt_perm_review", "Review steps one by one"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan blocks lack %q:\n%s", want, s)
		}
	}
	if strings.Count(s, `"type":"button"`) != 5 {
		t.Errorf("want 5 buttons: %s", s)
	}
}
