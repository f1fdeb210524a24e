#!/usr/bin/env bash
# Runs the OCI runtime-tools validation suite against runc and berth-runtime and
# prints one row per test program with its TAP counts, then the totals.
#
#   bench/conformance/run.sh SNAPSHOT [RUNTIME...]
#
# SNAPSHOT is a copy of github.com/opencontainers/runtime-tools that you already
# have: a bare git directory (as the search tool's fetch leaves it) or a checked-out
# tree. This script downloads nothing but Debian packages (golang-go); the suite is
# built offline from its vendor/ directory under $WORK (default /tmp/berth-conformance).
# RUNTIME defaults to "runc" and this checkout's berth-runtime (the more recently
# built of target/release and target/debug). Run as root. See README.md beside
# this script.
set -euo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 SNAPSHOT [RUNTIME...]"
[ "$(id -u)" = 0 ] || die "the suite creates containers: run it as root"
snapshot=$(readlink -f "$1"); shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${WORK:-/tmp/berth-conformance}
per_test_timeout=${TEST_TIMEOUT:-120}

command -v go >/dev/null || apt-get install -y golang-go >/dev/null
command -v runc >/dev/null || apt-get install -y runc >/dev/null

# runtime-tools moved to Go 1.21 (its go.mod, the stdlib slices package and
# moby/sys/capability) after 260e151; Debian bookworm ships Go 1.19. So with an
# older Go the suite is built at 260e151, the last commit that builds with 1.19:
# it has the same 58 validation programs. REV overrides the choice.
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ -z "${REV:-}" ]; then
    if [ "$go_minor" -ge 21 ]; then REV=HEAD; else REV=260e151; fi
fi

suite=$work/runtime-tools
rm -rf "$suite" && mkdir -p "$suite"
if git --git-dir="$snapshot" rev-parse --git-dir >/dev/null 2>&1; then
    git --git-dir="$snapshot" archive "$REV" | tar -x -C "$suite"
elif git -C "$snapshot" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$snapshot" archive "$REV" | tar -x -C "$suite"
else
    [ -f "$snapshot/Makefile" ] || die "$snapshot is neither a git directory nor a runtime-tools tree"
    cp -a "$snapshot/." "$suite/"
fi

echo "building runtime-tools ($REV) with $(go env GOVERSION), offline from vendor/" >&2
(
    cd "$suite"
    export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOCACHE=$work/gocache
    make runtimetest validation-executables >"$work/build.log" 2>&1
) || die "the suite did not build: see $work/build.log"

