package gmp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/index"
)

// moduleBufs are the buffers one MODULE reply uses, whatever the module's
// size: two chunks of module bytes (one read and verified while the other
// is encoded and written) and the base64 of one piece of a chunk (plus the
// reply's prefix or suffix).
type moduleBufs struct {
	in  [2][]byte
	out []byte
}

const moduleOutSize = moduleWritePiece/3*4 + 1<<10

// getBufs takes a pair of buffers for one MODULE reply, from the free list
// when it has one.
func (s *Server) getBufs() *moduleBufs {
	n := s.moduleReplies.Add(1)
	for p := s.modulePeak.Load(); n > p && !s.modulePeak.CompareAndSwap(p, n); p = s.modulePeak.Load() {
	}
	select {
	case b := <-s.freeBufs:
		return b
	default:
		return &moduleBufs{
			in:  [2][]byte{make([]byte, s.chunkSize), make([]byte, s.chunkSize)},
			out: make([]byte, 0, moduleOutSize),
		}
	}
}

// putBufs gives back a reply's buffers. The free list keeps a few; the rest
// become garbage. When the last reply of a burst larger than the free list
// ends (thousands of peers that stalled on a large module, say), the memory
// is handed back to the system at once rather than over minutes.
func (s *Server) putBufs(b *moduleBufs) {
	if cap(b.out) <= 2*moduleOutSize { // else grown by a huge id: let it go
		select {
		case s.freeBufs <- b:
		default:
		}
	}
	if s.moduleReplies.Add(-1) == 0 {
		s.releaseMemoryAfterBurst()
	}
}

// releaseMemoryAfterBurst hands the heap's free memory back to the system
// when the replies that just ended were more than the free list keeps, at
// most once per releaseInterval. Without it, the buffers of a burst stay
// resident until the runtime's next forced collection and its slow
// scavenger, minutes later. It runs on the goroutine of the last reply,
// which is done with its peer.
func (s *Server) releaseMemoryAfterBurst() {
	if s.modulePeak.Load() <= moduleBufsKept {
		return
	}
	now := time.Now().UnixNano()
	last := s.lastRelease.Load()
	if now-last < int64(releaseInterval) || !s.lastRelease.CompareAndSwap(last, now) {
		return
	}
	s.modulePeak.Store(0)
	debug.FreeOSMemory()
}

