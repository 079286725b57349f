package cli

import (
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/llm/provider"
)

// TestDefaultModelTimeoutAgrees: README and docs/models.md document one
// default for model.timeout; the config default and the provider's own
// fallback must both be it.
func TestDefaultModelTimeoutAgrees(t *testing.T) {
	if got := config.Default().Model.Timeout.D(); got != provider.DefaultTimeout {
		t.Errorf("config default model.timeout = %v, provider.DefaultTimeout = %v", got, provider.DefaultTimeout)
	}
	if got := config.Default().Model.Retries; got != provider.DefaultRetries {
		t.Errorf("config default model.retries = %d, provider.DefaultRetries = %d", got, provider.DefaultRetries)
	}
}

func TestModelRetries(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, -1}, {1, 1}, {3, 3}} {
		if got := modelRetries(tt.in); got != tt.want {
			t.Errorf("modelRetries(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
