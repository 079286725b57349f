// Package apps is the app registry. An app is one isolated unit: every
// invocation of it runs in its own spoke process. Each app is a Spec (its
// description, the JSON Schema of the request and response of every
// functionality, an optional annotation, declared network domains) plus an
// implementation that runs inside the spoke.
//
// Apps register themselves from init with Register; apps/standard imports the
// bundled ones. The registry is the one piece of package-level state in the
// project, written only during init.
package apps

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
)

// Function is one functionality of an app.
type Function struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Request is the JSON Schema of the arguments (an object schema).
	Request json.RawMessage `json:"request"`
	// Response is the JSON Schema of the result.
	Response json.RawMessage `json:"response"`
	// Effect is what a call does to the world (see Effect). It is
	// operator-trusted metadata: prompts show it and rules match it. ""
	// means undeclared, treated as the strongest (EffectDestroy).
	Effect Effect `json:"effect,omitempty"`
	// NeedsModel is set for a function that only works inside the app's
	// own agent loop (it needs the app's model); other function steps with
	// valid arguments run as direct calls, without a model turn.
	NeedsModel bool `json:"needs_model,omitempty"`
	// Hints are what the app itself claims about the function (MCP tool
	// annotations), shown beside Effect as the app's claim; untrusted.
	Hints string `json:"hints,omitempty"`
	// TextResult marks a result that is an envelope around text (an MCP
	// tool's result): a later step given the whole result, and the reply,
	// get its text as the app's Rendering wrote it, not the envelope.
	TextResult bool `json:"text_result,omitempty"`
}

// Effect is what a function does: the permission prompts show it, and a
// send or destroy step whose arguments come from another app's result is
// confirmed again with its concrete arguments.
type Effect string

// The effects, weakest first.
const (
	// EffectRead only reads (the user's data or public data).
	EffectRead Effect = "read"
	// EffectWrite changes the user's own data (a draft, a calendar entry).
	EffectWrite Effect = "write"
	// EffectSend makes data leave to a third party (a mail, a booking).
	EffectSend Effect = "send"
	// EffectDestroy deletes or irreversibly changes something.
	EffectDestroy Effect = "destroy"
)

// Valid reports whether e is one of the four effects.
func (e Effect) Valid() bool {
	return e == EffectRead || e == EffectWrite || e == EffectSend || e == EffectDestroy
}

// Declared returns f's effect, or EffectDestroy when f declares none (or
// an unknown one): an undeclared effect is treated as the strongest.
func (f Function) Declared() Effect {
	if f.Effect.Valid() {
		return f.Effect
	}
	return EffectDestroy
}

// Risky reports whether e is send or destroy.
func (e Effect) Risky() bool { return e == EffectSend || e == EffectDestroy }

// Spec describes an app. Description and Annotation are written by the app's
// author and are untrusted text: they reach only the app's own spoke and the
// hub's planner, never another app.
type Spec struct {
	ID          ids.AppID  `json:"id"`
	Description string     `json:"description"`
	Functions   []Function `json:"functions,omitempty"`
	// Annotation is text added to the system prompt of the app's own spoke
	// (annotation apps of the original have no functions).
	Annotation string `json:"annotation,omitempty"`
	// Domains are the registrable domains the app may reach through the
	// hub's egress proxy. None means no network.
	Domains []string `json:"domains,omitempty"`
	// Ports are the TCP ports besides 443 the app may reach on its
	// domains; plain http needs 80 here. None means 443 only.
	Ports []int `json:"ports,omitempty"`
	// StateNamespace is the app-state space the app reads and writes; apps
	// of one vendor that share data (the mail functionalities) name the same.
	// "" means the app's ID.
	StateNamespace string `json:"state_namespace,omitempty"`
	// External is set for apps that run an external program (an MCP server);
	// only they may execve inside the sandbox.
	External bool `json:"external,omitempty"`
}

// Namespace returns the app-state namespace.
func (s Spec) Namespace() string {
	if s.StateNamespace != "" {
		return s.StateNamespace
	}
	return string(s.ID)
}

