#!/usr/bin/env bash
# demo.sh — the reference guide's real-time wide table, end to end, on local
# servers: MariaDB tables -> tapflow -> a MongoDB-wire collection.
#
#   bash tools/demo.sh [--orders N]      (default 99441, the guide's size)
#
# Steps: tools/setup.sh; build build/ (TAPFLOW_BUILD_DIR overrides); start the
# local servers (tools/servers.sh: TAPFLOW_SERVERS_DIR, TAPFLOW_MARIADB_PORT and
# TAPFLOW_MONGO_PORT choose another set); load the Olist-shaped data set
# (tools/datagen/datagen --seed 42) into database `ecommerce`; write a config
# with the guide's datasources MySQL_ECommerce and MongoDB_ECommerce to
# <servers dir>/tapflow.conf (TAPFLOW_HOME is <servers dir>/tapflow; nothing
# goes to your home directory); run the guide's Tap Shell script
# tools/demo/order_single_view.tap with `tap -f` (it saves and starts the
# flow); draw the initial build's progress; print `status`, `use` + `count`
# as the guide does; run the guide's Step 2 SQL (tools/demo/step2.sql), wait
# for the change and show the ORD789654 document with mongosh.
#
# Running it again starts over: it stops the flow, drops database `ecommerce`
# on both servers and builds the wide table again. The flow and the servers
# keep running at the end; the last lines say how to stop them and how to go
# on by hand.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.local/bin:/usr/local/go/bin:${HOME:-/root}/go/bin:$PATH"

orders=99441
while [ $# -gt 0 ]; do
    case $1 in
    --orders) orders=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --orders=*) orders=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "demo: unknown option '$1' (usage: bash tools/demo.sh [--orders N])" >&2; exit 2 ;;
    esac
done
if ! [[ $orders =~ ^[1-9][0-9]{0,6}$ ]]; then
    echo "demo: --orders needs a number from 1 to 9999999, got '$orders'" >&2
    exit 2
fi

flow=Order_SingleView_Sync
db=ecommerce
build=${TAPFLOW_BUILD_DIR:-$top/build}
tap_bin="$build/tools/tap/tap"
demo_start=$(date +%s.%N)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Overrides the caller gave (other ports or state folder): the commands
# printed at the end need them too.
overrides=""
for var in TAPFLOW_SERVERS_DIR TAPFLOW_MARIADB_PORT TAPFLOW_MONGO_PORT; do
    if [ -n "${!var:-}" ]; then overrides+="$var=${!var} "; fi
done

say "installing what is needed (tools/setup.sh)"
bash tools/setup.sh

say "building $build"
mkdir -p "$build"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if ! ninja -C "$build" ${TAPFLOW_BUILD_JOBS:+-j "$TAPFLOW_BUILD_JOBS"} >"$build/build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$build/build.log" | tail -n 60
    exit 1
fi
if [ ! -x "$tap_bin" ]; then
    echo "demo: $tap_bin was not built (tools/tap/ is missing or failed to build)" >&2
    exit 1
fi

say "starting the local servers (tools/servers.sh start)"
bash tools/servers.sh start
eval "$(bash tools/servers.sh env)"
export MYSQL_PWD=$TAPFLOW_MARIADB_PASSWORD # the mariadb client's password, never printed
export TAPFLOW_CONFIG="$TAPFLOW_SERVERS_DIR/tapflow.conf"
export TAPFLOW_HOME="$TAPFLOW_SERVERS_DIR/tapflow"
mkdir -p "$TAPFLOW_HOME"
tap() { "$tap_bin" "$@"; }
sql() {
    mariadb --no-defaults -h"$TAPFLOW_MARIADB_HOST" -P"$TAPFLOW_MARIADB_PORT" \
        -u"$TAPFLOW_MARIADB_USER" "$@"
}
mongo_db_uri="${TAPFLOW_MONGO_URI%/}/$db"

cat >"$TAPFLOW_CONFIG" <<CONF
# tapflow config written by tools/demo.sh: the guide's two datasources on the
# local servers (tools/servers.sh). The MariaDB password is read from the
# environment variable TAPFLOW_MARIADB_PASSWORD (eval "\$(tools/servers.sh env)").
[tapflow]
home = $TAPFLOW_HOME

[datasource MySQL_ECommerce]
type = mysql
host = $TAPFLOW_MARIADB_HOST
port = $TAPFLOW_MARIADB_PORT
user = $TAPFLOW_MARIADB_USER
password_env = TAPFLOW_MARIADB_PASSWORD
database = $db

[datasource MongoDB_ECommerce]
type = mongodb
uri = $TAPFLOW_MONGO_URI
database = $db
CONF
echo "config: $TAPFLOW_CONFIG"

# A previous run's flow: stop it before its tables and collection go.
if [ -f "$TAPFLOW_HOME/run/$flow.json" ]; then
    say "stopping the flow a previous run left running"
    tap -c "stop $flow" || echo "demo: (stopping it failed; going on)"
fi

say "loading the demo data set into MariaDB database $db (datagen --orders $orders --seed 42)"
mongosh --quiet --norc "$mongo_db_uri" --eval 'db.dropDatabase()' >/dev/null
datagen_out=$(python3 tools/datagen/datagen --seed 42 --orders "$orders" --db "$db")
echo "$datagen_out"
source_rows=$(awk '/^ecom_/ && $3 == "rows" { n += $2 } END { print n + 0 }' <<<"$datagen_out")

