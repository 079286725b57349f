package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/ids"
)

func TestGoogleApps(t *testing.T) {
	installed := []ids.AppID{"search_gmail", "get_gmail_message", "send_gmail_message", "google_drive_retrieve", "quick_ride"}
	settings := map[ids.AppID]json.RawMessage{
		"search_gmail":          json.RawMessage(`{"backend":"gmail"}`),
		"get_gmail_message":     json.RawMessage(`{"backend":"local"}`),
		"google_drive_retrieve": json.RawMessage(`{"backend":"drive"}`),
		"quick_ride":            json.RawMessage(`{"backend":"gmail"}`),
	}
	for _, tt := range []struct {
		name    string
		apps    []string
		want    []ids.AppID
		wantErr string
	}{
		{"default: the mail and drive apps on Google's backend", nil, []ids.AppID{"search_gmail", "google_drive_retrieve"}, ""},
		{"explicit list", []string{"send_gmail_message"}, []ids.AppID{"send_gmail_message"}, ""},
		{"explicit app not installed", []string{"delete_gmail_message"}, nil, "google.apps[0]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Google.Apps = tt.apps
			got, err := googleApps(cfg, installed, settings)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

// TestGoogleAppScopes: each bundled app's token carries only its own
// function's scope; google.app_scopes sets or changes an app's; an app
// with neither is refused, naming the key.
func TestGoogleAppScopes(t *testing.T) {
	cfg := config.Default()
	got, err := googleAppScopes(cfg, []ids.AppID{"search_gmail", "get_gmail_message", "send_gmail_message", "delete_gmail_message", "google_drive_retrieve"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[ids.AppID]string{"search_gmail": "gmail.readonly", "get_gmail_message": "gmail.readonly",
		"send_gmail_message": "gmail.send", "delete_gmail_message": "gmail.modify", "google_drive_retrieve": "drive.readonly"}
	for app, sc := range want {
		if len(got[app]) != 1 || !strings.HasSuffix(got[app][0], "/auth/"+sc) {
			t.Errorf("%s: scopes %v, want only %s", app, got[app], sc)
		}
	}
	cfg.Google.AppScopes = map[string][]string{"calendar_app": {"https://www.googleapis.com/auth/calendar.readonly"}}
	if got, err := googleAppScopes(cfg, []ids.AppID{"calendar_app"}); err != nil || len(got["calendar_app"]) != 1 {
		t.Errorf("configured scopes: %v %v", got, err)
	}
	if _, err := googleAppScopes(config.Default(), []ids.AppID{"calendar_app"}); err == nil || !strings.Contains(err.Error(), "google.app_scopes.calendar_app") {
		t.Errorf("app without scopes: %v", err)
	}
}
