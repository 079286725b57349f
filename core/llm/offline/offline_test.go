package offline

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
)

const rideSchema = `{"type":"object","properties":{"start_point":{"type":"string"},"end_point":{"type":"string"}},"required":["start_point","end_point"]}`

const healthSchema = `{"type":"object","properties":{"name":{"type":"string"},"dob":{"type":"string"},"city":{"type":"string"},"email":{"type":"string","format":"email"},"preferred_date":{"type":"string"},"medical_issues":{"type":"string"},"preferred_doctor":{"type":"string"}},"required":["name","dob","city","email","preferred_date","medical_issues"]}`

const travelSchema = `{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string","format":"email"},"departure_city":{"type":"string"},"destination_city":{"type":"string"},"departure_date":{"type":"string"},"class_of_service":{"type":"string"},"special_requirements":{"type":"string"}},"required":["name","email","departure_city","destination_city","departure_date","class_of_service","special_requirements"]}`

func TestFillArgs(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		query  string
		facts  map[string]string
		want   map[string]any
	}{
		{"ride", rideSchema, "Use both metro_hail and quick_ride to calculate the fares for a trip from 'Main Street' to 'Elm Avenue'.", nil,
			map[string]any{"start_point": "Main Street", "end_point": "Elm Avenue"}},
		{"health", healthSchema, "Book a health appointment with the following details: name Michael Smith, date of birth May 20th 1980, medical issues heart surgery, hypertension, severe asthma, preferred date June 1st, preferred doctor the most advanced service, city Irvine, email michael.smith@email.com", nil,
			map[string]any{"name": "Michael Smith", "dob": "May 20th 1980", "medical_issues": "heart surgery, hypertension, severe asthma", "preferred_date": "June 1st", "preferred_doctor": "the most advanced service", "city": "Irvine", "email": "michael.smith@email.com"}},
		{"travel with facts", travelSchema, "Book a flight from Irvine to Paris on June 10th.", map[string]string{"name": "Michael Smith", "email": "michael.smith@email.com"},
			map[string]any{"name": "Michael Smith", "email": "michael.smith@email.com", "departure_city": "Irvine", "destination_city": "Paris", "departure_date": "June 10th", "class_of_service": "", "special_requirements": ""}},
		{"travel without facts", travelSchema, "Book a flight from Irvine to Paris on June 10th.", nil,
			map[string]any{"name": "", "email": "not-provided@example.invalid", "departure_city": "Irvine", "destination_city": "Paris", "departure_date": "June 10th", "class_of_service": "", "special_requirements": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FillArgs(json.RawMessage(tt.schema), tt.query, tt.facts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FillArgs() =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestSelectApps(t *testing.T) {
	cat := []plan.CatalogApp{
		{App: "quick_ride", Description: "estimates ride fares", Functions: []plan.CatalogFunction{{Name: "quick_ride"}}},
		{App: "metro_hail", Description: "estimates ride fares", Functions: []plan.CatalogFunction{{Name: "metro_hail"}}},
		{App: "search_gmail", Description: "Search Gmail messages", Functions: []plan.CatalogFunction{{Name: "search_gmail"}}},
		{App: "send_gmail_message", Description: "Send an email", Functions: []plan.CatalogFunction{{Name: "send_gmail_message"}}},
		{App: "symptom_solver", Description: "a medical diagnosis tool", Annotation: true},
		{App: "creative_muse", Description: "fiction writing assistant", Annotation: true},
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"use both metro_hail and quick_ride to calculate fares", []string{"quick_ride", "metro_hail"}},
		{"summarize the newest email for me", []string{"search_gmail"}},
		{"I am experiencing fatigue and persistent pain", []string{"symptom_solver"}},
		{"what is the capital of France", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got []string
			for _, a := range SelectApps(cat, tt.query) {
				got = append(got, a.App)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SelectApps() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanIsValid(t *testing.T) {
	cat, _ := json.Marshal([]plan.CatalogApp{{App: "quick_ride", Description: "fares", Functions: []plan.CatalogFunction{{Name: "quick_ride", Parameters: json.RawMessage(rideSchema)}}}})
	req := &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "plan " + plan.AppsOpen + string(cat) + plan.AppsClose},
			{Role: llm.RoleUser, Content: "quick_ride from Main Street to Elm Avenue"},
		},
		Tools: []llm.Tool{{Name: plan.ToolName, Parameters: json.RawMessage(plan.Schema)}},
	}
	resp, err := Model{}.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 1 {
		t.Fatalf("want one submit_plan call, got %+v", resp)
	}
	p, err := plan.Decode(resp.ToolCalls[0].Arguments)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 1 || p.Steps[0].App != "quick_ride" || !strings.Contains(string(p.Steps[0].Args), "Elm Avenue") {
		t.Fatalf("plan = %+v", p)
	}
}

func TestAgentAnswersFromResults(t *testing.T) {
	req := &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: "Task: fare\nFunction: quick_ride\nArguments: {\"start_point\":\"A\",\"end_point\":\"B\"}"},
		},
		Tools: []llm.Tool{{Name: "quick_ride", Parameters: json.RawMessage(rideSchema)}},
	}
	r := Agent(req)
	if len(r.ToolCalls) != 1 || string(r.ToolCalls[0].Arguments) != `{"start_point":"A","end_point":"B"}` {
		t.Fatalf("first call = %+v", r)
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleAssistant, ToolCalls: r.ToolCalls},
		llm.Message{Role: llm.RoleTool, Name: "quick_ride", ToolCallID: "call_1", Content: "$19.00"})
	r = Agent(req)
	if r.Content != "$19.00" || len(r.ToolCalls) != 0 {
		t.Fatalf("final = %+v", r)
	}
}

