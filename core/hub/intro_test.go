package hub_test

import (
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
)

// TestIntroductionExamplesWork: greetings and "what can you do" get the
// introduction (no plan, no prompt), and every example it offers gets a
// real answer from the offline demo model through a real hub.
func TestIntroductionExamplesWork(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{InProcess: true})
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
