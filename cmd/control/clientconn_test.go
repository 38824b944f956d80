package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// The client's own HTTP/1.1 (internal/h1) against the real server: what
// the other tests here do not already cover.

// TestEventsCancelClosesStream: ending an event stream's context returns
// at once with the context's error, and the server sees its subscriber go
// (the connection was closed, not left open).
func TestEventsCancelClosesStream(t *testing.T) {
	hub, c := newEventServer(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subscribed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, "", "", 0, func(m api.StreamMessage) error {
			if m.Kind == api.StreamSubscribed {
				close(subscribed)
			}
			return nil
		})
	}()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscribed message")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Events returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not return after its context ended")
	}
	testutil.WaitFor(t, 5*time.Second, "the server to drop the subscriber", func() bool { return hub.Subscribers() == 0 })
}

// TestChunkedUploadAndRefusals: a body of unknown size goes chunked and is
// stored as sent; an upload the server refuses from its head alone (too
// large by Content-Length) is answered without its body.
func TestChunkedUploadAndRefusals(t *testing.T) {
	f := newFixture(t, 1<<20, "")
	data := testutil.Wasm("chunked", 700<<10)
	rec, err := f.client.Upload(t.Context(), "chunked", "v1.0.0", struct{ *bytes.Reader }{bytes.NewReader(data)}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Size != int64(len(data)) || rec.Digest != api.DigestOf(sum(data)) {
		t.Fatalf("stored %+v", rec)
	}
	var buf bytes.Buffer
	if _, err := f.client.Download(t.Context(), "chunked", "v1.0.0", &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("download: %v, %d bytes", err, buf.Len())
	}
	big := testutil.Wasm("big", 2<<20)
	counted := &countReader{r: bytes.NewReader(big)}
	start := time.Now()
	_, err = f.client.Upload(t.Context(), "big", "v1.0.0", counted, int64(len(big)))
	if !errors.Is(err, errdefs.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if counted.n != 0 || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("the refused upload read %d bytes of its body and took %v", counted.n, time.Since(start))
	}
}

type countReader struct {
	r *bytes.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
