package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/textproto"
)

// chunkedReader reads a chunked body (RFC 9112, section 7.1): size lines in
// hex, each chunk's bytes and CRLF, a last chunk of size 0, trailers
// (read within the head's limits and dropped) and the empty line.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes left in the current chunk
	// inChunk: left counts a chunk whose CRLF is still to read.
	inChunk bool
	err     error // sticky: io.EOF after the last chunk, or what failed
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for c.left == 0 {
		if c.inChunk {
			if c.err = c.chunkEnd(); c.err != nil {
				return 0, c.err
			}
		}
		if c.err = c.sizeLine(); c.err != nil {
			return 0, c.err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// chunkEnd reads the CRLF after a chunk's bytes.
func (c *chunkedReader) chunkEnd() error {
	b, err := c.br.ReadByte()
	if err == nil && b == '\r' {
		b, err = c.br.ReadByte()
	}
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if b != '\n' {
		return malformed("chunk not followed by CRLF", []byte{b})
	}
	c.inChunk = false
	return nil
}

// sizeLine reads a chunk-size line; at the last chunk, the trailers, and
// then it returns io.EOF.
func (c *chunkedReader) sizeLine() error {
	h := &headReader{br: c.br, left: MaxLineBytes}
	line, err := h.line("chunk-size line")
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	size, _, _ := bytes.Cut(line, []byte{';'}) // extensions are ignored
	size = bytes.TrimRight(size, " \t")
	n, ok := parseHex(size)
	if !ok {
		return malformed("chunk-size line", line)
	}
	if n == 0 {
		trailers := &headReader{br: c.br, left: MaxHeaderBytes}
		if err := trailers.fields(textproto.MIMEHeader{}); err != nil {
			return fmt.Errorf("trailers: %w", err)
		}
		return io.EOF
	}
	c.left, c.inChunk = n, true
	return nil
}

// parseHex reads a chunk size: 1 to 15 hex digits, so that it fits an
// int64 whatever they are.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}
