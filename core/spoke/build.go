package spoke

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// Build says what a spoke binary was built from: the ISC protocol version
// and a digest of each compiled-in app's declaration.
type Build struct {
	Protocol int               `json:"protocol"`
	Apps     map[string]string `json:"apps"`
}

// DescribeArg, as a spoke binary's only argument outside a sandbox, makes
// it print its Build as JSON and exit.
const DescribeArg = "describe"

// Describe returns the Build of the apps registered in this process.
func Describe() Build {
	b := Build{Protocol: isc.ProtocolVersion, Apps: map[string]string{}}
	for _, id := range apps.Registered() {
		a, err := apps.New(id)
		if err != nil {
			b.Apps[string(id)] = "error: " + err.Error()
			continue
		}
		spec, err := json.Marshal(a.Spec())
		if err != nil {
			b.Apps[string(id)] = "error: " + err.Error()
			continue
		}
		sum := sha256.Sum256(spec)
		b.Apps[string(id)] = hex.EncodeToString(sum[:])
	}
	return b
}

// BinaryMain is the main of a spoke binary (cmd/secgpt-spoke,
// cmd/secgpt-spoke-local) once its apps are registered, returning the exit
// code: a spoke (child, as confine.IsChild says) confines itself with enter
// before anything else runs and serves its task (Run); `name describe`
// prints the Build the hub checks at start-up; anything else is refused,
// since only the hub starts it.
func BinaryMain(name string, child bool, enter func() (*os.File, *http.Client, error), args []string, stdout, stderr io.Writer) int {
	if child {
		return Run(enter)
	}
	if len(args) == 2 && args[1] == DescribeArg {
		if err := json.NewEncoder(stdout).Encode(Describe()); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "%s runs spokes for the secgpt hub, which starts it; it is not run by hand.\nusage: %s describe  (print what it was built from, as JSON)\n", name, name)
	return 2
}

// Compatible reports whether spokes from a binary that describes itself as
// other may run the hub's installed apps, when this binary describes
// itself as b: the same protocol, and each installed app that b compiles in
// declared identically there. Apps b does not compile in (MCP servers,
// built from config in the spoke) are not compared.
func (b Build) Compatible(other Build, installed []ids.AppID) error {
	if other.Protocol != b.Protocol {
		return fmt.Errorf("it speaks ISC protocol %d, this hub %d", other.Protocol, b.Protocol)
	}
	var differ []string
	for _, id := range installed {
		mine, ok := b.Apps[string(id)]
		if !ok {
			continue
		}
		theirs, ok := other.Apps[string(id)]
		switch {
		case !ok:
			differ = append(differ, string(id)+" (missing)")
		case theirs != mine:
			differ = append(differ, string(id))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("its apps differ from this hub's: %s", strings.Join(differ, ", "))
	}
	return nil
}

// Runs returns which of the hub's installed apps spokes from a binary that
// compiles in only some apps (cmd/secgpt-spoke-local), describing itself
// as other, may run, when this binary describes itself as b: it must speak
// the same protocol, and each installed app it compiles in must be
// declared identically here; those are the apps returned. Installed apps
// it lacks are left to the full spoke binary.
func (b Build) Runs(other Build, installed []ids.AppID) ([]ids.AppID, error) {
	if other.Protocol != b.Protocol {
		return nil, fmt.Errorf("it speaks ISC protocol %d, this hub %d", other.Protocol, b.Protocol)
	}
	var runs []ids.AppID
	var differ []string
	for _, id := range installed {
		mine, ok := b.Apps[string(id)]
		if !ok {
			continue
		}
		switch theirs, ok := other.Apps[string(id)]; {
		case !ok:
		case theirs != mine:
			differ = append(differ, string(id))
		default:
			runs = append(runs, id)
		}
	}
	if len(differ) > 0 {
		return nil, fmt.Errorf("its apps differ from this hub's: %s", strings.Join(differ, ", "))
	}
	return runs, nil
}

// What one pooled spoke of each binary holds of its own (private memory)
// while it waits for its policy: the figure the sandbox's pool_memory is
// divided by (sandbox.Config.IdleSpokeMemory). Measured 2026-12-07 on
// amd64, 64 idle pooled spokes: cmd/secgpt-spoke-local 1.3 MiB,
// cmd/secgpt-spoke 2.06 MiB (the Google API and MCP clients'
// initialisers), the secgpt binary 7.5 MiB (also the chat clients and
// model SDKs); cli's TestIdleSpokeMemoryOfEachBinary holds all three.
const (
	// LeanIdleMemory is an idle pooled spoke of cmd/secgpt-spoke.
	LeanIdleMemory = 5 << 19 // 2.5 MiB
	// SelfIdleMemory is an idle pooled spoke of the secgpt binary, which
	// runs spokes when no secgpt-spoke is beside it.
	SelfIdleMemory = 9 << 20
	// LocalIdleMemory is an idle pooled spoke of cmd/secgpt-spoke-local.
	LocalIdleMemory = 7 << 18 // 1.75 MiB
)
