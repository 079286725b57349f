package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MCPInstallDir is where `secgpt mcp add` installs servers and writes
// their entries (mcp.install_dir).
func (c *Config) MCPInstallDir() string {
	if c.MCP.InstallDir != "" {
		return c.MCP.InstallDir
	}
	return c.besideState("mcp")
}

// loadInstalledMCP reads every <name>.yaml of the install directory as
// the server mcp.servers.<name>, strictly. A name the config file already
// has is an error naming both places: which one runs must not depend on
// the order things were read in.
func (c *Config) loadInstalledMCP() error {
	dir := c.MCPInstallDir()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &KeyError{"mcp.install_dir", fmt.Sprintf("read %s: %v", dir, err)}
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(dir, n+".yaml")
		key := "mcp.servers." + n
		if !mcpNameRE.MatchString(n) {
			return &KeyError{key, fmt.Sprintf("%s: server names use lowercase letters, digits, - and _ (at most 41 characters)", path)}
		}
		if _, dup := c.MCP.Servers[n]; dup {
			return &KeyError{key, fmt.Sprintf("is in the config file and in %s; remove one", path)}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return &KeyError{key, err.Error()}
		}
		var srv MCPServer
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&srv); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("config: %s: %w", path, err)
		}
		if c.MCP.Servers == nil {
			c.MCP.Servers = map[string]MCPServer{}
		}
		c.MCP.Servers[n] = srv
	}
	return nil
}
