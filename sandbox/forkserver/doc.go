// Package forkserver starts sandboxed spokes on the hub's behalf: the
// fork server process (Serve) and the hub's client of it (Client).
//
// Why: a spoke gets its own user namespace, and a process cloned into a new
// user namespace cannot share its parent's memory while the parent writes
// its uid map, so Go forks the whole hub for every spoke instead of using
// vfork. Forking copies the hub's page tables and marks its whole heap
// copy-on-write, and the hub then takes a page fault (and a TLB shootdown
// on every CPU) for each page it next writes. Measured on the 2-core test
// machine: 330 ms of the parent's CPU per spoke with a 300 MB heap, against
// 4 ms for the same clone without a user namespace. The hub's heap grows
// with the conversations it holds, so spawns got slower exactly when many
// were needed.
//
// The fork server is the same binary, started once by the hub with vfork
// (no user namespace for it, so the hub is not copied) and unconfined like
// the hub; its heap stays a few megabytes, so the fork it does per spoke is
// cheap. It holds nothing but its end of one socketpair with the hub: no
// key, no store, no app data. It starts exactly what the hub sends (binary,
// arguments, environment, namespaces, uid/gid maps, cgroup) with the
// descriptors the hub passes, reports the PID, and later the exit status and
// CPU times when it reaps the spoke. Every part of the sandbox that the hub
// applied before (cgroup placement, idmapped mounts, the launch frame, the
// egress proxy, timeouts, kills by process group) is still applied by the
// hub to the reported PID; a spoke never sees the fork server's socket
// (close-on-exec) and cannot tell who cloned it.
//
// If the fork server dies, its spokes die with it (their parent-death
// signal), the hub reports them as killed, and the next spawn starts a new
// fork server.
//
// The fork server only clones: it applies no part of the policy, and the
// spokes it starts confine themselves (sandbox/confine). Only sandbox (the
// client) and sandbox/confine (whose Enter runs Serve when the binary is
// started as the fork server) import it.
package forkserver
