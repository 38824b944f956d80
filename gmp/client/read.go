package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// rawReply is one reply read off the wire, its values still raw JSON.
type rawReply struct {
	typ, code, id []byte
	body          []byte // the body; for a streamed MODULE, its members but the binary
	streamed      bool   // the body's binary went to a sink
}

// replyReader reads replies as a stream of JSON tokens, so that a MODULE's
// binary can go from the socket to the caller's writer without being held:
// every other value is captured (at most max bytes per reply), the binary
// of the call waiting at the head is decoded as it arrives. Field order is
// free, as GMP.md says; the binary streams wherever it comes.
type replyReader struct {
	br   *bufio.Reader
	max  int
	kept int // bytes captured for the current reply
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadReply, fmt.Sprintf(format, args...))
}

// next returns the next byte that is not JSON whitespace.
func (r *replyReader) next() (byte, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil || !wire.IsSpace(c) {
			return c, err
		}
	}
}

func (r *replyReader) keep(n int) error {
	r.kept += n
	if r.kept > r.max {
		return fmt.Errorf("%w: more than %d bytes", ErrReplyTooLarge, r.max)
	}
	return nil
}

// read reads one reply. head is called once the reply has begun to find
// the call it answers (its request was written before its reply could
// arrive). io.EOF means the stream ended between replies.
func (r *replyReader) read(head func() *call) (*rawReply, error) {
	r.kept = 0
	c, err := r.next()
	if err != nil {
		return nil, err
	}
	if c != '{' {
		return nil, malformed("a reply is a JSON object, and this begins with %s", wire.DescribeByte(c))
	}
	var sink *moduleSink
	if cl := head(); cl != nil {
		sink = cl.sink
	}
	m := &rawReply{}
	err = r.members(func(key []byte, first byte) error {
		var err error
		switch {
		case wire.KeyIs(key, "type"):
			m.typ, err = r.capture(first, nil)
		case wire.KeyIs(key, "code"):
			m.code, err = r.capture(first, nil)
		case wire.KeyIs(key, "id"):
			m.id, err = r.capture(first, nil)
			if wire.IsNull(m.id) {
				m.id = nil
			}
		case wire.KeyIs(key, "body"):
			// An EVENT (type 3) arriving while a MODULE_REQUEST waits is
			// no reply to it: its body is never the call's binary.
			if first == '{' && sink != nil && string(m.typ) != "3" {
				m.body, err = r.streamBody(first, sink, m)
			} else {
				m.body, err = r.capture(first, nil)
			}
		default:
			_, err = r.capture(first, nil) // unknown fields are ignored
		}
		return err
	})
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if m.typ == nil || m.code == nil {
		return nil, malformed("a reply without type or code")
	}
	return m, nil
}

// members reads an object's members after its '{', through its '}'. fn
// gets each raw key and the first byte of its value, and must consume the
// value.
func (r *replyReader) members(fn func(key []byte, first byte) error) error {
	c, err := r.next()
	if err != nil {
		return err
	}
	if c == '}' {
		return nil
	}
	for {
		if c != '"' {
			return malformed("an object key must be a string, got %s", wire.DescribeByte(c))
		}
		key, err := r.captureString(make([]byte, 0, 16))
		if err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		} else if c != ':' {
			return malformed("expected ':' after key %s, got %s", key, wire.DescribeByte(c))
		}
		first, err := r.next()
		if err != nil {
			return err
		}
		if err := fn(key, first); err != nil {
			return err
		}
		if c, err = r.next(); err != nil {
			return err
		}
		switch c {
		case '}':
			return nil
		case ',':
			if c, err = r.next(); err != nil {
				return err
			}
		default:
			return malformed("expected ',' or '}' in an object, got %s", wire.DescribeByte(c))
		}
	}
}

