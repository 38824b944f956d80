package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ghost-network/gpmd/cmd/control"
)

// The control API's Unix socket, <data>/gpmd.sock, is served beside TCP
// by the same handler. Who may use it is decided twice: the file system
// (the socket is 0600 in a 0700 folder) and the kernel's word on the peer
// (SO_PEERCRED), checked on every request by the control API's guard: the
// daemon's own user and root are served, anyone else gets 403
// forbidden_peer, so a socket made reachable by a chmod still refuses.

// listenSocket opens <data>/gpmd.sock, replacing a socket file left by a
// daemon that was killed. The caller holds the data folder's lock, so no
// live daemon owns that file. Anything else at that path (a regular file,
// a symlink) is not gpmd's to remove: an error.
func listenSocket(dir string) (net.Listener, error) {
	path := filepath.Join(dir, SocketFile)
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: the path holds something that is not a socket (%s); remove it", path, fi.Mode().Type())
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: removing the stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// The folder is 0700 already; 0600 keeps the socket private when the
	// folder is not. Between Listen and Chmod the peer check alone holds.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// credListener (over the connection cap's limitListener) reads each accepted connection's peer credentials from the
// kernel, once, before any byte is read from it.
type credListener struct{ net.Listener }

func (l *credListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &credConn{Conn: c, peer: peerCred(c)}, nil
}

// credConn is a socket connection with its peer's credentials.
type credConn struct {
	net.Conn
	peer control.Peer
}

// peerCred asks the kernel who is at the other end of c (SO_PEERCRED).
func peerCred(c net.Conn) control.Peer {
	if lc, ok := c.(*limitConn); ok {
		c = lc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return control.Peer{Err: errors.New("not a socket connection")}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return control.Peer{Err: err}
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return control.Peer{Err: err}
	}
	if credErr != nil {
		return control.Peer{Err: credErr}
	}
	return control.Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}
}

// connContext gives a request over the socket its Peer (control.WithPeer);
// TCP connections keep ctx as it is.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*credConn); ok {
		return control.WithPeer(ctx, cc.peer)
	}
	return ctx
}

// TrustedSocket reports whether the CLI may talk to the control socket of
// data folder dir: it exists, is a socket, and it and dir belong to this
// user or root and cannot be replaced by others (as readTrusted asks of
// the state file: a socket planted in someone else's folder would receive
// the token). ok is false with a nil error when there is no socket.
func TrustedSocket(dir string) (path string, ok bool, err error) {
	path = filepath.Join(dir, SocketFile)
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return path, false, nil
		}
		return path, false, err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return path, false, &UntrustedError{Path: path, Reason: "is not a socket"}
	}
	if err := checkOwner(path, fi); err != nil {
		return path, false, err
	}
	di, err := os.Stat(dir)
	if err != nil {
		return path, false, err
	}
	if err := checkOwner(dir, di); err != nil {
		return path, false, err
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return path, false, &UntrustedError{Path: dir, Reason: fmt.Sprintf("is writable by other users (mode %04o), who could replace %s", di.Mode().Perm(), SocketFile), Fix: "chmod go-w " + dir}
	}
	return path, true, nil
}
