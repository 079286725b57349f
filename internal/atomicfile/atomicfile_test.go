package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		old     []byte      // nil: no file before
		oldPerm fs.FileMode // of the old file
		perm    fs.FileMode
	}{
		{"new file", nil, 0, 0o600},
		{"replace, narrower mode", []byte("old content"), 0o644, 0o600},
		{"replace, wider mode than a umask allows", []byte("old"), 0o600, 0o666},
		{"replace with the same mode", []byte("old"), 0o644, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tt.old != nil {
				if err := os.WriteFile(path, tt.old, tt.oldPerm); err != nil {
					t.Fatal(err)
				}
			}
			data := []byte("new content\n")
			if err := Write(path, data, tt.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("content %q, %v; want %q", got, err, data)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != tt.perm {
				t.Fatalf("mode %v, %v; want %v", fi.Mode().Perm(), err, tt.perm)
			}
			assertOnly(t, dir, "f")
		})
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		prep func(dir string) string // returns the path to write
	}{
		{"missing directory", func(dir string) string { return filepath.Join(dir, "no", "f") }},
		{"path is a directory", func(dir string) string {
			p := filepath.Join(dir, "d")
			if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.prep(dir)
			before := names(t, dir)
			if err := Write(path, []byte("x"), 0o600); err == nil {
				t.Fatal("no error")
			}
			if after := names(t, dir); !slices.Equal(before, after) {
				t.Errorf("directory %v after a failed write, was %v: a temporary file was left", after, before)
			}
		})
	}
}

var errCrash = errors.New("crash")

// TestWriteCrashSafety: at every step of a write, what a crash would leave
// at path is the old content or the new, whole; the temporary file is in
// path's directory (so the rename cannot cross file systems) and holds
// the whole new content, synced and with its mode, before the rename; and
// the steps come in that order: write, sync, rename, sync the directory.
func TestWriteCrashSafety(t *testing.T) {
	old, data := []byte("old content, longer than the new one"), []byte("new")
	const perm = 0o640
	order := []stage{stageCreated, stageWritten, stageSynced, stageRenamed, stageDirSync}
	for i, crashAt := range order {
		t.Run(string(crashAt), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			var seen []stage
			err := write(path, data, perm, func(s stage, tmp string) error {
				seen = append(seen, s)
				if filepath.Dir(tmp) != dir {
					t.Errorf("%s: temporary file %s is not in %s", s, tmp, dir)
				}
				got, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(got, old) && !bytes.Equal(got, data) {
					t.Errorf("%s: a crash here leaves %q (%v) at path", s, got, err)
				}
				if s == stageSynced {
					b, err := os.ReadFile(tmp)
					fi, serr := os.Stat(tmp)
					if err != nil || serr != nil || !bytes.Equal(b, data) || fi.Mode().Perm() != perm {
						t.Errorf("before the rename the temporary file holds %q (%v), mode %v (%v)", b, err, fi.Mode().Perm(), serr)
					}
				}
				if s == crashAt {
					return errCrash
				}
				return nil
			})
			if !errors.Is(err, errCrash) {
				t.Fatalf("write = %v, want the crash", err)
			}
			if !slices.Equal(seen, order[:i+1]) {
				t.Errorf("steps %v, want %v", seen, order[:i+1])
			}
			want := old
			if i >= slices.Index(order, stageRenamed) {
				want = data
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Errorf("after stopping at %s path holds %q, want %q", crashAt, got, want)
			}
			assertOnly(t, dir, "f")
		})
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func assertOnly(t *testing.T, dir string, want ...string) {
	t.Helper()
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}
