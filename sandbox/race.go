//go:build race

package sandbox

// raceEnabled: the race detector's runtime reserves terabytes of address
// space, so RLIMIT_AS cannot bound a race-enabled spoke.
const raceEnabled = true
