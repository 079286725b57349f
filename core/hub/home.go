package hub

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Grants returns user's stored permissions as data, in the order !grants
// lists them, for surfaces that render them with controls (Slack's Home
// tab). Revoking stays a command (!revoke), so it is audited in one place.
func (h *Hub) Grants(ctx context.Context, user ids.UserID) ([]chat.GrantInfo, error) {
	gs, err := h.o.Store.ListGrants(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	out := make([]chat.GrantInfo, 0, len(gs))
	for _, g := range gs {
		out = append(out, chat.GrantInfo{
			Kind: g.Kind, App: g.Target, Requester: g.Requester, Function: g.Function,
			Session: g.Session != "", Unplanned: g.Unplanned,
		})
	}
	return out, nil
}

// accountStatus is the optional part of Accounts that tells whether a user
// has linked an account (ops/connect's Google has it).
type accountStatus interface {
	Connected(ctx context.Context, user ids.UserID) (bool, error)
}

// Accounts lists the accounts user can link here and whether each is
// linked: none when linking is not set up. Only Google exists today.
// Unlinking stays a command (!disconnect google).
func (h *Hub) Accounts(ctx context.Context, user ids.UserID) ([]chat.AccountInfo, error) {
	if h.o.Accounts == nil {
		return nil, nil
	}
	st, ok := h.o.Accounts.(accountStatus)
	if !ok {
		return nil, fmt.Errorf("account links: %T cannot tell whether an account is linked", h.o.Accounts)
	}
	linked, err := st.Connected(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("read google account link: %w", err)
	}
	return []chat.AccountInfo{{Provider: "google", Connected: linked}}, nil
}
