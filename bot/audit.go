package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state/auditcli"
)

func runAudit(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer, _ *slog.Logger) int {
	// Parse first, so a bad flag is reported without touching the store.
	q, err := auditcli.Parse(args, time.Now(), errOut)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 1
	}
	defer st.Close()
	evs, err := st.ReadAudit(ctx, q.Filter)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 1
	}
	if err := auditcli.Print(out, evs, q.JSON); err != nil {
		fmt.Fprintln(errOut, "secgpt audit:", err)
		return 1
	}
	return 0
}