// readChunk reads until buf is full or the reader ends. err is nil only
// when buf is full; io.EOF once the reader is done (n may be > 0).
func readChunk(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sendModule writes MODULE straight from rc into the socket, a chunk at a
// time: constant memory per request. rc verifies the bytes against the
// digest as they are read. A failure before the first byte is written is
// answered with ERROR internal; a failure after it cuts the connection
// before the closing bytes, so the peer never holds a whole MODULE
// carrying wrong bytes. It reports whether the connection goes on.
//
// Reading and hashing a chunk costs about what encoding and writing one
// does, so past the first chunk they run on two goroutines (two cores):
// readChunks reads and verifies chunk k+1 while this goroutine encodes and
// writes chunk k, with two chunk buffers between them. Each hand-over
// between the two may wake a parked goroutine (and a thread): chunks are
// large so that those wake-ups stay few (see moduleChunk). The closing bytes
// are written only after the reader has returned io.EOF, that is after rc
// has checked the digest of the whole module.
func (c *conn) sendModule(id []byte, rec index.Record, rc io.ReadCloser) bool {
	defer rc.Close()
	bufs := c.s.getBufs()
	defer c.s.putBufs(bufs)

	// The first chunk is read before anything is written, so that a
	// small module is verified in full before its reply begins.
	n, err := readChunk(rc, bufs.in[0])
	total := int64(n)
	if err != nil && err != io.EOF {
		return c.moduleFailedEarly(id, rec, err)
	}
	if err == io.EOF && total != rec.Size {
		return c.moduleFailedEarly(id, rec, fmt.Errorf("%d bytes, expected %d", total, rec.Size))
	}

	c.enc.mu.Lock()
	defer c.enc.mu.Unlock()
	c.enc.replyBy = time.Now().Add(c.s.cfg.ReplyTimeout)
	defer func() { c.enc.replyBy = time.Time{} }()
	out := appendModulePrefix(bufs.out[:0], id, wire.ModuleInfo{
		Name: rec.Name, Version: rec.Version, Hash: rec.Digest.String(), Size: rec.Size,
	})
	cur := moduleChunkRead{b: bufs.in[0][:n], err: err}
	var chunks <-chan moduleChunkRead
	var free chan<- []byte
	if err == nil {
		// More follows: start the reader. It stops, and rc is closed and
		// the buffers given back, only once it has ended (defers run last
		// in, first out).
		ch, fr, stop := make(chan moduleChunkRead, 1), make(chan []byte, 1), make(chan struct{})
		chunks, free = ch, fr
		fr <- bufs.in[1]
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			readChunks(rc, fr, ch, stop)
		}()
		defer func() {
			close(stop)
			wg.Wait()
		}()
	}
	for {
		if total > rec.Size {
			return c.cutModule(rec, fmt.Errorf("more than the %d bytes expected", rec.Size))
		}
		if cur.err != nil && cur.err != io.EOF {
			return c.cutModule(rec, cur.err)
		}
		last := cur.err == io.EOF
		if last && total != rec.Size {
			return c.cutModule(rec, fmt.Errorf("%d bytes, expected %d", total, rec.Size))
		}
		// The chunk goes out in pieces of moduleWritePiece, each encoded
		// into out and written, so that out stays small.
		for rest := cur.b; ; {
			piece := rest[:min(len(rest), moduleWritePiece)]
			rest = rest[len(piece):]
			out = appendBase64(out, piece)
			if len(rest) == 0 && last {
				out = append(out, moduleSuffix...)
			}
			werr := c.enc.writeLocked(out)
			bufs.out = out[:0]
			if werr != nil {
				c.moduleWriteFailed(werr)
				return false
			}
			out = out[:0]
			if len(rest) == 0 {
				break
			}
		}
		if last {
			c.s.cfg.Observer.ModuleSent(rec.Size)
			return true
		}
		// The buffer just written goes back to the reader: it holds the
		// other one, or has sent it, so free has room.
		free <- cur.b[:cap(cur.b)]
		cur = <-chunks
		total += int64(len(cur.b))
	}
}

// moduleChunkRead is one chunk of a module as readChunks read it: err is
// nil when more follows, io.EOF at the verified end, else why reading
// failed (a digest mismatch among others).
type moduleChunkRead struct {
	b   []byte
	err error
}

// readChunks reads rc a chunk at a time into the buffers free hands it
// and sends each on chunks, until rc ends or fails (that chunk is the last
// sent) or stop is closed.
func readChunks(rc io.Reader, free <-chan []byte, chunks chan<- moduleChunkRead, stop <-chan struct{}) {
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-stop:
			return
		}
		n, err := readChunk(rc, buf)
		select {
		case chunks <- moduleChunkRead{b: buf[:n], err: err}:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// moduleWriteFailed records why a MODULE reply could not be written: the
// peer took longer than the reply's deadline, or a write failed. c.enc.mu
// is held.
func (c *conn) moduleWriteFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(c.enc.replyBy) {
		c.setReason(reasonReplyTimeout)
		err = fmt.Errorf("MODULE reply not read within %v: %w", c.s.cfg.ReplyTimeout, err)
	}
	c.writeFailed(err)
}

// moduleFailedEarly answers ERROR internal for a module whose bytes failed
// before its reply began.
func (c *conn) moduleFailedEarly(id []byte, rec index.Record, err error) bool {
	c.s.log.Error("gmp: module bytes failed verification or reading; answered ERROR internal",
		"name", rec.Name, "version", rec.Version, "digest", rec.Digest.String(), "err", err)
	return c.replyError(id, wire.ErrCodeInternal, "the stored bytes of module "+rec.Name+" "+rec.Version+" could not be read intact")
}

// cutModule closes the connection in the middle of a MODULE reply: the
// closing bytes are never written. c.enc.mu is held.
func (c *conn) cutModule(rec index.Record, err error) bool {
	c.err = fmt.Errorf("module %s %s: %w", rec.Name, rec.Version, err)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		c.err = fmt.Errorf("module %s %s: stored bytes ended early: %w", rec.Name, rec.Version, err)
	}
	c.s.log.Error("gmp: module bytes failed while streaming; connection cut before the reply completed",
		"name", rec.Name, "version", rec.Version, "digest", rec.Digest.String(), "err", err)
	c.close(reasonModuleStream)
	return false
}
