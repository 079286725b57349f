package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/secgpt-go/secgpt/apps/mcp/entry"
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
		if err := entry.CheckName(n); err != nil {
			return &KeyError{key, fmt.Sprintf("%s: %v", path, err)}
		}
		if _, dup := c.MCP.Servers[n]; dup {
			return &KeyError{key, fmt.Sprintf("is in the config file and in %s; remove one", path)}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return &KeyError{key, err.Error()}
		}
		srv, err := DecodeMCPEntry(b)
		if err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
		if c.MCP.Servers == nil {
			c.MCP.Servers = map[string]MCPServer{}
		}
		c.MCP.Servers[n] = srv
	}
	return nil
}

// DecodeMCPEntry reads an entry of mcp.install_dir strictly: an unknown
// key is an error. An empty entry is a server with nothing set.
func DecodeMCPEntry(b []byte) (MCPServer, error) {
	var s MCPServer
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return MCPServer{}, err
	}
	return s, nil
}

// Entry is s as an entry of mcp.install_dir is written (`secgpt mcp add`,
// `secgpt mcp import`): it encodes to YAML with only the keys that are
// set, in MCPServer's order, where `secgpt config` shows every key.
func (s MCPServer) Entry() yaml.Marshaler { return mcpEntry(s) }

// mcpEntry is an MCPServer encoded with only its set keys.
type mcpEntry MCPServer

// MarshalYAML encodes the server and drops each key whose field is zero,
// or an empty list or map (yaml's omitempty).
func (e mcpEntry) MarshalYAML() (any, error) {
	var n yaml.Node
	if err := n.Encode(MCPServer(e)); err != nil {
		return nil, err
	}
	v := reflect.ValueOf(MCPServer(e))
	unset := map[string]bool{}
	for i := range v.NumField() {
		f := v.Field(i)
		empty := f.IsZero() || (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0
		if key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); empty {
			unset[key] = true
		}
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !unset[n.Content[i].Value] {
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = kept
	return &n, nil
}
