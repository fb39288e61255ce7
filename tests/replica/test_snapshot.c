/* test_snapshot.c — tf_snapshot against the live MariaDB
 * (TAPFLOW_MARIADB_HOST/PORT/USER/PASSWORD, from `tools/servers.sh env`;
 * every test is skipped when TAPFLOW_MARIADB_PORT is not set).
 *
 * Works in its own database tf_snapshot_test. Checks that a table read in
 * chunks is the table (count, checksum, key order, bounded heap), that a
 * row of every column type gives the same BSON from the snapshot as from the
 * binlog, and that a snapshot taken while a writer runs, followed by the
 * stream from the snapshot's position, rebuilds the final table exactly:
 * every insert once, every update in version order, every delete of a row
 * that exists.
 *
 * The re-sync reads (start_after, max_rows, key_rows, no_position) work in
 * a database of their own, tf_snapshot_resync_test: a table paged a
 * snapshot at a time gives every row once in the server's key order, for
 * a case-insensitive utf8mb4 key and for a key of every type a key may
 * have; key mode gives exactly the rows of the keys that exist. */
#include "replica.h"
#include "replica_internal.h"

#include <bson/bson.h>
#include <event2/event.h>
#include <inttypes.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#define DB "tf_snapshot_test"

/* ---- connection options from the environment ------------------------------- */

static bool server_options(tf_conn_options *o)
{
    const char *port = getenv("TAPFLOW_MARIADB_PORT");
    if (port == NULL || port[0] == '\0')
        return false;
    memset(o, 0, sizeof *o);
    o->host = getenv("TAPFLOW_MARIADB_HOST") ? getenv("TAPFLOW_MARIADB_HOST") : "127.0.0.1";
    o->port = (uint16_t)atoi(port);
    o->user = getenv("TAPFLOW_MARIADB_USER") ? getenv("TAPFLOW_MARIADB_USER") : "tapflow";
    o->password =
        getenv("TAPFLOW_MARIADB_PASSWORD") ? getenv("TAPFLOW_MARIADB_PASSWORD") : "tapflow-test";
    o->tls_mode = TF_TLS_DISABLED;
    o->connect_timeout = 10;
    return true;
}

/* ---- a blocking SQL client for the tests, on tf_conn + tf_query ------------- */

typedef struct sql {
    struct event_base *base;
    tf_conn *conn;
    tf_query q;
    tf_conn_options opt;
    bool ready, done, failed;
    tf_error err;
} sql;

static void sql_on_ready(tf_conn *c, void *arg)
{
    (void)c;
    ((sql *)arg)->ready = true;
}

static void sql_on_packet(tf_conn *c, const uint8_t *p, size_t n, void *arg)
{
    (void)c;
    tf_query_feed(&((sql *)arg)->q, p, n);
}

static void sql_on_error(tf_conn *c, const tf_error *err, bool fatal, void *arg)
{
    sql *s = arg;
    (void)fatal;
    s->failed = true;
    s->err = *err;
    tf_conn_destroy(c);
    s->conn = NULL;
}

static void sql_done(tf_query *q, const tf_error *err, void *arg)
{
    sql *s = arg;
    (void)q;
    s->done = true;
    if (err != NULL) {
        s->failed = true;
        s->err = *err;
    }
}

static void sql_open(sql *s)
{
    static const tf_conn_handlers h = {sql_on_ready, sql_on_packet, sql_on_error};
    memset(s, 0, sizeof *s);
    assert_true(server_options(&s->opt));
    s->base = event_base_new();
    tf_query_init(&s->q);
    s->conn = tf_conn_new(s->base, NULL, NULL, NULL, 0, &s->opt, &h, s);
    tf_conn_start(s->conn);
    while (!s->ready && !s->failed)
        event_base_loop(s->base, EVLOOP_ONCE);
    if (s->failed)
        fail_msg("connect: %s", s->err.message);
}

