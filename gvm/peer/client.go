package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/ghost-network/gpmd/errdefs"
)

// Client calls functions on one other node over one connection. It is
// safe for concurrent use: calls from many goroutines share the
// connection, matched to their answers by id.
type Client struct {
	nc net.Conn

	// wmu serialises writes and guards bw and nextID.
	wmu    sync.Mutex
	bw     *bufio.Writer
	nextID uint64

	// mu guards pending and err.
	mu      sync.Mutex
	pending map[uint64]chan response
	err     error // why the connection ended; set once

	done chan struct{} // closed when the reading goroutine ends
}

// Dial connects to the node at addr ("host:port").
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %v: %w", addr, err, errdefs.ErrUnavailable)
	}
	return NewClient(nc), nil
}

// NewClient speaks the protocol over nc, which the Client then owns.
func NewClient(nc net.Conn) *Client {
	c := &Client{nc: nc, bw: bufio.NewWriter(nc), pending: map[uint64]chan response{}, done: make(chan struct{})}
	go c.readLoop()
	return c
}

// Close closes the connection; calls in progress fail. Closing twice is
// harmless.
func (c *Client) Close() error {
	c.fail(errors.New("connection closed"))
	<-c.done
	return nil
}

// Call runs module.function (target) on the node with args in text form;
// version "" means the node's current choice. An error answer is a
// *RemoteError; a connection that ends first wraps errdefs.ErrUnavailable.
func (c *Client) Call(ctx context.Context, target, version string, args []string) ([]string, error) {
	if args == nil {
		args = []string{}
	}
	ch := make(chan response, 1)
	c.wmu.Lock()
	c.nextID++
	req := request{ID: c.nextID, Call: target, Version: version, Args: args}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, err
	}
	c.pending[req.ID] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(req)
	_, err := c.bw.Write(append(b, '\n'))
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
	}

	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, &RemoteError{Code: r.Error.Code, Message: r.Error.Message}
		}
		return r.Results, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Err reports why the connection ended (wrapping errdefs.ErrUnavailable),
// or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = fmt.Errorf("node at %s: %v: %w", c.nc.RemoteAddr(), err, errdefs.ErrUnavailable)
	}
	c.mu.Unlock()
	c.nc.Close()
}

func (c *Client) readLoop() {
	defer close(c.done)
	sc := bufio.NewScanner(c.nc)
	sc.Buffer(make([]byte, 0, 4096), MaxMessage)
	for sc.Scan() {
		var r response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			c.fail(fmt.Errorf("malformed answer: %v", err))
			return
		}
		c.mu.Lock()
		ch, ok := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if ok {
			ch <- r
		} else if r.ID == 0 && r.Error != nil {
			// The node could not read a call of ours; it says so without
			// an id, so the connection can no longer be trusted.
			c.fail(&RemoteError{Code: r.Error.Code, Message: r.Error.Message})
			return
		}
	}
	err := sc.Err()
	if err == nil {
		err = errors.New("closed by the node")
	}
	c.fail(err)
}
