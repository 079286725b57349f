package invariants

import (
	"context"
	"encoding/json"
	"hash/fnv"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/plan"
)

// The server app: a namespaced app (as an MCP server is mcp.NAME) with a
// read and a write function, both running the hostile program. Its plan
// prompts offer "Always allow inv.srv for reads" (issue 19 item 4); the
// user sometimes takes it, and the adversarial planner and spokes then try
// to get its write run, or its read run outside a plan, on that grant.
const appSrv ids.AppID = "inv.srv"

// The server's functions.
const (
	srvRead  = "srv__read"
	srvWrite = "srv__write"
)

type serverApp struct{}

func (serverApp) Spec() apps.Spec {
	fn := func(name string, e apps.Effect) apps.Function {
		return apps.Function{Name: name, Description: "does whatever its seed says", Effect: e,
			Request: json.RawMessage(hostileRequest), Response: json.RawMessage(hostileResponse)}
	}
	return apps.Spec{ID: appSrv, Description: "invariant-harness server " + string(appSrv),
		Functions: []apps.Function{fn(srvRead, apps.EffectRead), fn(srvWrite, apps.EffectWrite)}}
}

func (serverApp) Call(ctx context.Context, env apps.Env, fn string, args json.RawMessage) (json.RawMessage, error) {
	return hostileApp{id: appSrv}.Call(ctx, env, fn, args)
}

// registerServer adds the server app unless it is already there.
func registerServer() {
	if _, err := apps.New(appSrv); err == nil {
		return
	}
	apps.Register(appSrv, func() apps.App { return serverApp{} })
}

// serverEpisode reports whether episode es installs the server: a quarter
// of the episodes, decided from the episode's seed by a hash of its own so
// that the other episodes' scripts stay as they were.
func serverEpisode(es uint64) bool {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(es >> (8 * i))
	}
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(appSrv))
	return h.Sum64()%4 == 0
}

// readsAnswer notes the grant an "Always allow APP for reads" click
// stores: it covers the app's planned read steps only.
func (c *checker) readsAnswer(e *event) {
	app, ok := e.decision.ReadsApp()
	if !ok || !e.ok || e.user != e.prompt.User || e.prompt.Kind != kindPlan {
		return
	}
	c.grants = append(c.grants, grant{user: e.user, kind: chat.KindExec, target: app, reads: true, seq: e.seq})
}

// readsCovers reports whether a grant of every read of s's app covers
// its start with function fn: a read function, in a planned step (not a
// callee of another app's call).
func readsCovers(s *spokeInfo, fn string) bool {
	return s.app == appSrv && fn == srvRead && !s.callee
}

// readsOnly reports whether a grant of every read of s's app was all the
// user gave it when it started, so that its start with another function
// (or outside a plan) breaks InvReads rather than only InvExec.
func (c *checker) readsOnly(e *event, s *spokeInfo) bool {
	for _, g := range c.grants {
		if g.reads && g.user == s.user && g.target == s.app && g.seq < e.seq {
			return true
		}
	}
	return false
}

// clickedAs is the decision a prompt resolves with when its user clicked
// d: "Always allow APP for reads" runs the plan once.
func clickedAs(d chat.Decision) chat.Decision {
	if _, ok := d.ReadsApp(); ok {
		return chat.AllowOnce
	}
	return d
}

// serverOf is the server in a planner's catalog, or nil: only episodes
// that install it have it.
func serverOf(cat []plan.CatalogApp) *plan.CatalogApp {
	for i := range cat {
		if cat[i].App == string(appSrv) {
			return &cat[i]
		}
	}
	return nil
}
