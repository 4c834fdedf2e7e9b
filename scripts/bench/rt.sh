#!/usr/bin/env bash
# Runs a criterion bench binary at real-time priority (SCHED_FIFO 20) when allowed, so
# that other work on the machine cannot take its cores (on a 2-core machine the
# contended client groups need both); otherwise waits for a quiet machine (quiet.sh).
# The kernel's real-time throttling (sched_rt_runtime_us, 95 % by default) still leaves
# the rest of the system a share of every second.
#
#   scripts/bench/rt.sh OUT_DIR PACKAGE BENCH [CRITERION ARGS...]
#
# Logs vmstat, the output and the start time/commit to OUT_DIR.
set -euo pipefail
out=$1 pkg=$2 bench=$3; shift 3
cd "$(dirname "$0")/../.."
bin=$(cargo bench -p "$pkg" --bench "$bench" --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bin" ] || { echo "rt.sh: no bench binary for $pkg/$bench" >&2; exit 2; }
if chrt -f 20 true 2>/dev/null; then
    mkdir -p "$out"
    echo "started $(date -u +%FT%TZ) at $(git rev-parse --short HEAD), SCHED_FIFO 20" | tee "$out/run.txt"
    vmstat 5 >"$out/vmstat.log" &
    vm=$!
    trap 'kill $vm 2>/dev/null' EXIT
    chrt -f 20 "$bin" --bench "$@" 2>&1 | tee "$out/output.log"
else
    echo "rt.sh: real-time priority not allowed here; waiting for a quiet machine" >&2
    scripts/bench/quiet.sh "$out" "$bin" --bench "$@"
fi
