/* snapshot.c — the initial load: every row of a set of tables, at a binlog
 * position the stream continues from exactly.
 *
 * One tf_conn of its own, one step at a time on the event loop:
 *
 *   session     REPEATABLE READ; time_zone '+00:00' (TIMESTAMP text is then
 *               UTC, as the binlog's epoch seconds are); character_set_results
 *               NULL (strings arrive in the column's own charset, the bytes a
 *               rows event carries).
 *   schema      information_schema.COLUMNS / TABLES / COLLATIONS and the
 *               PRIMARY index of each table: its columns as TABLE_MAP with
 *               binlog_row_metadata=FULL describes them.
 *   position    MariaDB: START TRANSACTION WITH CONSISTENT SNAPSHOT, then
 *               SHOW STATUS LIKE 'binlog_snapshot_%'. MariaDB's group commit
 *               lets the binlog take part in the snapshot like an engine:
 *               binlog_snapshot_file/_position are the binlog offset after
 *               the last transaction the snapshot sees and before the first
 *               it does not, with no lock (MariaDB KB, "Enhancements for
 *               START TRANSACTION WITH CONSISTENT SNAPSHOT"). BINLOG_GTID_POS
 *               (file, pos) gives the GTID position of that offset, which is
 *               what @slave_connect_state wants.
 *               MySQL has no such variables: FLUSH TABLES WITH READ LOCK
 *               stops commits, START TRANSACTION WITH CONSISTENT SNAPSHOT
 *               opens the read view, SHOW MASTER STATUS (SHOW BINARY LOG
 *               STATUS from 8.2) reads file, offset and Executed_Gtid_Set of
 *               that same instant, UNLOCK TABLES lets writes go on. The lock
 *               needs RELOAD and is held for three statements (it waits for
 *               running statements first, like any FTWRL).
 *   rows        per table, chunks of chunk_rows in primary-key order inside
 *               that transaction: keyset pagination, so every chunk is an
 *               index range read whatever its depth.
 *   COMMIT      (the transaction only read).
 *
 * Re-sync reads (one table, options start_after / max_rows / key_rows /
 * no_position) use the same machine: start_after seeds the keyset's last
 * key, max_rows shortens the last chunk's LIMIT to what is left plus one
 * row (seen, not delivered: it tells whether the table goes on without a
 * further round trip), key mode replaces the keyset by (k1, k2) IN ((..))
 * over chunk_rows keys at a time, and no_position leaves out the
 * transaction and position steps. Keys become SQL through
 * tf_value_sql_literal with the column's charset from information_schema,
 * so that they compare in the column's collation.
 *
 * Row packets are decoded as they arrive (protocol/'s streaming resultset
 * reader) and each row goes to on_row at once: nothing but the current
 * packet is held. Text values become the tf_value a rows event decodes to
 * (tf_value_from_text). FLOAT is selected as CAST(.. AS DOUBLE): its text
 * form has 6 significant digits and would not read back to the same float;
 * UUID / INET6 / INET4 as their 16 / 4 binary bytes, which is what the
 * binlog carries. */
#include "snapshot_internal.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- finishing --------------------------------------------------------------- */

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    tf_snapshot *s = arg;
    (void)fd;
    (void)what;
    s->opt.cb.on_done(s, s->has_error ? &s->error : NULL, s->opt.arg);
}

/* Ends the snapshot once; on_done runs from the loop, so that it may destroy
 * the snapshot whatever frame we are in now. */
void snap_finish(tf_snapshot *s, const tf_error *err)
{
    if (s->finished)
        return;
    s->finished = true;
    if (err != NULL) {
        s->has_error = true;
        s->error = *err;
    }
    if (s->conn != NULL) {
        tf_conn_destroy(s->conn);
        s->conn = NULL;
    }
    if (s->timer != NULL)
        event_del(s->timer);
    event_active(s->done_event, 0, 0);
}

