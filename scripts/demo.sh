#!/usr/bin/env bash
# berth in one minute: builds berth-runtime, makes a busybox bundle and runs it with
# `berth-runtime --explain run`, which prints every kernel step the runtime takes while
# the container shows what it sees: pid 1, its own hostname, its own mounts, its id.
# Run as root on a fresh machine; it installs busybox-static if it is missing and
# removes everything it made when it ends.
#
# Usage: scripts/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [[ $(id -u) != 0 ]]; then
    echo "demo.sh: run as root (containers need namespaces, mounts and cgroups)" >&2
    exit 1
fi

linkage=$(ldd /bin/busybox 2>&1 || true)
if [[ $linkage != *"not a dynamic executable"* ]]; then
    echo "demo.sh: installing Debian's busybox-static"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq busybox-static >/dev/null
fi

echo "demo.sh: building berth-runtime (release)"
cargo build --release --locked -p berth-runtime --bin berth-runtime
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
rt=$target/release/berth-runtime

tmp=$(mktemp -d /tmp/berth-demo.XXXXXX)
id=berth-demo-$$
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    "$rt" --root "$tmp/state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# What the container runs: everything it prints is its own view of the machine.
read -r -d '' inside <<'EOF' || true
echo "--- inside the container ---"
echo "my pid:       $$"
echo "processes:"; ps -o pid,user,comm
echo "hostname:     $(hostname)"
echo "id:           $(id)"
echo "root dir:     $(ls / | tr '\n' ' ')"
echo "mounts:"; awk '{ print "  " $2 "  (" $3 ")" }' /proc/self/mounts
echo "--- end of container ---"
EOF
BUNDLE_HOSTNAME=berth-demo bash scripts/busybox-bundle.sh "$tmp/bundle" "$rt" /bin/sh -c "$inside"

echo
echo "--- on the host ---"
echo "my pid:       $$"
echo "hostname:     $(hostname)"
echo "id:           $(id)"
echo "mounts:       $(wc -l </proc/self/mounts) of them"
echo
echo "\$ berth-runtime --root $tmp/state --explain run --bundle $tmp/bundle $id"
rc=0
"$rt" --root "$tmp/state" --explain run --bundle "$tmp/bundle" "$id" || rc=$?
echo
echo "demo.sh: the container exited with status $rc"
exit "$rc"
