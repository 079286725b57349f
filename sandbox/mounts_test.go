//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMounts hands spokes host files and directories (Policy.Mounts): a
// root-only file inside a 0700 directory becomes readable by that spoke,
// a writable directory takes its writes, and nothing beside what was
// named is visible, not even a sibling in the same directory.
func TestMounts(t *testing.T) {
	s := newSpawner(t, Config{})
	// Outside /tmp (the spoke's /tmp is its own), like a home directory.
	base, err := os.MkdirTemp("/var/tmp", "secgpt-mounts-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	home := filepath.Join(base, "home") // 0700 like /root
	data := filepath.Join(home, "app", "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{home, filepath.Join(home, "app")} {
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mailbox := filepath.Join(home, "app", "mailbox.json")
	sibling := filepath.Join(home, "app", "other-user.json")
	for _, f := range []string{mailbox, sibling} {
		if err := os.WriteFile(f, []byte(`{"from":"`+filepath.Base(f)+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	note := filepath.Join(data, "note.txt")
	ro := []Mount{{Source: mailbox}}
	rw := []Mount{{Source: mailbox}, {Source: data, Write: true}}
	tests := []struct {
		name string
		pol  Policy
		ok   bool
		want string
	}{
		{"read a named 0600 file under a 0700 directory", Policy{Args: []string{"read", mailbox}, Mounts: ro}, true, "23 bytes"},
		{"read its unnamed sibling", Policy{Args: []string{"read", sibling}, Mounts: ro}, false, "no such file"},
		{"read it without a mount", Policy{Args: []string{"read", mailbox}}, false, "permission denied"},
		{"write a read-only mount", Policy{Args: []string{"write", mailbox, "x"}, Mounts: ro}, false, "read-only file system"},
		{"write into a writable directory", Policy{Args: []string{"write", note, "hello"}, Mounts: rw}, true, ""},
		{"mount at another target", Policy{Args: []string{"read", "/tmp/in/mailbox.json"}, Mounts: []Mount{{Source: mailbox, Target: "/tmp/in/mailbox.json"}}}, true, "23 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := run(t, s, tc.pol)
			if err != nil || len(outs) != 1 {
				t.Fatalf("want one outcome, got %+v (wait: %v)", outs, err)
			}
			o := outs[0]
			if o.OK != tc.ok || !strings.Contains(o.Err+" "+o.Detail, tc.want) {
				t.Fatalf("got %+v, want ok=%v with %q", o, tc.ok, tc.want)
			}
		})
	}
	b, err := os.ReadFile(note)
	if err != nil || string(b) != "hello" {
		t.Fatalf("the spoke's write did not reach the host: %q, %v", b, err)
	}
	// Through the idmapped mount the spoke's user (nobody) writes as the
	// directory's owner: on the host the file belongs to root, like the
	// directory, and nothing on the host was chowned.
	if fi, err := os.Stat(note); err != nil {
		t.Fatal(err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Getuid()) {
		t.Errorf("the spoke's file belongs to uid %d on the host, want %d", st.Uid, os.Getuid())
	}
	t.Run("pooled spoke", func(t *testing.T) {
		// A pooled spoke was started before its policy existed; its mounts
		// come with the launch frame all the same.
		ps := newSpawner(t, Config{Pool: 1})
		defer ps.Close()
		for range 2 {
			outs, err := run(t, ps, Policy{Args: []string{"read", mailbox}, Mounts: ro})
			if err != nil || len(outs) != 1 || !outs[0].OK {
				t.Fatalf("pooled read: %+v (wait: %v)", outs, err)
			}
		}
	})
	t.Run("bad paths are refused", func(t *testing.T) {
		for _, m := range []Mount{{Source: "relative"}, {Source: "/proc/1/environ"}, {Source: mailbox, Target: "/dev/null"}, {Source: base + "/../etc"}} {
			pr, err := s.Start(t.Context(), Policy{App: "test.bad", Args: []string{"ready"}, Mounts: []Mount{m}})
			if err == nil {
				pr.Kill("test")
				_ = pr.Wait()
				t.Errorf("mount %+v accepted", m)
			}
		}
	})
}

// TestInterpreters runs real interpreters in an exec-allowed spoke: each
// starts, reads its runtime, and is still refused what is outside the
// sandbox (the hub's files, a shell's network).
func TestInterpreters(t *testing.T) {
	s := newSpawner(t, Config{})
	secretDir, err := os.MkdirTemp("/var/tmp", "secgpt-interp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(secretDir)
	secret := filepath.Join(secretDir, "state.db")
	if err := os.WriteFile(secret, []byte("hub state"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name string
		argv []string
		ok   bool
		want string
	}
	var tests []tc
	for _, bin := range []string{"/usr/bin/node", "/usr/bin/python3"} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", bin)
			}
			t.Logf("%s not installed; skipped", bin)
			continue
		}
		switch filepath.Base(bin) {
		case "node":
			tests = append(tests,
				tc{"node runs", []string{bin, "-e", `console.log("node " + process.version + " " + require("os").homedir())`}, true, "node v"},
				tc{"node reads a hub file", []string{bin, "-e", `require("fs").readFileSync(process.argv[1])`, secret}, false, "EACCES"},
				tc{"node writes its private home", []string{bin, "-e", `const fs=require("fs");fs.writeFileSync("/tmp/x","y");console.log(fs.readFileSync("/tmp/x","utf8"))`}, true, "y"},
				tc{"node spawns a shell that connects out", []string{bin, "-e", `console.log(require("child_process").execSync("exec 3<>/dev/tcp/127.0.0.1/22 && echo connected || echo refused", {shell: "/bin/bash"}).toString())`}, true, "refused"},
			)
		case "python3":
			tests = append(tests,
				tc{"python runs", []string{bin, "-c", `import json,sys; print("python", sys.version_info[0])`}, true, "python 3"},
				tc{"python reads a hub file", []string{bin, "-c", `open(` + "'" + secret + "'" + `).read()`}, false, "Permission denied"},
				tc{"python reads ~/.ssh", []string{bin, "-c", `import os; os.listdir('/root/.ssh')`}, false, "Permission denied"},
			)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := run(t, s, Policy{Args: append([]string{"run"}, tc.argv...), AllowExec: true})
			if err != nil || len(outs) != 1 {
				t.Fatalf("want one outcome, got %+v (wait: %v)", outs, err)
			}
			o := outs[0]
			if o.OK != tc.ok || !strings.Contains(o.Err+" "+o.Detail, tc.want) {
				t.Fatalf("got %+v, want ok=%v with %q", o, tc.ok, tc.want)
			}
		})
	}
}
