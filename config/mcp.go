package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/secgpt-go/secgpt/apps/mcp/entry"
)

// MCP configures MCP servers, each installed as the app "mcp.<name>".
type MCP struct {
	// DataDir holds the per-user data directories of servers with
	// data: true, one per (user, server); "" means "appdata" beside the
	// state file (store.path), or under the user's state directory.
	DataDir string `yaml:"data_dir"`
	// DiscoverTimeout bounds listing one server's tools when the bot
	// starts (default 60s).
	DiscoverTimeout Duration `yaml:"discover_timeout"`
	// IdleTimeout keeps a stdio server's spoke (the sandboxed process with
	// the server as its child) warm for this long after an invocation, for
	// the next invocation of the same user and server only; 0 starts one
	// per invocation (default 5m).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxWarm bounds the warm spokes kept at once, over all users and
	// servers; the least recently used idle one ends first (default 32).
	MaxWarm int `yaml:"max_warm"`
	// TokenKey seals the users' tokens of servers with oauth: 32 bytes
	// as base64 or hex; required when any server has oauth.
	TokenKey string `yaml:"token_key"`
	// RedirectBaseURL is the bot's public base URL for the MCP sign-in
	// callback (+ /oauth/mcp/callback, on server.public_listen); empty
	// means a loopback listener (the terminal's flow).
	RedirectBaseURL string `yaml:"redirect_base_url"`
	// InstallDir is where `secgpt mcp add` installs servers (one npm
	// prefix per server, <name>/) and writes their entries (<name>.yaml);
	// every <name>.yaml there is read as mcp.servers.<name>. "" means
	// "mcp" beside the state file (store.path).
	InstallDir string `yaml:"install_dir"`
	// Servers are keyed by name, in the shape Claude Desktop and VS Code
	// use (command, args, env; or url), plus SecGPT's keys.
	Servers map[string]MCPServer `yaml:"servers"`
}

// MCPServer is one MCP server: the one description of it that the config
// file (mcp.servers.<name>), an entry of mcp.install_dir (Entry) and `secgpt
// mcp add` and `mcp import` share. Its spoke gets an apps/mcp.Server made
// from it, with the secrets resolved.
type MCPServer struct {
	// Command and Args start a stdio server inside the app's spoke.
	Command string   `yaml:"command"`
	Args    []string `yaml:"args"`
	// Env is the server's environment (beside PATH, HOME and TMPDIR).
	Env map[string]string `yaml:"env"`
	// Type is accepted from imported configs: stdio, http (or
	// streamable-http); sse is refused.
	Type string `yaml:"type"`
	// URL is a remote server (streamable HTTP), reached only through the
	// egress proxy, only at its own host's registrable domain.
	URL string `yaml:"url"`
	// BearerToken is sent to a remote server; prefer Secrets.
	BearerToken string `yaml:"bearer_token"`
	// Secrets are environment variables of the server whose values come
	// from the hub's environment or a file, handed only to this server's
	// spoke. A secret named BEARER_TOKEN is the remote server's token.
	Secrets map[string]Secret `yaml:"secrets"`
	// Domains the server may reach through the egress proxy.
	Domains []string `yaml:"domains"`
	// OAuth makes the hub sign each chat user in to this remote server
	// with the MCP authorization flow; the server's spoke gets that
	// user's token.
	OAuth bool `yaml:"oauth"`
	// OAuthClientID is a client registered beforehand at the server's
	// authorization server, used instead of dynamic client registration
	// (which some, GitHub's among them, do not offer). Needs oauth.
	OAuthClientID string `yaml:"oauth_client_id"`
	// OAuthClientSecret is that client's secret, only as a reference (an
	// environment variable of the hub or a file); empty for a public
	// client. The hub sends it only to the token and revocation endpoints
	// of OAuthIssuer; the server's spoke never gets it.
	OAuthClientSecret Secret `yaml:"oauth_client_secret"`
	// OAuthIssuer is the issuer identifier (RFC 8414) of the
	// authorization server the client is registered at; required with
	// OAuthClientSecret. Signing in stops when the server names another.
	OAuthIssuer string `yaml:"oauth_issuer"`
	// OAuthDefaultEndpoints lets a server of the MCP 2025-03-26 revision
	// that publishes no authorization metadata at all be signed in to at
	// the default endpoints of its url's origin (/authorize, /token,
	// /register), trusting that origin to be its authorization server and
	// to do PKCE S256, which nothing then advertises. Needs oauth.
	OAuthDefaultEndpoints bool `yaml:"oauth_default_endpoints"`
	// PrivateNetworks are non-public address blocks (CIDR) the server's
	// egress may reach: an internal server on the LAN or in the cluster.
	// Empty, the default, means public addresses only.
	PrivateNetworks []string `yaml:"private_networks"`
	// Files are host files and directories the server may use (read-only
	// unless write), seen inside its spoke at the same path.
	Files []File `yaml:"files"`
	// Data gives the server its own directory per user, at
	// ${SECGPT_DATA} (replaced in args and env values).
	Data bool `yaml:"data"`
	// HideRoots announces no MCP roots to the server.
	HideRoots bool `yaml:"hide_roots"`
	// TrustAnnotations lets the server's tool annotations decide the
	// effect shown in prompts; without it every tool is shown as able to
	// do anything.
	TrustAnnotations bool `yaml:"trust_annotations"`
	// Limits override the sandbox's bounds for this server's spokes.
	Limits Limits `yaml:"limits"`
	// Aliases name the server's tools for the planner: tool name → alias
	// (lowercase letters, digits and _, at most 32). A tool without one
	// is shown as t<N>, its pinned place; its own name is the server's
	// text and never reaches the planner.
	Aliases map[string]string `yaml:"aliases"`
}

