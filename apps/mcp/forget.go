package mcp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
)

// ForgetUser deletes user's data directories under root (see UserDir): the
// one of app, or when app is "" the user's directory of every server that
// has one there, configured now or not. It returns how many directories
// it deleted. A server running with the directory mounted must be ended
// first, or it may write its memory back.
func ForgetUser(root string, app ids.AppID, user ids.UserID) (int, error) {
	if root == "" || user == "" {
		return 0, nil
	}
	// app comes from the user's "!forget APP": it names a directory under
	// root, never a path.
	if app != "" && (!filepath.IsLocal(string(app)) || strings.ContainsAny(string(app), `/\`)) {
		return 0, fmt.Errorf("forget data of %q: not an app id", app)
	}
	servers := []ids.AppID{app}
	if app == "" {
		servers = nil
		ents, err := os.ReadDir(root)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("list data directories in %s: %w", root, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				servers = append(servers, ids.AppID(e.Name()))
			}
		}
	}
	n := 0
	for _, s := range servers {
		dir := UserDir(root, s, user)
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return n, fmt.Errorf("delete %s's data directory of %s: %w", user, s, err)
		}
		n++
	}
	return n, nil
}

// UserDirs is the per-user data of MCP servers under Root, for the hub's
// forget (hub.UserData).
type UserDirs struct{ Root string }

// ForgetUserData implements hub.UserData. The directories are on local
// disk (or a volume every replica mounts at Root), so ctx is not watched.
func (d UserDirs) ForgetUserData(_ context.Context, user ids.UserID, app ids.AppID) (int, error) {
	return ForgetUser(d.Root, app, user)
}
