package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"
)

// echoHandler answers every call with its arguments.
type echoHandler struct{}

func (echoHandler) Call(ctx context.Context, c Call) ([]string, error) { return c.Args, nil }

// Whatever bytes a caller sends, the server answers with valid JSON lines
// only, and never panics or hangs.
func FuzzServerInput(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"call":"m.f","args":["1"]}` + "\n",
		`{"id":1,"call":"m.f","args":["1"]}{"id":2}` + "\n",
		"\n\n",
		`{"id":-1,"call":"m.f"}` + "\n",
		`{"id":1,"call":"m.f","args":[1,2]}` + "\n",
		"\xff\xfe\n",
		`{"id":18446744073709551615,"call":".","args":null}` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := NewServer(echoHandler{})
		defer s.Close()
		a, b := net.Pipe()
		if !s.start(a) {
			t.Fatal("server closed")
		}
		done := make(chan struct{})
		var out bytes.Buffer
		go func() {
			defer close(done)
			br := bufio.NewReader(b)
			for {
				line, err := br.ReadBytes('\n')
				out.Write(line)
				if err != nil {
					return
				}
			}
		}()
		b.SetWriteDeadline(time.Now().Add(5 * time.Second))
		b.Write(append(in, '\n'))
		time.Sleep(time.Millisecond)
		b.Close()
		<-done
		for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				t.Fatalf("answer is not JSON: %q", line)
			}
		}
	})
}
