// Command ingest is the baseline of `gpmd wasm upload` in make bench-e2e:
// the smallest durable ingest of one file, run as a process per file. It
// reads FILE, hashes it with SHA-256 while writing it to a temporary file
// in DIR, fsyncs and closes that file, renames it to its hex digest and
// fsyncs DIR: the same durability as a blob commit of gpmd, with nothing
// else (no index, no mirror, no validation, no network).
//
//	ingest DIR FILE
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// bufSize is the copy buffer: large enough that the copy is not the cost.
const bufSize = 1 << 20

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ingest DIR FILE")
		os.Exit(2)
	}
	sum, err := ingest(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	fmt.Println("sha256:" + sum)
}

func ingest(dir, file string) (string, error) {
	src, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, ".ingest-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(tmp, h), src, make([]byte, bufSize)); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), filepath.Join(dir, sum)); err != nil {
		return "", err
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return sum, d.Sync()
}
