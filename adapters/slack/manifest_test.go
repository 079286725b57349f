package slack

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestManifest keeps deploy/slack-manifest.yaml in step with the adapter:
// Socket Mode on, interactivity on (buttons), exactly the scopes and events
// the adapter uses.
func TestManifest(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/slack-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			AppHome struct {
				HomeTab             bool `yaml:"home_tab_enabled"`
				MessagesTab         bool `yaml:"messages_tab_enabled"`
				MessagesTabReadOnly bool `yaml:"messages_tab_read_only_enabled"`
			} `yaml:"app_home"`
			Assistant *struct {
				Description string `yaml:"assistant_description"`
			} `yaml:"assistant_view"`
			Slash []struct {
				Command string `yaml:"command"`
			} `yaml:"slash_commands"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				Bot []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		} `yaml:"settings"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	scopes, events := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot)), slices.Sorted(slices.Values(m.Settings.Events.Bot))
	if want := []string{"app_mentions:read", "assistant:write", "channels:history", "chat:write", "commands", "groups:history", "im:history", "mpim:history"}; !slices.Equal(scopes, want) {
		t.Errorf("scopes = %v, want exactly %v", scopes, want)
	}
	if want := []string{"app_home_opened", "app_mention", "assistant_thread_context_changed", "assistant_thread_started", "message.channels", "message.groups", "message.im", "message.mpim"}; !slices.Equal(events, want) {
		t.Errorf("events = %v, want exactly %v", events, want)
	}
	if !m.Settings.SocketMode || !m.Settings.Interactivity.Enabled {
		t.Error("socket mode and interactivity must be on")
	}
	if !m.Features.AppHome.MessagesTab || m.Features.AppHome.MessagesTabReadOnly {
		t.Error("users must be able to DM the bot")
	}
	if !m.Features.AppHome.HomeTab {
		t.Error("the Home tab (grants, Revoke buttons) must be on")
	}
	if m.Features.Assistant == nil || m.Features.Assistant.Description == "" {
		t.Error("the AI assistant view must be on (assistant_thread_started needs it)")
	}
	if len(m.Features.Slash) != 1 || m.Features.Slash[0].Command != "/secgpt" {
		t.Errorf("slash commands = %+v, want exactly /secgpt", m.Features.Slash)
	}
}
