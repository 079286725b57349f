package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is what this binary knows of its own build.
type buildInfo struct {
	// Version is the module version ("(devel)" for a build from a checkout).
	Version string
	// GoVersion is the toolchain that built it.
	GoVersion string
	// Revision is the VCS revision, with "+dirty" when the tree had
	// changes; "unknown" when the build recorded none (-buildvcs=false).
	Revision string
}

// readBuildInfo reads the build information the Go toolchain embeds.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "unknown", GoVersion: "unknown", Revision: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.GoVersion = info.GoVersion
	if info.Main.Version != "" {
		bi.Version = info.Main.Version
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && bi.Revision != "unknown" {
		bi.Revision += "+dirty"
	}
	return bi
}

func (b buildInfo) String() string {
	return fmt.Sprintf("secgpt %s (%s, revision %s)", b.Version, b.GoVersion, b.Revision)
}

// runVersion serves `secgpt version`.
func runVersion(out io.Writer) int {
	fmt.Fprintln(out, readBuildInfo())
	return 0
}

// buildInfoGauge is secgpt_build_info: always 1, labelled with the build,
// so a dashboard can tell which build each replica runs.
func buildInfoGauge(b buildInfo) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "secgpt_build_info",
		Help: "Always 1; the labels name the running build: version, Go version and VCS revision.",
	}, []string{"version", "goversion", "revision"})
	g.WithLabelValues(b.Version, b.GoVersion, b.Revision).Set(1)
	return g
}
