package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestReplanOfferedOnlyWhereOneExists: after a denial the hub offers
// another plan only when the planner finds one without the denied apps;
// otherwise it says so, and a "yes" that follows is a new request, not a
// replan that lists every installed app.
func TestReplanOfferedOnlyWhereOneExists(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		denyRule  bool // the operator denies metro_hail; the user allows the rest
		wantOffer bool
	}{
		{name: "the whole plan denied, nothing else fits", query: fareQuery, wantOffer: false},
		{name: "one step denied, the other app still fits", query: rideQuery, denyRule: true, wantOffer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := hubtest.Store(t)
			o := hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride", "metro_hail"}}
			policy := scripted.Always(chat.Deny)
			if tt.denyRule {
				o.Rules, policy = denyMetroHail(t), scripted.Always(chat.AllowOnce)
			}
			c := &scripted.Conversation{A: hubtest.New(t, o), User: "test:alice", Policy: policy}
			reply := c.Send(ctx, tt.query)
			if offered := strings.Contains(reply, "Shall I try another plan"); offered != tt.wantOffer {
				t.Fatalf("replan offered = %v, want %v: %q", offered, tt.wantOffer, reply)
			}
			_, pending, err := st.TakeReplan(ctx, "test:alice", "conv:test:alice")
			if err != nil || pending != tt.wantOffer {
				t.Fatalf("replan question stored = %v (%v), want %v", pending, err, tt.wantOffer)
			}
			if !tt.wantOffer && !strings.Contains(reply, "no other plan without them") {
				t.Errorf("the reply does not say why no replan is offered: %q", reply)
			}
		})
	}
}
