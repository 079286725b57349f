package plan

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/schema"
)

// aliasedApp is a fakeApp whose names are third-party text.
type aliasedApp struct {
	fakeApp
	names map[string]string
}

func (a aliasedApp) Aliases() map[string]string { return a.names }

const thirdPartySchema = `{"type":"object","required":["Recipient ADD STEP"],"x-evil":"EVIL",
	"properties":{
		"Recipient ADD STEP":{"type":"string","format":"EVIL format","pattern":"@|EVIL"},
		"mode":{"enum":["EVIL fast","slow",3,null]},
		"items":{"type":"array","items":{"type":"object","properties":{"EVIL inner":{"type":"integer","minimum":1}}}},
		"either":{"anyOf":[{"type":"object","properties":{"EVIL left":{"type":"string"}}},{"const":"EVIL right"}]},
		"ref":{"$ref":"#/$defs/EVIL"}},
	"$defs":{"EVIL":{"type":"string"}}}`

func thirdPartyApp() aliasedApp {
	return aliasedApp{fakeApp{apps.Spec{ID: "mcp.srv", Functions: []apps.Function{
		{Name: "srv__EVIL_tool", Effect: apps.EffectRead, Request: json.RawMessage(thirdPartySchema), Response: json.RawMessage(`{}`)},
		{Name: "srv__other", Request: json.RawMessage(`{"type":"object"}`), Response: json.RawMessage(`{}`)},
	}}}, map[string]string{"srv__EVIL_tool": "srv__t1"}}
}

// shownVocabulary is every string an aliased schema may hold: keywords,
// types, known formats and aliases.
var shownVocabulary = regexp.MustCompile(`^(p\d+|v\d+|type|format|properties|required|enum|const|items|additionalProperties|prefixItems|anyOf|oneOf|allOf|` +
	`minimum|maximum|exclusiveMinimum|exclusiveMaximum|multipleOf|minLength|maxLength|minItems|maxItems|minProperties|maxProperties|uniqueItems|` +
	`object|array|string|integer|number|boolean|null|date-time|date|time|duration|email|hostname|ipv4|ipv6|uri|uri-reference|uuid)$`)

func shownStrings(t testing.TB, raw json.RawMessage) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("shown schema %s: %v", raw, err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func TestViewShowsAliasesAndTypesOnly(t *testing.T) {
	views := View(thirdPartyApp())
	tests := []struct {
		name        string
		v           FunctionView
		alias, real string
	}{
		{"operator's alias", views[0], "srv__t1", "srv__EVIL_tool"},
		{"no alias: its place", views[1], "f2", "srv__other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v.Alias != tt.alias || tt.v.Real != tt.real {
				t.Errorf("view %s/%s, want %s/%s", tt.v.Alias, tt.v.Real, tt.alias, tt.real)
			}
			for _, s := range shownStrings(t, tt.v.Parameters) {
				if !shownVocabulary.MatchString(s) {
					t.Errorf("shown schema holds %q: %s", s, tt.v.Parameters)
				}
			}
			if _, err := schema.Compile(tt.v.Parameters); err != nil {
				t.Errorf("shown schema does not compile: %v", err)
			}
		})
	}
	// A trusted app is shown as it is, types only.
	if v := View(hostileApp())[0]; v.Alias != "send_mail" || v.aliased {
		t.Errorf("trusted app aliased: %+v", v)
	}
}

func TestAliasedArgumentsMapBack(t *testing.T) {
	v := View(thirdPartyApp())[0]
	real := `{"Recipient ADD STEP":"a@example.com","mode":"EVIL fast","items":[{"EVIL inner":2}],"either":{"EVIL left":"x"},"ref":"kept"}`
	shown := v.ToAlias(json.RawMessage(real))
	if strings.Contains(string(shown), "EVIL") || strings.Contains(string(shown), "Recipient") {
		t.Fatalf("aliased arguments hold the server's words: %s", shown)
	}
	back, err := v.ToReal(shown)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal([]byte(real), &want)
	_ = json.Unmarshal(back, &got)
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	// "ref" is under a $ref the view does not show: the planner wrote it
	// under its own key, which is kept.
	if string(wb) != string(gb) {
		t.Errorf("round trip:\n got %s\nwant %s", gb, wb)
	}
}

func submit(t *testing.T, p Plan) *llm.Response {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return &llm.Response{ToolCalls: []llm.ToolCall{{Name: ToolName, Arguments: b}}}
}

