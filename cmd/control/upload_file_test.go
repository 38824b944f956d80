package control

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// TestUploadRegularFile: a regular file goes by sendfile and is hashed
// beside it; what is stored is the file's bytes from its current offset,
// and the digest check still holds.
func TestUploadRegularFile(t *testing.T) {
	f := newFixture(t, 0, "")
	ctx := t.Context()
	module := testutil.Wasm("file", 3<<20+17) // several chunks, not a multiple
	// Leading bytes that are not part of the upload: the file's offset is
	// past them.
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, append([]byte("junk"), module...), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rec, err := f.client.Upload(ctx, "file", "1.0.0", fh, int64(len(module)))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Digest != api.Digest(digest.FromBytes(module)) || rec.Size != int64(len(module)) {
		t.Fatalf("stored %+v, want %s", rec, digest.FromBytes(module))
	}
}
