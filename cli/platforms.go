package cli

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
	"github.com/secgpt-go/secgpt/adapters/stdin"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/state"
)

// platform is a chat platform's adapter as the bot runs it: Slack, Matrix
// or the terminal. An adapter that is also a chat.Notifier is how the
// hub's notices reach users' DMs; one that is also a readier tells /readyz
// when it is connected.
type platform interface {
	// Run serves the platform's users until ctx ends or the connection
	// fails for good. It blocks. Once ctx is cancelled it returns nil or
	// an error wrapping context.Canceled.
	Run(ctx context.Context) error
}

// readier is a platform that says when it is connected (Matrix: logged in
// and first sync done).
type readier interface {
	Ready() <-chan struct{}
}

// platformCmd is how a command that serves one chat platform (slack,
// matrix) makes its adapter once the deployment is built. runPlatform runs
// every one the same way.
type platformCmd struct {
	// open makes the adapter. It does no network I/O; an error is a
	// configuration error (exit code 2).
	open func(ctx context.Context, d *deployment) (platform, error)
	// instead, when not nil, is run once open has succeeded, in place of
	// serving the adapter, and gives the exit code (matrix
	// --setup-cross-signing).
	instead func(ctx context.Context) int
}

// runPlatform runs a platform's command once its flags are parsed: it
// builds the deployment, prints the banner, makes the adapter and serves
// it until ctx ends. name is the command's: it prefixes errors and names
// the /readyz check.
func runPlatform(ctx context.Context, cfg config.Config, name string, errOut io.Writer, log *slog.Logger, pc platformCmd) int {
	d, err := build(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	defer d.Close()
	printBanner(errOut, cfg.Log.Format, log, d)
	p, err := pc.open(ctx, d)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt "+name+":", err)
		return 2
	}
	if pc.instead != nil {
		return pc.instead(ctx)
	}
	if err := d.serve(ctx, name, p); err != nil {
		fmt.Fprintln(errOut, "secgpt "+name+":", err)
		return 1
	}
	return 0
}

// serve runs p's loop beside the deployment's background work until p's
// loop returns, and returns its error; an error after ctx is cancelled
// counts as none. p becomes the way notices reach users. With the listener
// on (server.listen), /readyz gets a check called name that fails unless
// p's loop runs and, for a readier, p is connected; an empty name adds no
// check (the terminal).
func (d *deployment) serve(ctx context.Context, name string, p platform) error {
	d.notices.set(p)
	var running atomic.Bool
	if d.Server != nil && name != "" {
		d.Server.AddCheck(name, platformCheck(name, p, &running))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	running.Store(true)
	err := p.Run(ctx)
	running.Store(false)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// platformCheck is the /readyz check of platform p called name: p's loop
// runs (running) and, if p is a readier, p is connected. An adapter
// without Ready counts as ready while its loop runs.
func platformCheck(name string, p platform, running *atomic.Bool) func(context.Context) error {
	ready, _ := p.(readier)
	return func(context.Context) error {
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
	}
}

// runSlack is `secgpt slack`.
func runSlack(ctx context.Context, cfg config.Config, args []string, errOut io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("slack", flag.ContinueOnError)
	fs.SetOutput(errOut)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return runPlatform(ctx, cfg, "slack", errOut, log, platformCmd{open: func(_ context.Context, d *deployment) (platform, error) {
		return slack.New(slack.Config{BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, APIURL: cfg.Slack.APIURL,
			SuggestedPrompts: d.suggestedPrompts(), Threads: d.Store, Feedback: feedbackAudit(d.Store)}, d.Assistant, log)
	}})
}

// runMatrix is `secgpt matrix [--setup-cross-signing]`.
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
	var a *matrix.Adapter
	pc := platformCmd{open: func(_ context.Context, d *deployment) (platform, error) {
		var err error
		a, err = matrix.New(matrix.Config{
			Homeserver: m.Homeserver, UserID: m.UserID, Password: m.Password, AccessToken: m.AccessToken, DeviceID: m.DeviceID,
			StateDir: dir, AllowUsers: m.AllowUsers, AllowServers: m.AllowServers, CommandPrefix: m.CommandPrefix,
			PickleKey: m.PickleKey, RecoveryKey: m.RecoveryKey, DisableEncryption: m.DisableEncryption, DeviceName: m.DeviceName,
		}, d.Assistant, log)
		if err != nil {
			return nil, err
		}
		return a, nil
	}}
	if *setupXS {
		pc.instead = func(ctx context.Context) int {
			key, err := a.SetupCrossSigning(ctx)
			if err != nil {
				fmt.Fprintln(errOut, "secgpt matrix --setup-cross-signing:", err)
				return 1
			}
			fmt.Fprintf(errOut, "Cross-signing is set up. Keep this recovery key like a password and put it in matrix.recovery_key (or MATRIX_RECOVERY_KEY):\n")
			fmt.Fprintln(out, key)
			return 0
		}
	}
	return runPlatform(ctx, cfg, "matrix", errOut, log, pc)
}

// terminal is the stdin adapter as a platform: its loop is given the
// assistant when it starts.
type terminal struct {
	*stdin.Adapter
	assistant chat.Assistant
}

// Run serves the terminal's one user until ctx ends or input does.
func (t terminal) Run(ctx context.Context) error { return t.Adapter.Run(ctx, t.assistant) }

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

var (
	_ platform      = (*slack.Adapter)(nil)
	_ platform      = (*matrix.Adapter)(nil)
	_ readier       = (*matrix.Adapter)(nil)
	_ platform      = terminal{}
	_ chat.Notifier = terminal{}
)
