/* test_replica_mysql.c — tf_replica's MySQL 8 path against a server:
 * tapflow-test-primary --flavor mysql (a child process) serving the real
 * MySQL 8 binlogs of ../shared/fixtures over COM_BINLOG_DUMP_GTID.
 *
 * What the replica delivers is compared with what the file holds, read
 * independently with tf_binlog_reader: the same transactions in the same
 * order, each with its GTID, its events (kind and offset, the events of a
 * TRANSACTION_PAYLOAD after it), its row count and its row changes (the
 * values as text). A few values are also asserted literally: the ones the
 * fixtures' statements wrote (tapflow-binlog prints them too).
 *
 * Covered: streaming from the empty set, resuming from a set that ends in
 * the middle of a file or has a hole, the resume position as the union of
 * the start set and what came, tagged GTIDs (8.4+), a TRANSACTION_PAYLOAD
 * transaction, a purged set and a diverged set (fatal, naming the GTIDs),
 * a server restart and a silent (stopped) server mid-stream.
 *
 * Skips when the fixtures folder is absent. */
#include "replica.h"

#include <bson/bson.h>
#include <event2/event.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define ENUM_SET "rust_mysql_common/mysql-enum-string-set.000001"
#define ENUM_UUID "93e95066-a2f4-11ec-9b69-9657f0ae95e2"
#define INVISIBLE "rust_mysql_common/binlog-invisible-columns.000001"
#define INVISIBLE_UUID "97c7af02-4c50-11ec-acd8-681842034964"
#define COMPRESSED "rust_mysql_common/transaction_compression.000001"
#define TAGGED "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001"
#define TAGGED_UUID "55778904-0299-11f1-b1b8-4ef0c4956feb"

#define MAX_TXNS 32
#define MAX_EVENTS 32

/* ---- the primary, a child process ------------------------------------------- */

typedef struct primary {
    pid_t pid;
    int port;
} primary;

static bool fixture_path(const char *fixture, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", TF_FIXTURES_DIR, fixture);
    if (access(path, R_OK) == 0)
        return true;
    print_message("fixture %s is absent (no ../shared/fixtures): skipping\n", path);
    return false;
}

/* Starts tapflow-test-primary --flavor mysql serving fixture, on port (0 =
 * any). false when the fixture is absent: the test skips. */
static bool primary_start_on(const char *fixture, int port, primary *p)
{
    char file[1024], port_text[16];
    if (!fixture_path(fixture, file, sizeof file))
        return false;
    snprintf(port_text, sizeof port_text, "%d", port);
    int out[2];
    assert_int_equal(pipe(out), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        /* Dies with the test even when a failed assertion skips
         * primary_stop. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (getenv("TF_TEST_VERBOSE") == NULL) {
            FILE *null = freopen("/dev/null", "w", stderr);
            (void)null;
        }
        execl(TF_TEST_PRIMARY, TF_TEST_PRIMARY, "--port", port_text, "--flavor", "mysql", "--user",
              "repl", "--password", "s3cret", "--heartbeat", "0.2", file, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t n = 0;
    while (n + 1 < sizeof line) {
        ssize_t got = read(out[0], line + n, 1);
        if (got <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || colon == NULL)
        fail_msg("%s did not start: '%s'", TF_TEST_PRIMARY, line);
    p->port = atoi(colon + 1);
    return true;
}

static bool primary_start(const char *fixture, primary *p)
{
    return primary_start_on(fixture, 0, p);
}

static void primary_stop(primary *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    int status;
    waitpid(p->pid, &status, 0);
    p->pid = 0;
}

/* ---- transactions as the test sees them --------------------------------------- */

typedef struct txn {
    char gtid[TF_REPLICA_GTID_TEXT_MAX]; /* "" for ANONYMOUS_GTID */
    size_t event_count;
    tf_event_kind kinds[MAX_EVENTS];
    uint64_t pos[MAX_EVENTS]; /* inner events: the payload event's offset */
    bool inner[MAX_EVENTS];
    size_t inner_offset[MAX_EVENTS];
    uint64_t rows;
    char *row_text; /* one line per row change */
    size_t row_text_len;
    int64_t commit_timestamp_us;
    /* replica only */
    bool is_ddl;
    char log_file[128];
    uint64_t start_pos, end_pos;
} txn;

typedef struct txn_list {
    txn items[MAX_TXNS];
    size_t count;
} txn_list;

static void txn_list_free(txn_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].row_text);
    l->count = 0;
}