void snap_fail(tf_snapshot *s, const char *fmt, ...)
{
    tf_error err = {0};
    char msg[sizeof err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tf_error_set(&err, TF_ERR_CONFIG, 0, "snapshot: %s", msg);
    snap_finish(s, &err);
}

/* ---- the steps ----------------------------------------------------------------------- */

static void where_table(sql_buf *b, const char *alias, const snap_table *t)
{
    sql_buf_printf(b, " WHERE %s.TABLE_SCHEMA = ", alias);
    sql_buf_quoted(b, t->schema);
    sql_buf_printf(b, " AND %s.TABLE_NAME = ", alias);
    sql_buf_quoted(b, t->name);
}

/* The statement of the current step into s->sql; empty: skip the step. */
static void step_sql(tf_snapshot *s)
{
    sql_buf *b = &s->sql;
    b->len = 0;
    sql_buf_str(b, "");
    const snap_table *t = s->table_index < s->table_count ? &s->tables[s->table_index] : NULL;
    switch (s->step) {
    case STEP_ISOLATION:
        sql_buf_str(b, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        break;
    case STEP_TIME_ZONE: sql_buf_str(b, "SET time_zone = '+00:00'"); break;
    case STEP_CHARSET: sql_buf_str(b, "SET character_set_results = NULL"); break;
    case STEP_VARIABLES:
        if (!s->mariadb)
            sql_buf_str(b, "SELECT @@global.gtid_mode");
        break;
    case STEP_COLUMNS:
        sql_buf_str(b, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, "
                       "c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION, "
                       "c.CHARACTER_OCTET_LENGTH, c.CHARACTER_SET_NAME, co.ID, t.ENGINE "
                       "FROM information_schema.COLUMNS c "
                       "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
                       "AND t.TABLE_NAME = c.TABLE_NAME "
                       "LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = "
                       "c.COLLATION_NAME");
        where_table(b, "c", t);
        sql_buf_str(b, " ORDER BY c.ORDINAL_POSITION");
        break;
    case STEP_KEY:
        sql_buf_str(b, "SELECT s.COLUMN_NAME FROM information_schema.STATISTICS s");
        where_table(b, "s", t);
        sql_buf_str(b, " AND s.INDEX_NAME = 'PRIMARY' ORDER BY s.SEQ_IN_INDEX");
        break;
    case STEP_LOCK:
        if (!s->mariadb && !s->opt.no_position)
            sql_buf_str(b, "FLUSH TABLES WITH READ LOCK");
        break;
    case STEP_START:
        if (!s->opt.no_position)
            sql_buf_str(b, "START TRANSACTION WITH CONSISTENT SNAPSHOT");
        break;
    case STEP_STATUS:
        if (s->opt.no_position)
            break;
        if (s->mariadb)
            sql_buf_str(b, "SHOW STATUS LIKE 'binlog_snapshot_%'");
        else
            sql_buf_str(b, s->mysql_binary_log_status ? "SHOW BINARY LOG STATUS"
                                                      : "SHOW MASTER STATUS");
        break;
    case STEP_GTID_POS:
        if (s->mariadb && !s->opt.no_position) {
            sql_buf_str(b, "SELECT BINLOG_GTID_POS(");
            sql_buf_quoted(b, s->file ? s->file : "");
            sql_buf_printf(b, ", %" PRIu64 ")", s->pos);
        }
        break;
    case STEP_UNLOCK:
        if (!s->mariadb && !s->opt.no_position)
            sql_buf_str(b, "UNLOCK TABLES");
        break;
    case STEP_COMMIT:
        if (!s->opt.no_position)
            sql_buf_str(b, "COMMIT");
        break;
    default: break;
    }
}

static char *dup_or_null(const char *v) { return v ? strdup(v) : NULL; }

/* Reads the answer of the current step. false: the snapshot failed. */
static bool step_result(tf_snapshot *s)
{
    const tf_query *q = &s->query;
    switch (s->step) {
    case STEP_VARIABLES: {
        const char *mode = tf_query_cell(q, 0, 0);
        s->mysql_gtid_mode = mode && strcasecmp(mode, "ON") == 0;
        return true;
    }
    case STEP_COLUMNS: return snap_columns_result(s);
    case STEP_KEY: return snap_key_result(s);
    case STEP_STATUS:
        if (s->mariadb) {
            for (size_t r = 0; r < q->result.rows; r++) {
                const char *name = tf_query_cell(q, r, 0), *value = tf_query_cell(q, r, 1);
                if (name && value && strcasecmp(name, "Binlog_snapshot_file") == 0)
                    s->file = strdup(value);
                else if (name && value && strcasecmp(name, "Binlog_snapshot_position") == 0)
                    s->pos = strtoull(value, NULL, 10);
            }
        } else {
            s->file = dup_or_null(tf_query_cell(q, 0, 0));
            s->pos = snap_cell_u64(q, 0, 1);
            if (s->mysql_gtid_mode) {
                /* Executed_Gtid_Set breaks lines between sources. */
                const char *set = tf_query_cell(q, 0, 4);
                s->gtid = strdup(set ? set : "");
                if (s->gtid != NULL) {
                    char *w = s->gtid;
                    for (const char *r = s->gtid; *r; r++)
                        if (*r != '\n' && *r != '\r')
                            *w++ = *r;
                    *w = '\0';
                }
            }
        }
        if (s->file == NULL || s->file[0] == '\0') {
            snap_fail(s, "the server reports no binlog position (%s): is binary logging on?",
                      s->mariadb ? "binlog_snapshot_file" : "SHOW MASTER STATUS");
            return false;
        }
        return true;
    case STEP_GTID_POS: {
        const char *gtid = tf_query_cell(q, 0, 0);
        if (gtid == NULL) {
            snap_fail(s,
                      "BINLOG_GTID_POS('%s', %" PRIu64 ") is NULL: the server cannot give the GTID "
                      "position of its snapshot",
                      s->file, s->pos);
            return false;
        }
        s->gtid = strdup(gtid);
        return true;
    }
    default: return true;
    }
}

static void step_done(tf_query *q, const tf_error *qerr, void *arg)
{
    tf_snapshot *s = arg;
    (void)q;
    if (qerr != NULL) {
        tf_error err = *qerr;
        tf_error_prefix(&err, "snapshot");
        snap_finish(s, &err);
        return;
    }
    if (!step_result(s))
        return;
    if ((s->step == STEP_COLUMNS || s->step == STEP_KEY) && s->finished)
        return;
    if (s->step == STEP_COLUMNS) {
        s->step = STEP_KEY;
    } else if (s->step == STEP_KEY) {
        s->table_index++;
        s->step = s->table_index < s->table_count ? STEP_COLUMNS : STEP_LOCK;
    } else {
        s->step++;
    }
    snap_run_step(s);
}

static void begin_rows(tf_snapshot *s)
{
    s->position.flavour = s->mariadb ? TF_FLAVOUR_MARIADB : TF_FLAVOUR_MYSQL;
    s->position.gtid = s->gtid;
    s->position.file = s->file;
    s->position.pos = s->pos;
    s->position_known = true;
    if (s->opt.cb.on_position != NULL)
        s->opt.cb.on_position(s, &s->position, s->opt.arg);
    if (s->finished)
        return;
    s->table_index = 0;
    s->has_last_key = s->opt.start_after != NULL; /* kept by tf_snapshot_new */
    s->next_key = 0;
    if (s->table_count == 0) {
        s->step = STEP_COMMIT;
        snap_run_step(s);
        return;
    }
    snap_send_chunk(s);
}

void snap_run_step(tf_snapshot *s)
{
    for (;;) {
        if (s->step == STEP_COLUMNS && s->table_index >= s->table_count)
            s->step = STEP_LOCK;
        if (s->step == STEP_ROWS) {
            begin_rows(s);
            return;
        }
        if (s->step == STEP_DONE) {
            snap_finish(s, NULL);
            return;
        }
        step_sql(s);
        if (s->sql.oom) {
            snap_fail(s, "out of memory");
            return;
        }
        if (s->sql.len > 0)
            break;
        s->step++;
    }
    tf_error err = {0};
    if (!tf_query_send(&s->query, s->conn, s->sql.p, step_done, s, &err))
        snap_finish(s, &err);
}

/* ---- connection --------------------------------------------------------------------------- */

static void on_ready(tf_conn *c, void *arg)
{
    tf_snapshot *s = arg;
    const tf_handshake *hs = tf_conn_handshake(c);
    s->mariadb = hs->is_mariadb;
    if (!s->mariadb) {
        unsigned major = 0, minor = 0;
        sscanf(tf_handshake_version(hs), "%u.%u", &major, &minor);
        s->mysql_binary_log_status = major > 8 || (major == 8 && minor >= 2);
    }
    event_del(s->timer);
    s->step = STEP_ISOLATION;
    s->table_index = 0;
    snap_run_step(s);
}

static void on_packet(tf_conn *c, const uint8_t *payload, size_t len, void *arg)
{
    tf_snapshot *s = arg;
    (void)c;
    if (s->finished)
        return;
    if (s->reading_rows)
        snap_rows_packet(s, payload, len);
    else
        tf_query_feed(&s->query, payload, len);
}

static void on_conn_error(tf_conn *c, const tf_error *err, bool fatal, void *arg)
{
    tf_snapshot *s = arg;
    (void)fatal;
    if (s->conn == c)
        s->conn = NULL;
    tf_conn_destroy(c);
    tf_error e = *err;
    /* A snapshot is not resumed on another connection: its transaction, and
     * so its position, died with this one. */
    tf_error_prefix(&e, "snapshot");
    snap_finish(s, &e);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    tf_snapshot *s = arg;
    (void)fd;
    (void)what;
    tf_error err = {0};
    tf_error_set(&err, TF_ERR_IO, 0, "snapshot: no answer from %s within %.1f s of connecting",
                 s->conn ? tf_conn_peer(s->conn) : "the server", s->opt.conn.connect_timeout);
    snap_finish(s, &err);
}

/* "db.table", "`d.b`.`t`" -> schema and name. */
static bool split_table_name(const char *text, char **schema, char **name)
{
    char parts[2][256];
    size_t part = 0, n = 0;
    const char *p = text;
    while (*p && part < 2) {
        if (*p == '`') {
            p++;
            while (*p && !(*p == '`' && p[1] != '`')) {
                if (*p == '`')
                    p++;
                if (n + 1 < sizeof parts[0])
                    parts[part][n++] = *p;
                p++;
            }
            if (*p != '`')
                return false;
            p++;
        } else {
            while (*p && *p != '.') {
                if (n + 1 < sizeof parts[0])
                    parts[part][n++] = *p;
                p++;
            }
        }
        parts[part][n] = '\0';
        if (n == 0)
            return false;
        part++;
        n = 0;
        if (*p == '.')
            p++;
        else
            break;
    }
    if (part != 2 || *p != '\0')
        return false;
    *schema = strdup(parts[0]);
    *name = strdup(parts[1]);
    return *schema && *name;
}

/* The re-sync options against each other (their fit with the table's key
 * is checked once the key is known: resync_keys_fit). */
static bool resync_options_ok(const tf_snapshot_options *opt, tf_error *err)
{
    bool resync = opt->start_after != NULL || opt->start_after_count != 0 || opt->max_rows != 0 ||
                  opt->key_rows != NULL || opt->key_row_count != 0;
    if (resync && opt->table_count != 1) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "snapshot: start_after, max_rows and key_rows read a single table; %zu "
                     "tables given",
                     opt->table_count);
        return false;
    }
    if ((opt->start_after == NULL) != (opt->start_after_count == 0)) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "snapshot: start_after and start_after_count go together (the primary "
                     "key's values and their number)");
        return false;
    }
    if (opt->start_after_count > MAX_KEY_PARTS) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "snapshot: start_after has %zu values; a primary key has at most %d columns",
                     opt->start_after_count, MAX_KEY_PARTS);
        return false;
    }
    if (opt->key_rows == NULL && opt->key_row_count != 0) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "snapshot: key_row_count is %zu but key_rows is NULL",
                     opt->key_row_count);
        return false;
    }
    if (opt->key_rows != NULL && (opt->start_after != NULL || opt->max_rows != 0)) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "snapshot: key_rows reads the rows of given keys; start_after and max_rows "
                     "page through the table: use one or the other");
        return false;
    }
    return true;
}

