package pullthrough

import (
	"context"
	"fmt"
	"io"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/oci"
)

// Progress is told how many bytes of total have moved so far. It is called
// from the goroutine that moves them, often: it must be quick.
type Progress func(done, total int64)

// Push pushes the stored version ref (exact: a Ref holds a version, never
// a constraint) to target (REGISTRY/REPOSITORY[:TAG]). The bytes are read
// from the repository through oci's verifying reader: a damaged stored
// module fails the push.
func (l *Layer) Push(ctx context.Context, ref index.Ref, target string, plainHTTP bool, progress Progress) (oci.PushResult, index.Record, error) {
	rec, rc, err := l.Repo.Get(ctx, ref.Name().String(), ref.Version().Original())
	if err != nil {
		return oci.PushResult{}, index.Record{}, fmt.Errorf("push: %w", err)
	}
	defer rc.Close()
	mod := oci.Module{Name: rec.Name, Version: rec.Version, Digest: rec.Digest, Size: rec.Size}
	res, err := l.clientFor(plainHTTP).Push(ctx, mod, counting(rc, rec.Size, progress), target)
	return res, rec, err
}

// Pull pulls source (REGISTRY/REPOSITORY(:TAG|@DIGEST)) into the
// repository as an upload would store it, under name and version (which
// default to the repository's last segment and the tag).
func (l *Layer) Pull(ctx context.Context, source, name, version string, plainHTTP bool, progress Progress) (oci.PullResult, index.Record, error) {
	var rec index.Record
	res, err := l.clientFor(plainHTTP).Pull(ctx, source, oci.PullOptions{Name: name, Version: version}, l.sink(progress, &rec))
	if err != nil {
		return oci.PullResult{}, index.Record{}, err
	}
	l.log.Info("pulled", "reference", res.Reference, "manifest", res.Manifest, "module", rec.Name, "version", rec.Version, "digest", rec.Digest, "size", rec.Size)
	return res, rec, nil
}

// Tags lists the semver tags of repository (REGISTRY/REPOSITORY), highest
// first.
func (l *Layer) Tags(ctx context.Context, repository string, plainHTTP bool) ([]oci.Tag, error) {
	return l.clientFor(plainHTTP).Tags(ctx, repository)
}

func (l *Layer) clientFor(plainHTTP bool) *oci.Client {
	if plainHTTP {
		return l.plain
	}
	return l.client
}

// counting passes r through, telling progress (when not nil) the running
// count.
func counting(r io.Reader, total int64, progress Progress) io.Reader {
	if progress == nil {
		return r
	}
	return &countingReader{r: r, total: total, progress: progress}
}

type countingReader struct {
	r        io.Reader
	n, total int64
	progress Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.progress(c.n, c.total)
	}
	return n, err
}