static void append(txn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(txn *t, const char *fmt, ...)
{
    char piece[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof piece);
    t->row_text = realloc(t->row_text, t->row_text_len + (size_t)n + 1);
    memcpy(t->row_text + t->row_text_len, piece, (size_t)n + 1);
    t->row_text_len += (size_t)n;
}

static void append_image(txn *t, const char *label, const tf_table_map *map, const tf_value *values)
{
    if (values == NULL)
        return;
    append(t, " %s(", label);
    for (uint32_t c = 0; c < map->column_count; c++) {
        const tf_column *col = &map->columns[c];
        const char *name = col->name.len ? col->name.ptr : "?";
        int name_len = col->name.len ? (int)col->name.len : 1;
        if (values[c].kind == TF_VAL_ABSENT) {
            append(t, "%s%.*s=-", c ? "," : "", name_len, name);
            continue;
        }
        tf_error err = {0};
        size_t len = 0;
        char *text = tf_value_to_text(&values[c], col, &len, &err);
        if (text == NULL && err.domain != TF_ERR_NONE)
            fail_msg("column %.*s: %s", name_len, name, err.message);
        append(t, "%s%.*s=%s", c ? "," : "", name_len, name, text ? text : "NULL");
        bson_free(text);
    }
    append(t, ")");
}

static const char *const kind_names[] = {"insert", "update", "delete", "partial_update"};

static void append_row(txn *t, const tf_table_map *map, tf_rows_kind kind, const tf_value *before,
                       const tf_value *after)
{
    append(t, "%s %.*s.%.*s", kind_names[kind], (int)map->database.len, map->database.ptr,
           (int)map->table.len, map->table.ptr);
    append_image(t, "before", map, before);
    append_image(t, "after", map, after);
    append(t, "\n");
}

/* ---- the file, read with tf_binlog_reader -------------------------------------- */

typedef struct file_walk {
    txn_list *list;
    tf_table_maps *maps;
    txn *cur;
} file_walk;

static void file_event(file_walk *w, const tf_event *ev, uint64_t pos, bool inner, size_t offset)
{
    tf_error err = {0};
    if (ev->kind == TF_EVENT_GTID) {
        assert_true(w->list->count < MAX_TXNS);
        w->cur = &w->list->items[w->list->count++];
        memset(w->cur, 0, sizeof *w->cur);
        if (!ev->gtid.anonymous) {
            tf_gtid g = {.gno = (int64_t)ev->gtid.gno};
            memcpy(g.uuid, ev->gtid.sid, sizeof g.uuid);
            snprintf(g.tag, sizeof g.tag, "%s", ev->gtid.tag);
            tf_gtid_format(&g, w->cur->gtid, sizeof w->cur->gtid);
        }
        w->cur->commit_timestamp_us = (int64_t)ev->gtid.immediate_commit_timestamp;
    }
    switch (ev->kind) {
    case TF_EVENT_ROTATE:
    case TF_EVENT_FORMAT_DESCRIPTION:
    case TF_EVENT_PREVIOUS_GTIDS:
    case TF_EVENT_STOP:
    case TF_EVENT_HEARTBEAT: w->cur = NULL; return;
    default: break;
    }
    if (w->cur == NULL)
        return;
    txn *t = w->cur;
    assert_true(t->event_count < MAX_EVENTS);
    t->kinds[t->event_count] = ev->kind;
    t->pos[t->event_count] = pos;
    t->inner[t->event_count] = inner;
    t->inner_offset[t->event_count] = offset;
    t->event_count++;
    if (ev->kind == TF_EVENT_TABLE_MAP)
        assert_int_equal(tf_table_maps_add_event(w->maps, ev, &err), TF_OK);
    if (ev->kind == TF_EVENT_ROWS) {
        const tf_table_map *map;
        assert_int_equal(tf_table_maps_find(w->maps, ev, &map, &err), TF_OK);
        tf_rows_cursor cur;
        assert_int_equal(tf_rows_begin(&cur, ev, map, &err), TF_OK);
        tf_value *before = calloc(map->column_count + 1, sizeof *before);
        tf_value *after = calloc(map->column_count + 1, sizeof *after);
        while (tf_rows_has_next(&cur)) {
            if (tf_rows_next(&cur, before, after, &err) != TF_OK)
                fail_msg("rows: %s", err.message);
            tf_rows_kind kind = ev->rows.kind;
            append_row(t, map, kind, kind == TF_ROWS_WRITE ? NULL : before,
                       kind == TF_ROWS_DELETE ? NULL : after);
            t->rows++;
        }
        tf_rows_cleanup(&cur);
        free(before);
        free(after);
    }
}

/* Every transaction of the fixture, in file order. */
static void file_transactions(const char *fixture, txn_list *list)
{
    char path[1024];
    assert_true(fixture_path(fixture, path, sizeof path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(len);
    assert_int_equal(fread(data, 1, len, f), len);
    fclose(f);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, data, len, &err), TF_OK);
    file_walk w = {.list = list, .maps = tf_table_maps_new()};
    list->count = 0;
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &err) != TF_OK)
            fail_msg("%s: %s", fixture, err.message);
        uint64_t pos = r.event_offset;
        file_event(&w, &ev, pos, false, 0);
        if (ev.kind == TF_EVENT_TRANSACTION_PAYLOAD) {
            tf_payload_iter it;
            assert_int_equal(tf_payload_iter_init(&it, &ev, &r.fmt, 1u << 30, &err), TF_OK);
            while (tf_payload_iter_has_next(&it)) {
                size_t offset = it.pos;
                tf_event inner;
                assert_int_equal(tf_payload_iter_next(&it, &inner, &err), TF_OK);
                file_event(&w, &inner, pos, true, offset);
            }
            tf_payload_iter_cleanup(&it);
        }
    }
    tf_table_maps_destroy(w.maps);
    free(data);
}