tf_snapshot *tf_snapshot_new(struct event_base *base, const tf_snapshot_options *opt, tf_error *err)
{
    if (opt->cb.on_row == NULL || opt->cb.on_done == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "snapshot: on_row and on_done are required");
        return NULL;
    }
    if (!resync_options_ok(opt, err))
        return NULL;
    tf_snapshot *s = calloc(1, sizeof *s);
    if (s == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return NULL;
    }
    s->base = base;
    s->opt = *opt;
    s->opt.tables = NULL;
    if (s->opt.chunk_rows == 0)
        s->opt.chunk_rows = DEFAULT_CHUNK_ROWS;
    if (s->opt.conn.connect_timeout <= 0)
        s->opt.conn.connect_timeout = 10;
    tf_query_init(&s->query);
    s->tables = calloc(opt->table_count ? opt->table_count : 1, sizeof *s->tables);
    if (s->tables == NULL)
        goto oom;
    s->table_count = opt->table_count;
    for (size_t i = 0; i < opt->table_count; i++) {
        if (!split_table_name(opt->tables[i], &s->tables[i].schema, &s->tables[i].name)) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "snapshot: table '%s' is not of the form db.table",
                         opt->tables[i]);
            tf_snapshot_destroy(s);
            return NULL;
        }
    }
    if (!tf_conn_dialer_init(&s->dialer, base, &opt->conn, err)) {
        tf_snapshot_destroy(s);
        return NULL;
    }
    s->timer = event_new(base, -1, 0, timeout_cb, s);
    s->done_event = event_new(base, -1, 0, done_cb, s);
    s->last_key = calloc(MAX_KEY_PARTS, sizeof *s->last_key);
    if (s->timer == NULL || s->done_event == NULL || s->last_key == NULL)
        goto oom;
    /* start_after is the first last key; it is copied, so the caller may
     * pass the previous snapshot's last row and destroy that snapshot. */
    if (opt->start_after != NULL) {
        if (!snap_keep_key(s, opt->start_after, NULL, opt->start_after_count))
            goto oom;
        s->opt.start_after = s->last_key;
    }
    return s;
