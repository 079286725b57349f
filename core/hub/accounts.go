package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Accounts links users' accounts at other services (a Google account) so
// that the apps the operator allows can act on them. ops/connect
// implements it.
type Accounts interface {
	// ConnectURL returns the consent link that links user's account at
	// provider, bound to conversation conv; it cancels user's earlier
	// link. It writes to the state store, nothing else.
	ConnectURL(ctx context.Context, provider string, user ids.UserID, conv ids.ConversationID) (string, error)
	// Disconnect removes user's linked account at provider (and revokes
	// its token there) and cancels a pending consent link; false means
	// none was linked.
	Disconnect(ctx context.Context, provider string, user ids.UserID) (bool, error)
	// Credential returns the access token one invocation of app for user
	// gets, or nil when app gets none or user linked no account. It may
	// refresh the token (network I/O). Its error text is safe to show.
	Credential(ctx context.Context, user ids.UserID, app ids.AppID) (*isc.Credential, error)
}

// HelpAccounts is the help text of the account commands, shown when the
// hub has Accounts.
const HelpAccounts = `  connect google    link your Google account (mail and drive apps act on it)
  disconnect google unlink it and delete its token`

// accountCommand handles connect and disconnect.
func (h *Hub) accountCommand(ctx context.Context, t *turn, cmd, provider string) string {
	if h.o.Accounts == nil {
		return "Linking accounts is not set up on this bot (the operator has to configure a Google OAuth client)."
	}
	provider = strings.ToLower(provider)
	if provider == "" {
		return "Usage: " + cmd + " google"
	}
	if cmd == "connect" {
		u, err := h.o.Accounts.ConnectURL(ctx, provider, t.user, t.conv)
		if err != nil {
			h.log.Warn("connect account", "provider", provider, "err", err)
			return fmt.Sprintf("I can't link a %s account: %s", truncate(provider, 40), publicAccountErr(err))
		}
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditConnect, Detail: provider + ": consent link issued"})
		if provider != "google" {
			return "Open this link to sign in to " + truncate(provider, 60) + "'s server (it works once, for a few minutes, and only for you; don't share it; a newer !connect or !disconnect cancels it):\n" + u +
				"\nSay !disconnect " + truncate(provider, 60) + " to sign out."
		}
		return "Open this link to link your Google account (it works once, for a few minutes, and only for you; don't share it; a newer !connect google or !disconnect google cancels it):\n" + u +
			"\nEach app then asks for its own permission (read mail, send mail, …) the first time it needs it. Say !disconnect google to unlink it."
	}
	ok, err := h.o.Accounts.Disconnect(ctx, provider, t.user)
	if err != nil {
		h.log.Error("disconnect account", "provider", provider, "err", err)
		return fmt.Sprintf("I couldn't unlink your %s account right now: %s", truncate(provider, 40), publicAccountErr(err))
	}
	if !ok {
		return "No " + truncate(provider, 40) + " account is linked."
	}
	h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditDisconnect, Detail: provider})
	if provider != "google" {
		return "You are signed out of " + truncate(provider, 60) + "'s server and its token is deleted."
	}
	return "Your Google account is unlinked and its token deleted."
}

// publicAccountErr keeps internal detail (store addresses, Google's
// answers) out of chat: only an error in the chain that says it was written
// for users (a Public method reporting true) is shown, and only its own text.
func publicAccountErr(err error) string {
	var pe interface {
		error
		Public() bool
	}
	if errors.As(err, &pe) && pe.Public() {
		return pe.Error()
	}
	return "please try again later"
}

// userLink is an error whose text carries a link for the user to open (a
// consent or sign-in link, ops/connect's ConsentError and SignInError).
// It goes to the user's conversation alone: the invocation's error may
// reach an app that called this one, and whoever holds the link can spend
// the user's consent flow.
type userLink interface {
	error
	LinkForUser() string
}

// credential is the linked-account token the invocation of app in turn t
// gets.
func (h *Hub) credential(ctx context.Context, t *turn, app ids.AppID) (*isc.Credential, error) {
	if h.o.Accounts == nil {
		return nil, nil
	}
	user := t.user
	c, err := h.o.Accounts.Credential(ctx, user, app)
	var lk userLink
	if errors.As(err, &lk) {
		if rerr := t.c.Reply(ctx, lk.LinkForUser()); rerr != nil {
			h.log.Warn("post a consent link", "app", app, "err", rerr)
		}
		return nil, publicf(err, "app %s needs your permission on your account first; I sent you a link", app)
	}
	if err != nil {
		h.log.Warn("account credential", "app", app, "err", err)
		return nil, publicf(err, "app %s cannot use your linked account: %s", app, publicAccountErr(err))
	}
	if c != nil {
		// The audit shows which invocation got the user's account, never the token.
		h.audit(ctx, state.AuditEvent{User: user, Type: vocab.AuditCredential, App: app, Detail: c.Provider + " access token for one invocation"})
	}
	return c, nil
}
