package sandbox

import (
	"context"
	"log/slog"
	"sync"
)

// warnings makes a "less restrictive" warning a WARN record the first time
// a Spawner starts an app's spoke with it, and a Debug record after: the
// operator needs to read it once per app, and an MCP server, whose spokes
// may always run programs, would otherwise fill the log with one per
// start. The later records keep the information for a debug log.
type warnings struct {
	mu   sync.Mutex // guards seen
	seen map[warnKey]bool
}

type warnKey struct{ msg, app string }

// log records msg about app at WARN the first time, at Debug after.
func (w *warnings) log(l *slog.Logger, msg, app string) {
	k := warnKey{msg, app}
	w.mu.Lock()
	first := !w.seen[k]
	if first {
		if w.seen == nil {
			w.seen = map[warnKey]bool{}
		}
		w.seen[k] = true
	}
	w.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	l.Log(context.Background(), level, msg, "app", app)
}