oom:
    tf_error_set(err, TF_ERR_IO, 0, "out of memory");
    tf_snapshot_destroy(s);
    return NULL;
}

bool tf_snapshot_exhausted(const tf_snapshot *s) { return s->exhausted; }

bool tf_snapshot_start(tf_snapshot *s, tf_error *err)
{
    static const tf_conn_handlers handlers = {on_ready, on_packet, on_conn_error};
    if (s->conn != NULL || s->finished) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "snapshot: already started");
        return false;
    }
    s->conn = tf_conn_dial(&s->dialer, &s->opt.conn, &handlers, s);
    if (s->conn == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return false;
    }
    struct timeval tv = {
        (time_t)s->opt.conn.connect_timeout,
        (suseconds_t)((s->opt.conn.connect_timeout - (double)(time_t)s->opt.conn.connect_timeout) *
                      1e6)};
    event_add(s->timer, &tv);
    tf_conn_start(s->conn);
    return true;
}

static void free_table(snap_table *t)
{
    for (size_t i = 0; i < t->column_count; i++) {
        free((char *)t->columns[i].name.ptr);
        for (uint32_t k = 0; k < t->columns[i].enum_set_count; k++)
            free((char *)t->columns[i].enum_set_values[k].ptr);
        free(t->columns[i].enum_set_values);
        if (t->charset_names)
            free(t->charset_names[i]);
    }
    free(t->columns);
    free(t->reads);
    free(t->charset_names);
    free(t->key);
    free(t->select_head);
    free(t->order_by);
    free(t->schema);
    free(t->name);
}

