package control

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// TestModuleRecordEndpoints: …/info serves the parse's record, …/check
// gives wazero's verdict as a 200, ?check=true refuses before anything is
// kept, the list carries kind and counts, and a broken structure is 400
// invalid_module with the parser's message.
func TestModuleRecordEndpoints(t *testing.T) {
	f := newFixture(t, 0, "")
	ctx := t.Context()
	small := wasmtest.Small().Bytes()
	if _, err := f.client.Upload(ctx, "small", "1.0.0", bytes.NewReader(small), int64(len(small))); err != nil {
		t.Fatal(err)
	}
	mi, err := f.client.Info(ctx, "small", "^1")
	if err != nil || mi.Version != "1.0.0" || mi.Kind != wasm.KindModule || len(mi.Exports) != 1 || mi.Exports[0].Signature() != "add(i32, i32) -> i32" {
		t.Fatalf("Info = %+v, %v", mi, err)
	}
	if _, err := f.client.Info(ctx, "small", "2.0.0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Info of a missing version = %v", err)
	}
	if res, err := f.client.Check(ctx, "small", ""); err != nil || !res.Valid {
		t.Errorf("Check = %+v, %v", res, err)
	}

	bad := wasmtest.InvalidForWazero()
	if _, err := f.client.UploadChecked(ctx, "typed", "1.0.0", bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, wasm.ErrInvalidModule) {
		t.Fatalf("UploadChecked of a module wazero refuses = %v", err)
	}
	if _, err := f.client.List(ctx, "typed"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a refused checked upload is listed: %v", err)
	}
	if _, err := f.client.Upload(ctx, "typed", "1.0.0", bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	if res, err := f.client.Check(ctx, "typed", "1.0.0"); err != nil || res.Valid || res.Problem == "" || bytes.ContainsRune([]byte(res.Problem), '\n') {
		t.Errorf("Check of a module wazero refuses = %+v, %v; want a one-line problem", res, err)
	}

	mods, err := f.client.List(ctx, "")
	if err != nil || len(mods) != 2 {
		t.Fatalf("List = %+v, %v", mods, err)
	}
	if v := mods[0].Versions[0]; mods[0].Name != "small" || v.Kind != "module" || v.Imports != 0 || v.Exports != 1 {
		t.Errorf("listed %s = %+v", mods[0].Name, v)
	}

	broken := small[:len(small)-2]
	_, perr := wasm.Parse(broken)
	_, err = f.client.Upload(ctx, "broken", "1.0.0", bytes.NewReader(broken), int64(len(broken)))
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != CodeInvalidModule || ae.Message != "upload broken@1.0.0: "+perr.Error() {
		t.Errorf("upload of a truncated module = %#v; want 400 invalid_module with %q", err, perr)
	}

	resp, err := http.Post(f.srv.URL+"/v1/modules/small/1.0.0/check?x=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/v1/modules/x/1.0.0?check=maybe", bytes.NewReader(small))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("?check=maybe: %v %v, want 400", resp, err)
	} else {
		resp.Body.Close()
	}
}
