package standard_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/apps/relational"
	_ "github.com/secgpt-go/secgpt/apps/standard"
	"github.com/secgpt-go/secgpt/core/ids"
)

// The original's per-case lists (evaluation/*.json), which configs name.
var caseStudies = map[string][]ids.AppID{
	"app_compromise":                 {"quick_ride", "metro_hail"},
	"data_stealing":                  {"google_drive_retrieve", "send_gmail_message", "search_gmail", "delete_gmail_message"},
	"inadvertent_data_exposure":      {"travel_mate", "health_companion"},
	"uncontrolled_system_alteration": {"creative_muse", "symptom_solver"},
}

func TestRegistryHasEveryBuiltIn(t *testing.T) {
	want := []ids.AppID{
		"creative_muse", "delete_gmail_message", "get_gmail_message", "google_drive_retrieve",
		"health_companion", "metro_hail", "quick_ride", "search_gmail", "send_gmail_message",
		"symptom_solver", "travel_mate",
	}
	want = append(want, relational.IDs()...)
	got := apps.Registered()
	if len(got) != len(want) {
		t.Errorf("%d apps registered, want %d: %v", len(got), len(want), got)
	}
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Errorf("%s is not registered", id)
		}
	}
}

func TestCaseStudyCatalogs(t *testing.T) {
	for name, list := range caseStudies {
		t.Run(name, func(t *testing.T) {
			c, err := apps.NewCatalog(list)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.IDs(), list) {
				t.Errorf("catalog %v", c.IDs())
			}
		})
	}
}

// Every registered app's spec compiles, names its functionality after
// itself (as the original's functionality names), and asks for network
// only where it has a Google backend.
func TestEverySpec(t *testing.T) {
	network := map[ids.AppID]bool{
		"search_gmail": true, "get_gmail_message": true, "send_gmail_message": true,
		"delete_gmail_message": true, "google_drive_retrieve": true,
	}
	all, err := apps.NewCatalog(apps.Registered())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range all.IDs() {
		t.Run(string(id), func(t *testing.T) {
			a, _ := all.App(id)
			c := appstest.Compile(t, a)
			if (len(c.Spec.Domains) > 0) != network[id] {
				t.Errorf("domains %v", c.Spec.Domains)
			}
			if c.Spec.Annotation == "" && (len(c.Spec.Functions) != 1 || c.Spec.Functions[0].Name != string(id)) {
				t.Errorf("functions %+v", c.Spec.Functions)
			}
			if _, err := json.Marshal(c.Spec); err != nil {
				t.Error(err)
			}
		})
	}
}

// Every built-in function declares its effect: an undeclared one is treated
// as destroy, so a forgotten declaration would make every prompt for it
// look alarming and every send rule match it.
func TestEveryBuiltInDeclaresItsEffect(t *testing.T) {
	want := map[string]apps.Effect{"search_gmail": apps.EffectRead, "get_gmail_message": apps.EffectRead,
		"send_gmail_message": apps.EffectSend, "delete_gmail_message": apps.EffectDestroy,
		"travel_mate": apps.EffectSend, "health_companion": apps.EffectSend, "quick_ride": apps.EffectRead,
		"google_drive_retrieve": apps.EffectRead, "get_user_email": apps.EffectRead}
	for _, id := range apps.Registered() {
		a, err := apps.New(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Spec().Functions {
			if !f.Effect.Valid() {
				t.Errorf("%s.%s declares effect %q", id, f.Name, f.Effect)
			}
			if w, ok := want[f.Name]; ok && f.Effect != w {
				t.Errorf("%s declares %q, want %q", f.Name, f.Effect, w)
			}
		}
	}
	if got := (apps.Function{}).Declared(); got != apps.EffectDestroy {
		t.Errorf("undeclared effect reads as %q, want destroy", got)
	}
}