/* ---- the replica ---------------------------------------------------------------- */

typedef struct run run;
typedef void (*run_hook)(run *x);

struct run {
    struct event_base *base;
    tf_replica *r;
    txn_list got;
    bool stopped;
    bool failed; /* on_stop with an error */
    tf_error err;
    bool timed_out;
    char position[2048];
    tf_replica_stats stats;
    tf_event_kind control[64]; /* on_event, heartbeats left out */
    size_t control_count;
    char logs[8192];
    /* optional, for the resilience tests */
    run_hook on_txn_hook;
    run_hook on_heartbeat_hook;
    void *hook_arg;
    double dead_detected_at; /* tf_now-like clock: CLOCK_MONOTONIC */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool on_transaction(tf_replica *r, const tf_replica_txn *t, void *arg, tf_error *err)
{
    run *x = arg;
    (void)r;
    if (x->got.count == MAX_TXNS) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "more than %d transactions", MAX_TXNS);
        return false;
    }
    txn *g = &x->got.items[x->got.count++];
    memset(g, 0, sizeof *g);
    if (t->flavour != TF_FLAVOUR_MYSQL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "transaction of flavour %d", (int)t->flavour);
        return false;
    }
    if (t->has_gtid != (t->gtid[0] != '\0')) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "has_gtid %d with gtid '%s'", t->has_gtid, t->gtid);
        return false;
    }
    snprintf(g->gtid, sizeof g->gtid, "%s", t->gtid);
    if (t->has_gtid) {
        /* The binary GTID formats to the same text. */
        char again[TF_REPLICA_GTID_TEXT_MAX];
        tf_gtid_format(&t->mysql_gtid, again, sizeof again);
        if (strcmp(again, t->gtid) != 0) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "mysql_gtid %s vs gtid %s", again, t->gtid);
            return false;
        }
    }
    g->is_ddl = t->is_ddl;
    g->commit_timestamp_us = t->commit_timestamp_us;
    snprintf(g->log_file, sizeof g->log_file, "%s", t->log_file ? t->log_file : "(null)");
    g->start_pos = t->start_pos;
    g->end_pos = t->end_pos;
    if (t->event_count > MAX_EVENTS) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "%zu events", t->event_count);
        return false;
    }
    for (size_t i = 0; i < t->event_count; i++) {
        const tf_replica_event *e = &t->events[i];
        g->kinds[i] = e->event.kind;
        g->pos[i] = e->pos;
        g->inner[i] = e->inner;
        g->inner_offset[i] = e->inner_offset;
    }
    g->event_count = t->event_count;

    /* The row changes, through the iterator. */
    tf_replica_rows it;
    tf_replica_rows_init(&it, t);
    uint64_t rows = 0, index_in_event = 0;
    const tf_replica_event *last_event = NULL;
    for (;;) {
        tf_replica_row row;
        bool done = false;
        if (tf_replica_rows_next(&it, &row, &done, err) != TF_OK) {
            tf_replica_rows_cleanup(&it);
            return false;
        }
        if (done)
            break;
        /* row_index counts within its rows event. */
        if (row.event != last_event)
            index_in_event = 0;
        last_event = row.event;
        if (row.row_index != index_in_event++) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "row_index %" PRIu64, row.row_index);
            tf_replica_rows_cleanup(&it);
            return false;
        }
        if (row.event == NULL || row.event->event.kind != TF_EVENT_ROWS ||
            row.event->table != row.table || row.kind != row.event->event.rows.kind ||
            (row.before == NULL) != (row.kind == TF_ROWS_WRITE) ||
            (row.after == NULL) != (row.kind == TF_ROWS_DELETE) || !row.before_full ||
            !row.after_full) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "row %" PRIu64 " is inconsistent", rows);
            tf_replica_rows_cleanup(&it);
            return false;
        }
        append_row(g, row.table, row.kind, row.before, row.after);
        rows++;
    }
    tf_replica_rows_cleanup(&it);
    g->rows = rows;
    if (x->on_txn_hook)
        x->on_txn_hook(x);
    return true;
}

static void on_event(tf_replica *r, const tf_replica_event *ev, void *arg)
{
    run *x = arg;
    (void)r;
    if (ev->event.kind == TF_EVENT_HEARTBEAT) {
        if (x->on_heartbeat_hook)
            x->on_heartbeat_hook(x);
        return;
    }
    if (x->control_count < sizeof x->control / sizeof x->control[0])
        x->control[x->control_count++] = ev->event.kind;
}

static void on_log(tf_replica *r, const char *message, void *arg)
{
    run *x = arg;
    (void)r;
    if (getenv("TF_TEST_VERBOSE"))
        print_message("replica: %s\n", message);
    if (strstr(message, "presumed dead") && x->dead_detected_at == 0)
        x->dead_detected_at = mono();
    size_t used = strlen(x->logs);
    snprintf(x->logs + used, sizeof x->logs - used, "%s\n", message);
}