/* Runs one statement; false (and s->err) when the server refused it. */
static bool sql_try(sql *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool sql_try(sql *s, const char *fmt, ...)
{
    char text[65536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s->done = false;
    s->failed = false;
    tf_error err = {0};
    if (s->conn == NULL || !tf_query_send(&s->q, s->conn, text, sql_done, s, &err))
        fail_msg("cannot send '%.60s': %s", text, err.message);
    while (!s->done && s->conn != NULL)
        event_base_loop(s->base, EVLOOP_ONCE);
    return !s->failed;
}

#define sql_exec(s, ...)                                  \
    do {                                                  \
        if (!sql_try(s, __VA_ARGS__))                     \
            fail_msg("SQL failed: %s", (s)->err.message); \
    } while (0)

static const char *sql_cell(sql *s, size_t row, size_t col)
{
    return tf_query_cell(&s->q, row, col);
}

static void sql_close(sql *s)
{
    if (s->conn)
        tf_conn_destroy(s->conn);
    tf_query_cleanup(&s->q);
    event_base_free(s->base);
}

/* ---- running a snapshot to its end ---------------------------------------------- */

typedef struct run {
    bool done;
    bool failed;
    tf_error err;
    char gtid[4096];
    char file[256];
    uint64_t pos;
    bool position_before_rows;
    uint64_t rows;
    void *user;
    bool (*row)(struct run *r, const tf_snapshot_table *t, const tf_value *v, tf_error *err);
} run;

static void run_on_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    run *r = arg;
    (void)s;
    assert_int_equal(pos->flavour, TF_FLAVOUR_MARIADB);
    assert_non_null(pos->gtid);
    snprintf(r->gtid, sizeof r->gtid, "%s", pos->gtid);
    snprintf(r->file, sizeof r->file, "%s", pos->file);
    r->pos = pos->pos;
    r->position_before_rows = r->rows == 0;
}

static bool run_on_row(tf_snapshot *s, const tf_snapshot_table *t, const tf_value *v, void *arg,
                       tf_error *err)
{
    run *r = arg;
    (void)s;
    r->rows++;
    return r->row(r, t, v, err);
}

static void run_on_done(tf_snapshot *s, const tf_error *err, void *arg)
{
    run *r = arg;
    (void)s;
    r->done = true;
    if (err != NULL) {
        r->failed = true;
        r->err = *err;
    }
}

static void snapshot_run(run *r, const char *const *tables, size_t count, size_t chunk)
{
    struct event_base *base = event_base_new();
    tf_snapshot_options opt = {0};
    assert_true(server_options(&opt.conn));
    opt.tables = tables;
    opt.table_count = count;
    opt.chunk_rows = chunk;
    opt.cb.on_position = run_on_position;
    opt.cb.on_row = run_on_row;
    opt.cb.on_done = run_on_done;
    opt.arg = r;
    tf_error err = {0};
    tf_snapshot *s = tf_snapshot_new(base, &opt, &err);
    assert_non_null(s);
    assert_true(tf_snapshot_start(s, &err));
    while (!r->done)
        event_base_loop(base, EVLOOP_ONCE);
    tf_snapshot_destroy(s);
    event_base_free(base);
}

/* ---- streaming from a position until the end of the binlog ---------------------- */

typedef struct stream {
    bool stopped;
    bool failed;
    tf_error err;
    void *user;
    const char *table;
    /* One row change of `table`. */
    void (*change)(struct stream *st, const tf_replica_row *row);
    uint64_t changes;
} stream;

static bool stream_on_txn(tf_replica *r, const tf_replica_txn *txn, void *arg, tf_error *err)
{
    stream *st = arg;
    (void)r;
    tf_replica_rows it;
    tf_replica_rows_init(&it, txn);
    for (;;) {
        tf_replica_row row;
        bool done = false;
        if (tf_replica_rows_next(&it, &row, &done, err) != TF_OK) {
            tf_replica_rows_cleanup(&it);
            return false;
        }
        if (done)
            break;
        if (row.table->database.len == strlen(DB) &&
            memcmp(row.table->database.ptr, DB, row.table->database.len) == 0 &&
            row.table->table.len == strlen(st->table) &&
            memcmp(row.table->table.ptr, st->table, row.table->table.len) == 0) {
            st->changes++;
            st->change(st, &row);
        }
    }
    tf_replica_rows_cleanup(&it);
    return true;
}

static void stream_on_stop(tf_replica *r, const tf_error *err, void *arg)
{
    stream *st = arg;
    (void)r;
    st->stopped = true;
    if (err != NULL) {
        st->failed = true;
        st->err = *err;
    }
}

/* Streams from gtid (a MariaDB position) to the end of the binlog. */
static void stream_run(stream *st, const tf_snapshot_position *pos)
{
    struct event_base *base = event_base_new();
    tf_replica_options opt = {0};
    assert_true(server_options(&opt.conn));
    opt.server_id = 7000 + (uint32_t)(getpid() % 1000);
    tf_snapshot_replica_start(pos, &opt);
    opt.stop_at_end = true;
    opt.cb.on_transaction = stream_on_txn;
    opt.cb.on_stop = stream_on_stop;
    opt.arg = st;
    tf_error err = {0};
    tf_replica *r = tf_replica_new(base, &opt, &err);
    if (r == NULL)
        fail_msg("tf_replica_new: %s", err.message);
    assert_true(tf_replica_start(r, &err));
    while (!st->stopped)
        event_base_loop(base, EVLOOP_ONCE);
    tf_replica_destroy(r);
    event_base_free(base);
    if (st->failed)
        fail_msg("stream: %s", st->err.message);
}

/* ---- helpers on values -------------------------------------------------------------- */

static int64_t value_int(const tf_value *v)
{
    return v->kind == TF_VAL_UINT ? (int64_t)v->u : v->i;
}

/* ====================================================================================== */
/* (a) a large table, composite key, small chunks                                         */

#define BIG_ROWS 50000

typedef struct big_state {
    uLong checksum_sum; /* sum of crc32("a|b|v|pad") */
    int64_t last_a;
    char last_b[32];
    bool have_last;
    bool order_ok;
    size_t heap_base;
    size_t heap_peak;
} big_state;

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static bool big_row(run *r, const tf_snapshot_table *t, const tf_value *v, tf_error *err)
{
    big_state *b = r->user;
    (void)err;
    assert_int_equal(t->column_count, 4);
    assert_int_equal(t->key_count, 2);
    int64_t a = value_int(&v[0]);
    char bkey[32];
    snprintf(bkey, sizeof bkey, "%.*s", (int)v[1].bytes.len, (const char *)v[1].bytes.ptr);
    if (b->have_last && !(a > b->last_a || (a == b->last_a && strcasecmp(bkey, b->last_b) > 0)))
        b->order_ok = false;
    b->last_a = a;
    snprintf(b->last_b, sizeof b->last_b, "%s", bkey);
    b->have_last = true;
    char line[512];
    int n = snprintf(line, sizeof line, "%" PRId64 "|%s|%" PRId64 "|%.*s", a, bkey,
                     value_int(&v[2]), (int)v[3].bytes.len, (const char *)v[3].bytes.ptr);
    b->checksum_sum += crc32(0, (const Bytef *)line, (uInt)n);
    size_t heap = heap_in_use();
    if (heap > b->heap_peak)
        b->heap_peak = heap;
    return true;
}

static void test_snapshot_reads_a_large_table_in_key_order_in_chunks(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    sql s;
    sql_open(&s);
    sql_exec(&s, "CREATE DATABASE IF NOT EXISTS " DB);
    sql_exec(&s, "USE " DB);
    sql_exec(&s, "DROP TABLE IF EXISTS " DB ".big");
    /* b is case-insensitive: the chunks must page in the collation's order. */
    sql_exec(&s, "CREATE TABLE " DB ".big (a INT NOT NULL, b VARCHAR(20) NOT NULL, v BIGINT, "
                 "pad VARCHAR(200), PRIMARY KEY (a, b)) ENGINE=InnoDB "
                 "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci");
    sql_exec(&s,
             "INSERT INTO " DB ".big SELECT seq DIV 7, CONCAT(IF(seq %% 2, 'K', 'k'), "
             "seq %% 7, '-', seq), seq * 31, REPEAT(CHAR(65 + seq %% 26), 200) "
             "FROM seq_0_to_%d",
             BIG_ROWS - 1);
    sql_exec(&s, "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', a, b, v, pad))) FROM " DB ".big");
    uint64_t want_count = strtoull(sql_cell(&s, 0, 0), NULL, 10);
    uint64_t want_sum = strtoull(sql_cell(&s, 0, 1), NULL, 10);
    sql_close(&s);
    assert_int_equal(want_count, BIG_ROWS);

    big_state b = {.order_ok = true};
    run r = {.user = &b, .row = big_row};
    static const char *const tables[] = {DB ".big"};
    b.heap_base = heap_in_use();
    snapshot_run(&r, tables, 1, 1000);
    if (r.failed)
        fail_msg("snapshot: %s", r.err.message);
    assert_true(r.position_before_rows);
    assert_int_equal(r.rows, want_count);
    assert_int_equal((uint64_t)b.checksum_sum, want_sum);
    assert_true(b.order_ok);
#if !defined(__SANITIZE_ADDRESS__)
    /* The table is ~11 MB of rows; the heap never holds more than a small
     * part of it (a chunk is ~230 kB; the socket buffers what arrives). */
    size_t growth = b.heap_peak > b.heap_base ? b.heap_peak - b.heap_base : 0;
    if (growth > 3u << 20)
        fail_msg("heap grew by %zu bytes during the snapshot", growth);
#endif
}

/* ====================================================================================== */
/* (b) every column type: the same BSON from the snapshot and from the binlog             */

#define TYPE_ROWS 4

typedef struct types_state {
    bson_t snap[TYPE_ROWS + 1]; /* by id 1..TYPE_ROWS */
    bool have[TYPE_ROWS + 1];
    bson_t binlog[TYPE_ROWS + 1]; /* last image from the binlog */
    bool have_binlog[TYPE_ROWS + 1];
    tf_column snap_cols[64];
    size_t ncols;
    int binlog_rows;
} types_state;

static void row_bson(bson_t *doc, const tf_column *cols, size_t n, const tf_value *v)
{
    bson_init(doc);
    for (size_t i = 0; i < n; i++) {
        tf_error err = {0};
        if (tf_value_append_bson(doc, cols[i].name.ptr, cols[i].name.len, &v[i], &cols[i], &err) !=
            TF_OK)
            fail_msg("tf_value_append_bson %.*s: %s", (int)cols[i].name.len, cols[i].name.ptr,
                     err.message);
    }
}

static bool types_row(run *r, const tf_snapshot_table *t, const tf_value *v, tf_error *err)
{
    types_state *ts = r->user;
    (void)err;
    int64_t id = value_int(&v[0]);
    assert_true(id >= 1 && id <= TYPE_ROWS);
    row_bson(&ts->snap[id], t->columns, t->column_count, v);
    ts->have[id] = true;
    ts->ncols = t->column_count;
    for (size_t i = 0; i < t->column_count && i < 64; i++)
        ts->snap_cols[i] = t->columns[i]; /* names only compared while the snapshot lives */
    return true;
}

static void types_change(stream *st, const tf_replica_row *row)
{
    types_state *ts = st->user;
    assert_true(row->kind == TF_ROWS_WRITE || row->kind == TF_ROWS_UPDATE);
    int64_t id = value_int(&row->after[0]);
    assert_true(id >= 1 && id <= TYPE_ROWS && ts->have[id]);
    /* The table map and the snapshot describe the columns the same way
     * (the inserts came before the ALTER, with fewer columns). */
    if (row->kind == TF_ROWS_WRITE) {
        ts->binlog_rows++;
        return;
    }
    assert_int_equal(row->table->column_count, ts->ncols);
    for (size_t i = 0; i < ts->ncols; i++) {
        const tf_column *a = &row->table->columns[i], *b = &ts->snap_cols[i];
        char what[128];
        snprintf(what, sizeof what, "column %zu %.*s: type %u/%u meta %u/%u charset %u/%u", i,
                 (int)a->name.len, a->name.ptr, a->type, b->type, a->meta, b->meta, a->charset,
                 b->charset);
        if (a->type != b->type || a->meta != b->meta || a->charset != b->charset ||
            a->is_unsigned != b->is_unsigned || a->nullable != b->nullable ||
            a->is_primary_key != b->is_primary_key || a->enum_set_count != b->enum_set_count)
            fail_msg("%s", what);
    }
    /* The last image of each row is what the snapshot saw. */
    if (ts->have_binlog[id])
        bson_destroy(&ts->binlog[id]);
    row_bson(&ts->binlog[id], row->table->columns, row->table->column_count, row->after);
    ts->have_binlog[id] = true;
    ts->binlog_rows++;
}

static void test_snapshot_values_give_the_same_bson_as_the_binlog_for_every_type(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    sql s;
    sql_open(&s);
    sql_exec(&s, "CREATE DATABASE IF NOT EXISTS " DB);
    sql_exec(&s, "USE " DB);
    sql_exec(&s, "DROP TABLE IF EXISTS " DB ".types");
    sql_exec(&s,
             "CREATE TABLE " DB ".types ("
             "id INT NOT NULL PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, "
             "siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, "
             "bi BIGINT, biu BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), "
             "dec2 DECIMAL(65,30), dec3 DECIMAL(5,0), dt DATE, dtm DATETIME, dtm6 DATETIME(6), "
             "ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, tm TIME, tm4 TIME(4), y YEAR, "
             "c CHAR(10), vc VARCHAR(300), l1 VARCHAR(20) CHARACTER SET latin1, "
             "bin BINARY(6), vb VARBINARY(20), tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, "
             "tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, e ENUM('red','green','it''s'), "
             "st SET('a','b','c','d'), b1 BIT(1), b10 BIT(10), b64 BIT(64), j JSON, "
             "g GEOMETRY, p POINT, u UUID, i6 INET6, i4 INET4) ENGINE=InnoDB "
             "DEFAULT CHARSET=utf8mb4");
    sql_exec(&s, "SELECT @@global.gtid_binlog_pos");
    char before[4096];
    snprintf(before, sizeof before, "%s", sql_cell(&s, 0, 0) ? sql_cell(&s, 0, 0) : "");
    sql_exec(&s,
             "INSERT INTO " DB ".types VALUES "
             "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
             "-9223372036854775808, 18446744073709551615, 1.2345678, 0.30000000000000004, "
             "-12345678.90, -0.000000000000000000000000000001, 99999, '2024-02-29', "
             "'1999-12-31 23:59:59', '2000-01-01 00:00:00.000001', '2038-01-19 03:14:07', "
             "'1970-01-01 00:00:01.5', '-838:59:59', '12:34:56.7891', 2155, 'abc', "
             "'caf\xc3\xa9 \xf0\x9f\x98\x80', 'caf\xc3\xa9', 'ab', X'00FF00', 'tiny', 'text', "
             "'medium', 'long', X'01', X'0203', X'', X'FF', 'it''s', 'a,d', b'1', b'1010101010', "
             "b'1111111111111111111111111111111111111111111111111111111111111111', "
             "'{\"k\": [1, 2.5, \"x\"]}', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 3)'), "
             "ST_GeomFromText('POINT(1.5 -2.5)'), '12345678-9abc-1ef0-9234-56789abcdef0', "
             "'2001:db8::ff00:42:8329', '192.168.0.1'),"
             "(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, "
             "-3.4028234e38, -1.7976931348623157e308, 0.00, 1.5, -99999, '1000-01-01', "
             "'9999-12-31 23:59:59', '1000-01-01 00:00:00.999999', '1970-01-01 00:00:01', "
             "'2038-01-19 03:14:07.999', '838:59:59', '-00:00:00.0001', 1901, '', '', '', "
             "'', '', '', '', '', '', '', '', '', '', 'green', '', b'0', b'0', b'0', '[]', "
             "ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 0))'), ST_GeomFromText('POINT(0 0)'), "
             "'00000000-0000-0000-0000-000000000000', '::', '0.0.0.0'),"
             "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
             "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
             "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
             "NULL, NULL, NULL, NULL, NULL, NULL),"
             "(4, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 5e-324, 0.01, 0, 0, '0000-00-00', "
             "'0000-00-00 00:00:00', '2024-06-30 12:00:00.5', '2024-06-30 12:00:00', "
             "'2001-02-03 04:05:06.789', '00:00:00', '23:59:59.9999', 0, 'x  ', 'trailing  ', "
             "'\xc3\xbf', X'000000', X'00', 'a', 'b', 'c', 'd', X'00', X'0000', X'000000', "
             "X'00000000', 'red', 'a,b,c,d', b'0', b'1', b'1', '{\"a\": {\"b\": null}}', "
             "ST_GeomFromText('POINT(3 4)'), ST_GeomFromText('POINT(-1 -1)'), "
             "'ffffffff-ffff-1fff-bfff-ffffffffffff', 'ffff::1', '255.255.255.255')");
    /* ENUM of 300 members (2 storage bytes), SET of 20 (3 bytes). */
    char members[8192];
    size_t used = 0;
    for (int k = 0; k < 300; k++)
        used += (size_t)snprintf(members + used, sizeof members - used, "%s'v%d'", k ? "," : "", k);
    sql_exec(&s, "ALTER TABLE " DB ".types ADD COLUMN e2 ENUM(%s) DEFAULT 'v7'", members);
    used = 0;
    for (int k = 0; k < 20; k++)
        used += (size_t)snprintf(members + used, sizeof members - used, "%s'm%d'", k ? "," : "", k);
    sql_exec(&s, "ALTER TABLE " DB ".types ADD COLUMN st3 SET(%s) DEFAULT 'm1'", members);
    sql_exec(&s, "UPDATE " DB ".types SET e2 = 'v299', st3 = 'm0,m18,m19' WHERE id IN (1, 4)");
    sql_exec(&s, "UPDATE " DB ".types SET e2 = NULL, st3 = '' WHERE id IN (2, 3)");
    sql_close(&s);

    types_state ts;
    memset(&ts, 0, sizeof ts);
    run r = {.user = &ts, .row = types_row};
    static const char *const tables[] = {DB ".types"};
    /* Keep the snapshot's column descriptions alive for the comparison: run
     * it by hand instead of snapshot_run. */
    struct event_base *base = event_base_new();
    tf_snapshot_options opt = {0};
    assert_true(server_options(&opt.conn));
    opt.tables = tables;
    opt.table_count = 1;
    opt.chunk_rows = 3; /* two chunks */
    opt.cb.on_position = run_on_position;
    opt.cb.on_row = run_on_row;
    opt.cb.on_done = run_on_done;
    opt.arg = &r;
    tf_error err = {0};
    tf_snapshot *snap = tf_snapshot_new(base, &opt, &err);
    assert_non_null(snap);
    assert_true(tf_snapshot_start(snap, &err));
    while (!r.done)
        event_base_loop(base, EVLOOP_ONCE);
    if (r.failed)
        fail_msg("snapshot: %s", r.err.message);
    assert_int_equal(r.rows, TYPE_ROWS);

    /* The binlog from before the INSERT: the same four rows, decoded. */
    stream st = {.user = &ts, .table = "types", .change = types_change};
    tf_snapshot_position from = {.flavour = TF_FLAVOUR_MARIADB, .gtid = before};
    stream_run(&st, &from);
    assert_int_equal(ts.binlog_rows, 2 * TYPE_ROWS); /* inserts, then updates */
    for (int id = 1; id <= TYPE_ROWS; id++) {
        assert_true(ts.have_binlog[id]);
        if (!bson_equal(&ts.binlog[id], &ts.snap[id])) {
            char *want = bson_as_relaxed_extended_json(&ts.binlog[id], NULL);
            char *got = bson_as_relaxed_extended_json(&ts.snap[id], NULL);
            fail_msg("row %d differs:\n binlog   %s\n snapshot %s", id, want, got);
        }
    }
    tf_snapshot_destroy(snap);
    event_base_free(base);
    for (int i = 1; i <= TYPE_ROWS; i++) {
        bson_destroy(&ts.snap[i]);
        bson_destroy(&ts.binlog[i]);
    }
}

/* ====================================================================================== */
/* (c) the boundary under a concurrent writer                                             */

#define WRITER_SECONDS 4
#define INITIAL_ROWS 3000
#define MAX_ID 1000000

typedef struct model_row {
    bool present;
    int64_t ver;
    int64_t val;
} model_row;

typedef struct model {
    model_row *rows; /* by id */
    uint64_t inserts, updates, deletes;
    char problem[512];
} model;

static void model_problem(model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void model_problem(model *m, const char *fmt, ...)
{
    if (m->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->problem, sizeof m->problem, fmt, ap);
    va_end(ap);
}

static bool model_snapshot_row(run *r, const tf_snapshot_table *t, const tf_value *v, tf_error *err)
{
    model *m = r->user;
    (void)t;
    (void)err;
    int64_t id = value_int(&v[0]);
    assert_true(id > 0 && id < MAX_ID);
    if (m->rows[id].present)
        model_problem(m, "snapshot gave id %" PRId64 " twice", id);
    m->rows[id] = (model_row){true, value_int(&v[1]), value_int(&v[2])};
    return true;
}

/* Applies one change; the before image must be the model's row exactly: a
 * change lost across the boundary, or one applied twice (in the snapshot and
 * again from the stream), breaks that at once. */
static void model_change(stream *st, const tf_replica_row *row)
{
    model *m = st->user;
    const tf_value *b = row->before, *a = row->after;
    int64_t id = value_int(b ? &b[0] : &a[0]);
    assert_true(id > 0 && id < MAX_ID);
    model_row *mr = &m->rows[id];
    switch (row->kind) {
    case TF_ROWS_WRITE:
        if (mr->present)
            model_problem(m, "insert of id %" PRId64 " which the model has (applied twice)", id);
        *mr = (model_row){true, value_int(&a[1]), value_int(&a[2])};
        m->inserts++;
        break;
    case TF_ROWS_UPDATE:
        if (!mr->present || mr->ver != value_int(&b[1]) || mr->val != value_int(&b[2]))
            model_problem(m,
                          "update of id %" PRId64 " from ver %" PRId64 " but the model has %s ver "
                          "%" PRId64,
                          id, value_int(&b[1]), mr->present ? "" : "no row,", mr->ver);
        if (value_int(&a[1]) != value_int(&b[1]) + 1)
            model_problem(m, "update of id %" PRId64 " skips a version", id);
        *mr = (model_row){true, value_int(&a[1]), value_int(&a[2])};
        m->updates++;
        break;
    case TF_ROWS_DELETE:
        if (!mr->present || mr->ver != value_int(&b[1]))
            model_problem(m, "delete of id %" PRId64 " the model %s", id,
                          mr->present ? "has at another version" : "does not have");
        mr->present = false;
        m->deletes++;
        break;
    default: model_problem(m, "unexpected rows kind %d", (int)row->kind);
    }
}

/* The writer: small transactions of inserts (new ids), updates (version + 1)
 * and deletes, as fast as the server takes them, for WRITER_SECONDS. */
static void writer_main(void)
{
    sql s;
    sql_open(&s);
    uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15u + 1;
    int64_t next_id = INITIAL_ROWS + 1;
    double end = tf_now() + WRITER_SECONDS;
    while (tf_now() < end) {
        int ops = 1 + (int)(rng % 4);
        bool txn = ops > 1;
        if (txn)
            sql_exec(&s, "BEGIN");
        for (int k = 0; k < ops; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            int64_t target = 1 + (int64_t)(rng % (uint64_t)next_id);
            switch (rng % 10) {
            case 0:
            case 1:
            case 2:
                sql_exec(&s, "INSERT INTO " DB ".w VALUES (%" PRId64 ", 0, %" PRId64 ")", next_id,
                         next_id * 7);
                next_id++;
                break;
            case 3: sql_exec(&s, "DELETE FROM " DB ".w WHERE id = %" PRId64, target); break;
            default:
                sql_exec(&s,
                         "UPDATE " DB ".w SET ver = ver + 1, val = val + %d WHERE id = %" PRId64,
                         (int)(rng % 100), target);
                break;
            }
        }
        if (txn)
            sql_exec(&s, "COMMIT");
    }
    sql_close(&s);
}

static void test_snapshot_then_stream_loses_and_duplicates_nothing_under_a_writer(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    sql s;
    sql_open(&s);
    sql_exec(&s, "CREATE DATABASE IF NOT EXISTS " DB);
    sql_exec(&s, "USE " DB);
    sql_exec(&s, "DROP TABLE IF EXISTS " DB ".w");
    sql_exec(&s, "CREATE TABLE " DB ".w (id BIGINT NOT NULL PRIMARY KEY, ver INT NOT NULL, "
                 "val BIGINT NOT NULL) ENGINE=InnoDB");
    sql_exec(&s, "INSERT INTO " DB ".w SELECT seq, 0, seq FROM seq_1_to_%d", INITIAL_ROWS);
    sql_close(&s);

    fflush(NULL);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        writer_main();
        _exit(0);
    }
    usleep(500 * 1000); /* the writer is in full swing */

    model m = {0};
    m.rows = calloc(MAX_ID, sizeof *m.rows);
    assert_non_null(m.rows);
    run r = {.user = &m, .row = model_snapshot_row};
    static const char *const tables[] = {DB ".w"};
    /* Small chunks: the snapshot spans many of the writer's commits. */
    snapshot_run(&r, tables, 1, 50);
    if (r.failed)
        fail_msg("snapshot: %s", r.err.message);
    assert_true(r.position_before_rows);

    int status = 0;
    waitpid(writer, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    stream st = {.user = &m, .table = "w", .change = model_change};
    tf_snapshot_position from = {.flavour = TF_FLAVOUR_MARIADB, .gtid = r.gtid};
    stream_run(&st, &from);
    if (m.problem[0])
        fail_msg("%s", m.problem);
    /* The writer ran for seconds after the snapshot started: the stream
     * must have carried changes of every kind. */
    assert_true(m.inserts > 0 && m.updates > 0 && m.deletes > 0);

    sql_open(&s);
    sql_exec(&s, "SELECT id, ver, val FROM " DB ".w ORDER BY id");
    size_t rows = s.q.result.rows, model_rows = 0;
    for (size_t i = 0; i < MAX_ID; i++)
        model_rows += m.rows[i].present;
    for (size_t i = 0; i < rows; i++) {
        int64_t id = strtoll(sql_cell(&s, i, 0), NULL, 10);
        int64_t ver = strtoll(sql_cell(&s, i, 1), NULL, 10);
        int64_t val = strtoll(sql_cell(&s, i, 2), NULL, 10);
        if (!m.rows[id].present || m.rows[id].ver != ver || m.rows[id].val != val)
            fail_msg("id %" PRId64 ": table has ver %" PRId64 " val %" PRId64
                     ", model %s ver %" PRId64 " val %" PRId64,
                     id, ver, val, m.rows[id].present ? "" : "(absent)", m.rows[id].ver,
                     m.rows[id].val);
    }
    assert_int_equal(model_rows, rows);
    print_message("snapshot %" PRIu64 " rows at %s; then %" PRIu64 " inserts, %" PRIu64
                  " updates, %" PRIu64 " deletes streamed; %zu rows at the end\n",
                  r.rows, r.gtid, m.inserts, m.updates, m.deletes, rows);
    sql_close(&s);
    free(m.rows);
}

/* ====================================================================================== */
/* errors                                                                                 */

static bool no_row(run *r, const tf_snapshot_table *t, const tf_value *v, tf_error *err)
{
    (void)r;
    (void)t;
    (void)v;
    (void)err;
    return true;
}

static void test_snapshot_refuses_a_table_without_primary_key(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    sql s;
    sql_open(&s);
    sql_exec(&s, "CREATE DATABASE IF NOT EXISTS " DB);
    sql_exec(&s, "USE " DB);
    sql_exec(&s, "DROP TABLE IF EXISTS " DB ".nokey");
    sql_exec(&s, "CREATE TABLE " DB ".nokey (a INT, b INT) ENGINE=InnoDB");
    sql_close(&s);
    run r = {.row = no_row};
    static const char *const tables[] = {DB ".nokey"};
    snapshot_run(&r, tables, 1, 10);
    assert_true(r.failed);
    assert_string_equal(r.err.message,
                        "snapshot: table " DB ".nokey has no primary key: the snapshot reads in "
                        "key order and the view addresses rows by key; add a PRIMARY KEY");
}

static void test_snapshot_refuses_a_missing_table(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    run r = {.row = no_row};
    static const char *const tables[] = {DB ".does_not_exist"};
    snapshot_run(&r, tables, 1, 10);
    assert_true(r.failed);
    assert_string_equal(r.err.message, "snapshot: table " DB ".does_not_exist does not exist (or "
                                       "this user may not see it)");
}

static void test_snapshot_rejects_a_table_name_without_database(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    tf_snapshot_options opt = {0};
    static const char *const tables[] = {"orders"};
    opt.tables = tables;
    opt.table_count = 1;
    opt.cb.on_row =
        (bool (*)(tf_snapshot *, const tf_snapshot_table *, const tf_value *, void *, tf_error *))1;
    opt.cb.on_done = (void (*)(tf_snapshot *, const tf_error *, void *))1;
    tf_error err = {0};
    assert_null(tf_snapshot_new(base, &opt, &err));
    assert_string_equal(err.message, "snapshot: table 'orders' is not of the form db.table");
    event_base_free(base);
}

/* ====================================================================================== */
/* re-sync reads: start_after, max_rows, key_rows, no_position                             */

#define DB2 "tf_snapshot_resync_test"
#define RESYNC_MAX_ROWS 64
#define RESYNC_MAX_KEY 12

/* A row's primary key, copied out of on_row (its values borrow). */
typedef struct saved_key {
    size_t count;
    tf_value v[RESYNC_MAX_KEY];
    uint8_t bytes[RESYNC_MAX_KEY][64];
} saved_key;

/* What re-sync snapshots delivered, across runs. */
typedef struct resync {
    bool done, failed;
    tf_error err;
    int positions;
    bool position_before_rows;
    tf_snapshot_position pos; /* strings not kept: only whether they were NULL */
    bool gtid_null, file_null;
    int tables_done;
    bool exhausted;
    size_t rows;
    int64_t ids[RESYNC_MAX_ROWS];
    saved_key keys[RESYNC_MAX_ROWS];
} resync;

static void resync_on_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    resync *r = arg;
    (void)s;
    r->positions++;
    r->pos = *pos;
    r->gtid_null = pos->gtid == NULL;
    r->file_null = pos->file == NULL;
    r->position_before_rows = true;
}

static bool resync_on_row(tf_snapshot *s, const tf_snapshot_table *t, const tf_value *v, void *arg,
                          tf_error *err)
{
    resync *r = arg;
    (void)s;
    assert_true(r->positions == 1);
    if (r->rows == RESYNC_MAX_ROWS) {
        /* A key that does not compare as its column re-reads rows: stop. */
        tf_error_set(err, TF_ERR_CONFIG, 0, "more than %d rows: rows are read again",
                     RESYNC_MAX_ROWS);
        return false;
    }
    size_t id = 0;
    while (id < t->column_count && strcmp(t->columns[id].name.ptr, "id") != 0)
        id++;
    assert_true(id < t->column_count);
    r->ids[r->rows] = value_int(&v[id]);
    saved_key *k = &r->keys[r->rows];
    assert_true(t->key_count <= RESYNC_MAX_KEY);
    k->count = t->key_count;
    for (size_t i = 0; i < t->key_count; i++) {
        k->v[i] = v[t->key_columns[i]];
        if (k->v[i].kind == TF_VAL_STRING || k->v[i].kind == TF_VAL_BYTES) {
            assert_true(k->v[i].bytes.len <= sizeof k->bytes[i]);
            memcpy(k->bytes[i], k->v[i].bytes.ptr, k->v[i].bytes.len);
            k->v[i].bytes.ptr = k->bytes[i];
        }
    }
    r->rows++;
    return true;
}

static void resync_on_table_done(tf_snapshot *s, const tf_snapshot_table *t, void *arg)
{
    (void)s;
    (void)t;
    ((resync *)arg)->tables_done++;
}

static void resync_on_done(tf_snapshot *s, const tf_error *err, void *arg)
{
    resync *r = arg;
    (void)s;
    r->done = true;
    if (err != NULL) {
        r->failed = true;
        r->err = *err;
    }
}

/* One snapshot of `table` with opt's re-sync fields; returns the rows it
 * delivered (r keeps adding them up). */
static size_t resync_run(resync *r, const char *table, tf_snapshot_options opt)
{
    struct event_base *base = event_base_new();
    assert_true(server_options(&opt.conn));
    const char *tables[] = {table};
    opt.tables = tables;
    opt.table_count = 1;
    opt.cb.on_position = resync_on_position;
    opt.cb.on_row = resync_on_row;
    opt.cb.on_table_done = resync_on_table_done;
    opt.cb.on_done = resync_on_done;
    opt.arg = r;
    r->done = r->failed = false;
    r->positions = 0;
    r->tables_done = 0;
    r->exhausted = false;
    size_t before = r->rows;
    tf_error err = {0};
    tf_snapshot *s = tf_snapshot_new(base, &opt, &err);
    if (s == NULL)
        fail_msg("tf_snapshot_new: %s", err.message);
    assert_true(tf_snapshot_start(s, &err));
    while (!r->done)
        event_base_loop(base, EVLOOP_ONCE);
    if (!r->failed)
        r->exhausted = tf_snapshot_exhausted(s);
    tf_snapshot_destroy(s);
    event_base_free(base);
    return r->rows - before;
}

/* The ids of `table` in the server's ORDER BY of `order`. */
static size_t server_ids(const char *table, const char *order, int64_t *ids, size_t cap)
{
    sql s;
    sql_open(&s);
    sql_exec(&s, "SELECT id FROM " DB2 ".%s ORDER BY %s", table, order);
    size_t n = s.q.result.rows;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        ids[i] = strtoll(sql_cell(&s, i, 0), NULL, 10);
    sql_close(&s);
    return n;
}

/* The tables of the re-sync tests, made afresh:
 *   seq  25 rows, INT key (ids 3, 6, ..., 75)
 *   ci   (INT, VARCHAR utf8mb4_general_ci) key: mixed case and non-ASCII
 *        strings, whose collation order is not their byte order
 *   kt   a 12-column key of every type a key may have, with ties on every
 *        prefix, TIMESTAMPs written from a +05:30 session */
static void resync_tables(void)
{
    sql s;
    sql_open(&s);
    sql_exec(&s, "CREATE DATABASE IF NOT EXISTS " DB2);
    sql_exec(&s, "USE " DB2); /* for the seq_ tables */
    sql_exec(&s, "DROP TABLE IF EXISTS " DB2 ".seq, " DB2 ".ci, " DB2 ".kt");
    sql_exec(&s, "CREATE TABLE " DB2 ".seq (id INT NOT NULL PRIMARY KEY, v VARCHAR(10)) "
                 "ENGINE=InnoDB");
    sql_exec(&s, "INSERT INTO " DB2 ".seq SELECT seq * 3, CONCAT('v', seq) FROM seq_1_to_25");
    sql_exec(&s, "CREATE TABLE " DB2 ".ci (a INT NOT NULL, b VARCHAR(20) NOT NULL, "
                 "id INT NOT NULL UNIQUE, PRIMARY KEY (a, b)) ENGINE=InnoDB "
                 "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci");
    sql_exec(&s, "INSERT INTO " DB2 ".ci (a, b, id) VALUES "
                 "(1, 'alpha', 1), (1, 'Beta', 2), (1, 'gamma', 3), (1, 'Delta', 4), "
                 "(1, '\xc3\xa9psilon', 5), (1, 'Zeta', 6), (1, '\xc3\x89TA', 7), "
                 "(1, 'theta', 8), (1, '\xce\x99\xcf\x8e\xcf\x84\xce\xb1', 9), (1, 'kappa', 10), "
                 "(1, '\xc3\x84rger', 11), (1, '\xc3\xb6lig', 12), (1, '\303\234ber', 13), "
                 "(2, 'alpha', 14), (2, 'Beta', 15), (2, 'gamma', 16), (2, 'Delta', 17), "
                 "(2, '\xc3\xa9psilon', 18), (2, 'Zeta', 19), (2, '\xc3\x89TA', 20), "
                 "(2, 'theta', 21), (2, '\xce\x99\xcf\x8e\xcf\x84\xce\xb1', 22), (2, 'kappa', 23), "
                 "(2, '\xc3\x84rger', 24), (2, '\xc3\xb6lig', 25), (2, '\303\234ber', 26)");
    sql_exec(&s, "CREATE TABLE " DB2 ".kt (y YEAR NOT NULL, d DATE NOT NULL, "
                 "ts TIMESTAMP(3) NOT NULL DEFAULT '2001-01-01', dt DATETIME(6) NOT NULL, "
                 "tm TIME(2) NOT NULL, dec1 DECIMAL(8,2) NOT NULL, u BIGINT UNSIGNED NOT NULL, "
                 "db DOUBLE NOT NULL, bt BIT(5) NOT NULL, bin BINARY(4) NOT NULL, "
                 "c CHAR(5) CHARACTER SET latin1 NOT NULL, id INT NOT NULL, "
                 "PRIMARY KEY (y, d, ts, dt, tm, dec1, u, db, bt, bin, c, id)) ENGINE=InnoDB");
    sql_exec(&s, "SET time_zone = '+05:30'");
    /* Column j takes one of two values by bit j % 5 of seq: rows tie on
     * every prefix of the key (seq and seq + 32 on all but id). */
    sql_exec(&s, "INSERT INTO " DB2 ".kt SELECT IF(seq & 1, 1901, 2155), "
                 "IF(seq & 2, '1000-01-01', '2024-02-29'), "
                 "IF(seq & 4, '2038-01-19 03:14:07.999', '2001-02-03 04:05:06.789'), "
                 "IF(seq & 8, '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.000002'), "
                 "IF(seq & 16, '-01:00:00.25', '12:34:56.78'), IF(seq & 1, -12.50, 7.00), "
                 "IF(seq & 2, 18446744073709551615, 5), IF(seq & 4, -1e300, 0.30000000000000004), "
                 "IF(seq & 8, b'1', b'10101'), IF(seq & 16, X'00', X'FF00'), "
                 "IF(seq & 1, '\xc3\xa4', 'Z'), seq FROM seq_0_to_39");
    sql_close(&s);
}

#define KT_ORDER "y, d, ts, dt, tm, dec1, u, db, bt, bin, c, id"

/* Reads `table` a snapshot at a time, each max_rows rows after the last
 * key of the one before; chunk sizes and exhausted flags into the arrays. */
static int resync_in_rounds(resync *r, const char *table, uint64_t max_rows, size_t chunk_rows,
                            size_t *sizes, bool *exhausted, int max_rounds)
{
    int rounds = 0;
    for (; rounds < max_rounds; rounds++) {
        tf_snapshot_options opt = {0};
        opt.chunk_rows = chunk_rows;
        opt.max_rows = max_rows;
        if (r->rows > 0) {
            /* The previous snapshot is gone: start_after is copied. */
            opt.start_after = r->keys[r->rows - 1].v;
            opt.start_after_count = r->keys[r->rows - 1].count;
        }
        sizes[rounds] = resync_run(r, table, opt);
        if (r->failed)
            fail_msg("round %d: %s", rounds, r->err.message);
        exhausted[rounds] = r->exhausted;
        /* on_table_done means read whole: only on the last round. */
        assert_int_equal(r->tables_done, r->exhausted ? 1 : 0);
        if (r->exhausted)
            return rounds + 1;
    }
    fail_msg("%s: not exhausted after %d rounds", table, max_rounds);
    return rounds;
}

/* Pages table in snapshots of max_rows (SELECTs of chunk_rows) and checks
 * what paging promises: every snapshot but the last is full, the last has
 * the rest, only the last says exhausted, and the rows are want's, in the
 * server's order, each once. r keeps what was read. */
static void assert_pages(resync *r, const char *table, uint64_t max_rows, size_t chunk_rows,
                         const int64_t *want, size_t n)
{
    size_t sizes[64];
    bool exhausted[64];
    int rounds = resync_in_rounds(r, table, max_rows, chunk_rows, sizes, exhausted, 64);
    size_t full = n / max_rows, rest = n % max_rows;
    assert_int_equal(rounds, full + (rest ? 1 : 0));
    for (int i = 0; i < rounds; i++) {
        assert_int_equal(sizes[i], i == rounds - 1 && rest ? rest : max_rows);
        assert_int_equal(exhausted[i], i == rounds - 1);
    }
    assert_int_equal(r->rows, n);
    assert_memory_equal(r->ids, want, n * sizeof want[0]);
}

static void test_resync_pages_a_table_in_max_rows_snapshots_after_the_last_key(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    int64_t want[RESYNC_MAX_ROWS];
    size_t n = server_ids("seq", "id", want, RESYNC_MAX_ROWS);
    assert_int_equal(n, 25);

    /* 10 rows a snapshot in SELECTs of 4: 4 + 4 + (2 and one more);
     * snapshots of 10, 10 and 5. */
    resync *r = calloc(1, sizeof *r);
    assert_pages(r, DB2 ".seq", 10, 4, want, n);

    /* 25 = 5 x 5: the fifth snapshot ends exactly on the last row and
     * knows it (the row past max_rows it asked for did not come). */
    memset(r, 0, sizeof *r);
    assert_pages(r, DB2 ".seq", 5, 1000, want, n);
    free(r);
}

static void test_resync_pages_a_case_insensitive_composite_key_in_collation_order(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    int64_t want[RESYNC_MAX_ROWS], bytewise[RESYNC_MAX_ROWS];
    size_t n = server_ids("ci", "a, b", want, RESYNC_MAX_ROWS);
    assert_int_equal(n, 26);
    /* The test means something only if byte order is another order. */
    server_ids("ci", "a, CAST(b AS BINARY)", bytewise, RESYNC_MAX_ROWS);
    assert_memory_not_equal(want, bytewise, n * sizeof want[0]);

    resync *r = calloc(1, sizeof *r);
    assert_pages(r, DB2 ".ci", 10, 3, want, n); /* 10, 10, 6 */
    free(r);
}

static tf_value int_value(int64_t i) { return (tf_value){.kind = TF_VAL_INT, .i = i}; }

static tf_value string_value(const char *text)
{
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)text;
    v.bytes.len = strlen(text);
    return v;
}

