#!/usr/bin/env bash
# Runs berth's runtime and engine tests on a pure cgroup v2 Linux: boots Debian's cloud kernel
# under qemu (TCG, no network) with an initramfs holding busybox, the workspace's
# binaries, the test executables and their shared libraries, and exits with the status
# the tests had in the guest.
#
# Usage: scripts/v2-guest/run.sh
#
# Environment:
#   BERTH_GUEST_TESTS         workspace test targets to run, those that exist (default:
#                             "v2_guest_smoke runtime_lifecycle runtime_cgroups
#                              cgroups_host rootfs_host engine_run engine_lifecycle
#                              engine_network engine_init engine_reset")
#   BERTH_GUEST_TEST_ARGS     extra arguments for every test executable (e.g. a filter)
#   BERTH_GUEST_TIMEOUT       seconds before the whole guest counts as hung (1500)
#   BERTH_GUEST_TEST_TIMEOUT  seconds one test executable may take in the guest (600)
#   BERTH_GUEST_MODULES       kernel modules to load in the guest (default: overlay, brd
#                             for /dev/ram* block devices (io limits), and the bridge,
#                             veth and nftables modules of the engine's networks)
#   BERTH_GUEST_CACHE         where the kernel is cached (<repo>/target/v2-guest)
#   BERTH_GUEST_KEEP=1        keep the initramfs and serial log (path is printed)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$repo/scripts/v2-guest
tests=${BERTH_GUEST_TESTS:-v2_guest_smoke runtime_lifecycle runtime_cgroups cgroups_host rootfs_host engine_run engine_lifecycle engine_network engine_init engine_reset}
timeout_s=${BERTH_GUEST_TIMEOUT:-1500}
test_timeout_s=${BERTH_GUEST_TEST_TIMEOUT:-600}
# overlay: the engine's snapshots; brd: /dev/ram* for io limits; the rest: the engine's
# bridge network (bridge, veth) and its nftables rules (nat chains, masquerade, dnat,
# ct status, fib daddr type).
modules=${BERTH_GUEST_MODULES-overlay brd bridge veth nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_ipv4}
cache=${BERTH_GUEST_CACHE:-$repo/target/v2-guest}

log() { echo "v2-guest: $*" >&2; }
die() {
    log "$*"
    exit 1
}

for tool in qemu-system-x86_64 cpio busybox python3 ldd strip timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (.ci/run installs what the guest needs)"
done
linkage=$(ldd /bin/busybox 2>&1 || true)
[[ $linkage == *"not a dynamic executable"* ]] ||
    die "/bin/busybox must be the static one: install busybox-static"

mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
qemu_pid=
tail_pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    # Only the processes this script started, by pid.
    if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
    if [[ -n $tail_pid ]]; then kill "$tail_pid" 2>/dev/null || true; fi
    if [[ ${BERTH_GUEST_KEEP:-0} == 1 ]]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
# Interrupted or terminated: exit, so that the EXIT trap stops qemu.
trap 'exit 130' INT
trap 'exit 143' TERM

kernel=$("$here/kernel.sh" "$cache")
release=$(cat "$kernel/version")

locked=()
[[ -f $repo/Cargo.lock ]] && locked=(--locked)

# Workspace binaries and test executables, by the paths cargo reports.
log "building the binaries and test executables"
(cd "$repo" && cargo build --workspace --bins "${locked[@]}" --message-format=json-render-diagnostics) \
    >"$work/bins.json" || die "cargo build failed"
# --workspace, as scripts/test.sh runs them: with -p berth-tests alone, cargo would
# unify features differently and rebuild the dependencies.
(cd "$repo" && cargo test --workspace --no-run "${locked[@]}" --message-format=json-render-diagnostics) \
    >"$work/tests.json" || die "building the test executables failed"
python3 - "$work" "$tests" <<'PY'
import json, sys
work, wanted = sys.argv[1], sys.argv[2].split()
def artifacts(path, kind, manifest=None):
    for line in open(path):
        try:
            m = json.loads(line)
        except ValueError:
            continue
        t = m.get("target", {})
        if (m.get("reason") == "compiler-artifact" and m.get("executable")
                and kind in t.get("kind", [])
                and (manifest is None or m.get("manifest_path", "").endswith(manifest))):
            yield t["name"], m["executable"]
with open(f"{work}/bins.list", "w") as f:
    for name, exe in dict(artifacts(f"{work}/bins.json", "bin")).items():
        f.write(f"{name} {exe}\n")
# Any workspace test target by name; the tests/ package's end-to-end tests win a clash.
found = dict(artifacts(f"{work}/tests.json", "test"))
found.update(artifacts(f"{work}/tests.json", "test", "/tests/Cargo.toml"))
with open(f"{work}/tests.list", "w") as f:
    for name in wanted:
        if name in found:
            f.write(f"{name} {found[name]}\n")
PY
[[ -s $work/tests.list ]] || die "none of the test targets exist: $tests"
log "tests for the guest: $(awk '{printf "%s ", $1}' "$work/tests.list")"

