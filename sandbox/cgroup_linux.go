package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where per-spoke cgroups are made: under the hub's own
// cgroup, in cgroup v2 when it has the memory controller delegated,
// otherwise in the v1 memory (and pids) hierarchies when they are writable.
type cgroupRoot struct {
	kind string // "v2", "v1" or "" (none usable)
	v2   string // the hub's v2 cgroup directory
	mem  string // v1 memory hierarchy directory
	pids string // v1 pids hierarchy directory, "" if unusable
}

// findCgroup reads /proc/self/cgroup and picks the best usable hierarchy.
func findCgroup() cgroupRoot {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return cgroupRoot{}
	}
	defer f.Close()
	paths := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	if p, ok := paths[""]; ok {
		for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(filepath.Join(mnt, "cgroup.controllers")); err != nil {
				continue
			}
			dir := filepath.Join(mnt, p)
			sub, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
			if err == nil && hasWord(string(sub), "memory") && unix.Access(dir, unix.W_OK) == nil {
				return cgroupRoot{kind: "v2", v2: dir}
			}
			break
		}
	}
	if p, ok := paths["memory"]; ok {
		dir := filepath.Join("/sys/fs/cgroup/memory", p)
		if _, err := os.Stat(filepath.Join(dir, "memory.limit_in_bytes")); err == nil && unix.Access(dir, unix.W_OK) == nil {
			r := cgroupRoot{kind: "v1", mem: dir}
			if pp, ok := paths["pids"]; ok {
				pd := filepath.Join("/sys/fs/cgroup/pids", pp)
				if unix.Access(pd, unix.W_OK) == nil {
					r.pids = pd
				}
			}
			return r
		}
	}
	return cgroupRoot{}
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// sweep removes the empty cgroups of hubs that are gone (a crashed hub
// cannot remove its spokes' cgroups; the kernel killed the spokes with it).
func (r cgroupRoot) sweep() {
	for _, parent := range []string{r.v2, r.mem, r.pids} {
		if parent == "" {
			continue
		}
		ents, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), "secgpt-")
			if !ok || !e.IsDir() {
				continue
			}
			pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
			if err != nil || pid == os.Getpid() || unix.Kill(pid, 0) == nil {
				continue
			}
			_ = unix.Rmdir(filepath.Join(parent, e.Name())) // fails harmlessly while tasks remain
		}
	}
}

// cgroup is one spoke's cgroup (one directory per hierarchy). Once its
// spoke has ended and it is empty, it may serve the next spoke
// (Spawner.putCgroup), with its counters read again as that spoke's zero.
type cgroup struct {
	dirs   []string // made by create, removed by remove
	procs  []string // v1: cgroup.procs files the hub writes the child's pid to
	fd     int      // v2: directory fd for CLONE_INTO_CGROUP, -1 otherwise
	events string   // file whose oom_kill counter says the limit was hit
	pids   string   // pids.events, whose max counter says a fork failed
	// memFile and pidsFile hold the bounds setLimits writes; mem and
	// nproc are the bounds last written there.
	memFile, pidsFile string
	mem               int64
	nproc             uint64
	// usage is the file of the memory charged to the cgroup.
	usage string
	// oomBase and pidsBase are the oom_kill and max counters when the
	// cgroup was last handed to a spoke: what an earlier spoke did is
	// not this one's.
	oomBase, pidsBase int
}

