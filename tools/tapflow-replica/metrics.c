/* metrics.c — GET /metrics: a status in the Prometheus text exposition
 * format (version 0.0.4).
 *
 * Every family has its HELP and TYPE lines and the label flow; counters end
 * in _total, durations are _seconds. Counters count from the daemon's start
 * (a restart resets them, which Prometheus' rate() expects), except
 * tapflow_source_transactions_total, which the checkpoint carries over.
 * Families whose value is not known yet (no checkpoint acknowledged) have
 * no sample rather than a made-up one. */
#include "daemon.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A growing string (bson_malloc'd). */
typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->buf = bson_realloc(t->buf, t->cap);
    }
}

/* A label value: backslash, double quote and newline escaped, as the
 * format asks (table and flow names may hold any of them). */
static void add_label_value(text *t, const char *v)
{
    add(t, "\"");
    for (const char *c = v ? v : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            add(t, "\\%c", *c);
        else if (*c == '\n')
            add(t, "\\n");
        else
            add(t, "%c", *c);
    }
    add(t, "\"");
}

static void family(text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{flow="..."<extra>} value: extra is ",label=" pairs already escaped
 * (or ""). */
static void sample(text *t, const tfr_status *st, const char *name, const char *extra, double value)
{
    add(t, "%s{flow=", name);
    add_label_value(t, st->flow);
    add(t, "%s} %.17g\n", extra, value);
}

static void op_samples(text *t, const tfr_status *st, const char *name, const char *label,
                       const tfr_op_counts *c)
{
    const char *ops[] = {"insert", "update", "delete"};
    const uint64_t values[] = {c->insert, c->update, c->delete};
    for (size_t i = 0; i < 3; i++) {
        add(t, "%s{flow=", name);
        add_label_value(t, st->flow);
        add(t, ",%s=", label);
        add_label_value(t, c->name);
        add(t, ",op=\"%s\"} %" PRIu64 "\n", ops[i], values[i]);
    }
}

static void histogram(text *t, const tfr_status *st, const char *name, const char *help,
                      const tfr_histogram *h)
{
    family(t, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->bound_count; i++) {
        cumulative += h->counts ? h->counts[i] : 0;
        char le[48];
        if (i < h->bound_count)
            snprintf(le, sizeof le, ",le=\"%g\"", h->bounds[i]);
        else
            snprintf(le, sizeof le, ",le=\"+Inf\"");
        add(t, "%s_bucket{flow=", name);
        add_label_value(t, st->flow);
        add(t, "%s} %" PRIu64 "\n", le, cumulative);
    }
    add(t, "%s_sum{flow=", name);
    add_label_value(t, st->flow);
    add(t, "} %.17g\n", h->sum_seconds);
    add(t, "%s_count{flow=", name);
    add_label_value(t, st->flow);
    add(t, "} %" PRIu64 "\n", h->total);
}

char *tfr_status_metrics(const tfr_status *st)
{
    text t = {0};
    t.cap = 8192;
    t.buf = bson_malloc(t.cap);
    t.buf[0] = '\0';

    family(&t, "tapflow_info", "gauge", "The flow this daemon runs and tapflow's version.");
    add(&t, "tapflow_info{flow=");
    add_label_value(&t, st->flow);
    add(&t, ",version=");
    add_label_value(&t, st->version);
    add(&t, "} 1\n");

    family(&t, "tapflow_flow_state", "gauge",
           "1 for the flow's current state (starting, snapshot, running, stopped, error).");
    const char *states[] = {"starting", "snapshot", "running", "stopped", "error"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        char extra[48];
        snprintf(extra, sizeof extra, ",state=\"%s\"", states[i]);
        sample(&t, st, "tapflow_flow_state", extra,
               st->state && strcmp(st->state, states[i]) == 0 ? 1 : 0);
    }

    family(&t, "tapflow_start_time_seconds", "gauge",
           "When the daemon started, in seconds since the epoch.");
    sample(&t, st, "tapflow_start_time_seconds", "", (double)st->started_ms / 1000.0);

    family(&t, "tapflow_source_rows_total", "counter",
           "Source row changes applied, by table and kind (snapshot rows count as inserts).");
    for (size_t i = 0; i < st->input_count; i++)
        op_samples(&t, st, "tapflow_source_rows_total", "table", &st->input[i]);

    family(&t, "tapflow_snapshot_rows_total", "counter",
           "Source rows the initial snapshot read in this run.");
    sample(&t, st, "tapflow_snapshot_rows_total", "", (double)st->snapshot_rows);

    family(&t, "tapflow_source_transactions_total", "counter",
           "Source transactions applied (carried across restarts by the checkpoint).");
    sample(&t, st, "tapflow_source_transactions_total", "", (double)st->transactions);

    family(&t, "tapflow_source_rows_per_second", "gauge",
           "Source row changes applied per second, over the last second.");
    sample(&t, st, "tapflow_source_rows_per_second", "", st->qps);

    family(&t, "tapflow_documents_written_total", "counter",
           "Document writes the target acknowledged, by kind (replace and partial updates are "
           "updates; an upsert that created its document is an insert).");
    if (st->output.name)
        op_samples(&t, st, "tapflow_documents_written_total", "collection", &st->output);

    histogram(&t, st, "tapflow_target_write_seconds",
              "Duration of each bulk write to the target, retries included.", &st->write_latency);

    family(&t, "tapflow_replication_delay_seconds", "gauge",
           "Source commit to target acknowledgment of the newest change written, or the age of "
           "the oldest change waiting when older; 0 when caught up with an idle source.");
    sample(&t, st, "tapflow_replication_delay_seconds", "", (double)st->delay_ms / 1000.0);

    family(&t, "tapflow_checkpoint_age_seconds", "gauge",
           "Time since the target acknowledged the last checkpoint (no sample before the "
           "first of this run).");
    if (st->checkpoint_acked_ms)
        sample(&t, st, "tapflow_checkpoint_age_seconds", "",
               (double)(st->now_ms - st->checkpoint_acked_ms) / 1000.0);

    histogram(&t, st, "tapflow_checkpoint_duration_seconds",
              "Duration of each checkpoint, from its submission to the target's acknowledgment "
              "of its documents, state and position.",
              &st->checkpoint_latency);

    family(&t, "tapflow_view_state_rows", "gauge", "Source rows held in the view's state.");
    sample(&t, st, "tapflow_view_state_rows", "", (double)st->view_rows);
    family(&t, "tapflow_view_state_bytes", "gauge",
           "Memory the view's state takes (rows, keys, indexes), approximate.");
    sample(&t, st, "tapflow_view_state_bytes", "", (double)st->view_bytes);
    family(&t, "tapflow_view_state_file_bytes", "gauge",
           "Size of the view state's file in state_dir (0: the state is in memory).");
    sample(&t, st, "tapflow_view_state_file_bytes", "", (double)st->view_state_file_bytes);
    family(&t, "tapflow_view_state_resident_bytes", "gauge",
           "Part of the state's file the process holds in memory (at most state_memory_mb).");
    sample(&t, st, "tapflow_view_state_resident_bytes", "", (double)st->view_state_resident_bytes);

    family(&t, "tapflow_target_write_cost_seconds", "gauge",
           "What one write of each shape costs the target (*_per_kb: each KB of the "
           "document), probed at start and every 10 minutes, brought to each flush's level "
           "(absent before the probe).");
    if (st->write_costs_measured) {
        static const char *const shapes[TFR_COST_SHAPES] = {
            "replace", "replace_per_kb", "update",      "update_per_kb",
            "insert",  "insert_per_kb",  "update_many", "update_many_document"};
        for (int k = 0; k < TFR_COST_SHAPES; k++) {
            char labels[64];
            snprintf(labels, sizeof labels, ",shape=\"%s\"", shapes[k]);
            sample(&t, st, "tapflow_target_write_cost_seconds", labels,
                   st->write_cost_ms[k] / 1000.0);
        }
    }
    family(&t, "tapflow_write_plan_total", "counter",
           "Writes the costs changed: documents written whole (replace_for_update) and "
           "fan-out keys written per document (positional_for_update_many).");
    sample(&t, st, "tapflow_write_plan_total", ",choice=\"replace_for_update\"",
           (double)st->planned_replaces);
    sample(&t, st, "tapflow_write_plan_total", ",choice=\"positional_for_update_many\"",
           (double)st->planned_positional_keys);

    family(&t, "tapflow_resync_queued", "gauge",
           "Table re-syncs waiting, the one being read included.");
    sample(&t, st, "tapflow_resync_queued", "", (double)st->resync_queued);
    family(&t, "tapflow_resync_rows_read_total", "counter", "Rows re-sync reads returned.");
    sample(&t, st, "tapflow_resync_rows_read_total", "", (double)st->resync_rows_read_total);
    family(&t, "tapflow_resync_rows_changed_total", "counter",
           "Rows re-sync reads found different from the held ones (applied).");
    sample(&t, st, "tapflow_resync_rows_changed_total", "", (double)st->resync_rows_changed_total);
    family(&t, "tapflow_resync_completed_total", "counter", "Table re-syncs finished.");
    sample(&t, st, "tapflow_resync_completed_total", "", (double)st->resync_completed);

    family(&t, "tapflow_source_reconnects_total", "counter",
           "Losses of the replication connection recovered from.");
    sample(&t, st, "tapflow_source_reconnects_total", "", (double)st->source_reconnects);
    family(&t, "tapflow_target_retries_total", "counter",
           "Target writes retried after a transient failure.");
    sample(&t, st, "tapflow_target_retries_total", "", (double)st->target_retries);
    family(&t, "tapflow_errors_total", "counter",
           "Errors: fatal (the flow stopped) and resync_read (a re-sync read failed and is "
           "retried).");
    sample(&t, st, "tapflow_errors_total", ",kind=\"fatal\"", (double)st->errors_fatal);
    sample(&t, st, "tapflow_errors_total", ",kind=\"resync_read\"", (double)st->errors_resync_read);
    return t.buf;
}
