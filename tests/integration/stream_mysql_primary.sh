#!/usr/bin/env bash
# stream_mysql_primary.sh — tapflow-binlog --stream against a MySQL 8
# primary: tapflow-test-primary --flavor mysql serving the real MySQL 8
# binlogs of ../shared/fixtures. For each file the JSON lines of the stream
# must be the lines the file mode prints for the same file:
#   a. from the file and position 4 (COM_BINLOG_DUMP): every line, once the
#      server's artificial ROTATE in front is left out;
#   b. by GTID (COM_BINLOG_DUMP_GTID) from the file's PREVIOUS_GTIDS set:
#      the row lines;
#   c. resumed from a GTID set that ends in the middle of the file: the row
#      lines of the file mode from the next GTID on (--start-gtid);
#   d. through tapflow-relay (upstream: the test primary): the relay's
#      archive of the file served by GTID gives the file mode's row lines,
#      and the archive files decode whole.
# Skips (0 passed, 0 failed) when the fixtures folder is absent.
# Prints "N passed, N failed".
#
# usage: tests/integration/stream_mysql_primary.sh [BUILD_DIR]
#        (BUILD_DIR holds tools/tapflow-binlog and tools/test-primary;
#         default build, else the first build-* that has both)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=$(cd "$top/.." && pwd)/shared/fixtures
build=${1:-}
if [ -z "$build" ]; then
    for b in "$top/build" "$top"/build-*; do
        if [ -x "$b/tools/tapflow-binlog/tapflow-binlog" ] &&
            [ -x "$b/tools/test-primary/tapflow-test-primary" ]; then
            build=$b
            break
        fi
    done
fi
binlog="$build/tools/tapflow-binlog/tapflow-binlog"
primary_bin="$build/tools/test-primary/tapflow-test-primary"
relay_bin="$build/tools/tapflow-relay/tapflow-relay"
if [ ! -x "$binlog" ] || [ ! -x "$primary_bin" ]; then
    echo "tapflow-binlog / tapflow-test-primary not built (looked in '$build'); build first" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -d "$fixtures" ]; then
    echo "no fixtures folder ($fixtures): skipped"
    echo "0 passed, 0 failed"
    exit 0
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

tmp=$(mktemp -d /tmp/tf-stream-mysql.XXXXXX)
primary_pid=""
relay_pid=""
cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
    if [ -n "$primary_pid" ]; then
        kill "$primary_pid" 2>/dev/null
        wait "$primary_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start_primary FILE — serves FILE; sets primary_pid and port.
start_primary() {
    # emptied here, not only by the child's redirect: the loop below may read
    # the file before the child opens it, and find the last primary's port
    : >"$tmp/primary.out"
    "$primary_bin" --port 0 --flavor mysql --heartbeat 0.2 --user repl --password s3cret "$1" \
        >"$tmp/primary.out" 2>"$tmp/primary.log" &
    primary_pid=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/primary.out")
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    return 1
}

stop_primary() {
    kill "$primary_pid" 2>/dev/null
    wait "$primary_pid" 2>/dev/null
    primary_pid=""
}

# stream OUT ARGS... — tapflow-binlog --stream --stop-at-end against the
# primary; stderr in OUT.err; returns its exit status.
stream() {
    local out=$1
    shift
    TF_STREAM_PW=s3cret timeout 20 "$binlog" --stream --host 127.0.0.1 --port "$port" \
        --user repl --password-env TF_STREAM_PW --ssl-mode disabled --server-id 4343 \
        --stop-at-end "$@" >"$out" 2>"$out.err"
}

rows() { grep '^{"op":' "$1"; }

# through_relay REL NAME PREV NROWS — d. above, with the primary running.
through_relay() {
    local rel=$1 prev=$3 nrows=$4 rport
    rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$tmp/archive"
    cat >"$tmp/relay.conf" <<CONF
[datasource Fixture]
type = mysql
host = 127.0.0.1
port = $port
user = repl
password_env = TF_STREAM_PW
database = mysql

[relay R]
upstream = Fixture
listen = 127.0.0.1:$rport
archive = $tmp/archive
start = ${prev:-earliest}
CONF
    TF_STREAM_PW=s3cret "$relay_bin" --config "$tmp/relay.conf" 2>"$tmp/relay.log" &
    relay_pid=$!
    local ok=""
    for _ in $(seq 1 100); do
        if TF_STREAM_PW=s3cret timeout 20 "$binlog" --stream --host 127.0.0.1 --port "$rport" \
            --user repl --password-env TF_STREAM_PW --ssl-mode disabled --server-id 4344 \
            --stop-at-end --gtid "$prev" >"$tmp/d.jsonl" 2>"$tmp/d.jsonl.err" &&
            [ "$(rows "$tmp/d.jsonl" | wc -l)" -ge "$nrows" ]; then
            ok=1
            break
        fi
        sleep 0.1
    done
    local undecodable=0 f
    for f in "$tmp"/archive/relay-bin.*; do
        "$binlog" "$f" >/dev/null 2>&1 || undecodable=$((undecodable + 1))
    done
    if [ -n "$ok" ] && cmp -s <(rows "$tmp/d.jsonl") <(rows "$tmp/file.jsonl") &&
        [ "$undecodable" -eq 0 ]; then
        pass "$rel: through tapflow-relay by GTID from '$prev' the $nrows row lines are the file mode's, and its archive decodes whole"
    else
        fail "$rel: through tapflow-relay: $(head -c 300 "$tmp/d.jsonl.err") $(tail -n 3 "$tmp/relay.log") ($undecodable undecodable archive files)"
        diff <(rows "$tmp/d.jsonl") <(rows "$tmp/file.jsonl") | head -n 6 | cut -c1-300
    fi
    kill "$relay_pid" 2>/dev/null
    wait "$relay_pid" 2>/dev/null
    relay_pid=""
}

