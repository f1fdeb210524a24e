#!/usr/bin/env bash
# Unpacking one large image layer: berth load against podman load and umoci unpack
# on the same archives, and against the floors `pigz -dc | tar -x` and
# `zstd -dc | tar -x`, in one run (hyperfine). The layer is a Debian minbase root
# filesystem (about 200 MB) made with debootstrap, once, and cached under
# target/bench/. Run as root; not part of the tests.
#
# Usage: bench/layer-unpack.sh [RUNS]     (default 3)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
runs=${1:-3}

[[ $(id -u) == 0 ]] || {
    echo "layer-unpack.sh: run as root (layers hold device nodes and other owners' files)" >&2
    exit 1
}
for tool in debootstrap hyperfine pigz zstd umoci podman python3; do
    command -v "$tool" >/dev/null || {
        echo "layer-unpack.sh: $tool is missing (apt-get install debootstrap hyperfine pigz zstd umoci podman)" >&2
        exit 1
    }
done

cargo build --release --locked -p berth --bin berth
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
berth=$target/release/berth

cache=$target/bench/layer
mkdir -p "$cache"
if [[ ! -f $cache/rootfs.tar ]]; then
    echo "layer-unpack.sh: debootstrap --variant=minbase (once; cached in $cache)"
    rm -rf "$cache/rootfs"
    debootstrap --variant=minbase stable "$cache/rootfs" >"$cache/debootstrap.log" 2>&1 || {
        tail -20 "$cache/debootstrap.log" >&2
        exit 1
    }
    tar -C "$cache/rootfs" --numeric-owner --xattrs -cf "$cache/rootfs.tar.tmp" .
    mv "$cache/rootfs.tar.tmp" "$cache/rootfs.tar"
    rm -rf "$cache/rootfs"
fi
[[ -f $cache/rootfs.tar.gz ]] || pigz -c "$cache/rootfs.tar" >"$cache/rootfs.tar.gz"
[[ -f $cache/rootfs.tar.zst ]] || zstd -q -T0 -c "$cache/rootfs.tar" >"$cache/rootfs.tar.zst"

# One OCI image archive per compression, the layer as it is: the same bytes for
# every tool.
make_archive() { # LAYER MEDIATYPE OUT.tar
    python3 - "$@" <<'PY'
import hashlib, io, json, sys, tarfile
layer, media, out = sys.argv[1:4]
raw = open(layer, "rb").read()
diff = hashlib.sha256(open(sys.argv[1].rsplit(".", 1)[0], "rb").read()).hexdigest()
def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest(), data
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode()
cdig, _ = blob(config)
ldig = "sha256:" + hashlib.sha256(raw).hexdigest()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": len(config)},
    "layers": [{"mediaType": media, "digest": ldig, "size": len(raw)}]}).encode()
mdig, _ = blob(manifest)
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": mdig, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bench:latest"}}]}).encode()
with tarfile.open(out, "w") as t:
    def add(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", index)
    for d, data in ((cdig, config), (mdig, manifest)):
        add("blobs/sha256/" + d.split(":")[1], data)
    add("blobs/sha256/" + ldig.split(":")[1], raw)
PY
}
[[ -f $cache/gzip.oci.tar ]] || make_archive "$cache/rootfs.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip "$cache/gzip.oci.tar"
[[ -f $cache/zstd.oci.tar ]] || make_archive "$cache/rootfs.tar.zst" application/vnd.oci.image.layer.v1.tar+zstd "$cache/zstd.oci.tar"

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-layer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/oci"

for c in gzip zstd; do
    tool=pigz
    [[ $c == zstd ]] && tool=zstd
    layer=$cache/rootfs.tar.gz
    [[ $c == zstd ]] && layer=$cache/rootfs.tar.zst
    # umoci reads an OCI layout directory; Debian's umoci (0.4) knows no zstd layers.
    umoci=()
    if [[ $c == gzip ]]; then
        umoci=(-n "umoci unpack" "umoci unpack --image $work/oci/$c:bench:latest $work/umoci")
    fi
    rm -rf "$work/oci/$c" && mkdir -p "$work/oci/$c" && tar -C "$work/oci/$c" -xf "$cache/$c.oci.tar"
    echo
    echo "==> one $(du -h "$cache/rootfs.tar" | cut -f1) layer, $c"
    hyperfine --runs "$runs" --warmup 1 \
        --prepare "rm -rf $work/floor $work/berth $work/podman $work/umoci; mkdir -p $work/floor" \
        -n "floor: $tool -dc | tar -x" "$tool -dc $layer | tar -C $work/floor -x" \
        -n "berth load" "$berth --root $work/berth load -q -i $cache/$c.oci.tar" \
        -n "podman load" "podman --root $work/podman --runroot $work/podman-run --storage-driver vfs load -q -i $cache/$c.oci.tar" \
        "${umoci[@]}" \
        --export-json "$work/$c.json"
    python3 - "$work/$c.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
floor = next(v for k, v in r.items() if k.startswith("floor"))
for k, v in r.items():
    print(f"ratio {k} / floor: {v / floor:.2f}")
PY
done
rm -rf "$work/podman-run"
