package relational

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/core/schema"
)

func mustApp(t *testing.T, name string) apps.App {
	t.Helper()
	a, ok := New(name)
	if !ok {
		t.Fatalf("no tool %s", name)
	}
	return a
}

func call(t *testing.T, name, args string) string {
	t.Helper()
	out, err := appstest.Call(t, appstest.NewEnv(), mustApp(t, name), name, args)
	if err != nil {
		t.Fatalf("%s(%s): %v", name, args, err)
	}
	return string(out)
}

func TestSeventeenTools(t *testing.T) {
	got := IDs()
	if len(got) != 17 {
		t.Fatalf("%d tools", len(got))
	}
	registered := apps.Registered()
	for _, id := range got {
		if !slices.Contains(registered, id) {
			t.Errorf("%s not registered", id)
		}
		a, err := apps.New(id)
		if err != nil {
			t.Fatal(err)
		}
		appstest.Compile(t, a)
	}
	if _, err := apps.NewCatalog(got); err != nil {
		t.Errorf("the 17 do not form a catalog: %v", err)
	}
}

func TestLookups(t *testing.T) {
	tests := []struct {
		tool, args, want string
	}{
		{"get_user_name", `{"user_id":35}`, `"Charlie"`},
		{"get_user_name", `{"user_id":7}`, `"User ID 7 cannot be resolved"`},
		{"list_user_ids", `{}`, `[1,21,35,41,42,43]`},
		{"get_user_email", `{"user_id":43}`, `"frank.the.cat@langchain.dev"`},
		{"get_user_location", `{"user_id":21}`, `2`},
		{"get_user_location", `{"user_id":2}`, `"User ID 2 cannot be resolved"`},
		{"get_user_favorite_color", `{"user_id":41}`, `"green"`},
		{"get_user_favorite_foods", `{"user_id":35}`, `[3,7,2]`},
		{"get_weather_at_location", `{"location_id":4}`, `"Houston: Rainy, Temperature: 55°F"`},
		{"get_city_for_location", `{"location_id":3}`, `"Chicago"`},
		{"get_city_for_location", `{"location_id":9}`, `"Location ID 9 cannot be resolved"`},
		{"get_current_time_for_location", `{"location_id":2}`, `"2023-11-14 7:45 AM"`},
		{"get_current_weather_for_location", `{"location_id":5}`, `"Miami: Partly Cloudy, Temperature: 80°F"`},
		{"get_food_name", `{"food_id":5}`, `"Ice Cream"`},
		{"get_food_calories", `{"food_id":1}`, `285`},
		{"get_food_calories", `{"food_id":8}`, `"Food ID 8 cannot be resolved"`},
		{"get_food_allergic_ingredients", `{"food_id":7}`, `[]`},
		{"get_food_allergic_ingredients", `{"food_id":2}`, `["Milk","Soy"]`},
		{"get_current_user_id", `{}`, `35`},
		{"get_food_calories", `{"food_id":3.0}`, `300`},
		{"get_user_location", `{"user_id":"21"}`, `2`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+tt.args, func(t *testing.T) {
			if got := call(t, tt.tool, tt.args); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// Rankings derived from the benchmark's rule (Jaccard similarity of
// case-sensitive character sets, ties in table order).
func TestSearchRanking(t *testing.T) {
	tests := []struct {
		tool, param, q string
		want           []int
	}{
		{"find_users_by_name", "name", "alice", []int{1, 35, 42, 43, 41, 21}},
		{"find_users_by_name", "name", "Frank", []int{43, 41, 35, 1, 21, 42}},
		{"find_locations_by_name", "city", "LA", []int{2, 1, 3, 4, 5}},
		{"find_locations_by_name", "city", "chicago", []int{3, 5, 2, 4, 1}},
		{"find_foods_by_name", "food", "pizza", []int{1, 6, 7, 3, 2, 5, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.tool+" "+tt.q, func(t *testing.T) {
			out := call(t, tt.tool, fmt.Sprintf(`{%q:%q}`, tt.param, tt.q))
			var hits []Hit
			if err := json.Unmarshal([]byte(out), &hits); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, h := range hits {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ranking %v, want %v", got, tt.want)
			}
		})
	}
}

// A multi-step benchmark question answered through the tools alone: the
// weather where the current user lives.
func TestChain(t *testing.T) {
	uid := call(t, "get_current_user_id", `{}`)
	loc := call(t, "get_user_location", `{"user_id":`+uid+`}`)
	if got := call(t, "get_current_weather_for_location", `{"location_id":`+loc+`}`); got != `"Chicago: Mostly Cloudy, Temperature: 60°F"` {
		t.Errorf("weather %s", got)
	}
}

func TestSchemas(t *testing.T) {
	appstest.CheckExamples(t, mustApp(t, "get_user_name"), []appstest.Example{
		appstest.Valid("id", "get_user_name", `{"user_id":1}`),
		appstest.Valid("digits", "get_user_name", `{"user_id":"21"}`),
		appstest.Invalid("string id", "get_user_name", `{"user_id":"one"}`),
		appstest.Invalid("signed string", "get_user_name", `{"user_id":"-1"}`),
		appstest.Invalid("fraction", "get_user_name", `{"user_id":1.5}`),
		appstest.Invalid("missing", "get_user_name", `{}`),
	})
	appstest.CheckExamples(t, mustApp(t, "find_foods_by_name"), []appstest.Example{
		appstest.Valid("name", "find_foods_by_name", `{"food":"salad"}`),
		appstest.Invalid("number", "find_foods_by_name", `{"food":1}`),
	})
}

// Arguments come from a model: any bytes are answered without a panic, and
// arguments that match the request schema are never refused.
func FuzzCallArgs(f *testing.F) {
	for _, s := range []string{`{"user_id":1}`, `{"user_id":"21"}`, `{"user_id":"999999999"}`, `{"user_id":1e300}`, `{"name":"bob"}`, `{}`, `x`} {
		f.Add(s)
	}
	type compiled struct {
		a  apps.App
		sc *schema.Schema
	}
	var cs []compiled
	for _, name := range []string{"get_user_name", "get_food_calories", "find_users_by_name"} {
		a, ok := New(name)
		if !ok {
			f.Fatalf("no tool %s", name)
		}
		sc, err := schema.Compile(a.Spec().Functions[0].Request)
		if err != nil {
			f.Fatal(err)
		}
		cs = append(cs, compiled{a, sc})
	}
	f.Fuzz(func(t *testing.T, args string) {
		for _, c := range cs {
			fn := c.a.Spec().Functions[0].Name
			_, err := c.a.Call(context.Background(), appstest.NewEnv(), fn, json.RawMessage(args))
			if err != nil && c.sc.Validate(json.RawMessage(args)) == nil {
				t.Errorf("%s(%s): schema-valid arguments refused: %v", fn, args, err)
			}
		}
	})
}
