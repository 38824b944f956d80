package daemon

import (
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"
)

// raiseFDLimit raises the soft limit on open files to the hard limit, since
// GMP may hold maxConns connections at once. A limit too low to run at all
// is an error; one below what maxConns needs is a warning (GMP then
// answers `busy` sooner than the flag says).
func raiseFDLimit(maxConns int, log *slog.Logger) (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("cannot raise the open-file limit", "soft", lim.Cur, "hard", lim.Max, "err", err)
		} else {
			lim = raised
		}
	}
	if lim.Cur < minFDLimit {
		return lim.Cur, fmt.Errorf("the open-file limit is %d, gpmd needs %d at least (raise it with ulimit -n)", lim.Cur, minFDLimit)
	}
	if want := uint64(maxConns) + fdReserve; lim.Cur < want {
		log.Warn("open-file limit below what --gmp-max-conns needs", "limit", lim.Cur, "gmp_max_conns", maxConns, "needs", want)
	}
	return lim.Cur, nil
}
