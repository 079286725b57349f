package hub_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestIntroductionExamplesWork: greetings and "what can you do" get the
// introduction (no plan, no prompt), and every example it offers gets a
// real answer from the offline demo model through a real hub.
func TestIntroductionExamplesWork(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	ctx := context.Background()
	for _, q := range []string{"hi", "Hello!", "help", "What can you do?", "who are you"} {
		c := &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
		reply := c.Send(ctx, q)
		if !strings.Contains(reply, "Try:") || !strings.Contains(reply, "offline demo model") || len(c.Prompts()) != 0 {
			t.Errorf("%q: reply %q, %d prompts", q, reply, len(c.Prompts()))
		}
	}
	ex := h.Examples()
	if len(ex) == 0 {
		t.Fatal("no examples for the default apps")
	}
	for _, e := range ex {
		c := &scripted.Conversation{A: h, User: "test:bob", Policy: scripted.Always(chat.AllowOnce)}
		reply := c.Send(ctx, e)
		if !strings.Contains(reply, "$") || strings.Contains(reply, "Sorry") || strings.Contains(reply, "no installed app") {
			t.Errorf("example %q got %q", e, reply)
		}
	}
}

// TestDemoWeatherByName: on the offline demo, "what's the weather in Paris"
// says what the demo cannot do (look up an ID by name) and offers
// requests; each offered request works through a real hub.
func TestDemoWeatherByName(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"find_locations_by_name", "get_current_weather_for_location", "get_weather_at_location"}})
	ctx := context.Background()
	c := &scripted.Conversation{A: h, User: "test:carol", Policy: scripted.Always(chat.AllowOnce)}
	reply := c.Send(ctx, "what's the weather in Paris")
	if strings.Contains(reply, "Sorry") || !strings.Contains(reply, "cannot look up the location id") || len(c.Prompts()) != 0 {
		t.Fatalf("reply %q, %d prompts", reply, len(c.Prompts()))
	}
	offered := regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(reply, -1)
	if len(offered) != 2 {
		t.Fatalf("reply offers %d requests, want 2: %q", len(offered), reply)
	}
	// The lookup answers in text with the places the demo knows (Paris is
	// not one), and the weather for an ID says whose weather it is.
	want := []string{"- id: 1, city: New York\n", "New York: Partly Cloudy"}
	for i, m := range offered {
		got := c.Send(ctx, m[1])
		if strings.Contains(got, "Sorry") || !strings.Contains(got, want[i]) || strings.Contains(got, "{") {
			t.Errorf("offered request %q got %q, want it to contain %q (and no JSON)", m[1], got, want[i])
		}
	}
}
