package statetest

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

func replan(user ids.UserID, conv ids.ConversationID, query string, exclude ...ids.AppID) state.Replan {
	return state.Replan{User: user, Conversation: conv, Query: query, Exclude: exclude}
}

func testReplans(t *testing.T, s state.Store) {
	ctx := t.Context()
	first := replan("alice", "dm", "book a ride", "quick_ride")
	must(t, s.PutReplan(ctx, first, time.Hour), "put")
	must(t, s.PutReplan(ctx, replan("alice", "room", "in the room", "metro_hail"), time.Hour), "put")
	must(t, s.PutReplan(ctx, replan("bob", "dm", "bob's", "metro_hail"), time.Hour), "put")
	later := replan("alice", "dm", "book a ride", "quick_ride", "metro_hail")
	must(t, s.PutReplan(ctx, later, time.Hour), "put")

	steps := []struct {
		name string
		user ids.UserID
		conv ids.ConversationID
		want *state.Replan
	}{
		{"the later question replaced the first", "alice", "dm", &later},
		{"taken once", "alice", "dm", nil},
		{"per conversation", "alice", "room", &state.Replan{User: "alice", Conversation: "room", Query: "in the room", Exclude: []ids.AppID{"metro_hail"}}},
		{"per user", "bob", "dm", &state.Replan{User: "bob", Conversation: "dm", Query: "bob's", Exclude: []ids.AppID{"metro_hail"}}},
		{"never asked", "carol", "dm", nil},
	}
	for _, st := range steps {
		got, ok, err := s.TakeReplan(ctx, st.user, st.conv)
		must(t, err, "take")
		switch {
		case st.want == nil && ok:
			t.Errorf("%s: TakeReplan(%s, %s) = %+v, want none", st.name, st.user, st.conv, got)
		case st.want != nil && (!ok || !reflect.DeepEqual(got, *st.want)):
			t.Errorf("%s: TakeReplan(%s, %s) = %+v, %v; want %+v", st.name, st.user, st.conv, got, ok, *st.want)
		}
	}
}

func testReplanInvalid(t *testing.T, s state.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		r    state.Replan
		ttl  time.Duration
	}{
		{"no user", replan("", "dm", "q"), time.Hour},
		{"no conversation", replan("alice", "", "q"), time.Hour},
		{"no expiry", replan("alice", "dm", "q"), 0},
		{"negative expiry", replan("alice", "dm", "q"), -time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutReplan(ctx, tc.r, tc.ttl); !errors.Is(err, state.ErrInvalid) {
				t.Fatalf("PutReplan = %v, want ErrInvalid", err)
			}
			if _, ok, _ := s.TakeReplan(ctx, tc.r.User, tc.r.Conversation); ok {
				t.Fatal("a refused replan was stored")
			}
		})
	}
}

// testReplanExpiry waits out a short expiry on the backend's own clock
// (Redis expires keys by its server's), so it sleeps rather than advancing
// a test clock.
func testReplanExpiry(t *testing.T, s state.Store) {
	ctx := t.Context()
	must(t, s.PutReplan(ctx, replan("alice", "short", "q"), 50*time.Millisecond), "put")
	must(t, s.PutReplan(ctx, replan("alice", "long", "q"), time.Hour), "put")
	time.Sleep(200 * time.Millisecond)
	if r, ok, err := s.TakeReplan(ctx, "alice", "short"); ok || err != nil {
		t.Errorf("expired replan taken: %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := s.TakeReplan(ctx, "alice", "long"); !ok || err != nil {
		t.Errorf("unexpired replan lost: %v, %v", ok, err)
	}
}

func testReplanRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	for round := range 5 {
		conv := ids.ConversationID("race-" + strconv.Itoa(round))
		must(t, s.PutReplan(ctx, replan("alice", conv, "q"), time.Hour), "put")
		wins := race(t, func() (bool, error) {
			_, ok, err := s.TakeReplan(ctx, "alice", conv)
			return ok, err
		})
		if wins != 1 {
			t.Errorf("round %d: %d racers took the replan, want exactly 1", round, wins)
		}
	}
}

// testReplanForget checks that ForgetReplans takes every conversation's
// question of one user, counts only the unexpired ones, and leaves users
// whose IDs share a prefix (or an escaped character) with it alone.
func testReplanForget(t *testing.T, s state.Store) {
	ctx := t.Context()
	must(t, s.PutReplan(ctx, replan("alice", "dm", "q"), time.Hour), "put")
	must(t, s.PutReplan(ctx, replan("alice", "room", "q"), time.Hour), "put")
	must(t, s.PutReplan(ctx, replan("alice", "gone", "q"), 50*time.Millisecond), "put")
	others := []state.Replan{
		replan("bob", "dm", "q"),
		replan("alic", "dm", "q"),
		replan("alice2", "dm", "q"),
		replan("alice:x", "dm", "q"),
	}
	for _, r := range others {
		must(t, s.PutReplan(ctx, r, time.Hour), "put")
	}
	time.Sleep(200 * time.Millisecond) // Redis expires on its own clock
	n, err := s.ForgetReplans(ctx, "alice")
	if err != nil || n != 2 {
		t.Errorf("ForgetReplans(alice) = %d, %v; want 2 (the expired one not counted)", n, err)
	}
	for _, conv := range []ids.ConversationID{"dm", "room", "gone"} {
		if r, ok, err := s.TakeReplan(ctx, "alice", conv); ok || err != nil {
			t.Errorf("alice's replan in %s survived: %+v, %v", conv, r, err)
		}
	}
	for _, r := range others {
		if _, ok, err := s.TakeReplan(ctx, r.User, r.Conversation); !ok || err != nil {
			t.Errorf("%s's replan lost when alice's were forgotten: %v, %v", r.User, ok, err)
		}
	}
	if n, err := s.ForgetReplans(ctx, "alice"); err != nil || n != 0 {
		t.Errorf("second ForgetReplans(alice) = %d, %v; want 0", n, err)
	}
}
