package modulesjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// FuzzVersionLine holds the mirror's direct writer of a version line to
// encoding/json's bytes for the same Version, for any strings, size and
// time: the same bytes, or the same failure.
func FuzzVersionLine(f *testing.F) {
	hex := "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
	f.Add("v1.2.0", "sha256", hex, "blobs/sha256/"+hex, int64(812), int64(1764460800123456789))
	f.Add("v1.0.0+build.7", "sha256", hex, "blobs/sha256/"+hex, int64(0), int64(0))
	f.Add("v<1>&\"\\\x01\u2028é", "sha256", hex, "blobs/x", int64(-1), int64(-62135596800000000)) // escapes, year 1
	f.Add("v1", "", "", "", int64(1<<62), int64(253402300800000000))                              // year 10000
	f.Add("\x7f", "a", "b:c", "blobs/\xff", int64(7), int64(-62167219200000000-1))                // before year 0
	f.Fuzz(func(t *testing.T, version, alg, encoded, file string, size, unixNano int64) {
		// Encode checks every digest (blobstore.RelPath) before it writes
		// a line; go-digest's accessors need the separator at least.
		dig := digest.Digest(alg + ":" + encoded)
		rec := index.Record{Version: version, Digest: dig, Size: size, Created: time.Unix(0, unixNano)}
		got, gotErr := appendVersionLine([]byte("prefix"), rec, file)
		want, wantErr := slowVersionLine([]byte("prefix"), rec, file)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("errors differ: direct %v, encoding/json %v", gotErr, wantErr)
		}
		if gotErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("direct %q\nencoding/json %q", got, want)
		}
	})
}

// The direct writer takes the common line, and the odd one falls back.
func TestVersionLineDirect(t *testing.T) {
	hex := "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
	rec := index.Record{Version: "v1.2.0", Digest: digest.Digest("sha256:" + hex), Size: 812, Created: time.Date(2026, 11, 30, 10, 0, 0, 5, time.UTC)}
	got, err := appendVersionLine(nil, rec, "blobs/sha256/"+hex)
	if err != nil {
		t.Fatal(err)
	}
	want := "\n    \"v1.2.0\": {\"version\":\"v1.2.0\",\"file\":\"blobs/sha256/" + hex + "\",\"hash\":\"" + hex +
		"\",\"digest\":\"sha256:" + hex + "\",\"size\":812,\"created\":\"2026-11-30T10:00:00.000000005Z\"}"
	if string(got) != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if !plainJSON(rec.Version) || plainJSON("v<1>") || plainJSON("é") || plainJSON("a\"b") {
		t.Fatal("plainJSON")
	}
}

// The mirror renders the whole index at each write; for 10,000 versions,
// EncodeRecords against encoding/json encoding the same modules (the map
// Decode gives back), in one run. "encode/json" above 1 is faster.
//
//	go test ./modulesjson -run x -bench Encode10k
func BenchmarkEncode10k(b *testing.B) {
	const names, perName = 2000, 5
	hex := "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
	created := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	var recs []index.Record
	for n := range names {
		for v := perName; v > 0; v-- {
			recs = append(recs, index.Record{Name: fmt.Sprintf("module-%04d", n), Version: fmt.Sprintf("v1.0.%d", v),
				Digest: digest.Digest("sha256:" + hex), Size: int64(1000 + n), Created: created})
		}
	}
	data, err := EncodeRecords(recs, nil)
	if err != nil {
		b.Fatal(err)
	}
	mods, err := Decode(data)
	if err != nil || len(mods) != names {
		b.Fatalf("decode: %d modules, %v", len(mods), err)
	}
	b.SetBytes(int64(len(data)))
	var tOurs, tJSON time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := EncodeRecords(recs, nil); err != nil {
			b.Fatal(err)
		}
		tOurs += time.Since(start)
		start = time.Now()
		if _, err := json.Marshal(mods); err != nil {
			b.Fatal(err)
		}
		tJSON += time.Since(start)
	}
	b.ReportMetric(float64(tJSON)/float64(tOurs), "encode/json")
}
