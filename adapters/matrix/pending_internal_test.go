package matrix

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
)

// TestPromptStore: entries survive a reopen, a deleted one is gone, closed
// ones are dropped a day after their expiry, and an unreadable file costs
// the saved prompts but not the start.
func TestPromptStore(t *testing.T) {
	dir := t.TempDir()
	ps, err := openPromptStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(evt string, s savedPrompt) {
		t.Helper()
		s.Event, s.Room = idOf(evt), "!r:x"
		if err := ps.change(s.Event, func(sp *savedPrompt) bool { *sp = s; return true }); err != nil {
			t.Fatal(err)
		}
	}
	put("$keep", savedPrompt{Prompt: chat.Prompt{ID: "p1", Nonce: "n1", ExpiresAt: time.Now().Add(time.Hour)}})
	put("$gone", savedPrompt{Prompt: chat.Prompt{ID: "p2"}})
	put("$old", savedPrompt{Prompt: chat.Prompt{ID: "p3", ExpiresAt: time.Now().Add(-keepClosed - time.Hour)}, Closed: true})
	if err := ps.change("$gone", func(*savedPrompt) bool { return false }); err != nil {
		t.Fatal(err)
	}
	again, err := openPromptStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := again.list()
	if len(list) != 1 || list[0].Event != "$keep" || list[0].Prompt.Nonce != "n1" {
		t.Errorf("reopened store holds %+v, want only $keep", list)
	}
	if err := os.WriteFile(filepath.Join(dir, promptsFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken, err := openPromptStore(dir)
	if err == nil || broken == nil || len(broken.list()) != 0 {
		t.Errorf("unreadable file: store %v, err %v; want an empty store and an error", broken, err)
	}
}

func idOf(s string) id.EventID { return id.EventID(s) }
