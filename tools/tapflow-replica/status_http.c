/* status_http.c — the status endpoint and the `status` command.
 *
 * GET /status answers one JSON object:
 *   {"flow": "...", "status": "running", "qps": 3521.2, "total_rows": 99441,
 *    "delay_ms": 332, "position": "0-1-42", "snapshot_rows": 453120,
 *    "documents": 99441}
 * (snapshot_rows: source rows the initial snapshot has read so far;
 * documents: document writes the target acknowledged since the start —
 * during a snapshot, against the root table's row count, the progress)
 * (plus "error" after a fatal error, "resync": {"table", "queued",
 * "chunks", "rows_read", "rows_changed", "completed"}: the table re-syncs,
 * see tools/pipeline/pipeline.h, and "stats": TapFlow's `stats` fields,
 * README "Watching a flow"). The same listener serves GET /metrics (the
 * Prometheus text format, metrics.c), GET /history (the samples the page
 * charts) and GET / (the live page, page.c). It listens on loopback by
 * default: it reveals no credentials, but nothing else needs it.
 *
 * It runs on a thread of its own (an event base and evhttp there), so it
 * answers while the daemon's loop is held by a slow target: the daemon
 * publishes the status (tfr_status_server_publish) from its loop every few
 * ms, and the endpoint serves the last one published. */
#include "daemon.h"
#include "status_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tfr_status_server {
    struct event_base *base; /* the endpoint thread's own */
    struct evhttp *http;
    struct event *stop_check;
    tfr_status_fn fn;
    void *arg;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    pthread_mutex_t lock;
    /* the last status published, as each endpoint answers it (under lock) */
    char *json, *metrics, *history;
    uint64_t history_version; /* of the history rendered */
};

static void append_ms_or_null(bson_t *doc, const char *key, int64_t ms)
{
    if (ms)
        BSON_APPEND_INT64(doc, key, ms);
    else
        BSON_APPEND_NULL(doc, key);
}

static void append_op_counts(bson_t *doc, const tfr_op_counts *c)
{
    bson_t sub;
    BSON_APPEND_DOCUMENT_BEGIN(doc, c->name ? c->name : "", &sub);
    BSON_APPEND_INT64(&sub, "insert", (int64_t)c->insert);
    BSON_APPEND_INT64(&sub, "update", (int64_t)c->update);
    BSON_APPEND_INT64(&sub, "delete", (int64_t)c->delete);
    bson_append_document_end(doc, &sub);
}

/* "stats": the fields of TapFlow's `stats` (tap stats, flow.stats()). */
static void append_stats(bson_t *doc, const tfr_status *st)
{
    bson_t stats, sub;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "stats", &stats);
    BSON_APPEND_INT64(&stats, "started_ms", st->started_ms);
    BSON_APPEND_DOCUMENT_BEGIN(&stats, "snapshot", &sub);
    append_ms_or_null(&sub, "started_ms", st->snapshot_started_ms);
    append_ms_or_null(&sub, "ended_ms", st->snapshot_ended_ms);
    BSON_APPEND_INT64(&sub, "rows", (int64_t)st->snapshot_rows);
    bson_append_document_end(&stats, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&stats, "input", &sub);
    for (size_t i = 0; i < st->input_count; i++)
        append_op_counts(&sub, &st->input[i]);
    bson_append_document_end(&stats, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&stats, "output", &sub);
    if (st->output.name)
        append_op_counts(&sub, &st->output);
    bson_append_document_end(&stats, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&stats, "qps", &sub);
    BSON_APPEND_DOUBLE(&sub, "current", st->qps);
    BSON_APPEND_DOUBLE(&sub, "average", st->qps_average);
    BSON_APPEND_DOUBLE(&sub, "max", st->qps_max);
    BSON_APPEND_DOUBLE(&sub, "last_5m", st->qps_last_5m);
    bson_append_document_end(&stats, &sub);
    BSON_APPEND_INT64(&stats, "lag_ms", st->delay_ms);
    bson_append_document_end(doc, &stats);
}

