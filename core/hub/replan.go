package hub

import (
	"context"

	"github.com/secgpt-go/secgpt/core/ids"
)

// replanExists asks the planner for a plan of t's query without the apps
// in exclude and reports whether it has a step. Only the answer is kept:
// a yes plans again, with whatever the user and the apps hold by then.
func (h *Hub) replanExists(ctx context.Context, t *turn, exclude map[ids.AppID]bool) bool {
	facts, err := h.o.Store.Entities(ctx, t.user)
	if err != nil {
		h.log.Error("read entity memory", "err", err)
		facts = nil
	}
	probe := &turn{h: h, user: t.user, conv: t.conv, session: t.session, query: t.query, exclude: exclude}
	p, err := probe.plan(ctx, facts, nil)
	if err != nil {
		h.log.Warn("planning a replan", "user", t.user, "err", err)
		return false
	}
	return len(p.Steps) > 0
}
