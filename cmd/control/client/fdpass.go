package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"golang.org/x/sys/unix"
)

// Uploading a file by descriptor (docs/control-api.md, "Upload by file
// descriptor"): the client half. The server half (cmd/control/fdpass.go)
// says what the daemon does with the descriptor.

// UploadFile uploads a module version from f, an open regular file, by
// passing its descriptor over the Unix socket (see putVersionFile): no
// byte goes through the connection. Only a client of the socket can; over
// TCP it fails with errdefs.ErrInvalid (use Upload). The digest returned
// is the daemon's: the client does not read f. The daemon reads f from
// offset 0 with read(2), moving the offset f shares with it; the caller
// may watch it (f.Seek(0, io.SeekCurrent)) for progress, and must not
// read or seek f until UploadFile returns.
func (c *Client) UploadFile(ctx context.Context, name, version string, f *os.File, check bool) (api.Record, error) {
	if !c.socket {
		return api.Record{}, fmt.Errorf("%w: a file descriptor travels only over the Unix socket; use Upload over TCP", errdefs.ErrInvalid)
	}
	if err := checkSegment("module name", name); err != nil {
		return api.Record{}, err
	}
	if err := checkSegment("version", version); err != nil {
		return api.Record{}, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return api.Record{}, err
	}
	var rights []byte
	if err := raw.Control(func(fd uintptr) { rights = unix.UnixRights(int(fd)) }); err != nil {
		return api.Record{}, err
	}
	// The descriptor rides on the connection's first write, which is
	// this request's head (h1 writes it whole, then waits).
	dial := func(ctx context.Context) (net.Conn, error) {
		conn, err := c.dial(ctx)
		if err != nil {
			return nil, err
		}
		uc, ok := conn.(*net.UnixConn)
		if !ok {
			conn.Close()
			return nil, errors.New("the control socket connection is not a Unix socket")
		}
		return &rightsConn{UnixConn: uc, rights: rights}, nil
	}
	path := api.ModulePath(name, version) + "/file"
	if check {
		path += "?check=true"
	}
	resp, err := c.doOn(ctx, dial, "PUT", path, nil, nil, 0)
	// The descriptor in rights is f's: f must stay open until it went.
	runtime.KeepAlive(f)
	if err != nil {
		return api.Record{}, err
	}
	defer resp.Body.Close()
	var rec api.Record
	if err := c.decodeBody(resp, &rec); err != nil {
		return api.Record{}, err
	}
	return rec, nil
}

// rightsConn sends rights (SCM_RIGHTS) with the first bytes it writes.
type rightsConn struct {
	*net.UnixConn
	rights []byte
	sent   bool
}

func (c *rightsConn) Write(b []byte) (int, error) {
	if c.sent || len(b) == 0 {
		return c.UnixConn.Write(b)
	}
	c.sent = true
	n, _, err := c.UnixConn.WriteMsgUnix(b, c.rights, nil)
	if err == nil && n < len(b) {
		// A stream socket may take part of the bytes; the descriptor
		// went with the first of them.
		m, werr := c.UnixConn.Write(b[n:])
		n, err = n+m, werr
	}
	return n, err
}
