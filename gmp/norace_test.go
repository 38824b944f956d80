//go:build !race

package gmp

const raceEnabled = false
