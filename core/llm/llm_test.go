package llm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
)

type streaming struct{ llm.ModelFunc }

func (streaming) GenerateStream(ctx context.Context, _ *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	for _, p := range []string{"a", "b"} {
		if err := onText(ctx, p); err != nil {
			return nil, err
		}
	}
	return &llm.Response{Content: "ab"}, nil
}

// TestGenerateStream: a streaming model streams; any other model's answer
// comes as one piece (none when it has no text); errors pass through.
func TestGenerateStream(t *testing.T) {
	errDown, errGone := errors.New("down"), errors.New("gone")
	text := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Content: "whole"}, nil
	})
	calls := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: "f"}}}, nil
	})
	down := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return nil, errDown })
	tests := []struct {
		name    string
		m       llm.Model
		refuse  bool
		pieces  []string
		content string
		err     error
	}{
		{"streaming model", streaming{}, false, []string{"a", "b"}, "ab", nil},
		{"plain model", text, false, []string{"whole"}, "whole", nil},
		{"only tool calls", calls, false, nil, "", nil},
		{"model fails", down, false, nil, "", errDown},
		{"reader fails", text, true, []string{"whole"}, "", errGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			resp, err := llm.GenerateStream(context.Background(), tt.m, &llm.Request{}, func(_ context.Context, p string) error {
				got = append(got, p)
				if tt.refuse {
					return errGone
				}
				return nil
			})
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.pieces) || (len(got) > 0 && got[0] != tt.pieces[0]) {
				t.Errorf("pieces %q, want %q", got, tt.pieces)
			}
			if err == nil && resp.Content != tt.content {
				t.Errorf("content %q, want %q", resp.Content, tt.content)
			}
		})
	}
}
