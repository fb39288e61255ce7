/* query.c — COM_QUERY and its answer.
 *
 * Sends the statement, then reads the response packet by packet through
 * protocol/'s streaming resultset reader and collects the rows as strings.
 * The set-up queries of a replica return a handful of short rows, so they
 * are kept whole; an ERR becomes a TF_ERR_SERVER error naming the
 * statement. */
#include "replica_internal.h"

#include <stdlib.h>
#include <string.h>

void tf_query_init(tf_query *q) { memset(q, 0, sizeof *q); }

static void clear_result(tf_query_result *res)
{
    for (size_t i = 0; i < res->rows * res->columns; i++)
        free(res->cells[i]);
    res->rows = 0;
    res->columns = 0;
}

void tf_query_cleanup(tf_query *q)
{
    clear_result(&q->result);
    free(q->result.cells);
    free(q->values);
    free(q->nulls);
    memset(q, 0, sizeof *q);
}

bool tf_query_send(tf_query *q, tf_conn *c, const char *sql, tf_query_done_fn done, void *arg,
                   tf_error *err)
{
    clear_result(&q->result);
    memset(&q->result.ok, 0, sizeof q->result.ok);
    tf_resultset_init(&q->rs, tf_conn_capabilities(c));
    q->done = done;
    q->arg = arg;
    q->active = true;
    snprintf(q->sql_head, sizeof q->sql_head, "%s", sql);
    size_t len = strlen(sql);
    uint8_t *payload = malloc(len + 1);
    if (payload == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory for a query");
        return false;
    }
    payload[0] = TF_COM_QUERY;
    memcpy(payload + 1, sql, len);
    bool ok = tf_conn_send_command(c, payload, len + 1, err);
    free(payload);
    return ok;
}

static void finish(tf_query *q, const tf_error *err)
{
    q->active = false;
    q->done(q, err, q->arg);
}

static bool add_row(tf_query *q)
{
    tf_query_result *res = &q->result;
    size_t need = (res->rows + 1) * res->columns;
    if (need > res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 16;
        while (cap < need)
            cap *= 2;
        char **cells = realloc(res->cells, cap * sizeof *cells);
        if (cells == NULL)
            return false;
        res->cells = cells;
        res->cap = cap;
    }
    char **row = res->cells + res->rows * res->columns;
    for (size_t i = 0; i < res->columns; i++) {
        row[i] = NULL;
        if (q->nulls[i])
            continue;
        row[i] = malloc(q->values[i].len + 1);
        if (row[i] == NULL) {
            for (size_t k = 0; k < i; k++)
                free(row[k]);
            return false;
        }
        memcpy(row[i], q->values[i].ptr, q->values[i].len);
        row[i][q->values[i].len] = '\0';
    }
    res->rows++;
    return true;
}

void tf_query_feed(tf_query *q, const uint8_t *payload, size_t len)
{
    if (!q->active)
        return;
    tf_resultset_item item;
    tf_error err = {0};
    if (tf_resultset_feed(&q->rs, payload, len, &item, &err) != TF_OK) {
        tf_error_prefix(&err, "answer to '%s'", q->sql_head);
        finish(q, &err);
        return;
    }
    switch (item.kind) {
    case TF_RS_ITEM_ERR:
        tf_err_packet_to_error(&item.err, &err);
        tf_error_prefix(&err, "%s", q->sql_head);
        finish(q, &err);
        return;
    case TF_RS_ITEM_COLUMN_COUNT:
        clear_result(&q->result);
        if (item.column_count > q->values_cap) {
            free(q->values);
            free(q->nulls);
            q->values = calloc(item.column_count, sizeof *q->values);
            q->nulls = calloc(item.column_count, sizeof *q->nulls);
            q->values_cap = q->values && q->nulls ? item.column_count : 0;
            if (q->values_cap == 0) {
                tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a resultset");
                finish(q, &err);
                return;
            }
        }
        q->rs.values = q->values;
        q->rs.nulls = q->nulls;
        q->rs.capacity = q->values_cap;
        q->result.columns = item.column_count;
        return;
    case TF_RS_ITEM_ROW:
        if (!add_row(q)) {
            tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a resultset");
            finish(q, &err);
        }
        return;
    case TF_RS_ITEM_OK:
    case TF_RS_ITEM_END:
        q->result.ok = item.ok;
        q->result.ok.info.ptr = NULL; /* borrowed from the packet */
        q->result.ok.session_state.ptr = NULL;
        if (tf_resultset_done(&q->rs))
            finish(q, NULL);
        return;
    default: return;
    }
}

const char *tf_query_cell(const tf_query *q, size_t row, size_t column)
{
    if (row >= q->result.rows || column >= q->result.columns)
        return NULL;
    return q->result.cells[row * q->result.columns + column];
}
