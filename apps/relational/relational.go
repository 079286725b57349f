// Package relational provides the 17 tools of the "Tool Usage - Relational
// Data" benchmark task (langchain-benchmarks) as 17 apps, one spoke each, as
// IsolateGPT installed them to measure the overhead of isolation. They read
// small fixed tables of users, locations and foods.
//
// The weather answers name their city ("Miami: Partly Cloudy,
// Temperature: 80°F"), where the benchmark gave the bare value: asked for
// "location id 1" after a search for a city the tables lack, the answer
// must say whose weather it is. The benchmark's reference answers are
// still contained in them.
//
// As in the benchmark, an ID that names no row is answered with an error
// text ("User ID 7 cannot be resolved") as the result, which is what the
// model saw there (tool-error handling on); response schemas allow it.
//
// Only apps/local, tests and the evaluation import this package.
package relational

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/internal/kit"
	"github.com/secgpt-go/secgpt/core/ids"
)

// tool is one benchmark tool.
type tool struct {
	name string
	desc string
	// param is the single argument's name ("" for none); it is an integer
	// ID unless search is set.
	param     string
	paramDesc string
	search    bool
	// result is the JSON Schema of a successful answer.
	result string
	run    func(arg int, text string) (any, error)
}

// notFound is the benchmark's error text for an unknown ID.
type notFound struct {
	what string
	id   int
}

func (e notFound) Error() string { return fmt.Sprintf("%s ID %d cannot be resolved", e.what, e.id) }

func findUser(id int) (user, error) {
	for _, u := range users() {
		if u.ID == id {
			return u, nil
		}
	}
	return user{}, notFound{"User", id}
}

func findLocation(id int) (location, error) {
	for _, l := range locations() {
		if l.ID == id {
			return l, nil
		}
	}
	return location{}, notFound{"Location", id}
}

func findFood(id int) (food, error) {
	for _, f := range foods() {
		if f.ID == id {
			return f, nil
		}
	}
	return food{}, notFound{"Food", id}
}

func userField(f func(user) any) func(int, string) (any, error) {
	return func(id int, _ string) (any, error) {
		u, err := findUser(id)
		if err != nil {
			return nil, err
		}
		return f(u), nil
	}
}

func locationField(f func(location) any) func(int, string) (any, error) {
	return func(id int, _ string) (any, error) {
		l, err := findLocation(id)
		if err != nil {
			return nil, err
		}
		return f(l), nil
	}
}

func foodField(f func(food) any) func(int, string) (any, error) {
	return func(id int, _ string) (any, error) {
		fd, err := findFood(id)
		if err != nil {
			return nil, err
		}
		return f(fd), nil
	}
}

// Hit is one search result: every row is returned, ranked.
type Hit struct {
	ID   int    `json:"id"`
	Name string `json:"name,omitempty"`
	City string `json:"city,omitempty"`
}

// similarity is the Jaccard similarity of the two strings' character sets,
// case-sensitive, as the benchmark ranks search hits.
func similarity(a, b string) float64 {
	sa, sb := map[rune]bool{}, map[rune]bool{}
	for _, r := range a {
		sa[r] = true
	}
	for _, r := range b {
		sb[r] = true
	}
	inter := 0
	for r := range sa {
		if sb[r] {
			inter++
		}
	}
	union := len(sa) + len(sb) - inter
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}

// rankHits orders hits by similarity of key(hit) to q, best first; ties
// keep table order.
func rankHits(q string, hits []Hit, key func(Hit) string) []Hit {
	score := make(map[int]float64, len(hits))
	for _, h := range hits {
		score[h.ID] = similarity(q, key(h))
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		switch sa, sb := score[a.ID], score[b.ID]; {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return 0
	})
	return hits
}

const (
	intSchema     = `{"type": "integer"}`
	strSchema     = `{"type": "string"}`
	intsSchema    = `{"type": "array", "items": {"type": "integer"}}`
	strsSchema    = `{"type": "array", "items": {"type": "string"}}`
	hitNameSchema = `{"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}, "required": ["id", "name"]}}`
	hitCitySchema = `{"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "city": {"type": "string"}}, "required": ["id", "city"]}}`
)