// create makes a cgroup named name with the memory and pids bounds of lim.
func (r cgroupRoot) create(name string, lim Limits) (*cgroup, error) {
	cg := &cgroup{fd: -1}
	ok := false
	defer func() {
		if !ok {
			cg.remove()
		}
	}()
	mk := func(parent string) (string, error) {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", err
		}
		cg.dirs = append(cg.dirs, dir)
		return dir, nil
	}
	mem := strconv.FormatInt(lim.Memory, 10)
	procs := strconv.FormatUint(lim.Procs, 10)
	switch r.kind {
	case "v2":
		dir, err := mk(r.v2)
		if err != nil {
			return nil, err
		}
		if err := writeFile(dir, "memory.max", mem); err != nil {
			return nil, err
		}
		cg.memFile = filepath.Join(dir, "memory.max")
		_ = writeFile(dir, "memory.swap.max", "0")    // absent without swap accounting
		if writeFile(dir, "pids.max", procs) == nil { // absent when pids is not delegated
			cg.pids = filepath.Join(dir, "pids.events")
			cg.pidsFile = filepath.Join(dir, "pids.max")
		}
		cg.events = filepath.Join(dir, "memory.events")
		cg.usage = filepath.Join(dir, "memory.current")
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dir, err)
		}
		cg.fd = fd
	case "v1":
		dir, err := mk(r.mem)
		if err != nil {
			return nil, err
		}
		if err := writeFile(dir, "memory.limit_in_bytes", mem); err != nil {
			return nil, err
		}
		cg.memFile = filepath.Join(dir, "memory.limit_in_bytes")
		cg.events = filepath.Join(dir, "memory.oom_control")
		cg.usage = filepath.Join(dir, "memory.usage_in_bytes")
		cg.procs = append(cg.procs, filepath.Join(dir, "cgroup.procs"))
		if r.pids != "" {
			pd, err := mk(r.pids)
			if err != nil {
				return nil, err
			}
			if err := writeFile(pd, "pids.max", procs); err != nil {
				return nil, err
			}
			cg.pids = filepath.Join(pd, "pids.events")
			cg.pidsFile = filepath.Join(pd, "pids.max")
			cg.procs = append(cg.procs, filepath.Join(pd, "cgroup.procs"))
		}
	default:
		return nil, errors.New("no usable cgroup hierarchy")
	}
	cg.mem, cg.nproc = lim.Memory, lim.Procs
	ok = true
	return cg, nil
}

func writeFile(dir, name, v string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// setLimits sets the memory and pids bounds of lim, writing only those
// that differ from the bounds last written. Nil-safe.
func (c *cgroup) setLimits(lim Limits) error {
	if c == nil {
		return nil
	}
	if lim.Memory != c.mem {
		if err := os.WriteFile(c.memFile, []byte(strconv.FormatInt(lim.Memory, 10)), 0); err != nil {
			return fmt.Errorf("set memory limit: %w", err)
		}
		c.mem = lim.Memory
	}
	if c.pidsFile != "" && lim.Procs != c.nproc {
		if err := os.WriteFile(c.pidsFile, []byte(strconv.FormatUint(lim.Procs, 10)), 0); err != nil {
			return fmt.Errorf("set pids limit: %w", err)
		}
		c.nproc = lim.Procs
	}
	return nil
}

// enter puts pid into the cgroup (v1) or releases the directory fd once the
// kernel has cloned the child into it (v2). Nil-safe.
func (c *cgroup) enter(pid int) error {
	if c == nil {
		return nil
	}
	if c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
	for _, f := range c.procs {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move spoke into %s: %w", f, err)
		}
	}
	return nil
}

// oomKilled reports whether the kernel's OOM killer acted in the cgroup
// since it was handed to its spoke.
func (c *cgroup) oomKilled() bool {
	return c != nil && counter(c.events, "oom_kill") > c.oomBase
}

// pidsMaxed reports whether a fork or thread creation hit pids.max since
// the cgroup was handed to its spoke.
func (c *cgroup) pidsMaxed() bool {
	return c != nil && counter(c.pids, "max") > c.pidsBase
}

// counter reads "name N" from a cgroup events file; 0 if absent.
func counter(path, name string) int {
	n, _ := readCounter(path, name)
	return n
}

