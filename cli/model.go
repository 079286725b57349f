package cli

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/llm/provider"
	"github.com/secgpt-go/secgpt/ops/metrics"
)

func newModel(ctx context.Context, cfg config.Config, met *metrics.Metrics) (llm.Model, string, error) {
	if cfg.Model.Provider == "offline" {
		return met.Model(offline.Model{}), offline.Name, nil
	}
	pc := provider.Config{Provider: cfg.Model.Provider, Model: cfg.Model.Name, BaseURL: cfg.Model.BaseURL, APIKey: cfg.Model.APIKey, Timeout: cfg.Model.Timeout.D(),
		Retries: modelRetries(cfg.Model.Retries), APIVersion: cfg.Model.APIVersion, Region: cfg.Model.Region}
	if met != nil {
		pc.OnRetry = met.ModelRetry
	}
	m, err := provider.New(ctx, pc)
	if err != nil {
		return nil, "", fmt.Errorf("model: %w", err)
	}
	return met.Model(m), provider.Describe(pc), nil
}

// modelRetries maps model.retries (0: never) to provider.Config.Retries
// (0: the default, negative: never).
func modelRetries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// useModel makes the hub's model and names it for the banner.
func (d *deployment) useModel(ctx context.Context, cfg config.Config) (llm.Model, error) {
	model, desc, err := newModel(ctx, cfg, d.metrics)
	if err != nil {
		return nil, err
	}
	d.modelDesc = desc
	return model, nil
}
