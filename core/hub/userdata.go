package hub

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/core/ids"
)

// UserData is a user's data kept outside the store: the per-user data
// directories of MCP servers (apps/mcp.UserDirs). Forget reaches it as it
// reaches the store.
type UserData interface {
	// ForgetUserData deletes user's data of app, or of every app when app
	// is "", and returns how many places (directories) it deleted.
	ForgetUserData(ctx context.Context, user ids.UserID, app ids.AppID) (int, error)
}

// forgetUserData deletes user's data of app (every app: "") kept outside
// the store, and says what went ("" when nothing was there).
func (h *Hub) forgetUserData(ctx context.Context, user ids.UserID, app ids.AppID) (string, error) {
	if h.o.UserData == nil {
		return "", nil
	}
	n, err := h.o.UserData.ForgetUserData(ctx, user, app)
	if err != nil || n == 0 {
		return "", err
	}
	return fmt.Sprintf("%d app data folder(s)", n), nil
}
