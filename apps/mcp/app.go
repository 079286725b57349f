// Package mcp runs any MCP server as a SecGPT app. The server's tools are
// the app's functions; the MCP client runs inside the app's spoke, which
// starts a stdio server in the same sandbox (or reaches a remote server
// through the egress proxy), so the server gets exactly what the spoke
// gets: no key, no store, no other user's files, no network beyond its
// declared domains.
//
// Everything the server says (tool descriptions, results, instructions)
// is third-party text: it is cleaned of control characters and bounded
// here, and the hub treats it like any app's description and output.
// Sampling requests become the app's own model calls through the hub;
// elicitation becomes a question the hub asks the user; roots are the
// declared directories only.
//
// cli/ wiring imports it (Discover), both binaries register it (Register);
// the spoke builds the app from its config section through
// apps.NewConfigured.
package mcp

//lint:file-ignore SA1019 sampling and roots are deprecated as of MCP 2026-07-28 but still served by the SDK; issue 10 asks for both, and servers of older protocol versions (the tested ones) use them

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
)

// Bounds on what a server may hand back.
const (
	maxText        = 32 << 10 // characters of text in one result
	maxDescription = 1 << 10  // characters of one tool description
	maxTools       = 64
	maxStructured  = 256 << 10 // bytes of structured content
	maxLinks       = 4         // resource links followed per result
	maxSampling    = 8         // sampling requests served per invocation
)

// App is an MCP server as an app.
type App struct {
	srv  Server
	spec apps.Spec

	mu      sync.Mutex // guards the fields below
	session *sdk.ClientSession
	samples int
	elicits int
	// live are the running server's tool definitions, by function, listed
	// once per invocation (checkLive).
	live map[string]json.RawMessage
}

// New builds the app from its spoke config section.
func New(id ids.AppID, raw json.RawMessage) (apps.App, error) {
	s, err := decodeServer(id, raw)
	if err != nil {
		return nil, err
	}
	return newApp(s), nil
}

func newApp(s Server) *App {
	sp := apps.Spec{ID: s.ID(), External: s.Command != "", Domains: Domains(s), Ports: Ports(s), Functions: s.Tools,
		Description: fmt.Sprintf("MCP server %q (third-party tools, run isolated).", s.Name)}
	if s.Instructions != "" {
		sp.Annotation = "Instructions from the MCP server (third-party text, not the user's): " + s.Instructions
	}
	return &App{srv: s, spec: sp}
}

// Install adds server s to cat as its app, and returns the config section
// its spokes receive (the hub's AppConfig entry).
func Install(cat *apps.Catalog, s Server) (json.RawMessage, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	a, err := New(s.ID(), raw)
	if err != nil {
		return nil, err
	}
	if err := cat.Add(a); err != nil {
		return nil, err
	}
	return raw, nil
}

// Register makes the spoke able to build MCP apps from their config. Both
// binaries (cmd/secgpt, cmd/secgpt-spoke) call it once from init.
func Register() { apps.RegisterConfigured(Prefix, New) }

// Spec describes the app.
func (a *App) Spec() apps.Spec { return a.spec }

// Describe starts the server and returns the spec with its tools (the
// describe task, run once by Discover at the hub's start).
func (a *App) Describe(ctx context.Context, env apps.Env) (_ apps.Spec, err error) {
	defer func() { err = a.srv.redactErr(err) }()
	cs, err := a.connect(ctx, env)
	if err != nil {
		return apps.Spec{}, err
	}
	tools, err := listTools(ctx, cs)
	if err != nil {
		return apps.Spec{}, err
	}
	fns, err := functions(a.srv, tools)
	if err != nil {
		return apps.Spec{}, err
	}
	sp := a.spec
	sp.Functions = fns
	if ir := cs.InitializeResult(); ir != nil {
		sp.Annotation = clean(ir.Instructions, maxDescription)
	}
	return sp, nil
}

// Call runs one tool. The server is started on the first call and kept for
// the spoke's lifetime: the rest of this invocation, and the later
// invocations of the same (user, app) when the hub keeps the spoke warm.
func (a *App) Call(ctx context.Context, env apps.Env, fn string, args json.RawMessage) (_ json.RawMessage, err error) {
	// An error's text reaches the user, the hub's log and the audit log:
	// never with a secret of the url in it.
	defer func() { err = a.srv.redactErr(err) }()
	f, ok := a.spec.Function(fn)
	if !ok {
		return nil, fmt.Errorf("mcp %s: no function %q", a.srv.Name, fn)
	}
	cs, err := a.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := a.checkLive(ctx, cs, f); err != nil {
		return nil, err
	}
	var in map[string]any
	if err := json.Unmarshal(args, &in); err != nil {
		return nil, fmt.Errorf("mcp %s: arguments: %w", a.srv.Name, err)
	}
	params := &sdk.CallToolParams{Name: toolName(a.srv.Name, f), Arguments: in}
	if _, ok := env.(progresser); ok {
		params.SetProgressToken(fn)
	}
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("mcp %s: call %s: %w", a.srv.Name, fn, err)
	}
	return convert(ctx, cs, res)
}

