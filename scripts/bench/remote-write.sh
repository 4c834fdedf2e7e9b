#!/usr/bin/env bash
# tally vs Prometheus as remote_write receivers, same data, same run.
set -euo pipefail
T=${T:-target/release/tally}; OUT=${OUT:-bench-out/remote-write}; mkdir -p "$OUT"
SERIES=${SERIES:-10000}; SPAN=${SPAN:-6h}; C=${C:-4}; DUR=${DUR:-20}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 400); do curl -sf "http://127.0.0.1:$1/-/ready" >/dev/null && return 0; sleep 0.05; done; return 1; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
DATA=$(mktemp -d)
TP=$(free_port); "$T" serve --listen 127.0.0.1:$TP --data-dir "$DATA/tally" --retention 0 2>"$OUT/tally-serve.log" & TPID=$!
PP=$(free_port)
printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' > "$DATA/prom.yml"
/usr/bin/prometheus --config.file="$DATA/prom.yml" --storage.tsdb.path="$DATA/prom" \
  --web.listen-address=127.0.0.1:$PP --web.enable-remote-write-receiver --web.enable-admin-api \
  --storage.tsdb.retention.time=3650d 2>"$OUT/prometheus.log" & PPID2=$!
trap 'kill $TPID $PPID2 2>/dev/null; wait; rm -rf "$DATA"' EXIT
wait_ready $TP; wait_ready $PP
echo "rss before: tally $(rss $TPID) KiB, prometheus $(rss $PPID2) KiB" | tee "$OUT/rss.txt"
START=$(( $(date +%s%3N) - 6*3600*1000 ))
# 1. Fixed data set (SPAN of 15 s rounds over SERIES series), sent as fast as each takes it.
for p in tally prometheus; do
  if [ $p = tally ]; then port=$TP pid=$TPID; else port=$PP pid=$PPID2; fi
  "$T" bench remote-write --url "http://127.0.0.1:$port/api/v1/write" --series "$SERIES" --span "$SPAN" \
     --start-ms "$START" --concurrency "$C" --samples $(( SERIES * 1440 )) --server-pid $pid --json > "$OUT/$p-load.json"
  echo "$p rss after load: $(rss $pid) KiB" | tee -a "$OUT/rss.txt"
done
# 1b. Live load: LIVE more rounds continuing the series, at the real rate (one round per
# 15 s), to both receivers at once; then each one's resident memory at that steady state,
# after a minute without load (tally checkpoints at least once a minute).
LIVE=${LIVE:-8}
LSTART=$(( START + 1440 * 15000 ))
LPIDS=()
for p in tally prometheus; do
  if [ $p = tally ]; then port=$TP pid=$TPID; else port=$PP pid=$PPID2; fi
  "$T" bench remote-write --url "http://127.0.0.1:$port/api/v1/write" --series "$SERIES" \
     --start-ms "$LSTART" --concurrency 1 --rate $(( SERIES / 15 )) --samples $(( SERIES * LIVE )) \
     --server-pid $pid --json > "$OUT/$p-live.json" & LPIDS+=($!)
done
wait "${LPIDS[@]}"
sleep 65
echo "tally rss after live load: $(rss $TPID) KiB" | tee -a "$OUT/rss.txt"
echo "prometheus rss after live load: $(rss $PPID2) KiB" | tee -a "$OUT/rss.txt"
# 2. Bytes on disk. tally: stop it (final checkpoint), then tsdb stats.
kill -TERM $TPID; wait $TPID || true
"$T" tsdb stats --data-dir "$DATA/tally" > "$OUT/tally-stats.txt"
du -sb "$DATA/tally/tsdb" >> "$OUT/tally-stats.txt"
# Prometheus: a snapshot writes the head as blocks (chunks + index), the compacted form.
curl -s -XPOST "http://127.0.0.1:$PP/api/v1/admin/tsdb/snapshot" > "$OUT/prom-snapshot.json"
SNAP=$(python3 -c "import json;print(json.load(open('$OUT/prom-snapshot.json'))['data']['name'])")
du -sb "$DATA/prom/snapshots/$SNAP" > "$OUT/prom-disk.txt"
find "$DATA/prom/snapshots/$SNAP" -type f -printf '%s %p\n' >> "$OUT/prom-disk.txt"
du -sb "$DATA/prom" >> "$OUT/prom-disk.txt"
curl -s "http://127.0.0.1:$PP/api/v1/query?query=prometheus_tsdb_head_samples_appended_total" >> "$OUT/prom-disk.txt"
echo done
