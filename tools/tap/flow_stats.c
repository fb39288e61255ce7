/* flow_stats.c — what `stats` and `monitor` show, from the daemon's
 * GET /status answer.
 *
 * The daemon answers one JSON object (tools/tapflow-replica/status_http.c):
 * status, position, qps, delay_ms, the re-sync's progress and a "stats"
 * object with TapFlow's figures (inserts/updates/deletes read per source
 * table and written per target collection, the snapshot's start, end and
 * rows, qps now/average/max/last five minutes, lag). This file turns that
 * text into a tap_flow_stats and a tap_flow_stats into the lines a person
 * reads. No I/O but the FILE it prints to: the unit tests drive it with
 * /status answers written out. A daemon older than "stats" still answers
 * the rest; has_stats says which it was. */
#include "tap.h"

#include <bson/bson.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

void tap_flow_stats_init(tap_flow_stats *st) { memset(st, 0, sizeof *st); }

void tap_flow_stats_cleanup(tap_flow_stats *st)
{
    for (size_t i = 0; i < st->input_count; i++)
        bson_free(st->input[i].name);
    for (size_t i = 0; i < st->output_count; i++)
        bson_free(st->output[i].name);
    bson_free(st->input);
    bson_free(st->output);
    memset(st, 0, sizeof *st);
}

static int64_t as_int64(const bson_iter_t *it)
{
    return BSON_ITER_HOLDS_NUMBER(it) ? bson_iter_as_int64(it) : 0;
}

static double as_double(const bson_iter_t *it)
{
    return BSON_ITER_HOLDS_NUMBER(it) ? bson_iter_as_double(it) : 0.0;
}

static void copy_utf8(const bson_iter_t *it, char *out, size_t cap)
{
    if (BSON_ITER_HOLDS_UTF8(it))
        snprintf(out, cap, "%s", bson_iter_utf8(it, NULL));
}

/* {"<table>": {"insert": N, "update": N, "delete": N}, ...} */
static void read_counts(bson_iter_t *parent, tap_op_counts **list, size_t *count)
{
    bson_iter_t tables;
    if (!BSON_ITER_HOLDS_DOCUMENT(parent) || !bson_iter_recurse(parent, &tables))
        return;
    while (bson_iter_next(&tables)) {
        bson_iter_t ops;
        if (!BSON_ITER_HOLDS_DOCUMENT(&tables) || !bson_iter_recurse(&tables, &ops))
            continue;
        *list = bson_realloc(*list, (*count + 1) * sizeof **list);
        tap_op_counts *c = &(*list)[(*count)++];
        memset(c, 0, sizeof *c);
        c->name = bson_strdup(bson_iter_key(&tables));
        while (bson_iter_next(&ops)) {
            const char *op = bson_iter_key(&ops);
            if (strcmp(op, "insert") == 0)
                c->insert = as_int64(&ops);
            else if (strcmp(op, "update") == 0)
                c->update = as_int64(&ops);
            else if (strcmp(op, "delete") == 0)
                c->delete_ = as_int64(&ops);
        }
    }
}

