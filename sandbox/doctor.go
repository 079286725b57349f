package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// Check is one protection and whether it is active.
type Check = launch.Check

// Report says which protections are active on this host: first what the
// host offers, then what a real probe spoke saw from inside its sandbox.
type Report struct {
	// Host names the OS, kernel and user the hub runs as.
	Host string `json:"host"`
	// Off is true when the configuration turns the sandbox off.
	Off bool `json:"off"`
	// Confined is true when spokes are confined (New accepts the host and
	// the probe spoke confirmed its filter).
	Confined bool `json:"confined"`
	// Checks are the host's protections.
	Checks []Check `json:"checks"`
	// Spoke is what the probe spoke applied and verified.
	Spoke []Check `json:"spoke,omitempty"`
	// Error says why spokes cannot be confined or the probe failed.
	Error string `json:"error,omitempty"`
}

// String renders the report for a terminal.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sandbox on %s\n", r.Host)
	switch {
	case r.Off:
		b.WriteString("SANDBOX OFF: spokes run as plain processes with no OS-level confinement\n")
	case r.Confined:
		b.WriteString("spokes are confined\n")
	default:
		b.WriteString("SPOKES CANNOT BE CONFINED on this host\n")
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	table := func(title string, cs []Check) {
		fmt.Fprintf(&b, "\n%s\n", title)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, c := range cs {
			state := "active"
			if !c.Active {
				state = "UNAVAILABLE"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, state, c.Detail)
		}
		_ = tw.Flush()
	}
	table("host", r.Checks)
	if len(r.Spoke) > 0 {
		table("inside a probe spoke", r.Spoke)
	}
	return b.String()
}

// JSON renders the report as indented JSON.
func (r Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return b
}

// Doctor reports which protections are active on this host. Unless cfg.Off
// is set and where the host allows it, it starts one probe spoke (cfg.Exe
// must call Enter when IsChild, as the secgpt binary does) and reports
// what that spoke applied and verified from inside.
func Doctor(ctx context.Context, cfg Config) Report {
	u := "uid " + fmt.Sprint(os.Getuid())
	if os.Getuid() == 0 {
		u = "root"
	}
	r := Report{Host: fmt.Sprintf("%s/%s, kernel %s, %s", runtime.GOOS, runtime.GOARCH, kernelRelease(), u), Off: cfg.Off}
	h := probeHost()
	r.Checks = h.checks()
	if cfg.Off {
		r.Error = "the configuration turns the sandbox off"
		return r
	}
	if err := h.usable(); err != nil {
		r.Error = err.Error()
		return r
	}
	spoke, err := probeSpoke(ctx, cfg)
	r.Spoke = spoke
	if err != nil {
		r.Error = "probe spoke: " + err.Error()
		return r
	}
	r.Confined = true
	for _, c := range spoke {
		if strings.HasPrefix(c.Name, "verify seccomp") && !c.Active {
			r.Confined = false
		}
	}
	return r
}

// probeSpoke starts a probe spoke, reads its report, and compares its
// namespaces with the hub's.
func probeSpoke(ctx context.Context, cfg Config) ([]Check, error) {
	cfg.Logger = discardLogger()
	cfg.Pool = 0 // one probe, nothing left running
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := s.start(ctx, Policy{App: "doctor", Timeout: 10 * time.Second, Domains: []string{"example.com"}}, true)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { p.Kill("doctor probe timed out") })
	defer stop()
	var msg launch.ProbeReport
	line, err := bufio.NewReader(p.Conn).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &msg)
	}
	var out []Check
	if err == nil {
		for _, ns := range []string{"user", "mnt", "net", "pid", "ipc", "uts", "cgroup"} {
			mine, _ := os.Readlink("/proc/self/ns/" + ns)
			theirs, rerr := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", p.PID, ns))
			c := Check{Name: ns + " namespace", Active: rerr == nil && mine != theirs}
			switch {
			case rerr != nil:
				c.Detail = rerr.Error()
			case c.Active:
				c.Detail = "own " + theirs
			default:
				c.Detail = "shared with the hub"
			}
			out = append(out, c)
		}
		out = append(out, msg.Checks...)
		out = append(out, Check{Name: "egress proxy", Active: true, Detail: "fd 4 to the hub's proxy; only declared registrable domains (eTLD+1)"})
	}
	p.Conn.Close()
	werr := p.Wait()
	switch {
	case err != nil && werr != nil:
		return out, fmt.Errorf("read report: %w (%v)", err, werr)
	case err != nil:
		return out, fmt.Errorf("read report: %w", err)
	case msg.Error != "":
		return out, fmt.Errorf("enter: %s", msg.Error)
	}
	return out, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
