#!/usr/bin/env bash
# servers.sh — start, stop and inspect the local test servers.
#
#   tools/servers.sh start [mariadb|mongo|all]
#   tools/servers.sh stop  [mariadb|mongo|all]
#   tools/servers.sh status
#   tools/servers.sh env        # prints the TAPFLOW_* variables tests read
#
# MariaDB (the source) runs with log-bin, binlog_format=ROW,
# binlog_row_image=FULL, binlog_row_metadata=FULL, GTIDs and server-id 1.
# The MongoDB-wire target is a real mongod when one is on PATH, else
# FerretDB (SQLite backend). Both listen on loopback only; data lives under
# .servers/ (git-ignored). Ports avoid the usual 3306 / 27017.
#
# Environment overrides (so a second set can run beside the shared one):
#   TAPFLOW_MARIADB_PORT (33061)  TAPFLOW_MONGO_PORT (27118)
#   TAPFLOW_SERVERS_DIR  (<repo>/.servers) state folder: data, logs, sockets
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state=${TAPFLOW_SERVERS_DIR:-$top/.servers}
mkdir -p "$state"
state=$(cd "$state" && pwd)
export PATH="$top/.local/bin:$PATH"

MARIADB_PORT=${TAPFLOW_MARIADB_PORT:-33061}
MONGO_PORT=${TAPFLOW_MONGO_PORT:-27118}
MARIADB_DIR="$state/mariadb"
MARIADB_SOCK="$MARIADB_DIR/mysqld.sock"
MONGO_DIR="$state/mongo"