// StartTask begins a new invocation's task in a warm spoke: the server
// and its session are kept, the per-invocation sampling budget starts over.
func (a *App) StartTask() {
	a.mu.Lock()
	a.samples, a.elicits, a.live = 0, 0, nil
	a.mu.Unlock()
}

// Close ends the server (stdin closed, then SIGTERM, then SIGKILL).
func (a *App) Close() error {
	a.mu.Lock()
	cs := a.session
	a.session, a.live = nil, nil
	a.mu.Unlock()
	if cs == nil {
		return nil
	}
	return cs.Close()
}

// progresser is what the spoke's Env offers for progress: numbers the
// hub shows in the chat's "working" status.
type progresser interface {
	Progress(done, total float64)
}

// modeler is what the spoke's Env offers for sampling.
type modeler interface {
	Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// connect starts (once) the server and the client session.
func (a *App) connect(ctx context.Context, env apps.Env) (*sdk.ClientSession, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.session != nil {
		return a.session, nil
	}
	opts := &sdk.ClientOptions{
		ElicitationHandler: func(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			return a.elicit(ctx, env, req)
		},
		Capabilities: &sdk.ClientCapabilities{},
	}
	if p, ok := env.(progresser); ok {
		// Only the numbers go on: the notification's message is the
		// server's text and never reaches the chat.
		opts.ProgressNotificationHandler = func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			p.Progress(req.Params.Progress, req.Params.Total)
		}
	}
	if m, ok := env.(modeler); ok {
		opts.CreateMessageHandler = func(ctx context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
			return a.sample(ctx, m, req)
		}
	}
	var roots []*sdk.Root
	for _, r := range a.srv.Roots {
		roots = append(roots, &sdk.Root{URI: "file://" + r})
	}
	if a.srv.Data {
		roots = append(roots, &sdk.Root{URI: "file://" + DataDir, Name: "data"})
	}
	if a.srv.HideRoots {
		roots = nil
	}
	if len(roots) > 0 {
		opts.Capabilities.RootsV2 = &sdk.RootCapabilities{}
	}
	c := sdk.NewClient(&sdk.Implementation{Name: "secgpt", Version: "1"}, opts)
	c.AddRoots(roots...)
	t, err := a.transport(env)
	if err != nil {
		return nil, err
	}
	cs, err := c.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("mcp %s: connect: %w", a.srv.Name, err)
	}
	a.session = cs
	return cs, nil
}

// transport is the stdio command, or the remote endpoint through the
// spoke's egress client.
func (a *App) transport(env apps.Env) (sdk.Transport, error) {
	s := a.srv
	if s.URL != "" {
		hc := env.HTTPClient()
		if tok := a.bearerToken(env); tok != nil {
			u, err := url.Parse(s.URL)
			if err != nil {
				return nil, fmt.Errorf("mcp %s: url: %w", s.Name, err)
			}
			hc = &http.Client{Transport: bearer{token: tok, origin: origin(u), next: hc.Transport}, Timeout: hc.Timeout,
				CheckRedirect: hc.CheckRedirect, Jar: hc.Jar}
		}
		// The standalone GET stream stays open: a server may send its own
		// requests (an elicitation, a sampling request) outside any call's
		// answer. They reach the same handlers as the ones on a call's
		// stream, with the same bounds; a warm spoke waiting between
		// invocations refuses them.
		return &sdk.StreamableClientTransport{Endpoint: s.URL, HTTPClient: hc, MaxRetries: -1}, nil
	}
	for _, d := range []string{HomeDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("mcp %s: make %s: %w", s.Name, d, err)
		}
	}
	cmd := exec.Command(s.Command, expandEnv(subst(s.Args), s.Env)...)
	cmd.Dir = HomeDir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + HomeDir, "TMPDIR=/tmp", "LANG=C.UTF-8"}
	if s.Data {
		cmd.Env = append(cmd.Env, "SECGPT_DATA="+DataDir)
	}
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+subst([]string{v})[0])
	}
	// The server's stderr is its log: bounded, and never the hub's terminal.
	cmd.Stderr = &limitWriter{w: os.Stderr, n: 16 << 10}
	return &sdk.CommandTransport{Command: cmd, TerminateDuration: time.Second}, nil
}

