package sandbox

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxMounts bounds the files and directories one policy may hand a spoke
// (each is one descriptor passed with the launch frame).
const maxMounts = 32

// launchMount is one Mount as the spoke applies it.
type launchMount struct {
	// Source is the host path; the spoke bind-mounts it itself only when
	// the hub passed no descriptor (an unprivileged hub, whose uid the
	// spoke shares, so the path is reachable as it is).
	Source string `json:"source"`
	Target string `json:"target"`
	Write  bool   `json:"write,omitempty"`
	Dir    bool   `json:"dir,omitempty"`
	// FD is the index of this mount's descriptor among those passed with
	// the launch frame, or -1.
	FD int `json:"fd"`
	// Cover is the first ancestor of Target the spoke's user may not
	// search (a 0700 home): the spoke mounts an empty tmpfs over it and
	// makes only the path down to Target inside it.
	Cover string `json:"cover,omitempty"`
}

// checkMountPath refuses paths that are not absolute and clean, or that
// would shadow the spoke's own /proc, /sys or /dev.
func checkMountPath(what, p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return fmt.Errorf("%s %q: must be an absolute, clean path other than /", what, p)
	}
	for _, bad := range []string{"/proc", "/sys", "/dev"} {
		if p == bad || strings.HasPrefix(p, bad+"/") {
			return fmt.Errorf("%s %q: %s belongs to the sandbox", what, p, bad)
		}
	}
	return nil
}
