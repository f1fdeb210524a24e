#!/usr/bin/env bash
# Makes an OCI bundle whose root filesystem is Debian's static busybox, for the demo
# and the benchmarks.
#
# Usage: scripts/busybox-bundle.sh BUNDLE_DIR SPEC_RUNTIME [ARG...]
#   SPEC_RUNTIME is the runtime whose `spec` command writes the default config.json
#   (berth-runtime or runc); the process gets ARG... (default: sh), no terminal.
#   BUNDLE_HOSTNAME sets the container's hostname.
set -euo pipefail

if (($# < 2)); then
    echo "usage: $0 BUNDLE_DIR SPEC_RUNTIME [ARG...]" >&2
    exit 2
fi
bundle=$1
runtime=$2
shift 2
(($# > 0)) || set -- sh

busybox=${BERTH_TEST_BUSYBOX:-/bin/busybox}
linkage=$(ldd "$busybox" 2>&1 || true)
if [[ $linkage != *"not a dynamic executable"* ]]; then
    echo "$busybox is not a static busybox: install Debian's busybox-static" >&2
    exit 1
fi

rootfs=$bundle/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp}
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

rm -f "$bundle/config.json"
(cd "$bundle" && "$runtime" spec)
python3 - "$bundle/config.json" "${BUNDLE_HOSTNAME:-}" "$@" <<'PY'
import json, sys
path, hostname, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path) as f:
    spec = json.load(f)
spec["process"]["terminal"] = False
spec["process"]["args"] = args
if hostname:
    spec["hostname"] = hostname
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
PY
