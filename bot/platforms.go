package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/slack"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state"
)

// serve runs an adapter's loop beside the deployment's background work.
func serve(ctx context.Context, d *deployment, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	err := run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func runSlack(ctx context.Context, cfg config.Config, args []string, errOut io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("slack", flag.ContinueOnError)
	fs.SetOutput(errOut)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	d, err := build(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	defer d.Close()
	printBanner(errOut, cfg.Log.Format, log, d)
	a, err := slack.New(slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, APIURL: cfg.Slack.APIURL,
		SuggestedPrompts: d.suggestedPrompts(), Threads: d.Store, Feedback: feedbackAudit(d.Store)}, d.Assistant, log)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt slack:", err)
		return 2
	}
	run := d.platformReady("slack", a, a.Run)
	if err := serve(ctx, d, run); err != nil {
		fmt.Fprintln(errOut, "secgpt slack:", err)
		return 1
	}
	return 0
}

func runMatrix(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	fs.SetOutput(errOut)
	setupXS := fs.Bool("setup-cross-signing", false, "once per bot account: create cross-signing keys, sign the bot's device, store them in secret storage, print the recovery key and exit (needs matrix.password and a build with -tags goolm)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m := cfg.Matrix
	dir := m.DataDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(cfg.Store.Path), "matrix")
	}
	d, err := build(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	defer d.Close()
	printBanner(errOut, cfg.Log.Format, log, d)
	a, err := matrix.New(matrix.Config{
		Homeserver: m.Homeserver, UserID: m.UserID, Password: m.Password, AccessToken: m.AccessToken, DeviceID: m.DeviceID,
		StateDir: dir, AllowUsers: m.AllowUsers, AllowServers: m.AllowServers, CommandPrefix: m.CommandPrefix,
		PickleKey: m.PickleKey, RecoveryKey: m.RecoveryKey, DisableEncryption: m.DisableEncryption, DeviceName: m.DeviceName,
	}, d.Assistant, log)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt matrix:", err)
		return 2
	}
	if *setupXS {
		key, err := a.SetupCrossSigning(ctx)
		if err != nil {
			fmt.Fprintln(errOut, "secgpt matrix --setup-cross-signing:", err)
			return 1
		}
		fmt.Fprintf(errOut, "Cross-signing is set up. Keep this recovery key like a password and put it in matrix.recovery_key (or MATRIX_RECOVERY_KEY):\n")
		fmt.Fprintln(out, key)
		return 0
	}
	run := d.platformReady("matrix", a, a.Run)
	if err := serve(ctx, d, run); err != nil {
		fmt.Fprintln(errOut, "secgpt matrix:", err)
		return 1
	}
	return 0
}

// feedbackAudit records a click on a Slack reply's feedback buttons in the
// audit log: who, which message and the verdict, never the reply's text.
func feedbackAudit(st state.Audit) func(context.Context, slack.Feedback) error {
	return func(ctx context.Context, f slack.Feedback) error {
		verdict := "bad"
		if f.Good {
			verdict = "good"
		}
		err := st.AppendAudit(ctx, state.AuditEvent{At: time.Now(), User: f.User, Type: "feedback", Decision: verdict,
			Detail: "slack message " + f.Channel + "/" + f.MessageTS})
		if err != nil {
			return fmt.Errorf("audit feedback: %w", err)
		}
		return nil
	}
}

// readier is an adapter that says when it is connected (Matrix: logged in
// and first sync done).
type readier interface {
	Ready() <-chan struct{}
}

// platformReady adds the platform's /readyz check, when the listener is on,
// and returns run wrapped so the check fails once run has returned. An
// adapter without Ready counts as ready while its loop runs.
func (d *deployment) platformReady(name string, adapter any, run func(context.Context) error) func(context.Context) error {
	d.notices.set(adapter)
	if d.Server == nil {
		return run
	}
	var running atomic.Bool
	ready, _ := adapter.(readier)
	d.Server.AddCheck(name, func(context.Context) error {
		if !running.Load() {
			return fmt.Errorf("%s adapter is not running", name)
		}
		if ready == nil {
			return nil
		}
		select {
		case <-ready.Ready():
			return nil
		default:
			return fmt.Errorf("%s adapter is not connected yet", name)
		}
	})
	return func(ctx context.Context) error {
		running.Store(true)
		defer running.Store(false)
		return run(ctx)
	}
}
