/* run.c — the daemon's lifecycle (DESIGN.md "Lifecycle").
 *
 *   start     read the flow's checkpoint from the target
 *   snapshot  none (or --resnapshot): the flow's checkpoint, state and
 *             documents are removed, then one consistent snapshot reads the
 *             lookup tables and, last, the root table; every row is applied
 *             to the view as an insert, and the documents of each root
 *             chunk are inserted as it is read (the whole set is never held
 *             in memory); then the checkpoint (a new state base + the
 *             snapshot's binlog position)
 *   resume    a checkpoint and --gtid-resume: the view state is loaded from
 *             the base and delta chunks stored with the checkpoint
 *             (state_store.c); nothing is read from the source tables and
 *             no document is computed
 *   stream    tf_replica from the position: each complete transaction is
 *             applied to the view (and recorded for the next delta); its
 *             documents go to the writer thread at once when it is free,
 *             else with its next write, merged per document with what the
 *             transactions meanwhile did to them; a
 *             timer writes the checkpoint (a delta of the changes since the
 *             last one, or a new base when the deltas grew large, then GTID
 *             position and counts) at most every checkpoint_interval_ms,
 *             always between transactions
 *   stop      SIGTERM / SIGINT: flush, checkpoint, exit 0
 *
 * The pipeline (tools/pipeline/pipeline.h) applies rows and transactions
 * and commits checkpoints; this file owns the connections, the sink, the
 * timer, the signals and the status endpoint. Everything runs on one
 * libevent loop except the target's writes, which run on the sink's
 * writer thread (sink_worker.h): a slow target never stops the source
 * being read. The writer wakes the loop after each write; the status
 * endpoint answers from a thread of its own (status_http.c). */
#include "daemon.h"
#include "pipeline.h"
#include "replica.h"
#include "sink.h"
#include "sink_worker.h"
#include "state_store.h"
#include "view.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 10
/* how often the status endpoint's answer is renewed */
#define STATUS_PUBLISH_MS 50
/* How long a stop waits for the writer's call in progress (a hung target). */
#define WRITER_STOP_MS 10000

typedef struct daemon_ctx {
    const tfr_run_options *opt;
    tfr_config cfg;
    tf_flow_spec *spec;
    char spec_hash[TF_FLOW_HASH_HEX_LEN + 1];
    const tfr_datasource *src, *dst;
    struct event_base *base;
    tf_pipeline *pipeline;
    tf_view *view;           /* the pipeline's */
    tf_pipeline_sink target; /* the sink and state store the pipeline writes through */
    tf_sink *sink;
    tf_sink_worker *writer; /* the thread writing through sink */
    struct event *written;  /* activated by the writer after each write */
    bool writer_abandoned;  /* stuck in a target call at exit: its sink,
                               event and base are left to the exit */
    tfr_state_store *store;
    tf_replica *replica;
    tf_snapshot *snapshot;
    tf_snapshot *resync_read; /* the re-sync read in flight */
    tf_value *resync_keys;    /* its keys (key reads borrow them until done) */
    char *resync_table;       /* "`db`.`table`" of it */
    tfr_status_server *status;
    struct event *sig_term, *sig_int, *tick;
    tf_conn_options conn;
    size_t table_count;
    char **tables; /* "db.table" for the snapshot */

    char position[512]; /* for status: the replica's, else the start point */

    /* Root key (for the sink's unique index), saved with the state. */
    size_t root_key_count;
    char **root_key;

    double qps, qps_max;
    uint64_t qps_rows;
    int64_t qps_at_ms;
    int64_t started_ms, snapshot_started_ms, snapshot_ended_ms;
    uint64_t errors_fatal;
    /* the page's charts: a sample every TFR_HISTORY_INTERVAL_MS */
    tfr_history history;
    int64_t history_at_ms;
    uint64_t history_rows;
    /* the delay at each tick since the last sample, summed: the sample
     * holds their mean (MariaDB's commit times are whole seconds, so a
     * highest value would be its second's rounding, always about 1 s) */
    int64_t history_delay_sum;
    uint64_t history_delay_ticks;
    /* what status_fill hands out (valid until the next call) */
    tfr_op_counts *input;
    tf_pipeline_table_stats *table_stats;
    size_t table_cap;
    tf_pipeline_stats last_ps;
    tf_sink_stats last_ss;
    int exit_code;
    int64_t phase_started_ms;
    int64_t status_published_ms;
} daemon_ctx;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool phase_is(const daemon_ctx *d, tf_pipeline_phase phase)
{
    return tf_pipeline_get_phase(d->pipeline) == phase;
}

static void fatal(daemon_ctx *d, const tf_error *err)
{
    tfr_log("error: %s", err->message);
    d->errors_fatal++;
    tf_pipeline_fail(d->pipeline, err);
    d->exit_code = 1;
    if (d->status)
        tfr_status_server_publish(d->status);
    event_base_loopexit(d->base, NULL);
}

/* Source row changes applied in this run (snapshot included), from the
 * per-table counters. */
static uint64_t rows_this_run(daemon_ctx *d, size_t *table_count)
{
    size_t n = tf_pipeline_get_table_stats(d->pipeline, d->table_stats, d->table_cap);
    if (n > d->table_cap) {
        d->table_cap = n;
        d->table_stats = bson_realloc(d->table_stats, n * sizeof *d->table_stats);
        d->input = bson_realloc(d->input, n * sizeof *d->input);
        n = tf_pipeline_get_table_stats(d->pipeline, d->table_stats, d->table_cap);
    }
    uint64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const tf_pipeline_table_stats *t = &d->table_stats[i];
        d->input[i] = (tfr_op_counts){t->table, t->inserts, t->updates, t->deletes};
        rows += t->inserts + t->updates + t->deletes;
    }
    if (table_count)
        *table_count = n;
    return rows;
}

/* Rows per second over the last five minutes of the history (over the
 * whole run when it is younger). */
static double qps_last_5m(const daemon_ctx *d, uint64_t rows, int64_t now)
{
    int64_t since = d->started_ms;
    uint64_t rows_then = 0;
    for (size_t i = 0; i < d->history.count; i++) {
        const tfr_history_sample *s = tfr_history_at(&d->history, i);
        if (now - s->at_ms > 300 * 1000)
            break;
        since = s->at_ms;
        rows_then = s->rows;
    }
    return now > since ? (double)(rows - rows_then) * 1000.0 / (double)(now - since) : 0.0;
}

