package stdin

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

// TestNotify: a notice for the terminal's user is printed, neutralised; one
// for anyone else is refused.
func TestNotify(t *testing.T) {
	var out bytes.Buffer
	a := New(strings.NewReader(""), &out, "alex")
	if err := a.Notify(context.Background(), a.User(), chat.Notice{Text: "Linked **mallory@example.com** \x1b[2J; say `!disconnect google`", Disconnect: "google"}); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "mallory@example.com") || !strings.Contains(s, "!disconnect google") || strings.ContainsRune(s, 0x1b) {
		t.Errorf("printed %q", s)
	}
	if err := a.Notify(context.Background(), "slack:T/U", chat.Notice{Text: "x"}); err == nil {
		t.Error("a notice for another user was printed")
	}
}
