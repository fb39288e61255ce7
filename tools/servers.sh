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
# The MongoDB-wire target ("mongo") is a real mongod when one is on PATH,
# else FerretDB 1.24 on one of its two backends (TAPFLOW_FERRETDB_BACKEND):
#   postgresql (default)  a private PostgreSQL cluster (Debian's packages) on
#                         its own port. Updates stay fast as collections
#                         grow (~550 replaces by _id/s at 100k documents)
#   sqlite                no second server, starts ~0.5 s sooner, but FerretDB
#                         1.24 scans the whole collection for every update,
#                         even by _id (under 1 replace/s at 100k documents;
#                         figures: README "Local servers")
# `start mongo` starts PostgreSQL first when the backend needs it, `stop
# mongo` stops both. Every server listens on loopback only; data lives under
# .servers/ (git-ignored). Ports avoid the usual 3306 / 27017 / 5432.
#
# PostgreSQL refuses to run as root: as root it runs as the `postgres` user
# (created by Debian's package). Its data directory is
# <servers dir>/postgresql/data, unless that user cannot reach the servers
# dir (e.g. under /root or a 0700 temp dir): then the data lives in
# ~postgres/tapflow/<hash of the servers dir>/data and
# <servers dir>/postgresql/data is a symlink to it (copies whose servers dir
# is gone are removed when the next such copy is made). fsync is off: these
# are disposable test servers.
#
# Environment overrides (so a second set can run beside the shared one):
#   TAPFLOW_MARIADB_PORT (33061)  TAPFLOW_MONGO_PORT (27118)
#   TAPFLOW_PG_PORT      (mongo port + 1000, or - 1000 above 64535)
#   TAPFLOW_FERRETDB_BACKEND (postgresql) postgresql | sqlite
#   TAPFLOW_SERVERS_DIR  (<repo>/.servers) state folder: data, logs, sockets
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state=${TAPFLOW_SERVERS_DIR:-$top/.servers}
mkdir -p "$state"
state=$(cd "$state" && pwd)
export PATH="$top/.local/bin:$PATH"

MARIADB_PORT=${TAPFLOW_MARIADB_PORT:-33061}
MONGO_PORT=${TAPFLOW_MONGO_PORT:-27118}
if [ -n "${TAPFLOW_PG_PORT:-}" ]; then
    PG_PORT=$TAPFLOW_PG_PORT
elif [ "$MONGO_PORT" -le 64535 ]; then
    PG_PORT=$((MONGO_PORT + 1000))
else
    PG_PORT=$((MONGO_PORT - 1000))
fi
FERRETDB_BACKEND=${TAPFLOW_FERRETDB_BACKEND:-postgresql}
case "$FERRETDB_BACKEND" in
postgresql | sqlite) ;;
*) printf 'servers: TAPFLOW_FERRETDB_BACKEND is "%s": expected postgresql or sqlite\n' "$FERRETDB_BACKEND" >&2; exit 2 ;;
esac
MARIADB_DIR="$state/mariadb"
MARIADB_SOCK="$MARIADB_DIR/mysqld.sock"
MONGO_DIR="$state/mongo"
PG_DIR="$state/postgresql"

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

# --- PostgreSQL (FerretDB's postgresql backend) ---------------------------------

pg_bindir() { # the newest installed server's binaries
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# as_pg COMMAND... — run as the cluster's owner: `postgres` when we are root.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_datadir() { # where the cluster lives (follows the pointer when outside)
    if [ -L "$PG_DIR/data" ]; then readlink "$PG_DIR/data"; else echo "$PG_DIR/data"; fi
}