static void status_fill(void *arg, tfr_status *out)
{
    daemon_ctx *d = arg;
    int64_t now = now_ms();
    tf_pipeline_stats ps;
    tf_pipeline_get_stats(d->pipeline, &ps);
    d->last_ps = ps;
    out->flow = d->spec->name;
    out->state = tf_pipeline_phase_name(tf_pipeline_get_phase(d->pipeline));
    out->qps = d->qps;
    out->total_rows = ps.rows_total;
    out->delay_ms = ps.delay_ms;
    out->position = d->position;
    out->error = tf_pipeline_error(d->pipeline);
    out->snapshot_rows = ps.snapshot_rows;
    tf_pipeline_resync_stats rs;
    tf_pipeline_get_resync_stats(d->pipeline, &rs);
    out->resync_table = rs.table;
    out->resync_queued = rs.queued;
    out->resync_chunks = rs.chunks;
    out->resync_rows_read = rs.rows_read;
    out->resync_rows_changed = rs.rows_changed;
    out->resync_completed = rs.completed;
    /* the sink is reopened once (snapshot): its counters are the ones of
     * the run's last writer, taken while there is one */
    if (d->writer)
        tf_sink_worker_get_stats(d->writer, &d->last_ss);
    const tf_sink_stats *ss = &d->last_ss;
    out->documents = ss->ops_written;

    out->now_ms = now;
    out->started_ms = d->started_ms;
    out->snapshot_started_ms = d->snapshot_started_ms;
    out->snapshot_ended_ms = d->snapshot_ended_ms;
    uint64_t rows = rows_this_run(d, &out->input_count);
    out->input = d->input;
    out->output =
        (tfr_op_counts){d->spec->target_collection, ss->inserted, ss->updated, ss->deleted};
    out->qps_average =
        now > d->started_ms ? (double)rows * 1000.0 / (double)(now - d->started_ms) : 0.0;
    out->qps_max = d->qps_max;
    out->qps_last_5m = qps_last_5m(d, rows, now);

    out->version = tf_tapflow_version();
    out->transactions = ps.transactions;
    out->write_latency =
        (tfr_histogram){tf_sink_latency_bounds, TF_SINK_LATENCY_BUCKETS, ss->write_latency.count,
                        ss->write_latency.total, ss->write_latency.sum_seconds};
    const tf_latency_histogram *cl = &d->last_ps.checkpoint_latency;
    out->checkpoint_latency = (tfr_histogram){tf_sink_latency_bounds, TF_SINK_LATENCY_BUCKETS,
                                              cl->count, cl->total, cl->sum_seconds};
    out->checkpoint_acked_ms = ps.checkpoint_acked_ms;
    tf_view_stats vs;
    tf_view_get_stats(d->view, &vs);
    out->view_rows = vs.row_count;
    out->view_bytes = vs.memory_bytes;
    out->view_state_file_bytes = vs.state_file_bytes;
    out->view_state_resident_bytes = vs.state_resident_bytes;
    out->planned_replaces = vs.planned_replaces;
    out->planned_positional_keys = vs.planned_positional_keys;
    const tf_sink_write_costs *wc = &ss->costs;
    out->write_costs_measured = wc->measured;
    out->write_cost_ms[TFR_COST_REPLACE] = wc->replace_ms;
    out->write_cost_ms[TFR_COST_REPLACE_PER_KB] = wc->replace_per_kb_ms;
    out->write_cost_ms[TFR_COST_UPDATE] = wc->update_ms;
    out->write_cost_ms[TFR_COST_UPDATE_PER_KB] = wc->update_per_kb_ms;
    out->write_cost_ms[TFR_COST_INSERT] = wc->insert_ms;
    out->write_cost_ms[TFR_COST_INSERT_PER_KB] = wc->insert_per_kb_ms;
    out->write_cost_ms[TFR_COST_UPDATE_MANY] = wc->update_many_ms;
    out->write_cost_ms[TFR_COST_UPDATE_MANY_DOC] = wc->update_many_doc_ms;
    out->resync_rows_read_total = rs.rows_read_total;
    out->resync_rows_changed_total = rs.rows_changed_total;
    out->source_reconnects = d->replica ? tf_replica_get_stats(d->replica)->reconnects : 0;
    out->target_retries = ss->retries;
    out->errors_fatal = d->errors_fatal;
    out->errors_resync_read = rs.read_errors;
    out->history = &d->history;
}

/* Every TFR_HISTORY_INTERVAL_MS: a sample for the page's charts, with
 * the mean delay of the interval. */
static void history_tick(daemon_ctx *d, int64_t now)
{
    tf_pipeline_stats ps;
    tf_pipeline_get_stats(d->pipeline, &ps);
    d->history_delay_sum += ps.delay_ms;
    d->history_delay_ticks++;
    if (now - d->history_at_ms < TFR_HISTORY_INTERVAL_MS)
        return;
    uint64_t rows = rows_this_run(d, NULL);
    tfr_history_sample s = {
        .at_ms = now,
        .qps = (double)(rows - d->history_rows) * 1000.0 / (double)(now - d->history_at_ms),
        .delay_ms = d->history_delay_sum / (int64_t)d->history_delay_ticks,
        .rows = rows,
    };
    tfr_history_add(&d->history, &s);
    d->history_at_ms = now;
    d->history_rows = rows;
    d->history_delay_sum = 0;
    d->history_delay_ticks = 0;
}

/* The replica's position after the last transaction applied. */
static void take_replica_position(daemon_ctx *d)
{
    if (!d->replica)
        return;
    char text[sizeof d->position];
    tf_replica_position(d->replica, text, sizeof text);
    snprintf(d->position, sizeof d->position, "%s", text);
    /* "file:pos" when streaming by file, else a GTID position / set. */
    const tf_replica_server_info *info = tf_replica_server(d->replica);
    tf_pipeline_position pos = {0};
    if (info) {
        pos.flavour = info->flavour == TF_FLAVOUR_MYSQL ? "mysql" : "mariadb";
        pos.server_uuid = info->server_uuid;
        pos.server_id = info->server_id;
    }
    bool is_gtid = info && info->gtid_mode && strchr(text, ':') == NULL;
    if (info && info->flavour == TF_FLAVOUR_MYSQL)
        is_gtid = info->gtid_mode;
    if (is_gtid)
        pos.gtid = text;
    tf_pipeline_set_position(d->pipeline, &pos);
}

/* ---- the streaming phase ---- */

static bool on_transaction(tf_replica *r, const tf_replica_txn *txn, void *arg, tf_error *err)
{
    daemon_ctx *d = arg;
    (void)r;
    return tf_pipeline_apply_replica_txn(d->pipeline, txn, err);
}

static void on_replica_event(tf_replica *r, const tf_replica_event *ev, void *arg)
{
    daemon_ctx *d = arg;
    (void)r;
    if (ev->event.kind == TF_EVENT_HEARTBEAT)
        tf_pipeline_source_idle(d->pipeline);
}

