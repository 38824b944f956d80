#!/usr/bin/env bash
# Builds the registry and oras command-line tools that the end-to-end tests,
# the interop tests and the benchmarks use, from source through the Go module
# proxy (never a prebuilt download), and caches them under
# ${GPMD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test}/bin.
# A tool already built at the pinned version is not rebuilt: a stamp file
# beside each binary records the module@version it came from.
#
# Usage: scripts/build-tools.sh        (prints the bin folder on the last line)
set -euo pipefail

GO=${GO:-go}
# Pinned versions: change them here and nowhere else (oci/ocitest reads the
# binaries this script leaves, not the versions).
REGISTRY_MOD=github.com/distribution/distribution/v3/cmd/registry@v3.1.2
ORAS_MOD=oras.land/oras/cmd/oras@v1.3.6

cache=${GPMD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test}
bin=$cache/bin
mkdir -p "$bin"

build() { # name module@version
	local name=$1 mod=$2 stamp="$bin/.$1.version"
	if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$mod" ]]; then
		echo "$name: cached ($mod)" >&2
		return
	fi
	echo "$name: go install $mod" >&2
	# Outside any module, so the project's go.mod does not steer the build;
	# GOFLAGS cleared so a caller's -mod=vendor cannot break it.
	(cd "$cache" && GOFLAGS= GOBIN="$bin" "$GO" install "$mod")
	echo "$mod" >"$stamp"
}

build registry "$REGISTRY_MOD"
build oras "$ORAS_MOD"
echo "$bin"
