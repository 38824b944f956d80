package control

import (
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/index"
)

// The bodies and headers the server writes. Their home is package api,
// which the command line links without the server; the server names them
// here as it always has.
type (
	Info           = api.Info
	Status         = api.Status
	ModuleList     = api.ModuleList
	ListedModule   = api.ListedModule
	ListedVersion  = api.ListedVersion
	ModuleInfo     = api.ModuleInfo
	CheckResult    = api.CheckResult
	NodeList       = api.NodeList
	PushRequest    = api.PushRequest
	PushResult     = api.PushResult
	PullRequest    = api.PullRequest
	PullResult     = api.PullResult
	TagList        = api.TagList
	RegistryStatus = api.RegistryStatus
	ProgressEvent  = api.ProgressEvent
	StreamStart    = api.StreamStart
	ErrorBody      = api.ErrorBody
)

// Headers of a module download and of an upload (api's).
const (
	HeaderName    = api.HeaderName
	HeaderVersion = api.HeaderVersion
	HeaderDigest  = api.HeaderDigest
	HeaderCreated = api.HeaderCreated
)

// RecordOf is rec as the API carries it: the same fields and JSON, with
// the digest as a checked string.
func RecordOf(rec index.Record) api.Record {
	return api.Record{Name: rec.Name, Version: rec.Version, Digest: api.Digest(rec.Digest), Size: rec.Size, Created: rec.Created}
}
