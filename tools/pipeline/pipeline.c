/* pipeline.c — source changes to the view, documents to the target,
 * checkpoints at transaction boundaries (pipeline.h).
 *
 * Order of a checkpoint: the view's pending documents are queued, then the
 * target writes them, the state (a delta of the changes recorded since the
 * last checkpoint, or a new base) and the position, in that order, so that
 * a crash at any point resumes from a checkpoint whose documents and state
 * are stored. Row changes are idempotent (tf_view_apply tolerates replays),
 * so the transactions after it are applied again exactly. */
#include "pipeline_internal.h"

#include <stdarg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CHECKPOINT_INTERVAL_MS 1000
#define DEFAULT_SNAPSHOT_PUSH_ROOT_ROWS 1000
#define DEFAULT_RESYNC_CHUNK_ROWS 5000

static const char *const phase_names[] = {"starting", "snapshot", "running", "stopped", "error"};

const char *tf_pipeline_phase_name(tf_pipeline_phase phase)
{
    return (unsigned)phase < sizeof phase_names / sizeof phase_names[0] ? phase_names[phase] : "?";
}

static void set_str(char **field, const char *value)
{
    if (!value)
        return;
    char *copy = bson_strdup(value);
    bson_free(*field);
    *field = copy;
}

void pipeline_log(tf_pipeline *p, const char *fmt, ...)
{
    if (!p->log)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    p->log(p->log_arg, message);
}

/* ---- counters of row changes per table ---- */

static void add_table_stats(tf_pipeline *p, const char *table)
{
    for (size_t i = 0; i < p->table_count; i++)
        if (strcmp(p->tables[i].table, table) == 0)
            return;
    p->tables = bson_realloc(p->tables, (p->table_count + 1) * sizeof *p->tables);
    p->tables[p->table_count++] = (tf_pipeline_table_stats){.table = bson_strdup(table)};
}

/* A flow has a handful of tables: a linear search costs less than a hash. */
static tf_pipeline_table_stats *table_stats(tf_pipeline *p, const char *table)
{
    for (size_t i = 0; i < p->table_count; i++)
        if (strcmp(p->tables[i].table, table) == 0)
            return &p->tables[i];
    return NULL;
}

size_t tf_pipeline_get_table_stats(const tf_pipeline *p, tf_pipeline_table_stats *out, size_t cap)
{
    for (size_t i = 0; i < p->table_count && i < cap; i++)
        out[i] = p->tables[i];
    return p->table_count;
}

tf_pipeline *tf_pipeline_new(const tf_pipeline_options *opt)
{
    tf_pipeline *p = bson_malloc0(sizeof *p);
    p->spec = opt->spec;
    p->spec_hash = bson_strdup(opt->spec_hash ? opt->spec_hash : "");
    p->database = bson_strdup(opt->database ? opt->database : "");
    p->view = tf_view_new(opt->spec);
    tf_view_ops_init(&p->ops);
    p->target = opt->target;
    p->source = opt->source;
    p->resync_chunk_rows =
        opt->resync_chunk_rows ? opt->resync_chunk_rows : DEFAULT_RESYNC_CHUNK_ROWS;
    p->checkpoint_interval_ms = opt->checkpoint_interval_ms > 0 ? opt->checkpoint_interval_ms
                                                                : DEFAULT_CHECKPOINT_INTERVAL_MS;
    p->snapshot_push_root_rows = opt->snapshot_push_root_rows ? opt->snapshot_push_root_rows
                                                              : DEFAULT_SNAPSHOT_PUSH_ROOT_ROWS;
    p->log = opt->log;
    p->log_arg = opt->log_arg;
    p->phase = TF_PIPELINE_STARTING;
    add_table_stats(p, opt->spec->source_table);
    for (size_t i = 0; i < opt->spec->lookup_count; i++)
        add_table_stats(p, opt->spec->lookups[i].table);
    return p;
}

