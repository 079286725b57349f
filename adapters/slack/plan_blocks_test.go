package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
)

func TestPlanPromptBlocks(t *testing.T) {
	p := chat.Prompt{ID: "p1", Nonce: "n", User: "slack:T1/U1", Kind: chat.KindPlan, ExpiresAt: time.Now().Add(time.Minute),
		Steps: []chat.PlanStep{
			{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []chat.Field{{Name: "query", Value: "*bold* <http://evil|x>"}}},
			{N: 2, App: "send_gmail_message", Function: "send_gmail_message", Effect: "send", Confirm: true, Args: []chat.Field{{Name: "message", Value: "(step 1's result)"}}},
			{N: 3, App: "gmail", Function: "send", Effect: "destroy", Claims: "the server says: read-only", Args: []chat.Field{{Name: "body", Value: strings.Repeat("long ", 20) + "end"}}},
		},
		Flows: []chat.PlanFlow{{From: 1, To: 2, FromApp: "search_gmail", ToApp: "send_gmail_message", Into: "message"}}}
	blocks, err := promptBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(blocks)
	s := string(raw)
	for _, want := range []string{"Run this 3-step plan?", `"type":"plain_text","text":"1. search_gmail(query=*bold* \u003chttp://evil|x\u003e) — reads only"`,
		"2. send_gmail_message(message=(step 1's result)) — sends data to a third party",
		// A long value is shortened in the step and shown in full beneath.
		"3. gmail · send(body=long long long long long long long long…) — treated as: deletes or irreversibly changes data (the app claims: read-only;",
		`{"type":"context","elements":[{"type":"plain_text","text":"All values: body: ` + strings.Repeat("long ", 20) + `end"`,
		"step 1's result (search_gmail)", "secgpt_perm_review", "Review steps one by one", "no answer by then means Deny"} {
		if !strings.Contains(s, want) {
			t.Errorf("plan blocks lack %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "All values:") != 1 {
		t.Errorf("full values shown for a step whose values are all shown: %s", s)
	}
	if strings.Count(s, `"type":"button"`) != 5 {
		t.Errorf("want 5 buttons: %s", s)
	}
}

// An exec prompt names the app's function once and shows its data as
// fields, not as raw JSON.
func TestExecPromptBlocks(t *testing.T) {
	p := chat.Prompt{ID: "p1", Nonce: "n", User: "slack:T1/U1", Kind: chat.KindExec, Target: "quick_ride", Function: "quick_ride",
		Data: `Arguments: {"start_point":"Main Street","end_point":"*Elm*"}`}
	blocks, err := promptBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(blocks)
	s := string(raw)
	for _, want := range []string{"*Run app quick_ride?*", "*For:* app `quick_ride`", "What it would receive (exactly):",
		`"type":"plain_text","text":"Arguments:\n  start_point: Main Street\n  end_point: *Elm*"`} {
		if !strings.Contains(s, want) {
			t.Errorf("exec prompt blocks lack %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "(quick_ride)") || strings.Contains(s, `{\"start_point`) {
		t.Errorf("name repeated or raw JSON shown:\n%s", s)
	}
}