static void on_replica_log(tf_replica *r, const char *message, void *arg)
{
    (void)r;
    (void)arg;
    tfr_log("source: %s", message);
}

static void on_replica_stop(tf_replica *r, const tf_error *err, void *arg)
{
    daemon_ctx *d = arg;
    (void)r;
    if (err) {
        tf_error e = *err;
        tf_error_prefix(&e, "replication stream");
        fatal(d, &e);
    }
}

static bool start_stream(daemon_ctx *d, tf_replica_start_mode mode, tf_error *err)
{
    tf_replica_options ro = {0};
    ro.conn = d->conn;
    const tfr_relay *relay = d->src->relay ? tfr_config_relay(&d->cfg, d->src->relay) : NULL;
    if (relay) {
        /* The binlog from the relay (same account), the snapshots from the
         * server: the relay holds the same GTIDs the server wrote. */
        ro.conn.host = relay->listen_host;
        ro.conn.port = relay->listen_port;
        ro.conn.socket_path = NULL;
        ro.conn.tls_mode = TF_TLS_PREFERRED;
    }
    ro.server_id = tfr_flow_server_id(&d->cfg, d->spec->name);
    ro.report_host = "tapflow-replica";
    ro.start = mode;
    tf_pipeline_position at;
    tf_pipeline_get_position(d->pipeline, &at);
    ro.gtid = at.gtid;
    ro.file = at.binlog_file;
    ro.position = at.binlog_pos;
    ro.cb.on_transaction = on_transaction;
    ro.cb.on_log = on_replica_log;
    ro.cb.on_event = on_replica_event;
    /* Heartbeats tell an idle source (delay 0) within this long. */
    ro.heartbeat_period = 2.0;
    ro.cb.on_stop = on_replica_stop;
    ro.arg = d;
    d->replica = tf_replica_new(d->base, &ro, err);
    if (!d->replica || !tf_replica_start(d->replica, err))
        return false;
    snprintf(d->position, sizeof d->position, "%s",
             mode == TF_REPLICA_START_GTID ? at.gtid : at.binlog_file);
    tf_pipeline_set_phase(d->pipeline, TF_PIPELINE_RUNNING);
    /* /status says so before the log line does */
    tfr_status_server_publish(d->status);
    if (mode == TF_REPLICA_START_GTID)
        tfr_log("streaming from GTID position %s", at.gtid);
    else
        tfr_log("streaming from binlog %s:%" PRIu64, at.binlog_file, at.binlog_pos);
    return true;
}

/* The primary key of a snapshot table as the view takes it (at most 64
 * columns, which MySQL and MariaDB never exceed); returns the count. */
static size_t snapshot_key(const tf_snapshot_table *t, uint32_t pk[64])
{
    size_t n = t->key_count < 64 ? t->key_count : 64;
    for (size_t k = 0; k < n; k++)
        pk[k] = (uint32_t)t->key_columns[k];
    return n;
}

/* ---- re-sync reads: the pipeline's source ---- */

static void resync_read_free(daemon_ctx *d)
{
    if (d->resync_read)
        tf_snapshot_destroy(d->resync_read);
    d->resync_read = NULL;
    bson_free(d->resync_keys);
    d->resync_keys = NULL;
    bson_free(d->resync_table);
    d->resync_table = NULL;
}

static void on_resync_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    daemon_ctx *d = arg;
    (void)pos;
    const tf_snapshot_table *t = tf_snapshot_get_table(s, 0);
    uint32_t pk[64];
    size_t n = snapshot_key(t, pk);
    tf_pipeline_resync_columns(d->pipeline, t->columns, t->column_count, pk, n);
}

static bool on_resync_row(tf_snapshot *s, const tf_snapshot_table *table, const tf_value *values,
                          void *arg, tf_error *err)
{
    daemon_ctx *d = arg;
    (void)s;
    (void)table;
    (void)err;
    tf_pipeline_resync_row(d->pipeline, values);
    return true;
}

/* Runs from the timer, not from the snapshot's callback: the pipeline
 * frees the read's columns' owner only after tf_pipeline_resync_done. */
static void on_resync_done(tf_snapshot *s, const tf_error *rerr, void *arg)
{
    daemon_ctx *d = arg;
    tf_error err = {0};
    bool exhausted = !rerr && tf_snapshot_exhausted(s);
    if (!tf_pipeline_resync_done(d->pipeline, exhausted, rerr, now_ms(), &err))
        fatal(d, &err);
    /* The snapshot may be destroyed from its on_done. */
    resync_read_free(d);
}

static bool source_read(void *arg, const tf_pipeline_read *req, tf_error *err)
{
    daemon_ctx *d = arg;
    resync_read_free(d);
    d->resync_table = bson_strdup_printf("`%s`.`%s`", d->src->database, req->table);
    tf_snapshot_options so = {0};
    so.conn = d->conn;
    so.tables = (const char *const *)&d->resync_table;
    so.table_count = 1;
    so.no_position = true;
    so.start_after = req->after;
    so.start_after_count = req->after ? req->key_count : 0;
    so.max_rows = req->max_rows;
    so.chunk_rows = req->max_rows ? req->max_rows : 1000;
    if (req->keys) {
        d->resync_keys = tf_pipeline_values_dup(req->keys, req->key_rows * req->key_count);
        so.key_rows = d->resync_keys;
        so.key_row_count = req->key_rows;
    }
    so.cb.on_position = on_resync_position;
    so.cb.on_row = on_resync_row;
    so.cb.on_done = on_resync_done;
    so.arg = d;
    d->resync_read = tf_snapshot_new(d->base, &so, err);
    if (!d->resync_read || !tf_snapshot_start(d->resync_read, err)) {
        resync_read_free(d);
        return false;
    }
    return true;
}

static void source_cancel(void *arg) { resync_read_free(arg); }

static void on_pipeline_log(void *arg, const char *message)
{
    (void)arg;
    tfr_log("%s", message);
}

/* ---- the snapshot phase ---- */

static bool open_sink(daemon_ctx *d, bool with_index, tf_error *err);

