package mcp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secgpt-go/secgpt/core/hub"
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

// Mounts are the host paths one invocation of s for user may use: the
// operator's declared files, and with s.Data the user's own data directory
// (made 0700 on first use) at DataDir. No other user's directory is ever
// among them.
func Mounts(s Server, files []hub.Mount, dataRoot string, user ids.UserID) ([]hub.Mount, error) {
	out := append([]hub.Mount(nil), files...)
	if !s.Data {
		return out, nil
	}
	if dataRoot == "" {
		return nil, fmt.Errorf("mcp %s: data: no data directory configured", s.Name)
	}
	if user == "" {
		return nil, fmt.Errorf("mcp %s: data: no user", s.Name)
	}
	dir := UserDir(dataRoot, s.ID(), user)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mcp %s: data directory: %w", s.Name, err)
	}
	return append(out, hub.Mount{Source: dir, Target: DataDir, Write: true}), nil
}
