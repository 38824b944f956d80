package oci

import (
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/errdefs"
)

// verifyReader passes r through while counting and hashing it. It never
// returns more than size bytes, and it turns the end of the stream into an
// error wrapping ErrCorrupt when the count or the digest is wrong, so a
// reader of it sees a clean io.EOF only after exactly the bytes of d.
type verifyReader struct {
	r    io.Reader
	what string // named in errors: "layer REF@DIGEST"
	d    digest.Digest
	size int64
	n    int64
	h    hash.Hash
	err  error // sticky once set
	// gate, when set, is a check the stream's end waits for: a layer is
	// not whole until its config has passed too. A failed gate ends the
	// stream (at once, or at its end) with the gate's error.
	gate *configGate
}

func newVerifyReader(r io.Reader, what string, d digest.Digest, size int64) *verifyReader {
	return &verifyReader{r: r, what: what, d: d, size: size, h: d.Algorithm().Hash()}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.gate != nil {
		if err := v.gate.failed(); err != nil {
			v.err = err
			return 0, err
		}
	}
	// Read one byte past size at most, to notice trailing data.
	if rem := v.size - v.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.r.Read(p)
	if v.n+int64(n) > v.size {
		v.err = fmt.Errorf("%s: %w: more than the %d bytes its descriptor gives", v.what, errdefs.ErrCorrupt, v.size)
		return 0, v.err
	}
	v.n += int64(n)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		v.err = v.check()
		if v.err == nil && v.gate != nil {
			v.err = v.gate.wait()
		}
		if v.err == nil {
			v.err = io.EOF
		}
		return n, v.err
	case err != nil:
		v.err = err
	}
	return n, err
}

// check compares what was read with the descriptor.
func (v *verifyReader) check() error {
	if v.n != v.size {
		return fmt.Errorf("%s: %w: %d bytes where its descriptor gives %d", v.what, errdefs.ErrCorrupt, v.n, v.size)
	}
	if got := digest.NewDigest(v.d.Algorithm(), v.h); got != v.d {
		return fmt.Errorf("%s: %w: the bytes hash to %s", v.what, errdefs.ErrCorrupt, got)
	}
	return nil
}

// copyBufferSize is the chunk WriteTo moves: io.Copy's 32 KiB costs a
// syscall pair per chunk on a tens-of-MB module.
const copyBufferSize = 256 << 10

// WriteTo lets io.Copy move the stream in copyBufferSize chunks; it
// returns the same errors Read would, so a mismatch fails the copy.
func (v *verifyReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, copyBufferSize)
	var total int64
	for {
		n, err := v.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