static void on_snapshot_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    daemon_ctx *d = arg;
    tf_error err = {0};
    tf_pipeline_position at = {
        .gtid = pos->gtid ? pos->gtid : "",
        .binlog_file = pos->file,
        .binlog_pos = pos->pos,
        .flavour = pos->flavour == TF_FLAVOUR_MYSQL ? "mysql" : "mariadb",
    };
    tf_pipeline_set_position(d->pipeline, &at);
    snprintf(d->position, sizeof d->position, "%s", pos->gtid ? pos->gtid : pos->file);
    tfr_log("snapshot position: GTID %s, binlog %s:%" PRIu64, pos->gtid ? pos->gtid : "(none)",
            pos->file, pos->pos);
    /* Every table is defined before the first row: the view resolves its
     * joins only once it knows them all. */
    for (size_t i = 0; i < tf_snapshot_table_count(s); i++) {
        const tf_snapshot_table *t = tf_snapshot_get_table(s, i);
        uint32_t pk[64];
        size_t n = snapshot_key(t, pk);
        if (tf_view_define_table(d->view, t->name, t->columns, t->column_count, pk, n, &err) !=
            TF_OK) {
            fatal(d, &err);
            return;
        }
        if (strcmp(t->name, d->spec->source_table) == 0) {
            d->root_key_count = n;
            d->root_key = bson_malloc0(n * sizeof *d->root_key);
            for (size_t k = 0; k < n; k++) {
                const tf_column *c = &t->columns[t->key_columns[k]];
                d->root_key[k] = tf_strndup(c->name.ptr, c->name.len);
            }
        }
    }
    /* Documents are written as the root table is read: the sink is
     * reopened with the root key, now known, for its unique index. */
    if (!open_sink(d, true, &err))
        fatal(d, &err);
}

static bool on_snapshot_row(tf_snapshot *s, const tf_snapshot_table *table, const tf_value *values,
                            void *arg, tf_error *err)
{
    daemon_ctx *d = arg;
    (void)s;
    if (d->exit_code)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "stopped"), false;
    return tf_pipeline_snapshot_row(d->pipeline, table->name, values, err);
}

static void on_snapshot_table_done(tf_snapshot *s, const tf_snapshot_table *table, void *arg)
{
    (void)s;
    (void)arg;
    tfr_log("snapshot: %s.%s read (%" PRIu64 " rows)", table->schema, table->name, table->rows);
}

static void on_snapshot_done(tf_snapshot *s, const tf_error *serr, void *arg)
{
    daemon_ctx *d = arg;
    tf_error err = {0};
    if (serr) {
        err = *serr;
        fatal(d, &err);
        return;
    }
    if (phase_is(d, TF_PIPELINE_ERROR))
        return;
    /* The last documents, then the state base and the checkpoint. */
    int64_t t1 = now_ms();
    if (!tf_pipeline_snapshot_done(d->pipeline, t1, &err)) {
        fatal(d, &err);
        return;
    }
    tf_pipeline_stats ps;
    tf_pipeline_get_stats(d->pipeline, &ps);
    tf_sink_stats st;
    tf_sink_worker_get_stats(d->writer, &st);
    tfr_state_stats ss;
    tfr_state_store_get_stats(d->store, &ss);
    tfr_log("snapshot done: %" PRIu64 " rows, %" PRIu64 " documents written, state base of "
            "%.1f MB in %zu chunks, last documents and state written in %.3f s (total %.3f s); "
            "checkpoint written",
            ps.snapshot_rows, st.ops_written, (double)ss.base_bytes / 1e6, ss.base_chunks,
            (double)(now_ms() - t1) / 1000.0, (double)(now_ms() - d->phase_started_ms) / 1000.0);
    d->snapshot_ended_ms = now_ms();
    tf_replica_options ro = {0};
    tf_snapshot_replica_start(tf_snapshot_get_position(s), &ro);
    if (!start_stream(d, ro.start, &err))
        fatal(d, &err);
    /* The snapshot is freed by the caller once the loop ends (not from its
     * own callback's stack frame, although allowed). */
}

static bool start_snapshot(daemon_ctx *d, tf_error *err)
{
    tf_snapshot_options so = {0};
    so.conn = d->conn;
    so.tables = (const char *const *)d->tables;
    so.table_count = d->table_count;
    so.chunk_rows = 5000;
    so.cb.on_position = on_snapshot_position;
    so.cb.on_row = on_snapshot_row;
    so.cb.on_table_done = on_snapshot_table_done;
    so.cb.on_done = on_snapshot_done;
    so.arg = d;
    d->snapshot = tf_snapshot_new(d->base, &so, err);
    if (!d->snapshot || !tf_snapshot_start(d->snapshot, err))
        return false;
    tf_pipeline_set_phase(d->pipeline, TF_PIPELINE_SNAPSHOT);
    d->phase_started_ms = now_ms();
    d->snapshot_started_ms = d->phase_started_ms;
    tfr_log("snapshot of %zu tables of %s started", d->table_count, d->src->database);
    return true;
}

/* ---- the target before a snapshot ---- */

/* The snapshot rebuilds the flow's documents from nothing: the flow's
 * checkpoint, state and collection are removed first, so inserts are valid
 * and no document of a deleted source row lingers. A collection holding
 * documents without any checkpoint of this flow is only taken over with
 * --resnapshot (or when this flow's interrupted snapshot marked it). */
static bool prepare_target(daemon_ctx *d, bool had_checkpoint, tf_error *err)
{
    if (!had_checkpoint && !d->opt->resnapshot) {
        bool exist = false, marked = false;
        if (!tf_sink_documents_exist(d->sink, &exist, err) ||
            (exist && !tfr_state_store_snapshot_marked(d->sink, &marked, err)))
            return false;
        if (exist && !marked)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "flow %s has no checkpoint but %s.%s already holds documents "
                                "(of another program, or of a flow whose checkpoint was "
                                "removed): restart with --resnapshot to replace them",
                                d->spec->name, d->dst->database, d->spec->target_collection),
                   false;
        if (marked)
            tfr_log("the previous snapshot of flow %s was interrupted: starting it again",
                    d->spec->name);
    }
    return tf_sink_reset(d->sink, err) && tfr_state_store_mark_snapshot(d->sink, err);
}

/* ---- signals and the timer ---- */

/* After the last checkpoint of a clean stop: the state file stays in
 * state_dir for the next start on this host (seal.c), named by the flow
 * and tagged with that checkpoint. */
static void keep_state(daemon_ctx *d)
{
    const char *tag = tfr_state_store_tag(d->store);
    if (!d->cfg.state_dir || !tag)
        return;
    int64_t t0 = now_ms();
    tf_error err = {0};
    if (tf_view_seal_state(d->view, d->spec->name, tag, &err) != TF_OK) {
        tfr_log("the view state is not kept for the next start (it will be loaded from the "
                "target): %s",
                err.message);
        return;
    }
    tf_view_stats vs;
    tf_view_get_stats(d->view, &vs);
    tfr_log("view state kept in %s/%s.state for the next start (%.1f MB, synced in %.3f s)",
            d->cfg.state_dir, d->spec->name, (double)vs.state_file_bytes / 1e6,
            (double)(now_ms() - t0) / 1000.0);
}

