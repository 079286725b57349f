package mcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secgpt-go/secgpt/core/ids"
)

// UserDir is the host directory that holds one user's data for one app
// under root. It is named by a hash of the pair, so no user ID (which may
// hold any character a platform allows) becomes a path, and one user's
// directory cannot be named by another's ID.
func UserDir(root string, app ids.AppID, user ids.UserID) string {
	h := sha256.Sum256([]byte(string(app) + "\x00" + string(user)))
	return filepath.Join(root, string(app), hex.EncodeToString(h[:16]))
}

// DataDirOf is the host directory one invocation of s for user gets at
// DataDir, made 0700 on first use, or "" when s has no data directory
// (Data false). No other user's directory is ever named here; the caller
// mounts it writable at DataDir.
func DataDirOf(s Server, dataRoot string, user ids.UserID) (string, error) {
	if !s.Data {
		return "", nil
	}
	if dataRoot == "" {
		return "", fmt.Errorf("mcp %s: data: no data directory configured", s.Name)
	}
	if user == "" {
		return "", fmt.Errorf("mcp %s: data: no user", s.Name)
	}
	dir := UserDir(dataRoot, s.ID(), user)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("mcp %s: data directory: %w", s.Name, err)
	}
	return dir, nil
}