// File is a host path an app may use.
type File struct {
	Path  string `yaml:"path"`
	Write bool   `yaml:"write"`
}

// Secret is where a secret's value comes from: an environment variable of
// the hub, or a file (its content, without a final newline). The value is
// never part of the config itself, so `secgpt config` shows only where
// it comes from.
type Secret struct {
	Env  string `yaml:"env,omitempty"`
	File string `yaml:"file,omitempty"`
}

// Limits override sandbox bounds for one app; zero keeps the default.
type Limits struct {
	Memory    Size     `yaml:"memory"`
	CPU       Duration `yaml:"cpu"`
	Timeout   Duration `yaml:"timeout"`
	Procs     uint64   `yaml:"procs"`
	OpenFiles uint64   `yaml:"open_files"`
}

// UnmarshalYAML refuses a secret written as its value: yaml's own error
// would quote the value, and the config file must hold only where it comes
// from.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a secret is a reference, {env: NAME} or {file: PATH}, never its value", n.Line)
	}
	type plain Secret
	return n.Decode((*plain)(s))
}

// maxSecret bounds a secret read from a file.
const maxSecret = 64 << 10

// Resolve returns the secret's value. getenv nil means os.Getenv.
func (s Secret) Resolve(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case s.Env != "" && s.File != "":
		return "", fmt.Errorf("names both env and file")
	case s.Env != "":
		v := getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", s.Env)
		}
		return v, nil
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		defer f.Close()
		b := make([]byte, maxSecret+1)
		n, _ := f.Read(b)
		if n > maxSecret {
			return "", fmt.Errorf("secret file %s is larger than %d bytes", s.File, maxSecret)
		}
		v := strings.TrimRight(string(b[:n]), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	return "", fmt.Errorf("names neither env nor file")
}

