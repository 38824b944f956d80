package control

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ghost-network/gpmd/cmd/control/api"
)

// Peer is who is at the other end of a connection to the Unix socket, as
// the kernel reports it (SO_PEERCRED): not what the client claims.
type Peer struct {
	UID, GID uint32
	PID      int32
	// Err, when not nil, says why the credentials could not be read; the
	// request is then refused.
	Err error
}

type peerKey struct{}

// WithPeer marks ctx as the context of a connection to the Unix socket
// with peer p. The daemon calls it from http.Server.ConnContext; a request
// whose context has no Peer came over TCP.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerOf is the Peer of a request that came over the Unix socket; ok is
// false for TCP.
func PeerOf(ctx context.Context) (p Peer, ok bool) {
	p, ok = ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// guardSocket is guardOrigin's check of a request over the Unix socket:
// the peer must be the daemon's own user or root (Config.OwnerUID), the
// Host api.SocketHost or a loopback name, and an Origin, if any, the socket's
// own (http://gpmd.sock).
func (s *Server) guardSocket(r *http.Request, p Peer) error {
	switch {
	case p.Err != nil:
		return &forbiddenError{ErrForbiddenPeer, "refusing a connection to the control socket: its peer's credentials cannot be read: " + p.Err.Error()}
	case p.UID != 0 && p.UID != s.cfg.OwnerUID:
		return &forbiddenError{ErrForbiddenPeer, fmt.Sprintf("refusing uid %d (pid %d): the control socket answers only to the user running gpmd (uid %d) and root", p.UID, p.PID, s.cfg.OwnerUID)}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if !strings.EqualFold(host, api.SocketHost) && !isLoopbackHost(host) {
		return &forbiddenError{ErrForbiddenHost, "refusing Host " + quoteHeader(r.Host) + " on the control socket: send Host: " + api.SocketHost}
	}
	if o := r.Header.Values("Origin"); len(o) > 0 {
		u, err := url.Parse(o[0])
		if len(o) > 1 || err != nil || u.Scheme != "http" || !strings.EqualFold(u.Host, api.SocketHost) || u.Path != "" {
			return &forbiddenError{ErrForbiddenOrigin, "refusing Origin " + quoteHeader(strings.Join(o, ", ")) + ": the control API takes no cross-origin requests"}
		}
	}
	return nil
}