void tf_pipeline_destroy(tf_pipeline *p)
{
    if (!p)
        return;
    resync_cleanup(p);
    tf_view_ops_cleanup(&p->ops);
    tf_view_destroy(p->view);
    bson_free(p->spec_hash);
    bson_free(p->database);
    bson_free(p->gtid);
    bson_free(p->binlog_file);
    bson_free(p->flavour);
    bson_free(p->server_uuid);
    bson_free(p->unacked);
    for (size_t i = 0; i < p->table_count; i++)
        bson_free((char *)p->tables[i].table);
    bson_free(p->tables);
    bson_free(p);
}

tf_view *tf_pipeline_view(tf_pipeline *p) { return p->view; }
tf_pipeline_phase tf_pipeline_get_phase(const tf_pipeline *p) { return p->phase; }
void tf_pipeline_set_phase(tf_pipeline *p, tf_pipeline_phase phase) { p->phase = phase; }
void tf_pipeline_set_decimal(tf_pipeline *p, tf_pipeline_decimal mode) { p->decimal = mode; }
bool tf_pipeline_dirty(const tf_pipeline *p) { return p->dirty; }

void tf_pipeline_fail(tf_pipeline *p, const tf_error *err)
{
    snprintf(p->error, sizeof p->error, "%s", err->message);
    p->phase = TF_PIPELINE_ERROR;
}

const char *tf_pipeline_error(const tf_pipeline *p) { return p->error[0] ? p->error : NULL; }

void tf_pipeline_set_position(tf_pipeline *p, const tf_pipeline_position *pos)
{
    set_str(&p->gtid, pos->gtid);
    set_str(&p->binlog_file, pos->binlog_file);
    set_str(&p->flavour, pos->flavour);
    set_str(&p->server_uuid, pos->server_uuid);
    if (pos->binlog_file)
        p->binlog_pos = pos->binlog_pos;
    if (pos->server_id)
        p->server_id = pos->server_id;
}

void tf_pipeline_get_position(const tf_pipeline *p, tf_pipeline_position *out)
{
    out->gtid = p->gtid ? p->gtid : "";
    out->binlog_file = p->binlog_file ? p->binlog_file : "";
    out->binlog_pos = p->binlog_pos;
    out->flavour = p->flavour ? p->flavour : "";
    out->server_uuid = p->server_uuid ? p->server_uuid : "";
    out->server_id = p->server_id;
}

void tf_pipeline_set_counts(tf_pipeline *p, uint64_t rows, uint64_t transactions)
{
    p->rows_total = rows;
    p->transactions = transactions;
}

void tf_pipeline_get_stats(const tf_pipeline *p, tf_pipeline_stats *out)
{
    out->rows_total = p->rows_total;
    out->transactions = p->transactions;
    out->snapshot_rows = p->snapshot_rows;
    out->delay_ms = p->delay_ms;
    out->checkpoints = p->checkpoints;
    out->checkpoint_ms_total = p->checkpoint_ms_total;
    out->checkpoint_ms_max = p->checkpoint_ms_max;
    out->checkpoint_latency = p->checkpoint_latency;
    out->checkpoint_acked_ms = p->checkpoint_acked_ms;
}

/* ---- documents to the target ---- */

/* One view op as the target's op: the snapshot fills an emptied
 * collection, so its documents are inserts; DECIMALs rewritten where the
 * target cannot store Decimal128. */