// MCPServerNames lists the configured servers, sorted.
func (c *Config) MCPServerNames() []string {
	out := make([]string, 0, len(c.MCP.Servers))
	for n := range c.MCP.Servers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MCPDataDir is the directory of per-user MCP server data.
func (c *Config) MCPDataDir() string {
	if c.MCP.DataDir != "" {
		return c.MCP.DataDir
	}
	return c.besideState("appdata")
}

// besideState is name in the directory of the state file (store.path).
func (c *Config) besideState(name string) string {
	p := c.Store.Path
	if p == "" {
		p = defaultStatePath()
	}
	return filepath.Join(filepath.Dir(p), name)
}

// validateMCP checks mcp.servers, apps.files and apps.secrets.
func (c *Config) validateMCP() error {
	if c.MCP.DiscoverTimeout < 0 {
		return &KeyError{"mcp.discover_timeout", "must not be negative"}
	}
	if c.MCP.IdleTimeout < 0 {
		return &KeyError{"mcp.idle_timeout", "must not be negative (0 starts a server per invocation)"}
	}
	if c.MCP.MaxWarm < 0 {
		return &KeyError{"mcp.max_warm", "must not be negative"}
	}
	for _, name := range c.MCPServerNames() {
		s := c.MCP.Servers[name]
		key := "mcp.servers." + name
		if err := entry.CheckName(name); err != nil {
			return &KeyError{key, err.Error()}
		}
		switch {
		case s.Command == "" && s.URL == "":
			return &KeyError{key, "needs command (a stdio server) or url (a remote server)"}
		case s.Command != "" && s.URL != "":
			return &KeyError{key, "has both command and url; a server is one or the other"}
		}
		switch s.Type {
		case "", "stdio", "http", "streamable-http", "streamableHttp":
		case "sse":
			return &KeyError{key + ".type", "the old SSE transport is not supported; use the server's streamable HTTP endpoint"}
		default:
			return &KeyError{key + ".type", fmt.Sprintf("unknown type %q (want stdio or http)", s.Type)}
		}
		if s.URL != "" && !strings.HasPrefix(s.URL, "https://") && !strings.HasPrefix(s.URL, "http://") {
			return &KeyError{key + ".url", fmt.Sprintf("%q is not an http(s) URL", s.URL)}
		}
		for k := range s.Env {
			if err := entry.CheckEnvName(k); err != nil {
				return &KeyError{key + ".env", err.Error()}
			}
		}
		for k, sec := range s.Secrets {
			if err := entry.CheckEnvName(k); err != nil {
				return &KeyError{key + ".secrets", err.Error()}
			}
			if (sec.Env == "") == (sec.File == "") {
				return &KeyError{key + ".secrets." + k, "name exactly one of env or file"}
			}
		}
		if err := checkOAuthClient(key, s); err != nil {
			return err
		}
		if err := checkFiles(key+".files", s.Files); err != nil {
			return err
		}
		if s.Limits.Memory != 0 && s.Limits.Memory < 64<<20 {
			return &KeyError{key + ".limits.memory", "must be at least 64MiB"}
		}
		if s.Limits.CPU < 0 || s.Limits.Timeout < 0 {
			return &KeyError{key + ".limits", "durations must not be negative"}
		}
	}
	for app, fs := range c.Apps.Files {
		if err := checkFiles("apps.files."+app, fs); err != nil {
			return err
		}
	}
	for app, secs := range c.Apps.Secrets {
		for k, sec := range secs {
			if k == "" {
				return &KeyError{"apps.secrets." + app, "empty setting name"}
			}
			if (sec.Env == "") == (sec.File == "") {
				return &KeyError{"apps.secrets." + app + "." + k, "name exactly one of env or file"}
			}
		}
	}
	return nil
}

// checkOAuthClient checks a server's pre-registered OAuth client.
func checkOAuthClient(key string, s MCPServer) error {
	secret := s.OAuthClientSecret != (Secret{})
	switch {
	case s.OAuthDefaultEndpoints && (!s.OAuth || s.URL == ""):
		return &KeyError{key + ".oauth_default_endpoints", "is for a remote server (url) with oauth: true"}
	case s.OAuthClientID == "" && (secret || s.OAuthIssuer != ""):
		return &KeyError{key + ".oauth_client_id", "is needed with oauth_client_secret and oauth_issuer"}
	case s.OAuthClientID == "":
		return nil
	case !s.OAuth || s.URL == "":
		return &KeyError{key + ".oauth_client_id", "is for a remote server (url) with oauth: true"}
	case secret && (s.OAuthClientSecret.Env == "") == (s.OAuthClientSecret.File == ""):
		return &KeyError{key + ".oauth_client_secret", "name exactly one of env or file (never the secret itself)"}
	case secret && s.OAuthIssuer == "":
		return &KeyError{key + ".oauth_issuer", "is needed with oauth_client_secret: the authorization server the secret may be sent to"}
	case s.OAuthIssuer != "" && !strings.HasPrefix(s.OAuthIssuer, "https://") && !strings.HasPrefix(s.OAuthIssuer, "http://"):
		return &KeyError{key + ".oauth_issuer", fmt.Sprintf("%q is not an http(s) URL", s.OAuthIssuer)}
	}
	return nil
}

func checkFiles(key string, fs []File) error {
	for i, f := range fs {
		if !filepath.IsAbs(f.Path) {
			return &KeyError{fmt.Sprintf("%s[%d].path", key, i), fmt.Sprintf("%q must be an absolute path", f.Path)}
		}
	}
	return nil
}
