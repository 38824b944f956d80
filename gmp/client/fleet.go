package client

import (
	"context"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// DiscoverFleet is DISCOVER with fleet scope (GMP revision 2, feature
// "fleet"): this device's discoverable nodes by their bare names and every
// other device's as name@device, the whole list sorted. A GPMD that is not
// in a fleet lists its own device only; check Welcome.Features for
// wire.FeatureFleet to tell the two apart.
func (c *Client) DiscoverFleet(ctx context.Context) ([]string, error) {
	r, err := c.roundTrip(ctx, wire.TypeNode, wire.CodeDiscover, func(b []byte) []byte {
		b = append(b, `{"scope":`...)
		b = wire.AppendString(b, wire.ScopeFleet)
		return append(b, '}')
	}, nil)
	var body struct {
		Nodes []string `json:"nodes"`
	}
	if err == nil {
		err = r.decode(wire.TypeNode, wire.CodeNodes, &body)
	}
	return body.Nodes, err
}

// ConnectDevice is Connect of name@device: the node called name on the
// fleet's device, its Device set and its Address that device's advertised
// address. Connect takes "name@device" too; this spells it out.
func (c *Client) ConnectDevice(ctx context.Context, name, device string) (wire.Node, error) {
	return c.Connect(ctx, name+"@"+device)
}

// SubscribeFleet is Subscribe with fleet scope (GMP revision 2, feature
// "fleet"): with "nodes" among topics, the other devices' node events come
// too, named name@device and carrying Device, and Subscribed.Nodes lists
// the fleet as DiscoverFleet does. A GPMD in no fleet answers ERROR
// unknown_message; check Welcome.Features for wire.FeatureFleet first.
func (c *Client) SubscribeFleet(ctx context.Context, topics ...string) (*Subscription, error) {
	return c.subscribe(ctx, wire.ScopeFleet, topics)
}
