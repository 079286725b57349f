package cli

import (
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
)

// userData is where users' data lives outside the store: the per-user
// data directories of MCP servers under mcp.data_dir. With several
// replicas that directory is one volume every replica mounts (see
// docs/state.md), so a forget on any replica deletes the one copy.
func userData(cfg config.Config) hub.UserData {
	return mcp.UserDirs{Root: cfg.MCPDataDir()}
}
