// Package ocitest starts OCI registries for tests: the CNCF distribution
// registry in-process over httptest with in-memory storage (New), or the
// real `registry` binary on a loopback port with a temporary folder
// (StartBinary), and finds the `registry` and `oras` tools that
// scripts/build-tools.sh builds (Tool).
//
// Every registry listens on 127.0.0.1 only, on a port chosen at run time,
// and is stopped by t.Cleanup. A front handler (WithFront) sees every
// request before the registry does, so a test can count requests, answer
// 401, redirect blobs or tamper with bytes.
package ocitest