static void test_resync_key_mode_reads_exactly_the_rows_of_the_keys_that_exist(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    /* In the collation's order; other spellings of existing keys (case,
     * accents the collation ignores) find their rows; three keys match
     * nothing. Two keys per SELECT. */
    tf_value keys[] = {
        int_value(1), string_value("\xc3\xa4RGER"), /* 'Ärger', id 11 */
        int_value(1), string_value("BETA"),         /* 'Beta', id 2 */
        int_value(1), string_value("nope"),         /* none */
        int_value(2), string_value("alpha"),        /* id 14 */
        int_value(2), string_value("\xc3\x96LIG"),  /* 'ölig', id 25 */
        int_value(2), string_value("zz"),           /* none */
        int_value(3), string_value("alpha"),        /* none */
    };
    resync *r = calloc(1, sizeof *r);
    tf_snapshot_options opt = {0};
    opt.chunk_rows = 2;
    opt.key_rows = keys;
    opt.key_row_count = sizeof keys / sizeof keys[0] / 2;
    resync_run(r, DB2 ".ci", opt);
    if (r->failed)
        fail_msg("%s", r->err.message);
    static const int64_t want[] = {11, 2, 14, 25};
    assert_int_equal(r->rows, 4);
    assert_memory_equal(r->ids, want, sizeof want);
    assert_true(r->exhausted);
    assert_int_equal(r->tables_done, 1);

    /* No keys: no rows, and the read is whole. */
    memset(r, 0, sizeof *r);
    opt.key_row_count = 0;
    resync_run(r, DB2 ".ci", opt);
    assert_false(r->failed);
    assert_int_equal(r->rows, 0);
    assert_true(r->exhausted);
    free(r);
}

