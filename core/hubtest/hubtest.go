// Package hubtest starts real hubs for tests, with a real store. Their
// spokes run in-process by default (InProcess: the spoke's own code in a
// goroutine, confining nothing), which is what a test of the hub's own logic
// needs and costs no process. A test that proves what a spoke can or cannot
// do (confinement, kills and exit reasons, limits, egress, raw frames on
// fd 3) asks for real spokes by name, Options.Sandboxed: the test binary
// re-executed as the spoke, under the real sandbox, as in production.
//
// Test packages that set Sandboxed, or use Spawner, must call Main from
// TestMain.
package hubtest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	_ "github.com/secgpt-go/secgpt/apps/standard" // the apps spokes may run
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/confine"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// Main runs the tests, or, when the binary was started as a spoke, the spoke.
func Main(m *testing.M) {
	if confine.IsChild() {
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(m.Run())
}

// Options for New. Zero values mean: offline model, a fresh bolt file,
// every registered app, spokes in-process.
type Options struct {
	Model         llm.Model
	SpokeModel    llm.Model
	Store         state.Store
	Apps          []ids.AppID
	PromptTimeout time.Duration
	SpokeTimeout  time.Duration
	// Limits bound each spoke's resources; only with Sandboxed (New
	// refuses them in-process, where nothing would enforce them).
	Limits   hub.SpokeLimits
	MaxFrame int
	Trace    func(hub.TraceEvent)
	// Rules are operator permission rules.
	Rules []gate.Rule
	// Relay, ReplicaID and Liveness make the hub one of several replicas.
	Relay     gate.Relay
	ReplicaID string
	Liveness  gate.Liveness
	// UserEvents carries forgets, revokes, new sessions and denials
	// between replicas.
	UserEvents hub.UserEvents
	// AppConfig is each app's config section.
	AppConfig map[ids.AppID]json.RawMessage
	// Accounts links users' accounts (ops/connect in tests).
	Accounts hub.Accounts
	// EgressDial replaces the egress proxy's dialer (tests point declared
	// domains at local servers with it); only with Sandboxed (in-process
	// spokes have no egress at all).
	EgressDial sandbox.DialFunc
	// Sandboxed runs every spoke as production does: a process of the
	// test binary, re-executed and confined by the real sandbox (the
	// package's TestMain must call Main). A test that proves a property of
	// spokes as processes sets it; without it spokes run in-process (see
	// InProcess), which is for tests of the hub's logic.
	Sandboxed bool
	// SpokeBinary is the binary spokes run from (sandbox.Config.Exe); ""
	// re-executes the test binary, whose TestMain calls Main.
	SpokeBinary string
	// LocalSpokeBinary runs the spokes of LocalApps, and the pool
	// (sandbox.Config.LocalExe): a secgpt-spoke-local beside SpokeBinary.
	LocalSpokeBinary string
	LocalApps        []ids.AppID
	// WrapSpawner, if set, wraps the spawner the hub gets (tests of the
	// hub's use of optional spawner powers).
	WrapSpawner func(hub.Spawner) hub.Spawner
	// PoolMemory lets the sandbox start spokes ahead of need while
	// conversations plan (sandbox.Config.PoolMemory); 0: only the pool
	// of 2 every test hub keeps.
	PoolMemory int64
}

// Spawner returns a spawner that runs spokes as sandboxed processes of
// the test binary, re-executed.
func Spawner(t testing.TB, off bool) hub.Spawner {
	t.Helper()
	return hubspawn.New(spawner(t, sandbox.Config{Off: off}))
}

func spawner(t testing.TB, cfg sandbox.Config) *sandbox.Spawner {
	t.Helper()
	cfg.DefaultTimeout, cfg.Pool = 60*time.Second, 2
	sp, err := sandbox.New(cfg)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// Store opens a fresh bolt store closed at cleanup.
func Store(t testing.TB) state.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// New returns a hub whose spokes run in-process, or as sandboxed
// processes when o.Sandboxed is set.
func New(t testing.TB, o Options) *hub.Hub {
	t.Helper()
	if o.Model == nil {
		o.Model = offline.Model{}
	}
	if o.Store == nil {
		o.Store = Store(t)
	}
	if o.Apps == nil {
		o.Apps = apps.Registered()
	}
	cat, err := apps.NewCatalog(o.Apps)
	if err != nil {
		t.Fatal(err)
	}
	if o.PromptTimeout == 0 {
		o.PromptTimeout = 20 * time.Second
	}
	if o.SpokeTimeout == 0 {
		o.SpokeTimeout = 60 * time.Second
	}
	sp, err := spawnerFor(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if o.WrapSpawner != nil {
		sp = o.WrapSpawner(sp)
	}
	h, err := hub.New(hub.Options{Store: o.Store, Catalog: cat, Model: o.Model, SpokeModel: o.SpokeModel,
		Spawner: sp, PromptTimeout: o.PromptTimeout, SpokeTimeout: o.SpokeTimeout,
		Limits: o.Limits, MaxFrame: o.MaxFrame, Trace: o.Trace, Relay: o.Relay, ReplicaID: o.ReplicaID, Liveness: o.Liveness, UserEvents: o.UserEvents,
		AppConfig: o.AppConfig, Accounts: o.Accounts, Rules: o.Rules})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// spawnerFor is the spawner o asks for. An option that only a sandboxed
// process honours is an error in-process, not ignored: a test of it must
// not pass without what it tests.
func spawnerFor(t testing.TB, o Options) (hub.Spawner, error) {
	t.Helper()
	if o.Sandboxed {
		cfg := sandbox.Config{EgressDial: o.EgressDial, Exe: o.SpokeBinary, PoolMemory: o.PoolMemory, LocalExe: o.LocalSpokeBinary}
		for _, id := range o.LocalApps {
			cfg.LocalApps = append(cfg.LocalApps, string(id))
		}
		// The binaries users run hold more than the test binary's idle
		// spokes (cli idleSpokeMemory).
		switch {
		case o.LocalSpokeBinary != "":
			cfg.IdleSpokeMemory = spoke.LocalIdleMemory
		case o.SpokeBinary != "":
			cfg.IdleSpokeMemory = spoke.LeanIdleMemory
		}
		return hubspawn.New(spawner(t, cfg)), nil
	}
	switch {
	case o.EgressDial != nil:
		return nil, errors.New("hubtest: EgressDial needs Sandboxed spokes: in-process spokes have no egress")
	case o.Limits != (hub.SpokeLimits{}):
		return nil, errors.New("hubtest: Limits need Sandboxed spokes: nothing bounds an in-process spoke")
	case o.SpokeBinary != "" || o.LocalSpokeBinary != "" || o.PoolMemory != 0:
		return nil, errors.New("hubtest: SpokeBinary, LocalSpokeBinary and PoolMemory need Sandboxed spokes")
	}
	return InProcess(), nil
}
