#!/usr/bin/env bash
# Client metric benchmarks (issue 3): tally against prometheus, prometheus-client,
# metrics and autometrics, in one criterion run, started once the machine is quiet
# (the contended groups need both cores for their two threads).
#
#   scripts/bench/client.sh [CRITERION FILTER]     e.g. scripts/bench/client.sh contended
#
# Output, vmstat and the start time go to OUT (default bench-out/client).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p tally --bench metrics --no-run 2>&1 | tail -1
scripts/bench/quiet.sh "${OUT:-bench-out/client}" cargo bench -p tally --bench metrics -- "$@"
