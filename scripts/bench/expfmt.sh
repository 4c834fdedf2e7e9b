#!/usr/bin/env bash
# Exposition parse and encode benchmarks (issue 2): tally against prometheus-parse and
# prometheus-client in one criterion run, started once the machine is quiet.
#
#   scripts/bench/expfmt.sh [CRITERION FILTER]
#
# Output, vmstat and the start time go to OUT (default bench-out/expfmt).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p tally-model --bench expfmt --no-run 2>&1 | tail -1
scripts/bench/quiet.sh "${OUT:-bench-out/expfmt}" cargo bench -p tally-model --bench expfmt -- "$@"
