package invariants

import (
	"testing"

	"github.com/secgpt-go/secgpt/core/isc"
)

// TestCheckSpokes: I14 finds a spoke process handed to a second
// invocation (by a pool that gave one process out twice, by a second init
// without a warm reuse, by a warm reuse across users or apps), and
// nothing in the allowed twins: a PID the kernel gave again after the
// first spoke ended, and a warm spoke reused for its own user and app.
func TestCheckSpokes(t *testing.T) {
	ib := initBody(appA, "inv_alpha_run", `{"seed":1}`)
	tests := []struct {
		name  string
		build func(s *script)
		want  string // cause, or "" for none
	}{
		{"one invocation each", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.spoke(2, bob, appA)
			s.in(2, appA, isc.KindInit, ib)
		}, ""},
		{"pid given again after the end", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.add(&event{kind: evSpokeEnd, user: alice, app: appA, pid: 1})
			s.spoke(1, bob, appA)
			s.in(1, appA, isc.KindInit, ib)
		}, ""},
		{"warm for its own user and app", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.add(&event{kind: evSpokeReuse, user: alice, app: appA, pid: 1})
			s.in(1, appA, isc.KindInit, ib)
		}, ""},
		{"not traced (discovery)", func(s *script) {
			s.in(9, appA, isc.KindInit, ib)
			s.in(9, appA, isc.KindInit, ib)
		}, ""},
		{"pool hands one process to two users", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.spoke(1, bob, appA)
			s.in(1, appA, isc.KindInit, ib)
		}, "handed out twice"},
		{"second init, not warm", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.in(1, appA, isc.KindInit, ib)
		}, "second invocation"},
		{"warm reuse for another user", func(s *script) {
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, ib)
			s.add(&event{kind: evSpokeReuse, user: bob, app: appA, pid: 1})
			s.in(1, appA, isc.KindInit, ib)
		}, "reused across"},
		{"warm reuse for another app", func(s *script) {
			s.spoke(1, alice, appA)
			s.add(&event{kind: evSpokeReuse, user: alice, app: appB, pid: 1})
		}, "reused across"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			tt.build(s)
			got := checkSpokes(s.evs)
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("violations %+v, want none", got)
				}
				return
			}
			if len(got) == 0 || got[0].Cause != tt.want || got[0].Invariant != InvSpoke {
				t.Fatalf("violations %+v, want %s: %s", got, InvSpoke, tt.want)
			}
		})
	}
}
