package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/repo"
	"github.com/ghost-network/gpmd/wasm"
)

// headerOnly is issue 9's 10-byte file: a header, then garbage.
var headerOnly = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff}

// component is the smallest component-model binary: its header.
var component = []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}

// blobCount counts the files under blobs/ and ingest/ of dir.
func blobCount(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"blobs", "ingest"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, de os.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				n++
			}
			return nil
		})
	}
	return n
}

func TestUploadRecordsWhatTheParseFinds(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	ctx := t.Context()
	b := wasmtest.Everything().Bytes()
	want, err := wasm.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Upload(ctx, index.MustRef("everything", "v1.0.0"), bytes.NewReader(b), ""); err != nil {
		t.Fatal(err)
	}
	rec, got, err := r.Info(ctx, index.MustQuery("everything", "^1"))
	if err != nil || rec.Version != "v1.0.0" {
		t.Fatalf("Info = %+v, %v", rec, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Info = %+v\nwant %+v", got, want)
	}
	if _, err := r.Upload(ctx, index.MustRef("comp", "1.0.0"), bytes.NewReader(component), ""); err != nil {
		t.Fatalf("component upload: %v", err)
	}
	if _, info, err := r.Info(ctx, index.MustQuery("comp", "")); err != nil || info.Kind != wasm.KindComponent {
		t.Fatalf("component Info = %+v, %v", info, err)
	}
	sums, err := r.InfoSummaries(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := sums["everything@v1.0.0"]; s.Kind != "module" || s.Imports != len(want.Imports) || s.Exports != len(want.Exports) {
		t.Errorf("summary = %+v", s)
	}
	if s := sums["comp@1.0.0"]; s.Kind != "component" {
		t.Errorf("component summary = %+v", s)
	}
	// The record goes with its version.
	if _, err := r.Remove(ctx, index.MustRef("comp", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if sums, _ := r.InfoSummaries(ctx, "comp"); len(sums) != 0 {
		t.Errorf("record outlived its version: %+v", sums)
	}
}

// TestUploadRefusesBrokenStructure: the parser's refusal is the upload's
// error, with the parser's message, and nothing is kept; the header
// messages of files that are not WebAssembly at all stay.
func TestUploadRefusesBrokenStructure(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	ctx := t.Context()
	everything := wasmtest.Everything().Bytes()
	cases := map[string]struct {
		body []byte
		want string
	}{
		"header then garbage": {headerOnly, "byte 8"},
		"truncated":           {everything[:len(everything)-3], "past the end of the file"},
		"trailing garbage":    {append(bytes.Clone(testutil.TinyWasm), 0x00), "byte 8"},
	}
	for name, c := range cases {
		_, err := r.Upload(ctx, index.MustRef("bad", "1.0.0"), bytes.NewReader(c.body), "")
		var fe *wasm.FormatError
		if !errors.As(err, &fe) || !errors.Is(err, wasm.ErrInvalidModule) || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Upload = %v; want a *wasm.FormatError saying %q", name, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the message is not one line: %q", name, err)
		}
	}
	if n := blobCount(t, dir); n != 0 {
		t.Errorf("%d files kept of refused uploads", n)
	}
	if mods, _ := r.List(ctx, index.Name{}); len(mods) != 0 {
		t.Errorf("refused uploads listed: %+v", mods)
	}
	if _, err := r.Upload(ctx, index.MustRef("bad", "1.0.0"), bytes.NewReader([]byte("hello, text")), ""); !errors.Is(err, errdefs.ErrNotWasm) {
		t.Errorf("text: %v, want errdefs.ErrNotWasm", err)
	}
}

func TestUploadCheckAndCheck(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	ctx := t.Context()
	bad := wasmtest.InvalidForWazero()
	if _, err := wasm.Parse(bad); err != nil {
		t.Fatalf("fixture must pass the parser: %v", err)
	}
	_, err := r.UploadWith(ctx, index.MustRef("typed", "1.0.0"), bytes.NewReader(bad), repo.UploadOptions{Check: true})
	if !errors.Is(err, wasm.ErrInvalidModule) {
		t.Fatalf("UploadWith Check = %v, want ErrInvalidModule", err)
	}
	if n := blobCount(t, dir); n != 0 {
		t.Errorf("%d files kept of a refused checked upload", n)
	}
	if _, err := r.UploadWith(ctx, index.MustRef("good", "1.0.0"), bytes.NewReader(testutil.TinyWasm), repo.UploadOptions{Check: true}); err != nil {
		t.Fatalf("checked upload of a valid module: %v", err)
	}
	// Without --check the same bytes are kept; Check and a deep verify
	// find them.
	if _, err := r.Upload(ctx, index.MustRef("typed", "1.0.0"), bytes.NewReader(bad), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(ctx, index.MustQuery("typed", "latest")); !errors.Is(err, wasm.ErrInvalidModule) {
		t.Errorf("Check = %v, want ErrInvalidModule", err)
	}
	if _, err := r.Check(ctx, index.MustQuery("good", "latest")); err != nil {
		t.Errorf("Check of a valid module = %v", err)
	}
	if _, err := r.Upload(ctx, index.MustRef("comp", "1.0.0"), bytes.NewReader(component), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(ctx, index.MustQuery("comp", "")); !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, wasm.ErrInvalidModule) {
		t.Errorf("Check of a component = %v, want ErrUnsupported and not invalid", err)
	}
	rep, err := r.VerifyWith(ctx, repo.VerifyOptions{Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != repo.ProblemInvalidModule || rep.Problems[0].Name != "typed" {
		t.Errorf("deep verify problems = %+v, want typed@1.0.0 invalid_module", rep.Problems)
	}
	if len(rep.Unsupported) != 1 || rep.Unsupported[0].Name != "comp" {
		t.Errorf("deep verify unsupported = %+v, want comp", rep.Unsupported)
	}
	if rep, _ := r.Verify(ctx); !rep.OK() {
		t.Errorf("plain verify (no wazero) = %+v, want no problem", rep.Problems)
	}
	// Clean up for the invariants check (reopen + verify).
	r.Remove(ctx, index.MustRef("typed", "1.0.0"))
}

// TestStoredInvalidStaysServed: a version stored without a parse (as
// before issue 9) whose bytes the parser refuses stays served, Info says
// why it has no record, and verify names it invalid_module.
func TestStoredInvalidStaysServed(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	ctx := t.Context()
	repo.SetNoParse(r, true)
	if _, err := r.Upload(ctx, index.MustRef("old", "0.0.1"), bytes.NewReader(headerOnly), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Upload(ctx, index.MustRef("oldgood", "0.0.1"), bytes.NewReader(testutil.TinyWasm), ""); err != nil {
		t.Fatal(err)
	}
	repo.SetNoParse(r, false)
	_, rd, err := r.Get(ctx, index.MustQuery("old", ""))
	if err != nil {
		t.Fatal(err)
	}
	rd.Close()
	if _, _, err := r.Info(ctx, index.MustQuery("old", "")); !errors.Is(err, wasm.ErrInvalidModule) || !strings.Contains(err.Error(), "old@0.0.1") {
		t.Errorf("Info = %v, want ErrInvalidModule naming old@0.0.1", err)
	}
	if _, info, err := r.Info(ctx, index.MustQuery("oldgood", "")); err != nil || info.Kind != wasm.KindModule {
		t.Errorf("Info of a good old version = %+v, %v", info, err)
	}
	rep, err := r.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != repo.ProblemInvalidModule || rep.Problems[0].Name+"@"+rep.Problems[0].Version != "old@0.0.1" {
		t.Fatalf("verify = %+v, want old@0.0.1 invalid_module", rep.Problems)
	}
	r.Remove(ctx, index.MustRef("old", "0.0.1"))
}

// sizedModule is a module of about size bytes shaped like compiled code:
// functions of two types with bodies of 64 to 1,000 bytes, one in 16
// exported, a memory and a name section.
func sizedModule(size int) []byte {
	var funcs, exports, bodies [][]byte
	total := 0
	for i := 0; total < size; i++ {
		funcs = append(funcs, []byte{byte(i % 2)})
		if i%16 == 0 {
			exports = append(exports, wasmtest.Export(fmt.Sprintf("function_%d", i), 0, uint32(i)))
		}
		n := 64 + (i*389)%936
		body := bytes.Repeat([]byte{0x01}, n)
		if i%2 == 1 {
			body[0], body[1] = 0x41, 0x00 // i32.const 0: the result
		}
		bodies = append(bodies, wasmtest.Body(body...))
		total += n + 4
	}
	m := &wasmtest.Module{}
	m.Add(wasmtest.SecType, wasmtest.Vec(wasmtest.FuncType(nil, nil), wasmtest.FuncType([]byte{wasmtest.I32, wasmtest.I64}, []byte{wasmtest.I32})))
	m.Add(wasmtest.SecFunction, wasmtest.Vec(funcs...))
	m.Add(wasmtest.SecMemory, wasmtest.Vec([]byte{0x00, 16}))
	m.Add(wasmtest.SecExport, wasmtest.Vec(exports...))
	m.Add(wasmtest.SecCode, wasmtest.Vec(bodies...))
	m.Add(wasmtest.SecCustom, wasmtest.Name("name"), bytes.Repeat([]byte{'n'}, size/50))
	return m.Bytes()
}

// BenchmarkUploadParseRatio uploads a module with the parse and without
// it (the header check only), alternating in one run, and reports the
// throughput ratio with/without (issue 9: ≥ 0.95) as the ratio of the
// median times: an upload's time is mostly fsync, whose outliers on a
// shared machine would otherwise decide a ratio of sums.
//
// Every upload sends bytes of its own (the module with a 16-byte custom
// section appended, distinct per upload and of the same size on both
// sides), so each writes and fsyncs a new blob, as a real upload does:
// the same bytes again would only be hashed against the stored copy and
// measure the dedup path. The two sides differ only in the parse and its
// record. pair-ratio is the median of the ratios of the two uploads of
// each iteration (run back to back, so under the same load).
func BenchmarkUploadParseRatio(b *testing.B) {
	inputs := []struct {
		name string
		data func(b *testing.B) []byte
	}{
		{"1MiB", func(*testing.B) []byte { return sizedModule(1 << 20) }},
		{"16MiB", func(*testing.B) []byte { return sizedModule(16 << 20) }},
		{"ffmpeg-core", func(b *testing.B) []byte { return wasmtest.RealBytes(b, "ffmpeg-core.wasm") }},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			data := in.data(b)
			if _, err := wasm.Parse(data); err != nil {
				b.Fatal(err)
			}
			r, err := repo.Open(context.Background(), b.TempDir(), repo.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			var with, without []time.Duration
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := range b.N {
				for _, parse := range []bool{i%2 == 0, i%2 != 0} {
					repo.SetNoParse(r, !parse)
					version := fmt.Sprintf("1.%d.0", i)
					if !parse {
						version = fmt.Sprintf("2.%d.0", i)
					}
					body := uniqueSuffix(data, version)
					start := time.Now()
					if _, err := r.Upload(context.Background(), index.MustRef("m", version), bytes.NewReader(body), ""); err != nil {
						b.Fatal(err)
					}
					if parse {
						with = append(with, time.Since(start))
					} else {
						without = append(without, time.Since(start))
					}
				}
			}
			// pair-ratio: the median of each iteration's two uploads'
			// ratio, which ran back to back and so saw the same load:
			// steadier than the ratio of medians on a shared machine.
			pairs := make([]float64, len(with))
			for i := range with {
				pairs[i] = float64(without[i]) / float64(with[i])
			}
			slices.Sort(pairs)
			median := func(ds []time.Duration) float64 {
				slices.Sort(ds)
				return float64(ds[len(ds)/2])
			}
			b.ReportMetric(median(without)/median(with), "ratio")
			b.ReportMetric(pairs[len(pairs)/2], "pair-ratio")
			b.ReportMetric(median(with)/1e6, "ms-with")
			b.ReportMetric(median(without)/1e6, "ms-without")
		})
	}
}

// uniqueSuffix is data with a custom section appended whose 16-byte
// payload is tag, padded: bytes no other upload of the benchmark sends,
// as long as any other's, which the parser accepts (custom sections may
// follow the last section).
func uniqueSuffix(data []byte, tag string) []byte {
	payload := fmt.Sprintf("%-16.16s", tag)
	sec := append([]byte{wasmtest.SecCustom}, wasmtest.Uleb(uint32(len(wasmtest.Name("u"))+len(payload)))...)
	sec = append(append(sec, wasmtest.Name("u")...), payload...)
	return append(slices.Clip(data), sec...)
}

// BenchmarkParseSized is the parse alone of BenchmarkUploadParseRatio's
// synthetic modules: the CPU the upload's parse goroutine spends beside
// the hash and the write.
func BenchmarkParseSized(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		data := sizedModule(size)
		b.Run(fmt.Sprint(size>>20, "MiB"), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				if _, err := wasm.ParseReader(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
