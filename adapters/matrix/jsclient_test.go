package matrix_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// jsEvent is a room event as the matrix-js-sdk client reports it.
type jsEvent struct {
	ID        string `json:"id"`
	Room      string `json:"room"`
	Sender    string `json:"sender"`
	Type      string `json:"type"`
	Encrypted bool   `json:"encrypted"`
	Body      string `json:"body"`
	MsgType   string `json:"msgtype"`
	RelType   string `json:"rel_type"`
	RelEvent  string `json:"rel_event"`
	Thread    string `json:"thread"`
	NewBody   string `json:"new_body"`
}

// jsClient is testdata/jsclient/client.mjs running under the Node 22 that
// scripts/matrix-js-client.sh installs: a person's client built on
// matrix-js-sdk and its Rust crypto, not on mautrix.
type jsClient struct {
	t  *testing.T
	in io.WriteCloser

	mu      sync.Mutex // guards all following fields
	n       int
	results map[int]chan map[string]any
	events  []jsEvent
	sas     []string // each SAS shown, its emoji joined
	changed chan struct{}
	// finished receives a successful long-running command's result.
	finished chan map[string]any
}

// startJS logs acct in with a new matrix-js-sdk client. Without the
// installed client it skips the test, or fails it under CI=true.
func startJS(t *testing.T, srv *matrixtest.Server, acct matrixtest.Account) *jsClient {
	t.Helper()
	dir := os.Getenv("SECGPT_MATRIX_JS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "secgpt", "matrix-js")
		if c := os.Getenv("SECGPT_CACHE"); c != "" {
			dir = filepath.Join(c, "matrix-js")
		}
	}
	// The Node 22 of scripts/node22.sh, linked there by the script.
	node := filepath.Join(dir, "node")
	if _, err := os.Stat(node); err != nil {
		why := "matrix-js-sdk client not installed (run scripts/matrix-js-client.sh): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	// Node resolves the SDK from the script's folder: run a copy beside a
	// link to the installed modules.
	run := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "jsclient", "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"client.mjs": src, "package.json": []byte(`{"type":"module"}`)} {
		if err := os.WriteFile(filepath.Join(run, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(run, "node_modules")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(run, "client.mjs"))
	cmd.Env = append(os.Environ(), "HS="+srv.URL, "USER="+string(acct.UserID), "PASSWORD="+acct.Password)
	cmd.Stderr = t.Output()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &jsClient{t: t, in: in, results: map[int]chan map[string]any{}, changed: make(chan struct{}), finished: make(chan map[string]any, 1)}
	done := make(chan struct{})
	go c.read(stdout, done)
	t.Cleanup(func() {
		_ = in.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	c.call("login", nil)
	return c
}

func (c *jsClient) read(r io.Reader, done chan struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var msg map[string]any
		if json.Unmarshal(sc.Bytes(), &msg) != nil {
			continue
		}
		c.mu.Lock()
		if n, ok := msg["id"].(float64); ok {
			if ch := c.results[int(n)]; ch != nil {
				ch <- msg
			}
		} else if sas, ok := msg["sas"].([]any); ok {
			var b strings.Builder
			for _, e := range sas {
				b.WriteString(fmt.Sprint(e))
			}
			c.sas = append(c.sas, b.String())
		} else if ev, ok := msg["event"]; ok {
			raw, _ := json.Marshal(ev)
			var e jsEvent
			_ = json.Unmarshal(raw, &e)
			c.events = append(c.events, e)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// call runs one command and returns its result; an error fails the test.
func (c *jsClient) call(cmd string, args map[string]any) map[string]any {
	c.t.Helper()
	select {
	case res := <-c.start(cmd, args):
		if e, ok := res["error"]; ok {
			c.t.Fatalf("js client %s: %v", cmd, e)
		}
		return res
	case <-time.After(wait):
		c.t.Fatalf("js client %s: no answer in %s", cmd, wait)
		return nil
	}
}

// start sends one command and returns where its result will arrive.
func (c *jsClient) start(cmd string, args map[string]any) <-chan map[string]any {
	c.t.Helper()
	c.mu.Lock()
	c.n++
	n := c.n
	ch := make(chan map[string]any, 1)
	c.results[n] = ch
	c.mu.Unlock()
	req := map[string]any{"id": n, "cmd": cmd}
	for k, v := range args {
		req[k] = v
	}
	line, _ := json.Marshal(req)
	if _, err := c.in.Write(append(line, '\n')); err != nil {
		c.t.Fatalf("js client %s: %v", cmd, err)
	}
	return ch
}

// waitEvent waits for an event matching pred.
func (c *jsClient) waitEvent(what string, pred func(jsEvent) bool) jsEvent {
	c.t.Helper()
	deadline := time.After(wait)
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if pred(e) {
				c.mu.Unlock()
				return e
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("js client: timed out waiting for %s; saw %d events", what, len(c.events))
			return jsEvent{}
		}
	}
}

func (c *jsClient) createRoom(name string, encrypted bool, invite ...id.UserID) string {
	c.t.Helper()
	return c.call("createRoom", map[string]any{"name": name, "encrypted": encrypted, "invite": invite})["room"].(string)
}

func (c *jsClient) waitJoined(room string, user id.UserID) {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if c.call("joined", map[string]any{"room": room, "user": user})["joined"] == true {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s did not join %s", user, room)
}

func (c *jsClient) send(room, body, thread string) string {
	c.t.Helper()
	return c.call("send", map[string]any{"room": room, "body": body, "thread": thread})["event"].(string)
}

func fromBot(bot id.UserID, room string, pred func(jsEvent) bool) func(jsEvent) bool {
	return func(e jsEvent) bool { return e.Sender == string(bot) && e.Room == room && pred(e) }
}

func bodyHas(s string) func(jsEvent) bool {
	return func(e jsEvent) bool { return strings.Contains(e.Body, s) }
}

// TestJSClientDMAndThread: a person on matrix-js-sdk (not mautrix) gets
// answers in a plain DM; in a room, the prompt shows in the thread of the
// question as that SDK sees threads (io.element.thread on Dendrite), an
// answer typed in the thread with the SDK's own thread relation decides
// it, and the bot's reply lands in that thread.
func TestJSClientDMAndThread(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	b := startBot(t, srv, "", newFake(), nil)
	botID, _ := b.Session()
	js := startJS(t, srv, srv.Alice)

	dm := js.createRoom("js dm", false, botID)
	js.waitJoined(dm, botID)
	js.send(dm, "hello from js", "")
	js.waitEvent("the echo in the DM", fromBot(botID, dm, bodyHas("echo")))

	room := js.createRoom("js room", false, botID, srv.Bob.UserID)
	js.waitJoined(room, botID)
	q := js.send(room, "!secgpt ask in a thread", "")
	prompt := js.waitEvent("the prompt", fromBot(botID, room, bodyHas("Permission request")))
	if prompt.Thread != q {
		t.Fatalf("the SDK sees the prompt in thread %q (relation %s), want %q", prompt.Thread, prompt.RelType, q)
	}
	js.send(room, "allow once", q)
	ans := js.waitEvent("the answer", fromBot(botID, room, bodyHas("decision once")))
	if ans.Thread != q {
		t.Errorf("the SDK sees the answer in thread %q (relation %s), want %q", ans.Thread, ans.RelType, q)
	}
}
