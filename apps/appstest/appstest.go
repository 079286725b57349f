// Package appstest holds test doubles and checks for app packages: Env, an
// in-memory apps.Env, and helpers that compile an app's schemas and call it
// the way the hub does (request validated before, response after).
//
// Only tests and evaluation/conformance (the MCP conformance client) import
// it.
package appstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/schema"
)

// Env is an in-memory apps.Env. All apps given the same Env share one state
// namespace, as the mail apps share "gmail" in the hub. The zero value is
// an Env with no user, config or network and empty state.
type Env struct {
	// UserID is returned by User; NewEnv sets "terminal:tester".
	UserID ids.UserID
	// Cfg is returned by Config.
	Cfg json.RawMessage
	// Client is returned by HTTPClient; nil means a client whose every
	// request fails, as for an app without declared domains.
	Client *http.Client
	// Cred is the linked-account credential of the invocation, if any.
	Cred *apps.Credential

	mu    sync.Mutex // guards state
	state map[string]json.RawMessage
}

// NewEnv returns an Env with empty state for a test user.
func NewEnv() *Env {
	return &Env{UserID: "terminal:tester", state: map[string]json.RawMessage{}}
}

// WithConfig sets Cfg and returns e, for one-line setup.
func (e *Env) WithConfig(cfg string) *Env {
	e.Cfg = json.RawMessage(cfg)
	return e
}

// User returns UserID.
func (e *Env) User() ids.UserID { return e.UserID }

// GetState returns a copy of the stored value.
func (e *Env) GetState(ctx context.Context, key string) (json.RawMessage, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.state[key]
	return slices.Clone(v), ok, nil
}

// PutState stores a copy of value. It rejects values that are not JSON, as a
// real store would.
func (e *Env) PutState(ctx context.Context, key string, value json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !json.Valid(value) {
		return fmt.Errorf("appstest: value of %q is not JSON", key)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == nil {
		e.state = map[string]json.RawMessage{}
	}
	e.state[key] = slices.Clone(value)
	return nil
}

// Keys lists the state keys written so far, sorted.
func (e *Env) Keys() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.state))
}

// Config returns Cfg.
func (e *Env) Config() json.RawMessage { return e.Cfg }

// Credential returns Cred when it is for provider.
func (e *Env) Credential(provider string) (apps.Credential, bool) {
	if e.Cred == nil || e.Cred.Provider != provider {
		return apps.Credential{}, false
	}
	return *e.Cred, true
}

// HTTPClient returns Client, or a client that refuses every request.
func (e *Env) HTTPClient() *http.Client {
	if e.Client != nil {
		return e.Client
	}
	return &http.Client{Transport: refuse{}}
}

// ErrNoNetwork is what the default HTTPClient's requests fail with.
var ErrNoNetwork = errors.New("appstest: no network for this app")

type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) { return nil, ErrNoNetwork }

// Compiled is an app's spec with every schema compiled.
type Compiled struct {
	Spec     apps.Spec
	Request  map[string]*schema.Schema
	Response map[string]*schema.Schema
}

// Compile compiles every request and response schema of a's spec, failing
// the test on any error, and checks the spec's basic shape.
func Compile(t testing.TB, a apps.App) Compiled {
	t.Helper()
	s := a.Spec()
	if !s.ID.Valid() {
		t.Fatalf("spec id %q is not a valid app id", s.ID)
	}
	if s.Description == "" {
		t.Errorf("%s: empty description", s.ID)
	}
	c := Compiled{Spec: s, Request: map[string]*schema.Schema{}, Response: map[string]*schema.Schema{}}
	for _, f := range s.Functions {
		if f.Name == "" || f.Description == "" {
			t.Errorf("%s: function %q lacks a name or description", s.ID, f.Name)
		}
		req, err := schema.Compile(f.Request)
		if err != nil {
			t.Fatalf("%s.%s: request schema: %v", s.ID, f.Name, err)
		}
		var obj struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(f.Request, &obj); err != nil || obj.Type != "object" {
			t.Errorf("%s.%s: request schema is not an object schema", s.ID, f.Name)
		}
		resp, err := schema.Compile(f.Response)
		if err != nil {
			t.Fatalf("%s.%s: response schema: %v", s.ID, f.Name, err)
		}
		c.Request[f.Name], c.Response[f.Name] = req, resp
	}
	return c
}

// Example is one request to check against a functionality's schema.
type Example struct {
	Name  string
	Fn    string
	Args  string
	Valid bool
}

// Valid is an example the request schema must accept.
func Valid(name, fn, args string) Example {
	return Example{Name: name, Fn: fn, Args: args, Valid: true}
}

// Invalid is an example the request schema must reject.
func Invalid(name, fn, args string) Example { return Example{Name: name, Fn: fn, Args: args} }

// CheckExamples compiles a's schemas and checks that each example is
// accepted or rejected by its request schema as it says.
func CheckExamples(t *testing.T, a apps.App, examples []Example) {
	t.Helper()
	c := Compile(t, a)
	for _, ex := range examples {
		t.Run(ex.Name, func(t *testing.T) {
			s, ok := c.Request[ex.Fn]
			if !ok {
				t.Fatalf("no functionality %q", ex.Fn)
			}
			err := s.Validate(json.RawMessage(ex.Args))
			if ex.Valid && err != nil {
				t.Errorf("valid request rejected: %v", err)
			}
			if !ex.Valid && err == nil {
				t.Errorf("invalid request %s accepted", ex.Args)
			}
		})
	}
}

// Call runs fn as the hub would: args must pass the request schema, and the
// result must pass the response schema (a failure of either fails the
// test). It returns the result and Call's error.
func Call(t testing.TB, env apps.Env, a apps.App, fn string, args string) (json.RawMessage, error) {
	t.Helper()
	c := Compile(t, a)
	req, ok := c.Request[fn]
	if !ok {
		t.Fatalf("%s has no functionality %q", c.Spec.ID, fn)
	}
	if err := req.Validate(json.RawMessage(args)); err != nil {
		t.Fatalf("%s.%s: request %s fails its schema: %v", c.Spec.ID, fn, args, err)
	}
	out, err := a.Call(context.Background(), env, fn, json.RawMessage(args))
	if err != nil {
		return nil, err
	}
	if err := c.Response[fn].Validate(out); err != nil {
		t.Fatalf("%s.%s: response %s fails its schema: %v", c.Spec.ID, fn, out, err)
	}
	return out, nil
}

// CallString is Call for functionalities that answer a JSON string; it fails
// the test on an error and returns the decoded string.
func CallString(t testing.TB, env apps.Env, a apps.App, fn string, args string) string {
	t.Helper()
	out, err := Call(t, env, a, fn, args)
	if err != nil {
		t.Fatalf("%s(%s): %v", fn, args, err)
	}
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%s: response %s is not a JSON string: %v", fn, out, err)
	}
	return s
}

var _ apps.CredentialEnv = (*Env)(nil)
