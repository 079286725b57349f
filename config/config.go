// Package config is SecGPT's one typed configuration: a YAML file plus
// environment variables, validated at start with errors that name the key.
// Only cli/ reads it; everything else is handed the values it needs.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Every key is documented in README.md
// ("Configuration"); keep the two in step.
type Config struct {
	Model       Model       `yaml:"model"`
	Store       Store       `yaml:"store"`
	Apps        Apps        `yaml:"apps"`
	Permissions Permissions `yaml:"permissions"`
	Sandbox     Sandbox     `yaml:"sandbox"`
	Hub         Hub         `yaml:"hub"`
	Slack       Slack       `yaml:"slack"`
	Matrix      Matrix      `yaml:"matrix"`
	Log         Log         `yaml:"log"`
	Server      Server      `yaml:"server"`
	Google      Google      `yaml:"google"`
	MCP         MCP         `yaml:"mcp"`
}

// Server configures the optional HTTP listener: /healthz, /readyz,
// /metrics and handlers other parts of the bot mount (OAuth callbacks).
type Server struct {
	// Listen is host:port, e.g. "127.0.0.1:9090"; empty (default) means no
	// listener.
	Listen string `yaml:"listen"`
	// PublicListen is host:port of the listener the internet reaches: it
	// serves only the OAuth callback (google.redirect_base_url), never
	// /metrics or /readyz. Empty (default) means none.
	PublicListen string `yaml:"public_listen"`
}

// Model selects the LLM.
type Model struct {
	// Provider: offline (default), openai, azure, anthropic, bedrock,
	// gemini, ollama.
	Provider string   `yaml:"provider"`
	Name     string   `yaml:"name"`
	BaseURL  string   `yaml:"base_url"`
	APIKey   string   `yaml:"api_key"`
	Timeout  Duration `yaml:"timeout"`
	// Retries: how often a call that failed with 429, 5xx or a connection
	// error is sent again, within Timeout; 0 never.
	Retries int `yaml:"retries"`
	// APIVersion is Azure OpenAI's api-version (provider azure only).
	APIVersion string `yaml:"api_version"`
	// Region is the AWS region (provider bedrock only); empty means the
	// AWS SDK's own (AWS_REGION, shared config).
	Region string `yaml:"region"`
}

// Store selects where state lives.
type Store struct {
	// Backend: bolt (default, a single local file) or redis.
	Backend string `yaml:"backend"`
	// Path of the bolt file.
	Path string `yaml:"path"`
	// RedisURL: redis://[user:password@]host:port/db or rediss:// for TLS.
	RedisURL string `yaml:"redis_url"`
	// Namespace prefixes every Redis key (one per deployment).
	Namespace string `yaml:"namespace"`
	// MemoryRetention: conversation memory older than this is dropped (0 keeps it).
	MemoryRetention Duration `yaml:"memory_retention"`
}

// Apps says which apps are installed and configures them.
type Apps struct {
	// Installed lists app ids; empty means every built-in app.
	Installed []string `yaml:"installed"`
	// Settings holds each app's own settings, by app id.
	Settings map[string]any `yaml:"settings"`
	// Files are host files and directories each app may use inside its
	// own spoke, by app id (see config/mcp.go).
	Files map[string][]File `yaml:"files"`
	// Secrets are settings whose values come from the environment or a
	// file, by app id and setting name; merged into the app's settings and
	// handed only to that app's spoke.
	Secrets map[string]map[string]Secret `yaml:"secrets"`
}

// Permissions configures the gate.
type Permissions struct {
	// PromptTimeout: an unanswered prompt is denied after this long.
	PromptTimeout Duration `yaml:"prompt_timeout"`
	// SessionIdle: a conversation idle this long starts a new session.
	SessionIdle Duration `yaml:"session_idle"`
	// Rules are operator rules checked before stored grants and prompts,
	// each one key (allow, deny or ask) with a pattern:
	// [{deny: "collab:search_gmail->send_gmail_message"}, {allow: "exec:get_*"}, {ask: "send:*"}].
	// cli/ wiring parses the patterns (core/gate.ParseRule).
	Rules []map[string]string `yaml:"rules"`
}

