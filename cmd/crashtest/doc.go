// Package crashtest holds GPMD's kill -9 campaign (make crashtest): it
// starts the real daemon, runs concurrent uploads, gets and removes through
// the real CLI, kills the daemon with SIGKILL at a random moment, restarts
// it and checks that nothing acknowledged was lost:
//
//   - every upload the client saw succeed is there, with its digest and
//     size, unless a remove of it was under way at the kill;
//   - no file under blobs/ is partial: each one hashes to its name;
//   - ghost.modules.json parses and equals the index;
//   - leftovers of interrupted writes are gone (ingest/ is empty);
//   - gpmd verify exits 0.
//
// go test ./cmd/crashtest runs a few rounds; make crashtest runs 100
// (-rounds N for more). It prints rounds, uploads acknowledged, uploads
// checked and problems found.
package crashtest
