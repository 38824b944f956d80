package oci_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ghost-network/gpmd/oci"
)

// A daemon pulls a module into its store: the Sink is where repo.Upload
// plugs in. It must read r to EOF before it makes the module visible; r
// fails with ErrCorrupt instead of ending when the bytes do not match.
func ExampleClient_Pull() {
	c, err := oci.NewClient(oci.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	store := func(ctx context.Context, mod oci.Module, r io.Reader) error {
		n, err := io.Copy(io.Discard, r) // repo.Upload(ctx, mod.Ref, r, ...)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "stored %s@%s (%d bytes, %s)\n", mod.Name, mod.Version, n, mod.Digest)
		return nil
	}
	res, err := c.Pull(context.Background(), "registry.example.com/fleet/math:v1.2.0", oci.PullOptions{}, store)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(res.Name, res.Version)
}

// A daemon with `--registry REGISTRY/NAMESPACE` resolves a MODULE_REQUEST
// against its local versions and the registry's tags, and pulls when the
// answer is not held locally.
func ExampleUpstream_Resolve() {
	c, _ := oci.NewClient(oci.Options{})
	u, err := oci.NewUpstream(c, "registry.example.com/fleet", nil)
	if err != nil {
		return
	}
	ctx := context.Background()
	local := []oci.LocalVersion{{Version: "v1.0.0", Digest: "sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"}}
	res, err := u.Resolve(ctx, "math", "^1.0", local)
	if err != nil {
		return // ErrNotFound: neither here nor there; ErrInvalid: a bad query
	}
	if !res.Local {
		_, err = u.Fetch(ctx, res, func(ctx context.Context, mod oci.Module, r io.Reader) error {
			_, err := io.Copy(io.Discard, r) // repo.Upload
			return err
		})
	}
	_ = err
}
