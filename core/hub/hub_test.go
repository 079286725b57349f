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
	if len(ps) != 2 {
		t.Fatalf("prompts = %d, want one exec prompt per app", len(ps))
	}
	for _, p := range ps {
		if p.Kind != chat.KindExec || p.Unplanned {
			t.Fatalf("unexpected prompt %+v", p)
		}
	}
}