// Sandbox configures spokes.
type Sandbox struct {
	// Mode: on (default; refuses to start without seccomp and namespaces) or off.
	Mode string `yaml:"mode"`
	// Timeout is each spoke's wall-clock limit.
	Timeout Duration `yaml:"timeout"`
	// CPU is each spoke's CPU-time limit.
	CPU Duration `yaml:"cpu"`
	// Memory is each spoke's memory limit, e.g. "512MiB".
	Memory Size `yaml:"memory"`
	// FileSize bounds files a spoke writes.
	FileSize Size `yaml:"file_size"`
	// OpenFiles and Procs bound descriptors and processes/threads.
	OpenFiles uint64 `yaml:"open_files"`
	Procs     uint64 `yaml:"procs"`
	// Pool is how many spokes are kept started and confined, ready for an
	// app; 0 starts each spoke on demand.
	Pool int `yaml:"pool"`
	// PoolMemory bounds the memory of the spokes started ahead of need
	// beyond Pool: while conversations plan (their model's latency), one
	// spoke per conversation is started and kept idle, confined and
	// holding no app or user, each counted as what an idle spoke of the
	// binary pooled spokes run from holds of its own (1.75 MiB for
	// secgpt-spoke-local, 2.5 MiB for secgpt-spoke, 9 MiB for the secgpt
	// binary; core/spoke LocalIdleMemory, LeanIdleMemory, SelfIdleMemory).
	// 0 keeps the pool at Pool.
	PoolMemory Size `yaml:"pool_memory"`
	// SpokeBinary is the binary spokes run from: a secgpt-spoke built
	// from the same tree (cmd/secgpt-spoke). Empty: secgpt-spoke beside
	// the secgpt binary if it is there, otherwise the secgpt binary.
	SpokeBinary string `yaml:"spoke_binary"`
}

// Hub configures planning and spokes.
type Hub struct {
	// Vanilla runs the non-isolated VanillaGPT baseline instead of the hub.
	Vanilla bool `yaml:"vanilla"`
	// MaxSpokeSteps bounds each spoke's agent loop.
	MaxSpokeSteps int `yaml:"max_spoke_steps"`
	// MaxFrame caps ISC frames, e.g. "1MiB".
	MaxFrame Size `yaml:"max_frame"`
	// ReplicaID names this replica when several share a Redis store.
	ReplicaID string `yaml:"replica_id"`
	// StateQuotaKeys bounds the app-state keys of one (user, namespace).
	StateQuotaKeys int `yaml:"state_quota_keys"`
	// StateQuotaBytes bounds the app-state bytes (keys and values) of one
	// (user, namespace), e.g. "8MiB".
	StateQuotaBytes Size `yaml:"state_quota_bytes"`
}

// Slack configures the Slack adapter.
type Slack struct {
	BotToken string `yaml:"bot_token"`
	AppToken string `yaml:"app_token"`
	// APIURL overrides Slack's Web API base URL (tests, proxies).
	APIURL string `yaml:"api_url"`
}

// Matrix configures the Matrix adapter.
type Matrix struct {
	Homeserver    string   `yaml:"homeserver"`
	UserID        string   `yaml:"user_id"`
	Password      string   `yaml:"password"`
	AccessToken   string   `yaml:"access_token"`
	DeviceID      string   `yaml:"device_id"`
	AllowUsers    []string `yaml:"allow_users"`
	AllowServers  []string `yaml:"allow_servers"`
	CommandPrefix string   `yaml:"command_prefix"`
	// DataDir holds the sync token, device and crypto store.
	DataDir string `yaml:"data_dir"`
	// PickleKey encrypts the crypto store's keys.
	PickleKey string `yaml:"pickle_key"`
	// RecoveryKey lets the bot cross-sign its device from secret storage.
	RecoveryKey string `yaml:"recovery_key"`
	// DisableEncryption turns end-to-end encryption off.
	DisableEncryption bool `yaml:"disable_encryption"`
	// DeviceName is the display name of a new device.
	DeviceName string `yaml:"device_name"`
}

// Log configures logging.
type Log struct {
	// Level: debug, info (default), warn, error.
	Level string `yaml:"level"`
	// Format: text (default) or json.
	Format string `yaml:"format"`
}

