package config

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"/var/lib/secgpt/secgpt.db", "/var/lib/secgpt/secgpt.db"},
		{"https://api.openai.com/v1", "https://api.openai.com/v1"},
		{"redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"},
		{"redis://app:hunter2@redis:6379/0", "redis://app:***@redis:6379/0"},
		{"https://ghp_tok3n@example.com/x", "https://***@example.com/x"},
		{"https://h.example/v1?key=hunter2&x=1", "https://h.example/v1?***"},
		{"https://h.example/cb#access_token=hunter2", "https://h.example/cb#***"},
		{"redis://:p%zz@h", "***"},
	}
	for _, tt := range tests {
		if got := MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestConfigYAMLMasksEverySecret sets every secret the config holds to a
// value containing "hunter2" and checks that the rendered YAML holds none
// of them, still shows what is not secret, and parses back as a config.
func TestConfigYAMLMasksEverySecret(t *testing.T) {
	c := Default()
	c.Model.Provider, c.Model.Name = "openai", "gpt-4o-mini"
	c.Model.APIKey = "sk-hunter2"
	c.Model.BaseURL = "https://user:hunter2@llm.internal/v1?api-key=hunter2"
	c.Store.RedisURL = "rediss://default:hunter2@redis.internal:6380/0"
	c.Slack.BotToken, c.Slack.AppToken = "xoxb-hunter2", "xapp-hunter2"
	c.Slack.APIURL = "https://slack.example/api?token=hunter2"
	c.Matrix.Homeserver = "https://matrix.example?access_token=hunter2"
	c.Matrix.Password, c.Matrix.AccessToken = "hunter2", "syt_hunter2"
	c.Matrix.PickleKey, c.Matrix.RecoveryKey = "pickle-hunter2", "EsT hunter2"
	c.Matrix.AllowUsers = []string{"@alice:example.org"}
	c.Apps.Settings = map[string]any{"search_gmail": map[string]any{"oauth": map[string]any{"refresh_token": "hunter2"}}}
	before := c.Model.APIKey
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "hunter2") {
		t.Errorf("config YAML leaks a secret:\n%s", s)
	}
	if c.Model.APIKey != before || c.Apps.Settings["search_gmail"].(map[string]any)["oauth"] == nil {
		t.Error("Masked changed the caller's config")
	}
	for _, want := range []string{
		"provider: openai", "name: gpt-4o-mini", "api_key: '***'", "bot_token: '***'",
		"redis_url: rediss://default:***@redis.internal:6380/0", "base_url: https://user:***@llm.internal/v1?***",
		"'@alice:example.org'", "search_gmail: '***'", "timeout: 2m0s", "memory: 512MiB", "max_frame: 1MiB",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config YAML lacks %q:\n%s", want, s)
		}
	}
	var back Config
	if err := Parse(out, &back); err != nil {
		t.Fatalf("printed config does not parse back: %v\n%s", err, s)
	}
	if back.Sandbox.Memory != c.Sandbox.Memory || back.Model.Timeout != c.Model.Timeout || back.Model.Name != c.Model.Name {
		t.Errorf("round trip changed values: %+v", back)
	}
}

// TestParseErrorsNameKeys: type errors and unknown keys are reported with
// our dotted key, never a Go type name.
func TestParseErrorsNameKeys(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"map where string", "model:\n  provider:\n    name: openai\n", []string{"line 3: model.provider: want a string, got a mapping"}},
		{"list where string", "model:\n  name: [a, b]\n", []string{"line 2: model.name: want a string, got a list"}},
		{"string where bool", "hub:\n  vanilla: perhaps\n", []string{"line 2: hub.vanilla: want true or false"}},
		{"string where number", "sandbox:\n  pool: many\n", []string{"line 2: sandbox.pool: want a whole number"}},
		{"string where section", "model: openai\n", []string{"line 1: model: want a mapping of keys to values, got a string"}},
		{"unknown key", "model:\n  provder: openai\n", []string{"line 2: model.provder: unknown key"}},
		{"bad duration", "permissions:\n  prompt_timeout: soon\n", []string{"line 2: permissions.prompt_timeout:", "not a duration"}},
		{"bad size", "sandbox:\n  memory: lots\n", []string{"line 2: sandbox.memory:", "not a size"}},
		{"list item", "apps:\n  installed:\n    - [x]\n", []string{"line 3: apps.installed[0]: want a string, got a list"}},
		{"two errors", "model:\n  name: [a]\nhub:\n  vanilla: x\n", []string{"model.name", "hub.vanilla"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			err := Parse([]byte(tt.yaml), &c)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, goName := range []string{"config.", "!!", "unmarshal", "[]string"} {
				if strings.Contains(err.Error(), goName) {
					t.Errorf("error %q shows Go/YAML internals (%q)", err, goName)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"model:\n  provider: x\n", "a: [1, {b: c}]\n", "model: {name: [1]}\n", "- x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c Config
		_ = Parse([]byte(s), &c) // must not panic
	})
}
