package main

import (
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestFeedbackAudit: a Slack feedback click is one audit event of type
// "feedback" naming the clicker, the message and the verdict.
func TestFeedbackAudit(t *testing.T) {
	st := memstore.New(memstore.Options{})
	rec := feedbackAudit(st)
	for _, f := range []slack.Feedback{
		{User: "slack:T1/U1", Channel: "C1", MessageTS: "1.000001", Good: true},
		{User: "slack:T1/U2", Channel: "D2", MessageTS: "2.000001"},
	} {
		if err := rec(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.ReadAudit(t.Context(), state.AuditFilter{Type: "feedback"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].User != "slack:T1/U1" || evs[0].Decision != "good" || evs[0].Detail != "slack message C1/1.000001" ||
		evs[1].User != "slack:T1/U2" || evs[1].Decision != "bad" {
		t.Errorf("audit %+v", evs)
	}
}