static void stop_now(daemon_ctx *d, const char *why)
{
    tf_error err = {0};
    if (d->snapshot && phase_is(d, TF_PIPELINE_SNAPSHOT)) {
        tfr_log("%s during the snapshot: stopping without a checkpoint (the next start "
                "snapshots again)",
                why);
        tf_pipeline_set_phase(d->pipeline, TF_PIPELINE_STOPPED);
        event_base_loopexit(d->base, NULL);
        return;
    }
    if (phase_is(d, TF_PIPELINE_RUNNING)) {
        if (d->replica)
            take_replica_position(d);
        if (!tf_pipeline_checkpoint(d->pipeline, now_ms(), &err) ||
            !tf_pipeline_wait(d->pipeline, now_ms(), &err)) {
            fatal(d, &err);
            return;
        }
        tfr_log("%s: documents flushed, checkpoint written at %s; stopping", why, d->position);
        keep_state(d);
        tfr_state_stats ss;
        tfr_state_store_get_stats(d->store, &ss);
        tf_pipeline_stats ps;
        tf_pipeline_get_stats(d->pipeline, &ps);
        tfr_log("%" PRIu64 " checkpoints took %.1f ms on average (at most %.1f ms) with their "
                "documents; writing the state took %.1f ms on average (at most %.1f ms): "
                "%" PRIu64 " delta chunks, %" PRIu64 " new bases; stored: generation %" PRId64
                ", base %.1f MB in %zu chunks + %zu deltas of %.1f MB",
                ps.checkpoints,
                ps.checkpoints ? ps.checkpoint_ms_total / (double)ps.checkpoints : 0.0,
                ps.checkpoint_ms_max,
                ss.stage_count ? ss.stage_ms_total / (double)ss.stage_count : 0.0, ss.stage_ms_max,
                ss.deltas_written, ss.bases_written, ss.generation, (double)ss.base_bytes / 1e6,
                ss.base_chunks, ss.delta_chunks, (double)ss.delta_bytes / 1e6);
    }
    tf_pipeline_set_phase(d->pipeline, TF_PIPELINE_STOPPED);
    if (d->replica)
        tf_replica_stop(d->replica);
    event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    stop_now(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void pipeline_tick(daemon_ctx *d, int64_t now)
{
    tf_error err = {0};
    if (d->writer && !tf_sink_worker_ok(d->writer, &err)) {
        if (!phase_is(d, TF_PIPELINE_ERROR))
            fatal(d, &err);
        return;
    }
    if (!phase_is(d, TF_PIPELINE_RUNNING))
        return;
    take_replica_position(d);
    if (!tf_pipeline_tick(d->pipeline, now, &err))
        fatal(d, &err);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    daemon_ctx *d = arg;
    (void)fd;
    (void)what;
    int64_t now = now_ms();
    if (now - d->status_published_ms >= STATUS_PUBLISH_MS) {
        tfr_status_server_publish(d->status);
        d->status_published_ms = now;
    }
    /* from this run's counters: the checkpoint's total, set on a resume,
     * is no change applied now */
    if (now - d->qps_at_ms >= 1000) {
        uint64_t rows = rows_this_run(d, NULL);
        d->qps = (double)(rows - d->qps_rows) * 1000.0 / (double)(now - d->qps_at_ms);
        if (d->qps > d->qps_max)
            d->qps_max = d->qps;
        d->qps_rows = rows;
        d->qps_at_ms = now;
    }
    history_tick(d, now);
    pipeline_tick(d, now);
}

/* The writer finished a write: its acknowledgment, and the documents that
 * waited for it, now rather than at the next tick. */
static void on_written(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pipeline_tick(arg, now_ms());
}

/* ---- set-up ---- */

/* The updateMany filters of lookups nested under an array lookup
 * ("order_items.seller_id") need an index on MongoDB, or every fan-out
 * update scans the collection. Only created where those updates are sent. */
static bool create_fanout_indexes(daemon_ctx *d, tf_error *err)
{
    for (size_t i = 0; i < d->spec->lookup_count; i++) {
        const tf_flow_lookup *l = &d->spec->lookups[i];
        if (l->parent < 0 || l->relation_count == 0 || l->relation_count > 16)
            continue;
        const char *fields[16];
        for (size_t r = 0; r < l->relation_count; r++)
            fields[r] = l->relations[r].parent_field;
        char name[160];
        snprintf(name, sizeof name, "tapflow_fanout_%.120s", l->path);
        if (!tf_sink_ensure_index(d->sink, name, fields, l->relation_count, err))
            return false;
    }
    return true;
}

/* Runs on the writer's thread: only wakes the loop. */
static void writer_done(void *arg)
{
    daemon_ctx *d = arg;
    event_active(d->written, EV_TIMEOUT, 0);
}

static void close_sink(daemon_ctx *d)
{
    tf_pipeline_sink_cleanup(&d->target);
    if (!tf_sink_worker_stop(d->writer, WRITER_STOP_MS)) {
        /* still inside a call to the target: the process ends with it */
        tfr_log("the target did not answer the last write within %d s; exiting without it",
                WRITER_STOP_MS / 1000);
        d->sink = NULL;
        d->writer_abandoned = true;
    }
    d->writer = NULL;
    d->target.worker = NULL;
    tf_sink_destroy(d->sink);
    d->sink = NULL;
}

static void log_write_costs(const tf_sink *sink)
{
    tf_sink_stats ss;
    tf_sink_get_stats(sink, &ss);
    const tf_sink_write_costs *c = &ss.costs;
    if (!c->measured) {
        tfr_log("target write costs: not measured (the probe's writes failed); documents are "
                "written as partial updates where they can be");
        return;
    }
    char many[96] = "updateMany: none (no arrayFilters)";
    if (c->update_many_ms > 0)
        snprintf(many, sizeof many, "updateMany %.3f ms + %.3f ms per document", c->update_many_ms,
                 c->update_many_doc_ms);
    tfr_log("target write costs (probed): replace %.3f ms + %.4f ms/KB, update %.3f ms + "
            "%.4f ms/KB, insert %.3f ms + %.4f ms/KB, %s; documents are written %s",
            c->replace_ms, c->replace_per_kb_ms, c->update_ms, c->update_per_kb_ms, c->insert_ms,
            c->insert_per_kb_ms, many,
            c->replace_ms < c->update_ms || c->replace_per_kb_ms < c->update_per_kb_ms
                ? "whole where that costs less than their partial update"
                : "by partial updates (each costs less than a replace)");
}

static bool open_sink(daemon_ctx *d, bool with_index, tf_error *err)
{
    close_sink(d);
    tf_sink_options so;
    tf_sink_options_init(&so);
    so.uri = d->dst->uri;
    so.database = d->dst->database;
    so.collection = d->spec->target_collection;
    so.flow = d->spec->name;
    so.root_key_fields = with_index ? (const char *const *)d->root_key : NULL;
    so.n_root_key_fields = with_index ? d->root_key_count : 0;
    so.root_key_index_plain = d->cfg.root_key_index_plain;
    if (d->cfg.checkpoint_collection)
        so.checkpoint_collection = d->cfg.checkpoint_collection;
    so.max_batch_ops = d->cfg.batch_max_ops;
    _Static_assert(TFR_MAX_WRITE_CONNECTIONS <= TF_SINK_MAX_CONNECTIONS,
                   "the config allows more connections than the sink");
    so.connections = d->cfg.write_connections;
    so.max_batch_bytes = d->cfg.batch_max_bytes;
    so.fanout = TF_FANOUT_DETECT; /* the view follows the server (below) */
    /* Documents addressed by the _id derived from the root key: the one
     * filter FerretDB pushes down (sink.h, "Addressing by _id"). */
    so.id_from_root_key = true;
    /* The streaming sink: its costs plan each flush's writes. */
    so.probe_costs = with_index && !d->cfg.write_plan_off;
    d->sink = tf_sink_open(&so, err);
    d->target.root_key = d->root_key;
    d->target.root_key_count = d->root_key_count;
    if (!d->sink)
        return false;
    /* The loop calls the sink itself only until the pipeline first submits
     * (set-up, checkpoint and state reads): the writer is idle till then. */
    d->writer = tf_sink_worker_start(d->sink, writer_done, d, err);
    d->target.worker = d->writer;
    if (!d->writer)
        return false;
    /* Partial updates: updateMany with arrayFilters where the server
     * takes them, else element paths by position (FerretDB); the mode
     * changes only between flushes, and whole documents are right for any
     * server meanwhile. */
    tf_view_stats pending;
    tf_view_get_stats(d->view, &pending);
    if (pending.pending_count == 0 &&
        tf_view_set_fanout(d->view,
                           tf_sink_fanout_mode(d->sink) == TF_FANOUT_ARRAY_FILTERS
                               ? TF_VIEW_FANOUT_ARRAY_FILTERS
                               : TF_VIEW_FANOUT_POSITIONAL,
                           err) != TF_OK)
        return false;
    if (with_index && tf_sink_fanout_mode(d->sink) == TF_FANOUT_ARRAY_FILTERS &&
        !create_fanout_indexes(d, err))
        return false;
    if (with_index && !d->cfg.write_plan_off)
        log_write_costs(d->sink);
    bool supported = tf_sink_supports_decimal128(d->sink);
    tf_pipeline_set_decimal(d->pipeline, d->cfg.decimal == TFR_DECIMAL_STRING
                                             ? TF_PIPELINE_DECIMAL_STRING
                                         : d->cfg.decimal == TFR_DECIMAL_DOUBLE || !supported
                                             ? TF_PIPELINE_DECIMAL_DOUBLE
                                             : TF_PIPELINE_DECIMAL_KEEP);
    if (!supported && d->cfg.decimal == TFR_DECIMAL_AUTO && with_index)
        tfr_log("warning: the target does not store Decimal128: DECIMAL values are written as "
                "double (set decimal = string in [tapflow] of %s to keep their exact text)",
                d->cfg.file);
    return true;
}

static bool resolve_datasources(daemon_ctx *d, tf_error *err)
{
    const tf_flow_spec *spec = d->spec;
    d->src = tfr_config_datasource(&d->cfg, spec->source_datasource);
    if (!d->src)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s:%u:%u: datasource %s is not defined in %s (add a [datasource %s] "
                            "section)",
                            spec->file, spec->source_pos.line, spec->source_pos.column,
                            spec->source_datasource, d->cfg.file, spec->source_datasource),
               false;
    if (d->src->type != TFR_DS_MYSQL)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s:%u: datasource %s is read from but its type is not mysql",
                            d->cfg.file, d->src->line, d->src->name),
               false;
    if (!d->src->database)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s:%u: datasource %s is read from but has no database", d->cfg.file,
                            d->src->line, d->src->name),
               false;
    for (size_t i = 0; i < spec->lookup_count; i++) {
        const tf_flow_lookup *lk = &spec->lookups[i];
        if (strcmp(lk->datasource, spec->source_datasource) != 0)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "%s:%u:%u: lookup reads datasource %s but the flow reads %s: "
                                "every table of a flow must come from one source",
                                spec->file, lk->pos.line, lk->pos.column, lk->datasource,
                                spec->source_datasource),
                   false;
    }
    d->dst = tfr_config_datasource(&d->cfg, spec->target_datasource);
    if (!d->dst)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s: datasource %s (write_to) is not defined in %s (add a "
                            "[datasource %s] section)",
                            spec->file, spec->target_datasource, d->cfg.file,
                            spec->target_datasource),
               false;
    if (d->dst->type != TFR_DS_MONGODB)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s:%u: datasource %s is written to but its type is not mongodb",
                            d->cfg.file, d->dst->line, d->dst->name),
               false;
    if (!tfr_datasource_conn(&d->cfg, d->src, &d->conn, err))
        return false;
    d->tables = tf_pipeline_flow_tables(spec, d->src->database, &d->table_count);
    return true;
}

