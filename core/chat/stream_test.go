package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEditStream drives EditStream with a fake clock and records the edits
// and posts it makes: throttled to one edit per interval, no edit that
// shows nothing new, Finish showing the whole text (split over messages)
// whatever the throttle says, and an empty reply never left as "…".
func TestEditStream(t *testing.T) {
	type op struct {
		after  time.Duration // clock advance before the call
		finish bool
		text   string
	}
	const sec = time.Second
	tests := []struct {
		name      string
		ops       []op
		failEdits int // the first n edits fail
		wantEdits []string
		wantPosts []string
		wantErr   string // of the last op
	}{
		{
			name:      "quick updates: first edit, then Finish",
			ops:       []op{{0, false, "a"}, {100 * time.Millisecond, false, "ab"}, {100 * time.Millisecond, false, "abc"}, {0, true, "abcd"}},
			wantEdits: []string{"a", "abcd"},
		},
		{
			name:      "an update after the interval is shown",
			ops:       []op{{0, false, "a"}, {sec, false, "ab"}, {sec / 2, false, "abc"}, {sec, false, "abcd"}, {0, true, "abcd"}},
			wantEdits: []string{"a", "ab", "abcd"},
		},
		{
			name:      "no edit for the same text",
			ops:       []op{{0, false, "a"}, {2 * sec, false, "a"}, {0, true, "a"}},
			wantEdits: []string{"a"},
		},
		{
			name:      "long reply: first message edited, the rest posted",
			ops:       []op{{0, false, "12345678"}, {0, true, "123456789012"}},
			wantEdits: []string{"12345"},
			wantPosts: []string{"2/3 67890", "3/3 12"},
		},
		{
			name:      "empty reply",
			ops:       []op{{0, false, ""}, {0, true, "   "}},
			wantEdits: []string{EmptyAnswer[:5]},
			wantPosts: []string{"2/4 " + EmptyAnswer[5:10], "3/4 " + EmptyAnswer[10:15], "4/4 " + EmptyAnswer[15:]},
		},
		{
			name:      "updates after Finish are ignored, a second Finish is an error",
			ops:       []op{{0, true, "done"}, {2 * sec, false, "more"}, {0, true, "again"}},
			wantEdits: []string{"done"},
			wantErr:   "already finished",
		},
		{
			name:      "a failed edit is retried by Finish and reported",
			ops:       []op{{0, false, "a"}, {0, true, "a"}},
			failEdits: 2,
			wantEdits: []string{"a", "a"},
			wantErr:   "edit failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			var edits, posts []string
			fails := tt.failEdits
			s := &EditStream[string]{
				Interval: sec,
				Now:      func() time.Time { return now },
				// Messages of at most 5 bytes; blank text takes none.
				Split: func(text string) []string {
					if strings.TrimSpace(text) == "" {
						return nil
					}
					var out []string
					for len(text) > 5 {
						out = append(out, text[:5])
						text = text[5:]
					}
					return append(out, text)
				},
				Edit: func(_ context.Context, m string) error {
					edits = append(edits, m)
					if fails > 0 {
						fails--
						return errors.New("edit failed")
					}
					return nil
				},
				Post: func(_ context.Context, i, n int, m string) error {
					posts = append(posts, fmt.Sprintf("%d/%d %s", i+1, n, m))
					return nil
				},
			}
			var err error
			for _, o := range tt.ops {
				now = now.Add(o.after)
				if o.finish {
					err = s.Finish(context.Background(), o.text)
				} else {
					err = s.Update(context.Background(), o.text)
				}
			}
			if fmt.Sprint(edits) != fmt.Sprint(tt.wantEdits) {
				t.Errorf("edits = %q, want %q", edits, tt.wantEdits)
			}
			if fmt.Sprint(posts) != fmt.Sprint(tt.wantPosts) {
				t.Errorf("posts = %q, want %q", posts, tt.wantPosts)
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("last call: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("last call error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestEditStreamStart: with Start set, the first text shown is posted by
// Start (no placeholder), later ones edit it; a failed Start is tried
// again instead of editing a message that does not exist.
func TestEditStreamStart(t *testing.T) {
	var calls []string
	startFails := 1
	s := &EditStream[string]{
		Interval: 0,
		Split: func(text string) []string {
			if text == "" {
				return nil
			}
			return []string{text}
		},
		Start: func(_ context.Context, m string) error {
			calls = append(calls, "start "+m)
			if startFails > 0 {
				startFails--
				return errors.New("post failed")
			}
			return nil
		},
		Edit: func(_ context.Context, m string) error {
			calls = append(calls, "edit "+m)
			return nil
		},
		Post: func(context.Context, int, int, string) error { return nil },
	}
	ctx := context.Background()
	_ = s.Update(ctx, "")
	if err := s.Update(ctx, "a"); err == nil {
		t.Error("a failed Start was not reported")
	}
	for _, text := range []string{"a", "ab"} {
		if err := s.Update(ctx, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(calls, "|"), "start a|start a|edit ab|edit abc"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}
