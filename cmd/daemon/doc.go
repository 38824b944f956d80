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
//	                    addresses (a port 0 resolved), socket, token file
//	  gpmd.sock         the control API's Unix socket (0600)
//	  gpmd.log          the log (text or json), one line per control request,
//	                    when no conf.Config.LogOutput is given (the background);
//	                    gpmd.log.1 … are older, rotated by size
//	  modules/          the module repository (see package repo)
//
// Everything in it is private to the daemon's user: folders 0700, files
// 0600, blobs 0400 (fsutil's modes); a looser folder is tightened at start.
//
// # Guarantees
//
// One daemon per data folder: the lock is taken before anything else is
// opened, and a second Run on the same folder fails with *conf.RunningError
// naming the holder's pid. The lock dies with its process, so a daemon
// killed with SIGKILL never leaves a stale lock behind (its pid and state
// files may stay; conf.Probe tells a live daemon from leftovers by the lock).
//
// Fail fast: the configuration, the data folder (writable, renames work),
// the lock, the file limit and the repository are all checked before any
// port is opened, and a port that cannot be opened closes everything again,
// so a failed start never leaves a daemon half up or a file claiming one.
//
// Graceful stop: when ctx ends, the control API stops accepting and lets
// in-flight requests finish (up to conf.Config.ShutdownTimeout), GMP likewise,
// then the repository closes (its mirror flushed) and the pid and state
// files go; the lock goes last.
//
// Fleet (--fleet, fleet.go): the fleet settings are checked with the rest,
// before any port opens; the fleet then connects in the background, so an
// unreachable NATS never delays or fails the start, and the device is
// served the same with or without it. At a stop the daemon leaves the fleet
// first (bounded by a few seconds; what is left expires), then stops GMP.
// Without --fleet no NATS connection is made.
// Trust: conf.ReadState and conf.ReadToken read a file only when it and its folder
// belong to this user or root and others cannot change them (a token:
// nor read it); conf.VerifyHolder confirms from the kernel (/proc/locks,
// /proc/PID/exe) that a pid is the gpmd holding a folder's lock before
// `gpmd kill` signals it. The files of a folder are never enough.
//
// The control socket: <data>/gpmd.sock serves the control API beside TCP
// with the same handler. Each connection's peer is asked of the kernel
// (SO_PEERCRED) before a byte is read, and only this process's user and
// root are served (403 forbidden_peer otherwise), whatever the socket's
// mode. A socket file is removed only while the lock is held (a killed
// daemon's, replaced at start) and only if it is a socket. A socket that
// cannot be made (a path over 108 bytes) is a warning: TCP serves alone.
// conf.TrustedSocket is the client's check before it sends a token there.
//
// Bounded peers: the control API cuts uploads and downloads that stall
// (--control-stall-timeout), runs at most --control-max-uploads uploads and
// holds at most --control-max-conns connections; over a cap the answer is
// 503 busy at once. A foreground daemon whose stderr pipe closes keeps
// serving (SIGPIPE ignored, the log to stderr dropped).
//
// The log is opened only once the lock is held: a start that fails
// because a daemon runs never writes into that daemon's log.
//
// systemd: with conf.Config.Notifier (under a $NOTIFY_SOCKET) the daemon sends
// READY=1 once both ports accept, STOPPING=1 when the stop begins, and
// WATCHDOG=1 at half of $WATCHDOG_USEC while its index answers.
//
// Metrics: the control API serves GET /metrics from the daemon's own
// registry (package metrics), which the GMP server and the control API
// report to.
//
// Settings: conf.Settings() (package cmd/daemon/conf, which the light
// command line links too) is the one table of the daemon's settings (flag,
// environment variable, help, conf.Config field). The CLI makes its flags and
// variables from it and passes every setting to a background daemon as a
// flag; the daemon logs them all in one "settings" line at start.
//
// # Caveats
//
// The control API has no TLS: beyond loopback it requires a token, and the
// token travels in clear. Put it behind a TLS proxy on untrusted networks.
package daemon
