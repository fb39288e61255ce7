#!/usr/bin/env bash
# test_primary_mariadb_replica.sh — a real MariaDB replicates from
# tapflow-test-primary.
#
#   1. A temporary MariaDB (the "source") writes known rows over three binlog
#      files (inserts, updates, deletes, FLUSH LOGS between), then stops;
#      its binlog files are all that is left of it.
#   2. tapflow-test-primary serves those files.
#   3. A second temporary MariaDB replicates from it (CHANGE MASTER TO ...;
#      START SLAVE) and must end with exactly the source's rows:
#        a. MASTER_USE_GTID=slave_pos from an empty position (all files,
#           rotation), then idle heartbeats;
#        b. GTID resume from a position in the middle of the first file;
#        c. MASTER_USE_GTID=no from a file and position in the middle;
#        d. a wrong password is refused with ERR 1045.
# Neither server is the shared one on 33061. Prints "N passed, N failed".
#
# usage: tests/integration/test_primary_mariadb_replica.sh [BUILD_DIR]
#        (BUILD_DIR holds tools/test-primary/tapflow-test-primary;
#         default build-primary, else build)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-}
if [ -z "$build" ]; then
    for b in "$top/build-primary" "$top/build"; do
        [ -x "$b/tools/test-primary/tapflow-test-primary" ] && { build=$b; break; }
    done
fi
primary_bin="$build/tools/test-primary/tapflow-test-primary"
if [ ! -x "$primary_bin" ]; then
    echo "tapflow-test-primary not built (looked in '$build'); build first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

tmp=$(mktemp -d /tmp/tf-primary-test.XXXXXX)
primary_pid=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
source_port=$(free_port)
replica_port=$(free_port)
primary_port=$(free_port)

servers() { # servers DIR PORT start|stop
    TAPFLOW_SERVERS_DIR="$1" TAPFLOW_MARIADB_PORT="$2" "$top/tools/servers.sh" "$3" mariadb
}