// Google is the OAuth client that lets chat users link their Google account
// ("!connect google"); empty ClientID turns the commands off.
type Google struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectBaseURL is the bot's public base URL: Google sends the
	// browser back to RedirectBaseURL + /oauth/google/callback. Empty means
	// a loopback listener (the terminal's flow: the browser runs on this
	// machine).
	RedirectBaseURL string `yaml:"redirect_base_url"`
	// LoopbackAddr is the loopback listener's address (default
	// 127.0.0.1 on a free port).
	LoopbackAddr string `yaml:"loopback_addr"`
	// TokenKey seals the stored tokens: 32 bytes as base64 or hex.
	TokenKey string `yaml:"token_key"`
	// Apps may receive a linked user's access token. Empty means the mail
	// and drive apps whose backend is Google's.
	Apps []string `yaml:"apps"`
	// Scopes asked for at "!connect google" beside the account's
	// identity (openid, email); empty means none: each app's scopes are
	// asked for when it first needs them.
	Scopes []string `yaml:"scopes"`
	// AppScopes are the scopes an app's token carries, for apps beyond
	// the bundled mail and drive apps (whose scopes are built in), or to
	// change those.
	AppScopes map[string][]string `yaml:"app_scopes"`
}

// Duration is a time.Duration written as "90s", "2m".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 90s or 2m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as "512MiB", "1GiB", "4096".
type Size int64

// UnmarshalYAML reads a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// ParseSize reads "512MiB", "1GiB", "64KiB", "1MB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size such as 512MiB", s)
	}
	return v * mult, nil
}

// DefaultPoolMemory is sandbox.pool_memory's default: room for 585 spokes
// of secgpt-spoke-local (409 of secgpt-spoke, 113 of the secgpt binary)
// started ahead of a burst of conversations, well inside the 2 GiB that
// issue 21 allows 1000 concurrent conversations (docs/sandbox.md).
const DefaultPoolMemory = 1 << 30

// Default returns the embedded defaults: offline model, bolt store under
// the user's state directory, every built-in app, sandbox on.
func Default() Config {
	return Config{
		Model:       Model{Provider: "offline", Timeout: Duration(2 * time.Minute), Retries: 3},
		Store:       Store{Backend: "bolt", Path: defaultStatePath(), Namespace: "secgpt"},
		Permissions: Permissions{PromptTimeout: Duration(2 * time.Minute), SessionIdle: Duration(30 * time.Minute)},
		Sandbox:     Sandbox{Mode: "on", Timeout: Duration(180 * time.Second), CPU: Duration(60 * time.Second), Memory: 512 << 20, FileSize: 16 << 20, OpenFiles: 64, Procs: 64, Pool: 2, PoolMemory: DefaultPoolMemory},
		Hub:         Hub{MaxSpokeSteps: 8, MaxFrame: 1 << 20, StateQuotaKeys: 1000, StateQuotaBytes: 8 << 20},
		Matrix:      Matrix{CommandPrefix: "!secgpt"},
		MCP:         MCP{IdleTimeout: Duration(5 * time.Minute), MaxWarm: 32},
		Log:         Log{Level: "info", Format: "text"},
	}
}

func defaultStatePath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "secgpt", "secgpt.db")
}

// Load reads the file at path (none when path is ""), then the environment
// (getenv; nil means os.Getenv), then validates.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if getenv == nil {
		getenv = os.Getenv
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := Parse(b, &c); err != nil {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, getenv); err != nil {
		return c, err
	}
	if err := c.loadInstalledMCP(); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Parse decodes YAML into c strictly: an unknown key is an error naming it.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return keyedError(b, err)
	}
	return nil
}

