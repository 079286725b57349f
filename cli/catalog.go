package cli

import (
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
