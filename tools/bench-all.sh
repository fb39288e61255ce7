#!/usr/bin/env bash
# bench-all.sh — issue 13's benchmark table in one run, each figure beside
# its peer: run by hand (tens of minutes), never by the test command.
#
#   bash tools/bench-all.sh [--orders N] [--repeat N] [--out DIR] [--quick]
#
# Needs `bash tools/setup.sh --bench` (the decode peers, Debezium) and the
# shared servers (`bash tools/servers.sh start all`). In order:
#
#   1. tools/bench-decode/bench.py   tapflow-binlog (JSON, --verify-only,
#      --stream) beside mariadb-binlog, go-mysql, python-mysql-replication
#      and Debezium, on one binlog, best of --repeat (default 5) runs
#   2. bench-view alone, the three fan-out modes, 1M changes (CPU time)
#   3. tools/bench-view/bench.py     initial build vs raw insert, CDC vs raw
#      replace ceiling, delay at half the raw ceiling (probe rows)
#   4. tools/bench-burst/bench.py    catch-up after a burst vs raw replaces
#   5. tools/bench-mass/bench.py     one UPDATE of every product vs a full
#      rebuild and the raw ceilings
#
# Each writes its own table; this script keeps them all in DIR (default
# /work/notes/bench-all-<time>, else .local/bench-all-<time>) and prints the
# load average between steps: the machines are shared.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
orders=99441
quick=0
out=""
repeat=5
while [ $# -gt 0 ]; do
    case "$1" in
        --orders) orders=$2; shift ;;
        --out) out=$2; shift ;;
        --repeat) repeat=$2; shift ;;
        --quick) quick=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "bench-all: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
stamp=$(date -u +%Y%m%d-%H%M)
if [ -z "$out" ]; then
    if [ -d /work/notes ]; then out=/work/notes/bench-all-$stamp; else out=$top/.local/bench-all-$stamp; fi
fi
mkdir -p "$out"
eval "$(bash "$top/tools/servers.sh" env)"
build=$top/build
changes=1000000
if [ $quick -eq 1 ]; then repeat=1; changes=200000; fi

step() { echo; echo "=== $1 ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"; }

step "1. decode"
python3 "$top/tools/bench-decode/bench.py" --repeat "$repeat" --save "$out/decode.txt" \
    2>&1 | tee "$out/decode.log"

step "2. view engine alone, three modes"
tsv=$(mktemp -d /tmp/tf_bench_all_XXXXXX)
db=tf_bench_all_$$
"$top/tools/datagen/datagen" --seed 42 --orders "$orders" --db "$db" --tsv "$tsv" >/dev/null
MYSQL_PWD=$TAPFLOW_MARIADB_PASSWORD mariadb --no-defaults -h "$TAPFLOW_MARIADB_HOST" \
    -P "$TAPFLOW_MARIADB_PORT" -u "$TAPFLOW_MARIADB_USER" -e "DROP DATABASE $db"
for mode in recompute positional array-filters; do
    "$build/tools/bench-view/bench-view" --tsv "$tsv" \
        --flow "$top/tests/vectors/flows/guide_order_single_view.tap" \
        --changes "$changes" --fanout "$mode" > "$out/engine-$mode.txt"
    echo "$mode: $(grep '^changes_per_s=' "$out/engine-$mode.txt")"
done
rm -rf "$tsv"

step "3. end to end: build, CDC, delay"
python3 "$top/tools/bench-view/bench.py" --orders "$orders" --out "$out/view.txt" \
    2>&1 | tail -n 25

step "4. burst catch-up"
python3 "$top/tools/bench-burst/bench.py" --out "$out/burst.txt" 2>&1 | tail -n 12

step "5. mass update vs rebuild"
python3 "$top/tools/bench-mass/bench.py" --orders "$orders" --out "$out/mass.txt" \
    2>&1 | tail -n 12

step "done: tables in $out"