// Function returns the functionality called name.
func (s Spec) Function(name string) (Function, bool) {
	for _, f := range s.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Env is what an app's code may use while it runs. In a spoke every method
// goes through the hub over ISC.
type Env interface {
	// User is the user the app runs for, as an opaque id. Inside a spoke it
	// is empty: a spoke is never told who its user is, and the hub scopes
	// its state and memory to that user on its side.
	User() ids.UserID
	// GetState reads a key of the app's own state.
	GetState(ctx context.Context, key string) (json.RawMessage, bool, error)
	// PutState writes a key of the app's own state.
	PutState(ctx context.Context, key string, value json.RawMessage) error
	// Config is the app's own section of the hub's config (may be nil).
	Config() json.RawMessage
	// HTTPClient reaches the app's declared domains through the egress
	// proxy; apps without domains get a client that refuses every request.
	HTTPClient() *http.Client
}

// Credential is an access token of the user's linked account (a Google
// account linked with "!connect google"), valid for one invocation. Apps must
// never log it or put it in a result.
type Credential struct {
	// Provider names the account's service ("google").
	Provider    string
	AccessToken string
	// TokenType is "Bearer" when empty.
	TokenType string
	Expiry    time.Time
}

// CredentialEnv is an Env that may carry the user's linked-account
// credential for this invocation. The hub sets one only for apps the
// operator lets use that account, and only when the user linked one.
type CredentialEnv interface {
	Env
	// Credential returns the credential for provider, if this invocation
	// has one.
	Credential(provider string) (Credential, bool)
}

// App is an app's implementation.
type App interface {
	// Spec describes the app. It must not do I/O.
	Spec() Spec
	// Call runs functionality fn with args (already validated against the
	// request schema). The result must satisfy the response schema.
	Call(ctx context.Context, env Env, fn string, args json.RawMessage) (json.RawMessage, error)
}

// Constructor builds an App. It must have no side effects.
type Constructor func() App

type registry struct {
	mu   sync.RWMutex // guards apps, vendors and configured
	apps map[ids.AppID]Constructor
	// vendors maps a shared state namespace to the apps of the one vendor
	// that may use it.
	vendors    map[string][]ids.AppID
	configured map[string]ConfiguredFunc
}

var reg = registry{apps: map[ids.AppID]Constructor{}, vendors: map[string][]ids.AppID{}}

// RegisterVendor declares that the apps in members are one vendor's and
// share the state namespace ns (the four mail apps share "gmail"). Only
// they may name ns; NewCatalog refuses any other app that does. It panics on
// an empty namespace, fewer than two members or a namespace declared twice:
// these are programming errors found at init.
func RegisterVendor(ns string, members ...ids.AppID) {
	if ns == "" || len(members) < 2 {
		panic(fmt.Sprintf("apps: vendor namespace %q needs a name and at least two apps", ns))
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.vendors[ns]; dup {
		panic(fmt.Sprintf("apps: vendor namespace %q declared twice", ns))
	}
	reg.vendors[ns] = slices.Clone(members)
}

// Register adds an app. It panics on an invalid or duplicate ID: these are
// programming errors found at init.
func Register(id ids.AppID, c Constructor) {
	if !id.Valid() {
		panic(fmt.Sprintf("apps: invalid app id %q", id))
	}
	if c == nil {
		panic(fmt.Sprintf("apps: nil constructor for %q", id))
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.apps[id]; dup {
		panic(fmt.Sprintf("apps: app %q registered twice", id))
	}
	reg.apps[id] = c
}

// New builds the app registered as id.
func New(id ids.AppID) (App, error) {
	reg.mu.RLock()
	c, ok := reg.apps[id]
	reg.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("apps: no app %q is registered", id)
	}
	a := c()
	if got := a.Spec().ID; got != id {
		return nil, fmt.Errorf("apps: app registered as %q reports id %q", id, got)
	}
	return a, nil
}

// ConfiguredFunc builds an app that is not compiled in (an MCP server) from
// its config section alone; it must have no side effects.
type ConfiguredFunc func(id ids.AppID, config json.RawMessage) (App, error)

// RegisterConfigured adds a builder for every app ID that starts with
// prefix (for example "mcp."), used where no app is registered under the ID.
// It panics on an empty or duplicate prefix: programming errors found at
// init.
func RegisterConfigured(prefix string, f ConfiguredFunc) {
	if prefix == "" || f == nil {
		panic("apps: empty prefix or nil builder")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.configured == nil {
		reg.configured = map[string]ConfiguredFunc{}
	}
	if _, dup := reg.configured[prefix]; dup {
		panic(fmt.Sprintf("apps: prefix %q registered twice", prefix))
	}
	reg.configured[prefix] = f
}

// NewConfigured builds the app registered as id, or else the configured
// app of that ID from its config section.
func NewConfigured(id ids.AppID, config json.RawMessage) (App, error) {
	reg.mu.RLock()
	_, compiled := reg.apps[id]
	var build ConfiguredFunc
	for p, f := range reg.configured {
		if strings.HasPrefix(string(id), p) {
			build = f
		}
	}
	reg.mu.RUnlock()
	if compiled || build == nil {
		return New(id)
	}
	a, err := build(id, config)
	if err != nil {
		return nil, fmt.Errorf("apps: build %s: %w", id, err)
	}
	if got := a.Spec().ID; got != id {
		return nil, fmt.Errorf("apps: app built as %q reports id %q", id, got)
	}
	return a, nil
}

// Registered lists the registered app IDs, sorted.
func Registered() []ids.AppID {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]ids.AppID, 0, len(reg.apps))
	for id := range reg.apps {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Catalog is a set of installed apps, looked up by app ID or functionality name.
type Catalog struct {
	apps  map[ids.AppID]App
	order []ids.AppID
	fns   map[string]ids.AppID
}

// NewCatalog builds the apps named in installed. Functionality names must be
// unique across the catalog, and every state namespace has one owner (see
// checkNamespace).
func NewCatalog(installed []ids.AppID) (*Catalog, error) {
	c := &Catalog{apps: map[ids.AppID]App{}, fns: map[string]ids.AppID{}}
	owners := map[string]ids.AppID{}
	for _, id := range installed {
		if _, dup := c.apps[id]; dup {
			continue
		}
		a, err := New(id)
		if err != nil {
			return nil, err
		}
		if err := checkNamespace(a.Spec(), owners); err != nil {
			return nil, err
		}
		c.apps[id] = a
		c.order = append(c.order, id)
		for _, f := range a.Spec().Functions {
			if other, dup := c.fns[f.Name]; dup {
				return nil, fmt.Errorf("apps: functionality %q provided by both %s and %s", f.Name, other, id)
			}
			c.fns[f.Name] = id
		}
	}
	return c, nil
}

// checkNamespace refuses an app whose state namespace belongs to someone
// else. A namespace is the state of every user of its apps, and a spoke
// reaches it with nothing more than its own exec grant, so naming another
// app's namespace would read that app's data. A namespace belongs to the
// vendor set that declared it (RegisterVendor), or else to the registered
// app whose ID it is, or else to the one app that names it; a registered app
// that is not installed still counts, since it may have left data there.
// owners records the first claimant of each namespace so far.
func checkNamespace(sp Spec, owners map[string]ids.AppID) error {
	ns := sp.Namespace()
	reg.mu.RLock()
	members, vendor := reg.vendors[ns]
	_, isApp := reg.apps[ids.AppID(ns)]
	var others []Constructor
	for id, c := range reg.apps {
		if id != sp.ID {
			others = append(others, c)
		}
	}
	reg.mu.RUnlock()
	switch {
	case vendor:
		if !slices.Contains(members, sp.ID) {
			return fmt.Errorf("apps: %s claims state namespace %q, which belongs to the vendor set %v", sp.ID, ns, members)
		}
		return nil
	case isApp && ids.AppID(ns) != sp.ID:
		return fmt.Errorf("apps: %s claims state namespace %q, which belongs to app %s", sp.ID, ns, ns)
	}
	// A registered app that is not installed today may have left data in
	// its namespace; it still owns it. (Constructors have no side effects.)
	for _, c := range others {
		if o := c().Spec(); o.Namespace() == ns {
			return fmt.Errorf("apps: state namespace %q claimed by both %s and %s (only apps declared as one vendor's with apps.RegisterVendor may share one)", ns, o.ID, sp.ID)
		}
	}
	if first, ok := owners[ns]; ok && first != sp.ID {
		return fmt.Errorf("apps: state namespace %q claimed by both %s and %s (only apps declared as one vendor's with apps.RegisterVendor may share one)", ns, first, sp.ID)
	}
	owners[ns] = sp.ID
	return nil
}

// Add installs an app built elsewhere (a configured app such as an MCP
// server). Its ID and functionality names must not be taken.
func (c *Catalog) Add(a App) error {
	sp := a.Spec()
	if !sp.ID.Valid() {
		return fmt.Errorf("apps: invalid app id %q", sp.ID)
	}
	if _, dup := c.apps[sp.ID]; dup {
		return fmt.Errorf("apps: app %q installed twice", sp.ID)
	}
	for _, f := range sp.Functions {
		if other, dup := c.fns[f.Name]; dup {
			return fmt.Errorf("apps: functionality %q provided by both %s and %s", f.Name, other, sp.ID)
		}
	}
	c.apps[sp.ID] = a
	c.order = append(c.order, sp.ID)
	for _, f := range sp.Functions {
		c.fns[f.Name] = sp.ID
	}
	return nil
}

// IDs lists installed apps in install order.
func (c *Catalog) IDs() []ids.AppID { return slices.Clone(c.order) }

// App returns an installed app.
func (c *Catalog) App(id ids.AppID) (App, bool) {
	a, ok := c.apps[id]
	return a, ok
}

// ByFunction returns the installed app providing functionality fn.
func (c *Catalog) ByFunction(fn string) (App, Function, bool) {
	id, ok := c.fns[fn]
	if !ok {
		return nil, Function{}, false
	}
	a := c.apps[id]
	f, _ := a.Spec().Function(fn)
	return a, f, true
}

// Functions lists all installed functionality names in install order.
func (c *Catalog) Functions() []string {
	var out []string
	for _, id := range c.order {
		for _, f := range c.apps[id].Spec().Functions {
			out = append(out, f.Name)
		}
	}
	return out
}

// DescribeFunction is the task function name that asks a Describing app's
// spoke for its spec instead of running the agent loop. It is not a valid
// functionality name, so no app can provide it.
const DescribeFunction = "<describe>"

// Describing is an app whose functions are learnt by running it (an MCP
// server lists its tools): the hub starts it once in a sandboxed spoke
// with the describe task and installs the spec it returns.
type Describing interface {
	App
	// Describe starts what the app needs and returns its full spec.
	Describe(ctx context.Context, env Env) (Spec, error)
}
