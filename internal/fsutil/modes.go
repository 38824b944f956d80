package fsutil

import "io/fs"

// The modes of everything in GPMD's data folder, in one place: the folder
// holds the modules, the log, the token's whereabouts and the index, and
// none of it is for other users of the machine (issue 14). The daemon
// creates with these modes and tightens what an older gpmd left looser
// when it starts (cmd/daemon/perms.go).
const (
	// DirMode: every folder in the data folder, the data folder itself
	// included.
	DirMode fs.FileMode = 0o700
	// FileMode: every file that is written after it is created (the
	// index, the mirror, the log, the state and pid files).
	FileMode fs.FileMode = 0o600
	// BlobMode: a committed blob. Nobody writes to a blob once it is
	// committed, not even its owner; only the owner reads it.
	BlobMode fs.FileMode = 0o400
)