say "Step 1: the guide's Tap Shell script: tap -f tools/demo/order_single_view.tap"
sed 's/^/  | /' tools/demo/order_single_view.tap
echo
build_start=$(date +%s.%N)
tap -f tools/demo/order_single_view.tap

say "initial build: $source_rows source rows -> $orders documents in orderSingleView"
python3 tools/demo/progress.py --home "$TAPFLOW_HOME" --flow "$flow" \
    --source-rows "$source_rows" --documents "$orders"
build_time=$(since "$build_start")

say "the guide's status and count"
status_script="status $flow
use MongoDB_ECommerce
count orderSingleView"
printf '$ tap -f - <<TAP\n%s\nTAP\n' "$status_script"
tap -f - <<<"$status_script"

# A mongosh started before the SQL watches ORD789654 until it shows every
# update of Step 2, so its start-up time is not counted in the delay. It
# reads the document by _id (tapflow's: the first 12 bytes of the SHA-256 of
# the BSON {order_id: "ORD789654"}), as an application would: FerretDB 1.24
# scans the collection for a filter on order_id (about 0.4 s on the guide's
# 99,441 orders), which would be measured instead of tapflow.
watch_id=$(python3 -c 'import hashlib, struct
v = b"ORD789654"
e = b"\x02order_id\x00" + struct.pack("<i", len(v) + 1) + v + b"\x00"
print(hashlib.sha256(struct.pack("<i", len(e) + 5) + e + b"\x00").hexdigest()[:24])')
watch_out=$(mktemp)
mongosh --quiet --norc "$mongo_db_uri" --eval '
const updated = (d) => d && d.order_status === "shipped" && d.customer_info &&
  d.order_payments && d.order_payments.length === 1 && Number(d.order_payments[0].payment_value) === 220 &&
  d.order_items && d.order_items.length === 1 && Number(d.order_items[0].price) === 210 &&
  d.order_items[0].product && d.order_items[0].seller;
const id = ObjectId("'"$watch_id"'");
db.orderSingleView.findOne({_id: id}); /* connected before "ready" */
print("ready");
const deadline = Date.now() + 120000;
let doc = null;
while (!updated(doc = db.orderSingleView.findOne({_id: id})) && Date.now() < deadline) sleep(10);
print(updated(doc) ? "seen " + Date.now() : "missing " + EJSON.stringify(doc));' >"$watch_out" 2>&1 &
watch_pid=$!
for _ in $(seq 1 300); do grep -q '^ready' "$watch_out" && break; sleep 0.1; done

say "Step 2: the guide's SQL on MariaDB database $db (tools/demo/step2.sql)"
sed 's/^/  sql> /' tools/demo/step2.sql
sql "$db" <tools/demo/step2.sql
committed_ms=$(date +%s%3N)

say "waiting for ORD789654 in orderSingleView to show every update"
wait "$watch_pid" || true
result=$(grep -E '^(seen|missing) ' "$watch_out" || true)
rm -f "$watch_out"
case $result in
seen\ *)
    delay=$((${result#seen } - committed_ms))
    echo "ORD789654 showed every update $((delay > 0 ? delay : 0)) ms after the last UPDATE committed (polled every 10 ms)"
    ;;
*)
    echo "demo: ORD789654 did not show the updates within 120 s; last seen: ${result#missing }" >&2
    echo "demo: the flow's log: $TAPFLOW_HOME/logs/$flow.log" >&2
    exit 1
    ;;
esac

say "the document: mongosh $mongo_db_uri --eval 'db.orderSingleView.findOne({order_id: \"ORD789654\"})'"
mongosh --quiet --norc "$mongo_db_uri" --eval '
print(EJSON.stringify(db.orderSingleView.findOne({order_id: "ORD789654"}), null, 2, {relaxed: true}))'

say "done in $(since "$demo_start") s (initial build of $orders orders: $build_time s)"
stop_servers="${overrides}tools/servers.sh stop"
cat <<TXT
The flow $flow keeps running: change the tables in MariaDB database $db and
watch orderSingleView follow. To use tap and the Python SDK by hand (the
guide's commands), in this shell:

  cd $top
  eval "\$(${overrides}tools/servers.sh env)"
  export TAPFLOW_CONFIG=$TAPFLOW_CONFIG TAPFLOW_HOME=$TAPFLOW_HOME
  export PATH=$build/tools/tap:\$PATH PYTHONPATH=$top/tools/python
  tap                                   # then: status $flow, use MongoDB_ECommerce, count orderSingleView
  MYSQL_PWD=\$TAPFLOW_MARIADB_PASSWORD mariadb --no-defaults -h127.0.0.1 -P$TAPFLOW_MARIADB_PORT -u$TAPFLOW_MARIADB_USER $db
  mongosh $mongo_db_uri

Stop the flow:     tap -c 'stop $flow'
Run the guide's Python example instead (after stopping the flow):
                   python3 tools/demo/real_time_order_view.py
Stop the servers:  $stop_servers   (stop the flow first)
TXT
