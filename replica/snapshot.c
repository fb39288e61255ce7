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
#include "replica_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CHUNK_ROWS 1000
#define MAX_KEY_PARTS 64 /* MySQL allows 16, MariaDB 32 */

/* ---- a growable string --------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_add(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* `name` with backquotes doubled. */
static void sb_ident(sbuf *b, const char *name)
{
    sb_add(b, "`", 1);
    for (const char *p = name; *p; p++)
        sb_add(b, *p == '`' ? "``" : p, *p == '`' ? 2 : 1);
    sb_add(b, "`", 1);
}

/* 'text' for a string literal, quotes and backslashes escaped. */
static void sb_quoted(sbuf *b, const char *text)
{
    sb_add(b, "'", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '\'' || *p == '\\')
            sb_add(b, "\\", 1);
        sb_add(b, p, 1);
    }
    sb_add(b, "'", 1);
}

/* ---- state ----------------------------------------------------------------- */

/* How a column's text is selected and read back. */
typedef enum col_read {
    READ_PLAIN = 0,
    READ_FLOAT_AS_DOUBLE, /* CAST(c AS DOUBLE): exact, unlike FLOAT's text */
    READ_BINARY,          /* CAST(c AS BINARY(n)): UUID, INET6, INET4 */
} col_read;

typedef struct snap_table {
    char *schema, *name;
    tf_column *columns;
    col_read *reads;
    char **charset_names; /* per column, NULL for non-character columns */
    size_t column_count;
    size_t *key;
    size_t key_count;
    char *select_head; /* "SELECT cols FROM `db`.`t`" */
    char *order_by;    /* " ORDER BY k1, k2" */
    tf_snapshot_table pub;
} snap_table;

typedef enum snap_step {
    STEP_ISOLATION = 0,
    STEP_TIME_ZONE,
    STEP_CHARSET,
    STEP_VARIABLES, /* MySQL: gtid_mode */
    STEP_COLUMNS,   /* per table */
    STEP_KEY,       /* per table */
    STEP_LOCK,      /* MySQL: FLUSH TABLES WITH READ LOCK */
    STEP_START,     /* START TRANSACTION WITH CONSISTENT SNAPSHOT */
    STEP_STATUS,    /* MariaDB: binlog_snapshot_%; MySQL: SHOW MASTER STATUS */
    STEP_GTID_POS,  /* MariaDB: BINLOG_GTID_POS */
    STEP_UNLOCK,    /* MySQL: UNLOCK TABLES */
    STEP_ROWS,      /* chunks of every table */
    STEP_COMMIT,
    STEP_DONE,
} snap_step;

struct tf_snapshot {
    struct event_base *base;
    tf_conn_dialer dialer;
    tf_snapshot_options opt;
    char **table_names; /* copies of opt.tables */

    tf_conn *conn;
    tf_query query;
    snap_step step;
    size_t table_index;
    bool mariadb;
    bool mysql_gtid_mode;
    bool mysql_binary_log_status; /* 8.2+: SHOW BINARY LOG STATUS */
    struct event *timer;          /* connect timeout */
    struct event *done_event;
    bool finished;
    bool has_error;
    tf_error error;

    snap_table *tables;
    size_t table_count;

    /* Chunk reading. */
    bool reading_rows; /* packets go to the resultset reader */
    tf_resultset rs;
    tf_str *cells;
    bool *nulls;
    tf_value *values;
    size_t cells_cap;
    uint64_t chunk_seen;
    uint64_t chunk_limit; /* the chunk's LIMIT (range mode) */
    bool final_chunk;     /* its LIMIT is what max_rows leaves, plus one */
    bool cut;             /* that one more row came: max_rows cut the read */
    bool exhausted;       /* the table ended before max_rows did */
    tf_value *last_key;   /* key_count values of the last row (or start_after) */
    sbuf last_key_bytes;  /* their string bytes, back to back */
    bool has_last_key;
    size_t next_key; /* key mode: the first key of the next chunk */
    sbuf sql;

    /* Position. */
    char *gtid;
    char *file;
    uint64_t pos;
    tf_snapshot_position position;
    bool position_known;
};

static void run_step(tf_snapshot *s);

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
static void finish(tf_snapshot *s, const tf_error *err)
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

