package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gvm/peer"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// defaultCallTimeout bounds one call a module makes to another node
// (finding it, dialling it, its answer); `gvm serve --call-timeout`
// overrides it.
const defaultCallTimeout = 10 * time.Second

// outbound makes the calls that the modules of a serving node send to
// other nodes through the host module (runner.PeerCaller). It finds a peer
// with GMP CONNECT on the node's own GPMD connection, dials the address
// and port GPMD gives, and keeps that one connection per peer for the next
// calls, shared by concurrent calls. A connection that has ended (the peer
// died or restarted) is dropped and the next call finds the peer again;
// a call already sent is never sent twice.
type outbound struct {
	gmp     func() *client.Client // the node's GPMD connection; nil while GPMD is away
	timeout time.Duration

	// mu guards conns and closed.
	mu     sync.Mutex
	conns  map[string]*peer.Client // by node name
	closed bool
}

var _ runner.PeerCaller = (*outbound)(nil)

func newOutbound(gmp func() *client.Client, timeout time.Duration) *outbound {
	return &outbound{gmp: gmp, timeout: timeout, conns: map[string]*peer.Client{}}
}

// CallPeer runs target on the node called name, within the call timeout.
// The errors are what the module's trap message carries after "on node
// NAME: ".
func (o *outbound) CallPeer(ctx context.Context, name, target string, args []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	pc, err := o.conn(ctx, name)
	if err != nil {
		return nil, o.timedOut(ctx, err)
	}
	res, err := pc.Call(ctx, target, "", args)
	var re *peer.RemoteError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &re):
		return nil, fmt.Errorf("it answered: %w", err)
	case ctx.Err() != nil:
		return nil, o.timedOut(ctx, err)
	case errors.Is(err, errdefs.ErrUnavailable):
		o.drop(name, pc)
		return nil, fmt.Errorf("it went away during the call: %w", errdefs.ErrUnavailable)
	}
	return nil, err
}

// timedOut says so when ctx's deadline is why err happened.
func (o *outbound) timedOut(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s (gvm serve --call-timeout): %w", o.timeout, errdefs.ErrUnavailable)
	}
	return err
}

// conn returns the live connection to name, finding and dialling the node
// when there is none.
func (o *outbound) conn(ctx context.Context, name string) (*peer.Client, error) {
	o.mu.Lock()
	pc, closed := o.conns[name], o.closed
	o.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("this node is stopping: %w", errdefs.ErrUnavailable)
	}
	if pc != nil {
		if pc.Err() == nil {
			return pc, nil
		}
		o.drop(name, pc)
	}

	g := o.gmp()
	if g == nil {
		return nil, fmt.Errorf("gpmd is not reachable right now (reconnecting), so the node cannot be found: %w", errdefs.ErrUnavailable)
	}
	n, err := g.Connect(ctx, name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, fmt.Errorf("no live node named %s: %w", name, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("CONNECT: %w", err)
	}
	addr := net.JoinHostPort(n.Address, strconv.Itoa(n.Port))
	pc, err = peer.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("it refuses the connection at %s: %w", addr, errdefs.ErrUnavailable)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if cur := o.conns[name]; cur != nil && cur.Err() == nil {
		pc.Close() // a concurrent call dialled first: share its connection
		return cur, nil
	}
	if o.closed {
		pc.Close()
		return nil, fmt.Errorf("this node is stopping: %w", errdefs.ErrUnavailable)
	}
	o.conns[name] = pc
	return pc, nil
}

// drop forgets pc as the connection to name (unless another replaced it
// already) and closes it.
func (o *outbound) drop(name string, pc *peer.Client) {
	o.mu.Lock()
	if o.conns[name] == pc {
		delete(o.conns, name)
	}
	o.mu.Unlock()
	pc.Close()
}

// Close closes every connection; calls in progress fail, later ones fail
// at once.
func (o *outbound) Close() {
	o.mu.Lock()
	conns := o.conns
	o.conns, o.closed = map[string]*peer.Client{}, true
	o.mu.Unlock()
	for _, pc := range conns {
		pc.Close()
	}
}