static void on_stop(tf_replica *r, const tf_error *err, void *arg)
{
    run *x = arg;
    x->stopped = true;
    if (err != NULL) {
        x->failed = true;
        x->err = *err;
    }
    x->stats = *tf_replica_get_stats(r);
    tf_replica_position(r, x->position, sizeof x->position);
    event_base_loopbreak(x->base);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    run *x = arg;
    (void)fd;
    (void)what;
    x->timed_out = true;
    tf_replica_stop(x->r);
}

static void base_options(tf_replica_options *o, const primary *p, run *x)
{
    memset(o, 0, sizeof *o);
    o->conn.host = "127.0.0.1";
    o->conn.port = (uint16_t)p->port;
    o->conn.user = "repl";
    o->conn.password = "s3cret";
    o->conn.tls_mode = TF_TLS_DISABLED;
    o->conn.connect_timeout = 5;
    o->server_id = 4242;
    o->heartbeat_period = 0.2;
    o->reconnect_min_delay = 0.05;
    o->reconnect_max_delay = 0.5;
    o->stop_at_end = true;
    o->cb.on_transaction = on_transaction;
    o->cb.on_event = on_event;
    o->cb.on_log = on_log;
    o->cb.on_stop = on_stop;
    o->arg = x;
}

/* Runs the replica with o until it stops (or seconds pass). */
static void run_replica(run *x, const tf_replica_options *o, double seconds)
{
    x->base = event_base_new();
    assert_non_null(x->base);
    tf_replica_options opt = *o;
    opt.arg = x;
    tf_error err = {0};
    x->r = tf_replica_new(x->base, &opt, &err);
    if (x->r == NULL)
        fail_msg("tf_replica_new: %s", err.message);
    assert_true(tf_replica_start(x->r, &err));
    struct event *timeout = evtimer_new(x->base, timeout_cb, x);
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    evtimer_add(timeout, &tv);
    while (!x->stopped)
        event_base_dispatch(x->base);
    event_free(timeout);
    tf_replica_destroy(x->r);
    x->r = NULL;
    event_base_free(x->base);
    x->base = NULL;
}

/* Streams fixture from the GTID set start (stop_at_end). */
static bool stream_gtid(const char *fixture, const char *start, run *x)
{
    primary p;
    memset(x, 0, sizeof *x);
    if (!primary_start(fixture, &p))
        return false;
    tf_replica_options o;
    base_options(&o, &p, x);
    o.start = TF_REPLICA_START_GTID;
    o.gtid = start;
    run_replica(x, &o, 10);
    primary_stop(&p);
    return true;
}

static void assert_clean_end(const run *x)
{
    if (x->failed)
        fail_msg("the replica stopped with: %s", x->err.message);
    assert_false(x->timed_out);
}

/* got must be want's transactions whose GTID is not in skip (uuid:gnos
 * given as a 64-bit mask of gnos 1..63), in order, equal in everything the
 * file says. */
static void assert_transactions(const txn_list *got, const txn_list *want, uint64_t skip_mask,
                                const char *file_name)
{
    size_t g = 0;
    for (size_t i = 0; i < want->count; i++) {
        const txn *w = &want->items[i];
        const char *colon = strrchr(w->gtid, ':');
        long gno = colon ? atol(colon + 1) : 0;
        if (gno > 0 && gno < 64 && (skip_mask >> gno & 1))
            continue;
        if (g >= got->count)
            fail_msg("transaction %s (#%zu of the file) did not arrive", w->gtid, i + 1);
        const txn *t = &got->items[g++];
        assert_string_equal(t->gtid, w->gtid);
        assert_int_equal(t->event_count, w->event_count);
        for (size_t e = 0; e < w->event_count; e++) {
            assert_int_equal(t->kinds[e], w->kinds[e]);
            assert_int_equal(t->pos[e], w->pos[e]);
            assert_int_equal(t->inner[e], w->inner[e]);
            assert_int_equal(t->inner_offset[e], w->inner_offset[e]);
        }
        assert_int_equal(t->rows, w->rows);
        assert_string_equal(t->row_text ? t->row_text : "", w->row_text ? w->row_text : "");
        assert_int_equal(t->commit_timestamp_us, w->commit_timestamp_us);
        assert_string_equal(t->log_file, file_name);
        assert_int_equal(t->start_pos, w->pos[0]);
    }
    if (g != got->count)
        fail_msg("%zu transactions arrived, %zu expected", got->count, g);
}

static const char *base_name(const char *fixture)
{
    const char *slash = strrchr(fixture, '/');
    return slash ? slash + 1 : fixture;
}

/* ---- (a) from the empty set -------------------------------------------------------- */

