package migrations

import (
	"bytes"
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

// upgradeTo5 gives every stored version's value what the parse of its
// bytes recorded (schema 5): moved from schema 4's info bucket where that
// holds it, else by parsing the version's blob (once per digest, in the
// same transaction); then the bucket goes. A blob the parser refuses gets
// its refusal recorded (the version stays served; verify reports it). A
// blob that is missing or unreadable gets no record: that is damage verify
// reports on its own, and the repository records the version's info once
// the blob is back (restore). A schema-4 record of a version no longer
// stored, or of one no upload could store (a crafted version), is dropped.
func upgradeTo5(tx *bolt.Tx, dir string) error {
	if ib := tx.Bucket(schema4InfoBucket); ib != nil {
		err := ib.ForEach(func(k, v []byte) error {
			name, _, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return nil
			}
			version, mi, err := decodeSchema4Info(v)
			if err != nil {
				return nil // parsed again below, as if it had none
			}
			return putInfo(tx, string(name), version, mi)
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(schema4InfoBucket); err != nil {
			return err
		}
	}
	// Collect first: a bucket's values are not rewritten while a cursor
	// walks it.
	var missing []index.Record
	err := index.WalkTx(tx, func(rec index.Record) error {
		ref, err := rec.Ref()
		if err != nil {
			return nil // a crafted version: verify reports it
		}
		if _, err := index.InfoTx(tx, ref, false); errors.Is(err, errdefs.ErrNotFound) {
			missing = append(missing, rec)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	parsed := map[string]*index.ModuleInfo{} // by digest; nil: no record
	for _, rec := range missing {
		mi, ok := parsed[string(rec.Digest)]
		if !ok {
			mi = parseBlob(dir, rec)
			parsed[string(rec.Digest)] = mi
		}
		if mi == nil {
			continue
		}
		if err := putInfo(tx, rec.Name, rec.Version, *mi); err != nil {
			return err
		}
	}
	return nil
}

// putInfo is index.PutInfoTx, where a version that is not stored (an
// orphan schema-4 record) or that no upload could store gets no record.
func putInfo(tx *bolt.Tx, name, version string, mi index.ModuleInfo) error {
	err := index.PutInfoTx(tx, name, version, mi)
	if errors.Is(err, errdefs.ErrInvalid) || errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
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
