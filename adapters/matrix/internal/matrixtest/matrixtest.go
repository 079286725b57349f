// Package matrixtest finds or starts a real Matrix homeserver (Dendrite) for
// integration tests and drives human test accounts through the
// client-server API. Only tests of adapters/matrix import it (internal/
// makes the compiler hold the package to it).
//
// Homeserver looks, in order, for:
//  1. SECGPT_TEST_MATRIX_URL and the account variables printed by
//     scripts/dendrite-start.sh (a server started by .ci/run);
//  2. Dendrite binaries cached by scripts/dendrite-build.sh, in which case it
//     starts a throw-away server once per test binary (stopped by Main).
//
// Without either it skips the test, except under CI=true, where it fails it.
package matrixtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// DendriteVersion is the homeserver version the scripts build.
const DendriteVersion = "v0.13.8"

// Account is a test account on the homeserver.
type Account struct {
	UserID   id.UserID
	Password string
}

// Server is a running homeserver with a bot and two human accounts.
type Server struct {
	URL        string
	ServerName string
	Bot        Account
	Alice      Account
	Bob        Account
}

// started is the server this test binary started itself, shared by all its
// tests and stopped by Main. Test-helper state, set once.
var started struct {
	once sync.Once
	srv  *Server
	pid  int
	dir  string
	err  error
}

// Main runs the tests and then stops a homeserver Homeserver started. Call
// it from TestMain: func TestMain(m *testing.M) { os.Exit(matrixtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if started.pid > 0 {
		// The server is not our child (the script detached it): signal it
		// and poll until it is gone before removing its files.
		_ = syscall.Kill(started.pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(started.pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.RemoveAll(started.dir)
	}
	return code
}

// Homeserver returns a homeserver to test against; see the package doc.
func Homeserver(t testing.TB) *Server {
	t.Helper()
	if srv := fromEnv(os.Getenv); srv != nil {
		return srv
	}
	bin := cachedBinaries()
	if bin == "" {
		missing(t, "no Matrix homeserver: set SECGPT_TEST_MATRIX_URL (scripts/dendrite-start.sh) or build Dendrite with scripts/dendrite-build.sh")
	}
	started.once.Do(func() { started.srv, started.pid, started.dir, started.err = start(bin) })
	if started.err != nil {
		missing(t, "start Dendrite: "+started.err.Error())
	}
	return started.srv
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
		return
	}
	t.Skip(why)
}

// fromEnv reads the variables scripts/dendrite-start.sh prints.
func fromEnv(get func(string) string) *Server {
	url := get("SECGPT_TEST_MATRIX_URL")
	if url == "" {
		return nil
	}
	acct := func(who, def string) Account {
		u := get("SECGPT_TEST_MATRIX_" + who + "_USER")
		if u == "" {
			u = "@" + def + ":" + orDefault(get("SECGPT_TEST_MATRIX_SERVER_NAME"), "localhost")
		}
		return Account{UserID: id.UserID(u), Password: orDefault(get("SECGPT_TEST_MATRIX_"+who+"_PASSWORD"), def+"password1")}
	}
	return &Server{
		URL:        url,
		ServerName: orDefault(get("SECGPT_TEST_MATRIX_SERVER_NAME"), "localhost"),
		Bot:        acct("BOT", "bot"),
		Alice:      acct("ALICE", "alice"),
		Bob:        acct("BOB", "bob"),
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cachedBinaries returns the directory scripts/dendrite-build.sh fills, if
// it holds a built server.
func cachedBinaries() string {
	if d := os.Getenv("DENDRITE_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("SECGPT_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "secgpt")
	}
	dir := filepath.Join(cache, "dendrite-bin-"+DendriteVersion)
	for _, tool := range []string{"dendrite", "generate-config", "generate-keys", "create-account"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			return ""
		}
	}
	return dir
}

// start runs scripts/dendrite-start.sh and parses what it prints.
func start(bin string) (*Server, int, string, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, 0, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "dendrite-start.sh"))
	cmd.Env = append(os.Environ(), "DENDRITE_BIN="+bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, "", fmt.Errorf("scripts/dendrite-start.sh: %w: %s", err, stderr.String())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	srv := fromEnv(func(k string) string { return vars[k] })
	if srv == nil {
		return nil, 0, "", errors.New("scripts/dendrite-start.sh printed no SECGPT_TEST_MATRIX_URL")
	}
	pid, _ := strconv.Atoi(vars["SECGPT_TEST_MATRIX_PID"])
	return srv, pid, vars["SECGPT_TEST_MATRIX_DIR"], nil
}

// repoRoot finds the directory holding the project's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "dendrite-start.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/dendrite-start.sh not found above the working directory")
		}
		dir = parent
	}
}

// Client is a logged-in human test account that syncs in the background and
// records every event it sees.
type Client struct {
	*mautrix.Client

	mu     sync.Mutex // guards events and notify
	events []*event.Event
	notify chan struct{}
}

// LoginOptions tune Login.
type LoginOptions struct {
	// Encryption gives the client an Olm machine (needs -tags goolm).
	Encryption bool
	// SendKeysMinTrust, with Encryption, is the least trust a device needs
	// to get this client's room keys; others get them withheld, as with
	// Element's "never send to unverified sessions". Zero sends to all.
	SendKeysMinTrust id.TrustState
}