static void check_from_empty_set(const char *fixture, const char *uuid)
{
    run x;
    if (!stream_gtid(fixture, "", &x)) {
        skip();
        return;
    }
    assert_clean_end(&x);
    txn_list want;
    file_transactions(fixture, &want);
    assert_int_equal(want.count, 5);
    assert_transactions(&x.got, &want, 0, base_name(fixture));
    assert_int_equal(x.got.count, 5);
    for (size_t i = 0; i < 5; i++) {
        char gtid[80];
        snprintf(gtid, sizeof gtid, "%s:%zu", uuid, i + 1);
        assert_string_equal(x.got.items[i].gtid, gtid);
    }
    /* 1: ALTER USER, 2: CREATE TABLE, then one row each. */
    assert_true(x.got.items[0].is_ddl);
    assert_true(x.got.items[1].is_ddl);
    assert_int_equal(x.got.items[0].rows + x.got.items[1].rows, 0);
    for (size_t i = 2; i < 5; i++) {
        assert_false(x.got.items[i].is_ddl);
        assert_int_equal(x.got.items[i].rows, 1);
        /* GTID, BEGIN, TABLE_MAP, rows, XID */
        assert_int_equal(x.got.items[i].event_count, 5);
        assert_int_equal(x.got.items[i].kinds[0], TF_EVENT_GTID);
        assert_int_equal(x.got.items[i].kinds[4], TF_EVENT_XID);
    }
    /* Transactions follow one another with no gap. */
    for (size_t i = 1; i < 5; i++)
        assert_int_equal(x.got.items[i].start_pos, x.got.items[i - 1].end_pos);
    char position[128];
    snprintf(position, sizeof position, "%s:1-5", uuid);
    assert_string_equal(x.position, position);
    assert_int_equal(x.stats.transactions, 5);
    assert_int_equal(x.stats.duplicates_skipped, 0);
    assert_int_equal(x.stats.partial_discarded, 0);
    assert_int_equal(x.stats.connects, 1);
    /* Outside transactions: the artificial ROTATE, the FDE, PREVIOUS_GTIDS. */
    assert_true(x.control_count >= 3);
    assert_int_equal(x.control[0], TF_EVENT_ROTATE);
    assert_int_equal(x.control[1], TF_EVENT_FORMAT_DESCRIPTION);
    assert_int_equal(x.control[2], TF_EVENT_PREVIOUS_GTIDS);
    txn_list_free(&want);
    txn_list_free(&x.got);
}

static void test_enum_set_file_streams_whole_from_empty_set(void **state)
{
    (void)state;
    check_from_empty_set(ENUM_SET, ENUM_UUID);
}

static void test_invisible_columns_file_streams_whole_from_empty_set(void **state)
{
    (void)state;
    check_from_empty_set(INVISIBLE, INVISIBLE_UUID);
}

/* ---- (b), (c) resume and position ------------------------------------------------- */

static void check_resume(const char *fixture, const char *start, uint64_t skip_mask,
                         const char *want_gtids, const char *want_position)
{
    run x;
    if (!stream_gtid(fixture, start, &x)) {
        skip();
        return;
    }
    assert_clean_end(&x);
    txn_list want;
    file_transactions(fixture, &want);
    assert_transactions(&x.got, &want, skip_mask, base_name(fixture));
    char gtids[512] = "";
    for (size_t i = 0; i < x.got.count; i++) {
        size_t used = strlen(gtids);
        snprintf(gtids + used, sizeof gtids - used, "%s%s", i ? " " : "", x.got.items[i].gtid);
    }
    assert_string_equal(gtids, want_gtids);
    assert_string_equal(x.position, want_position);
    assert_int_equal(x.stats.duplicates_skipped, 0);
    txn_list_free(&want);
    txn_list_free(&x.got);
}

static void test_resume_mid_file_delivers_exactly_the_rest(void **state)
{
    (void)state;
    check_resume(INVISIBLE, INVISIBLE_UUID ":1-3", 0xe, INVISIBLE_UUID ":4 " INVISIBLE_UUID ":5",
                 INVISIBLE_UUID ":1-5");
}

static void test_resume_mid_file_enum_set(void **state)
{
    (void)state;
    check_resume(ENUM_SET, ENUM_UUID ":1-3", 0xe, ENUM_UUID ":4 " ENUM_UUID ":5", ENUM_UUID ":1-5");
}

/* A set with a hole: the transaction in the hole comes, the others not. */
static void test_resume_from_set_with_hole_fills_it(void **state)
{
    (void)state;
    check_resume(ENUM_SET, ENUM_UUID ":1-2:4", 0x16, ENUM_UUID ":3 " ENUM_UUID ":5",
                 ENUM_UUID ":1-5");
}

/* Everything applied: nothing comes, the position stays. */
static void test_resume_at_end_delivers_nothing(void **state)
{
    (void)state;
    check_resume(ENUM_SET, ENUM_UUID ":1-5", 0x3e, "", ENUM_UUID ":1-5");
}

/* The position is the union of the start set (other sources included)
 * and every GTID delivered. */
static void test_position_is_union_of_start_set_and_delivered(void **state)
{
    (void)state;
    check_resume(ENUM_SET, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:1-10:20," ENUM_UUID ":1", 0x2,
                 ENUM_UUID ":2 " ENUM_UUID ":3 " ENUM_UUID ":4 " ENUM_UUID ":5",
                 ENUM_UUID ":1-5,aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:1-10:20");
}

/* MySQL 8.4+ tagged GTIDs: the file's PREVIOUS_GTIDS given, its one
 * transaction comes as uuid:tag:n and joins the set's tagged part. */
static void test_tagged_gtid_streams_and_joins_position(void **state)
{
    (void)state;
    check_resume(TAGGED, TAGGED_UUID ":1-13:mytag:1-2", 0, TAGGED_UUID ":mytag:3",
                 TAGGED_UUID ":1-13:mytag:1-3");
}

