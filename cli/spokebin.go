package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/spoke"
)

// leanSpokeName is the lean spoke binary's name beside the secgpt binary.
const leanSpokeName = "secgpt-spoke"

// describeTimeout bounds `secgpt-spoke describe` at start-up.
const describeTimeout = 10 * time.Second

// spokeBinary picks the binary spokes run from: configured (sandbox.
// spoke_binary) if set, which must be a compatible secgpt-spoke or the
// start fails; otherwise secgpt-spoke beside this binary when it is there
// and compatible; otherwise this binary (exe ""). desc says which, for the
// banner. installed are the hub's apps, whose declarations the spoke
// binary must share.
func spokeBinary(ctx context.Context, configured string, installed []ids.AppID, log *slog.Logger) (exe, desc string, err error) {
	if configured != "" {
		abs, err := filepath.Abs(configured)
		if err != nil {
			return "", "", fmt.Errorf("sandbox.spoke_binary %q: %w", configured, err)
		}
		if err := checkSpokeBinary(ctx, abs, installed); err != nil {
			return "", "", fmt.Errorf("sandbox.spoke_binary %s: %w", abs, err)
		}
		return abs, abs + " (sandbox.spoke_binary)", nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", "this binary", nil
	}
	beside := filepath.Join(filepath.Dir(self), leanSpokeName)
	if _, err := os.Stat(beside); errors.Is(err, fs.ErrNotExist) {
		return "", "this binary (build ./cmd/secgpt-spoke beside it for cheaper spoke starts)", nil
	}
	if err := checkSpokeBinary(ctx, beside, installed); err != nil {
		log.Warn("not running spokes from the secgpt-spoke beside this binary", "path", beside, "err", err)
		return "", "this binary (" + beside + " refused: " + err.Error() + ")", nil
	}
	return beside, beside, nil
}

// idleSpokeMemory is what an idle pooled spoke of exe (as spokeBinary
// picked it: "" is this binary) is counted as against sandbox.pool_memory.
func idleSpokeMemory(exe string) int64 {
	if exe == "" {
		return spoke.SelfIdleMemory
	}
	return spoke.LeanIdleMemory
}

// checkSpokeBinary runs `path describe` and checks that its spokes can run
// this hub's apps.
func checkSpokeBinary(ctx context.Context, path string, installed []ids.AppID) error {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, spoke.DescribeArg)
	// Only what it needs: never the hub's environment (keys, tokens).
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("describe itself: %w (%s)", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var theirs spoke.Build
	if err := json.Unmarshal(stdout.Bytes(), &theirs); err != nil {
		return fmt.Errorf("describe itself: not a secgpt-spoke description: %w", err)
	}
	if err := spoke.Describe().Compatible(theirs, installed); err != nil {
		return fmt.Errorf("built from other sources than this hub (%w); build both from one tree: go build -o DIR/ ./cmd/secgpt ./cmd/secgpt-spoke", err)
	}
	return nil
}