/* ---- a flow edited since its checkpoint ---- */

typedef struct schema_read {
    struct event_base *base;
    tf_view *view;
    bool failed;
    tf_error err;
} schema_read;

static void on_schema_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    schema_read *r = arg;
    (void)pos;
    const tf_snapshot_table *t = tf_snapshot_get_table(s, 0);
    uint32_t pk[64];
    size_t n = snapshot_key(t, pk);
    if (tf_view_define_table(r->view, t->name, t->columns, t->column_count, pk, n, &r->err) !=
        TF_OK)
        r->failed = true;
}

static bool on_schema_row(tf_snapshot *s, const tf_snapshot_table *t, const tf_value *values,
                          void *arg, tf_error *err)
{
    (void)s, (void)t, (void)values, (void)arg, (void)err;
    return true;
}

static void on_schema_done(tf_snapshot *s, const tf_error *err, void *arg)
{
    schema_read *r = arg;
    (void)s;
    if (err && !r->failed) {
        r->err = *err;
        r->failed = true;
    }
    event_base_loopbreak(r->base);
}

/* A table new to the flow is defined from the source's schema before the
 * stream starts (the view joins only once every table is known): an empty
 * key read on an event base of its own, so nothing else runs meanwhile. */
static bool define_from_source(daemon_ctx *d, const char *table, tf_error *err)
{
    struct event_base *base = event_base_new();
    char *name = bson_strdup_printf("`%s`.`%s`", d->src->database, table);
    tf_value none = {.kind = TF_VAL_NULL};
    schema_read r = {.base = base, .view = d->view};
    tf_snapshot_options so = {0};
    so.conn = d->conn;
    so.tables = (const char *const *)&name;
    so.table_count = 1;
    so.no_position = true;
    so.key_rows = &none; /* no key: the schema and no row */
    so.key_row_count = 0;
    so.cb.on_position = on_schema_position;
    so.cb.on_row = on_schema_row;
    so.cb.on_done = on_schema_done;
    so.arg = &r;
    tf_snapshot *s = tf_snapshot_new(base, &so, err);
    bool ok = s && tf_snapshot_start(s, err);
    if (ok) {
        event_base_dispatch(base);
        if (r.failed) {
            *err = r.err;
            ok = false;
        }
    }
    if (s)
        tf_snapshot_destroy(s);
    bson_free(name);
    event_base_free(base);
    return ok;
}