static void read_stats(bson_iter_t *stats, tap_flow_stats *st)
{
    bson_iter_t it;
    if (!BSON_ITER_HOLDS_DOCUMENT(stats) || !bson_iter_recurse(stats, &it))
        return;
    st->has_stats = true;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        bson_iter_t sub;
        if (strcmp(key, "started_ms") == 0) {
            st->started_ms = as_int64(&it);
        } else if (strcmp(key, "lag_ms") == 0) {
            st->lag_known = BSON_ITER_HOLDS_NUMBER(&it);
            st->lag_ms = as_int64(&it);
        } else if (strcmp(key, "input") == 0) {
            read_counts(&it, &st->input, &st->input_count);
        } else if (strcmp(key, "output") == 0) {
            read_counts(&it, &st->output, &st->output_count);
        } else if (strcmp(key, "snapshot") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it) &&
                   bson_iter_recurse(&it, &sub)) {
            while (bson_iter_next(&sub)) {
                const char *k = bson_iter_key(&sub);
                if (strcmp(k, "started_ms") == 0)
                    st->snapshot_started_ms = as_int64(&sub); /* null: 0, not yet */
                else if (strcmp(k, "ended_ms") == 0)
                    st->snapshot_ended_ms = as_int64(&sub);
                else if (strcmp(k, "rows") == 0)
                    st->snapshot_rows = as_int64(&sub);
            }
        } else if (strcmp(key, "qps") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it) &&
                   bson_iter_recurse(&it, &sub)) {
            while (bson_iter_next(&sub)) {
                const char *k = bson_iter_key(&sub);
                if (strcmp(k, "current") == 0)
                    st->qps_current = as_double(&sub);
                else if (strcmp(k, "average") == 0)
                    st->qps_average = as_double(&sub);
                else if (strcmp(k, "max") == 0)
                    st->qps_max = as_double(&sub);
                else if (strcmp(k, "last_5m") == 0)
                    st->qps_last_5m = as_double(&sub);
            }
        }
    }
}

static void read_resync(bson_iter_t *resync, tap_flow_stats *st)
{
    bson_iter_t it;
    if (!BSON_ITER_HOLDS_DOCUMENT(resync) || !bson_iter_recurse(resync, &it))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "table") == 0)
            copy_utf8(&it, st->resync_table, sizeof st->resync_table);
        else if (strcmp(k, "queued") == 0)
            st->resync_queued = as_int64(&it);
        else if (strcmp(k, "chunks") == 0)
            st->resync_chunks = as_int64(&it);
        else if (strcmp(k, "rows_read") == 0)
            st->resync_rows_read = as_int64(&it);
        else if (strcmp(k, "rows_changed") == 0)
            st->resync_rows_changed = as_int64(&it);
        else if (strcmp(k, "completed") == 0)
            st->resync_completed = as_int64(&it);
    }
}

bool tap_flow_stats_parse(const char *json, tap_flow_stats *st, char *err, size_t cap)
{
    bson_t doc;
    bson_error_t error;
    if (!bson_init_from_json(&doc, json, -1, &error)) {
        snprintf(err, cap, "the status endpoint answered no JSON object: %s", error.message);
        return false;
    }
    bson_iter_t it;
    if (!bson_iter_init(&it, &doc)) {
        bson_destroy(&doc);
        snprintf(err, cap, "the status endpoint answered a malformed object");
        return false;
    }
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "status") == 0)
            copy_utf8(&it, st->state, sizeof st->state);
        else if (strcmp(k, "position") == 0)
            copy_utf8(&it, st->position, sizeof st->position);
        else if (strcmp(k, "error") == 0)
            copy_utf8(&it, st->error, sizeof st->error);
        else if (strcmp(k, "qps") == 0 && !st->has_stats)
            st->qps_current = as_double(&it);
        else if (strcmp(k, "delay_ms") == 0)
            st->delay_ms = as_int64(&it);
        else if (strcmp(k, "total_rows") == 0)
            st->total_rows = as_int64(&it);
        else if (strcmp(k, "snapshot_rows") == 0)
            st->snapshot_rows_read = as_int64(&it);
        else if (strcmp(k, "documents") == 0)
            st->documents = as_int64(&it);
        else if (strcmp(k, "resync") == 0)
            read_resync(&it, st);
        else if (strcmp(k, "stats") == 0)
            read_stats(&it, st);
    }
    if (!st->state[0])
        snprintf(st->state, sizeof st->state, "starting");
    if (!st->lag_known)
        st->lag_ms = st->delay_ms; /* a daemon without "stats": its delay */
    bson_destroy(&doc);
    return true;
}