// readCounter reads "name N" from a cgroup events file: 0 and no error
// for no file or no such line (the kernel has not counted it), an error
// when the file is there but could not be read.
func readCounter(path, name string) (int, error) {
	if path == "" {
		return 0, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, nil
}

// maxFreeCgroups bounds the emptied cgroups kept for the next spokes; a
// burst of spokes ending at once removes the rest.
const maxFreeCgroups = 128

// maxResidualCharge bounds the memory still charged to an emptied cgroup
// for it to be reused: page cache of the spoke binary is, a private /tmp
// whose mount the kernel has not torn down yet would count against the
// next spoke's bound, so such a cgroup is removed instead.
const maxResidualCharge = 8 << 20

// newCgroup returns a cgroup for a spoke about to start, with the default
// bounds until its policy's: an emptied one kept by putCgroup, or a new
// one.
func (s *Spawner) newCgroup() (*cgroup, error) {
	s.cgmu.Lock()
	var cg *cgroup
	if n := len(s.cgFree); n > 0 {
		cg, s.cgFree = s.cgFree[n-1], s.cgFree[:n-1]
	}
	s.cgmu.Unlock()
	if cg != nil {
		if err := cg.reuse(); err == nil {
			return cg, nil
		}
		cg.remove()
	}
	return s.host.cg.create(fmt.Sprintf("secgpt-%d-%s-%d", os.Getpid(), s.id, s.seq.Add(1)), DefaultLimits())
}

// reuse readies a kept cgroup for its next spoke: the default bounds, and
// on v2 the directory descriptor the child is cloned into.
func (c *cgroup) reuse() error {
	if err := c.setLimits(DefaultLimits()); err != nil {
		return err
	}
	if c.procs == nil && len(c.dirs) > 0 { // v2: the child is cloned straight in
		fd, err := unix.Open(c.dirs[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", c.dirs[0], err)
		}
		c.fd = fd
	}
	return nil
}

// putCgroup takes back the cgroup of a spoke that has ended: kept for the
// next spoke when no process is left in it, its counters could be read as
// the next spoke's zero and little memory is still charged to it;
// otherwise removed. Nil-safe.
func (s *Spawner) putCgroup(cg *cgroup) {
	if cg == nil {
		return
	}
	if cg.fd >= 0 {
		_ = unix.Close(cg.fd)
		cg.fd = -1
	}
	if !cg.rebase() {
		cg.remove()
		return
	}
	s.cgmu.Lock()
	keep := !s.cgClosed && !s.freshCgroups && len(s.cgFree) < maxFreeCgroups
	if keep {
		s.cgFree = append(s.cgFree, cg)
	}
	s.cgmu.Unlock()
	if !keep {
		cg.remove()
	}
}

// rebase reports whether the cgroup may serve another spoke: no process
// is left in any of its directories, little memory is charged to it, and
// its counters were read, as the next spoke's zero.
func (c *cgroup) rebase() bool {
	for _, d := range c.dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(b))) > 0 {
			return false
		}
	}
	if c.usage != "" {
		b, err := os.ReadFile(c.usage)
		if err != nil {
			return false
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil || n > maxResidualCharge {
			return false
		}
	}
	oom, err := readCounter(c.events, "oom_kill")
	if err != nil {
		return false
	}
	pids, err := readCounter(c.pids, "max")
	if err != nil {
		return false
	}
	c.oomBase, c.pidsBase = oom, pids
	return true
}

// dropCgroups removes the kept cgroups, and every cgroup given back from
// now on (Close).
func (s *Spawner) dropCgroups() {
	s.cgmu.Lock()
	free := s.cgFree
	s.cgFree, s.cgClosed = nil, true
	s.cgmu.Unlock()
	for _, cg := range free {
		cg.remove()
	}
}

// remove deletes the cgroup. The kernel refuses (EBUSY) while an exiting
// task is still being torn down, so it retries for a short while. Nil-safe.
func (c *cgroup) remove() {
	if c == nil {
		return
	}
	if c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
	for i := len(c.dirs) - 1; i >= 0; i-- {
		for try := 0; ; try++ {
			err := unix.Rmdir(c.dirs[i])
			if err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) || try == 200 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	c.dirs = nil
}
