package main

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are the packages the gpmd command line must not link (issue 15):
// each costs its package initialisation on every command's start, and Go
// has no lazy init. They belong to the engine, which gpmd-daemon links.
var heavy = []string{
	"oras.land/",
	"github.com/prometheus/",
	"github.com/nats-io/",
	"github.com/tetratelabs/wazero",
	"github.com/Masterminds/semver",
	"github.com/opencontainers/go-digest",
	"go.etcd.io/bbolt",
	"encoding/gob",
	"google.golang.org/protobuf/",
	// The control API's client speaks HTTP/1.1 through internal/h1:
	// net/http's init (hpack tables, godebug settings, TLS) alone took
	// the start-up's whole budget.
	"net/http",
	"crypto/tls",
	"vendor/golang.org/x/net/http2/hpack",
}

// TestLightDependencies fails when cmd/gpmd links a heavy package again,
// naming the chain of imports that pulls it in.
func TestLightDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ": ")
		imports[pkg] = strings.Fields(deps)
		order = append(order, pkg)
	}
	const root = "github.com/ghost-network/gpmd/cmd/gpmd"
	if _, ok := imports[root]; !ok {
		t.Fatalf("go list gave no %s: %s", root, out)
	}
	for _, pkg := range order {
		if !isHeavy(pkg) {
			continue
		}
		t.Errorf("gpmd links %s: %s", pkg, strings.Join(chain(imports, root, pkg), " -> "))
	}
}

func isHeavy(pkg string) bool {
	for _, h := range heavy {
		if pkg == strings.TrimSuffix(h, "/") || strings.HasPrefix(pkg, h) {
			return true
		}
	}
	return false
}

// chain is a shortest import path from root to pkg (breadth first).
func chain(imports map[string][]string, root, pkg string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == pkg {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append([]string{p}, path...)
			}
			return path
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{root, "…", pkg}
}
