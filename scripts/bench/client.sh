#!/usr/bin/env bash
# Client metric benchmarks (issue 3): tally against prometheus, prometheus-client,
# metrics and autometrics, in one criterion run at real-time priority (rt.sh): the
# contended groups need both cores for their two threads.
#
#   scripts/bench/client.sh [CRITERION FILTER]     e.g. scripts/bench/client.sh contended
#
# Output, vmstat and the start time go to OUT (default bench-out/client).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/bench/rt.sh "${OUT:-bench-out/client}" tally metrics "$@"
