package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/state/redis"
)

// heartbeatTTL is how long a replica counts as alive after its last beat.
const heartbeatTTL = 15 * time.Second

// heartbeat keeps this replica's liveness key fresh until ctx ends, so
// other replicas can tell a crashed replica's prompts from a live one's.
func heartbeat(ctx context.Context, r *redis.Relay, id string, log *slog.Logger) {
	t := time.NewTicker(heartbeatTTL / 3)
	defer t.Stop()
	for {
		if err := r.Heartbeat(ctx, id, heartbeatTTL); err != nil && ctx.Err() == nil {
			log.Warn("replica heartbeat", "replica", id, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// permissionRules parses the config's permissions.rules.
func permissionRules(raw []map[string]string) ([]gate.Rule, error) {
	var out []gate.Rule
	for i, r := range raw {
		for action, pattern := range r {
			ru, err := gate.ParseRule(action, pattern)
			if err != nil {
				return nil, &config.KeyError{Key: fmt.Sprintf("permissions.rules[%d]", i), Msg: err.Error()}
			}
			out = append(out, ru)
		}
	}
	return out, nil
}
