#!/usr/bin/env bash
# make verify-unit: systemd-analyze verify on packaging/systemd/gpmd.service,
# with ExecStart pointed at the gpmd-daemon just built (verify checks that
# the program exists). Any word from systemd-analyze fails the check: it only
# warns (exit 0) about an unknown key or a value it ignores, which is a
# mistake in the unit all the same.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DAEMON_BIN:-bin/gpmd-daemon}
unit=packaging/systemd/gpmd.service
if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze is missing: install Debian's systemd package (apt-get install -y systemd)" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "$BIN is missing: make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/usr/local/bin/gpmd-daemon #ExecStart=$(realpath "$BIN") #" "$unit" >"$tmp/gpmd.service"
grep -q "^ExecStart=$(realpath "$BIN") start --foreground$" "$tmp/gpmd.service" || { echo "$unit: ExecStart is not /usr/local/bin/gpmd-daemon start --foreground" >&2; exit 1; }
out=$(systemd-analyze verify "$tmp/gpmd.service" 2>&1) || { echo "$out" >&2; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi
echo "systemd-analyze verify $unit: ok"