/* ---- (d) values ------------------------------------------------------------------- */

static void test_row_values_are_the_fixture_values(void **state)
{
    (void)state;
    run x;
    if (!stream_gtid(ENUM_SET, "", &x)) {
        skip();
        return;
    }
    assert_clean_end(&x);
    assert_int_equal(x.got.count, 5);
    /* The values the fixture's statements wrote: 100 digits; 298
     * characters made of two runs of 129 ("0123456789" x 12 + "012345678")
     * and 40 digits. */
    char digits100[101] = "", digits298[299] = "", run129[130] = "";
    for (int i = 0; i < 10; i++)
        strcat(digits100, "0123456789");
    for (int i = 0; i < 12; i++)
        strcat(run129, "0123456789");
    strcat(run129, "012345678");
    strcat(digits298, run129);
    strcat(digits298, run129);
    for (int i = 0; i < 4; i++)
        strcat(digits298, "0123456789");
    char want[4096];
    /* INSERT ... VALUES (100 digits, 300 chars, 'var1', 'one,three',
     * '0123456789') as tapflow-binlog shows it. */
    snprintf(want, sizeof want,
             "insert mysql.t after(f1=%s,f2=%s,f3=var1,f4=one,three,f5=0123456789)\n", digits100,
             digits298);
    assert_string_equal(x.got.items[2].row_text, want);
    snprintf(want, sizeof want,
             "update mysql.t before(f1=%s,f2=%s,f3=var1,f4=one,three,f5=0123456789) "
             "after(f1=field1,f2=field_2,f3=variant2,f4=two,four,f5=%s)\n",
             digits100, digits298, digits298);
    assert_string_equal(x.got.items[3].row_text, want);
    snprintf(want, sizeof want,
             "delete mysql.t before(f1=field1,f2=field_2,f3=variant2,f4=two,four,f5=%s)\n",
             digits298);
    assert_string_equal(x.got.items[4].row_text, want);
    txn_list_free(&x.got);

    if (!stream_gtid(INVISIBLE, "", &x)) {
        skip();
        return;
    }
    assert_clean_end(&x);
    assert_int_equal(x.got.count, 5);
    /* Invisible columns are in the binlog like the others. */
    assert_string_equal(x.got.items[2].row_text,
                        "insert mysql.t1 after(f1=1,f2=2,f3=-3,f4=4,f5=\x05,f6=6000000000)\n");
    assert_string_equal(x.got.items[3].row_text,
                        "insert mysql.t1 after(f1=NULL,f2=NULL,f3=-33,f4=44,f5=U,f6=NULL)\n");
    assert_string_equal(x.got.items[4].row_text,
                        "update mysql.t1 before(f1=NULL,f2=NULL,f3=-33,f4=44,f5=U,f6=NULL) "
                        "after(f1=111,f2=222,f3=-333,f4=444,f5=U,f6=NULL)\n");
    /* immediate_commit_timestamp of GTID 3, in microseconds. */
    assert_int_equal(x.got.items[2].commit_timestamp_us, INT64_C(1637667166684912));
    txn_list_free(&x.got);
}

/* ---- (e) TRANSACTION_PAYLOAD ------------------------------------------------------ */

static void test_transaction_payload_groups_inner_events(void **state)
{
    (void)state;
    primary p;
    run x;
    memset(&x, 0, sizeof x);
    if (!primary_start(COMPRESSED, &p)) {
        skip();
        return;
    }
    /* The file was written with gtid_mode OFF (ANONYMOUS_GTID): from a
     * file and position. */
    tf_replica_options o;
    base_options(&o, &p, &x);
    o.start = TF_REPLICA_START_FILE;
    o.file = "transaction_compression.000001";
    o.position = 4;
    run_replica(&x, &o, 10);
    primary_stop(&p);
    assert_clean_end(&x);
    txn_list want;
    file_transactions(COMPRESSED, &want);
    assert_int_equal(want.count, 1);
    assert_transactions(&x.got, &want, 0, "transaction_compression.000001");
    assert_int_equal(x.got.count, 1);
    const txn *t = &x.got.items[0];
    assert_string_equal(t->gtid, "");
    assert_false(t->is_ddl);
    /* ANONYMOUS_GTID, the payload, then its events: BEGIN, TABLE_MAP,
     * WRITE_ROWS, XID at their offsets in the uncompressed payload. */
    static const tf_event_kind kinds[] = {TF_EVENT_GTID,  TF_EVENT_TRANSACTION_PAYLOAD,
                                          TF_EVENT_QUERY, TF_EVENT_TABLE_MAP,
                                          TF_EVENT_ROWS,  TF_EVENT_XID};
    static const size_t offsets[] = {0, 0, 0, 71, 116, 152};
    assert_int_equal(t->event_count, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(t->kinds[i], kinds[i]);
        assert_int_equal(t->inner[i], i >= 2);
        assert_int_equal(t->inner_offset[i], offsets[i]);
        assert_int_equal(t->pos[i], i == 0 ? 197 : 274);
    }
    assert_int_equal(t->start_pos, 197);
    assert_int_equal(t->end_pos, 431);
    assert_int_equal(t->rows, 1);
    assert_string_equal(t->row_text, "insert test.tb1 after(?=1)\n");
    assert_int_equal(t->commit_timestamp_us, INT64_C(1695159109445737));
    assert_string_equal(x.position, "transaction_compression.000001:431");
    txn_list_free(&want);
    txn_list_free(&x.got);
}

