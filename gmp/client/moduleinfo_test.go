package client

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// TestClientModuleInfo: ModuleInfo returns what the parse recorded,
// imports and exports equal to a parse of the bytes, and ErrNotFound for a
// version that is not there.
func TestClientModuleInfo(t *testing.T) {
	r := newRepo(t)
	b := wasmtest.Everything().Bytes()
	upload(t, r, "everything", "v1.0.0", b)
	ts := startServer(t, gmp.Config{Modules: r})
	ctx := testCtx(t)
	c := dialClient(t, ts.addr)
	w, err := c.Hello(ctx, "gvm/test")
	if err != nil || !w.Has(wire.FeatureModuleInfo) {
		t.Fatalf("Hello = %+v, %v; want features [module_info]", w, err)
	}
	d, err := c.ModuleInfo(ctx, "everything", "^1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := wasm.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// Index is not on the wire: it is the export's index, for the record.
	for i := range want.Exports {
		want.Exports[i].Index = 0
	}
	if d.Name != "everything" || d.Version != "v1.0.0" || d.Hash != digestOf(b) || d.Size != int64(len(b)) || d.Kind != "module" ||
		!reflect.DeepEqual(d.Imports, want.Imports) || !reflect.DeepEqual(d.Exports, want.Exports) {
		t.Fatalf("ModuleInfo = %+v\nwant imports %+v\nexports %+v", d, want.Imports, want.Exports)
	}
	if _, err := c.ModuleInfo(ctx, "everything", "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ModuleInfo of a missing version = %v, want ErrNotFound", err)
	}
}
