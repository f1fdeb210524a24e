#!/usr/bin/env bash
# Fetches Debian's cloud kernel for the cgroup v2 guest into a cache directory and
# prints that directory. It holds:
#   vmlinuz            the kernel image
#   version            the kernel release (uname -r inside the guest)
#   package            the Debian package and version it came from
#   modules/           lib/modules/<release> of the package, with modules.dep
#
# The kernel is downloaded with `apt-get download` (never installed on the host), so
# this needs apt's package lists: run `apt-get update` first on a fresh machine.
#
# Usage: kernel.sh [CACHE_DIR]   (default: $BERTH_GUEST_CACHE or <repo>/target/v2-guest)
# Set BERTH_GUEST_REFRESH=1 to download again even when a kernel is cached.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${1:-${BERTH_GUEST_CACHE:-$repo/target/v2-guest}}
kdir=$cache/kernel
meta=linux-image-cloud-amd64

if [[ -f $kdir/vmlinuz && -f $kdir/version && -f $kdir/modules/modules.dep \
      && ${BERTH_GUEST_REFRESH:-0} != 1 ]]; then
    echo "$kdir"
    exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/kernel-dl.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() {
    # The _apt sandbox user cannot write to our directory; we only download.
    if ! (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$1" >"$work/apt.log" 2>&1); then
        cat "$work/apt.log" >&2
        echo "kernel.sh: apt-get download $1 failed (run apt-get update first?)" >&2
        exit 1
    fi
}

fetch "$meta"
meta_deb=$(find "$work" -maxdepth 1 -name "${meta}_*.deb" | head -n1)
# Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
depends=$(dpkg-deb -f "$meta_deb" Depends)
first=${depends%%[,|]*}
pkg=$(awk '{print $1}' <<<"$first")
ver=$(sed -n 's/.*(= *\([^)]*\)).*/\1/p' <<<"$first")
if [[ -z $pkg || $pkg != linux-image-* ]]; then
    echo "kernel.sh: cannot tell the kernel package from $meta's Depends: $depends" >&2
    exit 1
fi
fetch "$pkg${ver:+=$ver}"
deb=$(find "$work" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
dpkg-deb -x "$deb" "$work/x"

release=$(ls "$work/x/lib/modules")
if [[ $(wc -w <<<"$release") != 1 ]]; then
    echo "kernel.sh: expected one kernel release in $deb, found: $release" >&2
    exit 1
fi
# Debian's postinst would run depmod; busybox's does the same for our copy.
busybox depmod -b "$work/x" "$release"

new=$work/kernel
mkdir -p "$new"
cp "$work/x/boot/vmlinuz-$release" "$new/vmlinuz"
cp "$work/x/boot/config-$release" "$new/config"
mv "$work/x/lib/modules/$release" "$new/modules"
echo "$release" >"$new/version"
echo "$pkg $ver" >"$new/package"
rm -rf "$kdir"
mv "$new" "$kdir"
echo "$kdir"