/* ---- (f) purged and diverged sets --------------------------------------------------- */

static void check_fatal(const char *fixture, const char *start, uint32_t code, const char *message)
{
    run x;
    if (!stream_gtid(fixture, start, &x)) {
        skip();
        return;
    }
    assert_false(x.timed_out);
    assert_true(x.failed);
    assert_int_equal(x.err.domain, TF_ERR_SERVER);
    assert_int_equal(x.err.code, code);
    assert_string_equal(x.err.message, message);
    assert_int_equal(x.got.count, 0);
    assert_int_equal(x.stats.connects, 0);
    /* Fatal: no retry was scheduled. */
    assert_null(strstr(x.logs, "reconnecting"));
}

/* The file's PREVIOUS_GTIDS (the server's gtid_purged) is not in the set:
 * the replica names what it lacks before asking for the dump. */
static void test_purged_set_is_fatal_naming_missing_gtids(void **state)
{
    (void)state;
    check_fatal(TAGGED, "", 1789,
                "the empty GTID set is no longer on the server: it has purged "
                "the transactions " TAGGED_UUID ":1-13:mytag:1-2; restart with --resnapshot");
    check_fatal(TAGGED, TAGGED_UUID ":1-5:mytag:1", 1789,
                "GTID set " TAGGED_UUID ":1-5:mytag:1 is no longer on the "
                "server: it has purged the transactions " TAGGED_UUID
                ":6-13:mytag:2; restart with --resnapshot");
}

/* The start of MySQL's message for a replica that has diverged (its whole
 * text is longer than an error message holds). */
#define DIVERGED_MESSAGE                                                                         \
    "server error 1236 (HY000): Slave has more GTIDs than the master has, using the master's "   \
    "SERVER_UUID. This may indicate that the end of the binary log was truncated or that the "   \
    "last binary log file was lost, e.g., after a power or disk failure when sync_binlog != 1. " \
    "The master may or may not have rolled back transactions that were already replicated to "   \
    "the slave."

static void check_diverged(const char *start, const char *shown_position)
{
    run x;
    if (!stream_gtid(ENUM_SET, start, &x)) {
        skip();
        return;
    }
    assert_false(x.timed_out);
    assert_true(x.failed);
    assert_int_equal(x.err.domain, TF_ERR_SERVER);
    assert_int_equal(x.err.code, 1236);
    assert_int_equal(x.got.count, 0);
    assert_null(strstr(x.logs, "reconnecting"));
    char head[1024];
    snprintf(head, sizeof head, "binlog dump from %s: " DIVERGED_MESSAGE, shown_position);
    if (strncmp(x.err.message, head, strlen(head)) != 0)
        fail_msg("message '%s' does not start with '%s'", x.err.message, head);
    /* Whatever is cut, the advice stays. */
    const char *advice = "; restart with --resnapshot";
    size_t len = strlen(x.err.message);
    assert_string_equal(x.err.message + len - strlen(advice), advice);
    assert_int_equal(len, TF_ERROR_MESSAGE_MAX - 1);
}

/* The set has transactions of the server's uuid it never wrote: the
 * server's 1236 is fatal and passed on after the position. */
static void test_diverged_set_is_fatal_server_1236(void **state)
{
    (void)state;
    check_diverged(ENUM_UUID ":1-9", ENUM_UUID ":1-9");
}

/* A long position is cut to 60 characters; the server's message keeps the
 * rest (MySQL ends its purge message with the missing GTIDs). */
static void test_long_position_is_cut_before_server_message(void **state)
{
    (void)state;
    char start[4096] = "";
    for (int i = 0; i < 40; i++) {
        size_t used = strlen(start);
        snprintf(start + used, sizeof start - used, "%08x-0000-0000-0000-000000000000:1-%d,", i,
                 i + 1);
    }
    strcat(start, ENUM_UUID ":1-9");
    check_diverged(start, "00000000-0000-0000-0000-000000000000:1,00000001-0000-0000...");
}

/* ---- resilience on the MySQL path ------------------------------------------------- */

typedef struct chaos {
    primary p;
    const char *fixture;
    int port;
    bool restarted;
    bool stopped_server; /* SIGSTOP sent */
    double silent_since;
    bool resumed; /* SIGCONT sent */
} chaos;

/* After the first transaction: the server is killed (SIGKILL) and started
 * again on the same port, as a restart would. */
static void restart_after_first(run *x)
{
    chaos *c = x->hook_arg;
    if (c->restarted)
        return;
    c->restarted = true;
    primary_stop(&c->p);
    assert_true(primary_start_on(c->fixture, c->port, &c->p));
}