static bool queue_op(tf_pipeline *p, tf_view_op *vop, tf_error *err)
{
    if (p->decimal != TF_PIPELINE_DECIMAL_KEEP) {
        bson_t **parts[] = {&vop->doc, &vop->filter, &vop->set, &vop->unset, &vop->array_filters};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            bson_t *rewritten = *parts[i] ? tf_pipeline_decimal_rewrite(
                                                *parts[i], p->decimal == TF_PIPELINE_DECIMAL_STRING)
                                          : NULL;
            if (rewritten) {
                bson_destroy(*parts[i]);
                *parts[i] = rewritten;
            }
        }
    }
    tf_doc_op op;
    if (p->mark_replaces && vop->kind == TF_VIEW_OP_REPLACE) {
        /* FerretDB 1.24 skips a replacement equal to the stored document
         * by value (5 == 5L): a retyped column would keep its old type.
         * A marker field makes the stored document differ first. */
        bson_t *set = BCON_NEW("_tapflow_rewrite", BCON_BOOL(true));
        tf_doc_op mark;
        tf_doc_op_update_steal(&mark, bson_copy(vop->filter), set, NULL);
        if (!p->target.add(p->target.arg, &mark, err))
            return false;
    }
    switch (vop->kind) {
    case TF_VIEW_OP_REPLACE:
        if (p->phase == TF_PIPELINE_SNAPSHOT)
            tf_doc_op_insert_steal(&op, vop->filter, vop->doc);
        else
            tf_doc_op_replace_steal(&op, vop->filter, vop->doc);
        break;
    case TF_VIEW_OP_SET: tf_doc_op_update_steal(&op, vop->filter, vop->set, vop->unset); break;
    case TF_VIEW_OP_SET_MANY:
        tf_doc_op_update_many_steal(&op, vop->filter, vop->set, vop->unset, vop->array_filters);
        break;
    case TF_VIEW_OP_DELETE:
    default: tf_doc_op_delete_steal(&op, vop->filter); break;
    }
    /* the target owns them now */
    vop->filter = vop->doc = vop->set = vop->unset = vop->array_filters = NULL;
    return p->target.add(p->target.arg, &op, err);
}

bool pipeline_push_ops(tf_pipeline *p, tf_error *err)
{
    /* Streaming only: a snapshot inserts whole documents, nothing to plan. */
    tf_view_write_costs costs;
    bool planned = p->phase != TF_PIPELINE_SNAPSHOT && p->target.costs &&
                   p->target.costs(p->target.arg, &costs);
    tf_view_set_write_costs(p->view, planned ? &costs : NULL);
    if (tf_view_flush(p->view, &p->ops, err) != TF_OK)
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < p->ops.count; i++)
        ok = queue_op(p, &p->ops.ops[i], err);
    tf_view_ops_clear(&p->ops);
    return ok;
}

/* ---- submissions and acknowledgments ---- */

bool pipeline_target_busy(tf_pipeline *p)
{
    return p->target.acknowledged(p->target.arg) < p->submissions;
}

static void submitted(tf_pipeline *p)
{
    if (p->unacked_count == p->unacked_cap) {
        p->unacked_cap = p->unacked_cap ? p->unacked_cap * 2 : 8;
        p->unacked = bson_realloc(p->unacked, p->unacked_cap * sizeof *p->unacked);
    }
    p->unacked[p->unacked_count++] =
        (struct unacked){++p->submissions, p->unsent_commit_us, bson_get_monotonic_time()};
    p->unsent_commit_us = 0;
}

/* The delay: of the newest source commit among the submissions the target
 * has acknowledged, or, when longer, the age of the oldest submission still
 * waiting (a stalled target shows a growing delay, not the last batch's). */
static void take_acknowledgments(tf_pipeline *p, int64_t now_ms)
{
    uint64_t acked = p->target.acknowledged(p->target.arg);
    size_t done = 0;
    while (done < p->unacked_count && p->unacked[done].ticket <= acked) {
        int64_t commit_us = p->unacked[done].commit_us;
        if (commit_us)
            p->acked_delay_ms = now_ms - commit_us / 1000 > 0 ? now_ms - commit_us / 1000 : 0;
        done++;
    }
    if (p->checkpoint_sent_ms && acked >= p->commit_ticket) {
        int64_t ms = now_ms - p->checkpoint_sent_ms;
        tf_latency_histogram_add(&p->checkpoint_latency, ms > 0 ? (double)ms / 1000.0 : 0.0);
        p->checkpoint_acked_ms = now_ms;
        p->checkpoint_sent_ms = 0;
    }
    if (done) {
        memmove(p->unacked, p->unacked + done, (p->unacked_count - done) * sizeof *p->unacked);
        p->unacked_count -= done;
    }
    int64_t waiting_us = 0;
    for (size_t i = 0; i < p->unacked_count && !waiting_us; i++)
        waiting_us = p->unacked[i].commit_us;
    if (!waiting_us)
        waiting_us = p->unsent_commit_us;
    if (p->passed_commit_us) {
        if (!waiting_us)
            p->acked_delay_ms =
                now_ms - p->passed_commit_us / 1000 > 0 ? now_ms - p->passed_commit_us / 1000 : 0;
        p->passed_commit_us = 0;
    }
    if (p->source_idle && !waiting_us && !p->unacked_count)
        p->acked_delay_ms = 0;
    p->delay_ms = p->acked_delay_ms;
    if (waiting_us && now_ms - waiting_us / 1000 > p->delay_ms)
        p->delay_ms = now_ms - waiting_us / 1000;
}