char *tap_flow_stats_json(const char *flow, const char *status_json, char *err, size_t cap)
{
    bson_t doc;
    bson_error_t error;
    if (!bson_init_from_json(&doc, status_json, -1, &error)) {
        snprintf(err, cap, "the status endpoint answered no JSON object: %s", error.message);
        return NULL;
    }
    bson_t out = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&out, "flow", flow);
    bson_iter_t it;
    const char *state = "starting", *position = "";
    if (bson_iter_init_find(&it, &doc, "status") && BSON_ITER_HOLDS_UTF8(&it))
        state = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, &doc, "position") && BSON_ITER_HOLDS_UTF8(&it))
        position = bson_iter_utf8(&it, NULL);
    BSON_APPEND_UTF8(&out, "state", state);
    BSON_APPEND_UTF8(&out, "position", position);
    if (bson_iter_init_find(&it, &doc, "error") && BSON_ITER_HOLDS_UTF8(&it))
        BSON_APPEND_UTF8(&out, "error", bson_iter_utf8(&it, NULL));
    bson_iter_t stats;
    if (bson_iter_init_find(&it, &doc, "stats") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
        bson_iter_recurse(&it, &stats)) {
        while (bson_iter_next(&stats))
            bson_append_iter(&out, bson_iter_key(&stats), -1, &stats);
    }
    if (bson_iter_init_find(&it, &doc, "resync") && BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_append_iter(&out, "resync", -1, &it);
    char *json = bson_as_relaxed_extended_json(&out, NULL);
    bson_destroy(&out);
    bson_destroy(&doc);
    return json;
}

/* ---- printing ---- */

/* "2026-12-02 08:15:24Z", or "-" for 0 (not yet). */
static void format_time(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
}

void tap_format_duration(int64_t ms, char *out, size_t cap)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(out, cap, "%" PRId64 " ms", ms);
    else if (ms < 60 * 1000)
        snprintf(out, cap, "%.1f s", (double)ms / 1000.0);
    else if (ms < 3600 * 1000)
        snprintf(out, cap, "%" PRId64 "m %02" PRId64 "s", ms / 60000, ms / 1000 % 60);
    else if (ms < 86400 * 1000LL)
        snprintf(out, cap, "%" PRId64 "h %02" PRId64 "m", ms / 3600000, ms / 60000 % 60);
    else
        snprintf(out, cap, "%" PRId64 "d %02" PRId64 "h", ms / 86400000, ms / 3600000 % 24);
}

/* The snapshot in one phrase: "not started", "running since T (N rows read)",
 * "T .. T (D), N rows". */
static void snapshot_phrase(const tap_flow_stats *st, int64_t now_ms, char *out, size_t cap)
{
    char from[40], to[40], took[40];
    format_time(st->snapshot_started_ms, from, sizeof from);
    format_time(st->snapshot_ended_ms, to, sizeof to);
    if (!st->snapshot_started_ms && !st->snapshot_ended_ms) {
        snprintf(out, cap, "none this run (resumed from the checkpoint)");
    } else if (!st->snapshot_ended_ms) {
        tap_format_duration(now_ms - st->snapshot_started_ms, took, sizeof took);
        snprintf(out, cap, "running since %s (%s), %" PRId64 " rows read", from, took,
                 st->snapshot_rows);
    } else {
        tap_format_duration(st->snapshot_ended_ms - st->snapshot_started_ms, took, sizeof took);
        snprintf(out, cap, "%s .. %s (%s), %" PRId64 " rows", from, to + 11, took,
                 st->snapshot_rows);
    }
}

static size_t name_width(const tap_op_counts *list, size_t count, size_t least)
{
    size_t w = least;
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i].name) > w)
            w = strlen(list[i].name);
    return w > 60 ? 60 : w;
}

/* A table of counts (names w wide) with a total line; none: what to say
 * when empty. */
static void print_counts(FILE *out, int w, const char *title, const tap_op_counts *list,
                         size_t count, const char *none)
{
    fprintf(out, "  %-*s %12s %12s %12s\n", w, title, "insert", "update", "delete");
    int64_t ti = 0, tu = 0, td = 0;
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "  %-*.*s %12" PRId64 " %12" PRId64 " %12" PRId64 "\n", w, w, list[i].name,
                list[i].insert, list[i].update, list[i].delete_);
        ti += list[i].insert;
        tu += list[i].update;
        td += list[i].delete_;
    }
    if (count == 0)
        fprintf(out, "  %s\n", none);
    else if (count > 1)
        fprintf(out, "  %-*s %12" PRId64 " %12" PRId64 " %12" PRId64 "\n", w, "(total)", ti, tu,
                td);
}

