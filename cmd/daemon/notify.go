package daemon

import (
	"context"
	"time"

	"github.com/ghost-network/gpmd/internal/sdnotify"
)

// notify sends one state to systemd (nothing when not under systemd); a
// failure is logged, never fatal: the daemon serves either way.
func (d *daemon) notify(state string) {
	if err := d.cfg.Notifier.Notify(state); err != nil {
		d.log.Warn("telling systemd", "state", state, "err", err)
	}
}

// notifyReady tells systemd that both ports accept connections, and, when
// systemd runs a watchdog for this process, starts the keep-alives. The
// returned stop ends them and waits, so that none runs once the store
// begins to close.
func (d *daemon) notifyReady(ctx context.Context) (stop func()) {
	d.notify(sdnotify.Ready)
	n := d.cfg.Notifier
	iv := n.WatchdogInterval()
	if iv <= 0 {
		return func() {}
	}
	d.log.Info("systemd watchdog on", "keepalive_every", iv)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Watch(ctx, func() bool { return d.alive(ctx, iv) }, func(err error) {
			d.log.Warn("systemd watchdog keep-alive", "err", err)
		})
	}()
	return func() { cancel(); <-done }
}

// alive is the watchdog's health check: the index answers a read within
// the keep-alive interval. A daemon whose store hangs misses keep-alives,
// and systemd restarts it.
func (d *daemon) alive(ctx context.Context, within time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	_, err := d.store.Stats(ctx)
	return err == nil
}
