package cli

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/ops/connect"
)

// notices delivers the hub's notices to a user's DM through the running
// platform adapter, once one runs: the adapter is made after the hub.
type notices struct {
	mu sync.Mutex // guards n
	n  chat.Notifier
}

// set takes adapter as the way to reach users, if it can.
func (ns *notices) set(adapter any) {
	if n, ok := adapter.(chat.Notifier); ok {
		ns.mu.Lock()
		ns.n = n
		ns.mu.Unlock()
	}
}

func (ns *notices) notify(ctx context.Context, user ids.UserID, n chat.Notice, log *slog.Logger) {
	ns.mu.Lock()
	nt := ns.n
	ns.mu.Unlock()
	if nt == nil {
		log.Warn("a notice for a user cannot be delivered: this platform cannot reach users directly", "user", user)
		return
	}
	// The browser that brought the callback may leave; the notice still goes.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := nt.Notify(ctx, user, n); err != nil {
		log.Error("notice to a user not delivered", "user", user, "err", err)
	}
}

// accountLinked tells the user which account their consent link linked
// (ops/connect's Config.Linked).
func (d *deployment) accountLinked(ctx context.Context, l connect.Link) {
	if d.hub == nil {
		return
	}
	n := d.hub.AccountLinked(ctx, l.User, l.Provider, l.Account, l.Grown)
	d.notices.notify(ctx, l.User, n, d.log)
}
