package statetest

import (
	"errors"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
)

// testMarks checks that a mark is seen once set, is independent of Dedup
// keys of the same name, expires on the backend's own clock (Redis expires
// keys by its server's, so the test sleeps) and refuses an empty key.
func testMarks(t *testing.T, s state.Store) {
	ctx := t.Context()
	has := func(key string) bool {
		t.Helper()
		ok, err := s.HasMark(ctx, key)
		must(t, err, "has mark "+key)
		return ok
	}
	if has("slack:assistant:D1/1.000001") {
		t.Fatal("a mark nobody set is present")
	}
	must(t, s.SetMark(ctx, "slack:assistant:D1/1.000001", time.Hour), "set")
	must(t, s.SetMark(ctx, "short", 50*time.Millisecond), "set")
	must(t, s.SetMark(ctx, "forever", 0), "set")
	if !has("slack:assistant:D1/1.000001") || !has("forever") {
		t.Error("a mark just set is missing")
	}
	if has("slack:assistant:D1/1.000002") || has("slack:assistant:D1") {
		t.Error("a mark answers for another key")
	}
	// A mark and a dedup key of the same name are different records.
	first, err := s.FirstSeen(ctx, "slack:assistant:D1/1.000001", time.Hour)
	must(t, err, "first seen")
	if !first {
		t.Error("FirstSeen answered false for a key only set as a mark")
	}
	if _, err := s.FirstSeen(ctx, "dedup-only", time.Hour); err != nil {
		t.Fatal(err)
	}
	if has("dedup-only") {
		t.Error("a FirstSeen key shows as a mark")
	}
	time.Sleep(200 * time.Millisecond)
	if has("short") {
		t.Error("an expired mark is still present")
	}
	must(t, s.SetMark(ctx, "short", time.Hour), "set again")
	if !has("short") {
		t.Error("a mark set again after expiry is missing")
	}
	if err := s.SetMark(ctx, "", time.Hour); !errors.Is(err, state.ErrInvalid) {
		t.Errorf("SetMark(\"\") = %v, want ErrInvalid", err)
	}
}
