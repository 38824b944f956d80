// Package daemon runs GPMD: it owns a data folder, opens the module
// repository in it, and serves the control API and GMP until its context
// ends. The CLI's `gpmd start` calls Run; `gpmd kill` and the client
// commands find a running daemon through the files it keeps in its data
// folder:
//
//	<data>/
//	  gpmd.lock         flock'ed by the running daemon; holds its pid
//	  gpmd.pid          the running daemon's pid (gone after a clean stop)
//	  gpmd.state.json   pid, version, start time, the real control and GMP
//	                    addresses (a port 0 resolved), token file
//	  gpmd.log          the log (log/slog text), one line per control request
//	  modules/          the module repository (see package repo)
//
// # Guarantees
//
// One daemon per data folder: the lock is taken before anything else is
// opened, and a second Run on the same folder fails with *RunningError
// naming the holder's pid. The lock dies with its process, so a daemon
// killed with SIGKILL never leaves a stale lock behind (its pid and state
// files may stay; Probe tells a live daemon from leftovers by the lock).
//
// Fail fast: the configuration, the data folder (writable, renames work),
// the lock, the file limit and the repository are all checked before any
// port is opened, and a port that cannot be opened closes everything again,
// so a failed start never leaves a daemon half up or a file claiming one.
//
// Graceful stop: when ctx ends, the control API stops accepting and lets
// in-flight requests finish (up to Config.ShutdownTimeout), GMP likewise,
// then the repository closes (its mirror flushed) and the pid and state
// files go; the lock goes last.
//
// Fleet (--fleet, fleet.go): the fleet settings are checked with the rest,
// before any port opens; the fleet then connects in the background, so an
// unreachable NATS never delays or fails the start, and the device is
// served the same with or without it. At a stop the daemon leaves the fleet
// first (bounded by a few seconds; what is left expires), then stops GMP.
// Without --fleet no NATS connection is made.
//
// Settings: Settings() is the one table of the daemon's settings (flag,
// environment variable, help, Config field). The CLI makes its flags and
// variables from it and passes every setting to a background daemon as a
// flag; the daemon logs them all in one "settings" line at start.
//
// # Caveats
//
// The control API has no TLS: beyond loopback it requires a token, and the
// token travels in clear. Put it behind a TLS proxy on untrusted networks.
package daemon