char *tfr_status_json(const tfr_status *st)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "flow", st->flow ? st->flow : "");
    BSON_APPEND_UTF8(&doc, "status", st->state ? st->state : "");
    BSON_APPEND_DOUBLE(&doc, "qps", st->qps);
    BSON_APPEND_INT64(&doc, "total_rows", (int64_t)st->total_rows);
    BSON_APPEND_INT64(&doc, "delay_ms", st->delay_ms);
    BSON_APPEND_UTF8(&doc, "position", st->position ? st->position : "");
    BSON_APPEND_INT64(&doc, "snapshot_rows", (int64_t)st->snapshot_rows);
    BSON_APPEND_INT64(&doc, "documents", (int64_t)st->documents);
    if (st->error)
        BSON_APPEND_UTF8(&doc, "error", st->error);
    bson_t rs;
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "resync", &rs);
    if (st->resync_table)
        BSON_APPEND_UTF8(&rs, "table", st->resync_table);
    else
        BSON_APPEND_NULL(&rs, "table");
    BSON_APPEND_INT64(&rs, "queued", (int64_t)st->resync_queued);
    BSON_APPEND_INT64(&rs, "chunks", (int64_t)st->resync_chunks);
    BSON_APPEND_INT64(&rs, "rows_read", (int64_t)st->resync_rows_read);
    BSON_APPEND_INT64(&rs, "rows_changed", (int64_t)st->resync_rows_changed);
    BSON_APPEND_INT64(&rs, "completed", (int64_t)st->resync_completed);
    bson_append_document_end(&doc, &rs);
    append_stats(&doc, st);
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    bson_destroy(&doc);
    return json;
}

const tfr_history_sample *tfr_history_at(const tfr_history *h, size_t i)
{
    return &h->samples[(h->next + TFR_HISTORY_SAMPLES - 1 - i) % TFR_HISTORY_SAMPLES];
}

void tfr_history_add(tfr_history *h, const tfr_history_sample *s)
{
    h->samples[h->next] = *s;
    h->next = (h->next + 1) % TFR_HISTORY_SAMPLES;
    if (h->count < TFR_HISTORY_SAMPLES)
        h->count++;
    h->version++;
}

char *tfr_history_json(const tfr_history *h)
{
    bson_t doc = BSON_INITIALIZER, samples;
    BSON_APPEND_INT32(&doc, "interval_ms", TFR_HISTORY_INTERVAL_MS);
    BSON_APPEND_ARRAY_BEGIN(&doc, "samples", &samples);
    for (size_t n = h ? h->count : 0, k = 0; k < n; k++) {
        const tfr_history_sample *s = tfr_history_at(h, n - 1 - k);
        char key[16];
        const char *kp;
        bson_uint32_to_string((uint32_t)k, &kp, key, sizeof key);
        bson_t one;
        BSON_APPEND_DOCUMENT_BEGIN(&samples, kp, &one);
        BSON_APPEND_INT64(&one, "t", s->at_ms);
        BSON_APPEND_DOUBLE(&one, "qps", s->qps);
        BSON_APPEND_INT64(&one, "delay_ms", s->delay_ms);
        BSON_APPEND_INT64(&one, "rows", (int64_t)s->rows);
        bson_append_document_end(&samples, &one);
    }
    bson_append_array_end(&doc, &samples);
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    bson_destroy(&doc);
    return json;
}

/* Answers the text a field of s holds (under its lock), or the page. */
static void reply(struct evhttp_request *req, tfr_status_server *s, char *const *field,
                  const char *content_type)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_send_error(req, 405, "only GET");
        return;
    }
    struct evbuffer *body = evbuffer_new();
    if (field) {
        pthread_mutex_lock(&s->lock);
        evbuffer_add_printf(body, "%s\n", *field ? *field : "{}");
        pthread_mutex_unlock(&s->lock);
    } else {
        evbuffer_add(body, tfr_status_page, strlen(tfr_status_page));
    }
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", content_type);
    evhttp_add_header(headers, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}

static void handle_status(struct evhttp_request *req, void *arg)
{
    tfr_status_server *s = arg;
    reply(req, s, &s->json, "application/json");
}

static void handle_history(struct evhttp_request *req, void *arg)
{
    tfr_status_server *s = arg;
    reply(req, s, &s->history, "application/json");
}

static void handle_metrics(struct evhttp_request *req, void *arg)
{
    tfr_status_server *s = arg;
    reply(req, s, &s->metrics, "text/plain; version=0.0.4; charset=utf-8");
}

/* "/" is the page; any other path not registered is a 404. */
static void handle_other(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path && (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)) {
        reply(req, arg, NULL, "text/html; charset=utf-8");
        return;
    }
    evhttp_send_error(req, 404, "not found: try /, /status, /metrics or /history");
}

static void on_stop_check(evutil_socket_t fd, short what, void *arg)
{
    tfr_status_server *s = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&s->stop))
        event_base_loopbreak(s->base);
}

