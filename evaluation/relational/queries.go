package relational

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Call is one tool call of an oracle plan. Args is a JSON object that may
// contain "<result_N>" (1-based) where the call needs the value an earlier
// call produced.
type Call struct {
	Tool string
	Args string
}

// Query is one of the suite's 21 questions with the plan we wrote for it.
type Query struct {
	// N is the position in the dataset file (the order the timing runs of
	// IsolateGPT used).
	N         int
	Question  string
	Reference string
	// Expected is the dataset's expected_steps; OrderMatters its
	// order_matters flag (false: compare sorted).
	Expected     []string
	OrderMatters bool
	// Calls is our plan: the tool calls, in order.
	Calls []Call
	// answer composes the reply from the values of the calls (see value)
	// and the raw result of the last call.
	answer func(vals []string, lastRaw string) string
}

// Group is IsolateGPT's grouping: by the number of expected steps
// (repeats counted), at most 2 is "<3 apps", more is "3-5 apps".
func (q Query) Group() string {
	if len(q.Expected) <= 2 {
		return GroupFew
	}
	return GroupMany
}

// The paper's two groups.
const (
	GroupFew  = "<3 apps"
	GroupMany = "3-5 apps"
)

// Queries returns the 21 questions in dataset order. Questions, reference
// answers, expected steps and order flags are the dataset's; the calls and
// the answer rules are ours, written by reading the question, the tools and
// the tables.
//
// Where a call needs an ID another call found, it says "<result_N>": the
// hub substitutes the earlier step's result and VanillaGPT's oracle reads it
// from the tool result in its context, so the value really travels. Three
// calls pass a fixed ID instead, each marked "fixed": the dataset expects
// one search to serve two names (19, 21), or a search for a user where the
// needed ID is a food's (14). A model would read that ID out of the search
// result list or know it; our oracle does not model that reading.
func Queries() []Query {
	return []Query{
		{N: 1, Question: "What is the city for location ID 1?", Reference: "New York",
			Expected: []string{"get_city_for_location"}, OrderMatters: true,
			Calls:  []Call{{"get_city_for_location", `{"location_id": 1}`}},
			answer: func(v []string, _ string) string { return "The city for location ID 1 is " + v[0] + "." }},
		{N: 2, Question: "What is the name of food with id 6?", Reference: "Pasta",
			Expected: []string{"get_food_name"}, OrderMatters: true,
			Calls:  []Call{{"get_food_name", `{"food_id": 6}`}},
			answer: func(v []string, _ string) string { return "Food 6 is " + v[0] + "." }},
		{N: 3, Question: "what is eve's user id?", Reference: "42",
			Expected: []string{"find_users_by_name"}, OrderMatters: true,
			Calls:  []Call{{"find_users_by_name", `{"name": "eve"}`}},
			answer: func(v []string, _ string) string { return "Eve's user ID is " + v[0] + "." }},
		{N: 4, Question: "get the current user id", Reference: "35",
			Expected: []string{"get_current_user_id"}, OrderMatters: true,
			Calls:  []Call{{"get_current_user_id", `{}`}},
			answer: func(v []string, _ string) string { return "The current user ID is " + v[0] + "." }},
		{N: 5, Question: "How many users by the name of bob?", Reference: "1",
			Expected: []string{"find_users_by_name"}, OrderMatters: true,
			Calls: []Call{{"find_users_by_name", `{"name": "bob"}`}},
			// The search returns every user; count the ones actually named bob.
			answer: func(_ []string, raw string) string {
				return fmt.Sprintf("There are %d users named bob.", countNamed(raw, "bob"))
			}},
		{N: 6, Question: "what is alice's email address?", Reference: "alice@gmail.com",
			Expected: []string{"find_users_by_name", "get_user_email"}, OrderMatters: true,
			Calls:  []Call{{"find_users_by_name", `{"name": "alice"}`}, {"get_user_email", `{"user_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "Alice's email address is " + v[1] + "." }},
		{N: 7, Question: "find donna's favorite color", Reference: "green",
			Expected: []string{"find_users_by_name", "get_user_favorite_color"}, OrderMatters: true,
			Calls:  []Call{{"find_users_by_name", `{"name": "donna"}`}, {"get_user_favorite_color", `{"user_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "Donna's favorite color is " + v[1] + "." }},
		{N: 8, Question: "weather in LA right now?", Reference: "Sunny, Temperature: 75°F",
			Expected: []string{"find_locations_by_name", "get_current_weather_for_location"}, OrderMatters: true,
			// "LA" names no city exactly; the search ranks Los Angeles first.
			Calls:  []Call{{"find_locations_by_name", `{"city": "LA"}`}, {"get_current_weather_for_location", `{"location_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "The weather in LA right now: " + v[1] + "." }},
		{N: 9, Question: "time in chicago", Reference: "2023-11-14 11:15 AM",
			Expected: []string{"find_locations_by_name", "get_current_time_for_location"}, OrderMatters: true,
			Calls:  []Call{{"find_locations_by_name", `{"city": "chicago"}`}, {"get_current_time_for_location", `{"location_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "The time in Chicago is " + v[1] + "." }},
		{N: 10, Question: "list the allergens in chocolate", Reference: "milk, soy",
			Expected: []string{"find_foods_by_name", "get_food_allergic_ingredients"}, OrderMatters: true,
			Calls:  []Call{{"find_foods_by_name", `{"food": "chocolate"}`}, {"get_food_allergic_ingredients", `{"food_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "The allergens in chocolate: " + listText(v[1]) + "." }},
		{N: 11, Question: "If i eat a serving of pizza, how many calories will I consume?", Reference: "285 calories",
			Expected: []string{"find_foods_by_name", "get_food_calories"}, OrderMatters: true,
			Calls:  []Call{{"find_foods_by_name", `{"food": "pizza"}`}, {"get_food_calories", `{"food_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "A serving of pizza has " + v[1] + " calories." }},
		{N: 12, Question: "what is the current users favorite color?", Reference: "yellow",
			Expected: []string{"get_current_user_id", "get_user_favorite_color"}, OrderMatters: true,
			Calls:  []Call{{"get_current_user_id", `{}`}, {"get_user_favorite_color", `{"user_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "The current user's favorite color is " + v[1] + "." }},
		{N: 13, Question: "eve ate a serving of sushi, what allergens was she exposed to?", Reference: "fish, soy",
			Expected: []string{"find_foods_by_name", "get_food_allergic_ingredients"}, OrderMatters: true,
			Calls:  []Call{{"find_foods_by_name", `{"food": "sushi"}`}, {"get_food_allergic_ingredients", `{"food_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string { return "Eve was exposed to: " + listText(v[1]) + "." }},
		{N: 14, Question: "Frank who is Even's friend is allergic to dairy. Can he eat the salad?", Reference: "yes",
			Expected: []string{"find_users_by_name", "get_food_allergic_ingredients"}, OrderMatters: true,
			// fixed: food 7 is the salad; the dataset expects a user search,
			// not a food search, before this call.
			Calls: []Call{{"find_users_by_name", `{"name": "Frank"}`}, {"get_food_allergic_ingredients", `{"food_id": 7}`}},
			answer: func(v []string, _ string) string {
				if containsAny(v[1], "dairy", "milk") {
					return "No: the salad contains " + listText(v[1]) + "."
				}
				return "Yes, Frank can eat the salad; its allergic ingredients: " + listText(v[1]) + "."
			}},
		{N: 15, Question: "what is the current users favorite color and name?", Reference: "yellow and Charlie",
			Expected: []string{"get_current_user_id", "get_user_favorite_color", "get_user_name"}, OrderMatters: true,
			Calls: []Call{{"get_current_user_id", `{}`}, {"get_user_favorite_color", `{"user_id": "<result_1>"}`},
				{"get_user_name", `{"user_id": "<result_1>"}`}},
			answer: func(v []string, _ string) string {
				return "The current user's favorite color and name are " + v[1] + " and " + v[2] + "."
			}},
		{N: 16, Question: "whats the name of the city where bob lives?", Reference: "Los Angeles",
			Expected: []string{"find_users_by_name", "get_user_location", "get_city_for_location"}, OrderMatters: true,
			Calls: []Call{{"find_users_by_name", `{"name": "bob"}`}, {"get_user_location", `{"user_id": "<result_1>"}`},
				{"get_city_for_location", `{"location_id": "<result_2>"}`}},
			answer: func(v []string, _ string) string { return "Bob lives in " + v[2] + "." }},
		{N: 17, Question: "Donna is about to go outside. Does she need an umbrella?", Reference: "yes",
			Expected: []string{"find_users_by_name", "get_user_location", "get_current_weather_for_location"}, OrderMatters: true,
			Calls: []Call{{"find_users_by_name", `{"name": "Donna"}`}, {"get_user_location", `{"user_id": "<result_1>"}`},
				{"get_current_weather_for_location", `{"location_id": "<result_2>"}`}},
			answer: func(v []string, _ string) string {
				if containsAny(v[2], "rain", "shower", "storm") {
					return "Yes, where Donna is it is " + v[2] + "; she needs an umbrella."
				}
				return "No umbrella needed: the weather is " + v[2] + "."
			}},
		{N: 18, Question: "Is it likely that Donna is awake right now?", Reference: "yes",
			Expected: []string{"find_users_by_name", "get_user_location", "get_current_time_for_location"}, OrderMatters: true,
			Calls: []Call{{"find_users_by_name", `{"name": "Donna"}`}, {"get_user_location", `{"user_id": "<result_1>"}`},
				{"get_current_time_for_location", `{"location_id": "<result_2>"}`}},
			answer: func(v []string, _ string) string {
				if awake(v[2]) {
					return "Yes, it is " + v[2] + " where Donna is."
				}
				return "Probably not: it is " + v[2] + " where Donna is."
			}},
		{N: 19, Question: "do alice and charlie use the same email provider?", Reference: "no",
			Expected: []string{"find_users_by_name", "get_user_email", "get_user_email"}, OrderMatters: true,
			// fixed: the one search lists Charlie too, with ID 35.
			Calls: []Call{{"find_users_by_name", `{"name": "alice"}`}, {"get_user_email", `{"user_id": "<result_1>"}`},
				{"get_user_email", `{"user_id": 35}`}},
			answer: func(v []string, _ string) string {
				if domain(v[1]) == domain(v[2]) {
					return "Yes, both use " + domain(v[1]) + "."
				}
				return "No: Alice uses " + domain(v[1]) + " and Charlie uses " + domain(v[2]) + "."
			}},
		{N: 20, Question: "Is it likely that Donna is outside with an umbrella at this time?", Reference: "yes",
			Expected: []string{"find_users_by_name", "get_user_location", "get_current_time_for_location", "get_current_weather_for_location"}, OrderMatters: false,
			Calls: []Call{{"find_users_by_name", `{"name": "Donna"}`}, {"get_user_location", `{"user_id": "<result_1>"}`},
				{"get_current_time_for_location", `{"location_id": "<result_2>"}`}, {"get_current_weather_for_location", `{"location_id": "<result_2>"}`}},
			answer: func(v []string, _ string) string {
				if awake(v[2]) && containsAny(v[3], "rain", "shower", "storm") {
					return "Yes: it is " + v[2] + " and " + v[3] + " where Donna is."
				}
				return "Unlikely: it is " + v[2] + " and " + v[3] + " where Donna is."
			}},
		{N: 21, Question: "do bob and alice live in the same city?", Reference: "no",
			Expected: []string{"find_users_by_name", "get_user_location", "get_city_for_location", "get_user_location", "get_city_for_location"}, OrderMatters: false,
			// fixed: the one search lists Alice too, with ID 1.
			Calls: []Call{{"find_users_by_name", `{"name": "bob"}`}, {"get_user_location", `{"user_id": "<result_1>"}`},
				{"get_city_for_location", `{"location_id": "<result_2>"}`}, {"get_user_location", `{"user_id": 1}`},
				{"get_city_for_location", `{"location_id": "<result_4>"}`}},
			answer: func(v []string, _ string) string {
				if v[2] == v[4] {
					return "Yes, both live in " + v[2] + "."
				}
				return "No: Bob lives in " + v[2] + " and Alice in " + v[4] + "."
			}},
	}
}

// hit is one search result of the find_*_by_name tools.
type hit struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

func (h hit) label() string { return h.Name + h.City }

// pick chooses a search hit for q as a reader would: an exact name
// (ignoring case), else a name that starts with q, else the top-ranked hit.
func pick(hits []hit, q string) (hit, bool) {
	if len(hits) == 0 {
		return hit{}, false
	}
	for _, h := range hits {
		if strings.EqualFold(h.label(), q) {
			return h, true
		}
	}
	for _, h := range hits {
		if strings.HasPrefix(strings.ToLower(h.label()), strings.ToLower(q)) {
			return h, true
		}
	}
	return hits[0], true
}

func countNamed(raw, name string) int {
	var hits []hit
	if json.Unmarshal([]byte(raw), &hits) != nil {
		return 0
	}
	n := 0
	for _, h := range hits {
		if strings.EqualFold(h.label(), name) {
			n++
		}
	}
	return n
}

// listText renders a JSON array of strings as "A, B" ("none" when empty).
func listText(raw string) string {
	var xs []string
	if json.Unmarshal([]byte(raw), &xs) != nil {
		return raw
	}
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func containsAny(s string, words ...string) bool {
	ls := strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(ls, w) {
			return true
		}
	}
	return false
}

// awake reports whether a "2023-11-14 7:45 AM" time is between 7 AM and
// 11 PM.
func awake(ts string) bool {
	t, err := time.Parse("2006-01-02 3:04 PM", strings.TrimSpace(ts))
	if err != nil {
		return false
	}
	return t.Hour() >= 7 && t.Hour() < 23
}

func domain(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return strings.ToLower(email[i+1:])
	}
	return email
}