static void print_resync(FILE *out, const tap_flow_stats *st)
{
    if (st->resync_table[0])
        fprintf(out,
                "  re-sync     %s: %" PRId64 " chunks, %" PRId64 " rows read, %" PRId64
                " documents changed; %" PRId64 " queued, %" PRId64 " done\n",
                st->resync_table, st->resync_chunks, st->resync_rows_read, st->resync_rows_changed,
                st->resync_queued, st->resync_completed);
    else if (st->resync_queued || st->resync_completed)
        fprintf(out, "  re-sync     none running; %" PRId64 " queued, %" PRId64 " done\n",
                st->resync_queued, st->resync_completed);
    else
        fprintf(out, "  re-sync     none\n");
}

static void print_body(FILE *out, const tap_flow_stats *st, int64_t now_ms)
{
    char buf[300], lag[40];
    tap_format_duration(st->lag_ms, lag, sizeof lag);
    if (!st->has_stats && strcmp(st->state, "starting") == 0) {
        fprintf(out, "  (no figures yet: the daemon's status endpoint does not answer yet)\n");
        return;
    }
    if (!st->has_stats) {
        fprintf(out, "  qps         now %.1f\n", st->qps_current);
        fprintf(out, "  lag         %s\n", lag);
        fprintf(out, "  rows        %" PRId64 " applied, %" PRId64 " documents written\n",
                st->total_rows, st->documents);
        print_resync(out, st);
        fprintf(out, "  (this tapflow-replica reports no per-table stats: rebuild it)\n");
        return;
    }
    char up[40];
    format_time(st->started_ms, buf, sizeof buf);
    tap_format_duration(st->started_ms ? now_ms - st->started_ms : 0, up, sizeof up);
    fprintf(out, "  started     %s (up %s)\n", buf, up);
    snapshot_phrase(st, now_ms, buf, sizeof buf);
    fprintf(out, "  snapshot    %s\n", buf);
    fprintf(out, "  qps         now %.1f, average %.1f, max %.1f, last 5 min %.1f\n",
            st->qps_current, st->qps_average, st->qps_max, st->qps_last_5m);
    fprintf(out, "  lag         %s\n", lag);
    print_resync(out, st);
    /* both tables in the same columns */
    size_t w = name_width(st->input, st->input_count, strlen("input (source table)"));
    w = name_width(st->output, st->output_count, w);
    fputc('\n', out);
    print_counts(out, (int)w, "input (source table)", st->input, st->input_count,
                 "no source row read yet");
    fputc('\n', out);
    print_counts(out, (int)w, "output (collection)", st->output, st->output_count,
                 "no document written yet");
}

void tap_flow_stats_print(FILE *out, const char *flow, const tap_flow_stats *st, int64_t now_ms)
{
    fprintf(out, "flow %s: %s%s%s\n", flow, st->state, st->position[0] ? ", position " : "",
            st->position);
    print_body(out, st, now_ms);
    if (st->error[0])
        fprintf(out, "  error       %s\n", st->error);
}

void tap_monitor_frame(FILE *out, const char *flow, const tap_flow_stats *st, bool running,
                       int64_t now_ms, bool interactive)
{
    char now[40];
    format_time(now_ms, now, sizeof now);
    fprintf(out, "tap monitor: flow %s    %s%s\n\n", flow, now,
            interactive ? "    (press any key to leave)" : "");
    if (!running) {
        fprintf(out, "  state       not running (start %s runs it)\n", flow);
        return;
    }
    fprintf(out, "  state       %s\n", st->state);
    fprintf(out, "  position    %s\n", st->position[0] ? st->position : "-");
    print_body(out, st, now_ms);
    if (st->error[0])
        fprintf(out, "  error       %s\n", st->error);
}
