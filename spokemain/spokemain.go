// Package spokemain is the spoke process's entry point, shared by the two
// binaries a hub can run its spokes from: the secgpt binary itself (which
// re-executes itself as a spoke when nothing else is installed) and the lean
// secgpt-spoke binary (cmd/secgpt-spoke), which links only the apps, the
// spoke loop and the sandbox. A spoke is started for every app invocation,
// so what its binary initialises at start-up is paid every time: the secgpt
// binary's package initialisers (the Slack and Matrix clients, every model
// provider's SDK) cost about 55 ms of CPU per start, secgpt-spoke's about
// 19 ms (docs/benchmarks.md).
//
// It also says what a spoke binary was built from (Describe), so that a hub
// refuses a secgpt-spoke built from other app code or another version of the
// ISC protocol instead of running it.
package spokemain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp"
	_ "github.com/secgpt-go/secgpt/apps/standard" // the bundled apps
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// A spoke builds an MCP app from the config section the hub hands it.
func init() { mcp.Register() }

// Run is the spoke process: it confines itself, serves its app's task and
// returns the exit code. Call it first thing when confine.IsChild() is true.
// The invariant harness's hostile apps are not among the apps it runs: only
// the secgpt binary registers them, for the spokes of `secgpt eval
// invariants`, so the secgpt-spoke binary users run does not link them.
func Run() int {
	return spoke.Main(confine.EnterSpoke)
}

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
