package daemon

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/gmp"
)

// fleetCloseTimeout bounds the goodbye to the fleet at a stop (deleting
// this device's entries); what it leaves behind expires on its own.
const fleetCloseTimeout = 3 * time.Second

// fleetConfig is the fleet.Config of the daemon's settings, or ok false
// without --fleet. A missing --device takes the host name.
func fleetConfig(c *conf.Config) (_ fleet.Config, ok bool, err error) {
	if c.Fleet == "" {
		return fleet.Config{}, false, nil
	}
	device := c.Device
	if device == "" {
		if device, err = os.Hostname(); err != nil || !fleet.ValidName(device) {
			return fleet.Config{}, false, fmt.Errorf("%w: --fleet needs --device (the host name %q is not a device name)", conf.ErrConfig, device)
		}
	}
	if c.Advertise == "" {
		return fleet.Config{}, false, fmt.Errorf("%w: --fleet needs --advertise: the address at which other devices reach this device's nodes", conf.ErrConfig)
	}
	return fleet.Config{
		URLs:      []string{c.Fleet},
		Device:    device,
		Advertise: c.Advertise,
		TokenFile: c.FleetTokenFile,
		CredsFile: c.FleetCreds,
		TLSCA:     c.FleetTLSCA,
		TLSCert:   c.FleetTLSCert,
		TLSKey:    c.FleetTLSKey,
		Expiry:    c.FleetExpiry,
		Version:   c.Version,
	}, true, nil
}

// openFleet checks the fleet settings and makes the fleet, not connected
// yet (with no --fleet, d.fleet stays nil and GPMD is what it is without
// one). A bad setting fails the start before any port opens.
func (d *daemon) openFleet() error {
	fc, ok, err := fleetConfig(&d.cfg)
	if err != nil || !ok {
		return err
	}
	fc.Logger = d.log
	// The other devices' node changes become node events of the fleet
	// scope (GMP's SUBSCRIBE with "scope": "fleet", the control API's
	// stream with scope=fleet). The hub exists: it is made with the store.
	fc.OnEvent = gmp.FleetEvents(d.hub)
	f, err := fleet.New(fc)
	if err != nil {
		return fmt.Errorf("%w: %v", conf.ErrConfig, err)
	}
	d.fleet = f
	return nil
}

// startFleet connects to the fleet in the background: the daemon never
// waits for NATS, and serves its device whether NATS is there or not.
func (d *daemon) startFleet() error {
	if d.fleet == nil {
		return nil
	}
	st := d.fleet.Status()
	d.log.Info("joining the fleet", "url", st.URL, "device", st.Device, "advertise", d.cfg.Advertise, "expiry", st.Expiry)
	return d.fleet.Start(context.Background())
}

// closeFleet leaves the fleet: this device's entries are deleted (the
// device entry first, so every other device drops all its nodes at once),
// bounded by fleetCloseTimeout.
func (d *daemon) closeFleet() {
	if d.fleet == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), fleetCloseTimeout)
	defer cancel()
	if err := d.fleet.Close(ctx); err != nil {
		d.log.Warn("leaving the fleet", "err", err)
	}
}
