#!/usr/bin/env bash
# Container start through the engine: `berth run --rm --network none IMG true`
# against `podman run --rm --network none IMG true` (podman with runc underneath) on
# the same busybox image, side by side in one run (hyperfine); the same on each
# engine's default network (berth's bridge, podman's netavark bridge); and the memory of
# berth's per-container monitor (PSS) against conmon's. Run as root; not part of the
# tests.
#
# Usage: bench/engine-run.sh [RUNS]     (default 30)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
runs=${1:-30}

[[ $(id -u) == 0 ]] || {
    echo "engine-run.sh: run as root" >&2
    exit 1
}
for tool in hyperfine podman runc python3; do
    command -v "$tool" >/dev/null || {
        echo "engine-run.sh: $tool is missing (apt-get install hyperfine podman runc)" >&2
        exit 1
    }
done

cargo build --release --locked -p berth --bin berth -p berth-runtime --bin berth-runtime
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
berth=$target/release/berth

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-engine-bench.XXXXXX")
# The bench's containers get a cgroup parent of their own, removed at the end.
export BERTH_CGROUP_PARENT=/berth-bench-$$
cleanup() {
    # Every container, and the default network's bridge with its rules.
    "$berth" --root "$work/berth" --state "$work/berth-state" system reset -f >/dev/null 2>&1 || true
    podman "${pod[@]}" rm -af >/dev/null 2>&1 || true
    podman "${pod[@]}" system reset -f >/dev/null 2>&1 || true
    grep " $work" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    local cg
    for cg in /sys/fs/cgroup/*"$BERTH_CGROUP_PARENT" /sys/fs/cgroup"$BERTH_CGROUP_PARENT"; do
        if [[ -d $cg ]]; then rmdir "$cg" 2>/dev/null || true; fi
    done
    # conmons of removed containers may still be writing their last files.
    local i
    for i in 1 2 3 4 5; do
        rm -rf "$work" 2>/dev/null && break
        sleep 0.5
    done
}
trap cleanup EXIT

# One busybox root filesystem, imported into both engines.
bash scripts/busybox-bundle.sh "$work/bundle" runc >/dev/null
tar -C "$work/bundle/rootfs" -cf "$work/rootfs.tar" .
"$berth" --root "$work/berth" --state "$work/berth-state" import "$work/rootfs.tar" bench:latest >/dev/null
# podman in its own storage, cgroupfs, no events or network setup, runc as runtime.
cat >"$work/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
runtime = "runc"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
CONF
export CONTAINERS_CONF=$work/containers.conf
pod=(--root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs --tmpdir "$work/podman-tmp")
podman "${pod[@]}" import "$work/rootfs.tar" localhost/bench:latest >/dev/null

echo "==> run --rm --network none IMG true"
hyperfine -N --warmup 3 --runs "$runs" \
    -n berth "$berth --root $work/berth --state $work/berth-state run --rm --network none bench:latest true" \
    -n podman "podman ${pod[*]} run --rm --network none localhost/bench:latest true" \
    --export-json "$work/run.json"
python3 - "$work/run.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"berth: {r['berth']*1e3:.1f} ms, podman: {r['podman']*1e3:.1f} ms")
print(f"ratio berth/podman: {r['berth'] / r['podman']:.3f}")
PY

echo
# The default network against none, in both engines. Each start is spaced (prepare:
# 0.2 s idle) so the previous container's veth teardown, which both engines leave to
# the kernel's RCU grace periods, has finished and is not counted twice.
echo "==> run --rm IMG true: default network (bridge) vs --network none, spaced starts"
hyperfine -N --warmup 3 --runs "$runs" --prepare "sleep 0.2" \
    -n berth-none "$berth --root $work/berth --state $work/berth-state run --rm --network none bench:latest true" \
    -n berth-bridge "$berth --root $work/berth --state $work/berth-state run --rm bench:latest true" \
    -n podman-none "podman ${pod[*]} run --rm --network none localhost/bench:latest true" \
    -n podman-bridge "podman ${pod[*]} run --rm localhost/bench:latest true" \
    --export-json "$work/net.json"
python3 - "$work/net.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]}
b, p = r["berth-bridge"] - r["berth-none"], r["podman-bridge"] - r["podman-none"]
print(f"berth: none {r['berth-none']:.1f} ms, bridge {r['berth-bridge']:.1f} ms: the bridge adds {b:.1f} ms (goal: at most 5)")
print(f"podman: none {r['podman-none']:.1f} ms, bridge {r['podman-bridge']:.1f} ms: netavark adds {p:.1f} ms")
print(f"ratio berth/podman on the default network: {r['berth-bridge'] / r['podman-bridge']:.3f}")
PY

echo
echo "==> monitor memory: 10 running containers each"
pss() { # PID... -> average PSS in KiB
    local total=0 n=0 p kib
    for p in "$@"; do
        kib=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
        [[ -n $kib ]] || continue
        total=$((total + kib))
        n=$((n + 1))
    done
    ((n > 0)) || { echo "none"; return; }
    echo "$((total / n)) KiB PSS average over $n"
}
# Processes named NAME whose command line mentions this run's directory.
ours() { # NAME
    local p
    for p in $(pgrep -f -- "$1" || true); do
        grep -qF "$work" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
    done
}
for i in $(seq 10); do
    "$berth" --root "$work/berth" --state "$work/berth-state" run -d --network none --name "m$i" bench:latest sleep 300 >/dev/null
    podman "${pod[@]}" run -d --network none --name "p$i" localhost/bench:latest sleep 300 >/dev/null
done
mapfile -t monitors < <(ours __monitor)
mapfile -t conmons < <(ours conmon)
echo "berth monitor: $(pss "${monitors[@]}")"
echo "conmon:        $(pss "${conmons[@]}")"