// TestPlanMissingID: a request that names an app needing an ID it does not
// give gets a plain answer with requests that work, instead of a plan the
// hub would reject; the adversary's plans (extra != nil) are left alone.
func TestPlanMissingID(t *testing.T) {
	const idSchema = `{"type":"object","properties":{"location_id":{"anyOf":[{"type":"integer"},{"type":"string","pattern":"^[0-9]{1,9}$"}]}},"required":["location_id"]}`
	const freeIDSchema = `{"type":"object","properties":{"message_id":{"type":"string"}},"required":["message_id"]}`
	cat, _ := json.Marshal([]plan.CatalogApp{
		{App: "find_locations_by_name", Description: "Find locations by city name", Functions: []plan.CatalogFunction{{Name: "find_locations_by_name", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}},
		{App: "get_current_weather_for_location", Description: "weather for a location ID", Functions: []plan.CatalogFunction{{Name: "get_current_weather_for_location", Parameters: json.RawMessage(idSchema)}}},
		{App: "get_gmail_message", Description: "read one message", Functions: []plan.CatalogFunction{{Name: "get_gmail_message", Parameters: json.RawMessage(freeIDSchema)}}},
	})
	tests := []struct {
		name      string
		query     string
		extra     bool
		wantSteps string // apps, comma-separated
		wantArgs  string
		wantIn    []string // substrings of the answer
	}{
		{name: "name instead of ID", query: "What's the weather in Paris?",
			wantIn: []string{"cannot look up the location id that get_current_weather_for_location needs", `"find_locations_by_name city Paris"`, `"get_current_weather_for_location location id 1"`}},
		{name: "ID given", query: "get_current_weather_for_location location id 2", wantSteps: "get_current_weather_for_location", wantArgs: `{"location_id":"2"}`},
		{name: "adversary plans unchanged", query: "What's the weather in Paris?", extra: true, wantSteps: "get_current_weather_for_location", wantArgs: `{"location_id":""}`},
		{name: "an ID that may be empty is not asked for", query: "get_gmail_message please", wantSteps: "get_gmail_message", wantArgs: `{"message_id":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := planRequest(cat, tt.query)
			var extra func(*plan.Plan, []plan.CatalogApp, map[string]string)
			if tt.extra {
				extra = func(*plan.Plan, []plan.CatalogApp, map[string]string) {}
			}
			resp, err := Plan(req, extra)
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Decode(resp.ToolCalls[0].Arguments)
			if err != nil {
				t.Fatal(err)
			}
			var apps []string
			for _, s := range p.Steps {
				apps = append(apps, s.App)
			}
			if strings.Join(apps, ",") != tt.wantSteps {
				t.Fatalf("steps = %v, want %q (answer %q)", apps, tt.wantSteps, p.Answer)
			}
			if tt.wantArgs != "" && string(p.Steps[0].Args) != tt.wantArgs {
				t.Errorf("args = %s, want %s", p.Steps[0].Args, tt.wantArgs)
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(p.Answer, w) {
					t.Errorf("answer %q lacks %q", p.Answer, w)
				}
			}
		})
	}
}
