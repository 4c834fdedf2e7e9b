#!/usr/bin/env bash
# Exposition parse and encode benchmarks (issue 2): tally against prometheus-parse and
# prometheus-client in one criterion run at real-time priority (rt.sh).
#
#   scripts/bench/expfmt.sh [CRITERION FILTER]
#
# Output, vmstat and the start time go to OUT (default bench-out/expfmt).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/bench/rt.sh "${OUT:-bench-out/expfmt}" tally-model expfmt "$@"
