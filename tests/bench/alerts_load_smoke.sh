#!/bin/sh
# bench.smoke_alerts_load: alerts_load sends 1,000 spans/s for 0.5 s and a marker span to a
# real `otel-preload dash` on a temporary store; every span it says it sent is in the store
# (decoded by the server: the hand-made protobuf is valid OTLP). Usage: alerts_load_smoke.sh
# ALERTS_LOAD OTEL_PRELOAD
set -eu
load=$1 bin=$2
tmp=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$tmp"' EXIT
mkdir -m 700 "$tmp/rt"
XDG_RUNTIME_DIR=$tmp/rt "$bin" dash --port 0 --grpc-port 0 --db "$tmp/store.db" 2>"$tmp/err" &
pid=$!
port=
for _ in $(seq 400); do
    [ -s "$tmp/rt/otel-preload/server" ] && port=$(cut -d' ' -f2 "$tmp/rt/otel-preload/server") && break
    sleep 0.05
done
[ -n "$port" ] || { echo "dash did not start:" >&2; cat "$tmp/err" >&2; exit 1; }
out=$("$load" "$port" 1000 0.5 bench-marker)
echo "$out"
echo "$out" | grep -q '^marker_sent_ns=[0-9]*$'
echo "$out" | grep -q '^result sent=501 late_batches=[0-9]* cpu_ms=[0-9]*$'
stored=$(python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
print(c.execute("SELECT count(*), count(DISTINCT span_id), sum(name = \"bench-marker\"), sum(name = \"cc1\") FROM spans").fetchone())' "$tmp/store.db")
echo "stored (spans, distinct ids, markers, cc1): $stored"
# 10 ticks of 50 spans over 16 names in order: cc1 is the 4th, 3 a tick (50 = 3 * 16 + 2)
[ "$stored" = "(501, 501, 1, 30)" ]
