package hub

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/sandbox"
)

// DefaultMaxWarm bounds the warm spokes kept at once when Options.MaxWarm
// is 0.
const DefaultMaxWarm = 32

// warmKey is whose a warm spoke is: one user's invocations of one app.
// Nothing else ever reuses it.
type warmKey struct {
	user ids.UserID
	app  ids.AppID
}

// warmSpoke is a sandboxed spoke kept between invocations of one (user,
// app): an external app's server stays up inside it, and each invocation
// still gets its own Init, its own agent loop and model context, its own
// exec decision and its own wall-clock bound.
type warmSpoke struct {
	key  warmKey
	proc Spoke
	conn *isc.Conn
	// epoch is the user's epoch for the app when the spoke started; a
	// spoke of another epoch holds state from before a forget, revoke,
	// new session or denial on some replica, and is not reused.
	epoch int64
	// held is the label of what the spoke's process keeps from the
	// invocations it served (an MCP server's own memory): the next
	// invocation holds it too. Only the invocation that has taken the
	// spoke touches it.
	held label
	// The fields below are guarded by warmTable.mu.
	busy   bool
	gone   bool        // killed or exited: never handed out again
	idle   *time.Timer // reaps it after the idle timeout; nil while busy
	lastAt time.Time
}

// warmTable holds the warm spokes of one hub.
type warmTable struct {
	h    *Hub
	idle time.Duration
	max  int

	mu    sync.Mutex // guards spoke and the warmSpoke fields it holds
	spoke map[warmKey]*warmSpoke
}

func newWarmTable(h *Hub, idle time.Duration, max int) *warmTable {
	if max <= 0 {
		max = DefaultMaxWarm
	}
	return &warmTable{h: h, idle: idle, max: max, spoke: map[warmKey]*warmSpoke{}}
}

// take returns the idle warm spoke of k, marked busy, or nil when there is
// none (or it is busy with another invocation of the same user and app,
// which then runs in a spoke of its own). An idle spoke of another epoch
// is ended instead.
func (w *warmTable) take(k warmKey, epoch int64) *warmSpoke {
	w.mu.Lock()
	ws := w.spoke[k]
	if ws == nil || ws.busy || ws.gone {
		w.mu.Unlock()
		return nil
	}
	if ws.epoch != epoch {
		w.forgetLocked(ws)
		w.mu.Unlock()
		ws.proc.Kill("stale: the user's data or permissions changed on another replica")
		w.h.trace(TraceEvent{User: k.user, App: k.app, Type: vocab.TraceWarmDrop, Detail: "stale epoch"})
		return nil
	}
	defer w.mu.Unlock()
	if ws.idle != nil {
		ws.idle.Stop()
		ws.idle = nil
	}
	ws.busy = true
	return ws
}

// adopt records a freshly started spoke as k's warm spoke, busy with the
// invocation that started it. It reports false when k already has one
// (the new spoke then serves one invocation only).
func (w *warmTable) adopt(k warmKey, proc Spoke, conn *isc.Conn, epoch int64) (*warmSpoke, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old := w.spoke[k]; old != nil && !old.gone {
		return nil, false
	}
	ws := &warmSpoke{key: k, proc: proc, conn: conn, busy: true, epoch: epoch}
	w.spoke[k] = ws
	go func() {
		// Whatever ends the process (a limit, a kill, its own exit), the
		// table forgets it and the next invocation starts a fresh one.
		werr := proc.Wait()
		w.forget(ws)
		w.h.trace(TraceEvent{User: k.user, App: k.app, Type: vocab.TraceWarmEnd, Detail: strconv.Itoa(proc.PID()) + " " + proc.KillReason(), PID: proc.PID()})
		w.h.log.Debug("warm spoke ended", "app", k.app, "pid", proc.PID(), "reason", proc.KillReason(), "exit", werr)
	}()
	return ws, true
}