cleanup() {
    [ -n "$primary_pid" ] && kill "$primary_pid" 2>/dev/null && wait "$primary_pid" 2>/dev/null
    [ -d "$tmp/replica" ] && servers "$tmp/replica" "$replica_port" stop >/dev/null 2>&1
    [ -d "$tmp/source" ] && servers "$tmp/source" "$source_port" stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

src() { mariadb --no-defaults -uroot --socket="$tmp/source/mariadb/mysqld.sock" -N -B "$@"; }
rep() { mariadb --no-defaults -uroot --socket="$tmp/replica/mariadb/mysqld.sock" -N -B "$@"; }

# Count and checksum of the test table, the same query on both servers.
table_digest='SET SESSION group_concat_max_len = 1 << 30;
SELECT CONCAT(COUNT(*), " ", SHA2(COALESCE(GROUP_CONCAT(
  CONCAT_WS("|", id, name, amount, created, COALESCE(note, "NULL")) ORDER BY id SEPARATOR "\n"), ""), 256))
FROM tf_primary_test.t'

# The first 25 rows, also used to rebuild the replica's table at the
# middle position (phases b and c).
first_rows='INSERT INTO tf_primary_test.t (id, name, amount, created, note)
  SELECT seq, CONCAT("name-", seq, "-é"), seq * 1.25, "2024-01-01 00:00:00" + INTERVAL seq MINUTE,
         IF(seq % 3 = 0, NULL, REPEAT("n", seq)) FROM tf_primary_test.seq_1_to_25'

# ---- 1. the source writes the binlogs ----
if ! servers "$tmp/source" "$source_port" start >"$tmp/source.log" 2>&1; then
    cat "$tmp/source.log" >&2
    fail "source MariaDB starts"
    echo "$passed passed, $failed failed"
    exit 1
fi
src <<SQL
CREATE DATABASE tf_primary_test;
CREATE TABLE tf_primary_test.t (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL,
  amount DECIMAL(10,2), created DATETIME(3), note TEXT) CHARSET utf8mb4;
$first_rows;
SQL
mid_gtid=$(src -e "SELECT @@gtid_binlog_pos")
read -r mid_file mid_pos _ < <(src -e "SHOW MASTER STATUS")
src <<'SQL'
INSERT INTO tf_primary_test.t SELECT seq, CONCAT('row ', seq), seq / 7, NOW(3), NULL FROM tf_primary_test.seq_26_to_60;
START TRANSACTION;
UPDATE tf_primary_test.t SET amount = amount + 100 WHERE id % 5 = 0;
DELETE FROM tf_primary_test.t WHERE id BETWEEN 40 AND 44;
COMMIT;
FLUSH BINARY LOGS;
INSERT INTO tf_primary_test.t VALUES (1000, 'after first flush', 1.5, '2030-12-31 23:59:59.999', 'x');
UPDATE tf_primary_test.t SET note = 'updated', name = 'ünïcode ✓' WHERE id = 7;
FLUSH BINARY LOGS;
INSERT INTO tf_primary_test.t SELECT seq, 'third file', -seq, '1970-01-01 00:00:01', REPEAT('z', 1000)
  FROM tf_primary_test.seq_2000_to_2200;
DELETE FROM tf_primary_test.t WHERE id = 3;
SQL
want_digest=$(src -e "$table_digest")
end_gtid=$(src -e "SELECT @@gtid_binlog_pos")
src -e "SHOW BINARY LOGS" >"$tmp/source-binlogs.txt"
last_file=$(tail -1 "$tmp/source-binlogs.txt" | cut -f1)
last_size=$(tail -1 "$tmp/source-binlogs.txt" | cut -f2)
servers "$tmp/source" "$source_port" stop >>"$tmp/source.log" 2>&1
mkdir -p "$tmp/binlogs"
cp "$tmp/source/mariadb/data/"mariadb-bin.[0-9]* "$tmp/binlogs/"
rm -rf "$tmp/source"
nfiles=$(ls "$tmp/binlogs" | wc -l)
if [ "$nfiles" -ge 3 ] && [ -n "$want_digest" ]; then
    pass "source wrote $nfiles binlog files, table digest ${want_digest%% *} rows, GTID $end_gtid, middle $mid_gtid at $mid_file:$mid_pos"
else
    fail "source wrote the binlogs ($nfiles files, digest '$want_digest')"
fi
# The last file ends with the source's STOP (clean shutdown): SHOW BINARY LOGS
# said its size before the shutdown, so the replica's end is that position.

# ---- 2. the test primary ----
"$primary_bin" --binlog-dir "$tmp/binlogs" --flavor mariadb --port "$primary_port" \
    --server-id 1 --user repl --password 'repl-secret' -v >"$tmp/primary.out" 2>"$tmp/primary.log" &
primary_pid=$!
for _ in $(seq 1 50); do grep -q "listening on" "$tmp/primary.out" 2>/dev/null && break; sleep 0.1; done
if grep -q "listening on" "$tmp/primary.out"; then
    pass "tapflow-test-primary listens on $primary_port"
else
    fail "tapflow-test-primary starts: $(cat "$tmp/primary.log")"
fi

# ---- 3. the replica ----
if ! servers "$tmp/replica" "$replica_port" start >"$tmp/replica.log" 2>&1; then
    cat "$tmp/replica.log" >&2
    fail "replica MariaDB starts"
    echo "$passed passed, $failed failed"
    exit 1
fi
# servers.sh gives every server server-id 1, as the source had: the replica
# needs its own, and a binlog state of its own that cannot clash.
rep <<'SQL'
SET GLOBAL server_id = 2;
RESET MASTER;
SET GLOBAL gtid_slave_pos = '';
SQL

slave_field() { # slave_field NAME: a field of SHOW SLAVE STATUS
    mariadb --no-defaults -uroot --socket="$tmp/replica/mariadb/mysqld.sock" \
        -e "SHOW SLAVE STATUS\G" | sed -n "s/^ *$1: //p" | head -1
}

# wait_applied SECONDS CONDITION-DESCRIPTION CHECK-COMMAND...
wait_for() {
    local limit=$1
    shift
    for _ in $(seq 1 $((limit * 5))); do
        if "$@"; then return 0; fi
        sleep 0.2
    done
    return 1
}

gtid_caught_up() {
    [ "$(rep -e 'SELECT @@gtid_slave_pos')" = "$end_gtid" ] &&
        [ "$(slave_field Slave_SQL_Running_State)" = "Slave has read all relay log; waiting for more updates" ]
}

check_table() { # check_table WHAT
    local got
    got=$(rep -e "$table_digest" 2>&1)
    if [ "$got" = "$want_digest" ]; then
        pass "$1: replica table equals the source's (${got%% *} rows, sha256 ${got#* })"
    else
        fail "$1: replica table '$got', source '$want_digest'"
    fi
}

show_slave_problem() {
    echo "  Slave_IO_Running=$(slave_field Slave_IO_Running) Slave_SQL_Running=$(slave_field Slave_SQL_Running)"
    echo "  Last_IO_Error=$(slave_field Last_IO_Error)"
    echo "  Last_SQL_Error=$(slave_field Last_SQL_Error)"
    echo "  gtid_slave_pos=$(rep -e 'SELECT @@gtid_slave_pos') (want $end_gtid)"
    tail -15 "$tmp/primary.log" | sed 's/^/  primary: /'
}

# a. GTID mode from the beginning.
rep -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary_port,
        MASTER_USER='repl', MASTER_PASSWORD='repl-secret', MASTER_USE_GTID=slave_pos,
        MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1; START SLAVE;"
if wait_for 60 gtid_caught_up; then
    pass "GTID mode: replica applied up to $end_gtid"
else
    fail "GTID mode: replica did not catch up"
    show_slave_problem
fi
check_table "GTID mode"
[ "$(slave_field Master_Server_Id)" = 1 ] && pass "replica sees Master_Server_Id 1" ||
    fail "Master_Server_Id is '$(slave_field Master_Server_Id)'"
[ "$(slave_field Using_Gtid)" = "Slave_Pos" ] && pass "replica uses GTID (Slave_Pos)" ||
    fail "Using_Gtid is '$(slave_field Using_Gtid)'"
grep -q "COM_REGISTER_SLAVE server_id 2" "$tmp/primary.log" &&
    pass "primary got COM_REGISTER_SLAVE from server_id 2" || fail "no COM_REGISTER_SLAVE logged"
beats_before=$(rep -e "SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'" | cut -f2)
sleep 3.5
beats_after=$(rep -e "SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'" | cut -f2)
if [ "${beats_after:-0}" -ge $((${beats_before:-0} + 2)) ] && [ "$(slave_field Slave_IO_Running)" = Yes ]; then
    pass "idle stream: heartbeats arrive ($beats_before -> $beats_after in 3.5 s), IO thread running"
else
    fail "heartbeats: $beats_before -> $beats_after, IO running $(slave_field Slave_IO_Running)"
fi
if grep -q "unknown query" "$tmp/primary.log"; then
    fail "the replica sent queries the primary does not answer: $(grep 'unknown query' "$tmp/primary.log" | head -3)"
else
    pass "every query of the MariaDB replica was answered"
fi

# b. GTID resume from the middle of the first file: the replica holds the
#    first 25 rows (as at $mid_gtid) and must get exactly the rest.
rebuild_first_rows() {
    rep <<SQL
SET SESSION sql_log_bin = 0;
TRUNCATE TABLE tf_primary_test.t;
$first_rows;
SQL
}
rep -e "STOP SLAVE"
rebuild_first_rows
rep -e "SET GLOBAL gtid_slave_pos = '$mid_gtid'; START SLAVE;"
if wait_for 60 gtid_caught_up; then
    pass "GTID resume from $mid_gtid: applied up to $end_gtid"
else
    fail "GTID resume from $mid_gtid did not catch up"
    show_slave_problem
fi
check_table "GTID resume from the middle of $mid_file"
grep -q "@slave_connect_state='$mid_gtid'" "$tmp/primary.log" &&
    pass "primary saw @slave_connect_state='$mid_gtid'" || fail "no @slave_connect_state='$mid_gtid' logged"

# c. File and position (MASTER_USE_GTID=no) from the same middle.
position_caught_up() {
    [ "$(slave_field Relay_Master_Log_File)" = "$last_file" ] &&
        [ "$(slave_field Exec_Master_Log_Pos)" -ge "$last_size" ] 2>/dev/null &&
        [ "$(slave_field Slave_SQL_Running_State)" = "Slave has read all relay log; waiting for more updates" ]
}
rep -e "STOP SLAVE"
rebuild_first_rows
rep -e "CHANGE MASTER TO MASTER_USE_GTID=no, MASTER_LOG_FILE='$mid_file', MASTER_LOG_POS=$mid_pos; START SLAVE;"
if wait_for 60 position_caught_up; then
    pass "file/position from $mid_file:$mid_pos: executed up to $last_file:$(slave_field Exec_Master_Log_Pos)"
else
    fail "file/position mode did not reach $last_file:$last_size"
    show_slave_problem
fi
check_table "file/position mode"
[ "$(slave_field Using_Gtid)" = "No" ] && pass "replica used file/position (Using_Gtid No)" ||
    fail "Using_Gtid is '$(slave_field Using_Gtid)'"

# d. A wrong password: the replica's IO thread stops on ERR 1045.
rep -e "STOP SLAVE; CHANGE MASTER TO MASTER_PASSWORD='not-the-password'; START SLAVE;"
io_error_1045() { [ "$(slave_field Last_IO_Errno)" = 1045 ]; }
if wait_for 30 io_error_1045; then
    pass "wrong password: replica reports $(slave_field Last_IO_Errno): $(slave_field Last_IO_Error | cut -c1-100)"
else
    fail "wrong password: Last_IO_Errno '$(slave_field Last_IO_Errno)' '$(slave_field Last_IO_Error)'"
fi
rep -e "STOP SLAVE" >/dev/null 2>&1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
