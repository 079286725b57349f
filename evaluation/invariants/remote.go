package invariants

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// The remote MCP server whose url holds secrets (I12): installed as the
// bot installs a configured `url:` with ${NAME} references, the url filled
// in from its secrets by mcp.Server.SetURL, in a quarter of the sandboxed
// episodes. Its host does not resolve, so every invocation fails at
// connect: the errors of a client that was given a url with credentials
// are where they would leak.
const (
	remoteName = "invremote"
	appRemote  = ids.AppID(mcp.Prefix + remoteName)
	remoteHost = "mcp.invremote.example"
)

// remoteSetup is one episode's remote server: its url as the operator
// writes it and its secrets' values, canaries "zqs" + kind + token.
type remoteSetup struct {
	url     string
	secrets map[string]string
}

// remoteEpisode says whether episode seed es installs the remote server:
// a hash of the seed, so that drawing it changes nothing else an episode
// draws.
func remoteEpisode(es uint64) bool {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(es >> (8 * i))
	}
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(appRemote))
	return h.Sum64()%4 == 0
}

// newRemote draws the episode's secrets, and a url with a password or a
// user name alone (often a token), a path and a query value.
func newRemote(es uint64) *remoteSetup {
	rng := rand.New(rand.NewPCG(es, 0x5ec))
	token := metaToken(rng)
	r := &remoteSetup{secrets: map[string]string{}}
	for _, k := range []string{"user", "pass", "path", "key"} {
		r.secrets["R_"+strings.ToUpper(k)] = "zqs" + k + token
	}
	userinfo := "bob:${R_PASS}"
	if rng.IntN(2) == 0 {
		userinfo = "${R_USER}"
		delete(r.secrets, "R_PASS")
	} else {
		delete(r.secrets, "R_USER")
	}
	r.url = "https://" + userinfo + "@" + remoteHost + "/t/${R_PATH}/mcp?v=2&api_key=${R_KEY}"
	return r
}

// values are the secrets' values, sorted.
func (r *remoteSetup) values() []string {
	var out []string
	for _, v := range r.secrets {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// install adds the server to cat with the tool it was pinned with (its
// host cannot be listed), and returns its config section.
func (r *remoteSetup) install(ctx context.Context, cat *apps.Catalog, pins state.Pins) (json.RawMessage, error) {
	s := mcp.Server{Name: remoteName, Tools: []apps.Function{{
		Name:        remoteName + mcp.Sep + "fetch",
		Request:     json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"x-mcp-tool":"fetch"}`),
		Response:    json.RawMessage(`{"type":"object"}`),
		Description: "fetches", Effect: mcp.DefaultEffect, TextResult: true,
	}}}
	if _, err := s.SetURL(r.url, r.secrets); err != nil {
		return nil, fmt.Errorf("the remote MCP server's url: %w", err)
	}
	s, pin, _ := mcp.Reconcile(s, state.Pin{}, false, nil, time.Now())
	if err := pins.PutPin(ctx, pin); err != nil {
		return nil, err
	}
	return mcp.Install(cat, s)
}

// checkURLSecrets reports every event that carries a secret of the remote
// server's url anywhere but in the frames of that server's own spokes
// (whose init carries its config): the planner's and the responder's
// context, replies, prompts, audit entries, remembered facts, the hub's
// log, and every other app's frames.
func checkURLSecrets(evs []*event, secrets []string) []Violation {
	var vs []Violation
	seen := map[string]bool{}
	for _, e := range evs {
		if (e.kind == evFrameIn || e.kind == evFrameOut) && e.app == appRemote {
			continue
		}
		text := eventText(e)
		for _, sec := range secrets {
			if !strings.Contains(text, sec) {
				continue
			}
			where := eventPlace(e)
			if seen[where+sec] {
				continue
			}
			seen[where+sec] = true
			vs = append(vs, Violation{Invariant: InvCredential, Cause: "url secret in " + where,
				Detail: fmt.Sprintf("url secret in %s: the remote MCP server's url secret %s reached it (#%d): %s", where, sec, e.seq, clip(text))})
		}
	}
	return vs
}

// eventText is everything an event carries as text.
func eventText(e *event) string {
	var b strings.Builder
	b.WriteString(e.text)
	if e.prompt != nil {
		p, _ := json.Marshal(e.prompt)
		b.Write(p)
	}
	if e.audit != nil {
		a, _ := json.Marshal(e.audit)
		b.Write(a)
	}
	for k, v := range e.facts {
		b.WriteString(k + "=" + v + "\n")
	}
	return b.String()
}

// eventPlace names where an event's text went.
func eventPlace(e *event) string {
	switch e.kind {
	case evFrameIn:
		return "a frame to " + string(e.app)
	case evFrameOut:
		return "a frame from " + string(e.app)
	case evPrompt, evResolved, evAnswer:
		return "a prompt"
	case evReply:
		return "a reply"
	case evAudit:
		return "an audit entry"
	case evEntities:
		return "remembered facts"
	case evPlanner:
		return "the planner's context"
	case evResponder:
		return "the responder's context"
	case evLog:
		return "the hub's log"
	default:
		return "an event"
	}
}

// logTap is the episode hub's log handler: every record, at every level,
// becomes an event, so that what the hub logs is checked like what it
// shows.
type logTap struct {
	rec   *recorder
	attrs []slog.Attr
}

func (logTap) Enabled(context.Context, slog.Level) bool { return true }

func (l logTap) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.rec.add(&event{kind: evLog, text: b.String()})
	return nil
}

func (l logTap) WithAttrs(as []slog.Attr) slog.Handler {
	return logTap{rec: l.rec, attrs: append(slices.Clone(l.attrs), as...)}
}

func (l logTap) WithGroup(string) slog.Handler { return l }