/* The pending documents as one submission (none when nothing is pending). */
static bool send_pending(tf_pipeline *p, tf_error *err)
{
    bool any = false;
    if (!pipeline_push_ops(p, err) || !p->target.submit(p->target.arg, &any, err))
        return false;
    if (any)
        submitted(p);
    return true;
}

/* The pending documents as one submission to be written ahead of those
 * still waiting (target.submit_ahead). */
static bool send_pending_ahead(tf_pipeline *p, tf_error *err)
{
    bool any = false;
    if (!pipeline_push_ops(p, err) || !p->target.submit_ahead(p->target.arg, &any, err))
        return false;
    if (any) {
        submitted(p);
        p->ahead_submissions++;
    }
    return true;
}

/* Streaming: whether the pending documents go out now. While the target
 * writes, more go out as long as little waits queued and nothing for long;
 * past that, changes wait merged in the view, so that a document is
 * written once however many transactions changed it meanwhile. A few
 * documents go ahead of what is queued (where the target can write them
 * so): a small change is neither held behind a fan-out of hundreds nor
 * merged into the next one. */
#define AHEAD_DOCUMENTS 8
#define AHEAD_IN_FLIGHT 16
#define QUEUED_OPS 512
#define BEHIND_US 1000000
static bool send_when_due(tf_pipeline *p, tf_error *err)
{
    if (!pipeline_target_busy(p))
        return send_pending(p, err);
    if (!p->target.submit_ahead || !p->target.writes_done)
        return true;
    /* Behind (a write waiting over a second: a burst, a mass change):
     * everything waits merged in the view, the fewest writes. */
    uint64_t acked = p->target.acknowledged(p->target.arg);
    for (size_t i = 0; i < p->unacked_count; i++)
        if (p->unacked[i].ticket > acked) {
            if (bson_get_monotonic_time() - p->unacked[i].submitted_us > BEHIND_US)
                return true;
            break;
        }
    size_t documents, fanouts;
    tf_view_pending(p->view, &documents, &fanouts);
    if (!documents && !fanouts)
        return true;
    if (p->target.pending(p->target.arg) >= QUEUED_OPS)
        return true;
    if (!fanouts && documents <= AHEAD_DOCUMENTS &&
        p->ahead_submissions - p->target.writes_done(p->target.arg, true) < AHEAD_IN_FLIGHT)
        return send_pending_ahead(p, err);
    return send_pending(p, err);
}

void tf_pipeline_source_idle(tf_pipeline *p)
{
    p->source_idle = true;
    if (!p->unacked_count && !p->unsent_commit_us)
        p->delay_ms = p->acked_delay_ms = 0;
}

bool tf_pipeline_checkpoint(tf_pipeline *p, int64_t now_ms, tf_error *err)
{
    int64_t t0 = bson_get_monotonic_time();
    if (!pipeline_push_ops(p, err))
        return false;
    tf_checkpoint cp = {0};
    cp.gtid = p->gtid ? p->gtid : "";
    cp.flavour = p->flavour ? p->flavour : "";
    cp.server_uuid = p->server_uuid && p->server_uuid[0] ? p->server_uuid : NULL;
    cp.server_id = p->server_id;
    cp.binlog_file = p->binlog_file ? p->binlog_file : "";
    cp.binlog_position = p->binlog_pos;
    cp.spec_hash = p->spec_hash;
    cp.rows = p->rows_total;
    cp.transactions = p->transactions;
    bson_t progress;
    resync_progress(p, &progress);
    bool ok = p->target.commit(p->target.arg, p->view, &progress, &cp, err);
    bson_destroy(&progress);
    if (!ok)
        return false;
    submitted(p);
    p->commit_ticket = p->submissions;
    p->checkpoint_sent_ms = now_ms;
    take_acknowledgments(p, now_ms);
    p->dirty = false;
    p->last_checkpoint_ms = now_ms;
    double ms = (double)(bson_get_monotonic_time() - t0) / 1000.0;
    p->checkpoints++;
    p->checkpoint_ms_total += ms;
    if (ms > p->checkpoint_ms_max)
        p->checkpoint_ms_max = ms;
    return true;
}

