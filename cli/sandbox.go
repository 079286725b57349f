package cli

import (
	"context"
	"log/slog"
	"strings"

	"github.com/secgpt-go/secgpt/sandbox"
)

// sandboxSummary logs what `secgpt doctor` reports and returns one line
// for the banner.
func sandboxSummary(ctx context.Context, c sandbox.Config, log *slog.Logger) string {
	if c.Off {
		return "OFF: spokes are separate processes but not confined (sandbox.mode: off)"
	}
	rep := sandbox.Doctor(ctx, c)
	var on, off []string
	for _, ch := range rep.Checks {
		log.Debug("sandbox protection", "name", ch.Name, "active", ch.Active, "detail", ch.Detail)
		if ch.Active {
			on = append(on, ch.Name)
		} else {
			off = append(off, ch.Name)
			log.Warn("sandbox protection unavailable", "name", ch.Name, "detail", ch.Detail)
		}
	}
	s := "on: " + strings.Join(on, ", ")
	if len(off) > 0 {
		s += "; UNAVAILABLE: " + strings.Join(off, ", ")
	}
	if rep.Error != "" {
		s += "; " + rep.Error
	}
	return s + " (details: secgpt doctor)"
}
