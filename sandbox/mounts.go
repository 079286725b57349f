package sandbox

import (
	"fmt"
	"path/filepath"
	"strings"
)

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