// Env lists every environment variable SecGPT reads, with the key it sets.
var Env = []struct{ Name, Key string }{
	{"SECGPT_MODEL_PROVIDER", "model.provider"},
	{"SECGPT_MODEL", "model.name"},
	{"SECGPT_MODEL_BASE_URL", "model.base_url"},
	{"SECGPT_MODEL_API_KEY", "model.api_key"},
	{"OPENAI_API_KEY", "model.api_key (when SECGPT_MODEL_API_KEY is unset and the provider is openai)"},
	{"ANTHROPIC_API_KEY", "model.api_key (when SECGPT_MODEL_API_KEY is unset and the provider is anthropic)"},
	{"GEMINI_API_KEY", "model.api_key (when SECGPT_MODEL_API_KEY is unset and the provider is gemini)"},
	{"SECGPT_STORE", "store.backend"},
	{"SECGPT_STORE_PATH", "store.path"},
	{"SECGPT_REDIS_URL", "store.redis_url (and selects the redis backend)"},
	{"REDIS_URL", "store.redis_url when SECGPT_REDIS_URL is unset (and selects the redis backend)"},
	{"SECGPT_NAMESPACE", "store.namespace"},
	{"SECGPT_APPS", "apps.installed (comma-separated)"},
	{"SECGPT_SANDBOX", "sandbox.mode"},
	{"SECGPT_REPLICA_ID", "hub.replica_id"},
	{"SECGPT_LOG_LEVEL", "log.level"},
	{"SLACK_BOT_TOKEN", "slack.bot_token"},
	{"SLACK_APP_TOKEN", "slack.app_token"},
	{"SECGPT_SLACK_API_URL", "slack.api_url"},
	{"MATRIX_HOMESERVER", "matrix.homeserver"},
	{"MATRIX_USER_ID", "matrix.user_id"},
	{"MATRIX_PASSWORD", "matrix.password"},
	{"MATRIX_ACCESS_TOKEN", "matrix.access_token"},
	{"MATRIX_PICKLE_KEY", "matrix.pickle_key"},
	{"MATRIX_RECOVERY_KEY", "matrix.recovery_key"},
	{"SECGPT_MODEL_REGION", "model.region"},
	{"SECGPT_LISTEN", "server.listen"},
	{"SECGPT_PUBLIC_LISTEN", "server.public_listen"},
	{"SECGPT_MCP_TOKEN_KEY", "mcp.token_key"},
	{"SECGPT_LOG_FORMAT", "log.format"},
	{"SECGPT_GOOGLE_CLIENT_ID", "google.client_id"},
	{"SECGPT_GOOGLE_CLIENT_SECRET", "google.client_secret"},
	{"SECGPT_GOOGLE_REDIRECT_BASE_URL", "google.redirect_base_url"},
	{"SECGPT_GOOGLE_TOKEN_KEY", "google.token_key"},
	{"SECGPT_CONFIG", "the config file (same as --config)"},
}

func applyEnv(c *Config, getenv func(string) string) error {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("SECGPT_MODEL_PROVIDER", &c.Model.Provider)
	set("SECGPT_MODEL", &c.Model.Name)
	set("SECGPT_MODEL_BASE_URL", &c.Model.BaseURL)
	set("SECGPT_MODEL_API_KEY", &c.Model.APIKey)
	if c.Model.APIKey == "" {
		switch c.Model.Provider {
		case "openai":
			set("OPENAI_API_KEY", &c.Model.APIKey)
		case "anthropic":
			set("ANTHROPIC_API_KEY", &c.Model.APIKey)
		case "gemini":
			set("GEMINI_API_KEY", &c.Model.APIKey)
		}
	}
	set("SECGPT_STORE", &c.Store.Backend)
	set("SECGPT_STORE_PATH", &c.Store.Path)
	if v := getenv("SECGPT_REDIS_URL"); v != "" {
		c.Store.RedisURL, c.Store.Backend = v, "redis"
	} else if v := getenv("REDIS_URL"); v != "" {
		c.Store.RedisURL, c.Store.Backend = v, "redis"
	}
	set("SECGPT_NAMESPACE", &c.Store.Namespace)
	if v := getenv("SECGPT_APPS"); v != "" {
		c.Apps.Installed = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.Apps.Installed = append(c.Apps.Installed, a)
			}
		}
	}
	set("SECGPT_SANDBOX", &c.Sandbox.Mode)
	set("SECGPT_SPOKE_BINARY", &c.Sandbox.SpokeBinary)
	set("SECGPT_REPLICA_ID", &c.Hub.ReplicaID)
	set("SECGPT_LOG_LEVEL", &c.Log.Level)
	set("SLACK_BOT_TOKEN", &c.Slack.BotToken)
	set("SLACK_APP_TOKEN", &c.Slack.AppToken)
	set("SECGPT_SLACK_API_URL", &c.Slack.APIURL)
	set("MATRIX_HOMESERVER", &c.Matrix.Homeserver)
	set("MATRIX_USER_ID", &c.Matrix.UserID)
	set("MATRIX_PASSWORD", &c.Matrix.Password)
	set("MATRIX_ACCESS_TOKEN", &c.Matrix.AccessToken)
	set("MATRIX_PICKLE_KEY", &c.Matrix.PickleKey)
	set("MATRIX_RECOVERY_KEY", &c.Matrix.RecoveryKey)
	set("SECGPT_MODEL_REGION", &c.Model.Region)
	set("SECGPT_LISTEN", &c.Server.Listen)
	set("SECGPT_PUBLIC_LISTEN", &c.Server.PublicListen)
	set("SECGPT_MCP_TOKEN_KEY", &c.MCP.TokenKey)
	set("SECGPT_LOG_FORMAT", &c.Log.Format)
	set("SECGPT_GOOGLE_CLIENT_ID", &c.Google.ClientID)
	set("SECGPT_GOOGLE_CLIENT_SECRET", &c.Google.ClientSecret)
	set("SECGPT_GOOGLE_REDIRECT_BASE_URL", &c.Google.RedirectBaseURL)
	set("SECGPT_GOOGLE_TOKEN_KEY", &c.Google.TokenKey)
	return nil
}

