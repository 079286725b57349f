package offline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/respond"
)

func TestPieces(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"one", 3, []string{"one"}},
		{"one two three four five", 2, []string{"one two ", "three four ", "five"}},
		{"  lead\n\nnext line  ", 1, []string{"  lead\n\n", "next line  "[:5], "line  "}},
		{"a b", 0, []string{"a ", "b"}},
		{"**quick_ride**: $57.00\n\n_Drew on: x._", 2, []string{"**quick_ride**: $57.00\n\n", "_Drew on: ", "x._"}},
	}
	for _, tt := range tests {
		got := Pieces(tt.in, tt.n)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || strings.Join(got, "") != tt.in {
			t.Errorf("Pieces(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func responderRequest(t *testing.T) *llm.Request {
	t.Helper()
	req, err := respond.Request("fares?", []respond.Result{
		{Step: 1, App: "quick_ride", Result: "The estimated fare from Main Street to Elm Avenue is $57.00."},
		{Step: 2, App: "metro_hail", Result: "The estimated fare from Main Street to Elm Avenue is $51.80."},
	})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestGenerateStream: the demo's answer arrives in several pieces, Pace
// apart, that joined are exactly Generate's answer.
func TestGenerateStream(t *testing.T) {
	req := responderRequest(t)
	whole, err := Model{}.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	var at []time.Time
	m := Model{Pace: 5 * time.Millisecond}
	resp, err := m.GenerateStream(context.Background(), req, func(_ context.Context, p string) error {
		pieces = append(pieces, p)
		at = append(at, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != whole.Content || strings.Join(pieces, "") != whole.Content {
		t.Fatalf("streamed %q, content %q; want %q", pieces, resp.Content, whole.Content)
	}
	if len(pieces) < 5 {
		t.Fatalf("%d pieces, want the answer a few words at a time: %q", len(pieces), pieces)
	}
	if d := at[len(at)-1].Sub(at[0]); d < time.Duration(len(pieces)-1)*m.Pace {
		t.Errorf("pieces came %v apart in all, want at least Pace between each", d)
	}
}

// TestGenerateStreamStops: the reader's error and the context's end stop
// the stream; a request with tools (a plan) is answered whole.
func TestGenerateStreamStops(t *testing.T) {
	req := responderRequest(t)
	errGone := errors.New("gone")
	n := 0
	_, err := Model{Pace: -1}.GenerateStream(context.Background(), req, func(context.Context, string) error { n++; return errGone })
	if !errors.Is(err, errGone) || n != 1 {
		t.Errorf("after the reader failed: err %v, %d calls", err, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	_, err = Model{Pace: time.Hour}.GenerateStream(ctx, req, func(context.Context, string) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("after cancel: err %v, %d calls", err, n)
	}

	plan := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Tools: []llm.Tool{{Name: "submit_plan"}}}
	n = 0
	if _, err := (Model{}).GenerateStream(context.Background(), plan, func(context.Context, string) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("a request with tools: err %v, %d pieces", err, n)
	}
}
