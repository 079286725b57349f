package cli

import (
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/vanilla"
)

// useVanilla makes the deployment's assistant VanillaGPT, the
// non-isolated baseline (--vanilla): every app in one process and one
// model context, no sandbox, no MCP servers.
func (d *deployment) useVanilla(cfg config.Config, a *appSet, model llm.Model) error {
	if len(cfg.MCP.Servers) > 0 {
		d.log.Warn("MCP servers are not installed in the VanillaGPT baseline (it has no sandbox to run them in)")
	}
	v, err := vanilla.New(vanilla.Options{Store: d.Store, Catalog: a.cat, Model: model, AppConfig: a.appCfg, MaxSteps: cfg.Hub.MaxSpokeSteps, Logger: d.log})
	if err != nil {
		return err
	}
	d.Assistant = d.metrics.Assistant(v)
	d.sandbox = "none (VanillaGPT runs every app in its own process)"
	return nil
}
