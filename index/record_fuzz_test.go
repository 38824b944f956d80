package index

import (
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeRecord: a version's stored value (record and, since schema 5,
// the parse's info) is read back from a file that may be damaged or
// crafted. Decoding never panics nor allocates past the value, and what
// decodes encodes to a value that decodes to the same.
func FuzzDecodeRecord(f *testing.F) {
	rec := Record{Version: "1.2.3-rc.1", Digest: dg("x"), Size: 1 << 20, Created: time.Unix(1700000000, 5)}
	f.Add(encodeRecord(rec))
	f.Add(encodeRecordInfo(rec, &ModuleInfo{Kind: "module", Imports: 3, Exports: 70, Detail: []byte{1, 2, 3}}))
	f.Add(encodeRecordInfo(rec, &ModuleInfo{Refused: "section 10 (code) at byte 1234 runs 88 bytes past the end of the file"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord("n", b)
		if err != nil {
			return
		}
		mi, has, err := recordInfo("n", b, true)
		if err != nil {
			t.Fatalf("decodeRecord accepted a value whose info recordInfo refuses: %v", err)
		}
		var again []byte
		if has {
			again = encodeRecordInfo(r, &mi)
		} else {
			again = encodeRecord(r)
		}
		r2, err := decodeRecord("n", again)
		mi2, has2, err2 := recordInfo("n", again, true)
		if err != nil || err2 != nil || r2 != r || has2 != has || !reflect.DeepEqual(mi2, mi) {
			t.Fatalf("re-encoded value decodes to %+v %+v %v (%v, %v), want %+v %+v %v", r2, mi2, has2, err, err2, r, mi, has)
		}
	})
}
