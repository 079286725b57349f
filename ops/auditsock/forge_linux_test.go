package auditsock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
)

// forgeEnv makes the test binary a forger: another local user serving a
// made-up audit log on the socket path before the bot does.
const forgeEnv = "SECGPT_AUDITSOCK_FORGE"

func TestMain(m *testing.M) {
	if path := os.Getenv(forgeEnv); path != "" {
		os.Exit(forge(path))
	}
	os.Exit(m.Run())
}

func forge(path string) int {
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	_, _ = bufio.NewReader(c).ReadBytes('\n')
	_, _ = io.WriteString(c, `{"events":[{"type":"decision","decision":"always","detail":"forged"}]}`+"\n")
	c.Close()
	return 0
}

// TestReadRefusesForgedServer: a socket served by a user who is neither
// the state file's owner nor root is not believed. Run as root, the forger
// is a real process of user nobody; otherwise the test's own server stands
// in for it by naming another uid as the file's owner.
func TestReadRefusesForgedServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if os.Getuid() != 0 {
		sock, _ := serveBolt(t)
		_, err := Read(ctx, sock, os.Getuid()+1, state.AuditFilter{})
		if !errors.Is(err, ErrUntrusted) {
			t.Fatalf("read from a server of another uid: %v", err)
		}
		return
	}
	const nobody = 65534
	// The forger's binary and the socket's directory must be reachable by
	// nobody.
	bin := filepath.Join(mkdirMode(t, 0o755), "forger")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := mkdirMode(t, 0o777)
	db := filepath.Join(dir, "secgpt.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := Path(db)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{forgeEnv + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 200 {
			t.Fatal("the forger did not listen")
		}
		time.Sleep(25 * time.Millisecond)
	}
	owner, err := FileOwner(db)
	if err != nil || owner != 0 {
		t.Fatalf("owner %d, %v", owner, err)
	}
	evs, err := Read(ctx, sock, owner, state.AuditFilter{})
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("read the forged log: %+v (err %v)", evs, err)
	}
}

func mkdirMode(t *testing.T, mode os.FileMode) string {
	t.Helper()
	d, err := os.MkdirTemp("", "auditsock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}
