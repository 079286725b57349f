// Package auditcli implements `secgpt audit`: it parses the command's flags
// into a state.AuditFilter and prints matching audit events as a table or
// as JSON lines. It works on any state.Audit. Only cli/ and tests import it.
package auditcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Query is a parsed command line.
type Query struct {
	Filter state.AuditFilter
	// JSON selects one JSON object per line instead of a table.
	JSON bool
}

// Parse reads the flags of `secgpt audit`. --since and --until take a
// duration back from now ("90m", "24h") or an RFC 3339 time. Usage and
// errors go to stderr (nil means os.Stderr); -h gives flag.ErrHelp.
func Parse(args []string, now time.Time, stderr io.Writer) (Query, error) {
	if stderr == nil {
		stderr = os.Stderr
	}
	var q Query
	var user, app, kind, since, until string
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: secgpt audit [flags]\n\nPrint the permission audit log, oldest first.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&user, "user", "", "only events of this user (e.g. slack:T01/U02)")
	fs.StringVar(&app, "app", "", "only events where this app is the target or the requester")
	fs.StringVar(&kind, "kind", "", "only this permission kind: exec, data or collab")
	fs.StringVar((*string)(&q.Filter.Type), "type", "", "only this event type (decision, answer, flow, blocked_flow, monitor_refused, credential, spoke_killed, egress, egress_denied, forget, …: every type is an AuditType of core/vocab)")
	fs.StringVar(&since, "since", "", "only events at or after this time: a duration back from now (24h) or RFC 3339")
	fs.StringVar(&until, "until", "", "only events at or before this time: a duration back from now or RFC 3339")
	fs.IntVar(&q.Filter.Limit, "limit", 0, "only the newest N matching events (0: all)")
	fs.BoolVar(&q.JSON, "json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return Query{}, err
	}
	if fs.NArg() > 0 {
		return Query{}, fmt.Errorf("audit: unexpected argument %q", fs.Arg(0))
	}
	q.Filter.User = ids.UserID(user)
	q.Filter.App = ids.AppID(app)
	q.Filter.Kind = vocab.Kind(kind)
	if kind != "" && !q.Filter.Kind.Valid() {
		return Query{}, fmt.Errorf("audit: --kind %q: want exec, data or collab", kind)
	}
	if q.Filter.Limit < 0 {
		return Query{}, fmt.Errorf("audit: --limit %d: want 0 or more", q.Filter.Limit)
	}
	var err error
	if q.Filter.Since, err = ParseTime(since, now); err != nil {
		return Query{}, fmt.Errorf("audit: --since: %w", err)
	}
	if q.Filter.Until, err = ParseTime(until, now); err != nil {
		return Query{}, fmt.Errorf("audit: --until: %w", err)
	}
	if !q.Filter.Since.IsZero() && !q.Filter.Until.IsZero() && q.Filter.Until.Before(q.Filter.Since) {
		return Query{}, errors.New("audit: --until is before --since")
	}
	return q, nil
}

// ParseTime reads "" (zero time), a non-negative duration meaning that long
// before now, or an RFC 3339 time (a bare date is taken as midnight UTC).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("negative duration %q", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h) nor an RFC 3339 time", s)
}

// Print writes events as a table, or as JSON lines when asJSON.
func Print(w io.Writer, events []state.AuditEvent, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("write audit event: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tUSER\tTYPE\tKIND\tAPP\tDECISION\tDETAIL")
	for _, e := range events {
		app := string(e.App)
		if e.Requester != "" {
			app = string(e.Requester) + "→" + app
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			cell(e.ID), e.At.UTC().Format(time.RFC3339), cell(string(e.User)), cell(string(e.Type)),
			cell(string(e.Kind)), cell(app), cell(e.Decision), oneLine(e.Detail))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write audit table: %w", err)
	}
	return nil
}

// cell keeps a column readable: "-" for empty, no tabs or newlines.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}

// oneLine flattens control characters so that stored text cannot break
// the table or forge rows on a terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// Run is the whole command: parse args, read the log from a, print to
// stdout. Errors and usage go to stderr (nil means os.Stderr).
func Run(ctx context.Context, a state.Audit, args []string, stdout, stderr io.Writer) error {
	q, err := Parse(args, time.Now(), stderr)
	if err != nil {
		return err
	}
	events, err := a.ReadAudit(ctx, q.Filter)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return Print(stdout, events, q.JSON)
}
