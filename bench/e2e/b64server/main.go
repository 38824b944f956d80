// Command b64server is the baseline of the GMP MODULE fetch in make
// bench-e2e: a TCP server on 127.0.0.1 that answers every line it reads
// with a reply of MODULE's shape (GMP.md: the envelope, name, version,
// hash and size, then the module base64-encoded in "binary") written from
// memory: no file, no digest check. It prints its address on its first
// line of output and serves until killed.
//
//	b64server FILE
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
)

// writeBuffer is the socket writer's buffer, as gmp/bench_test.go's
// base64Server.
const writeBuffer = 64 << 10

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: b64server FILE")
		os.Exit(2)
	}
	module, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "b64server:", err)
		os.Exit(1)
	}
	sum := sha256.Sum256(module)
	prefix := `{"type":2,"code":2,"id":1,"body":{"name":"bench","version":"1.0.0","hash":"sha256:` +
		hex.EncodeToString(sum[:]) + `","size":` + strconv.Itoa(len(module)) + `,"binary":"`
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "b64server:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "b64server:", err)
			os.Exit(1)
		}
		go serve(c, prefix, module)
	}
}

func serve(c net.Conn, prefix string, module []byte) {
	defer c.Close()
	br := bufio.NewReader(c)
	bw := bufio.NewWriterSize(c, writeBuffer)
	for {
		if _, err := br.ReadSlice('\n'); err != nil {
			return
		}
		bw.WriteString(prefix)
		enc := base64.NewEncoder(base64.StdEncoding, bw)
		enc.Write(module)
		enc.Close()
		bw.WriteString("\"}}\n")
		if bw.Flush() != nil {
			return
		}
	}
}
