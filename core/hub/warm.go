package hub

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
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

// warmTable holds the warm spokes of one hub. It is a Spawner wrapping
// next (see Start).
type warmTable struct {
	h    *Hub
	next Spawner
	idle time.Duration
	max  int

	mu    sync.Mutex // guards spoke and the warmSpoke fields it holds
	spoke map[warmKey]*warmSpoke
}

func newWarmTable(h *Hub, next Spawner, idle time.Duration, max int) *warmTable {
	if max <= 0 {
		max = DefaultMaxWarm
	}
	return &warmTable{h: h, next: next, idle: idle, max: max, spoke: map[warmKey]*warmSpoke{}}
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

// Start is the warm table as a Spawner (it wraps the hub's own, h.spawner,
// for external apps when warming is on): it hands out spec's (user, app)
// idle warm spoke, rearmed for this invocation, or starts a fresh spoke
// and keeps it as that (user, app)'s warm spoke when it can. A spoke it
// keeps or reuses comes as a *warmLease; any other as started.
//
// A spoke is kept or reused only at a known epoch of the user's app:
// without one, the invocation gets a spoke of its own. Only a spoke whose
// wall-clock bound can be rearmed per invocation is kept (a sandboxed
// process; not an in-process test spoke).
func (w *warmTable) Start(ctx context.Context, spec SpokeSpec) (Spoke, error) {
	k := warmKey{user: spec.User, app: spec.App}
	epoch, eerr := w.h.userEpoch(ctx, k.user, k.app)
	if eerr == nil {
		if ws := w.take(k, epoch); ws != nil {
			// A fresh wall-clock bound for this invocation, as a fresh
			// spoke would get.
			rearm(ws.proc, w.h.o.SpokeTimeout)
			return &warmLease{w: w, ws: ws, reused: true}, nil
		}
	}
	proc, err := w.next.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	if _, ok := rearmable(proc); !ok || eerr != nil {
		return proc, nil
	}
	ws, ok := w.adopt(k, proc, isc.NewConn(proc.Conn(), isc.HubSide, w.h.o.MaxFrame), epoch)
	if !ok {
		return proc, nil
	}
	return &warmLease{w: w, ws: ws}, nil
}

// warmLease is one invocation's hold on a warm spoke. Killing it ends the
// spoke and takes it out of the table; an invocation that ends with an
// answer gives it back with release instead.
type warmLease struct {
	w  *warmTable
	ws *warmSpoke
	// reused: an earlier invocation of the same (user, app) left the
	// spoke, and what it holds (ws.held) with it.
	reused bool
}

func (l *warmLease) Conn() io.ReadWriteCloser { return l.ws.proc.Conn() }
func (l *warmLease) Kill(reason string)       { l.w.kill(l.ws, reason) }
func (l *warmLease) KillReason() string       { return l.ws.proc.KillReason() }
func (l *warmLease) Wait() error              { return l.ws.proc.Wait() }
func (l *warmLease) PID() int                 { return l.ws.proc.PID() }

// Unwrap returns the warm spoke's own spoke.
func (l *warmLease) Unwrap() Spoke { return l.ws.proc }

// release gives the spoke back for the next invocation of its (user, app),
// holding the label of what the invocation that ends had (held).
func (l *warmLease) release(held label) {
	l.ws.held = held
	l.w.release(l.ws)
}

var (
	_ Spawner         = (*warmTable)(nil)
	_ UnwrappingSpoke = (*warmLease)(nil)
)