static void test_resync_every_key_type_pages_and_matches_by_key(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    int64_t want[RESYNC_MAX_ROWS];
    size_t n = server_ids("kt", KT_ORDER, want, RESYNC_MAX_ROWS);
    assert_int_equal(n, 40);

    /* Paging a row per SELECT, so that every row's key is a chunk's
     * start: every part compares as the server's ORDER BY orders it and
     * equals itself (YEAR, DATE, TIMESTAMP in UTC, DATETIME(6), negative
     * TIME, DECIMAL, unsigned BIGINT, a DOUBLE that needs 17 digits, BIT,
     * padded BINARY, latin1 Swedish CHAR). */
    resync *r = calloc(1, sizeof *r);
    assert_pages(r, DB2 ".kt", 7, 1, want, n); /* 5 x 7 + 5 */

    /* Key mode with the keys paging gave back: every one matches its row. */
    tf_value *keys = calloc(n * 12, sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->keys[i].count, 12);
        memcpy(&keys[i * 12], r->keys[i].v, 12 * sizeof *keys);
    }
    resync *k = calloc(1, sizeof *k);
    tf_snapshot_options opt = {0};
    opt.chunk_rows = 9;
    opt.key_rows = keys;
    opt.key_row_count = n;
    resync_run(k, DB2 ".kt", opt);
    if (k->failed)
        fail_msg("%s", k->err.message);
    assert_int_equal(k->rows, n);
    assert_memory_equal(k->ids, want, n * sizeof want[0]);
    free(k);
    free(keys);
    free(r);
}