pg_running() {
    local bin data
    bin=$(pg_bindir) || return 1
    data=$(pg_datadir)
    [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

pg_url() { echo "postgres://postgres@127.0.0.1:$PG_PORT/ferretdb"; }

# FerretDB 1.24 holds one pooled PostgreSQL connection per update of a write
# command until the whole command ends (handler/msg_update.go defers each
# iterator's Close inside its loop), so a command with more updates than
# pool_max_conns (its default 50) waits forever for a connection, and
# FerretDB stops answering. A larger pool moves that wall out of reach of
# ordinary batches; connections are opened on demand and closed when idle.
FERRETDB_PG_POOL=300
ferretdb_pg_url() { echo "$(pg_url)?pool_max_conns=$FERRETDB_PG_POOL&pool_max_conn_idle_time=1m"; }

# Clusters kept outside for servers dirs that no longer point at them
# (test runs' temporary servers dirs, removed without a stop).
pg_forget_orphans() {
    local outside=$1 dir origin
    for dir in "$outside"/*/; do
        dir=${dir%/}
        [ -f "$dir/origin" ] || continue
        origin=$(cat "$dir/origin")
        [ "$(readlink "$origin/postgresql/data" 2>/dev/null)" = "$dir/data" ] && continue
        [ -f "$dir/data/postmaster.pid" ] &&
            kill -0 "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null && continue
        rm -rf "$dir"
    done
}

# Makes $PG_DIR/data (or its pointer) and prints the data directory.
pg_make_datadir() {
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" -ne 0 ]; then
        mkdir -p "$PG_DIR/data" && echo "$PG_DIR/data"
        return
    fi
    getent passwd postgres >/dev/null || { log "no 'postgres' user: run tools/setup.sh"; return 1; }
    chown postgres "$PG_DIR"
    if runuser -u postgres -- mkdir -p "$PG_DIR/data" 2>/dev/null; then
        echo "$PG_DIR/data"
        return
    fi
    # The postgres user cannot reach the servers dir: keep the data where it can.
    local home outside key
    home=$(getent passwd postgres | cut -d: -f6)
    if [ -d "$home" ] && [ "$(stat -c %U "$home")" = postgres ]; then
        outside="$home/tapflow"
    else
        outside=/var/tmp/tapflow-postgresql
    fi
    mkdir -p "$outside"
    chown postgres "$outside"
    chmod 700 "$outside"
    pg_forget_orphans "$outside"
    key=$(printf '%s' "$state" | sha1sum | cut -c1-16)
    rm -rf "${outside:?}/$key"
    runuser -u postgres -- mkdir -m 700 "$outside/$key" "$outside/$key/data"
    printf '%s\n' "$state" >"$outside/$key/origin"
    ln -sfn "$outside/$key/data" "$PG_DIR/data"
    echo "$outside/$key/data"
}

# FerretDB 1.24 pushes a filter {_id: X} down as `_jsonb->'_id' @> X`, which
# its own btree index on (_jsonb->'_id') cannot serve: every replace, update
# and delete by _id scans the whole table (19 replaces/s at 50k documents).
# An event trigger gives every table FerretDB creates a GIN index on that
# expression (500/s at 50k documents), and tables made before it get one at
# start. The sink addresses documents by _id.
pg_index_ids() {
    "$1/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferretdb -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE OR REPLACE FUNCTION tapflow_gin_id(tbl regclass) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = '_jsonb')
       AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_am a ON a.oid =
                       (SELECT relam FROM pg_class WHERE oid = i.indexrelid)
                       WHERE i.indrelid = tbl AND a.amname = 'gin') THEN
        EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> ''_id'') jsonb_path_ops)', tbl);
    END IF;
END $f$;
CREATE OR REPLACE FUNCTION tapflow_gin_id_on_create() RETURNS event_trigger LANGUAGE plpgsql AS $f$
DECLARE r record;
BEGIN
    FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
             WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
        PERFORM tapflow_gin_id(r.objid::regclass);
    END LOOP;
END $f$;
DO $d$
DECLARE r record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'tapflow_gin_id') THEN
        CREATE EVENT TRIGGER tapflow_gin_id ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
            EXECUTE FUNCTION tapflow_gin_id_on_create();
    END IF;
    FOR r IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
        PERFORM tapflow_gin_id(r.oid::regclass);
    END LOOP;
END $d$;
SQL
}

start_pg() {
    if pg_running; then log "postgresql already running on 127.0.0.1:$PG_PORT"; return 0; fi
    local bin data
    bin=$(pg_bindir) || { log "PostgreSQL server not installed: run tools/setup.sh"; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
        log "port $PG_PORT (postgresql) is taken by another server: set TAPFLOW_PG_PORT"
        return 1
    fi
    data=$(pg_datadir)
    if [ ! -f "$data/PG_VERSION" ]; then
        data=$(pg_make_datadir) || return 1
        log "initialising postgresql data directory $data"
        # trust: loopback only, throwaway test cluster, as MariaDB's root socket.
        as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
            >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
        echo "include_if_exists = 'tapflow.conf'" >>"$data/postgresql.conf"
    fi
    # Rewritten at every start (the port may change); read through the include.
    as_pg tee "$data/tapflow.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = $((FERRETDB_PG_POOL + 50))
CONF
    log "starting postgresql on 127.0.0.1:$PG_PORT (data $data)"
    if ! as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null; then
        log "postgresql failed to start; last lines of $data/server.log:"
        tail -20 "$data/server.log" >&2
        return 1
    fi
    if [ -z "$("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" ]; then
        "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE ferretdb" >/dev/null
    fi
    pg_index_ids "$bin" || { log "postgresql: could not install the _id index trigger"; return 1; }
}

stop_pg() {
    pg_running || return 0
    log "stopping postgresql"
    as_pg "$(pg_bindir)/pg_ctl" -D "$(pg_datadir)" -m fast -w -t 60 stop >/dev/null || true
}

mongo_running() { (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null; }

mongo_ping() {
    mongosh --quiet --norc "mongodb://127.0.0.1:$MONGO_PORT/" \
        --eval 'const r = db.runCommand({ping: 1}); if (r.ok !== 1) { quit(1); }'
}

# What serves the mongo port: "mongod", "ferretdb-postgresql" or "ferretdb-sqlite"
# (written at start, so status and env report the running server, whatever
# TAPFLOW_FERRETDB_BACKEND says now).
mongo_kind() {
    local pid cmdline
    if [ -f "$MONGO_DIR/kind" ]; then cat "$MONGO_DIR/kind"; return; fi
    # A server started by an older servers.sh wrote no kind file: ask its command line.
    pid=$(cat "$MONGO_DIR/server.pid" 2>/dev/null || true)
    cmdline=$([ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    case "$cmdline" in
    *ferretdb*--handler=sqlite*) echo ferretdb-sqlite ;;
    *ferretdb*--handler=postgresql*) echo ferretdb-postgresql ;;
    *mongod\ *) echo mongod ;;
    *) mongo_kind_wanted ;;
    esac
}

mongo_kind_wanted() {
    if command -v mongod >/dev/null 2>&1; then echo mongod; else echo "ferretdb-$FERRETDB_BACKEND"; fi
}

start_mongo() {
    if mongo_running; then
        log "mongo-wire server already running on 127.0.0.1:$MONGO_PORT ($(mongo_kind))"
        return 0
    fi
    mkdir -p "$MONGO_DIR/data"
    local kind
    kind=$(mongo_kind_wanted)
    # --debug-addr=- : no metrics/pprof HTTP listener (its default 8088 would
    # clash between two instances); --state-dir keeps state.json out of the cwd.
    local ferretdb_args=(--listen-addr="127.0.0.1:$MONGO_PORT" --state-dir="$MONGO_DIR"
        --telemetry=disable --debug-addr=- --log-level=warn)
    case "$kind" in
    mongod)
        log "starting mongod on 127.0.0.1:$MONGO_PORT"
        nohup mongod --bind_ip 127.0.0.1 --port "$MONGO_PORT" --dbpath "$MONGO_DIR/data" \
            >"$MONGO_DIR/server.log" 2>&1 &
        ;;
    ferretdb-postgresql)
        command -v ferretdb >/dev/null 2>&1 || { log "ferretdb not installed: run tools/setup.sh"; return 1; }
        start_pg || return 1
        log "starting FerretDB (PostgreSQL backend) on 127.0.0.1:$MONGO_PORT"
        nohup ferretdb "${ferretdb_args[@]}" --handler=postgresql --postgresql-url="$(ferretdb_pg_url)" \
            >"$MONGO_DIR/server.log" 2>&1 </dev/null &
        ;;
    ferretdb-sqlite)
        command -v ferretdb >/dev/null 2>&1 || { log "ferretdb not installed: run tools/setup.sh"; return 1; }
        log "starting FerretDB (SQLite backend) on 127.0.0.1:$MONGO_PORT"
        nohup ferretdb "${ferretdb_args[@]}" --handler=sqlite --sqlite-url="file:$MONGO_DIR/data/" \
            >"$MONGO_DIR/server.log" 2>&1 </dev/null &
        ;;
    esac
    local pid=$!
    echo "$pid" >"$MONGO_DIR/server.pid"
    echo "$kind" >"$MONGO_DIR/kind"
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
    rm -f "$MONGO_DIR/server.pid" "$MONGO_DIR/kind"
    stop_pg
}

print_env() {
    local name value
    for name in TAPFLOW_SERVERS_DIR TAPFLOW_MARIADB_HOST TAPFLOW_MARIADB_PORT TAPFLOW_MARIADB_SOCKET \
        TAPFLOW_MARIADB_USER TAPFLOW_MARIADB_PASSWORD TAPFLOW_MARIADB_DATADIR \
        TAPFLOW_MONGO_PORT TAPFLOW_MONGO_URI TAPFLOW_MONGO_SERVER TAPFLOW_FERRETDB_BACKEND \
        TAPFLOW_POSTGRESQL_URL; do
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
        TAPFLOW_MONGO_SERVER) value=$(mongo_kind) ;;
        TAPFLOW_FERRETDB_BACKEND) value=$(mongo_kind | sed -n 's/^ferretdb-//p') ;;
        TAPFLOW_POSTGRESQL_URL) value=$([ "$(mongo_kind)" = ferretdb-postgresql ] && pg_url || true) ;;
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
    if mongo_running; then
        echo "mongo: running on 127.0.0.1:$MONGO_PORT ($(mongo_kind))"
    else
        echo "mongo: stopped (start would run $(mongo_kind_wanted))"
    fi
    if pg_running; then echo "postgresql: running on 127.0.0.1:$PG_PORT (data $(pg_datadir))"; fi ;;
env) print_env ;;
*) log "usage: $0 start|stop|status|env [mariadb|mongo|all]"; exit 2 ;;
esac
