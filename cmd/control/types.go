package control

import (
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/index"
)

// RecordOf is rec as the API carries it: the same fields and JSON, with
// the digest as a checked string.
func RecordOf(rec index.Record) api.Record {
	return api.Record{Name: rec.Name, Version: rec.Version, Digest: api.Digest(rec.Digest), Size: rec.Size, Created: rec.Created}
}