void tf_snapshot_destroy(tf_snapshot *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL)
        tf_conn_destroy(s->conn);
    if (s->timer != NULL)
        event_free(s->timer);
    if (s->done_event != NULL)
        event_free(s->done_event);
    tf_conn_dialer_cleanup(&s->dialer);
    tf_query_cleanup(&s->query);
    for (size_t i = 0; i < s->table_count; i++)
        free_table(&s->tables[i]);
    free(s->tables);
    free(s->cells);
    free(s->nulls);
    free(s->values);
    free(s->last_key);
    free(s->last_key_bytes.p);
    free(s->sql.p);
    free(s->gtid);
    free(s->file);
    free(s);
}

const tf_snapshot_position *tf_snapshot_get_position(const tf_snapshot *s)
{
    return s->position_known ? &s->position : NULL;
}

size_t tf_snapshot_table_count(const tf_snapshot *s) { return s->table_count; }

const tf_snapshot_table *tf_snapshot_get_table(const tf_snapshot *s, size_t index)
{
    return index < s->table_count ? &s->tables[index].pub : NULL;
}

void tf_snapshot_replica_start(const tf_snapshot_position *pos, tf_replica_options *opt)
{
    if (pos->gtid != NULL) {
        opt->start = TF_REPLICA_START_GTID;
        opt->gtid = pos->gtid;
    } else {
        opt->start = TF_REPLICA_START_FILE;
        opt->file = pos->file;
        opt->position = pos->pos;
    }
}
