/* query_sync.c — one statement, blocking: for tools that look at a source
 * (a shell's SHOW TABLES, COUNT(*), a few rows) rather than follow it.
 *
 * Runs the same tf_conn (TCP or socket, TLS, every auth plugin) on an
 * event_base of its own until the statement's answer is read, streaming
 * rows to the caller through protocol/'s resultset reader: nothing is
 * collected, so a large answer costs no memory. */
#include "replica_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sync_ctx {
    struct event_base *base;
    const char *sql;
    tf_sync_row_fn fn;
    void *arg;
    char *version;
    size_t version_cap;

    tf_resultset rs;
    tf_str *values;
    bool *nulls;
    tf_sync_column *columns;
    size_t column_count;

    bool finished;
    bool failed;
    tf_error err;
} sync_ctx;

static void finish(sync_ctx *s, const tf_error *err)
{
    if (s->finished)
        return;
    s->finished = true;
    if (err) {
        s->failed = true;
        s->err = *err;
    }
    event_base_loopbreak(s->base);
}

static void free_columns(sync_ctx *s)
{
    for (size_t i = 0; i < s->column_count; i++)
        free(s->columns[i].name);
    free(s->columns);
    free(s->values);
    free(s->nulls);
    s->columns = NULL;
    s->values = NULL;
    s->nulls = NULL;
    s->column_count = 0;
}

static void on_ready(tf_conn *c, void *arg)
{
    sync_ctx *s = arg;
    if (s->version)
        snprintf(s->version, s->version_cap, "%s", tf_handshake_version(tf_conn_handshake(c)));
    tf_resultset_init(&s->rs, tf_conn_capabilities(c));
    size_t len = strlen(s->sql);
    uint8_t *payload = malloc(len + 1);
    tf_error err = {0};
    if (!payload) {
        tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a query");
        finish(s, &err);
        return;
    }
    payload[0] = TF_COM_QUERY;
    memcpy(payload + 1, s->sql, len);
    bool sent = tf_conn_send_command(c, payload, len + 1, &err);
    free(payload);
    if (!sent)
        finish(s, &err);
}

static bool start_result(sync_ctx *s, uint64_t count, tf_error *err)
{
    free_columns(s);
    s->columns = calloc(count, sizeof *s->columns);
    s->values = calloc(count, sizeof *s->values);
    s->nulls = calloc(count, sizeof *s->nulls);
    if (!s->columns || !s->values || !s->nulls) {
        free_columns(s);
        tf_error_set(err, TF_ERR_IO, 0, "out of memory for a resultset");
        return false;
    }
    s->column_count = (size_t)count;
    s->rs.values = s->values;
    s->rs.nulls = s->nulls;
    s->rs.capacity = s->column_count;
    return true;
}

static void on_packet(tf_conn *c, const uint8_t *payload, size_t len, void *arg)
{
    sync_ctx *s = arg;
    (void)c;
    if (s->finished)
        return;
    tf_resultset_item item;
    tf_error err = {0};
    if (tf_resultset_feed(&s->rs, payload, len, &item, &err) != TF_OK) {
        tf_error_prefix(&err, "answer to '%.60s'", s->sql);
        finish(s, &err);
        return;
    }
    switch (item.kind) {
    case TF_RS_ITEM_ERR:
        tf_err_packet_to_error(&item.err, &err);
        finish(s, &err);
        return;
    case TF_RS_ITEM_COLUMN_COUNT:
        if (!start_result(s, item.column_count, &err))
            finish(s, &err);
        return;
    case TF_RS_ITEM_COLUMN:
        if (item.column_index < s->column_count) {
            tf_sync_column *col = &s->columns[item.column_index];
            free(col->name);
            col->name = strndup((const char *)item.column.name.ptr, item.column.name.len);
            col->type = item.column.type;
            col->flags = item.column.flags;
            col->charset = item.column.charset;
            col->decimals = item.column.decimals;
            if (!col->name) {
                tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a column name");
                finish(s, &err);
            }
        }
        return;
    case TF_RS_ITEM_ROW:
        if (s->fn && !s->fn(s->arg, s->columns, s->column_count, s->values, s->nulls, &err))
            finish(s, &err);
        return;
    case TF_RS_ITEM_OK:
    case TF_RS_ITEM_END:
        if (tf_resultset_done(&s->rs))
            finish(s, NULL);
        return;
    default: return;
    }
}

static void on_conn_error(tf_conn *c, const tf_error *err, bool fatal, void *arg)
{
    (void)c;
    (void)fatal;
    finish(arg, err);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    sync_ctx *s = arg;
    (void)fd;
    (void)what;
    tf_error err = {0};
    tf_error_set(&err, TF_ERR_IO, 0, "no complete answer to '%.60s' within the time limit", s->sql);
    finish(s, &err);
}

bool tf_sync_query(const tf_conn_options *conn, const char *sql, double timeout, tf_sync_row_fn fn,
                   void *arg, char *server_version, size_t version_cap, tf_error *err)
{
    static const tf_conn_handlers handlers = {on_ready, on_packet, on_conn_error};
    sync_ctx s = {
        .sql = sql, .fn = fn, .arg = arg, .version = server_version, .version_cap = version_cap};
    if (server_version && version_cap)
        server_version[0] = '\0';
    tf_conn_options opt = *conn;
    if (opt.connect_timeout <= 0)
        opt.connect_timeout = 10;
    if (timeout <= 0)
        timeout = 60;
    tf_conn_dialer dialer = {0};
    struct event *timer = NULL;
    tf_conn *c = NULL;
    s.base = event_base_new();
    if (s.base == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return false;
    }
    if (!tf_conn_dialer_init(&dialer, s.base, &opt, err)) {
        event_base_free(s.base);
        return false;
    }
    timer = event_new(s.base, -1, 0, on_timeout, &s);
    if (timer)
        c = tf_conn_dial(&dialer, &opt, &handlers, &s);
    if (!c) {
        tf_error_set(&s.err, TF_ERR_IO, 0, "out of memory");
        s.failed = true;
    } else {
        struct timeval tv = {(time_t)(opt.connect_timeout + timeout), 0};
        event_add(timer, &tv);
        tf_conn_start(c);
        event_base_dispatch(s.base);
        if (!s.finished) {
            tf_error_set(&s.err, TF_ERR_IO, 0, "the connection ended before the answer");
            s.failed = true;
        }
        tf_conn_destroy(c);
    }
    if (timer)
        event_free(timer);
    tf_conn_dialer_cleanup(&dialer);
    event_base_free(s.base);
    free_columns(&s);
    if (s.failed && err)
        *err = s.err;
    return !s.failed;
}
