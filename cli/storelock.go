package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/secgpt-go/secgpt/internal/atomicfile"
)

// storeOwner is written beside a bolt state file by the process that holds
// it, so that a second process refused the file's lock can say which one
// holds it instead of only "timeout".
type storeOwner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// ownerPath is the owner file of the bolt file at path.
func ownerPath(path string) string { return path + ".owner" }

// writeStoreOwner records this process as the holder of the bolt file at
// path. A failure only loses the better error message, so it is returned
// for logging, never fatal.
func writeStoreOwner(path string) error {
	b, err := json.Marshal(storeOwner{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Since: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("encode store owner: %w", err)
	}
	if err := atomicfile.Write(ownerPath(path), b, 0o600); err != nil {
		return fmt.Errorf("write store owner: %w", err)
	}
	return nil
}

// lockedError turns bolt's lock timeout on path into an error that names
// the process holding the file, when its owner file names a live one; any
// other error is returned as it is.
func lockedError(path string, err error) error {
	if !errors.Is(err, berrors.ErrTimeout) {
		return err
	}
	holder := "another process"
	if b, rerr := os.ReadFile(ownerPath(path)); rerr == nil {
		var o storeOwner
		// An owner whose pid is gone wrote the file in an earlier run;
		// naming it would point at the wrong process.
		if json.Unmarshal(b, &o) == nil && o.PID > 0 && syscall.Kill(o.PID, 0) != syscall.ESRCH {
			holder = fmt.Sprintf("process %d (%q, since %s)", o.PID, o.Command, o.Since.Format(time.RFC3339))
		}
	}
	return fmt.Errorf("in use by %s: stop it, or give this one another store.path (SECGPT_STORE_PATH): %w", holder, err)
}
