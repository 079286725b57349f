package hub

import (
	"context"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// UserEvents tells the replicas that share a store what changed for a
// user (core/state/redis.Relay implements it).
type UserEvents interface {
	// PublishUserEvent raises the user's epoch and announces e to every
	// replica, in one step.
	PublishUserEvent(ctx context.Context, e state.UserEvent) error
	// SubscribeUserEvents calls fn for every event until ctx is done.
	SubscribeUserEvents(ctx context.Context, fn func(state.UserEvent)) error
	// UserEpoch grows with every event of user for app or for all apps.
	UserEpoch(ctx context.Context, user ids.UserID, app ids.AppID) (int64, error)
}

// eventKind is the user event other replicas hear for a reason the hub
// ends warm spokes for.
func eventKind(reason string) string {
	switch reason {
	case "user data forgotten":
		return state.EventForget
	case "permission revoked":
		return state.EventRevoke
	case "session ended":
		return state.EventNew
	default: // "exec denied"
		return state.EventDeny
	}
}

// publishUserEvent tells the other replicas that user's data or
// permissions of app changed (reason as given to dropWarm). A failure is
// logged: the command it follows has already changed the store, and a
// replica that does not hear of it still finds the raised epoch, or else
// keeps a warm spoke no longer than its idle timeout.
func (h *Hub) publishUserEvent(ctx context.Context, user ids.UserID, app ids.AppID, reason string) {
	if h.o.UserEvents == nil {
		return
	}
	e := state.UserEvent{User: user, App: app, Kind: eventKind(reason), Replica: h.o.ReplicaID}
	if err := h.o.UserEvents.PublishUserEvent(context.WithoutCancel(ctx), e); err != nil {
		h.log.Error("publish user event", "user", user, "kind", e.Kind, "err", err)
	}
}

// userEpoch is the user's epoch for app (0 with one replica).
func (h *Hub) userEpoch(ctx context.Context, user ids.UserID, app ids.AppID) (int64, error) {
	if h.o.UserEvents == nil {
		return 0, nil
	}
	n, err := h.o.UserEvents.UserEpoch(ctx, user, app)
	if err != nil {
		h.log.Warn("read user epoch; not keeping the spoke warm", "user", user, "app", app, "err", err)
	}
	return n, err
}

// hear applies another replica's user event here: the user's warm spokes
// end, and after a forget the user's requests running here are stopped
// and, after a forget of everything or of a fact, the prompts waiting for
// the user's answer are withdrawn.
func (h *Hub) hear(ctx context.Context, e state.UserEvent) {
	if e.Replica == h.o.ReplicaID {
		return
	}
	h.dropLocal(ctx, e.User, e.App, e.Kind+" on replica "+e.Replica)
	if e.Kind == state.EventForget {
		// The forget has deleted already there: what the user's requests
		// running here write from now on is refused. (Written between
		// its deletion and this, it stays: the relay's delay.)
		h.running.stop(e.User)
	}
	if e.Kind == state.EventForget && e.App == "" {
		h.withdraw(ctx, e.User)
	}
}

// withdraw ends the user's prompts waiting on this replica.
func (h *Hub) withdraw(ctx context.Context, user ids.UserID) {
	if n := h.gate.Withdraw(ctx, user); n > 0 {
		h.log.Info("prompts withdrawn after forget", "user", user, "n", n)
	}
}
