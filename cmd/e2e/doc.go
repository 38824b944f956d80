// Package e2e holds the end-to-end tests of gpmd: they build the gpmd
// binary once and drive it as a person does, each test with its own data
// folder and daemons on free loopback ports (port 0). Every daemon a test
// starts is stopped in its cleanup, with bounded waits. There is no code
// here besides the tests.
package e2e
