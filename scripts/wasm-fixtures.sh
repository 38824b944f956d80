#!/bin/sh
# Fetches the real WebAssembly modules that GPMD's tests use (issue 9) with
# `npm pack`, into a cache outside the repository, and extracts the .wasm
# files. Idempotent: a package already packed and extracted is not fetched
# again. Other projects' binaries are never committed to this repository.
#
# Cache: $GPMD_TEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test.
# Layout: <cache>/npm/<tarball>.tgz and <cache>/wasm/<file>.wasm, where
# internal/testutil/wasmtest (CacheDir, Real) finds them. A test that needs a
# file that is missing fails and names `make wasm-fixtures`.
set -eu

# Pinned versions: the tests compare exact import/export lists with node's,
# so a new upstream release must not change them behind our back.
PACKAGES="
sql.js@1.17.0 package/dist/sql-wasm.wasm sql-wasm.wasm
esbuild-wasm@0.28.2 package/esbuild.wasm esbuild.wasm
@ffmpeg/core@0.12.10 package/dist/esm/ffmpeg-core.wasm ffmpeg-core.wasm
"

cache=${GPMD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test}
mkdir -p "$cache/npm" "$cache/wasm"

echo "$PACKAGES" | while read -r spec member out; do
	[ -n "$spec" ] || continue
	if [ -s "$cache/wasm/$out" ]; then
		continue
	fi
	# npm pack prints the tarball's file name on its last line.
	tgz=$(cd "$cache/npm" && npm pack --silent "$spec" | tail -n 1)
	tmp=$(mktemp -d "$cache/wasm/.extract.XXXXXX")
	tar -xzf "$cache/npm/$tgz" -C "$tmp" "$member"
	# rename within one filesystem: the file appears whole or not at all.
	mv "$tmp/$member" "$cache/wasm/$out.tmp"
	mv "$cache/wasm/$out.tmp" "$cache/wasm/$out"
	rm -rf "$tmp"
	echo "wasm-fixtures: $spec -> $cache/wasm/$out"
done
