#!/usr/bin/env bash
# Container start-up: berth-runtime against runc, in the same run, on the same bundle.
# Times `run` of a busybox container whose process is /bin/true (create, start, wait,
# delete) with hyperfine, prints the ratio, then one `--explain` run of berth-runtime
# to show where its time goes. Run as root. Not part of the tests.
#
# Usage: bench/runtime-start.sh [RUNS]     (default 50 runs after 5 warm-ups)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
runs=${1:-50}

if [[ $(id -u) != 0 ]]; then
    echo "runtime-start.sh: run as root" >&2
    exit 1
fi
for tool in runc hyperfine python3; do
    command -v "$tool" >/dev/null || {
        echo "runtime-start.sh: $tool is missing (apt-get install runc hyperfine)" >&2
        exit 1
    }
done

echo "runtime-start.sh: building berth-runtime (release)"
# The binary users get: fully static (glibc's crt-static, libseccomp's archive), which
# also spares the dynamic loader's work at every start. --target keeps the static
# flag off build scripts and proc macros.
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p berth-runtime --bin berth-runtime --target "$triple"
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
rt=$target/$triple/release/berth-runtime
runc=$(command -v runc)

tmp=$(mktemp -d /tmp/berth-bench.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    "$rt" --root "$tmp/r1" delete --force bench-berth >/dev/null 2>&1 || true
    "$runc" --root "$tmp/r2" delete --force bench-runc >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# runc's own default config, so that both runtimes get the reference input.
bash scripts/busybox-bundle.sh "$tmp/bundle" "$runc" /bin/true
berth=("$rt" --root "$tmp/r1" run -b "$tmp/bundle" bench-berth)
peer=("$runc" --root "$tmp/r2" run -b "$tmp/bundle" bench-runc)

# Both must work before their times mean anything.
"${berth[@]}" || { echo "runtime-start.sh: berth-runtime run failed" >&2; exit 1; }
"${peer[@]}" || { echo "runtime-start.sh: runc run failed" >&2; exit 1; }

echo "berth-runtime: $("$rt" --version 2>/dev/null | head -n1)"
echo "runc:          $("$runc" --version | head -n1)"
echo "kernel:        $(uname -r), $(nproc) cores"
hyperfine --warmup 5 -N --runs "$runs" --export-json "$tmp/hyperfine.json" \
    -n berth-runtime "${berth[*]}" \
    -n runc "${peer[*]}"

python3 - "$tmp/hyperfine.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, p = r["berth-runtime"], r["runc"]
print(f"berth-runtime: mean {b['mean']*1e3:.2f} ms, median {b['median']*1e3:.2f} ms")
print(f"runc:          mean {p['mean']*1e3:.2f} ms, median {p['median']*1e3:.2f} ms")
print(f"ratio berth/runc: {b['mean'] / p['mean']:.3f}")
PY

echo
echo "where berth-runtime's time goes (one run with --explain):"
"$rt" --root "$tmp/r1" --explain run -b "$tmp/bundle" bench-berth
