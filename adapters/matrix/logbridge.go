package matrix

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
)

// slogWriter receives mautrix's zerolog JSON lines and re-logs them through
// slog, so the bot has one log stream.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		w.log.Info(string(p))
		return len(p), nil
	}
	lvl := slog.LevelInfo
	switch m["level"] {
	case "trace", "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error", "fatal", "panic":
		lvl = slog.LevelError
	}
	msg, _ := m["message"].(string)
	if msg == "Request canceled" {
		lvl = slog.LevelDebug // every shutdown cancels the long-poll
	}
	delete(m, "level")
	delete(m, "message")
	delete(m, "time")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys)+2)
	args = append(args, "component", "mautrix")
	for _, k := range keys {
		args = append(args, k, m[k])
	}
	w.log.Log(context.Background(), lvl, msg, args...)
	return len(p), nil
}
