package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
)

// TestRewordedFactNeedsDataDecision: a remembered fact that the planner
// respells (case, punctuation, spacing, hyphens, accents, JSON escapes)
// still reaches the app only through a data prompt that shows it.
func TestRewordedFactNeedsDataDecision(t *testing.T) {
	tests := []struct {
		name, start string
		query       string
		wantPrompt  bool
	}{
		{"exact", "clinic for type 2 diabetes", "ride to the clinic", true},
		{"hyphen", "clinic for type-2 diabetes", "ride to the clinic", true},
		{"case", "clinic for Type 2 DIABETES", "ride to the clinic", true},
		{"joined", "clinic for type2 diabetes", "ride to the clinic", true},
		{"punctuation and spacing", "clinic for (type  2)  diabetes!", "ride to the clinic", true},
		{"underscore", "clinic_for_type_2_diabetes", "ride to the clinic", true},
		{"accent and dash", "clinic for TYPE–2 DIABÈTES", "ride to the clinic", true},
		{"json escape", `clinic for \u0074ype 2 diabetes`, "ride to the clinic", true},
		{"said in this message", "clinic for type-2 diabetes", "ride to the clinic for my Type 2 diabetes", false},
		{"not there", "clinic on Elm Avenue", "ride to the clinic", false},
		{"different number", "clinic for type 1 diabetes", "ride to the clinic", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := hubtest.Store(t)
			ctx := context.Background()
			user := ids.UserID("test:alice")
			if err := st.PutEntities(ctx, user, map[string]string{"condition": "type 2 diabetes"}); err != nil {
				t.Fatal(err)
			}
			start, _ := json.Marshal(tc.start)
			if strings.Contains(tc.start, `\u`) {
				start = []byte(`"` + tc.start + `"`)
			}
			h := hubtest.New(t, hubtest.Options{Store: st, SpokeModel: offline.Model{}, Apps: []ids.AppID{"quick_ride"},
				Model: planFor("quick_ride", fmt.Sprintf(`{"start_point":%s,"end_point":"Elm Avenue"}`, start))})
			// The plan prompt lists the fact; reviewing the parts one by
			// one asks the data decision on its own, which is denied.
			c := &scripted.Conversation{A: h, User: user, Policy: func(p chat.Prompt) chat.Decision {
				switch {
				case p.Kind == chat.KindPlan && len(p.Facts) > 0:
					return chat.Review
				case p.Kind == chat.KindData:
					return chat.Deny
				}
				return chat.AllowOnce
			}}
			c.Send(ctx, tc.query)
			var data []chat.Prompt
			for _, p := range c.Prompts() {
				if p.Kind == chat.KindData {
					data = append(data, p)
				}
			}
			if got := len(data) > 0; got != tc.wantPrompt {
				t.Fatalf("data prompts = %+v; want a prompt: %v", data, tc.wantPrompt)
			}
			if tc.wantPrompt && !strings.Contains(data[0].Data, "type 2 diabetes") {
				t.Fatalf("the data prompt does not show the fact: %q", data[0].Data)
			}
			if ps := c.Prompts(); tc.wantPrompt && (ps[0].Kind != chat.KindPlan || len(ps[0].Facts) != 1 || ps[0].Facts[0].Value != "type 2 diabetes") {
				t.Fatalf("the plan prompt does not list the fact: %+v", ps[0])
			}
		})
	}
}