// release puts ws back after an invocation that ended with an answer: it
// waits for the next invocation of its (user, app) until the idle timeout.
// The least recently used idle spoke is ended when more than max are kept.
func (w *warmTable) release(ws *warmSpoke) {
	rearm(ws.proc, 0)
	w.mu.Lock()
	if ws.gone {
		w.mu.Unlock()
		return
	}
	ws.busy = false
	ws.lastAt = w.h.o.Now()
	ws.idle = time.AfterFunc(w.idle, func() { w.reap(ws, "idle timeout") })
	var victim *warmSpoke
	if len(w.spoke) > w.max {
		for _, o := range w.spoke {
			if !o.busy && !o.gone && (victim == nil || o.lastAt.Before(victim.lastAt)) {
				victim = o
			}
		}
	}
	w.mu.Unlock()
	if victim != nil {
		w.reap(victim, "too many warm spokes")
	}
}

// reap ends ws if it is still idle: an invocation that took it in the
// meantime keeps it.
func (w *warmTable) reap(ws *warmSpoke, reason string) {
	w.mu.Lock()
	if ws.busy || ws.gone {
		w.mu.Unlock()
		return
	}
	// Marked gone under the lock that take holds: no invocation can take
	// it between this check and the kill.
	w.forgetLocked(ws)
	w.mu.Unlock()
	ws.proc.Kill(reason)
}

// kill ends ws now, busy or not.
func (w *warmTable) kill(ws *warmSpoke, reason string) {
	w.forget(ws)
	ws.proc.Kill(reason)
}

// forget removes ws from the table.
func (w *warmTable) forget(ws *warmSpoke) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetLocked(ws)
}

// forgetLocked is forget with w.mu held.
func (w *warmTable) forgetLocked(ws *warmSpoke) {
	ws.gone = true
	if ws.idle != nil {
		ws.idle.Stop()
		ws.idle = nil
	}
	if w.spoke[ws.key] == ws {
		delete(w.spoke, ws.key)
	}
}

// drop kills user's warm spokes of app ("" for every app of the user):
// after a revoke, a forget, a new session or a denied invocation nothing
// of the earlier invocations' server stays up.
func (w *warmTable) drop(user ids.UserID, app ids.AppID, reason string) int {
	w.mu.Lock()
	var victims []*warmSpoke
	for k, ws := range w.spoke {
		if k.user == user && (app == "" || k.app == app) {
			victims = append(victims, ws)
		}
	}
	w.mu.Unlock()
	for _, ws := range victims {
		w.kill(ws, reason)
	}
	return len(victims)
}

// closeAll kills every warm spoke.
func (w *warmTable) closeAll() {
	w.mu.Lock()
	var all []*warmSpoke
	for _, ws := range w.spoke {
		all = append(all, ws)
	}
	w.mu.Unlock()
	for _, ws := range all {
		w.kill(ws, "hub closed")
		_ = ws.proc.Wait()
	}
}

// warmable reports whether app's spokes may be kept warm: an external
// program's (an MCP server's), whose start is what warming saves, and only
// when an idle timeout is configured.
func (h *Hub) warmable(external bool) bool { return h.warm != nil && external }

// dropWarm kills user's warm spokes of app ("" for all), auditing why,
// and tells the other replicas to do the same (see replicas.go).
func (h *Hub) dropWarm(ctx context.Context, user ids.UserID, app ids.AppID, reason string) {
	h.dropLocal(ctx, user, app, reason)
	h.publishUserEvent(ctx, user, app, reason)
}

// dropLocal kills this replica's warm spokes of user's app ("" for all).
func (h *Hub) dropLocal(ctx context.Context, user ids.UserID, app ids.AppID, reason string) {
	if h.warm == nil {
		return
	}
	if n := h.warm.drop(user, app, reason); n > 0 {
		h.log.Info("warm spokes ended", "user", user, "app", app, "n", n, "reason", reason)
		h.trace(TraceEvent{User: user, App: app, Type: vocab.TraceWarmDrop, Detail: reason})
		h.audit(ctx, state.AuditEvent{User: user, Type: vocab.AuditWarmSpokeEnded, App: app, Detail: fmt.Sprintf("%d warm spoke(s): %s", n, reason)})
	}
}

