package oci

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
)

func TestVerifyReader(t *testing.T) {
	good := testutil.Wasm("verify", 600_000)
	d := digest.FromBytes(good)
	flipped := bytes.Clone(good)
	flipped[300_000] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"exact", good, true},
		{"short", good[:len(good)-1], false},
		{"long", append(bytes.Clone(good), 0), false},
		{"flipped", flipped, false},
	} {
		for _, via := range []string{"Read", "WriteTo"} {
			vr := newVerifyReader(iotest.HalfReader(bytes.NewReader(tc.data)), "layer", d, int64(len(good)))
			var got []byte
			var err error
			if via == "Read" {
				got, err = io.ReadAll(struct{ io.Reader }{vr})
			} else {
				var buf bytes.Buffer
				_, err = io.Copy(&buf, vr)
				got = buf.Bytes()
			}
			if tc.ok {
				if err != nil || !bytes.Equal(got, good) {
					t.Errorf("%s via %s: %v", tc.name, via, err)
				}
				continue
			}
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Errorf("%s via %s: %v, want ErrCorrupt", tc.name, via, err)
			}
			if len(got) > len(good) {
				t.Errorf("%s via %s: handed out %d bytes, more than the descriptor's %d", tc.name, via, len(got), len(good))
			}
		}
	}
}
