package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
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
	path := filepath.Join(dir, conf.SocketFile)
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
	ours, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	return &socketListener{UnixListener: ul, path: path, ours: ours}, nil
}

// socketListener removes its socket file when it closes, but only while
// the file is the one it made: if the data folder was removed and made
// again under the daemon, the path may hold a newer daemon's socket, which
// is not this one's to remove (net's own unlink on close would).
type socketListener struct {
	*net.UnixListener
	path   string
	ours   fs.FileInfo
	remove sync.Once // a later socket may reuse the inode number: check once
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	l.remove.Do(func() {
		if now, serr := os.Lstat(l.path); serr == nil && os.SameFile(now, l.ours) {
			os.Remove(l.path)
		}
	})
	return err
}

// credListener (over the connection cap's limitListener) reads each
// accepted connection's peer credentials from the kernel, once, before
// any byte is read from it, and gives each connection the means to
// receive file descriptors (see credConn.Read).
type credListener struct{ net.Listener }

func (l *credListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &credConn{Conn: c, peer: peerCred(c), files: &control.PassedFiles{}}
	if lc, ok := c.(*limitConn); ok {
		cc.unix, _ = lc.Conn.(*net.UnixConn)
	}
	return cc, nil
}

// credConn is a socket connection with its peer's credentials and the
// file descriptors it received (control.PassedFiles, for the upload by
// descriptor).
type credConn struct {
	net.Conn
	peer  control.Peer
	files *control.PassedFiles
	// unix is the connection itself, for ReadMsgUnix; nil when it is
	// not a *net.UnixConn (then no descriptor is received).
	unix *net.UnixConn
	// oob is the ancillary buffer of Read. net/http reads a connection
	// from one goroutine at a time, so it is never shared.
	oob []byte
}

// Read reads with recvmsg(2), so that descriptors the client sends
// (SCM_RIGHTS) are received rather than dropped, and keeps them in files
// for the request they came with. A plain read would make the kernel
// discard them; a descriptor past control.MaxPassedFiles or the buffer is
// closed (by PassedFiles, or by the kernel on a truncated buffer). The
// descriptors arrive with close-on-exec set (Go passes MSG_CMSG_CLOEXEC).
func (c *credConn) Read(b []byte) (int, error) {
	if c.unix == nil {
		return c.Conn.Read(b)
	}
	if c.oob == nil {
		c.oob = make([]byte, unix.CmsgSpace(4*control.MaxPassedFiles))
	}
	n, oobn, _, _, err := c.unix.ReadMsgUnix(b, c.oob)
	if oobn > 0 {
		c.receive(c.oob[:oobn])
	}
	return n, err
}

// receive keeps the descriptors of the control messages in oob.
func (c *credConn) receive(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			c.files.Add(fds)
		}
	}
}

// Close closes the connection and every descriptor no request took.
func (c *credConn) Close() error {
	err := c.Conn.Close()
	c.files.Close()
	return err
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

// connContext gives a request over the socket its Peer (control.WithPeer)
// and the descriptors its connection received (control.WithPassedFiles);
// TCP connections keep ctx as it is.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*credConn); ok {
		return control.WithPassedFiles(control.WithPeer(ctx, cc.peer), cc.files)
	}
	return ctx
}