// capture appends the raw value that begins with first (already read) to
// dst. Only its extent is checked here; json.Unmarshal checks the rest.
func (r *replyReader) capture(first byte, dst []byte) ([]byte, error) {
	switch first {
	case '"':
		return r.captureString(dst)
	case '{', '[':
		dst = append(dst, first)
		depth := 1
		for depth > 0 {
			c, err := r.br.ReadByte()
			if err != nil {
				return dst, err
			}
			if c == '"' {
				if dst, err = r.captureString(dst); err != nil {
					return dst, err
				}
				continue
			}
			dst = append(dst, c)
			if err := r.keep(1); err != nil {
				return dst, err
			}
			switch c {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
		return dst, nil
	default:
		// A number or literal ends at a delimiter, which stays unread.
		dst = append(dst, first)
		for n := 1; ; n++ {
			c, err := r.br.ReadByte()
			if err != nil {
				return dst, err
			}
			if c == ',' || c == '}' || c == ']' || wire.IsSpace(c) {
				r.br.UnreadByte()
				return dst, r.keep(n)
			}
			if n > 64 {
				return dst, malformed("a number or literal longer than 64 bytes")
			}
			dst = append(dst, c)
		}
	}
}

// captureString appends a string whose opening quote is already read,
// quotes included.
func (r *replyReader) captureString(dst []byte) ([]byte, error) {
	dst = append(dst, '"')
	for {
		seg, err := r.br.ReadSlice('"')
		dst = append(dst, seg...)
		if kerr := r.keep(len(seg)); kerr != nil {
			return dst, kerr
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return dst, err
		}
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		bs := 0
		for i := len(dst) - 2; i >= 0 && dst[i] == '\\'; i-- {
			bs++
		}
		if bs%2 == 0 {
			return dst, nil
		}
	}
}

// streamBody reads a body object whose binary streams into sink; it
// returns the other members as an object.
func (r *replyReader) streamBody(first byte, sink *moduleSink, m *rawReply) ([]byte, error) {
	body := []byte{first}
	err := r.members(func(key []byte, first byte) error {
		if wire.KeyIs(key, "binary") && first == '"' && !m.streamed {
			m.streamed = true
			return r.streamString(sink)
		}
		if len(body) > 1 {
			body = append(body, ',')
		}
		body = append(body, key...)
		body = append(body, ':')
		var err error
		body, err = r.capture(first, body)
		return err
	})
	return append(body, '}'), err
}

// streamString feeds the content of a string (opening quote read) to sink
// straight from the read buffer.
func (r *replyReader) streamString(sink *moduleSink) error {
	for {
		if _, err := r.br.Peek(1); err != nil {
			return err
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		seg := buf
		quote := bytes.IndexByte(seg, '"')
		if quote >= 0 {
			seg = seg[:quote]
		}
		esc := bytes.IndexByte(seg, '\\')
		if esc >= 0 {
			seg = seg[:esc]
		}
		sink.feed(seg)
		r.br.Discard(len(seg))
		switch {
		case esc >= 0:
			r.br.Discard(1)
			c, err := r.unescape()
			if err != nil {
				return err
			}
			sink.feed([]byte{c})
		case quote >= 0:
			r.br.Discard(1)
			sink.end()
			return nil
		}
	}
}

// unescape reads a JSON escape after its backslash. Base64 holds ASCII
// only; an escape for anything else yields '!', which base64 refuses.
func (r *replyReader) unescape() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, err
	}
	switch c {
	case '"', '\\', '/':
		return c, nil
	case 'u':
		var v uint16
		for i := 0; i < 4; i++ {
			h, err := r.br.ReadByte()
			if err != nil {
				return 0, err
			}
			switch {
			case h >= '0' && h <= '9':
				h -= '0'
			case h >= 'a' && h <= 'f':
				h -= 'a' - 10
			case h >= 'A' && h <= 'F':
				h -= 'A' - 10
			default:
				return 0, malformed("bad \\u escape")
			}
			v = v<<4 | uint16(h)
		}
		if v >= 0x80 {
			return '!', nil
		}
		return byte(v), nil
	case 'b', 'f', 'n', 'r', 't':
		return '!', nil
	}
	return 0, malformed("bad escape \\%c", c)
}

// isEOF reports whether a read error means GPMD went away.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
