#!/usr/bin/env bash
# tally vs Prometheus 2.42: PromQL query latency over the same data, same run (issue 6).
# Loads 1 h of 10,000 series (15 s interval, ending 5 min before now) into both through
# remote_write, then times instant and range queries alternately against both servers.
# Builds nothing: uses target/release/tally (cargo build --release -p tally-cli).
set -euo pipefail
T=${T:-target/release/tally}; OUT=${OUT:-bench-out/query}; mkdir -p "$OUT"
SERIES=${SERIES:-10000}; N=${N:-15}; STEP=${STEP:-60}
PERF_QUERY=${PERF_QUERY:-}   # optional: name of a query to profile tally on (perf record)
PERF_CALLGRAPH=${PERF_CALLGRAPH:--g}   # perf's call-graph option; release builds have no frame pointers: try "--call-graph dwarf"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 400); do curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return 0; sleep 0.05; done; return 1; }
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
vmstat 1 > "$OUT/vmstat.txt" & PIDS+=($!)
TP=$(free_port); "$T" serve --listen 127.0.0.1:$TP --data-dir "$DATA/tally" --retention 0 2>"$OUT/tally-serve.log" & TPID=$!; PIDS+=($TPID)
PP=$(free_port)
printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' > "$DATA/prom.yml"
/usr/bin/prometheus --config.file="$DATA/prom.yml" --storage.tsdb.path="$DATA/prom" \
  --web.listen-address=127.0.0.1:$PP --web.enable-remote-write-receiver \
  --storage.tsdb.retention.time=3650d 2>"$OUT/prometheus.log" & PPID2=$!; PIDS+=($PPID2)
wait_ready $TP; wait_ready $PP
# 1 h of data (240 rounds of 15 s) ending 5 min before now.
START_MS=$(( ( $(date +%s) - 3900 ) * 1000 ))
for p in tally prometheus; do
  if [ $p = tally ]; then port=$TP pid=$TPID; else port=$PP pid=$PPID2; fi
  "$T" bench remote-write --url "http://127.0.0.1:$port/api/v1/write" --series "$SERIES" --span 1h \
     --interval 15s --samples $(( SERIES * 240 )) --start-ms "$START_MS" --server-pid $pid --json > "$OUT/$p-load.json"
done
S=$(( START_MS / 1000 )); E=$(( S + 3585 ))   # first and last sample times
# rate_8200: every counter whose label sets stay distinct once rate() drops the name
# (8,200 of the 10,000 series; rate over all of them would fail in both with duplicate
# label sets). name | expression (each is run as an instant query at E and as a range query S..E, step STEP)
QUERIES=(
  'rate_8200|rate({__name__=~"http_request_duration_seconds_(bucket|count)|http_requests_total|node_cpu_seconds_total|node_network_receive_bytes_total|node_context_switches_total"}[5m])'
  'rate_counter|rate(http_requests_total[5m])'
  'sum_by|sum by (code) (rate(http_requests_total[5m]))'
  'hist_quantile|histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'
  'topk|topk(10, process_resident_memory_bytes)'
  'regex|http_request_duration_seconds_bucket{instance=~"host-000[12].*"}'
)
args() { # kind expr -> curl arguments
  if [ "$1" = instant ]; then echo "/api/v1/query" "time=$E"; else echo "/api/v1/query_range" "start=$S&end=$E&step=$STEP"; fi
}
run() { # port kind expr outfile -> seconds
  read -r path params < <(args "$2" "$3")
  curl -s -o "$4" -w '%{time_total}' -G "http://127.0.0.1:$1$path" --data-urlencode "query=$3" --data "$params"
}
: > "$OUT/times.tsv"; : > "$OUT/checks.txt"
QLINE=$(wc -l < "$OUT/vmstat.txt")   # vmstat lines before the queries
for q in "${QUERIES[@]}"; do
  name=${q%%|*}; expr=${q#*|}
  for kind in instant range; do
    # warm-up: keep the answers and check them
    for p in tally prometheus; do
      port=$TP; [ $p = prometheus ] && port=$PP
      run $port $kind "$expr" "$DATA/$p.json" >/dev/null
    done
    python3 - "$name" "$kind" "$DATA/tally.json" "$DATA/prometheus.json" >> "$OUT/checks.txt" <<'PY'
import json, sys
name, kind, a, b = sys.argv[1:]
res = []
for f in (a, b):
    d = json.load(open(f))
    assert d["status"] == "success", (name, kind, f, d)
    r = d["data"]["result"]
    res.append((len(r), sum(len(s.get("values", [])) or 1 for s in r)))
ok = res[0] == res[1]
print(f"{name}\t{kind}\ttally {res[0][0]} series {res[0][1]} points\tprometheus {res[1][0]} series {res[1][1]} points\t{'same' if ok else 'DIFFERENT'}")
PY
    for i in $(seq "$N"); do
      # alternate which server goes first so drift in machine load hits both alike
      if (( i % 2 )); then order="tally prometheus"; else order="prometheus tally"; fi
      for p in $order; do
        port=$TP; [ $p = prometheus ] && port=$PP
        printf '%s\t%s\t%s\t%s\n' "$name" "$kind" "$p" "$(run $port $kind "$expr" /dev/null)" >> "$OUT/times.tsv"
      done
    done
    if [ "$PERF_QUERY" = "$name/$kind" ]; then
      perf record -F 499 $PERF_CALLGRAPH -p $TPID -o "$OUT/perf.data" 2>"$OUT/perf.log" & PERFPID=$!
      sleep 0.5
      for i in $(seq 10); do run $TP $kind "$expr" /dev/null >/dev/null; done
      kill -INT $PERFPID; wait $PERFPID || true
      perf report -i "$OUT/perf.data" --no-children --stdio --percent-limit 1.5 2>/dev/null | grep -v '^$' | head -150 > "$OUT/perf.txt" || true
    fi
  done
done
cat "$OUT/checks.txt"
python3 - "$OUT/times.tsv" <<'PY' | tee "$OUT/table.md"
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    n, k, p, t = line.split("\t")
    rows.setdefault((n, k), {}).setdefault(p, []).append(float(t) * 1000)
def p90(xs):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
print("| query | kind | tally median ms | tally p90 ms | Prometheus median ms | Prometheus p90 ms | tally / Prometheus |")
print("|---|---|---:|---:|---:|---:|---:|")
for (n, k), d in rows.items():
    t, p = d["tally"], d["prometheus"]
    mt, mp = statistics.median(t), statistics.median(p)
    print(f"| {n} | {k} | {mt:.1f} | {p90(t):.1f} | {mp:.1f} | {p90(p):.1f} | {mt / mp:.2f}x |")
PY
kill $TPID $PPID2 2>/dev/null || true
sleep 1
idle() { awk -v from="$1" -v what="$2" 'NR>3 && NR>from && $15 ~ /^[0-9]+$/ {n++; id+=$15; us+=$13; sy+=$14}
  END {printf "vmstat, %s (%d s): idle %.0f%%, user %.0f%%, system %.0f%%\n", what, n, id/n, us/n, sy/n}' "$OUT/vmstat.txt"; }
{ idle 0 "whole run"; idle "$QLINE" "queries only"; } | tee "$OUT/idle.txt"
echo "done: $OUT"
