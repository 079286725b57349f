// Package atomicfile replaces a file's content so that a crash or a
// power loss leaves either the old content or the new, never a part of
// either. It imports only the standard library, so every layer may use it
// (cli's entries and store owner file, the Matrix adapter's session).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// stage names a step of Write, for the crash-safety test's hook.
type stage string

const (
	stageCreated stage = "created" // the temporary file exists, empty
	stageWritten stage = "written" // data is written to it
	stageSynced  stage = "synced"  // it has its mode and is on disk
	stageRenamed stage = "renamed" // it has replaced path
	stageDirSync stage = "dirsync" // the rename is on disk
)

// Write replaces the file at path with data, with permissions perm
// (exactly: the umask does not apply). It writes a temporary file in
// path's directory (so the rename is within one file system, hence
// atomic), syncs it, renames it over path and syncs the directory, so that
// the rename itself survives a crash. On an error path is unchanged and
// the temporary file is gone.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, nil)
}

// write is Write calling at, if set, after each stage; an error from at
// stops Write there as a crash would, then cleans up as an error does.
func write(path string, data []byte, perm fs.FileMode, at func(stage, string) error) error {
	step := func(s stage, tmp string) error {
		if at == nil {
			return nil
		}
		return at(s, tmp)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = os.Remove(tmp)
		}
	}()
	fail := func(err error) error {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := step(stageCreated, tmp); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := step(stageWritten, tmp); err != nil {
		return fail(err)
	}
	// Chmod, not the mode of a create: the umask must not decide who may
	// read a session key or an entry.
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := step(stageSynced, tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if err := step(stageRenamed, tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync its directory: %w", path, err)
	}
	return step(stageDirSync, tmp)
}

// syncDir makes a rename in dir durable. A file system that cannot sync a
// directory (some return EINVAL) still renamed atomically: that is not an
// error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return err
	}
	return nil
}

// isUnsupported reports an fsync a file system does not do for
// directories.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
