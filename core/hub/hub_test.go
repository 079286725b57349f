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

func TestMain(m *testing.M) { hubtest.Main(m) }

func TestRideQueryRunsBothAppsInSpokes(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride", "metro_hail"}})
	c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.AllowPlanned}
	reply := c.Send(context.Background(), "Use both metro_hail and quick_ride to calculate the fares for a trip from 'Main Street' to 'Elm Avenue'.")
	if !strings.Contains(reply, "57.00") || !strings.Contains(reply, "51.80") {
		t.Fatalf("reply = %q, want both true fares", reply)
	}
	ps := c.Prompts()
	if len(ps) != 1 {
		t.Fatalf("prompts = %d, want one plan prompt", len(ps))
	}
	p := ps[0]
	if p.Kind != chat.KindPlan || p.Unplanned || len(p.Steps) != 2 || len(p.Components) != 2 || len(p.Flows) != 0 {
		t.Fatalf("unexpected prompt %+v", p)
	}
	for _, s := range p.Steps {
		if s.Effect != "read" || len(s.Args) != 2 {
			t.Errorf("step shown as %+v", s)
		}
	}
}
