package cli

import (
	"encoding/json"
	"fmt"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/ids"
)

func installedApps(cfg config.Config) ([]ids.AppID, error) {
	if len(cfg.Apps.Installed) == 0 {
		return apps.Registered(), nil
	}
	var out []ids.AppID
	known := map[ids.AppID]bool{}
	for _, id := range apps.Registered() {
		known[id] = true
	}
	for i, a := range cfg.Apps.Installed {
		if !known[ids.AppID(a)] {
			return nil, &config.KeyError{Key: fmt.Sprintf("apps.installed[%d]", i), Msg: fmt.Sprintf("no app %q (built-in apps: %v)", a, apps.Registered())}
		}
		out = append(out, ids.AppID(a))
	}
	return out, nil
}

// appSet is what installing the built-in apps hands the later steps.
type appSet struct {
	installed []ids.AppID                   // the built-in apps installed (apps.installed)
	cat       *apps.Catalog                 // their catalog; MCP servers are added to it
	appCfg    map[ids.AppID]json.RawMessage // each app's settings (apps.settings)
	pols      *appPolicies                  // per-app spoke policies
}

// installApps installs the built-in apps the config names (all of them by
// default) and reads their settings and spoke policies.
func (d *deployment) installApps(cfg config.Config) (*appSet, error) {
	installed, err := installedApps(cfg)
	if err != nil {
		return nil, err
	}
	d.apps = installed
	cat, err := apps.NewCatalog(installed)
	if err != nil {
		return nil, fmt.Errorf("install apps: %w", err)
	}
	settings, err := cfg.AppSettings()
	if err != nil {
		return nil, err
	}
	appCfg := map[ids.AppID]json.RawMessage{}
	for id, raw := range settings {
		appCfg[ids.AppID(id)] = raw
	}
	pols, err := newAppPolicies(cfg, appCfg, nil)
	if err != nil {
		return nil, err
	}
	return &appSet{installed: installed, cat: cat, appCfg: appCfg, pols: pols}, nil
}
