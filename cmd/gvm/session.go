package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// clientName is what gvm sends in HELLO.
const clientName = "gvm/0.1.0"

// Reconnect backoff of GMP.md "For GVM authors".
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// requestTimeout bounds one GMP exchange that carries no module.
const requestTimeout = 10 * time.Second

// dialGMP connects to GPMD and says HELLO. A refused connection is a
// *notRunningError, which tells how to start GPMD.
func dialGMP(ctx context.Context, addr string) (*client.Client, net.Addr, error) {
	c, local, _, err := dialGMPWelcome(ctx, addr)
	return c, local, err
}

// dialGMPWelcome is dialGMP that also returns WELCOME (its features say
// what GPMD offers).
func dialGMPWelcome(ctx context.Context, addr string) (*client.Client, net.Addr, wire.Welcome, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, wire.Welcome{}, &notRunningError{addr: addr}
		}
		return nil, nil, wire.Welcome{}, fmt.Errorf("gmp %s: %w", addr, err)
	}
	c := client.NewClient(nc, client.ClientOptions{})
	hctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	w, err := c.Hello(hctx, clientName)
	if err != nil {
		c.Close()
		return nil, nil, w, fmt.Errorf("gmp %s: HELLO: %w", addr, err)
	}
	return c, nc.LocalAddr(), w, nil
}

// registration is what REGISTER sends.
type registration struct {
	name         string
	id           string
	port         int
	discoverable bool
}

func (r registration) register(ctx context.Context, c *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := c.Register(ctx, r.name, r.id, r.port, r.discoverable); err != nil {
		var de *client.DeniedError
		if errors.As(err, &de) && de.Code == wire.ErrCodeNameTaken {
			return &usageError{msg: fmt.Sprintf("the node name %s is taken by a live node (gpmd nodes lists them; pick another --name)", r.name)}
		}
		return fmt.Errorf("register %s: %w", r.name, err)
	}
	return nil
}

// unregister ends a registration before the connection closes, so the name
// is free at once; bounded, since the process is leaving anyway.
func unregister(c *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Unregister(ctx)
	c.Close()
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newNodeID is a random id in the form of a UUID (version 4).
func newNodeID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