// tools lists the 17 tools in the benchmark's order.
func tools() []tool {
	const uid, lid, fid = "user_id", "location_id", "food_id"
	const uDesc, lDesc, fDesc = "The user's ID.", "The location's ID.", "The food's ID."
	return []tool{
		{name: "get_user_name", desc: "Get the name of the user with the given user ID.", param: uid, paramDesc: uDesc, result: strSchema,
			run: userField(func(u user) any { return u.Name })},
		{name: "list_user_ids", desc: "List the IDs of all users.", result: intsSchema,
			run: func(int, string) (any, error) {
				var out []int
				for _, u := range users() {
					out = append(out, u.ID)
				}
				return out, nil
			}},
		{name: "find_users_by_name", desc: "Find users by name: returns every user as {id, name}, the most similar names first.",
			param: "name", paramDesc: "The name to search for.", search: true, result: hitNameSchema,
			run: func(_ int, q string) (any, error) {
				var hits []Hit
				for _, u := range users() {
					hits = append(hits, Hit{ID: u.ID, Name: u.Name})
				}
				return rankHits(q, hits, func(h Hit) string { return h.Name }), nil
			}},
		{name: "find_locations_by_name", desc: "Find locations by city name: returns every location as {id, city}, the most similar first.",
			param: "city", paramDesc: "The city name to search for.", search: true, result: hitCitySchema,
			run: func(_ int, q string) (any, error) {
				var hits []Hit
				for _, l := range locations() {
					hits = append(hits, Hit{ID: l.ID, City: l.City})
				}
				return rankHits(q, hits, func(h Hit) string { return h.City }), nil
			}},
		{name: "find_foods_by_name", desc: "Find foods by name: returns every food as {id, name}, the most similar first.",
			param: "food", paramDesc: "The food name to search for.", search: true, result: hitNameSchema,
			run: func(_ int, q string) (any, error) {
				var hits []Hit
				for _, f := range foods() {
					hits = append(hits, Hit{ID: f.ID, Name: f.Name})
				}
				return rankHits(q, hits, func(h Hit) string { return h.Name }), nil
			}},
		{name: "get_user_email", desc: "Get the email address of the user with the given user ID.", param: uid, paramDesc: uDesc, result: strSchema,
			run: userField(func(u user) any { return u.Email })},
		{name: "get_user_location", desc: "Get the location ID (not the city) of the user with the given user ID.", param: uid, paramDesc: uDesc, result: intSchema,
			run: userField(func(u user) any { return u.Location })},
		{name: "get_user_favorite_color", desc: "Get the favorite color of the user with the given user ID.", param: uid, paramDesc: uDesc, result: strSchema,
			run: userField(func(u user) any { return u.FavoriteColor })},
		{name: "get_user_favorite_foods", desc: "Get the IDs of the favorite foods of the user with the given user ID.", param: uid, paramDesc: uDesc, result: intsSchema,
			run: userField(func(u user) any { return u.FavoriteFoods })},
		{name: "get_weather_at_location", desc: "Get the current weather at the location with the given location ID.", param: lid, paramDesc: lDesc, result: strSchema,
			run: locationField(func(l location) any { return l.City + ": " + l.CurrentWeather })},
		{name: "get_city_for_location", desc: "Get the city name of the location with the given location ID.", param: lid, paramDesc: lDesc, result: strSchema,
			run: locationField(func(l location) any { return l.City })},
		{name: "get_current_time_for_location", desc: "Get the current local time at the location with the given location ID.", param: lid, paramDesc: lDesc, result: strSchema,
			run: locationField(func(l location) any { return l.CurrentTime })},
		{name: "get_current_weather_for_location", desc: "Get the current weather for the location with the given location ID.", param: lid, paramDesc: lDesc, result: strSchema,
			run: locationField(func(l location) any { return l.City + ": " + l.CurrentWeather })},
		{name: "get_food_name", desc: "Get the name of the food with the given food ID.", param: fid, paramDesc: fDesc, result: strSchema,
			run: foodField(func(f food) any { return f.Name })},
		{name: "get_food_calories", desc: "Get the calories per serving of the food with the given food ID.", param: fid, paramDesc: fDesc, result: intSchema,
			run: foodField(func(f food) any { return f.Calories })},
		{name: "get_food_allergic_ingredients", desc: "Get the allergic ingredients of the food with the given food ID (possibly none).", param: fid, paramDesc: fDesc, result: strsSchema,
			run: foodField(func(f food) any { return f.AllergicIngredients })},
		{name: "get_current_user_id", desc: "Get the current user's ID.", result: intSchema,
			run: func(int, string) (any, error) { return currentUserID, nil }},
	}
}