bool tf_pipeline_wait(tf_pipeline *p, int64_t now_ms, tf_error *err)
{
    if (!p->target.wait(p->target.arg, err))
        return false;
    take_acknowledgments(p, now_ms);
    return true;
}

bool tf_pipeline_tick(tf_pipeline *p, int64_t now_ms, tf_error *err)
{
    if (p->phase != TF_PIPELINE_RUNNING)
        return true;
    if (p->last_checkpoint_ms == 0)
        p->last_checkpoint_ms = now_ms;
    take_acknowledgments(p, now_ms);
    if (!resync_tick(p, now_ms, err))
        return false;
    /* One checkpoint in flight at most: while the target is slow, the
     * changes wait merged in the view and the journal, not as queued
     * writes. */
    if (p->dirty && now_ms - p->last_checkpoint_ms >= p->checkpoint_interval_ms &&
        p->target.acknowledged(p->target.arg) >= p->commit_ticket)
        return tf_pipeline_checkpoint(p, now_ms, err);
    return send_when_due(p, err);
}

/* ---- the snapshot ---- */

bool tf_pipeline_snapshot_row(tf_pipeline *p, const char *table, const tf_value *values,
                              tf_error *err)
{
    if (tf_view_apply(p->view, table, TF_VIEW_INSERT, NULL, values, err) != TF_OK)
        return false;
    p->rows_total++;
    p->snapshot_rows++;
    tf_pipeline_table_stats *ts = table_stats(p, table);
    if (ts)
        ts->inserts++;
    /* The root table comes last: each root row completes its document,
     * which goes out with the next few hundred while the next rows are
     * read. */
    if (strcmp(table, p->spec->source_table) != 0 ||
        ++p->snapshot_root_rows_unpushed < p->snapshot_push_root_rows)
        return true;
    if (pipeline_target_busy(p)) {
        if (p->snapshot_root_rows_unpushed < 4 * p->snapshot_push_root_rows)
            return true;
        if (!p->target.wait(p->target.arg, err))
            return false;
    }
    p->snapshot_root_rows_unpushed = 0;
    return send_pending(p, err);
}

bool tf_pipeline_snapshot_done(tf_pipeline *p, int64_t now_ms, tf_error *err)
{
    if (!send_pending(p, err))
        return false;
    /* The documents are in; their checkpoint is the stream's start. */
    p->phase = TF_PIPELINE_RUNNING;
    return tf_pipeline_checkpoint(p, now_ms, err) && tf_pipeline_wait(p, now_ms, err);
}

/* ---- streaming ---- */

static bool is_flow_table(const tf_pipeline *p, const tf_table_map *map, char *name, size_t cap)
{
    if (map->database.len != strlen(p->database) ||
        memcmp(map->database.ptr, p->database, map->database.len) != 0)
        return false;
    snprintf(name, cap, "%.*s", (int)map->table.len, map->table.ptr);
    return tf_view_uses_table(p->view, name);
}

static bool apply_row(tf_pipeline *p, const tf_pipeline_txn *txn, const tf_pipeline_item *item,
                      const char *table, tf_error *err)
{
    if ((item->before && !item->before_full) || (item->after && !item->after_full)) {
        resync_partial_row(p, table, item->before, item->after);
        return true;
    }
    tf_view_change_kind kind;
    switch (item->rows_kind) {
    case TF_ROWS_WRITE: kind = TF_VIEW_INSERT; break;
    case TF_ROWS_UPDATE: kind = TF_VIEW_UPDATE; break;
    case TF_ROWS_DELETE: kind = TF_VIEW_DELETE; break;
    default:
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "transaction %s: partial JSON update of %s (binlog_row_value_options="
                            "PARTIAL_JSON) cannot be applied to the view",
                            txn->gtid, table),
               false;
    }
    if (tf_view_apply(p->view, table, kind, item->before, item->after, err) != TF_OK) {
        tf_error_prefix(err, "transaction %s", txn->gtid);
        return false;
    }
    p->target.record(p->target.arg, table, kind, item->before, item->after,
                     item->table->column_count);
    tf_pipeline_table_stats *ts = table_stats(p, table);
    if (ts)
        *(kind == TF_VIEW_INSERT   ? &ts->inserts
          : kind == TF_VIEW_UPDATE ? &ts->updates
                                   : &ts->deletes) += 1;
    resync_note_change(p, table, item->before, item->after);
    return true;
}

