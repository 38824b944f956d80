//go:build !unix

package client

import "os"

// dupFile: not on this platform; uploads copy the file through the
// process instead.
func dupFile(f *os.File) (*os.File, bool) { return nil, false }
