/* snapshot_rows.c — a snapshot's rows: keyset (or key-list) chunks in
 * primary-key order, their SQL, and each row packet decoded into values as
 * it arrives. */
#include "snapshot_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
bool snap_keep_key(tf_snapshot *s, const tf_value *values, const size_t *index, size_t count)
{
    s->last_key_bytes.len = 0;
    for (size_t k = 0; k < count; k++) {
        const tf_value *v = &values[index ? index[k] : k];
        s->last_key[k] = *v;
        if (value_has_bytes(v))
            sql_buf_add(&s->last_key_bytes, (const char *)v->bytes.ptr, v->bytes.len);
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
static bool sb_literal(tf_snapshot *s, sql_buf *b, const snap_table *t, size_t i, const tf_value *v)
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
            snap_finish(s, &err);
            return false;
        }
        if (b->p != NULL && len < room) {
            b->len += len;
            return true;
        }
        sql_buf_reserve(b, len);
    }
    snap_fail(s, "out of memory for a key of %s.%s", t->schema, t->name);
    return false;
}

/* "WHERE k1 > v1 OR (k1 = v1 AND k2 > v2) ...": MariaDB turns this into an
 * index range; the row-constructor form (k1, k2) > (v1, v2) it scans the
 * index from its start for, which makes a large table quadratic. */
static bool keyset_where(tf_snapshot *s, const snap_table *t, sql_buf *b)
{
    sql_buf_str(b, " WHERE ");
    for (size_t k = 0; k < t->key_count; k++) {
        if (k)
            sql_buf_str(b, " OR ");
        sql_buf_str(b, "(");
        for (size_t e = 0; e <= k; e++) {
            size_t i = t->key[e];
            if (e)
                sql_buf_str(b, " AND ");
            sql_buf_ident(b, t->columns[i].name.ptr);
            sql_buf_str(b, e == k ? " > " : " = ");
            if (!sb_literal(s, b, t, i, &s->last_key[e]))
                return false;
        }
        sql_buf_str(b, ")");
    }
    return true;
}

/* Key mode: "WHERE k IN (v1, v2)" or "WHERE (k1, k2) IN ((a, b), (c, d))"
 * for keys [first, end) of key_rows (both servers read it as index ranges;
 * a key that matches nothing costs one index probe). */
static bool key_rows_where(tf_snapshot *s, const snap_table *t, sql_buf *b, size_t first,
                           size_t end)
{
    bool row = t->key_count > 1;
    sql_buf_str(b, " WHERE ");
    if (row)
        sql_buf_str(b, "(");
    for (size_t k = 0; k < t->key_count; k++) {
        if (k)
            sql_buf_str(b, ", ");
        sql_buf_ident(b, t->columns[t->key[k]].name.ptr);
    }
    sql_buf_str(b, row ? ") IN (" : " IN (");
    for (size_t r = first; r < end; r++) {
        if (r > first)
            sql_buf_str(b, ", ");
        if (row)
            sql_buf_str(b, "(");
        for (size_t k = 0; k < t->key_count; k++) {
            if (k)
                sql_buf_str(b, ", ");
            if (!sb_literal(s, b, t, t->key[k], &s->opt.key_rows[r * t->key_count + k]))
                return false;
        }
        if (row)
            sql_buf_str(b, ")");
    }
    sql_buf_str(b, ")");
    return true;
}

static void table_done(tf_snapshot *s, bool exhausted);

void snap_send_chunk(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    bool key_mode = s->opt.key_rows != NULL;
    s->sql.len = 0;
    sql_buf_str(&s->sql, t->select_head);
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
        sql_buf_str(&s->sql, t->order_by);
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
        sql_buf_str(&s->sql, t->order_by);
        sql_buf_printf(&s->sql, " LIMIT %" PRIu64, s->chunk_limit);
    }
    if (s->sql.oom) {
        snap_fail(s, "out of memory for a chunk statement of %s.%s", t->schema, t->name);
        return;
    }
    tf_resultset_init(&s->rs, tf_conn_capabilities(s->conn));
    s->reading_rows = true;
    s->chunk_seen = 0;
    size_t len = s->sql.len;
    uint8_t *payload = malloc(len + 1);
    tf_error err = {0};
    if (payload == NULL) {
        snap_fail(s, "out of memory for a chunk statement");
        return;
    }
    payload[0] = TF_COM_QUERY;
    memcpy(payload + 1, s->sql.p, len);
    bool ok = tf_conn_send_command(s->conn, payload, len + 1, &err);
    free(payload);
    if (!ok)
        snap_finish(s, &err);
}

/* The next table, or the COMMIT once all are read. */
static void next_table(tf_snapshot *s)
{
    s->table_index++;
    s->has_last_key = false;
    if (s->table_index < s->table_count) {
        snap_send_chunk(s);
        return;
    }
    s->reading_rows = false;
    s->step = STEP_COMMIT;
    snap_run_step(s);
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
            snap_finish(s, &err);
            return;
        }
    }
    /* Keep this row's key: the next chunk starts after the last one. */
    if (s->opt.key_rows == NULL && !snap_keep_key(s, s->values, t->key, t->key_count)) {
        snap_fail(s, "out of memory for a key of %s.%s", t->schema, t->name);
        return;
    }
    s->chunk_seen++;
    t->pub.rows++;
    if (!s->opt.cb.on_row(s, &t->pub, s->values, s->opt.arg, &err)) {
        if (err.domain == TF_ERR_NONE)
            tf_error_set(&err, TF_ERR_CONFIG, 0, "stopped by on_row");
        snap_finish(s, &err);
    }
}

void snap_rows_packet(tf_snapshot *s, const uint8_t *payload, size_t len)
{
    snap_table *t = &s->tables[s->table_index];
    tf_resultset_item item;
    tf_error err = {0};
    if (tf_resultset_feed(&s->rs, payload, len, &item, &err) != TF_OK) {
        tf_error_prefix(&err, "snapshot of %s.%s", t->schema, t->name);
        snap_finish(s, &err);
        return;
    }
    switch (item.kind) {
    case TF_RS_ITEM_ERR:
        tf_err_packet_to_error(&item.err, &err);
        tf_error_prefix(&err, "snapshot of %s.%s", t->schema, t->name);
        snap_finish(s, &err);
        return;
    case TF_RS_ITEM_COLUMN_COUNT:
        if (item.column_count != t->column_count) {
            snap_fail(s,
                      "%s.%s: the chunk has %" PRIu64 " columns, the table %zu (was it altered?)",
                      t->schema, t->name, item.column_count, t->column_count);
            return;
        }
        if (!ensure_row_arrays(s, t->column_count)) {
            snap_fail(s, "out of memory for a row of %s.%s", t->schema, t->name);
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
            snap_send_chunk(s); /* the next keys, or the end of the table */
            return;
        }
        if (s->cut) {
            table_done(s, false);
            return;
        }
        if (!s->final_chunk && s->chunk_seen == s->chunk_limit) {
            s->has_last_key = true;
            snap_send_chunk(s);
            return;
        }
        table_done(s, true);
        return;
    default: return;
    }
}
