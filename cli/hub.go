package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// newHub builds the hub that is the deployment's assistant: its spokes
// in the sandbox, its options from the config, metrics fed from its trace,
// the relay between replicas on Redis, linked accounts (Google, MCP
// sign-in) and the operator's permission rules.
func (d *deployment) newHub(cfg config.Config, a *appSet, model llm.Model, sp *sandbox.Spawner, limits hub.SpokeLimits, rawStore state.Store) error {
	st := d.Store
	relay, replicaID := d.joinReplicas(cfg, rawStore)
	ho := hub.Options{
		Store: st, Catalog: a.cat, Model: model, Spawner: d.metrics.Spawner(hubspawn.New(sp)), AppConfig: a.appCfg,
		PromptTimeout: cfg.Permissions.PromptTimeout.D(), SessionIdle: cfg.Permissions.SessionIdle.D(),
		SpokeTimeout: cfg.Sandbox.Timeout.D(),
		Limits:       limits, SpokePolicy: a.pols.apply,
		MaxSpokeSteps: cfg.Hub.MaxSpokeSteps, MaxFrame: int(cfg.Hub.MaxFrame), Logger: d.log,
		WarmIdle: cfg.MCP.IdleTimeout.D(), MaxWarm: cfg.MCP.MaxWarm,
		StateQuota: state.Quota{Keys: cfg.Hub.StateQuotaKeys, Bytes: int64(cfg.Hub.StateQuotaBytes)},
		UserData:   userData(cfg),
		ReplicaID:  replicaID,
	}
	if d.metrics != nil {
		ho.Trace = func(e hub.TraceEvent) {
			// The hub reports a kill reason only for spokes that ended
			// without an answer.
			if e.Type == vocab.TraceSpokeEnd && e.Detail != "" {
				d.metrics.SpokeKilled(e.Detail)
			}
			if e.Type == vocab.TraceUnaudited {
				d.metrics.Unaudited(e.Detail)
			}
		}
	}
	if relay != nil {
		ho.Relay, ho.Liveness, ho.UserEvents = relay, relay, relay
	}
	g, err := newGoogle(cfg, d, st, a.installed, a.appCfg, d.log)
	if err != nil {
		return err
	}
	ho.Accounts = hubAccounts(g, a.pols.signIn)
	if ho.Rules, err = permissionRules(cfg.Permissions.Rules); err != nil {
		return err
	}
	h, err := hub.New(ho)
	if err != nil {
		return err
	}
	d.hub = h
	d.closers = append(d.closers, h.Close)
	d.Assistant = d.metrics.Assistant(h)
	return nil
}

// joinReplicas names this replica (hub.replica_id, else host and pid:
// audit entries name the replica that took each answer, with one replica
// too) and, on Redis, returns the relay between replicas and keeps this
// replica's heartbeat in Run.
func (d *deployment) joinReplicas(cfg config.Config, rawStore state.Store) (*redis.Relay, string) {
	var relay *redis.Relay
	replicaID := cfg.Hub.ReplicaID
	if replicaID == "" {
		host, _ := os.Hostname()
		replicaID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if rs, ok := rawStore.(*redis.Store); ok {
		log := d.log
		relay = rs.Relay(redis.RelayOptions{Logger: log})
		d.heartbeat = func(ctx context.Context) { heartbeat(ctx, relay, replicaID, log) }
		d.sandbox += "; replica " + replicaID
	}
	return relay, replicaID
}

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
