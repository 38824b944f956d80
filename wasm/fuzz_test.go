package wasm_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

func TestInfoRoundTrip(t *testing.T) {
	infos := []wasm.Info{mustParse(t, Everything().Bytes()), mustParse(t, Small().Bytes()), mustParse(t, testutil.TinyWasm),
		mustParse(t, []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00})}
	for _, name := range RealModules {
		infos = append(infos, mustParse(t, RealBytes(t, name)))
	}
	for i, info := range infos {
		b, err := info.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got wasm.Info
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("info %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, info) {
			t.Fatalf("info %d: round trip\n got %+v\nwant %+v", i, got, info)
		}
		// every truncation is refused as corrupt, never accepted or a panic
		for cut := range len(b) {
			if err := new(wasm.Info).UnmarshalBinary(b[:cut]); !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("info %d cut at %d: %v", i, cut, err)
			}
		}
	}
	if err := new(wasm.Info).UnmarshalBinary([]byte{9}); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("unknown encoding version: %v", err)
	}
}

func FuzzUnmarshalInfo(f *testing.F) {
	for _, m := range []*Module{Everything(), Small()} {
		b, _ := mustParse(f, m.Bytes()).MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var info wasm.Info
		if err := info.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("error of the wrong class: %v", err)
			}
			return
		}
		// what decodes re-encodes to something that decodes the same
		again, err := info.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back wasm.Info
		if err := back.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(back, info) {
			t.Fatalf("re-encoding: %v\n got %+v\nwant %+v", err, back, info)
		}
	})
}

// FuzzParse: the parser never panics, refuses only with a *FormatError,
// and chunking never changes its answer.
func FuzzParse(f *testing.F) {
	f.Add(testutil.TinyWasm)
	f.Add(testutil.Wasm("seed", 64))
	f.Add(Everything().Bytes())
	f.Add(Small().Bytes())
	f.Add([]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00})
	f.Add([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := wasm.Parse(b)
		if wantErr != nil {
			var fe *wasm.FormatError
			if !errors.As(wantErr, &fe) {
				t.Fatalf("error %v is %T, not a *FormatError", wantErr, wantErr)
			}
		}
		seed := uint64(len(b))
		for _, s := range b {
			seed = seed*31 + uint64(s)
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		for _, most := range []int{24, 300} {
			got, err := feed(b, func() int { return rng.IntN(most) + 1 })
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("chunks up to %d: error %v, whole error %v", most, err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("chunks up to %d: info differs:\n got %+v\nwant %+v", most, got, want)
			}
		}
	})
}