func TestCheckMapsAliasesBack(t *testing.T) {
	a := thirdPartyApp()
	v := View(a)[0]
	recipient, mode := v.keysOut["Recipient ADD STEP"], v.keysOut["mode"]
	fast := v.valsOut["EVIL fast"]
	tests := []struct {
		name     string
		step     Step
		wantFn   string
		wantArgs string
		wantErr  string
	}{
		{"alias", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{"` + recipient + `":"a@b.c","` + mode + `":"` + fast + `"}`)},
			"srv__EVIL_tool", `{"Recipient ADD STEP":"a@b.c","mode":"EVIL fast"}`, ""},
		{"alias with a reference", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{"` + recipient + `":"<result_1>"}`)},
			"srv__EVIL_tool", `{"Recipient ADD STEP":"<result_1>"}`, ""},
		{"real name, real arguments", Step{App: "mcp.srv", Function: "srv__EVIL_tool", Args: json.RawMessage(`{"Recipient ADD STEP":"a@b.c"}`)},
			"srv__EVIL_tool", `{"Recipient ADD STEP":"a@b.c"}`, ""},
		{"alias, arguments in real names (a user's explicit call)", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{"Recipient ADD STEP":"a@b.c"}`)},
			"srv__EVIL_tool", `{"Recipient ADD STEP":"a@b.c"}`, ""},
		{"alias, real names that miss the own schema name only aliases", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{"Recipient ADD STEP":"no at sign"}`)},
			"", "", recipient},
		{"missing argument names only aliases", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{}`)}, "", "", recipient},
		{"a hidden constraint is not quoted", Step{App: "mcp.srv", Function: "srv__t1", Args: json.RawMessage(`{"` + recipient + `":"a","ref":3}`)},
			"", "", "do not meet a constraint"},
		{"nor to a planner that named the real function", Step{App: "mcp.srv", Function: "srv__EVIL_tool", Args: json.RawMessage(`{"Recipient ADD STEP":"no at sign"}`)},
			"", "", "do not meet a constraint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := []Step{{App: "mcp.srv", Function: "f2", Instruction: "first"}, tt.step}
			steps[1].Instruction = "second"
			p, err := Check(submit(t, Plan{Steps: steps}), []apps.App{a}, schema.Compile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "EVIL") || strings.Contains(err.Error(), "Recipient") {
					t.Fatalf("err %v, want one naming %q and none of the server's words", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := p.Steps[1]; s.Function != tt.wantFn || string(s.Args) != tt.wantArgs {
				t.Errorf("step %s %s, want %s %s", s.Function, s.Args, tt.wantFn, tt.wantArgs)
			}
			if p.Steps[0].Function != "srv__other" {
				t.Errorf("first step %q", p.Steps[0].Function)
			}
		})
	}
}

// FuzzAliasSchema feeds request schemas as a server would write them:
// whatever the schema, the shown form holds only keywords, types, known
// formats and aliases, and aliased arguments map back to themselves.
func FuzzAliasSchema(f *testing.F) {
	f.Add([]byte(thirdPartySchema), []byte(`{"Recipient ADD STEP":"x","mode":"EVIL fast"}`))
	f.Add([]byte(`{"type":["string","EVIL"],"enum":[{"a":"EVIL"},["EVIL"]],"items":[true,{"const":"EVIL"}]}`), []byte(`"EVIL"`))
	f.Add([]byte(`{"properties":{"":{"properties":{"p1":{"enum":["v1"]}}}}}`), []byte(`{"":{"p1":"v1"}}`))
	f.Fuzz(func(t *testing.T, sch, args []byte) {
		if !json.Valid(sch) {
			return
		}
		shown, keys, vals := aliasSchema(sch)
		for _, s := range shownStrings(t, shown) {
			if !shownVocabulary.MatchString(s) {
				t.Fatalf("shown schema of %s holds %q: %s", sch, s, shown)
			}
		}
		if !json.Valid(args) {
			return
		}
		v := FunctionView{Parameters: shown, aliased: true, keys: keys, vals: vals, keysOut: invert(keys), valsOut: invert(vals)}
		back, err := v.ToReal(v.ToAlias(args))
		if err != nil {
			return
		}
		if len(back) > 0 && !json.Valid(back) {
			t.Fatalf("mapped back to invalid JSON %q", back)
		}
	})
}
