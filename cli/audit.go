package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/ops/auditcli"
	"github.com/secgpt-go/secgpt/ops/auditsock"
)

// auditLockWait is how long `secgpt audit` waits for the bolt file's lock
// before asking the running bot instead.
const auditLockWait = 300 * time.Millisecond

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
	evs, err := readAudit(ctx, cfg, q.Filter)
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

// readAudit reads the audit log from the configured store. Redis serves
// any number of readers. A bolt file is locked by the bot that has it
// open, so when the lock does not come within auditLockWait the running
// bot is asked over its audit socket (ops/auditsock).
func readAudit(ctx context.Context, cfg config.Config, f state.AuditFilter) ([]state.AuditEvent, error) {
	if cfg.Store.Backend != "bolt" {
		st, err := openStore(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		return st.ReadAudit(ctx, f)
	}
	if _, err := os.Stat(cfg.Store.Path); errors.Is(err, os.ErrNotExist) {
		// Nothing has run yet: there is no log, and no reason to create
		// the file.
		return nil, nil
	}
	st, err := bolt.Open(cfg.Store.Path, bolt.Options{LockTimeout: auditLockWait})
	if err == nil {
		defer st.Close()
		return st.ReadAudit(ctx, f)
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open state file %s: %w", cfg.Store.Path, err)
	}
	sock := auditsock.Path(cfg.Store.Path)
	owner, err := auditsock.FileOwner(cfg.Store.Path)
	if err != nil {
		return nil, err
	}
	evs, serr := auditsock.Read(ctx, sock, owner, f)
	if serr != nil {
		return nil, fmt.Errorf("state file %s is locked by another process (a running secgpt?), and its audit socket did not answer: %w", cfg.Store.Path, serr)
	}
	return evs, nil
}

// listenAudit, when the store is the bolt file, binds the socket Run
// serves `secgpt audit` on.
func (d *deployment) listenAudit(cfg config.Config, rawStore state.Store) {
	if _, isBolt := rawStore.(*bolt.Store); isBolt {
		// Other processes cannot open the locked file; `secgpt audit`
		// asks here instead. Without the socket only audit is affected.
		ln, err := auditsock.Listen(auditsock.Path(cfg.Store.Path))
		if err != nil {
			d.log.Warn("secgpt audit will not work while this bot runs", "err", err)
		} else {
			d.auditLn = ln
			// Serve closes it when Run's context ends; this covers a
			// deployment that never ran. A second Close is harmless.
			d.closers = append(d.closers, func() error { _ = ln.Close(); return nil })
		}
	}
}
