package statetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

func pin(server string, tools map[string]state.PinnedTool, pending map[string]json.RawMessage) state.Pin {
	return state.Pin{Server: ids.AppID(server), Tools: tools, Pending: pending, Updated: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}
}

func testPins(t *testing.T, s state.Store) {
	ctx := t.Context()
	if _, ok, err := s.GetPin(ctx, "mcp.none"); ok || err != nil {
		t.Fatalf("GetPin of an unknown server = %v, %v; want none", ok, err)
	}
	gh := pin("mcp.github", map[string]state.PinnedTool{
		"create_issue": {Alias: "issue_create", Definition: json.RawMessage(`{"name":"github__create_issue"}`)},
		"list":         {Alias: "t2", Definition: json.RawMessage(`{"name":"github__list"}`)},
	}, nil)
	fs := pin("mcp.fs", map[string]state.PinnedTool{"read": {Alias: "t1", Definition: json.RawMessage(`{"name":"fs__read"}`)}}, nil)
	must(t, s.PutPin(ctx, gh), "put")
	must(t, s.PutPin(ctx, fs), "put")
	changed := gh
	changed.Pending = map[string]json.RawMessage{"list": json.RawMessage(`{"name":"github__list","description":"new"}`)}
	must(t, s.PutPin(ctx, changed), "put changed")

	got, ok, err := s.GetPin(ctx, "mcp.github")
	must(t, err, "get")
	if !ok || !samePin(got, changed) {
		t.Errorf("GetPin(github) = %+v, %v; want the later pin %+v", got, ok, changed)
	}
	all, err := s.ListPins(ctx)
	must(t, err, "list")
	if len(all) != 2 || all[0].Server != "mcp.fs" || all[1].Server != "mcp.github" || !samePin(all[0], fs) || !samePin(all[1], changed) {
		t.Errorf("ListPins = %+v; want fs then the changed github pin", all)
	}
	// A returned pin is a copy: changing it changes nothing stored.
	got.Tools["list"] = state.PinnedTool{Alias: "evil", Definition: json.RawMessage(`{}`)}
	again, _, _ := s.GetPin(ctx, "mcp.github")
	if again.Tools["list"].Alias != "t2" {
		t.Errorf("a caller's change reached the store: %+v", again.Tools["list"])
	}
}

func testPinInvalid(t *testing.T, s state.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		p    state.Pin
	}{
		{"no server", pin("", nil, nil)},
		{"tool without definition", pin("mcp.x", map[string]state.PinnedTool{"t": {Alias: "t1"}}, nil)},
		{"pending not JSON", pin("mcp.x", nil, map[string]json.RawMessage{"t": json.RawMessage(`{`)})},
	}
	for _, tt := range tests {
		if err := s.PutPin(ctx, tt.p); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("%s: PutPin = %v, want ErrInvalid", tt.name, err)
		}
	}
	if all, err := s.ListPins(ctx); err != nil || len(all) != 0 {
		t.Errorf("after invalid pins ListPins = %+v, %v; want none", all, err)
	}
}

// samePin compares pins as JSON: a backend may compact a definition.
func samePin(a, b state.Pin) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}