log() { printf 'servers: %s\n' "$*" >&2; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq 1 $((limit * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    log "$what did not become ready within ${limit}s"
    return 1
}

mariadb_running() { [ -S "$MARIADB_SOCK" ] && mariadb-admin --no-defaults -uroot --socket="$MARIADB_SOCK" ping >/dev/null 2>&1; }

start_mariadb() {
    if mariadb_running; then log "mariadb already running on 127.0.0.1:$MARIADB_PORT"; return 0; fi
    mkdir -p "$MARIADB_DIR"
    if [ ! -d "$MARIADB_DIR/data/mysql" ]; then
        log "initialising mariadb data directory"
        mariadb-install-db --no-defaults --user=root --datadir="$MARIADB_DIR/data" \
            --auth-root-authentication-method=socket >"$MARIADB_DIR/install.log" 2>&1 \
            || { cat "$MARIADB_DIR/install.log" >&2; return 1; }
    fi
    cat >"$MARIADB_DIR/my.cnf" <<CNF
[mariadbd]
user=root
datadir=$MARIADB_DIR/data
socket=$MARIADB_SOCK
pid-file=$MARIADB_DIR/mariadbd.pid
log-error=$MARIADB_DIR/error.log
bind-address=127.0.0.1
port=$MARIADB_PORT
server-id=1
log-bin=$MARIADB_DIR/data/mariadb-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
binlog_checksum=CRC32
gtid_domain_id=0
gtid_strict_mode=1
max_allowed_packet=1G
max_binlog_size=1G
skip-name-resolve
innodb_buffer_pool_size=256M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
CNF
    log "starting mariadb on 127.0.0.1:$MARIADB_PORT"
    nohup mariadbd --defaults-file="$MARIADB_DIR/my.cnf" >"$MARIADB_DIR/stdout.log" 2>&1 &
    wait_for 60 mariadb mariadb_running || { tail -20 "$MARIADB_DIR/error.log" >&2; return 1; }
    # The test account: password auth over TCP, replication rights.
    mariadb --no-defaults -uroot --socket="$MARIADB_SOCK" <<'SQL'
CREATE USER IF NOT EXISTS 'tapflow'@'127.0.0.1' IDENTIFIED BY 'tapflow-test';
CREATE USER IF NOT EXISTS 'tapflow'@'localhost' IDENTIFIED BY 'tapflow-test';
GRANT ALL PRIVILEGES ON *.* TO 'tapflow'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'tapflow'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS tapflow_test;
SQL
}

stop_mariadb() {
    if ! mariadb_running; then log "mariadb not running"; return 0; fi
    log "stopping mariadb"
    mariadb-admin --no-defaults -uroot --socket="$MARIADB_SOCK" shutdown || true
    wait_for 60 "mariadb shutdown" bash -c "! [ -S '$MARIADB_SOCK' ]" || true
}

mongo_running() { (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null; }

mongo_ping() {
    mongosh --quiet --norc "mongodb://127.0.0.1:$MONGO_PORT/" \
        --eval 'const r = db.runCommand({ping: 1}); if (r.ok !== 1) { quit(1); }'
}

start_mongo() {
    if mongo_running; then log "mongo-wire server already running on 127.0.0.1:$MONGO_PORT"; return 0; fi
    mkdir -p "$MONGO_DIR/data"
    if command -v mongod >/dev/null 2>&1; then
        log "starting mongod on 127.0.0.1:$MONGO_PORT"
        nohup mongod --bind_ip 127.0.0.1 --port "$MONGO_PORT" --dbpath "$MONGO_DIR/data" \
            >"$MONGO_DIR/server.log" 2>&1 &
    else
        command -v ferretdb >/dev/null 2>&1 || { log "ferretdb not installed: run tools/setup.sh"; return 1; }
        log "starting FerretDB (SQLite backend) on 127.0.0.1:$MONGO_PORT"
        # --debug-addr=- : no metrics/pprof HTTP listener (its default 8088 would
        # clash between two instances); --state-dir keeps state.json out of the cwd.
        nohup ferretdb --listen-addr="127.0.0.1:$MONGO_PORT" --handler=sqlite \
            --sqlite-url="file:$MONGO_DIR/data/" --state-dir="$MONGO_DIR" \
            --telemetry=disable --debug-addr=- --log-level=warn \
            >"$MONGO_DIR/server.log" 2>&1 </dev/null &
    fi
    local pid=$!
    echo "$pid" >"$MONGO_DIR/server.pid"
    if ! wait_for 60 "mongo-wire server" mongo_running || ! kill -0 "$pid" 2>/dev/null; then
        log "mongo-wire server failed to start; last lines of $MONGO_DIR/server.log:"
        tail -20 "$MONGO_DIR/server.log" >&2
        return 1
    fi
    if command -v mongosh >/dev/null 2>&1; then
        wait_for 30 "mongo-wire ping" mongo_ping || { tail -20 "$MONGO_DIR/server.log" >&2; return 1; }
        log "mongo-wire server answers ping on 127.0.0.1:$MONGO_PORT"
    fi
}

stop_mongo() {
    local pid=""
    [ -f "$MONGO_DIR/server.pid" ] && pid=$(cat "$MONGO_DIR/server.pid")
    # The pid file may be stale and its number reused: only stop our server.
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" =~ (ferretdb|mongod)\  ]]; then
        log "stopping mongo-wire server"
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    else
        log "mongo-wire server not running"
    fi
    rm -f "$MONGO_DIR/server.pid"
}

print_env() {
    local name value
    for name in TAPFLOW_SERVERS_DIR TAPFLOW_MARIADB_HOST TAPFLOW_MARIADB_PORT TAPFLOW_MARIADB_SOCKET \
        TAPFLOW_MARIADB_USER TAPFLOW_MARIADB_PASSWORD TAPFLOW_MARIADB_DATADIR \
        TAPFLOW_MONGO_PORT TAPFLOW_MONGO_URI; do
        case $name in
        TAPFLOW_SERVERS_DIR) value=$state ;;
        TAPFLOW_MARIADB_HOST) value=127.0.0.1 ;;
        TAPFLOW_MARIADB_PORT) value=$MARIADB_PORT ;;
        TAPFLOW_MARIADB_SOCKET) value=$MARIADB_SOCK ;;
        TAPFLOW_MARIADB_USER) value=tapflow ;;
        TAPFLOW_MARIADB_PASSWORD) value=tapflow-test ;;
        TAPFLOW_MARIADB_DATADIR) value=$MARIADB_DIR/data ;;
        TAPFLOW_MONGO_PORT) value=$MONGO_PORT ;;
        TAPFLOW_MONGO_URI) value=mongodb://127.0.0.1:$MONGO_PORT/ ;;
        esac
        printf 'export %s=%q\n' "$name" "$value"
    done
}

cmd=${1:-status}
which=${2:-all}
case "$cmd" in
start)
    case "$which" in mariadb) start_mariadb ;; mongo) start_mongo ;; all) start_mariadb; start_mongo ;; *) log "unknown server '$which' (mariadb, mongo, all)"; exit 2 ;; esac ;;
stop)
    case "$which" in mariadb) stop_mariadb ;; mongo) stop_mongo ;; all) stop_mongo; stop_mariadb ;; *) log "unknown server '$which' (mariadb, mongo, all)"; exit 2 ;; esac ;;
status)
    if mariadb_running; then echo "mariadb: running on 127.0.0.1:$MARIADB_PORT"; else echo "mariadb: stopped"; fi
    if mongo_running; then echo "mongo: running on 127.0.0.1:$MONGO_PORT"; else echo "mongo: stopped"; fi ;;
env) print_env ;;
*) log "usage: $0 start|stop|status|env [mariadb|mongo|all]"; exit 2 ;;
esac