# The initramfs tree.
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,run,berth/bin,berth/tests}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
echo berth-v2-guest >"$root/etc/hostname"

# Debug info makes the executables several times larger and only slows the boot.
while read -r name exe; do
    strip --strip-debug -o "$root/berth/bin/$name" "$exe"
done <"$work/bins.list"
# Numbered so that the guest runs them in the order of BERTH_GUEST_TESTS.
n=0
while read -r name exe; do
    n=$((n + 1))
    strip --strip-debug -o "$root/berth/tests/$(printf %02d "$n")-$name" "$exe"
done <"$work/tests.list"

# Host tools, where the host has them: runc, the peer some runtime tests compare
# berth-runtime with on the same bundle; nft, because the engine's firewall dlopens
# libnftables.so.1 (which ldd of berth cannot see) or runs `nft`, and nft links
# libnftables, so copying it brings the library along; script(1) from util-linux,
# which the engine tests use for a terminal (busybox's has no -e); iproute2's ip in
# busybox's place (the network tests use `ip netns`, `ip link show master`).
extras=()
for tool in /usr/bin/runc /usr/sbin/nft /usr/bin/script /bin/ip; do
    path=$(command -v "${tool##*/}" || true)
    [[ -n $path ]] || continue
    rm -f "$root$tool"
    cp -L "$path" "$root$tool"
    extras+=("$root$tool")
done

# Every shared library they load, at the path the dynamic loader looks for it.
for exe in "$root"/berth/bin/* "$root"/berth/tests/* "${extras[@]}"; do
    ldd "$exe" 2>/dev/null || true
done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
    while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done

# Kernel modules with their dependencies, in load order.
: >"$root/berth/modules.load"
for m in $modules; do
    line=$(grep -E "(^|/)$m\.ko:" "$kernel/modules/modules.dep" || true)
    [[ -n $line ]] || {
        grep -qE "/$m\.ko\$" "$kernel/modules/modules.builtin" ||
            die "module $m is neither in $release's modules nor built in"
        continue
    }
    # modules.dep: "mod.ko: dep1.ko dep2.ko"; dependencies load last-listed first.
    read -r -a deps <<<"${line#*:}"
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do echo "${deps[i]}"; done
    echo "${line%%:*}"
done | awk '!seen[$0]++' >"$root/berth/modules.load"
while read -r ko; do
    mkdir -p "$root/lib/modules/$release/$(dirname "$ko")"
    cp "$kernel/modules/$ko" "$root/lib/modules/$release/$ko"
done <"$root/berth/modules.load"

cat >"$root/berth/env" <<EOF
BERTH_GUEST_TEST_TIMEOUT=$test_timeout_s
BERTH_GUEST_TEST_ARGS='${BERTH_GUEST_TEST_ARGS:-}'
EOF
cp "$here/init" "$root/init"
cp "$here/guest.sh" "$root/berth/guest.sh"
chmod 0755 "$root/init" "$root/berth/guest.sh"

(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$work/initrd"
log "initramfs: $(du -h "$work/initrd" | cut -f1), kernel $release"

# Serial output without the firmware's terminal escapes and carriage returns.
clean() { sed "$@" -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r$//'; }

# The guest. TCG because KVM does not work on these machines; no network device.
serial=$work/serial.log
: >"$serial"
start=$(date +%s)
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg -cpu max -smp 2 -m 2G \
    -nographic -monitor none -serial "file:$serial" -no-reboot -nic none \
    -kernel "$kernel/vmlinuz" -initrd "$work/initrd" \
    -append "systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all console=ttyS0 panic=-1 quiet" \
    </dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
# Live guest output.
tail -n +1 -F --pid="$qemu_pid" "$serial" 2>/dev/null | clean -u &
tail_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
wait "$tail_pid" 2>/dev/null || true
tail_pid=
elapsed=$(($(date +%s) - start))

if [[ -s $work/qemu.out ]]; then
    log "qemu said:"
    cat "$work/qemu.out" >&2
fi
if ((qemu_rc == 124 || qemu_rc == 137)); then
    die "guest timed out after ${timeout_s}s"
fi
done_line=$(clean <"$serial" | grep -E '^BERTH-GUEST-DONE status=[0-9]+' | tail -n1 || true)
[[ -n $done_line ]] || die "guest stopped without a result (qemu exit $qemu_rc) after ${elapsed}s"

boot=$(clean <"$serial" | grep -E '^berth-guest: (kernel|tests done)' | sed 's/^/  /' || true)
echo "v2-guest summary (${elapsed}s in qemu):"
clean <"$serial" | grep -E '^BERTH-GUEST-RESULT' | sed 's/^/  /' || true
[[ -z $boot ]] || echo "$boot"
status=${done_line##*status=}
if [[ $status == 0 ]]; then
    echo "v2-guest: all tests passed on pure cgroup v2"
else
    echo "v2-guest: FAILED on pure cgroup v2"
fi
exit "$status"