// IDs lists the 17 app IDs in the benchmark's order.
func IDs() []ids.AppID {
	var out []ids.AppID
	for _, t := range tools() {
		out = append(out, ids.AppID(t.name))
	}
	return out
}

// App is one benchmark tool as an app.
type App struct {
	t tool
}

func init() {
	for _, t := range tools() {
		apps.Register(ids.AppID(t.name), func() apps.App { return &App{t: t} })
	}
}

// New builds the app for tool name, or reports false.
func New(name string) (apps.App, bool) {
	for _, t := range tools() {
		if t.name == name {
			return &App{t: t}, true
		}
	}
	return nil, false
}

// Spec describes the app.
func (a *App) Spec() apps.Spec {
	req := `{"type": "object", "properties": {}}`
	switch {
	case a.t.param != "" && a.t.search:
		req = fmt.Sprintf(`{"type": "object", "properties": {%q: {"type": "string", "description": %q}}, "required": [%q]}`,
			a.t.param, a.t.paramDesc, a.t.param)
	case a.t.param != "":
		// An ID may also come as a string of digits: the benchmark's tools
		// coerce "21" to 21 (pydantic), and a plan step that passes an
		// earlier step's result ("<result_1>") can only write it inside a
		// JSON string.
		req = fmt.Sprintf(`{"type": "object", "properties": {%q: {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]{1,9}$"}], "description": %q}}, "required": [%q]}`,
			a.t.param, a.t.paramDesc, a.t.param)
	}
	resp := a.t.result
	if a.t.param != "" && !a.t.search && a.t.result != strSchema {
		// An unknown ID is answered with the error text.
		resp = `{"anyOf": [` + a.t.result + `, {"type": "string", "description": "Why the ID cannot be resolved."}]}`
	}
	return apps.Spec{
		ID:          ids.AppID(a.t.name),
		Description: a.t.name + ": " + a.t.desc + " (Benchmark tool over a small table of users, locations and foods.)",
		Functions: []apps.Function{{
			Name:        a.t.name,
			Description: a.t.desc,
			Request:     json.RawMessage(req),
			Response:    json.RawMessage(resp),
			// Reads only.
			Effect: apps.EffectRead,
		}},
	}
}

// Call runs the tool.
func (a *App) Call(_ context.Context, _ apps.Env, fn string, args json.RawMessage) (json.RawMessage, error) {
	if fn != a.t.name {
		return nil, kit.Unknown(a.t.name, fn)
	}
	var (
		id   int
		text string
	)
	if a.t.param != "" {
		var m map[string]json.RawMessage
		if err := kit.Decode(fn, args, &m); err != nil {
			return nil, err
		}
		raw := m[a.t.param]
		var err error
		if a.t.search {
			err = json.Unmarshal(raw, &text)
		} else {
			id, err = decodeID(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s argument %s: %w", fn, a.t.param, err)
		}
	}
	v, err := a.t.run(id, text)
	var nf notFound
	if errors.As(err, &nf) {
		v = nf.Error()
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s result: %w", fn, err)
	}
	return out, nil
}

// decodeID reads an ID argument: a JSON number (JSON Schema's integer
// admits 3.0) or a string of digits.
func decodeID(raw json.RawMessage) (int, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strconv.Atoi(s)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, err
	}
	return int(f), nil
}

var _ apps.App = (*App)(nil)
