package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantKey string // substring of the error; "" means no error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Model.Provider != "offline" || c.Store.Backend != "bolt" || c.Sandbox.Mode != "on" {
				t.Fatalf("defaults = %+v", c)
			}
		}},
		{name: "file values", yaml: "model:\n  provider: openai\n  name: gpt-4o-mini\n  api_key: k\nsandbox:\n  memory: 256MiB\n  timeout: 30s\napps:\n  installed: [quick_ride, metro_hail]\n  settings:\n    search_gmail: {mailbox: /tmp/m.json}\n",
			check: func(t *testing.T, c Config) {
				if c.Model.Name != "gpt-4o-mini" || c.Sandbox.Memory != 256<<20 || c.Sandbox.Timeout.D() != 30*time.Second || len(c.Apps.Installed) != 2 {
					t.Fatalf("got %+v", c)
				}
				s, err := c.AppSettings()
				if err != nil || string(s["search_gmail"]) != `{"mailbox":"/tmp/m.json"}` {
					t.Fatalf("settings = %s, %v", s["search_gmail"], err)
				}
			}},
		{name: "unknown key", yaml: "model:\n  provder: openai\n", wantKey: "provder"},
		{name: "bad duration", yaml: "permissions:\n  prompt_timeout: soon\n", wantKey: "not a duration"},
		{name: "bad provider", yaml: "model:\n  provider: gpt\n", wantKey: "model.provider"},
		{name: "openai without key", env: map[string]string{"SECGPT_MODEL_PROVIDER": "openai", "SECGPT_MODEL": "m"}, wantKey: "model.api_key"},
		{name: "openai key from env", env: map[string]string{"SECGPT_MODEL_PROVIDER": "openai", "SECGPT_MODEL": "m", "OPENAI_API_KEY": "sk"},
			check: func(t *testing.T, c Config) {
				if c.Model.APIKey != "sk" {
					t.Fatal("OPENAI_API_KEY not used")
				}
			}},
		{name: "gemini without key", env: map[string]string{"SECGPT_MODEL_PROVIDER": "gemini", "SECGPT_MODEL": "gemini-2.0-flash"}, wantKey: "GEMINI_API_KEY"},
		{name: "gemini key from env", env: map[string]string{"SECGPT_MODEL_PROVIDER": "gemini", "SECGPT_MODEL": "gemini-2.0-flash", "GEMINI_API_KEY": "g"},
			check: func(t *testing.T, c Config) {
				if c.Model.APIKey != "g" {
					t.Fatal("GEMINI_API_KEY not used")
				}
			}},
		{name: "gemini key not taken by openai", env: map[string]string{"SECGPT_MODEL_PROVIDER": "openai", "SECGPT_MODEL": "m", "GEMINI_API_KEY": "g"}, wantKey: "model.api_key"},
		{name: "redis url selects redis", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, check: func(t *testing.T, c Config) {
			if c.Store.Backend != "redis" {
				t.Fatal("backend not redis")
			}
		}},
		{name: "bad redis url", env: map[string]string{"REDIS_URL": "http://x"}, wantKey: "store.redis_url"},
		{name: "bad sandbox mode", env: map[string]string{"SECGPT_SANDBOX": "maybe"}, wantKey: "sandbox.mode"},
		{name: "apps from env", env: map[string]string{"SECGPT_APPS": "quick_ride, metro_hail"}, check: func(t *testing.T, c Config) {
			if strings.Join(c.Apps.Installed, ",") != "quick_ride,metro_hail" {
				t.Fatalf("apps = %v", c.Apps.Installed)
			}
		}},
		{name: "tiny memory", yaml: "sandbox:\n  memory: 1MiB\n", wantKey: "sandbox.memory"},
		{name: "negative pool memory", yaml: "sandbox:\n  pool_memory: -1\n", wantKey: "sandbox.pool_memory"},
		{name: "pool memory", yaml: "sandbox:\n  pool_memory: 2GiB\n", check: func(t *testing.T, c Config) {
			if c.Sandbox.PoolMemory != 2<<30 {
				t.Fatalf("pool_memory = %d", c.Sandbox.PoolMemory)
			}
		}},
		{name: "pool memory by default", check: func(t *testing.T, c Config) {
			if c.Sandbox.PoolMemory != DefaultPoolMemory {
				t.Fatalf("pool_memory = %d, want the default %d", c.Sandbox.PoolMemory, DefaultPoolMemory)
			}
		}},
		{name: "bad size", yaml: "sandbox:\n  memory: lots\n", wantKey: "not a size"},
		{name: "rules", yaml: "permissions:\n  rules:\n    - deny: \"collab:search_gmail->send_gmail_message\"\n    - allow: \"exec:get_*\"\n    - ask: \"send:*\"\n",
			check: func(t *testing.T, c Config) {
				if len(c.Permissions.Rules) != 3 || c.Permissions.Rules[2]["ask"] != "send:*" {
					t.Fatalf("rules = %v", c.Permissions.Rules)
				}
			}},
		{name: "rule with two actions", yaml: "permissions:\n  rules:\n    - {allow: \"exec:*\", deny: \"send:*\"}\n", wantKey: "permissions.rules[0]"},
		{name: "rule with unknown action", yaml: "permissions:\n  rules:\n    - permit: \"exec:*\"\n", wantKey: "permissions.rules[0]"},
		{name: "google from env", env: map[string]string{"SECGPT_GOOGLE_CLIENT_ID": "c", "SECGPT_GOOGLE_CLIENT_SECRET": "s", "SECGPT_GOOGLE_TOKEN_KEY": "k", "SECGPT_GOOGLE_REDIRECT_BASE_URL": "https://bot.example"},
			check: func(t *testing.T, c Config) {
				if g := c.Google; g.ClientID != "c" || g.ClientSecret != "s" || g.TokenKey != "k" || g.RedirectBaseURL != "https://bot.example" {
					t.Fatalf("google = %+v", g)
				}
			}},
		{name: "google file values", yaml: "google:\n  client_id: c\n  token_key: k\n  apps: [search_gmail]\n  loopback_addr: 127.0.0.1:8765\n",
			check: func(t *testing.T, c Config) {
				if g := c.Google; len(g.Apps) != 1 || g.LoopbackAddr != "127.0.0.1:8765" {
					t.Fatalf("google = %+v", g)
				}
			}},
		{name: "google without token key", yaml: "google:\n  client_id: c\n", wantKey: "google.token_key"},
		{name: "google relative redirect", yaml: "google:\n  client_id: c\n  token_key: k\n  redirect_base_url: bot.example\n", wantKey: "google.redirect_base_url"},
		{name: "google key alone is fine", yaml: "google:\n  token_key: k\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, func(k string) string { return tt.env[k] })
			if tt.wantKey != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestKeyError(t *testing.T) {
	c := Default()
	c.Log.Level = "loud"
	var ke *KeyError
	if err := c.Validate(); !errors.As(err, &ke) || ke.Key != "log.level" {
		t.Fatalf("err = %v", err)
	}
}
