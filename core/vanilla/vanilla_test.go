package vanilla_test

import (
	"context"
	"strings"
	"testing"

	_ "github.com/secgpt-go/secgpt/apps/standard"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vanilla"
)

// TestOneSharedContext: VanillaGPT shows every app's tools and annotations
// to one context and keeps the whole conversation in it; this is the
// property the case studies exploit.
func TestOneSharedContext(t *testing.T) {
	cat, err := apps.NewCatalog([]ids.AppID{"quick_ride", "metro_hail", "creative_muse"})
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*llm.Request
	v, err := vanilla.New(vanilla.Options{Store: memstore.New(memstore.Options{}), Catalog: cat, Model: offline.Model{},
		Trace: func(r *llm.Request) { reqs = append(reqs, r) }})
	if err != nil {
		t.Fatal(err)
	}
	c := &scripted.Conversation{A: v, User: "u"}
	reply := c.Send(context.Background(), "quick_ride fare from 'Main Street' to 'Elm Avenue'")
	if !strings.Contains(reply, "$57.00") {
		t.Fatalf("reply = %q", reply)
	}
	c.Send(context.Background(), "and again")
	last := reqs[len(reqs)-1]
	if len(last.Tools) != 2 || !strings.Contains(last.SystemText(), "fiction") {
		t.Fatalf("context has %d tools and system %q", len(last.Tools), last.SystemText())
	}
	found := false
	for _, m := range last.Messages {
		if strings.Contains(m.Content, "Elm Avenue") {
			found = true
		}
	}
	if !found {
		t.Fatal("the earlier turn is not in the shared context")
	}
	if err := v.Answer(context.Background(), chat.Answer{}); err != chat.ErrUnknownPrompt {
		t.Fatalf("Answer = %v", err)
	}
	if len(c.Prompts()) != 0 {
		t.Fatal("VanillaGPT asked for permission")
	}
}
