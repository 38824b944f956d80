package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/rotate"
	"golang.org/x/sys/unix"
)

// openLog makes the daemon's logger. It runs only once the data folder's
// lock is held, so that a start that fails (the daemon already running)
// never writes into the running daemon's log. With conf.Config.LogOutput (the
// foreground, journald under systemd) the log goes there alone; otherwise
// to <data>/gpmd.log, rotated by size.
func (d *daemon) openLog() error {
	var out io.Writer
	if d.cfg.LogOutput != nil {
		// A closed stderr (gpmd start -nd | head) must cost nothing more
		// than the log: SIGPIPE is ignored, and this stops the writes.
		out = &dropOnError{w: d.cfg.LogOutput}
	} else {
		opt := rotate.Options{MaxSize: d.cfg.LogMaxSize, Keep: d.cfg.LogKeep}
		if d.cfg.CaptureStderr {
			opt.OnOpen = captureStderr
		}
		w, err := rotate.Open(filepath.Join(d.cfg.DataDir, conf.LogFile), opt)
		if err != nil {
			return err
		}
		d.onClose(w.Close)
		out = w
	}
	d.logHandler = newLogHandler(out, d.cfg.LogFormat)
	d.log = slog.New(d.logHandler)
	return nil
}

// newLogHandler is the slog handler of a --log-format.
func newLogHandler(w io.Writer, format string) slog.Handler {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == conf.LogFormatJSON {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// captureStderr makes descriptor 2 a copy of f, so that what the Go
// runtime prints on a crash lands in the current log file. Best effort: a
// failure leaves standard error where it was.
func captureStderr(f *os.File) {
	unix.Dup3(int(f.Fd()), int(os.Stderr.Fd()), 0)
}
