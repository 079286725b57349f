package stdin

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Notify prints a notice for the terminal's one user. The terminal has no
// buttons: the notice's text names the command that undoes it.
func (a *Adapter) Notify(_ context.Context, user ids.UserID, n chat.Notice) error {
	if user != a.user {
		return fmt.Errorf("terminal notice: %s is not this terminal's user", user)
	}
	a.printf("\n%s %s\n", a.bold("secgpt (notice)>"), indentReply(render(chat.Neutralize(n.Text), a.styled)))
	return nil
}

var _ chat.Notifier = (*Adapter)(nil)