# The fixture's PREVIOUS_GTIDS set and its GTIDs in order (from the file mode).
previous_set() { jq -r 'select(.type == "PREVIOUS_GTIDS") | .gtid_set' "$1" | head -n 1; }
gtids() { jq -r 'select(.type == "GTID" or .type == "GTID_TAGGED_LOG") | .gtid' "$1"; }

check_file() {
    local rel=$1 file="$fixtures/$1" name
    name=$(basename "$1")
    if [ ! -f "$file" ]; then
        fail "$rel: fixture missing"
        return
    fi
    "$binlog" "$file" >"$tmp/file.jsonl" 2>"$tmp/file.err"
    if ! start_primary "$file"; then
        fail "$rel: tapflow-test-primary did not start: $(cat "$tmp/primary.log")"
        stop_primary
        return
    fi
    local nrows
    nrows=$(rows "$tmp/file.jsonl" | wc -l)

    # a. file and position
    if stream "$tmp/a.jsonl" --file "$name" --position 4 &&
        head -n 1 "$tmp/a.jsonl" | jq -e '.type == "ROTATE" and .pos == 0' >/dev/null &&
        cmp -s <(tail -n +2 "$tmp/a.jsonl") "$tmp/file.jsonl"; then
        pass "$rel: from $name:4 every line is the file mode's ($(wc -l <"$tmp/file.jsonl") lines, $nrows row changes)"
    else
        fail "$rel: from $name:4 the lines differ from the file mode's: $(head -c 300 "$tmp/a.jsonl.err")"
        diff <(tail -n +2 "$tmp/a.jsonl") "$tmp/file.jsonl" | head -n 6 | cut -c1-300
    fi

    # b, c: only for files written with GTIDs
    local -a list
    mapfile -t list < <(gtids "$tmp/file.jsonl")
    if [ ${#list[@]} -eq 0 ]; then
        stop_primary
        return
    fi
    local prev
    prev=$(previous_set "$tmp/file.jsonl")
    if stream "$tmp/b.jsonl" --gtid "$prev" &&
        cmp -s <(rows "$tmp/b.jsonl") <(rows "$tmp/file.jsonl"); then
        pass "$rel: by GTID from '$prev' the $nrows row lines are the file mode's"
    else
        fail "$rel: by GTID from '$prev' the row lines differ: $(head -c 300 "$tmp/b.jsonl.err")"
        diff <(rows "$tmp/b.jsonl") <(rows "$tmp/file.jsonl") | head -n 6 | cut -c1-300
    fi
    through_relay "$rel" "$name" "$prev" "$nrows"

    # c. resume after the first half of the file's (untagged, numbered
    #    from 1) GTIDs
    local half=$(((${#list[@]} + 1) / 2)) uuid next=""
    uuid=${list[0]%:*}
    [ "$half" -lt ${#list[@]} ] && next=${list[$half]}
    if [ -n "$prev" ] || [ -z "$next" ] || [ "${list[0]}" != "$uuid:1" ] ||
        [ "$next" != "$uuid:$((half + 1))" ]; then
        stop_primary
        return
    fi
    "$binlog" --start-gtid "$next" "$file" >"$tmp/from.jsonl" 2>/dev/null
    if stream "$tmp/c.jsonl" --gtid "$uuid:1-$half" &&
        cmp -s <(rows "$tmp/c.jsonl") <(rows "$tmp/from.jsonl") &&
        ! grep -q "\"gtid\":\"$uuid:$half\"" "$tmp/c.jsonl"; then
        pass "$rel: resumed from $uuid:1-$half the row lines are the file mode's from $next ($(rows "$tmp/from.jsonl" | wc -l))"
    else
        fail "$rel: resumed from $uuid:1-$half the row lines differ: $(head -c 300 "$tmp/c.jsonl.err")"
        diff <(rows "$tmp/c.jsonl") <(rows "$tmp/from.jsonl") | head -n 6 | cut -c1-300
    fi
    stop_primary
}

for f in \
    rust_mysql_common/mysql-enum-string-set.000001 \
    rust_mysql_common/binlog-invisible-columns.000001 \
    rust_mysql_common/minimal_row_metadata.000001 \
    rust_mysql_common/mysql_type_bit.000001 \
    rust_mysql_common/time_issue.000001 \
    rust_mysql_common/json.binlog.000001 \
    rust_mysql_common/transaction_compression.000001 \
    rust_mysql_common/binlog_transaction_with_GTID_TAG.000001 \
    rust_mysql_common/binlog_transaction_previous_GTID_no_tag.000001 \
    mysql-cdc-rs/02_query_bigger/binlog.000733 \
    mysql-cdc-rs/31_update_rows_v2/binlog.000001 \
    mysql-cdc-rs/32_delete_rows_v2/binlog.000001; do
    check_file "$f"
done

# A wrong password is refused: exit 1 with the server's 1045.
start_primary "$fixtures/rust_mysql_common/mysql-enum-string-set.000001"
TF_STREAM_PW=wrong timeout 20 "$binlog" --stream --host 127.0.0.1 --port "$port" --user repl \
    --password-env TF_STREAM_PW --ssl-mode disabled --stop-at-end >"$tmp/pw.jsonl" 2>"$tmp/pw.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "1045" "$tmp/pw.err" && [ ! -s "$tmp/pw.jsonl" ]; then
    pass "wrong password: exit 1, $(head -c 160 "$tmp/pw.err")"
else
    fail "wrong password: exit $rc, $(head -c 300 "$tmp/pw.err")"
fi
stop_primary

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