static void *serve(void *arg)
{
    tfr_status_server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

void tfr_status_server_publish(tfr_status_server *s)
{
    tfr_status st = {0};
    s->fn(s->arg, &st);
    char *json = tfr_status_json(&st);
    char *metrics = tfr_status_metrics(&st);
    /* the history changes every few seconds: rendered only then */
    uint64_t version = st.history ? st.history->version : 0;
    char *history =
        !s->history || version != s->history_version ? tfr_history_json(st.history) : NULL;
    pthread_mutex_lock(&s->lock);
    char *old_json = s->json, *old_metrics = s->metrics, *old_history = NULL;
    s->json = json;
    s->metrics = metrics;
    if (history) {
        old_history = s->history;
        s->history = history;
        s->history_version = version;
    }
    pthread_mutex_unlock(&s->lock);
    bson_free(old_json);
    bson_free(old_metrics);
    bson_free(old_history);
}

tfr_status_server *tfr_status_server_start(const char *host, uint16_t port, tfr_status_fn fn,
                                           void *arg, tf_error *err)
{
    tfr_status_server *s = bson_malloc0(sizeof *s);
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->lock, NULL);
    s->base = event_base_new();
    s->http = s->base ? evhttp_new(s->base) : NULL;
    if (!s->http || evhttp_bind_socket(s->http, host, port) != 0) {
        tf_error_set(err, TF_ERR_IO, 0,
                     "status endpoint: cannot listen on %.100s:%u (%s): set status_listen in "
                     "[tapflow] to a free port",
                     host, port, strerror(errno));
        tfr_status_server_free(s);
        return NULL;
    }
    evhttp_set_cb(s->http, "/status", handle_status, s);
    evhttp_set_cb(s->http, "/metrics", handle_metrics, s);
    evhttp_set_cb(s->http, "/history", handle_history, s);
    evhttp_set_gencb(s->http, handle_other, s);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    tfr_status_server_publish(s);
    /* the thread looks at the stop flag ten times a second (no libevent
     * call crosses threads) */
    s->stop_check = event_new(s->base, -1, EV_PERSIST, on_stop_check, s);
    struct timeval tv = {0, 100 * 1000};
    event_add(s->stop_check, &tv);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        tf_error_set(err, TF_ERR_IO, 0, "status endpoint: cannot start its thread: %s",
                     strerror(errno));
        tfr_status_server_free(s);
        return NULL;
    }
    s->started = true;
    return s;
}

void tfr_status_server_free(tfr_status_server *s)
{
    if (!s)
        return;
    if (s->started) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
    }
    if (s->stop_check)
        event_free(s->stop_check);
    if (s->http)
        evhttp_free(s->http);
    if (s->base)
        event_base_free(s->base);
    pthread_mutex_destroy(&s->lock);
    bson_free(s->json);
    bson_free(s->metrics);
    bson_free(s->history);
    bson_free(s);
}

/* ---- the client (status_client.c does the GET) ---- */

/* The guide's line from a /status answer's body. */
static int print_status(const char *flow, const char *host, uint16_t port, const char *body)
{
    bson_t doc;
    bson_error_t error;
    if (!bson_init_from_json(&doc, body, -1, &error)) {
        fprintf(stderr, "tapflow-replica status: %s:%u did not answer a tapflow status\n", host,
                port);
        return 1;
    }
    bson_iter_t it;
    const char *name = bson_iter_init_find(&it, &doc, "flow") && BSON_ITER_HOLDS_UTF8(&it)
                           ? bson_iter_utf8(&it, NULL)
                           : "";
    if (strcmp(name, flow) != 0) {
        fprintf(stderr, "tapflow-replica status: %s:%u runs flow %s, not %s\n", host, port, name,
                flow);
        bson_destroy(&doc);
        return 1;
    }
    const char *state = bson_iter_init_find(&it, &doc, "status") && BSON_ITER_HOLDS_UTF8(&it)
                            ? bson_iter_utf8(&it, NULL)
                            : "unknown";
    double qps = bson_iter_init_find(&it, &doc, "qps") ? bson_iter_as_double(&it) : 0;
    int64_t rows = bson_iter_init_find(&it, &doc, "total_rows") ? bson_iter_as_int64(&it) : 0;
    int64_t delay = bson_iter_init_find(&it, &doc, "delay_ms") ? bson_iter_as_int64(&it) : 0;
    printf("job current status is: %s, qps is: %.1f, total rows: %lld, delay is: %lldms\n", state,
           qps, (long long)rows, (long long)delay);
    if (bson_iter_init_find(&it, &doc, "error") && BSON_ITER_HOLDS_UTF8(&it))
        fprintf(stderr, "error: %s\n", bson_iter_utf8(&it, NULL));
    bson_destroy(&doc);
    return 0;
}

int tfr_status_client(const char *flow, const char *host, uint16_t port)
{
    char why[300];
    char *body = tfr_status_get(host, port, why, sizeof why);
    if (!body) {
        fprintf(stderr, "tapflow-replica status: %s: is the flow %s running?\n", why, flow);
        return 1;
    }
    int rc = print_status(flow, host, port, body);
    bson_free(body);
    return rc;
}
