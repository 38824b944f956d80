package control

import (
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
)

// Fleet is what the control API shows of the daemon's fleet (*fleet.Fleet
// satisfies it); both answer from the fleet's local copy, never waiting on
// NATS.
type Fleet interface {
	Status() fleetinfo.Status
	Discover() []fleetinfo.RemoteNode
}

var _ Fleet = (*fleet.Fleet)(nil)

// fleetStatus is the fleet part of GET /v1/status; nil without a fleet.
func (s *Server) fleetStatus() *fleetinfo.Status {
	if s.cfg.Fleet == nil {
		return nil
	}
	st := s.cfg.Fleet.Status()
	return &st
}

// fleetNodes is the other devices' discoverable nodes and this device's
// name for GET /v1/nodes; nil and "" without a fleet.
func (s *Server) fleetNodes() ([]fleetinfo.RemoteNode, string) {
	if s.cfg.Fleet == nil {
		return nil, ""
	}
	nodes := s.cfg.Fleet.Discover()
	if nodes == nil {
		nodes = []fleetinfo.RemoteNode{}
	}
	return nodes, s.cfg.Fleet.Status().Device
}
