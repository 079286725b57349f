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

// localSpokeName is the smallest spoke binary's name beside the lean one.
const localSpokeName = "secgpt-spoke-local"

// buildTogether is how a refused spoke binary is mended.
const buildTogether = "build them from one tree: go build -o DIR/ ./cmd/secgpt ./cmd/secgpt-spoke ./cmd/secgpt-spoke-local"

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

// idleSpokeMemory is what an idle pooled spoke is counted as against
// sandbox.pool_memory: one of local when there is one (pooled spokes run
// from it), else of exe ("" is this binary).
func idleSpokeMemory(exe, local string) int64 {
	switch {
	case local != "":
		return spoke.LocalIdleMemory
	case exe == "":
		return spoke.SelfIdleMemory
	}
	return spoke.LeanIdleMemory
}

// localSpokeBinary finds secgpt-spoke-local beside the lean spoke binary
// exe and returns it with the installed apps it runs, and what to add to
// the banner's description of the spokes. None is used (local "") when
// spokes run from this binary, when there is none, or when it runs none of
// the installed apps; one built from other sources is refused with a
// warning, as secgpt-spoke is.
func localSpokeBinary(ctx context.Context, exe string, installed []ids.AppID, log *slog.Logger) (local string, runs []string, desc string) {
	if exe == "" {
		return "", nil, ""
	}
	path := filepath.Join(filepath.Dir(exe), localSpokeName)
	if _, err := os.Stat(path); err != nil {
		return "", nil, ""
	}
	theirs, err := describeSpokeBinary(ctx, path)
	var found []ids.AppID
	if err == nil {
		found, err = spoke.Describe().Runs(theirs, installed)
	}
	if err != nil {
		err = fmt.Errorf("%w; %s", err, buildTogether)
		log.Warn("not running spokes from the secgpt-spoke-local beside secgpt-spoke", "path", path, "err", err)
		return "", nil, " (" + path + " refused: " + err.Error() + ")"
	}
	if len(found) == 0 {
		return "", nil, ""
	}
	for _, id := range found {
		runs = append(runs, string(id))
	}
	what := fmt.Sprintf("%d apps that need no network", len(runs))
	if len(runs) == 1 {
		what = runs[0]
	}
	return path, runs, " and " + path + " for " + what
}

// checkSpokeBinary runs `path describe` and checks that its spokes can run
// this hub's apps.
func checkSpokeBinary(ctx context.Context, path string, installed []ids.AppID) error {
	theirs, err := describeSpokeBinary(ctx, path)
	if err != nil {
		return err
	}
	if err := spoke.Describe().Compatible(theirs, installed); err != nil {
		return fmt.Errorf("built from other sources than this hub (%w); %s", err, buildTogether)
	}
	return nil
}

// describeSpokeBinary runs `path describe`.
func describeSpokeBinary(ctx context.Context, path string) (spoke.Build, error) {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, spoke.DescribeArg)
	// Only what it needs: never the hub's environment (keys, tokens).
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return spoke.Build{}, fmt.Errorf("describe itself: %w (%s)", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var theirs spoke.Build
	if err := json.Unmarshal(stdout.Bytes(), &theirs); err != nil {
		return spoke.Build{}, fmt.Errorf("describe itself: not a secgpt-spoke description: %w", err)
	}
	return theirs, nil
}