/* Once the second dump is up and idle (a heartbeat), stop. */
static void stop_when_second_dump_idles(run *x)
{
    chaos *c = x->hook_arg;
    if (c->restarted && tf_replica_get_stats(x->r)->connects >= 2)
        tf_replica_stop(x->r);
}

static void test_server_restart_resumes_without_loss_or_duplicate(void **state)
{
    (void)state;
    chaos c = {.fixture = ENUM_SET};
    if (!primary_start(ENUM_SET, &c.p)) {
        skip();
        return;
    }
    c.port = c.p.port;
    run x;
    memset(&x, 0, sizeof x);
    tf_replica_options o;
    base_options(&o, &c.p, &x);
    o.start = TF_REPLICA_START_GTID;
    o.gtid = ENUM_UUID ":1-2";
    o.stop_at_end = false;
    x.on_txn_hook = restart_after_first;
    x.on_heartbeat_hook = stop_when_second_dump_idles;
    x.hook_arg = &c;
    run_replica(&x, &o, 10);
    primary_stop(&c.p);
    assert_clean_end(&x);
    assert_true(c.restarted);
    /* 3, 4 and 5 once each, in order, whichever connection brought them. */
    txn_list want;
    file_transactions(ENUM_SET, &want);
    assert_transactions(&x.got, &want, 0x6, base_name(ENUM_SET));
    assert_int_equal(x.got.count, 3);
    assert_int_equal(x.stats.connects, 2);
    assert_int_equal(x.stats.reconnects, 1);
    assert_string_equal(x.position, ENUM_UUID ":1-5");
    assert_non_null(strstr(x.logs, "reconnecting in"));
    txn_list_free(&want);
    txn_list_free(&x.got);
}

/* A server that stops answering (SIGSTOP: the TCP connection stays up) is
 * declared dead after 3 heartbeat periods of silence; once it answers
 * again the replica is back. */
static void silence_on_first_heartbeat(run *x)
{
    chaos *c = x->hook_arg;
    if (!c->stopped_server) {
        c->stopped_server = true;
        c->silent_since = mono();
        kill(c->p.pid, SIGSTOP);
        return;
    }
    if (c->resumed && tf_replica_get_stats(x->r)->connects >= 2)
        tf_replica_stop(x->r);
}

static void resume_when_declared_dead(run *x)
{
    chaos *c = x->hook_arg;
    if (x->dead_detected_at != 0 && !c->resumed) {
        c->resumed = true;
        kill(c->p.pid, SIGCONT);
    }
}

static void on_log_resume(tf_replica *r, const char *message, void *arg)
{
    on_log(r, message, arg);
    resume_when_declared_dead(arg);
}

static void test_silent_server_is_declared_dead_within_3_heartbeats(void **state)
{
    (void)state;
    chaos c = {.fixture = ENUM_SET};
    if (!primary_start(ENUM_SET, &c.p)) {
        skip();
        return;
    }
    run x;
    memset(&x, 0, sizeof x);
    tf_replica_options o;
    base_options(&o, &c.p, &x);
    o.start = TF_REPLICA_START_GTID;
    o.gtid = ENUM_UUID ":1-5";
    o.stop_at_end = false;
    o.conn.connect_timeout = 1;
    o.cb.on_log = on_log_resume;
    x.on_heartbeat_hook = silence_on_first_heartbeat;
    x.hook_arg = &c;
    run_replica(&x, &o, 10);
    if (c.stopped_server && !c.resumed)
        kill(c.p.pid, SIGCONT);
    primary_stop(&c.p);
    assert_clean_end(&x);
    assert_true(c.resumed);
    double after = x.dead_detected_at - c.silent_since;
    /* 3 periods of 0.2 s, checked every 0.05 s (slack for a loaded
     * machine). */
    if (after < 0.6 || after > 1.0)
        fail_msg("declared dead %.3f s after the last heartbeat (want 0.6 to 1.0)", after);
    assert_int_equal(x.stats.connects, 2);
    assert_int_equal(x.got.count, 0);
    assert_string_equal(x.position, ENUM_UUID ":1-5");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enum_set_file_streams_whole_from_empty_set),
        cmocka_unit_test(test_invisible_columns_file_streams_whole_from_empty_set),
        cmocka_unit_test(test_resume_mid_file_delivers_exactly_the_rest),
        cmocka_unit_test(test_resume_mid_file_enum_set),
        cmocka_unit_test(test_resume_from_set_with_hole_fills_it),
        cmocka_unit_test(test_resume_at_end_delivers_nothing),
        cmocka_unit_test(test_position_is_union_of_start_set_and_delivered),
        cmocka_unit_test(test_tagged_gtid_streams_and_joins_position),
        cmocka_unit_test(test_row_values_are_the_fixture_values),
        cmocka_unit_test(test_transaction_payload_groups_inner_events),
        cmocka_unit_test(test_purged_set_is_fatal_naming_missing_gtids),
        cmocka_unit_test(test_diverged_set_is_fatal_server_1236),
        cmocka_unit_test(test_long_position_is_cut_before_server_message),
        cmocka_unit_test(test_server_restart_resumes_without_loss_or_duplicate),
        cmocka_unit_test(test_silent_server_is_declared_dead_within_3_heartbeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
