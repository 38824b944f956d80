package migrations

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/wasm"
	bolt "go.etcd.io/bbolt"
)

// ModuleInfoOf turns the result of a structural parse into the record the
// index keeps: the summary and wasm.Info's binary encoding, or the
// parser's refusal (parseErr a *wasm.FormatError). Any other error is
// returned: it says nothing about the bytes. It is the one place where a
// parse becomes an index.ModuleInfo: uploads, the lazy fill of versions
// stored without one, and the migration to the info schema use it.
func ModuleInfoOf(info wasm.Info, parseErr error) (index.ModuleInfo, error) {
	var fe *wasm.FormatError
	if errors.As(parseErr, &fe) {
		return index.ModuleInfo{Refused: fe.Error()}, nil
	}
	if parseErr != nil {
		return index.ModuleInfo{}, parseErr
	}
	detail, err := info.MarshalBinary()
	if err != nil {
		return index.ModuleInfo{}, err
	}
	return index.ModuleInfo{Kind: string(info.Kind), Imports: len(info.Imports), Exports: len(info.Exports), Detail: detail}, nil
}

// upgradeToInfo creates the info bucket and fills it by parsing the blob of
// every stored version, once per digest, in the same transaction. A blob
// the parser refuses gets its refusal recorded (the version stays served;
// verify reports it). A blob that is missing or unreadable gets no record:
// that is damage verify reports on its own, and the repository records the
// version's info once the blob is back (restore).
func upgradeToInfo(tx *bolt.Tx, dir string) error {
	if err := index.CreateInfoTx(tx); err != nil {
		return err
	}
	parsed := map[string]*index.ModuleInfo{} // by digest; nil: no record
	return index.WalkTx(tx, func(rec index.Record) error {
		mi, ok := parsed[string(rec.Digest)]
		if !ok {
			mi = parseBlob(dir, rec)
			parsed[string(rec.Digest)] = mi
		}
		if mi == nil {
			return nil
		}
		err := index.PutInfoTx(tx, rec.Name, rec.Version, *mi)
		if errors.Is(err, errdefs.ErrInvalid) {
			// A record no upload could store (a crafted version): verify
			// reports it as an index problem; it gets no module record.
			return nil
		}
		return err
	})
}

// parseBlob parses the blob of rec in the store folder dir; nil when it
// cannot be read.
func parseBlob(dir string, rec index.Record) *index.ModuleInfo {
	rel, err := blobstore.RelPath(rec.Digest)
	if err != nil {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil
	}
	defer f.Close()
	info, perr := wasm.ParseReader(f)
	mi, err := ModuleInfoOf(info, perr)
	if err != nil {
		return nil
	}
	return &mi
}