/* The table as this TABLE_MAP describes it: a new column list (an ALTER
 * TABLE the stream has passed) is taken with the rows kept, then the table
 * is re-synced so that every row and document has the new shape. */
static bool define_from_map(tf_pipeline *p, const tf_pipeline_txn *txn, const tf_table_map *map,
                            const char *table, tf_error *err)
{
    if (tf_view_table_matches(p->view, table, map->columns, map->column_count))
        return true;
    bool held = tf_view_table_row_count(p->view, table) > 0;
    if (tf_view_redefine_table_map(p->view, map, err) != TF_OK) {
        tf_error_prefix(err, "transaction %s", txn->gtid);
        return false;
    }
    if (held) {
        p->target.rebase(p->target.arg);
        pipeline_log(p,
                     "transaction %s: table %s.%s has a new column list (%u columns): "
                     "re-syncing it",
                     txn->gtid, p->database, table, map->column_count);
        resync_table_hit(p, table, true, true);
    }
    return true;
}

bool tf_pipeline_apply(tf_pipeline *p, const tf_pipeline_txn *txn, tf_error *err)
{
    p->source_idle = false;
    const tf_table_map *defined = NULL;
    uint64_t applied = 0;
    for (;;) {
        tf_pipeline_item item;
        bool done = false;
        if (txn->next(txn->it, &item, &done, err) != TF_OK)
            return false;
        if (done)
            break;
        if (item.kind == TF_PIPELINE_ITEM_STATEMENT) {
            if (!pipeline_statement(p, txn, &item, err))
                return false;
            continue;
        }
        char table[256];
        if (!is_flow_table(p, item.table, table, sizeof table))
            continue;
        if (item.table != defined) {
            if (!define_from_map(p, txn, item.table, table, err))
                return false;
            defined = item.table;
        }
        if (!apply_row(p, txn, &item, table, err))
            return false;
        applied++;
    }
    p->transactions++;
    p->dirty = true; /* the position moved, at least */
    if (applied) {
        p->rows_total += applied;
        if (txn->commit_timestamp_us > p->unsent_commit_us)
            p->unsent_commit_us = txn->commit_timestamp_us;
    } else if (txn->commit_timestamp_us) {
        /* Nothing of the flow: the documents are as current as this
         * transaction (when nothing waits), however busy the source is
         * with other tables, which keeps heartbeats from coming. */
        p->passed_commit_us = txn->commit_timestamp_us;
    }
    if (txn->log_file) {
        set_str(&p->binlog_file, txn->log_file);
        p->binlog_pos = txn->end_pos;
    }
    /* the documents it changed (rows, or what statements did), now when
     * the target is free; else they wait in the view, merged with what
     * later transactions do to them */
    return send_when_due(p, err);
}

char **tf_pipeline_flow_tables(const tf_flow_spec *spec, const char *database, size_t *count)
{
    char **tables = bson_malloc0((spec->lookup_count + 1) * sizeof *tables);
    size_t n = 0;
    for (size_t i = 0; i < spec->lookup_count; i++) {
        bool seen = strcmp(spec->lookups[i].table, spec->source_table) == 0;
        for (size_t j = 0; !seen && j < i; j++)
            seen = strcmp(spec->lookups[j].table, spec->lookups[i].table) == 0;
        if (!seen)
            tables[n++] = bson_strdup_printf("`%s`.`%s`", database, spec->lookups[i].table);
    }
    tables[n++] = bson_strdup_printf("`%s`.`%s`", database, spec->source_table);
    *count = n;
    return tables;
}
