//go:build !race

package sandbox

// raceEnabled: see race.go.
const raceEnabled = false