// Close ends the hub's warm spokes. Spokes of invocations still running
// end with those invocations.
func (h *Hub) Close() error {
	if h.warm != nil {
		h.warm.closeAll()
	}
	return nil
}

// invokeWarm runs inv in its (user, app)'s warm spoke, starting one when
// there is none. It is invoke for external apps when warming is on.
func (h *Hub) invokeWarm(ctx context.Context, inv *invocation, pol sandbox.Policy) (isc.Final, error) {
	sp := inv.app.Spec()
	k := warmKey{user: inv.turn.user, app: sp.ID}
	// A spoke is kept or reused only at a known epoch: without one, this
	// invocation gets a spoke of its own.
	epoch, eerr := h.userEpoch(ctx, k.user, k.app)
	var ws *warmSpoke
	if eerr == nil {
		ws = h.warm.take(k, epoch)
	}
	var proc Spoke
	var conn *isc.Conn
	warm := true
	if ws != nil {
		proc, conn = ws.proc, ws.conn
		// A fresh wall-clock bound for this invocation, as a fresh spoke
		// would get.
		rearm(proc, h.o.SpokeTimeout)
		inv.absorb(ws.held)
		h.trace(TraceEvent{User: k.user, App: sp.ID, Type: vocab.TraceSpokeReuse, Detail: strconv.Itoa(proc.PID())})
	} else {
		var err error
		proc, err = h.o.Spawner.Start(ctx, pol)
		if err != nil {
			h.log.Error("start spoke", "app", sp.ID, "err", err)
			return isc.Final{}, publicf(err, "app %s could not be started", sp.ID)
		}
		h.trace(TraceEvent{User: k.user, App: sp.ID, Type: vocab.TraceSpokeStart, Detail: strconv.Itoa(proc.PID()), PID: proc.PID()})
		conn = isc.NewConn(proc.Conn(), isc.HubSide, h.o.MaxFrame)
		// Only a spoke whose wall-clock bound can be rearmed per
		// invocation is kept (a sandboxed process; not an in-process
		// test spoke).
		warm = false
		if _, ok := proc.(rearmer); ok && eerr == nil {
			ws, warm = h.warm.adopt(k, proc, conn, epoch)
		}
		if !warm {
			go func() {
				_ = proc.Wait()
				h.trace(TraceEvent{User: k.user, App: sp.ID, Type: vocab.TraceSpokeEnd, Detail: proc.KillReason(), PID: proc.PID()})
			}()
		}
	}
	inv.turn.status(ctx, "Running app "+string(sp.ID)+"…")
	stop := context.AfterFunc(ctx, func() { proc.Kill("request cancelled") })
	defer stop()
	inv.warm = warm
	fin, serr := h.serve(ctx, inv, conn)
	if serr == nil && stop() {
		if warm {
			ws.held = inv.inputs()
			h.warm.release(ws)
		} else {
			proc.Kill("done")
		}
		return fin, nil
	}
	if serr == nil {
		// The request was cancelled as the answer came in: the spoke has
		// been killed, the answer stands.
		return fin, nil
	}
	if warm {
		h.warm.forget(ws)
	}
	return isc.Final{}, h.spokeFailed(ctx, inv, proc, serr)
}

// rearmer is a Spoke whose wall-clock bound can be restarted (a sandboxed
// process, sandbox.Proc.Rearm).
type rearmer interface {
	Rearm(d time.Duration)
}

// rearm restarts s's wall-clock bound at d (d <= 0 disarms it).
func rearm(s Spoke, d time.Duration) {
	if r, ok := s.(rearmer); ok {
		r.Rearm(d)
	}
}
