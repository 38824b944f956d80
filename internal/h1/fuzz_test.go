package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReadResponse feeds ReadResponse and the body it frames anything: it
// must never panic nor hang, an error must be one line, and what it
// accepts must keep its own word (a status in range, a body of exactly its
// Content-Length).
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":\"not_found\"}",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
		"HTTP/1.1 200 OK\nX: y\n\nbody",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), MaxLineBytes)
		for range maxInterim + 1 {
			resp, err := ReadResponse(br)
			if err != nil {
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error of more than one line: %q", err)
				}
				return
			}
			if resp.StatusCode < 100 || resp.StatusCode > 599 {
				t.Fatalf("status %d accepted", resp.StatusCode)
			}
			if len(resp.Header) > MaxHeaders {
				t.Fatalf("%d headers accepted", len(resp.Header))
			}
			if resp.StatusCode/100 == 1 {
				continue
			}
			// The body can be no longer than the input.
			n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, int64(len(data))+1))
			if n > int64(len(data)) {
				t.Fatalf("a body of %d bytes from %d bytes of input", n, len(data))
			}
			if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
				t.Fatalf("a body of %d bytes read whole, Content-Length %d", n, resp.ContentLength)
			}
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("body error of no class: %v", err)
			}
			return
		}
	})
}
