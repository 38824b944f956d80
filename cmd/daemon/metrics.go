package daemon

import (
	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/metrics"
)

// The metrics are what both servers report through.
var (
	_ gmp.Observer     = (*metrics.Metrics)(nil)
	_ control.Observer = (*metrics.Metrics)(nil)
)

// newMetrics makes the daemon's registry (docs/metrics.md). Its scrape-time
// sources read d.gmp and d.store when asked: both exist before the control
// API serves GET /metrics, and the store closes only after it stopped.
func (d *daemon) newMetrics() *metrics.Metrics {
	store := d.store
	return metrics.New(d.cfg.Version, metrics.Sources{
		GMPConns: func() int { return d.gmp.ConnCount() },
		GMPNodes: func() int { return len(d.gmp.Nodes()) },
		Store:    store.Stats,

		Events:           d.hub.Seq,
		EventsDropped:    d.hub.Dropped,
		EventSubscribers: d.hub.Subscribers,
	}, d.log.With("component", "metrics"))
}
