package mcp

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp/entry"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Prefix starts the app ID of every MCP server: server "memory" is the app
// "mcp.memory".
const Prefix = "mcp."

// In-spoke paths an MCP server is given. They lie in the spoke's private
// /tmp, so they exist in every spoke and in no other.
const (
	// HomeDir is the server's HOME and working directory: private and
	// writable, gone when the spoke ends.
	HomeDir = "/tmp/home"
	// DataDir is where the per-user data directory (Server.Data) appears:
	// one host directory per (user, server), kept between invocations.
	DataDir = "/tmp/data"
	// DataVar, written in args or env values, is replaced by DataDir.
	DataVar = "${SECGPT_DATA}"
)

// Server is one MCP server as the spoke receives it (the app's config
// section): the operator's settings with secrets already resolved, plus the
// tools learnt at start. It is handed only to this app's spoke.
type Server struct {
	// Name is the server's name in the config (the app ID without Prefix).
	Name string `json:"name"`
	// Command and Args start a stdio server inside the spoke.
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env is the server's environment beside PATH, HOME and TMPDIR.
	Env map[string]string `json:"env,omitempty"`
	// URL is a remote (streamable HTTP) server, reached through the egress
	// proxy; its host's registrable domain is added to Domains.
	URL string `json:"url,omitempty"`
	// URLSecrets are the values of the server's secrets SetURL put into
	// URL, by name: the client takes them out of every error it reports.
	URLSecrets map[string]string `json:"url_secrets,omitempty"`
	// BearerToken is sent to a remote server as Authorization: Bearer.
	BearerToken string `json:"bearer_token,omitempty"`
	// OAuth makes the remote server's token the user's own, from the MCP
	// authorization flow the hub runs (ops/connect): the invocation's
	// credential, never a configured one.
	OAuth bool `json:"oauth,omitempty"`
	// Domains the server may reach through the egress proxy.
	Domains []string `json:"domains,omitempty"`
	// Roots are the directories announced to the server as its roots
	// (the declared directories, and DataDir when Data is set).
	Roots []string `json:"roots,omitempty"`
	// Data gives the server a per-user directory at DataDir.
	Data bool `json:"data,omitempty"`
	// HideRoots announces no roots: the server's own arguments decide
	// which directories it serves (the sandbox still decides what it can
	// open).
	HideRoots bool `json:"hide_roots,omitempty"`
	// TrustAnnotations lets the server's tool annotations decide a
	// function's Effect; otherwise Effect is DefaultEffect whatever the
	// server claims.
	TrustAnnotations bool `json:"trust_annotations,omitempty"`
	// Instructions are the server's own instructions (untrusted, cleaned),
	// learnt at start; they reach only this app's spoke.
	Instructions string `json:"instructions,omitempty"`
	// Tools are the server's tools as functions, learnt at start.
	Tools []apps.Function `json:"tools,omitempty"`
	// Aliases name the server's tools for the planner and the responder:
	// tool name → alias (without the "<name>__" prefix). The operator's
	// mcp.servers.<name>.aliases, then the pins, decide them; a tool
	// without one is shown as t<N> (see Aliases).
	Aliases map[string]string `json:"aliases,omitempty"`
}

// DefaultEffect is a function's Effect when its server's annotations are
// not trusted: the most a tool may do.
const DefaultEffect = apps.EffectDestroy

// Check validates a server's settings, naming the bad field. Its name and
// env rules are config's too (package entry).
func (s Server) Check() error {
	if err := entry.CheckName(s.Name); err != nil {
		return err
	}
	switch {
	case s.Command == "" && s.URL == "":
		return fmt.Errorf("%s: needs command (a stdio server) or url (a remote server)", s.Name)
	case s.Command != "" && s.URL != "":
		return fmt.Errorf("%s: has both command and url; a server is one or the other", s.Name)
	}
	if s.OAuth && (s.URL == "" || s.BearerToken != "") {
		return fmt.Errorf("%s: oauth is for a remote server (url) without a bearer token", s.Name)
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s: url %q is not an http(s) URL", s.Name, s.URL)
		}
	}
	for k := range s.Env {
		if err := entry.CheckEnvName(k); err != nil {
			return fmt.Errorf("%s: env: %w", s.Name, err)
		}
	}
	return nil
}

// ID is the server's app ID.
func (s Server) ID() ids.AppID { return ids.AppID(Prefix + s.Name) }

// decodeServer reads a spoke's config section.
func decodeServer(id ids.AppID, raw json.RawMessage) (Server, error) {
	var s Server
	if len(raw) == 0 {
		return s, fmt.Errorf("no config for %s", id)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("config of %s: %w", id, err)
	}
	if s.ID() != id {
		return s, fmt.Errorf("config names server %q, not %s", s.Name, id)
	}
	return s, s.Check()
}
