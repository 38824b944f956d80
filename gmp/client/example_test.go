package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// A GVM's life with GPMD: a real server on a loopback port, backed by a
// module repository in a temporary folder, and a client that says hello,
// registers its node, discovers the others, fetches a module and asks for
// a node that is not there.
func Example() {
	ctx := context.Background()

	// The daemon's side (gpmd does this with its flags).
	dir, err := os.MkdirTemp("", "gmp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	modules, err := repo.Open(ctx, dir, repo.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer modules.Close()
	tiny := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	if _, err := modules.Upload(ctx, index.MustRef("tiny", "v0.0.1"), bytes.NewReader(tiny), ""); err != nil {
		log.Fatal(err)
	}
	srv := gmp.NewServer(gmp.Config{Modules: modules, ServerName: "gpmd/example"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	// The GVM's side.
	c, err := client.Dial(ctx, l.Addr().String(), client.ClientOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // ends the registration too

	w, err := c.Hello(ctx, "gvm/example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("welcome from", w.Server, "speaking GMP", w.Version)

	me, err := c.Register(ctx, "node-1", "a1", 40001, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("registered %s at %s:%d\n", me.Name, me.Address, me.Port)

	names, err := c.Discover(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("nodes:", names)

	info, wasm, err := c.ModuleBytes(ctx, "tiny", "") // "" is the latest
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("module %s %s: %d bytes, %s, verified: % x\n", info.Name, info.Version, info.Size, info.Hash, wasm)

	_, err = c.Connect(ctx, "node-2")
	fmt.Println("node-2 live:", !errors.Is(err, client.ErrNotFound))

	// Output:
	// welcome from gpmd/example speaking GMP 1
	// registered node-1 at 127.0.0.1:40001
	// nodes: [node-1]
	// module tiny v0.0.1: 8 bytes, sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476, verified: 00 61 73 6d 01 00 00 00
	// node-2 live: false
}

// Registration errors are typed: a name that is live elsewhere is denied
// with name_taken.
func ExampleDeniedError() {
	ctx := context.Background()
	srv := gmp.NewServer(gmp.Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	first, err := client.Dial(ctx, l.Addr().String(), client.ClientOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	second, err := client.Dial(ctx, l.Addr().String(), client.ClientOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer second.Close()

	if _, err := first.Register(ctx, "node-1", "a1", 40001, true); err != nil {
		log.Fatal(err)
	}
	_, err = second.Register(ctx, "node-1", "b2", 40002, true)
	var denied *client.DeniedError
	if errors.As(err, &denied) {
		fmt.Println("denied:", denied.Code)
	}
	// Output: denied: name_taken
}
