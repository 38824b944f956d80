package control

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
)

// TestGuardSocket: over the Unix socket (a request whose context carries
// a Peer) the guard serves the owner and root only, takes the socket's
// Host and loopback names, and refuses a foreign Host or Origin.
func TestGuardSocket(t *testing.T) {
	s := NewServer(Config{Addr: "127.0.0.1:41111", OwnerUID: 1000})
	cases := []struct {
		peer         Peer
		host, origin string
		want         error
	}{
		{Peer{UID: 1000, PID: 1}, api.SocketHost, "", nil},
		{Peer{UID: 0, PID: 1}, api.SocketHost, "", nil},
		{Peer{UID: 1000}, "localhost", "", nil},
		{Peer{UID: 1000}, "127.0.0.1:9", "", nil},
		{Peer{UID: 1000}, "GPMD.SOCK", "http://gpmd.sock", nil},
		{Peer{UID: 65534, PID: 7}, api.SocketHost, "", ErrForbiddenPeer},
		{Peer{Err: errors.New("no creds")}, api.SocketHost, "", ErrForbiddenPeer},
		{Peer{UID: 1000}, "attacker.example", "", ErrForbiddenHost},
		{Peer{UID: 1000}, api.SocketHost, "http://attacker.example", ErrForbiddenOrigin},
		{Peer{UID: 1000}, api.SocketHost, "null", ErrForbiddenOrigin},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "http://gpmd.sock/v1/status", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		err := s.guardSocket(r, c.peer)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("peer %+v Host %q Origin %q: %v, want %v", c.peer, c.host, c.origin, err, c.want)
		}
	}
}

// TestForbiddenPeerMapping: 403 forbidden_peer on the server, back to
// ErrForbiddenPeer (an ErrUnauthorized) on the client.
func TestForbiddenPeerMapping(t *testing.T) {
	status, code := statusOf(&forbiddenError{ErrForbiddenPeer, "x"})
	if status != http.StatusForbidden || code != CodeForbiddenPeer {
		t.Fatalf("statusOf: %d %q", status, code)
	}
	err := &api.APIError{Status: status, Code: code, Message: "x"}
	if !errors.Is(err, ErrForbiddenPeer) || !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("api.ClassOf(%q) is not ErrForbiddenPeer/ErrUnauthorized", code)
	}
}