// Login logs acct in with a new device and starts syncing until the test ends.
func (s *Server) Login(t testing.TB, acct Account, opts LoginOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cli, err := mautrix.NewClient(s.URL, "", "")
	if err != nil {
		t.Fatalf("matrix client: %v", err)
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(acct.UserID)},
		Password:         acct.Password,
		StoreCredentials: true,
	})
	if err != nil {
		cancel()
		t.Fatalf("log in %s: %v", acct.UserID, err)
	}
	c := &Client{Client: cli, notify: make(chan struct{})}
	syncer := cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEvent(c.record)
	if opts.Encryption {
		closeCrypto, err := enableCrypto(ctx, cli, t.TempDir(), opts.SendKeysMinTrust)
		if err != nil {
			cancel()
			t.Fatalf("encryption for %s: %v", acct.UserID, err)
		}
		t.Cleanup(closeCrypto) // registered first, so it runs after syncing stops
	} else {
		cli.StateStore = mautrix.NewMemoryStateStore()
		syncer.OnEvent(cli.StateStoreSyncHandler)
	}
	synced := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.syncLoop(ctx, t, synced)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-synced:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: first sync did not finish", acct.UserID)
	}
	return c
}

// pollTimeout is short so that a wake-up the homeserver misses (seen with
// Dendrite under load) costs seconds, not a test timeout.
const pollTimeout = 2 * time.Second

// syncLoop long-polls until ctx ends, closing synced after the first response.
func (c *Client) syncLoop(ctx context.Context, t testing.TB, synced chan struct{}) {
	next := ""
	first := true
	for ctx.Err() == nil {
		req := mautrix.ReqSync{Timeout: int(pollTimeout.Milliseconds()), Since: next}
		if first {
			// Only the position: tests look at rooms they create afterwards,
			// and the full state of every earlier test's room is slow to fetch.
			req.Timeout, req.FilterID = 0, `{"room":{"rooms":[]},"presence":{"types":[]}}`
		}
		resp, err := c.FullSyncRequest(ctx, req)
		if err != nil {
			if ctx.Err() == nil {
				t.Logf("%s sync: %v", c.UserID, err)
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
			continue
		}
		if err := c.Syncer.ProcessResponse(ctx, resp, next); err != nil {
			t.Logf("%s sync handlers: %v", c.UserID, err)
		}
		next = resp.NextBatch
		if first {
			close(synced)
			first = false
		}
	}
}

func (c *Client) record(_ context.Context, evt *event.Event) {
	c.mu.Lock()
	c.events = append(c.events, evt)
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// Wait returns the first event seen (from the start of the client's sync)
// that matches, failing the test after timeout.
func (c *Client) Wait(t testing.TB, timeout time.Duration, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		c.mu.Lock()
		evts, notify := c.events, c.notify
		c.mu.Unlock()
		for ; seen < len(evts); seen++ {
			if match(evts[seen]) {
				return evts[seen]
			}
		}
		select {
		case <-notify:
		case <-deadline.C:
			t.Fatalf("%s: timed out after %s waiting for %s", c.UserID, timeout, what)
			return nil
		}
	}
}

// Events returns the events seen so far that match.
func (c *Client) Events(match func(*event.Event) bool) []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*event.Event
	for _, e := range c.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// CreateRoom creates a room inviting users; encrypted turns on Megolm.
func (c *Client) CreateRoom(t testing.TB, name string, encrypted bool, invite ...id.UserID) id.RoomID {
	t.Helper()
	req := &mautrix.ReqCreateRoom{Name: name, Preset: "private_chat", Invite: invite}
	if encrypted {
		req.InitialState = []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}}
	}
	resp, err := c.Client.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatalf("%s create room: %v", c.UserID, err)
	}
	return resp.RoomID
}

// Join joins room.
func (c *Client) Join(t testing.TB, room id.RoomID) {
	t.Helper()
	if _, err := c.JoinRoomByID(context.Background(), room); err != nil {
		t.Fatalf("%s join %s: %v", c.UserID, room, err)
	}
}

// Send posts content (encrypted when the room is and the client can) and
// returns its event ID.
func (c *Client) Send(t testing.TB, room id.RoomID, content *event.MessageEventContent) id.EventID {
	t.Helper()
	resp, err := c.SendMessageEvent(context.Background(), room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("%s send to %s: %v", c.UserID, room, err)
	}
	return resp.EventID
}

// SendText posts a plain text message.
func (c *Client) SendText(t testing.TB, room id.RoomID, text string) id.EventID {
	t.Helper()
	return c.Send(t, room, &event.MessageEventContent{MsgType: event.MsgText, Body: text})
}

// React annotates evt with key.
func (c *Client) React(t testing.TB, room id.RoomID, evt id.EventID, key string) id.EventID {
	t.Helper()
	resp, err := c.SendReaction(context.Background(), room, evt, key)
	if err != nil {
		t.Fatalf("%s react to %s: %v", c.UserID, evt, err)
	}
	return resp.EventID
}

// WaitJoined waits until user has joined room.
func (c *Client) WaitJoined(t testing.TB, room id.RoomID, user id.UserID, timeout time.Duration) {
	t.Helper()
	c.Wait(t, timeout, string(user)+" joined "+string(room), func(e *event.Event) bool {
		return e.RoomID == room && e.Type == event.StateMember && e.GetStateKey() == string(user) &&
			Membership(e) == event.MembershipJoin
	})
}

// Membership reads a member event's membership from its raw content. The
// parsed struct is not safe to read: mautrix's memory state store keeps a
// pointer to it and updates it in place (e.g. CreateRoom marks invitees as
// invited after the call returns, which can overwrite a join already seen).
func Membership(e *event.Event) event.Membership {
	m, _ := e.Content.Raw["membership"].(string)
	return event.Membership(m)
}

// Message returns evt's message content if it is a message (after
// decryption), else nil.
func Message(evt *event.Event) *event.MessageEventContent {
	if evt.Type != event.EventMessage {
		return nil
	}
	msg, _ := evt.Content.Parsed.(*event.MessageEventContent)
	return msg
}