/* Resume under a flow whose lookups changed since the checkpoint: the
 * stored state is loaded into a view of the checkpoint's flow, the rows of
 * the tables whose join indexes the new flow already had carry over, the
 * others are read again (re-syncs), and every document is rewritten whole
 * once they are in. Only a changed root table or target needs a rebuild. */
static bool resume_edited(daemon_ctx *d, tf_error *err)
{
    char *old_text = tf_pipeline_progress_flow(tfr_state_store_progress(d->store));
    if (!old_text)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %s changed since its checkpoint, which does not say its own "
                            "flow (written by an older tapflow): restart with --resnapshot",
                            d->spec->name),
               false;
    tf_flow_spec *old_spec = NULL;
    tf_status st =
        tf_flow_parse(old_text, strlen(old_text), "the checkpoint's flow", &old_spec, err);
    bson_free(old_text);
    if (st != TF_OK)
        return false;
    tf_flow_edit plan;
    tf_flow_edit_plan(old_spec, d->spec, &plan);
    bool ok = !plan.rebuild;
    if (!ok)
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "flow %s: %s since its checkpoint: restart with --resnapshot to rebuild "
                     "its documents",
                     d->spec->name, plan.reason);
    tf_view *old_view = ok ? tf_view_new(old_spec) : NULL;
    if (ok)
        ok = tfr_state_store_load(d->store, d->sink, old_view, d->spec->name, err);
    for (size_t i = 0; ok && i < plan.keep_count; i++)
        ok = tf_view_adopt_table(d->view, old_view, plan.keep[i], err) == TF_OK;
    char reread[512] = "";
    for (size_t i = 0; ok && i < plan.reread_count; i++) {
        const char *t = plan.reread[i];
        const tf_column *columns;
        size_t count;
        const uint32_t *pk;
        size_t pk_count = tf_view_table_key(old_view, t, &columns, &count, &pk);
        ok = pk_count ? tf_view_define_table(d->view, t, columns, count, pk, pk_count, err) == TF_OK
                      : define_from_source(d, t, err);
        size_t len = strlen(reread);
        snprintf(reread + len, sizeof reread - len, "%s%s", len ? ", " : "", t);
    }
    if (ok) {
        tfr_log("flow %s changed since its checkpoint: the held rows of %zu tables carry over; "
                "reading again: %s; then every document is rewritten",
                d->spec->name, plan.keep_count, reread[0] ? reread : "no table");
        for (size_t i = 0; i < plan.reread_count; i++)
            tf_pipeline_resync_start(d->pipeline, plan.reread[i], false, "the flow changed");
        tf_pipeline_rewrite_all(d->pipeline, "the flow changed");
        /* the stored state is the old flow's: the next checkpoint writes it whole */
        tfr_state_store_force_base(d->store);
    }
    tf_view_destroy(old_view);
    tf_flow_spec_destroy(old_spec);
    tf_flow_edit_cleanup(&plan);
    return ok;
}

/* The view state of the checkpoint: the one a clean stop kept in state_dir
 * when it is this checkpoint's, else loaded from the target. */
static bool restore_state(daemon_ctx *d, const char **how, tf_error *err)
{
    if (d->cfg.state_dir) {
        bool reopened = false;
        tf_error why = {0};
        if (tf_view_reopen_state(d->view, d->spec->name, tfr_state_store_tag(d->store), &reopened,
                                 &why) != TF_OK) {
            *err = why;
            return false;
        }
        if (reopened) {
            *how = "mapped back from the state kept in state_dir";
            return true;
        }
        if (why.message[0])
            tfr_log("not using the kept view state: %s", why.message);
    }
    *how = "loaded";
    return tfr_state_store_load(d->store, d->sink, d->view, d->spec->name, err);
}

static bool resume_from(daemon_ctx *d, const tf_checkpoint *cp, bool edited, tf_error *err)
{
    int64_t t0 = now_ms();
    char **key = NULL;
    size_t key_count = 0;
    if (!tfr_state_store_read_meta(d->store, d->sink, d->spec->name, &key, &key_count, err))
        return false;
    d->root_key = key;
    d->root_key_count = key_count;
    tfr_state_store_set_checkpoint(d->store, cp);
    if (!open_sink(d, true, err))
        return false;
    const char *how = "loaded";
    if (edited
            ? !resume_edited(d, err)
            : (!restore_state(d, &how, err) ||
               !tf_pipeline_resync_restore(d->pipeline, tfr_state_store_progress(d->store), err)))
        return false;
    tf_view_stats vs;
    tf_view_get_stats(d->view, &vs);
    tfr_state_stats ss;
    tfr_state_store_get_stats(d->store, &ss);
    tf_pipeline_position at;
    tf_pipeline_get_position(d->pipeline, &at);
    tfr_log("resuming from checkpoint (GTID %s, binlog %s:%" PRIu64
            "): view state %s, %zu rows (stored: base %.1f MB in %zu chunks + %zu deltas of "
            "%.1f MB), in %.3f s; no snapshot",
            at.gtid[0] ? at.gtid : "(none)", at.binlog_file, at.binlog_pos, how, vs.row_count,
            (double)ss.base_bytes / 1e6, ss.base_chunks, ss.delta_chunks,
            (double)ss.delta_bytes / 1e6, (double)(now_ms() - t0) / 1000.0);
    return start_stream(d, at.gtid[0] ? TF_REPLICA_START_GTID : TF_REPLICA_START_FILE, err);
}

