#!/usr/bin/env bash
# berth's test command: builds the workspace, runs every unit and integration test on
# this host, then the runtime and engine tests again on pure cgroup v2 in a qemu guest
# (scripts/v2-guest/run.sh). Run it as root: the integration tests make real containers.
#
# Usage: scripts/test.sh [--no-guest]
#   --no-guest, or BERTH_TEST_NO_GUEST=1: skip the cgroup v2 guest (CI never does).
# Exits non-zero if any step fails; the last line counts the tests of all steps.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

guest=1
[[ ${BERTH_TEST_NO_GUEST:-0} == 1 ]] && guest=0
for arg in "$@"; do
    case $arg in
    --no-guest) guest=0 ;;
    *)
        echo "usage: scripts/test.sh [--no-guest]" >&2
        exit 2
        ;;
    esac
done

logs=$(mktemp -d "${TMPDIR:-/tmp}/berth-test-logs.XXXXXX")
trap 'rm -rf "$logs"' EXIT

locked=()
git ls-files --error-unmatch Cargo.lock >/dev/null 2>&1 && locked=(--locked)

[[ $(id -u) == 0 ]] || echo "test.sh: not root: the integration tests that need root will fail" >&2

declare -a summary=()
failed_steps=0
start_all=$(date +%s)

# step NAME COMMAND...: runs COMMAND with its output shown and kept in $logs/NAME.
step() {
    local name=$1 rc=0 t0
    shift
    t0=$(date +%s)
    echo "==> $name: $*"
    "$@" 2>&1 | tee "$logs/$name.log" || rc=${PIPESTATUS[0]}
    local secs=$(($(date +%s) - t0))
    if ((rc == 0)); then
        summary+=("ok      $name (${secs}s)")
    else
        summary+=("FAILED  $name (${secs}s, exit $rc)")
        failed_steps=$((failed_steps + 1))
    fi
    return "$rc"
}

built=1
step build cargo build --workspace --bins "${locked[@]}" || built=0
if ((built)); then
    # --no-fail-fast: one failing test executable must not hide the others' results.
    step host-tests cargo test --workspace --no-fail-fast "${locked[@]}" || true
    if ((guest)); then
        step v2-guest bash scripts/v2-guest/run.sh || true
    else
        summary+=("skipped v2-guest (--no-guest)")
    fi
fi
if command -v shellcheck >/dev/null; then
    shopt -s nullglob
    scripts=(scripts/*.sh scripts/v2-guest/*.sh scripts/v2-guest/init .ci/run bench/*.sh)
    shopt -u nullglob
    step shellcheck shellcheck -S warning "${scripts[@]}" || true
fi

# libtest's "test result: ok. 3 passed; 0 failed; 1 ignored; ..." lines, host and guest.
read -r passed failed ignored < <(
    cat "$logs"/*.log | tr -d '\r' |
        sed -n 's/.*test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' |
        awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}'
)
# A step that failed without a failing test (a build error, a crashed guest) still
# counts as a failure in the closing line.
if ((failed_steps > 0 && failed == 0)); then
    failed=$failed_steps
fi

echo
echo "==> summary ($(($(date +%s) - start_all))s)"
printf '  %s\n' "${summary[@]}"
echo "total: $passed passed, $failed failed, $ignored skipped"
((failed_steps == 0))
