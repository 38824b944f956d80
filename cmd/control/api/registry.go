package api

import (
	"encoding/json"
	"time"
)

// PushRequest is the body of POST /v1/registry/push.
type PushRequest struct {
	Name    string `json:"name"`
	Version string `json:"version"` // exact
	// Target is REGISTRY/REPOSITORY[:TAG]; the tag defaults to the version.
	Target    string `json:"target"`
	PlainHTTP bool   `json:"plain_http,omitempty"`
}

// PushResult is the answer of a push.
type PushResult struct {
	Reference string `json:"reference"` // REGISTRY/REPOSITORY:TAG
	Tag       string `json:"tag"`
	Manifest  Digest `json:"manifest"`
	Module    Record `json:"module"`
}

// PullRequest is the body of POST /v1/registry/pull.
type PullRequest struct {
	// Source is REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST.
	Source string `json:"source"`
	// Name and Version default to the repository's last segment and the tag.
	Name      string `json:"name,omitempty"`
	Version   string `json:"version,omitempty"`
	PlainHTTP bool   `json:"plain_http,omitempty"`
}

// PullResult is the answer of a pull: the stored module.
type PullResult struct {
	Reference string `json:"reference"`
	Manifest  Digest `json:"manifest"`
	Module    Record `json:"module"`
}

// TagList is the body of GET /v1/registry/tags.
type TagList struct {
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"` // semantic versions only, highest first
}

// RegistryStatus is the upstream in GET /v1/status.
type RegistryStatus struct {
	Registry    string    `json:"registry"` // REGISTRY/NAMESPACE
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// ProgressEvent is one line of a progress stream (?progress=true): bytes
// moved so far, then exactly one final line holding the result or an error.
type ProgressEvent struct {
	Bytes   int64           `json:"bytes,omitempty"`
	Total   int64           `json:"total,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
	Message string          `json:"message,omitempty"`
}

// ContentTypeProgress is the media type of a progress stream.
const ContentTypeProgress = "application/x-ndjson"
