#!/usr/bin/env bash
# Runs a command once the machine is quiet, logging vmstat beside it.
#
#   scripts/bench/quiet.sh OUT_DIR COMMAND [ARGS...]
#
# Waits (at most WAIT_MAX seconds, default 900) until the whole machine has used less
# than 0.3 cores for 10 s in a row, then runs COMMAND with `vmstat 5` logging to
# OUT_DIR/vmstat.log and COMMAND's output to OUT_DIR/output.log (and the terminal).
# OUT_DIR/run.txt records when it started, at which commit, after how long a wait.
# Build the benchmark before calling this, or the build is what runs on the quiet machine.
set -euo pipefail
out=$1; shift
WAIT_MAX=${WAIT_MAX:-900}
mkdir -p "$out"
busy() { # cores busy over the next second
    read -r a1 t1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 1
    read -r a2 t2 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    awk -v a=$((a2 - a1)) -v t=$((t2 - t1)) -v n="$(nproc)" 'BEGIN{printf "%.2f", t ? a / t * n : 0}'
}
quiet=0; waited=0
while ((quiet < 10)); do
    b=$(busy); waited=$((waited + 1))
    if awk -v b="$b" 'BEGIN{exit !(b < 0.3)}'; then quiet=$((quiet + 1)); else quiet=0; fi
    if ((waited >= WAIT_MAX)); then echo "machine not quiet after ${WAIT_MAX}s; running anyway" >&2; break; fi
done
echo "started $(date -u +%FT%TZ) at $(git rev-parse --short HEAD) after waiting ${waited}s" | tee "$out/run.txt"
vmstat 5 >"$out/vmstat.log" &
vm=$!
trap 'kill $vm 2>/dev/null' EXIT
"$@" 2>&1 | tee "$out/output.log"