static void fail(tf_snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(tf_snapshot *s, const char *fmt, ...)
{
    tf_error err = {0};
    char msg[sizeof err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tf_error_set(&err, TF_ERR_CONFIG, 0, "snapshot: %s", msg);
    finish(s, &err);
}

/* ---- schema: tf_column from information_schema -------------------------------- */

static bool type_is(const char *t, const char *name) { return strcasecmp(t, name) == 0; }

/* ENUM / SET members from COLUMN_TYPE "enum('a','it''s')" into col. */
static bool parse_members(const char *column_type, tf_column *col)
{
    const char *p = strchr(column_type, '(');
    if (p == NULL)
        return false;
    p++;
    size_t cap = 8, count = 0;
    tf_str *vals = calloc(cap, sizeof *vals);
    if (vals == NULL)
        return false;
    while (*p == '\'') {
        p++;
        char *text = malloc(strlen(p) + 1);
        if (text == NULL)
            goto oom;
        size_t n = 0;
        for (; *p; p++) {
            if (*p == '\'' && p[1] == '\'') {
                text[n++] = '\'';
                p++;
            } else if (*p == '\'') {
                break;
            } else if (*p == '\\' && p[1]) {
                p++;
                text[n++] = *p;
            } else {
                text[n++] = *p;
            }
        }
        text[n] = '\0';
        if (*p == '\'')
            p++;
        if (count == cap) {
            tf_str *more = realloc(vals, 2 * cap * sizeof *vals);
            if (more == NULL) {
                free(text);
                goto oom;
            }
            vals = more;
            cap *= 2;
        }
        vals[count].ptr = text;
        vals[count].len = n;
        count++;
        if (*p == ',')
            p++;
    }
    col->enum_set_values = vals;
    col->enum_set_count = (uint32_t)count;
    return true;
oom:
    for (size_t i = 0; i < count; i++)
        free((char *)vals[i].ptr);
    free(vals);
    return false;
}

static uint32_t geometry_code(const char *t)
{
    static const char *const names[] = {
        "geometry",   "point",           "linestring",   "polygon",
        "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
    for (uint32_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (type_is(t, names[i]))
            return i;
    return UINT32_MAX;
}

static uint64_t cell_u64(const tf_query *q, size_t row, size_t col)
{
    const char *v = tf_query_cell(q, row, col);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* One row of the COLUMNS query (see step_sql) into t's column i: the type,
 * meta and charset TABLE_MAP gives that column. */
static bool describe_column(tf_snapshot *s, snap_table *t, size_t row, size_t i)
{
    const tf_query *q = &s->query;
    tf_column *col = &t->columns[i];
    const char *name = tf_query_cell(q, row, 0);
    const char *type = tf_query_cell(q, row, 1);
    const char *column_type = tf_query_cell(q, row, 2);
    const char *charset_name = tf_query_cell(q, row, 8);
    if (name == NULL || type == NULL || column_type == NULL) {
        fail(s, "information_schema.COLUMNS of %s.%s has an empty name or type", t->schema,
             t->name);
        return false;
    }
    char *name_copy = strdup(name);
    if (name_copy == NULL)
        return false;
    col->name.ptr = name_copy;
    col->name.len = strlen(name_copy);
    const char *nullable = tf_query_cell(q, row, 3);
    col->nullable = nullable && strcasecmp(nullable, "YES") == 0;
    col->is_unsigned = strstr(column_type, "unsigned") != NULL;
    uint64_t precision = cell_u64(q, row, 4), scale = cell_u64(q, row, 5);
    uint64_t fsp = cell_u64(q, row, 6), octets = cell_u64(q, row, 7);
    col->charset = (uint16_t)cell_u64(q, row, 9);
    if (charset_name != NULL && (t->charset_names[i] = strdup(charset_name)) == NULL)
        return false;
    uint32_t geom;
    if (type_is(type, "tinyint")) {
        col->type = TF_TYPE_TINY;
    } else if (type_is(type, "smallint")) {
        col->type = TF_TYPE_SHORT;
    } else if (type_is(type, "mediumint")) {
        col->type = TF_TYPE_INT24;
    } else if (type_is(type, "int") || type_is(type, "integer")) {
        col->type = TF_TYPE_LONG;
    } else if (type_is(type, "bigint")) {
        col->type = TF_TYPE_LONGLONG;
    } else if (type_is(type, "float")) {
        col->type = TF_TYPE_FLOAT;
        col->meta = 4;
        t->reads[i] = READ_FLOAT_AS_DOUBLE;
    } else if (type_is(type, "double") || type_is(type, "real")) {
        col->type = TF_TYPE_DOUBLE;
        col->meta = 8;
    } else if (type_is(type, "decimal") || type_is(type, "numeric")) {
        col->type = TF_TYPE_NEWDECIMAL;
        col->meta = (uint16_t)(precision << 8 | scale);
    } else if (type_is(type, "date")) {
        col->type = TF_TYPE_DATE;
    } else if (type_is(type, "datetime")) {
        col->type = TF_TYPE_DATETIME2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "timestamp")) {
        col->type = TF_TYPE_TIMESTAMP2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "time")) {
        col->type = TF_TYPE_TIME2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "year")) {
        col->type = TF_TYPE_YEAR;
    } else if (type_is(type, "char") || type_is(type, "binary")) {
        col->type = TF_TYPE_STRING;
        col->meta = (uint16_t)octets;
    } else if (type_is(type, "varchar") || type_is(type, "varbinary")) {
        col->type = TF_TYPE_VARCHAR;
        col->meta = (uint16_t)octets;
    } else if (type_is(type, "tinytext") || type_is(type, "tinyblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 1;
    } else if (type_is(type, "text") || type_is(type, "blob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 2;
    } else if (type_is(type, "mediumtext") || type_is(type, "mediumblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 3;
    } else if (type_is(type, "longtext") || type_is(type, "longblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 4;
    } else if (type_is(type, "json")) {
        /* MySQL's JSON (MariaDB's JSON is a LONGTEXT and says so). */
        col->type = TF_TYPE_JSON;
        col->meta = 4;
    } else if (type_is(type, "enum") || type_is(type, "set")) {
        bool is_enum = type_is(type, "enum");
        if (!parse_members(column_type, col))
            return false;
        col->type = is_enum ? TF_TYPE_ENUM : TF_TYPE_SET;
        /* Storage bytes: ENUM 1 or 2; SET 1, 2, 3, 4 or 8 (as the server
         * stores them, and TABLE_MAP's meta says). */
        uint32_t n = col->enum_set_count, bytes = (n + 7) / 8;
        col->meta = (uint16_t)(is_enum      ? (n > 255 ? 2 : 1)
                               : bytes == 0 ? 1
                               : bytes > 4  ? 8
                                            : bytes);
    } else if (type_is(type, "bit")) {
        col->type = TF_TYPE_BIT;
        col->meta = (uint16_t)((precision / 8) << 8 | (precision % 8));
    } else if ((geom = geometry_code(type)) != UINT32_MAX) {
        col->type = TF_TYPE_GEOMETRY;
        col->meta = 4;
        col->geometry_type = geom;
    } else if (type_is(type, "uuid") || type_is(type, "inet6") || type_is(type, "inet4")) {
        /* MariaDB's plugin types travel in the binlog as BINARY(16/4). */
        col->type = TF_TYPE_STRING;
        col->meta = type_is(type, "inet4") ? 4 : 16;
        col->charset = TF_CHARSET_BINARY;
        t->reads[i] = READ_BINARY;
        free(t->charset_names[i]);
        t->charset_names[i] = NULL;
    } else {
        fail(s,
             "column %s.%s.%s has type %s, which the snapshot does not read (it cannot "
             "give the values the binlog gives)",
             t->schema, t->name, name, column_type);
        return false;
    }
    /* TABLE_MAP gives binary strings charset 63 and no charset to numbers,
     * temporals and BIT; COLLATIONS has no row for "binary". */
    bool character = col->type == TF_TYPE_STRING || col->type == TF_TYPE_VARCHAR ||
                     col->type == TF_TYPE_BLOB || col->type == TF_TYPE_ENUM ||
                     col->type == TF_TYPE_SET;
    if (character && charset_name == NULL)
        col->charset = TF_CHARSET_BINARY;
    if (!character)
        col->charset = 0;
    if (col->type == TF_TYPE_GEOMETRY)
        col->charset = TF_CHARSET_BINARY;
    return true;
}

static bool columns_result(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    const tf_query *q = &s->query;
    size_t n = q->result.rows;
    if (n == 0) {
        fail(s, "table %s.%s does not exist (or this user may not see it)", t->schema, t->name);
        return false;
    }
    const char *engine = tf_query_cell(q, 0, 10);
    if (engine == NULL ||
        !(strcasecmp(engine, "InnoDB") == 0 || strcasecmp(engine, "RocksDB") == 0)) {
        fail(s,
             "table %s.%s uses ENGINE=%s: a consistent snapshot needs a transactional engine "
             "(InnoDB); ALTER TABLE ... ENGINE=InnoDB or leave it out of the flow",
             t->schema, t->name, engine ? engine : "(a view?)");
        return false;
    }
    t->columns = calloc(n, sizeof *t->columns);
    t->reads = calloc(n, sizeof *t->reads);
    t->charset_names = calloc(n, sizeof *t->charset_names);
    if (t->columns == NULL || t->reads == NULL || t->charset_names == NULL)
        goto oom;
    t->column_count = n;
    for (size_t i = 0; i < n; i++) {
        if (!describe_column(s, t, i, i)) {
            if (!s->finished)
                goto oom;
            return false;
        }
    }
    return true;
oom:
    fail(s, "out of memory reading the columns of %s.%s", t->schema, t->name);
    return false;
}

/* Whether a value of `kind` is one that col gives (on_row here, or a rows
 * event: integers are INT or UINT as the metadata said, strings STRING or
 * BYTES), for the key column types key_result accepts. */
static bool kind_fits(const tf_column *col, tf_value_kind kind)
{
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24:
    case TF_TYPE_LONG:
    case TF_TYPE_LONGLONG: return kind == TF_VAL_INT || kind == TF_VAL_UINT;
    case TF_TYPE_DOUBLE: return kind == TF_VAL_DOUBLE;
    case TF_TYPE_NEWDECIMAL: return kind == TF_VAL_DECIMAL;
    case TF_TYPE_DATE: return kind == TF_VAL_DATE;
    case TF_TYPE_DATETIME2: return kind == TF_VAL_DATETIME;
    case TF_TYPE_TIMESTAMP2: return kind == TF_VAL_TIMESTAMP;
    case TF_TYPE_TIME2: return kind == TF_VAL_TIME;
    case TF_TYPE_YEAR: return kind == TF_VAL_YEAR;
    case TF_TYPE_BIT: return kind == TF_VAL_BIT;
    case TF_TYPE_STRING:
    case TF_TYPE_VARCHAR: return kind == TF_VAL_STRING || kind == TF_VAL_BYTES;
    default: return false;
    }
}

/* The keys the caller gave (start_after, key_rows) against the primary key
 * the server has: as many values as it has columns, each of its column's
 * kind. A key that does not fit would turn into a literal that compares as
 * something else (a number against a string) and read the wrong rows. */
static bool resync_keys_fit(tf_snapshot *s, const snap_table *t)
{
    if (s->opt.start_after != NULL && s->opt.start_after_count != t->key_count) {
        fail(s,
             "start_after has %zu values but the primary key of %s.%s has %zu columns (give "
             "the key columns' values in key order, as on_row delivered them)",
             s->opt.start_after_count, t->schema, t->name, t->key_count);
        return false;
    }
    for (size_t k = 0; s->opt.start_after != NULL && k < t->key_count; k++) {
        const tf_column *col = &t->columns[t->key[k]];
        if (!kind_fits(col, s->opt.start_after[k].kind)) {
            fail(s, "start_after value %zu is not a value of %s.%s's key column %s (%s)", k,
                 t->schema, t->name, col->name.ptr, tf_column_type_name(col->type));
            return false;
        }
    }
    for (size_t r = 0; s->opt.key_rows != NULL && r < s->opt.key_row_count; r++) {
        for (size_t k = 0; k < t->key_count; k++) {
            const tf_column *col = &t->columns[t->key[k]];
            if (!kind_fits(col, s->opt.key_rows[r * t->key_count + k].kind)) {
                fail(s, "key_rows key %zu: value %zu is not a value of %s.%s's key column %s (%s)",
                     r, k, t->schema, t->name, col->name.ptr, tf_column_type_name(col->type));
                return false;
            }
        }
    }
    return true;
}

/* Key columns, then the fixed parts of the chunk statement. */
static bool key_result(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    const tf_query *q = &s->query;
    size_t n = q->result.rows;
    if (n == 0) {
        fail(s,
             "table %s.%s has no primary key: the snapshot reads in key order and the view "
             "addresses rows by key; add a PRIMARY KEY",
             t->schema, t->name);
        return false;
    }
    if (n > MAX_KEY_PARTS) {
        fail(s, "the primary key of %s.%s has %zu parts", t->schema, t->name, n);
        return false;
    }
    t->key = calloc(n, sizeof *t->key);
    if (t->key == NULL)
        goto oom;
    for (size_t k = 0; k < n; k++) {
        const char *name = tf_query_cell(q, k, 0);
        size_t i = 0;
        while (i < t->column_count && (name == NULL || strcmp(t->columns[i].name.ptr, name) != 0))
            i++;
        if (i == t->column_count) {
            fail(s, "primary key column %s of %s.%s is not among its columns", name ? name : "?",
                 t->schema, t->name);
            return false;
        }
        uint8_t ty = t->columns[i].type;
        if (ty == TF_TYPE_ENUM || ty == TF_TYPE_SET || ty == TF_TYPE_GEOMETRY ||
            ty == TF_TYPE_JSON || ty == TF_TYPE_FLOAT || ty == TF_TYPE_BLOB ||
            t->reads[i] == READ_BINARY) {
            fail(s,
                 "primary key column %s.%s.%s is %s: the snapshot cannot page through it in "
                 "key order",
                 t->schema, t->name, name, tf_column_type_name(ty));
            return false;
        }
        t->columns[i].is_primary_key = true;
        t->key[k] = i;
    }
    t->key_count = n;

    sbuf head = {0}, tail = {0};
    sb_str(&head, "SELECT ");
    for (size_t i = 0; i < t->column_count; i++) {
        if (i)
            sb_str(&head, ", ");
        const char *name = t->columns[i].name.ptr;
        switch (t->reads[i]) {
        case READ_FLOAT_AS_DOUBLE:
            sb_str(&head, "CAST(");
            sb_ident(&head, name);
            sb_str(&head, " AS DOUBLE)");
            break;
        case READ_BINARY:
            sb_str(&head, "CAST(");
            sb_ident(&head, name);
            sb_printf(&head, " AS BINARY(%u))", t->columns[i].meta);
            break;
        default: sb_ident(&head, name); break;
        }
    }
    sb_str(&head, " FROM ");
    sb_ident(&head, t->schema);
    sb_str(&head, ".");
    sb_ident(&head, t->name);
    sb_str(&tail, " ORDER BY ");
    for (size_t k = 0; k < n; k++) {
        if (k)
            sb_str(&tail, ", ");
        sb_ident(&tail, t->columns[t->key[k]].name.ptr);
    }
    if (head.oom || tail.oom) {
        free(head.p);
        free(tail.p);
        goto oom;
    }
    t->select_head = head.p;
    t->order_by = tail.p;
    t->pub.schema = t->schema;
    t->pub.name = t->name;
    t->pub.column_count = t->column_count;
    t->pub.columns = t->columns;
    t->pub.key_count = t->key_count;
    t->pub.key_columns = t->key;
    return resync_keys_fit(s, t);
oom:
    fail(s, "out of memory describing %s.%s", t->schema, t->name);
    return false;
}

/* ---- chunks ----------------------------------------------------------------------- */

/* Whether v's payload is bytes it borrows. */
static bool value_has_bytes(const tf_value *v)
{
    switch (v->kind) {
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_JSON:
    case TF_VAL_GEOMETRY:
    case TF_VAL_VECTOR:
    case TF_VAL_JSON_DIFF: return true;
    default: return false;
    }
}

/* Keeps count key values (values[index[k]], or values[k] when index is
 * NULL) as the last key, their bytes copied: the row they come from is
 * gone by the next chunk. */
static bool keep_key(tf_snapshot *s, const tf_value *values, const size_t *index, size_t count)
{
    s->last_key_bytes.len = 0;
    for (size_t k = 0; k < count; k++) {
        const tf_value *v = &values[index ? index[k] : k];
        s->last_key[k] = *v;
        if (value_has_bytes(v))
            sb_add(&s->last_key_bytes, (const char *)v->bytes.ptr, v->bytes.len);
    }
    if (s->last_key_bytes.oom)
        return false;
    size_t off = 0;
    for (size_t k = 0; k < count; k++) {
        if (value_has_bytes(&s->last_key[k])) {
            s->last_key[k].bytes.ptr = (const uint8_t *)s->last_key_bytes.p + off;
            off += s->last_key[k].bytes.len;
        }
    }
    return true;
}

/* Appends the SQL literal of key value v of t's column i. */
static bool sb_literal(tf_snapshot *s, sbuf *b, const snap_table *t, size_t i, const tf_value *v)
{
    tf_value as_string;
    /* A character column whose collation id information_schema did not
     * give (charset 0) reads as bytes: its literal still needs the
     * charset, or it would compare as binary. */
    if (v->kind == TF_VAL_BYTES && t->charset_names[i] != NULL &&
        t->columns[i].charset != TF_CHARSET_BINARY) {
        as_string = *v;
        as_string.kind = TF_VAL_STRING;
        v = &as_string;
    }
    for (int attempt = 0; attempt < 2 && !b->oom; attempt++) {
        size_t room = b->cap - b->len, len = 0;
        tf_error err = {0};
        if (tf_value_sql_literal(v, &t->columns[i], t->charset_names[i],
                                 b->p != NULL ? b->p + b->len : NULL, b->p != NULL ? room : 0, &len,
                                 &err) != TF_OK) {
            tf_error_prefix(&err, "snapshot of %s.%s: a key", t->schema, t->name);
            finish(s, &err);
            return false;
        }
        if (b->p != NULL && len < room) {
            b->len += len;
            return true;
        }
        sb_reserve(b, len);
    }
    fail(s, "out of memory for a key of %s.%s", t->schema, t->name);
    return false;
}

/* "WHERE k1 > v1 OR (k1 = v1 AND k2 > v2) ...": MariaDB turns this into an
 * index range; the row-constructor form (k1, k2) > (v1, v2) it scans the
 * index from its start for, which makes a large table quadratic. */
static bool keyset_where(tf_snapshot *s, const snap_table *t, sbuf *b)
{
    sb_str(b, " WHERE ");
    for (size_t k = 0; k < t->key_count; k++) {
        if (k)
            sb_str(b, " OR ");
        sb_str(b, "(");
        for (size_t e = 0; e <= k; e++) {
            size_t i = t->key[e];
            if (e)
                sb_str(b, " AND ");
            sb_ident(b, t->columns[i].name.ptr);
            sb_str(b, e == k ? " > " : " = ");
            if (!sb_literal(s, b, t, i, &s->last_key[e]))
                return false;
        }
        sb_str(b, ")");
    }
    return true;
}

/* Key mode: "WHERE k IN (v1, v2)" or "WHERE (k1, k2) IN ((a, b), (c, d))"
 * for keys [first, end) of key_rows (both servers read it as index ranges;
 * a key that matches nothing costs one index probe). */
static bool key_rows_where(tf_snapshot *s, const snap_table *t, sbuf *b, size_t first, size_t end)
{
    bool row = t->key_count > 1;
    sb_str(b, " WHERE ");
    if (row)
        sb_str(b, "(");
    for (size_t k = 0; k < t->key_count; k++) {
        if (k)
            sb_str(b, ", ");
        sb_ident(b, t->columns[t->key[k]].name.ptr);
    }
    sb_str(b, row ? ") IN (" : " IN (");
    for (size_t r = first; r < end; r++) {
        if (r > first)
            sb_str(b, ", ");
        if (row)
            sb_str(b, "(");
        for (size_t k = 0; k < t->key_count; k++) {
            if (k)
                sb_str(b, ", ");
            if (!sb_literal(s, b, t, t->key[k], &s->opt.key_rows[r * t->key_count + k]))
                return false;
        }
        if (row)
            sb_str(b, ")");
    }
    sb_str(b, ")");
    return true;
}

static void table_done(tf_snapshot *s, bool exhausted);

static void send_chunk(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    bool key_mode = s->opt.key_rows != NULL;
    s->sql.len = 0;
    sb_str(&s->sql, t->select_head);
    if (key_mode) {
        if (s->next_key >= s->opt.key_row_count) {
            table_done(s, true);
            return;
        }
        size_t first = s->next_key, left = s->opt.key_row_count - first;
        size_t end = first + (left < s->opt.chunk_rows ? left : s->opt.chunk_rows);
        if (!key_rows_where(s, t, &s->sql, first, end))
            return;
        s->next_key = end;
        sb_str(&s->sql, t->order_by);
    } else {
        if (s->has_last_key && !keyset_where(s, t, &s->sql))
            return;
        /* The last chunk max_rows allows asks for one row more: whether it
         * comes says whether the table goes on. */
        s->chunk_limit = s->opt.chunk_rows;
        s->final_chunk = false;
        if (s->opt.max_rows != 0) {
            uint64_t left = s->opt.max_rows - t->pub.rows;
            if (left <= s->chunk_limit) {
                s->chunk_limit = left + 1;
                s->final_chunk = true;
            }
        }
        sb_str(&s->sql, t->order_by);
        sb_printf(&s->sql, " LIMIT %" PRIu64, s->chunk_limit);
    }
    if (s->sql.oom) {
        fail(s, "out of memory for a chunk statement of %s.%s", t->schema, t->name);
        return;
    }
    tf_resultset_init(&s->rs, tf_conn_capabilities(s->conn));
    s->reading_rows = true;
    s->chunk_seen = 0;
    size_t len = s->sql.len;
    uint8_t *payload = malloc(len + 1);
    tf_error err = {0};
    if (payload == NULL) {
        fail(s, "out of memory for a chunk statement");
        return;
    }
    payload[0] = TF_COM_QUERY;
    memcpy(payload + 1, s->sql.p, len);
    bool ok = tf_conn_send_command(s->conn, payload, len + 1, &err);
    free(payload);
    if (!ok)
        finish(s, &err);
}

/* The next table, or the COMMIT once all are read. */
static void next_table(tf_snapshot *s)
{
    s->table_index++;
    s->has_last_key = false;
    if (s->table_index < s->table_count) {
        send_chunk(s);
        return;
    }
    s->reading_rows = false;
    s->step = STEP_COMMIT;
    run_step(s);
}

/* The current table is read: whole (exhausted), or up to max_rows. */
static void table_done(tf_snapshot *s, bool exhausted)
{
    snap_table *t = &s->tables[s->table_index];
    s->reading_rows = false;
    s->exhausted = exhausted;
    if (exhausted && s->opt.cb.on_table_done != NULL)
        s->opt.cb.on_table_done(s, &t->pub, s->opt.arg);
    if (!s->finished)
        next_table(s);
}

static bool ensure_row_arrays(tf_snapshot *s, size_t n)
{
    if (n <= s->cells_cap)
        return true;
    free(s->cells);
    free(s->nulls);
    free(s->values);
    s->cells = calloc(n, sizeof *s->cells);
    s->nulls = calloc(n, sizeof *s->nulls);
    s->values = calloc(n, sizeof *s->values);
    s->cells_cap = s->cells && s->nulls && s->values ? n : 0;
    return s->cells_cap != 0;
}

static void on_row_packet(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    tf_error err = {0};
    if (s->final_chunk && t->pub.rows == s->opt.max_rows) {
        s->cut = true; /* the row past max_rows: the table goes on */
        return;
    }
    for (size_t i = 0; i < t->column_count; i++) {
        if (s->nulls[i]) {
            memset(&s->values[i], 0, sizeof s->values[i]);
            s->values[i].kind = TF_VAL_NULL;
            continue;
        }
        if (tf_value_from_text(&t->columns[i], s->cells[i].ptr ? s->cells[i].ptr : "",
                               s->cells[i].len, &s->values[i], &err) != TF_OK) {
            tf_error_prefix(&err, "snapshot: %s.%s", t->schema, t->name);
            finish(s, &err);
            return;
        }
    }
    /* Keep this row's key: the next chunk starts after the last one. */
    if (s->opt.key_rows == NULL && !keep_key(s, s->values, t->key, t->key_count)) {
        fail(s, "out of memory for a key of %s.%s", t->schema, t->name);
        return;
    }
    s->chunk_seen++;
    t->pub.rows++;
    if (!s->opt.cb.on_row(s, &t->pub, s->values, s->opt.arg, &err)) {
        if (err.domain == TF_ERR_NONE)
            tf_error_set(&err, TF_ERR_CONFIG, 0, "stopped by on_row");
        finish(s, &err);
    }
}

static void rows_packet(tf_snapshot *s, const uint8_t *payload, size_t len)
{
    snap_table *t = &s->tables[s->table_index];
    tf_resultset_item item;
    tf_error err = {0};
    if (tf_resultset_feed(&s->rs, payload, len, &item, &err) != TF_OK) {
        tf_error_prefix(&err, "snapshot of %s.%s", t->schema, t->name);
        finish(s, &err);
        return;
    }
    switch (item.kind) {
    case TF_RS_ITEM_ERR:
        tf_err_packet_to_error(&item.err, &err);
        tf_error_prefix(&err, "snapshot of %s.%s", t->schema, t->name);
        finish(s, &err);
        return;
    case TF_RS_ITEM_COLUMN_COUNT:
        if (item.column_count != t->column_count) {
            fail(s, "%s.%s: the chunk has %" PRIu64 " columns, the table %zu (was it altered?)",
                 t->schema, t->name, item.column_count, t->column_count);
            return;
        }
        if (!ensure_row_arrays(s, t->column_count)) {
            fail(s, "out of memory for a row of %s.%s", t->schema, t->name);
            return;
        }
        s->rs.values = s->cells;
        s->rs.nulls = s->nulls;
        s->rs.capacity = s->cells_cap;
        return;
    case TF_RS_ITEM_ROW: on_row_packet(s); return;
    case TF_RS_ITEM_END:
    case TF_RS_ITEM_OK:
        if (!tf_resultset_done(&s->rs))
            return;
        s->reading_rows = false;
        if (s->opt.key_rows != NULL) {
            send_chunk(s); /* the next keys, or the end of the table */
            return;
        }
        if (s->cut) {
            table_done(s, false);
            return;
        }
        if (!s->final_chunk && s->chunk_seen == s->chunk_limit) {
            s->has_last_key = true;
            send_chunk(s);
            return;
        }
        table_done(s, true);
        return;
    default: return;
    }
}

/* ---- the steps ----------------------------------------------------------------------- */

static void where_table(sbuf *b, const char *alias, const snap_table *t)
{
    sb_printf(b, " WHERE %s.TABLE_SCHEMA = ", alias);
    sb_quoted(b, t->schema);
    sb_printf(b, " AND %s.TABLE_NAME = ", alias);
    sb_quoted(b, t->name);
}

/* The statement of the current step into s->sql; empty: skip the step. */
static void step_sql(tf_snapshot *s)
{
    sbuf *b = &s->sql;
    b->len = 0;
    sb_str(b, "");
    const snap_table *t = s->table_index < s->table_count ? &s->tables[s->table_index] : NULL;
    switch (s->step) {
    case STEP_ISOLATION:
        sb_str(b, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        break;
    case STEP_TIME_ZONE: sb_str(b, "SET time_zone = '+00:00'"); break;
    case STEP_CHARSET: sb_str(b, "SET character_set_results = NULL"); break;
    case STEP_VARIABLES:
        if (!s->mariadb)
            sb_str(b, "SELECT @@global.gtid_mode");
        break;
    case STEP_COLUMNS:
        sb_str(b, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, "
                  "c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION, "
                  "c.CHARACTER_OCTET_LENGTH, c.CHARACTER_SET_NAME, co.ID, t.ENGINE "
                  "FROM information_schema.COLUMNS c "
                  "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
                  "AND t.TABLE_NAME = c.TABLE_NAME "
                  "LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = "
                  "c.COLLATION_NAME");
        where_table(b, "c", t);
        sb_str(b, " ORDER BY c.ORDINAL_POSITION");
        break;
    case STEP_KEY:
        sb_str(b, "SELECT s.COLUMN_NAME FROM information_schema.STATISTICS s");
        where_table(b, "s", t);
        sb_str(b, " AND s.INDEX_NAME = 'PRIMARY' ORDER BY s.SEQ_IN_INDEX");
        break;
    case STEP_LOCK:
        if (!s->mariadb && !s->opt.no_position)
            sb_str(b, "FLUSH TABLES WITH READ LOCK");
        break;
    case STEP_START:
        if (!s->opt.no_position)
            sb_str(b, "START TRANSACTION WITH CONSISTENT SNAPSHOT");
        break;
    case STEP_STATUS:
        if (s->opt.no_position)
            break;
        if (s->mariadb)
            sb_str(b, "SHOW STATUS LIKE 'binlog_snapshot_%'");
        else
            sb_str(b, s->mysql_binary_log_status ? "SHOW BINARY LOG STATUS" : "SHOW MASTER STATUS");
        break;
    case STEP_GTID_POS:
        if (s->mariadb && !s->opt.no_position) {
            sb_str(b, "SELECT BINLOG_GTID_POS(");
            sb_quoted(b, s->file ? s->file : "");
            sb_printf(b, ", %" PRIu64 ")", s->pos);
        }
        break;
    case STEP_UNLOCK:
        if (!s->mariadb && !s->opt.no_position)
            sb_str(b, "UNLOCK TABLES");
        break;
    case STEP_COMMIT:
        if (!s->opt.no_position)
            sb_str(b, "COMMIT");
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
    case STEP_COLUMNS: return columns_result(s);
    case STEP_KEY: return key_result(s);
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
            s->pos = cell_u64(q, 0, 1);
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
            fail(s, "the server reports no binlog position (%s): is binary logging on?",
                 s->mariadb ? "binlog_snapshot_file" : "SHOW MASTER STATUS");
            return false;
        }
        return true;
    case STEP_GTID_POS: {
        const char *gtid = tf_query_cell(q, 0, 0);
        if (gtid == NULL) {
            fail(s,
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
        finish(s, &err);
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
    run_step(s);
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
        run_step(s);
        return;
    }
    send_chunk(s);
}

static void run_step(tf_snapshot *s)
{
    for (;;) {
        if (s->step == STEP_COLUMNS && s->table_index >= s->table_count)
            s->step = STEP_LOCK;
        if (s->step == STEP_ROWS) {
            begin_rows(s);
            return;
        }
        if (s->step == STEP_DONE) {
            finish(s, NULL);
            return;
        }
        step_sql(s);
        if (s->sql.oom) {
            fail(s, "out of memory");
            return;
        }
        if (s->sql.len > 0)
            break;
        s->step++;
    }
    tf_error err = {0};
    if (!tf_query_send(&s->query, s->conn, s->sql.p, step_done, s, &err))
        finish(s, &err);
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
    run_step(s);
}

static void on_packet(tf_conn *c, const uint8_t *payload, size_t len, void *arg)
{
    tf_snapshot *s = arg;
    (void)c;
    if (s->finished)
        return;
    if (s->reading_rows)
        rows_packet(s, payload, len);
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
    finish(s, &e);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    tf_snapshot *s = arg;
    (void)fd;
    (void)what;
    tf_error err = {0};
    tf_error_set(&err, TF_ERR_IO, 0, "snapshot: no answer from %s within %.1f s of connecting",
                 s->conn ? tf_conn_peer(s->conn) : "the server", s->opt.conn.connect_timeout);
    finish(s, &err);
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
        if (!keep_key(s, opt->start_after, NULL, opt->start_after_count))
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
    s->conn =
        tf_conn_dial(&s->dialer, &s->opt.conn, &handlers, s);
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