// sample answers a server's sampling request with a model call of this
// app's own, through the hub. The server never sees a key, and the request
// counts against the spoke's model-call bound.
func (a *App) sample(ctx context.Context, m modeler, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
	a.mu.Lock()
	a.samples++
	n := a.samples
	a.mu.Unlock()
	if n > maxSampling {
		return nil, fmt.Errorf("sampling limit of %d requests reached", maxSampling)
	}
	p := req.Params
	var msgs []llm.Message
	if p.SystemPrompt != "" {
		msgs = append(msgs, llm.Message{Role: llm.RoleSystem, Content: "The MCP server " + a.srv.Name + " (third-party) asks: " + clean(p.SystemPrompt, maxText)})
	}
	for _, sm := range p.Messages {
		role := llm.RoleUser
		if sm.Role == "assistant" {
			role = llm.RoleAssistant
		}
		text := "[non-text content omitted]"
		if tc, ok := sm.Content.(*sdk.TextContent); ok {
			text = clean(tc.Text, maxText)
		}
		msgs = append(msgs, llm.Message{Role: role, Content: text})
	}
	if len(msgs) == 0 {
		return nil, errors.New("sampling request without messages")
	}
	resp, err := m.Generate(ctx, &llm.Request{Messages: msgs})
	if err != nil {
		return nil, fmt.Errorf("sampling: %w", err)
	}
	return &sdk.CreateMessageResult{Content: &sdk.TextContent{Text: resp.Content}, Model: "secgpt", Role: "assistant", StopReason: "endTurn"}, nil
}

// elicitor is what the spoke's Env offers for elicitation: a question to
// the app's user, asked by the hub, answered only by the user.
type elicitor interface {
	Elicit(ctx context.Context, message string, schema json.RawMessage) (action string, content map[string]any, err error)
}

// maxElicit bounds the questions one invocation's server may ask.
const maxElicit = 4

// elicit hands a server's elicitation request to the hub, which asks the
// user. A URL-mode request (a link to open) is refused: a server's link is
// not shown to the user as a question from SecGPT.
func (a *App) elicit(ctx context.Context, env apps.Env, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
	el, ok := env.(elicitor)
	if !ok {
		return &sdk.ElicitResult{Action: "decline"}, nil
	}
	p := req.Params
	if p.Mode == "url" || p.URL != "" {
		return nil, errors.New("this host does not open links for a server (URL elicitation); ask in a form instead")
	}
	a.mu.Lock()
	a.elicits++
	n := a.elicits
	a.mu.Unlock()
	if n > maxElicit {
		return nil, fmt.Errorf("elicitation limit of %d questions per invocation reached", maxElicit)
	}
	var schema json.RawMessage
	if p.RequestedSchema != nil {
		b, err := json.Marshal(p.RequestedSchema)
		if err != nil {
			return nil, fmt.Errorf("elicitation schema: %w", err)
		}
		schema = b
	}
	action, content, err := el.Elicit(ctx, clean(p.Message, maxDescription), schema)
	if err != nil {
		return nil, err
	}
	return &sdk.ElicitResult{Action: action, Content: content}, nil
}

// subst replaces DataVar in each string.
func subst(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ReplaceAll(s, DataVar, DataDir)
	}
	return out
}

// CredentialProvider names the credential the hub hands a server's spoke
// when the server uses the MCP authorization flow (ops/connect's
// ProviderMCP).
const CredentialProvider = "mcp"

// bearerToken returns how requests to a remote server get their token:
// the configured one, or with OAuth the user's access token of the
// current invocation (read at each request: a warm spoke's next
// invocation brings its own, and between invocations there is none), or
// nil for no token.
func (a *App) bearerToken(env apps.Env) func() string {
	if a.srv.OAuth {
		ce, ok := env.(apps.CredentialEnv)
		if !ok {
			return func() string { return "" }
		}
		return func() string {
			c, _ := ce.Credential(CredentialProvider)
			return c.AccessToken
		}
	}
	if t := a.srv.BearerToken; t != "" {
		return func() string { return t }
	}
	return nil
}

// bearer adds the server's token to requests for the server's own origin
// only. The transport sees every hop of a redirect, so a token added here
// unconditionally would follow a 307 to any host the spoke may reach.
type bearer struct {
	token  func() string
	origin string // scheme://host:port of the server's URL
	next   http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t := b.token(); t != "" && origin(r.URL) == b.origin {
		r.Header.Set("Authorization", "Bearer "+t)
	} else {
		r.Header.Del("Authorization")
	}
	next := b.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// origin is u's scheme, host and port (the default port written out), in
// lower case.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme + "://" + u.Hostname() + ":" + port)
}

// limitWriter passes on at most n bytes, then drops the rest.
type limitWriter struct {
	mu sync.Mutex // guards n
	w  io.Writer
	n  int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	_, _ = l.w.Write(q)
	return len(p), nil
}

var (
	_ apps.Describing = (*App)(nil)
	_ apps.Rendering  = (*App)(nil)
	_ io.Closer       = (*App)(nil)
)
