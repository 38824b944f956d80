#!/bin/sh
# Builds the nats-server binary that the fleet's end-to-end tests run as a
# real process (issue 13), from the same module version the in-process tests
# use (go.mod's github.com/nats-io/nats-server/v2), into the test cache:
#   ${GPMD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test}/bin/nats-server
# Prints the binary's path. Does nothing when the right version is there.
# Works offline once the module is in the Go module cache.
set -eu
cd "$(dirname "$0")/.."
go=${GO:-go}
mod=github.com/nats-io/nats-server/v2
version=$("$go" list -m -f '{{.Version}}' "$mod")
cache=${GPMD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test}
bin="$cache/bin"
if [ -x "$bin/nats-server" ] && "$bin/nats-server" --version 2>/dev/null | grep -q "$version\$"; then
	echo "$bin/nats-server"
	exit 0
fi
mkdir -p "$bin"
# go install pkg@version ignores this module's go.mod; GOFLAGS from the
# environment (say -mod=vendor) must not leak into it.
GOFLAGS= GOBIN="$bin" "$go" install "$mod@$version"
echo "$bin/nats-server"