// KeyError is a validation error naming the config key at fault.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Msg }

// Validate checks values that the types alone don't.
func (c *Config) Validate() error {
	switch c.Model.Provider {
	case "offline":
	case "bedrock":
		if c.Model.Name == "" {
			return &KeyError{"model.name", "is empty: for bedrock a Claude model id, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0 (set SECGPT_MODEL)"}
		}
	case "azure":
		if c.Model.BaseURL == "" {
			return &KeyError{"model.base_url", "the azure provider needs the resource endpoint, e.g. https://NAME.openai.azure.com"}
		}
		if c.Model.APIKey == "" {
			return &KeyError{"model.api_key", "the azure provider needs an API key (set SECGPT_MODEL_API_KEY)"}
		}
		if c.Model.Name == "" {
			return &KeyError{"model.name", "is empty: for azure it is the deployment name (set SECGPT_MODEL)"}
		}
	case "openai", "anthropic":
		if c.Model.APIKey == "" && c.Model.BaseURL == "" {
			return &KeyError{"model.api_key", fmt.Sprintf("the %s provider needs an API key (set SECGPT_MODEL_API_KEY) or a base_url of a server that needs none", c.Model.Provider)}
		}
		if c.Model.Name == "" {
			return &KeyError{"model.name", "is empty (set SECGPT_MODEL, e.g. gpt-4o-mini)"}
		}
	case "ollama":
		if c.Model.Name == "" {
			return &KeyError{"model.name", "is empty (set SECGPT_MODEL, e.g. llama3.1)"}
		}
	case "gemini":
		if c.Model.APIKey == "" && c.Model.BaseURL == "" {
			return &KeyError{"model.api_key", "the gemini provider needs an API key (set GEMINI_API_KEY or SECGPT_MODEL_API_KEY)"}
		}
		if c.Model.Name == "" {
			return &KeyError{"model.name", "is empty (set SECGPT_MODEL, e.g. gemini-2.0-flash)"}
		}
	default:
		return &KeyError{"model.provider", fmt.Sprintf("unknown provider %q (want offline, openai, azure, anthropic, bedrock, gemini or ollama)", c.Model.Provider)}
	}
	if c.Model.Retries < 0 || c.Model.Retries > 10 {
		return &KeyError{"model.retries", "must be between 0 and 10"}
	}
	if c.Model.Timeout < 0 {
		return &KeyError{"model.timeout", "must not be negative"}
	}
	switch c.Store.Backend {
	case "bolt":
		if c.Store.Path == "" {
			return &KeyError{"store.path", "is empty"}
		}
	case "redis":
		if !strings.HasPrefix(c.Store.RedisURL, "redis://") && !strings.HasPrefix(c.Store.RedisURL, "rediss://") && !strings.HasPrefix(c.Store.RedisURL, "unix://") {
			return &KeyError{"store.redis_url", fmt.Sprintf("%q is not a redis://, rediss:// or unix:// URL", c.Store.RedisURL)}
		}
	default:
		return &KeyError{"store.backend", fmt.Sprintf("unknown backend %q (want bolt or redis)", c.Store.Backend)}
	}
	if c.Store.Namespace == "" {
		return &KeyError{"store.namespace", "is empty"}
	}
	switch c.Sandbox.Mode {
	case "on", "off":
	default:
		return &KeyError{"sandbox.mode", fmt.Sprintf("%q is neither on nor off", c.Sandbox.Mode)}
	}
	if c.Sandbox.Pool < 0 || c.Sandbox.Pool > 32 {
		return &KeyError{"sandbox.pool", "must be between 0 and 32"}
	}
	if c.Sandbox.PoolMemory < 0 {
		return &KeyError{"sandbox.pool_memory", "must not be negative"}
	}
	if c.Sandbox.Memory != 0 && c.Sandbox.Memory < 64<<20 {
		return &KeyError{"sandbox.memory", "must be at least 64MiB"}
	}
	if c.Permissions.PromptTimeout < 0 || c.Permissions.SessionIdle < 0 || c.Sandbox.Timeout < 0 || c.Sandbox.CPU < 0 {
		return &KeyError{"permissions/sandbox", "durations must not be negative"}
	}
	for i, r := range c.Permissions.Rules {
		key := fmt.Sprintf("permissions.rules[%d]", i)
		if len(r) != 1 {
			return &KeyError{key, "must have exactly one of allow, deny or ask, e.g. {deny: \"send:*\"}"}
		}
		for action, pattern := range r {
			if action != "allow" && action != "deny" && action != "ask" {
				return &KeyError{key, fmt.Sprintf("%q is not allow, deny or ask", action)}
			}
			if strings.TrimSpace(pattern) == "" {
				return &KeyError{key, "has an empty pattern"}
			}
		}
	}
	if c.Hub.MaxSpokeSteps < 0 || c.Hub.MaxSpokeSteps > 64 {
		return &KeyError{"hub.max_spoke_steps", "must be between 1 and 64"}
	}
	if c.Hub.StateQuotaKeys < 0 || c.Hub.StateQuotaKeys > 1_000_000 {
		return &KeyError{"hub.state_quota_keys", "must be between 1 and 1000000 (0: the default)"}
	}
	if c.Hub.StateQuotaBytes < 0 || c.Hub.StateQuotaBytes > 1<<30 {
		return &KeyError{"hub.state_quota_bytes", "must be between 1 byte and 1GiB (0: the default)"}
	}
	if c.Hub.MaxFrame != 0 && (c.Hub.MaxFrame < 4<<10 || c.Hub.MaxFrame > 64<<20) {
		return &KeyError{"hub.max_frame", "must be between 4KiB and 64MiB"}
	}
	for i, a := range c.Apps.Installed {
		if a == "" {
			return &KeyError{fmt.Sprintf("apps.installed[%d]", i), "is empty"}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &KeyError{"log.level", fmt.Sprintf("%q is not debug, info, warn or error", c.Log.Level)}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return &KeyError{"log.format", fmt.Sprintf("%q is neither text nor json", c.Log.Format)}
	}
	if c.Server.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Server.Listen); err != nil || port == "" {
			return &KeyError{"server.listen", fmt.Sprintf("%q is not host:port (e.g. 127.0.0.1:9090 or :9090)", c.Server.Listen)}
		}
	}
	if c.Server.PublicListen != "" {
		if _, port, err := net.SplitHostPort(c.Server.PublicListen); err != nil || port == "" {
			return &KeyError{"server.public_listen", fmt.Sprintf("%q is not host:port (e.g. :8443)", c.Server.PublicListen)}
		}
		if c.Server.PublicListen == c.Server.Listen {
			return &KeyError{"server.public_listen", "must differ from server.listen: the public listener must not serve /metrics and /readyz"}
		}
	}
	if err := c.Google.validate(); err != nil {
		return err
	}
	return c.validateMCP()
}

func (g *Google) validate() error {
	if g.ClientID == "" {
		return nil
	}
	if g.TokenKey == "" {
		return &KeyError{"google.token_key", "is empty: linked tokens are stored sealed with it (set SECGPT_GOOGLE_TOKEN_KEY; generate one with: openssl rand -base64 32)"}
	}
	if g.RedirectBaseURL != "" {
		u, err := url.Parse(g.RedirectBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return &KeyError{"google.redirect_base_url", fmt.Sprintf("%q is not an absolute http(s) URL without query", g.RedirectBaseURL)}
		}
	}
	return nil
}

// AppSettings returns each app's settings as JSON.
func (c *Config) AppSettings() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for id, v := range c.Apps.Settings {
		b, err := json.Marshal(normalize(v))
		if err != nil {
			return nil, &KeyError{"apps.settings." + id, err.Error()}
		}
		out[id] = b
	}
	return out, nil
}

// normalize turns YAML's map[string]any trees into JSON-encodable values.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}