static void test_resync_without_position_reports_no_position_and_reads(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    resync *r = calloc(1, sizeof *r);
    tf_snapshot_options opt = {0};
    opt.no_position = true;
    opt.chunk_rows = 7;
    assert_int_equal(resync_run(r, DB2 ".seq", opt), 25);
    if (r->failed)
        fail_msg("%s", r->err.message);
    assert_int_equal(r->positions, 1);
    assert_true(r->position_before_rows);
    assert_int_equal(r->pos.flavour, TF_FLAVOUR_MARIADB);
    assert_true(r->gtid_null);
    assert_true(r->file_null);
    assert_int_equal(r->pos.pos, 0);
    assert_true(r->exhausted);

    /* With max_rows and start_after as well. */
    size_t before = r->rows;
    opt.max_rows = 10;
    opt.start_after = r->keys[4].v; /* id 15 */
    opt.start_after_count = 1;
    assert_int_equal(resync_run(r, DB2 ".seq", opt), 10);
    assert_false(r->failed);
    assert_true(r->gtid_null);
    assert_int_equal(r->ids[before], 18);
    assert_int_equal(r->ids[before + 9], 45);
    assert_false(r->exhausted);
    free(r);
}

static void test_collation_ids_name_the_charsets_the_server_gives(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    sql s;
    sql_open(&s);
    sql_exec(&s, "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS "
                 "WHERE ID IS NOT NULL ORDER BY ID");
    size_t n = s.q.result.rows;
    assert_true(n > 200);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)strtoul(sql_cell(&s, i, 0), NULL, 10);
        const char *name = tf_collation_charset_name(id);
        if (name == NULL || strcmp(name, sql_cell(&s, i, 1)) != 0)
            fail_msg("collation id %u: the server says %s, tf_collation_charset_name %s", id,
                     sql_cell(&s, i, 1), name ? name : "NULL");
    }
    sql_close(&s);
}

