package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

func runAudit(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer, _ *slog.Logger) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(errOut)
	user := fs.String("user", "", "only events of this SecGPT user id (e.g. slack:T1/U2)")
	app := fs.String("app", "", "only events where this app is the target or the requester")
	kind := fs.String("kind", "", "only this permission kind: exec, data or collab")
	typ := fs.String("type", "", "only this event type (decision, flow, blocked_flow, spoke_killed, egress, …)")
	since := fs.String("since", "", "only events after this: a duration back from now (24h) or an RFC 3339 time")
	until := fs.String("until", "", "only events before this RFC 3339 time")
	limit := fs.Int("limit", 100, "at most this many of the newest matching events (0: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f := state.AuditFilter{User: ids.UserID(*user), App: ids.AppID(*app), Kind: chat.Kind(*kind), Type: *typ, Limit: *limit}
	if f.Kind != "" && !f.Kind.Valid() {
		fmt.Fprintf(errOut, "secgpt audit: --kind %q is not exec, data or collab\n", *kind)
		return 2
	}
	var err error
	if f.Since, err = parseWhen(*since); err != nil {
		fmt.Fprintln(errOut, "secgpt audit: --since:", err)
		return 2
	}
	if f.Until, err = parseWhen(*until); err != nil {
		fmt.Fprintln(errOut, "secgpt audit: --until:", err)
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 1
	}
	defer st.Close()
	evs, err := st.ReadAudit(ctx, f)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		for _, e := range evs {
			_ = enc.Encode(e)
		}
		return 0
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tTYPE\tKIND\tREQUESTER\tAPP\tDECISION\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.User, e.Type, e.Kind, e.Requester, e.App, e.Decision, oneLine(e.Detail, 100))
	}
	_ = tw.Flush()
	return 0
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (24h) nor an RFC 3339 time", s)
	}
	return t, nil
}

func oneLine(s string, n int) string {
	b := []rune(s)
	for i, r := range b {
		if r == '\n' || r == '\t' {
			b[i] = ' '
		}
	}
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
