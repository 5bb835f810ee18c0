#!/bin/sh
# export_smoke.sh: bench_export for one second each half, against an
# otlp_sink --count-only of its own (ended by its pid; bounded waits).
# Usage: export_smoke.sh BENCH_EXPORT OTLP_SINK [allow-loss]
set -u
d=$(mktemp -d) || exit 2
"$2" --port-file "$d/port" --count-only >/dev/null &
pid=$!
i=0
while [ ! -s "$d/port" ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
rc=2
[ -s "$d/port" ] && { "$1" "http://127.0.0.1:$(cat "$d/port")" 1 1 ${3:-}; rc=$?; }
kill "$pid"
wait "$pid"
rm -rf "$d"
exit $rc
