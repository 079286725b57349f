//go:build race

package sandbox

// raceEnabled: the race detector's runtime maps terabytes of writable
// shadow memory, so neither RLIMIT_AS nor RLIMIT_DATA can bound a
// race-enabled spoke; only a cgroup can.
const raceEnabled = true
