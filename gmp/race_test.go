//go:build race

package gmp

// raceEnabled: the race detector multiplies memory use, so memory figures
// measured under it mean nothing.
const raceEnabled = true
