package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// Uploading a file by descriptor (docs/control-api.md, "Upload by file
// descriptor"). Over the Unix socket, the CLI does not copy a file's
// bytes through the connection: it opens the file itself and passes the
// open descriptor (SCM_RIGHTS) as ancillary data on the first byte of an
// HTTP request, PUT /v1/modules/{name}/{version}/file, with no body, on a
// connection of its own. The daemon reads the file from that descriptor,
// never from a path: only a regular file the caller could open reaches
// it, and the peer is checked (SO_PEERCRED) as for every socket request.
// The file is read once, hashed as it streams (the digest returned is the
// daemon's, as for a body), so a file changed while it is read is stored
// as read or refused, never recorded under a digest its blob lacks.

// MaxPassedFiles is the most descriptors a connection to the socket holds
// unclaimed; more are closed as they arrive. A request takes exactly one.
const MaxPassedFiles = 1

// ErrFileChanged: the file passed by descriptor changed size or was
// written to while the daemon read it. Nothing was stored; upload again.
// It is an errdefs.ErrInvalid.
var ErrFileChanged = errdefs.Narrow("the file changed while it was read", errdefs.ErrInvalid)

// PassedFiles holds the descriptors that came on one socket connection
// until a request claims them. The daemon's connection adds what it
// receives; Close closes what no request took. Safe for concurrent use.
type PassedFiles struct {
	// mu guards fds and closed.
	mu     sync.Mutex
	fds    []int
	closed bool
}

// Add keeps fds for a request of this connection, closing those past
// MaxPassedFiles (and all of them once the connection is closed).
func (p *PassedFiles) Add(fds []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range fds {
		if p.closed || len(p.fds) >= MaxPassedFiles {
			unix.Close(fd)
			continue
		}
		p.fds = append(p.fds, fd)
	}
}

// take hands over the one descriptor that came with the request; the
// caller closes it.
func (p *PassedFiles) take() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fds) == 0 {
		return -1, false
	}
	fd := p.fds[0]
	p.fds = p.fds[1:]
	return fd, true
}

// drop closes the descriptors the request that just ended did not take:
// a descriptor serves only the request it came with.
func (p *PassedFiles) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range p.fds {
		unix.Close(fd)
	}
	p.fds = nil
}

// Close closes every descriptor no request took; later ones are closed
// as they arrive. Idempotent.
func (p *PassedFiles) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range p.fds {
		unix.Close(fd)
	}
	p.fds, p.closed = nil, true
}

type passedKey struct{}

// WithPassedFiles gives the requests of a socket connection the
// descriptors it receives (the daemon calls it from ConnContext, beside
// WithPeer).
func WithPassedFiles(ctx context.Context, p *PassedFiles) context.Context {
	return context.WithValue(ctx, passedKey{}, p)
}

// putVersionFile uploads a module version from the file whose descriptor
// came with the request (see the top of this file).
func (s *Server) putVersionFile(w http.ResponseWriter, r *http.Request) error {
	// One descriptor per connection: never leave one for a next request.
	w.Header().Set("Connection", "close")
	name, version := r.PathValue("name"), r.PathValue("version")
	fail := func(err error) error { return fmt.Errorf("upload %s@%s: %w", name, version, err) }
	passed, _ := r.Context().Value(passedKey{}).(*PassedFiles)
	if _, socket := PeerOf(r.Context()); !socket || passed == nil {
		return fail(fmt.Errorf("%w: a file descriptor travels only over the Unix socket; over TCP send the bytes (PUT %s)", errdefs.ErrInvalid, api.ModulePath(name, version)))
	}
	fd, ok := passed.take()
	if !ok {
		return fail(fmt.Errorf("%w: no file descriptor came with the request (SCM_RIGHTS on its first byte)", errdefs.ErrInvalid))
	}
	f := os.NewFile(uintptr(fd), "passed file")
	defer f.Close()
	// The boundary: name and version are parsed here, once.
	ref, err := index.ParseRef(name, version)
	if err != nil {
		return fail(err)
	}
	check, err := boolParam(r, "check")
	if err != nil {
		return fail(err)
	}
	st, err := checkPassedFile(fd)
	if err != nil {
		return fail(err)
	}
	max := s.cfg.Modules.MaxModuleSize()
	switch {
	case st.Size == 0:
		return fail(fmt.Errorf("%w: the file is empty (0 bytes)", errdefs.ErrEmpty))
	case max > 0 && st.Size > max:
		return fail(fmt.Errorf("%w: %d bytes, the limit is %d bytes", errdefs.ErrTooLarge, st.Size, max))
	}
	release, err := s.acquireUpload()
	if err != nil {
		return fail(err)
	}
	defer release()
	// Read from the start with read(2), which moves the offset the
	// caller shares: the CLI watches it for its progress bar.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("reading the file passed: %w", err))
	}
	start := s.cfg.Now()
	rec, err := s.cfg.Modules.UploadWith(r.Context(), ref, &passedReader{f: f, fd: fd, st: st, left: st.Size}, repo.UploadOptions{Check: check})
	if err != nil {
		// A client that went away (Ctrl-C) is a cancel, not a failure.
		err = canceledUpload(r, nil, name, version, err)
		s.cfg.Observer.UploadFailed(errorClass(err), s.cfg.Now().Sub(start))
		return err
	}
	s.answerUpload(w, rec, start)
	return nil
}

// checkPassedFile accepts a regular file open for reading; anything else
// (a FIFO, a directory, a socket, a device, an O_PATH or write-only
// descriptor) is refused with what it is.
func checkPassedFile(fd int) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return st, fmt.Errorf("the file passed cannot be examined: %w", err)
	}
	if kind := fileKind(st.Mode); kind != "" {
		return st, fmt.Errorf("%w: the descriptor passed is %s, not a regular file", errdefs.ErrInvalid, kind)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return st, fmt.Errorf("the file passed cannot be examined: %w", err)
	}
	if fl&unix.O_PATH != 0 || fl&unix.O_ACCMODE == unix.O_WRONLY {
		return st, fmt.Errorf("%w: the file passed is not open for reading", errdefs.ErrInvalid)
	}
	return st, nil
}

// fileKind names a file type other than regular ("" for regular).
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return ""
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a pipe or FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a file"
}

// passedReader reads exactly the size the file had when it was passed,
// and at its end checks that the file still has that size and
// modification time: a file that shrank, grew or was written to while it
// was read fails with ErrFileChanged instead of reaching EOF, so the
// repository stores nothing. (A change that keeps size and time within
// the clock's tick is stored as read: its digest is of the bytes read.)
type passedReader struct {
	f    *os.File
	fd   int
	st   unix.Stat_t
	left int64
	read int64
}

func (p *passedReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		var now unix.Stat_t
		if err := unix.Fstat(p.fd, &now); err != nil {
			return 0, err
		}
		if now.Size != p.st.Size || now.Mtim != p.st.Mtim {
			return 0, fmt.Errorf("%w: it had %d bytes when it was passed and has %d now, or was written to while gpmd read it; upload again once it is written",
				ErrFileChanged, p.st.Size, now.Size)
		}
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.f.Read(b)
	p.left -= int64(n)
	p.read += int64(n)
	if err == io.EOF {
		return n, fmt.Errorf("%w: it ended after %d of the %d bytes it had when it was passed", ErrFileChanged, p.read, p.st.Size)
	}
	return n, err
}