runtimes=("$@")
if [ ${#runtimes[@]} -eq 0 ]; then
    # The more recently built of release and debug.
    berth=$(ls -t "$repo"/target/release/berth-runtime "$repo"/target/debug/berth-runtime 2>/dev/null | head -n 1)
    [ -n "$berth" ] || die "no berth-runtime: cargo build -p berth-runtime first"
    runtimes=(runc "$berth")
fi

tests=$(cd "$suite" && ls validation/*/*.t | sort)
tmp=$work/tmp
mkdir -p "$tmp"

# Each runtime gets its own --root through a wrapper, so whatever a failing test
# leaves behind is found and removed without touching anyone else's containers.
run_suite() {
    local runtime=$1 name root wrapper out
    name=$(basename "$runtime")
    root=/run/berth-conformance/$name
    wrapper=$work/bin/$name
    out=$work/results/$name
    mkdir -p "$work/bin" "$out" "$root"
    printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$(command -v "$runtime")" "$root" >"$wrapper"
    chmod +x "$wrapper"
    for t in $tests; do
        local base rc=0
        base=$(basename "$t" .t)
        # The programs find runtimetest and rootfs-amd64.tar.gz in the working
        # directory, and make their bundles under TMPDIR.
        (cd "$suite" && TMPDIR=$tmp RUNTIME=$wrapper timeout -k 5 "$per_test_timeout" "./$t") \
            >"$out/$base.tap" 2>"$out/$base.err" || rc=$?
        echo "$rc" >"$out/$base.rc"
        for id in $("$wrapper" list -q 2>/dev/null); do
            "$wrapper" kill "$id" KILL >/dev/null 2>&1 || true
            "$wrapper" delete --force "$id" >/dev/null 2>&1 || true
        done
        cleanup
    done
    # Nothing runs there any more; berth-runtime keeps its seccomp cache there.
    rm -rf "$root"
}

# What a test can leave behind besides containers: mounts in bundles (runc mounts a
# config's mounts in the host's namespace when the config has no mount namespace,
# and never unmounts them), bundles, and the parents of the relative cgroup paths
# (testdir/cgrouptest/container: runtimes remove only the container's own).
cleanup() {
    local m d
    for m in $(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    # Never through a mount that is still there (a bind of a host directory).
    if ! awk -v t="$tmp/" 'index($5, t) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
        rm -rf --one-file-system "${tmp:?}"/* 2>/dev/null || true
    fi
    for d in /sys/fs/cgroup/*/testdir/cgrouptest /sys/fs/cgroup/testdir/cgrouptest \
        /sys/fs/cgroup/*/testdir /sys/fs/cgroup/testdir /sys/fs/cgroup/*/cgrouptest /sys/fs/cgroup/cgrouptest; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
}

# A test passes cleanly when the program exits 0 and prints no "not ok" line (a
# skip is an "ok ... # skip" line), and either at least one "ok" line or no
# diagnostic at all: some programs print only a failure report (the hook tests
# print "1..0" alone when all is well; the *_fail tests print nothing when the
# runtime refused the config, and fail with exit 1 when it did not).
verdict() {
    local dir=$1 base=$2 ok notok rc diag
    ok=$(grep -cE '^ok ' "$dir/$base.tap" || true)
    notok=$(grep -cE '^not ok ' "$dir/$base.tap" || true)
    diag=$(grep -cE '^ *---$' "$dir/$base.tap" || true)
    rc=$(cat "$dir/$base.rc")
    s=FAIL
    if [ "$rc" = 0 ] && [ "$notok" = 0 ]; then
        if [ "$ok" -gt 0 ] || [ "$diag" = 0 ]; then s=pass; fi
    fi
    [ "$rc" = 124 ] && s=TIMEOUT
    printf '%s %s/%s rc=%s' "$s" "$ok" "$((ok + notok))" "$rc"
}

for r in "${runtimes[@]}"; do
    echo "running the suite against $r" >&2
    run_suite "$r"
done

{
    printf '%-36s' test
    for r in "${runtimes[@]}"; do printf ' | %-24s' "$(basename "$r")"; done
    printf '\n'
    for t in $tests; do
        base=$(basename "$t" .t)
        printf '%-36s' "$base"
        for r in "${runtimes[@]}"; do
            printf ' | %-24s' "$(verdict "$work/results/$(basename "$r")" "$base")"
        done
        printf '\n'
    done
    printf '%-36s' "passed cleanly"
    for r in "${runtimes[@]}"; do
        n=0
        for t in $tests; do
            v=$(verdict "$work/results/$(basename "$r")" "$(basename "$t" .t)")
            [ "${v%% *}" = pass ] && n=$((n + 1))
        done
        printf ' | %-24s' "$n of $(echo "$tests" | wc -w)"
    done
    printf '\n'
    # The stricter count: a clean pass with at least one "ok" line (leaves out the
    # programs that report success by printing nothing).
    printf '%-36s' "  of which with an ok line"
    for r in "${runtimes[@]}"; do
        n=0
        for t in $tests; do
            v=$(verdict "$work/results/$(basename "$r")" "$(basename "$t" .t)")
            case "$v" in pass\ 0/*) ;; pass*) n=$((n + 1)) ;; esac
        done
        printf ' | %-24s' "$n"
    done
    printf '\n'
} | tee "$work/table.txt"
echo "TAP output and stderr per test: $work/results/<runtime>/<test>.{tap,err}" >&2