/* tf_snapshot_new's answer to opt (tables "a.b" x table_count). */
static const char *resync_refusal(tf_snapshot_options opt)
{
    static tf_error err;
    static const char *const tables[] = {"d.a", "d.b"};
    struct event_base *base = event_base_new();
    opt.tables = tables;
    opt.cb.on_row = resync_on_row;
    opt.cb.on_done = resync_on_done;
    memset(&err, 0, sizeof err);
    assert_null(tf_snapshot_new(base, &opt, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    event_base_free(base);
    return err.message;
}

static void test_resync_options_that_do_not_go_together_are_config_errors(void **state)
{
    (void)state;
    tf_value key[2] = {int_value(1), string_value("x")};
    tf_snapshot_options opt = {0};
    opt.table_count = 2;
    opt.start_after = key;
    opt.start_after_count = 1;
    assert_string_equal(resync_refusal(opt), "snapshot: start_after, max_rows and key_rows read a "
                                             "single table; 2 tables given");
    opt = (tf_snapshot_options){.table_count = 2, .max_rows = 5};
    assert_string_equal(resync_refusal(opt), "snapshot: start_after, max_rows and key_rows read a "
                                             "single table; 2 tables given");
    opt = (tf_snapshot_options){.table_count = 1, .start_after = key};
    assert_string_equal(resync_refusal(opt), "snapshot: start_after and start_after_count go "
                                             "together (the primary key's values and their "
                                             "number)");
    opt = (tf_snapshot_options){.table_count = 1, .key_row_count = 3};
    assert_string_equal(resync_refusal(opt), "snapshot: key_row_count is 3 but key_rows is NULL");
    opt = (tf_snapshot_options){
        .table_count = 1, .key_rows = key, .key_row_count = 1, .max_rows = 10};
    assert_string_equal(resync_refusal(opt),
                        "snapshot: key_rows reads the rows of given keys; start_after and "
                        "max_rows page through the table: use one or the other");
}

static void test_resync_keys_that_do_not_fit_the_primary_key_are_refused(void **state)
{
    (void)state;
    tf_conn_options probe;
    if (!server_options(&probe))
        skip();
    resync_tables();
    resync *r = calloc(1, sizeof *r);
    /* One value for a two-column key. */
    tf_value key[2] = {int_value(1), string_value("x")};
    tf_snapshot_options opt = {0};
    opt.start_after = key;
    opt.start_after_count = 1;
    resync_run(r, DB2 ".ci", opt);
    assert_true(r->failed);
    assert_int_equal(r->err.domain, TF_ERR_CONFIG);
    assert_string_equal(r->err.message,
                        "snapshot: start_after has 1 values but the primary key of " DB2 ".ci "
                        "has 2 columns (give the key columns' values in key order, as on_row "
                        "delivered them)");
    assert_int_equal(r->rows, 0);
    /* A number where the key has a string: it would compare as a number. */
    tf_value swapped[2] = {int_value(1), int_value(2)};
    opt = (tf_snapshot_options){.key_rows = swapped, .key_row_count = 1};
    resync_run(r, DB2 ".ci", opt);
    assert_true(r->failed);
    assert_string_equal(r->err.message, "snapshot: key_rows key 0: value 1 is not a value of " DB2
                                        ".ci's key column b (VARCHAR)");
    assert_int_equal(r->rows, 0);
    free(r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_rejects_a_table_name_without_database),
        cmocka_unit_test(test_snapshot_refuses_a_missing_table),
        cmocka_unit_test(test_snapshot_refuses_a_table_without_primary_key),
        cmocka_unit_test(test_snapshot_reads_a_large_table_in_key_order_in_chunks),
        cmocka_unit_test(test_snapshot_values_give_the_same_bson_as_the_binlog_for_every_type),
        cmocka_unit_test(test_snapshot_then_stream_loses_and_duplicates_nothing_under_a_writer),
        cmocka_unit_test(test_resync_options_that_do_not_go_together_are_config_errors),
        cmocka_unit_test(test_collation_ids_name_the_charsets_the_server_gives),
        cmocka_unit_test(test_resync_pages_a_table_in_max_rows_snapshots_after_the_last_key),
        cmocka_unit_test(test_resync_pages_a_case_insensitive_composite_key_in_collation_order),
        cmocka_unit_test(test_resync_key_mode_reads_exactly_the_rows_of_the_keys_that_exist),
        cmocka_unit_test(test_resync_every_key_type_pages_and_matches_by_key),
        cmocka_unit_test(test_resync_without_position_reports_no_position_and_reads),
        cmocka_unit_test(test_resync_keys_that_do_not_fit_the_primary_key_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
