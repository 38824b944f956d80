package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ghost-network/gpmd/internal/fsutil"
)

// moduleCache is gvm's cache folder:
//
//	<cache>/modules/sha256/<64 hex>   module bytes, named by their digest
//	<cache>/refs/<name>@<version>     the digest that name@version (as asked,
//	                                  URL-escaped; "latest" when blank) last resolved to
//	<cache>/wazero/                   wazero's compiled code
//
// Files are written atomically; bytes are checked against their name when
// read, and a file that does not match is removed and counts as a miss, so
// a damaged cache costs a fetch, never a wrong module.
type moduleCache struct{ dir string }

func (c *moduleCache) compileDir() string { return filepath.Join(c.dir, "wazero") }

// blobPath is the one place a path comes from a digest; it validates it.
func (c *moduleCache) blobPath(hash string) (string, bool) {
	hexPart, ok := strings.CutPrefix(hash, "sha256:")
	if !ok || len(hexPart) != 64 || strings.ToLower(hexPart) != hexPart {
		return "", false
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", false
	}
	return filepath.Join(c.dir, "modules", "sha256", hexPart), true
}

// get returns the bytes of hash, or false.
func (c *moduleCache) get(hash string) ([]byte, bool) {
	p, ok := c.blobPath(hash)
	if !ok {
		return nil, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	if digestOf(b) != hash {
		os.Remove(p)
		return nil, false
	}
	return b, true
}

// put stores b under its digest. A failure only costs a later fetch, so
// callers may ignore it.
func (c *moduleCache) put(b []byte) error {
	p, _ := c.blobPath(digestOf(b))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomicBytes(p, b, 0o444)
}

func (c *moduleCache) refPath(name, version string) string {
	if version == "" {
		version = "latest"
	}
	return filepath.Join(c.dir, "refs", name+"@"+url.PathEscape(version))
}

// ref is the digest name@version last resolved to, or "".
func (c *moduleCache) ref(name, version string) string {
	b, err := os.ReadFile(c.refPath(name, version))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (c *moduleCache) setRef(name, version, hash string) error {
	p := c.refPath(name, version)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomicBytes(p, []byte(hash+"\n"), 0o644)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("sha256:%x", sum)
}