/* Decides snapshot or resume from the stored checkpoint. */
static bool begin(daemon_ctx *d, tf_error *err)
{
    if (!open_sink(d, false, err))
        return false;
    tfr_log("target %s, database %s, collection %s", tf_sink_redacted_uri(d->sink),
            d->dst->database, d->spec->target_collection);
    tf_checkpoint cp;
    bool found = false;
    if (!tf_sink_checkpoint_read(d->sink, &cp, &found, err))
        return false;
    bool resume = false, edited = false;
    if (found) {
        bool same_spec = cp.spec_hash && strcmp(cp.spec_hash, d->spec_hash) == 0;
        if (d->opt->resnapshot) {
            tfr_log("--resnapshot: ignoring the checkpoint at %s%s", cp.gtid ? cp.gtid : "",
                    same_spec ? "" : " (written by another flow spec)");
        } else if (!same_spec && !d->opt->gtid_resume) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "flow %s: the checkpoint in %s was written by another flow spec "
                         "(hash %.12s..., this flow file %.12s...): pass --gtid-resume to "
                         "continue under %s (only the tables whose part changed are read "
                         "again) or --resnapshot to rebuild",
                         d->spec->name, d->dst->database, cp.spec_hash ? cp.spec_hash : "none",
                         d->spec_hash, d->opt->flow_file);
            tf_checkpoint_cleanup(&cp);
            return false;
        } else if (!d->opt->gtid_resume) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "flow %s already has a checkpoint (GTID %s, binlog %s:%" PRIu64
                         "): pass --gtid-resume to continue from it or --resnapshot to rebuild",
                         d->spec->name, cp.gtid ? cp.gtid : "",
                         cp.binlog_file ? cp.binlog_file : "", cp.binlog_position);
            tf_checkpoint_cleanup(&cp);
            return false;
        } else {
            resume = true;
            edited = !same_spec;
            tf_pipeline_position at = {
                .gtid = cp.gtid ? cp.gtid : "",
                .binlog_file = cp.binlog_file ? cp.binlog_file : "",
                .binlog_pos = cp.binlog_position,
                .flavour = cp.flavour ? cp.flavour : "",
            };
            tf_pipeline_set_position(d->pipeline, &at);
            tf_pipeline_set_counts(d->pipeline, cp.rows, cp.transactions);
        }
        if (!resume)
            tf_checkpoint_cleanup(&cp);
    } else if (d->opt->gtid_resume) {
        tfr_log("--gtid-resume: flow %s has no checkpoint yet; taking the initial snapshot",
                d->spec->name);
    }
    if (resume) {
        bool ok = resume_from(d, &cp, edited, err);
        tf_checkpoint_cleanup(&cp);
        return ok;
    }
    if (!prepare_target(d, found, err))
        return false;
    /* The unique index needs the root key, which the snapshot tells: the
     * sink is reopened with it once the snapshot knows its tables. */
    return start_snapshot(d, err);
}

int tfr_run(const tfr_run_options *opt)
{
    daemon_ctx d = {0};
    d.opt = opt;
    d.started_ms = d.history_at_ms = d.qps_at_ms = now_ms();
    tf_error err = {0};
    int rc = 1;
    if (!tfr_config_load(opt->config_file, &d.cfg, &err) ||
        !tfr_config_override_status_listen(&d.cfg, opt->status_listen, &err) ||
        !tfr_config_resolve_passwords(&d.cfg, &err)) {
        tfr_log("error: %s", err.message);
        tfr_config_cleanup(&d.cfg);
        return 1;
    }
    if (tf_flow_parse_file(opt->flow_file, &d.spec, &err) != TF_OK) {
        tfr_log("error: %s", err.message);
        tfr_config_cleanup(&d.cfg);
        return 1;
    }
    tf_flow_spec_hash(d.spec, d.spec_hash);
    d.store = tfr_state_store_new();
    /* before the base: the writer thread activates an event of it */
    evthread_use_pthreads();
    d.base = event_base_new();
    d.written = event_new(d.base, -1, 0, on_written, &d);
    if (!resolve_datasources(&d, &err))
        goto out;
    d.target.store = d.store;
    d.target.spec_hash = d.spec_hash;
    tf_pipeline_options po = {
        .spec = d.spec,
        .spec_hash = d.spec_hash,
        .database = d.src->database,
        .target = tf_pipeline_sink_target(&d.target),
        .source = {source_read, source_cancel, &d},
        .log = on_pipeline_log,
        .checkpoint_interval_ms = d.cfg.checkpoint_interval_ms,
        .resync_chunk_rows = d.cfg.resync_chunk_rows,
    };
    d.pipeline = tf_pipeline_new(&po);
    d.view = tf_pipeline_view(d.pipeline);
    if (d.cfg.state_dir) {
        if (tf_view_use_state_dir(d.view, d.cfg.state_dir, (size_t)d.cfg.state_memory_mb << 20,
                                  &err) != TF_OK)
            goto out;
        if (d.cfg.state_memory_mb)
            tfr_log("view state in a file in %s, at most %" PRIu64 " MB of it resident",
                    d.cfg.state_dir, d.cfg.state_memory_mb);
        else
            tfr_log("view state in a file in %s", d.cfg.state_dir);
    }
    tfr_log("flow %s (%s, spec %.12s): %s.%s -> %s.%s", d.spec->name, opt->flow_file, d.spec_hash,
            d.src->database, d.spec->source_table, d.dst->database, d.spec->target_collection);
    d.status = tfr_status_server_start(d.cfg.status_host, d.cfg.status_port, status_fill, &d, &err);
    if (!d.status)
        goto out;
    tfr_log("status on http://%s:%u/ (/status, /metrics, /history)", d.cfg.status_host,
            d.cfg.status_port);
    d.sig_term = evsignal_new(d.base, SIGTERM, on_signal, &d);
    d.sig_int = evsignal_new(d.base, SIGINT, on_signal, &d);
    event_add(d.sig_term, NULL);
    event_add(d.sig_int, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!begin(&d, &err))
        goto out;
    d.tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(d.tick, &tv);
    event_base_dispatch(d.base);
    rc = d.exit_code;
    goto done;
out:
    tfr_log("error: %s", err.message);
    rc = 1;
done:
    if (d.replica)
        tf_replica_destroy(d.replica);
    if (d.snapshot)
        tf_snapshot_destroy(d.snapshot);
    resync_read_free(&d);
    tfr_status_server_free(d.status);
    if (d.tick)
        event_free(d.tick);
    if (d.sig_term)
        event_free(d.sig_term);
    if (d.sig_int)
        event_free(d.sig_int);
    close_sink(&d);
    if (d.writer_abandoned)
        d.written = NULL, d.base = NULL;
    if (d.written)
        event_free(d.written);
    tf_pipeline_destroy(d.pipeline);
    tfr_state_store_destroy(d.store);
    tf_flow_spec_destroy(d.spec);
    for (size_t i = 0; i < d.table_count; i++)
        bson_free(d.tables[i]);
    bson_free(d.tables);
    for (size_t i = 0; i < d.root_key_count; i++)
        bson_free(d.root_key[i]);
    bson_free(d.root_key);
    tfr_config_cleanup(&d.cfg);
    bson_free(d.input);
    bson_free(d.table_stats);
    if (d.base)
        event_base_free(d.base);
    return rc;
}
