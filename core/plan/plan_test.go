package plan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"ok", `{"steps":[{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"A","end_point":"B"}}]}`, false},
		{"answer only", `{"steps":[],"answer":"hi"}`, false},
		{"missing steps", `{"answer":"hi"}`, true},
		{"extra field", `{"steps":[],"shell":"rm -rf /"}`, true},
		{"step without app", `{"steps":[{"instruction":"x"}]}`, true},
		{"args not object", `{"steps":[{"app":"a","instruction":"x","args":"y"}]}`, true},
		{"not json", `{"steps":[`, true},
		{"too many steps", `{"steps":[` + strings.Repeat(`{"app":"a","instruction":"x"},`, 12) + `{"app":"a","instruction":"x"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(json.RawMessage(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode() err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestGroupsAndRefs(t *testing.T) {
	p := &Plan{Steps: []Step{
		{App: "a", Instruction: "one"},
		{App: "b", Instruction: "two"},
		{App: "c", Instruction: "use", Args: json.RawMessage(`{"x":"<result_1>"}`)},
		{App: "d", Instruction: "then <result_3>"},
	}}
	if err := p.CheckRefs(); err != nil {
		t.Fatal(err)
	}
	got := p.Groups()
	want := [][]int{{0, 2, 3}, {1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Groups() = %v, want %v", got, want)
	}
	bad := &Plan{Steps: []Step{{App: "a", Instruction: "<result_1>"}}}
	if err := bad.CheckRefs(); err == nil {
		t.Fatal("self reference accepted")
	}
	fwd := &Plan{Steps: []Step{{App: "a", Instruction: "<result_2>"}, {App: "b", Instruction: "x"}}}
	if err := fwd.CheckRefs(); err == nil {
		t.Fatal("forward reference accepted")
	}
}

// TestGroupsKeepStateOrder: steps that the caller says share state join
// one group, run in plan order, unless the later one is marked
// independent.
func TestGroupsKeepStateOrder(t *testing.T) {
	p := &Plan{Steps: []Step{
		{App: "ws", Instruction: "invite"},
		{App: "ride", Instruction: "fare"},
		{App: "ws", Instruction: "add to channel"},
		{App: "ws", Instruction: "post", Independent: true},
	}}
	same := func(i, j int) bool { return p.Steps[i].App == p.Steps[j].App }
	if got, want := p.GroupsOrdered(same), [][]int{{0, 2}, {1}, {3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("GroupsOrdered() = %v, want %v", got, want)
	}
	if got, want := p.Groups(), [][]int{{0}, {1}, {2}, {3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Groups() = %v, want %v", got, want)
	}
	if _, err := Decode(json.RawMessage(`{"steps":[{"app":"a","instruction":"x","independent":true}]}`)); err != nil {
		t.Fatalf("independent refused: %v", err)
	}
}

func TestSubstitute(t *testing.T) {
	got := Substitute(`{"x":"<result_1> and <result_3>"}`, []string{`say "hi"`}, true)
	if got != `{"x":"say \"hi\" and <result_3>"}` {
		t.Fatalf("got %s", got)
	}
}

func TestDecodeSeesEscapedRefs(t *testing.T) {
	p, err := Decode(json.RawMessage(`{"steps":[{"app":"a","instruction":"x"},{"app":"b","instruction":"y","args":{"q":"\u003cresult_1\u003e \u0026 more"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if refs := p.Steps[1].Refs(); len(refs) != 1 || refs[0] != 1 {
		t.Fatalf("refs = %v in %s", refs, p.Steps[1].Args)
	}
	if got := Substitute(string(p.Steps[1].Args), []string{"R"}, true); got != `{"q":"R & more"}` {
		t.Fatalf("substituted = %s", got)
	}
}
