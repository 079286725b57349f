package hub

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// AccountLinked records that user's consent link linked account at
// provider (or gave it more scopes, when grown) and returns the notice the
// user gets in their DM: which account it was, and how to undo it. A
// consent link that reached someone else links that person's account to
// the user; this is how the user finds out. cli/ wiring calls it from the
// OAuth callback (ops/connect's Config.Linked) and posts the notice
// through the platform's chat.Notifier.
func (h *Hub) AccountLinked(ctx context.Context, user ids.UserID, provider, account string, grown bool) chat.Notice {
	provider = truncate(provider, 40)
	account = truncate(chat.Neutralize(account), 320)
	what := "linked"
	if grown {
		what = "given more permissions"
	}
	h.audit(ctx, state.AuditEvent{User: user, Type: vocab.AuditConnect, Detail: fmt.Sprintf("%s: account %s %s", provider, account, what)})
	name := accountDisplay(provider)
	text := fmt.Sprintf("The %s account **%s** was just linked to you here: apps you allow act on it.", name, account)
	switch {
	case grown:
		text = fmt.Sprintf("Your linked %s account **%s** was just given more permissions here.", name, account)
	case account == "":
		text = fmt.Sprintf("You were just signed in to %s's server here: it acts on that sign-in when you use it.", name)
	}
	return chat.Notice{
		Text: text + "\nIf that was not you, or not the account you meant, unlink it now: say `!disconnect " + provider +
			"` (it deletes the token and revokes it at " + name + ").",
		Disconnect: provider,
	}
}

// accountDisplay is how a provider is named in text.
func accountDisplay(provider string) string {
	if provider == "google" {
		return "Google"
	}
	return provider
}
