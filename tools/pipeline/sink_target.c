/* sink_target.c — the daemon's tf_pipeline_target: documents through a
 * sink's writer thread (sink_worker.h), the state through the state store
 * (state_store.h), both in the target database. */
#include "pipeline.h"
#include "sink_worker.h"
#include "state_store.h"

#include <string.h>

static bool sink_add(void *arg, tf_doc_op *op, tf_error *err)
{
    tf_pipeline_sink *s = arg;
    (void)err;
    if (s->op_count == s->op_cap) {
        s->op_cap = s->op_cap ? s->op_cap * 2 : 256;
        s->ops = bson_realloc(s->ops, s->op_cap * sizeof *s->ops);
    }
    s->ops[s->op_count++] = *op;
    memset(op, 0, sizeof *op);
    return true;
}

/* The added operations to the worker (which takes the array), ahead of
 * their turn or not. */
static bool hand_over(tf_pipeline_sink *s, bool ticket, bool ahead, tf_error *err)
{
    tf_doc_op *ops = s->ops;
    size_t n = s->op_count;
    s->ops = NULL;
    s->op_count = s->op_cap = 0;
    return ahead ? tf_sink_worker_write_ahead(s->worker, ops, n, err)
                 : tf_sink_worker_write(s->worker, ops, n, ticket, err);
}

static bool submit_as(tf_pipeline_sink *s, bool ahead, bool *submitted, tf_error *err)
{
    *submitted = s->op_count > 0;
    if (!*submitted)
        return tf_sink_worker_ok(s->worker, err);
    return hand_over(s, true, ahead, err);
}

static bool sink_submit(void *arg, bool *submitted, tf_error *err)
{
    return submit_as(arg, false, submitted, err);
}

static bool sink_submit_ahead(void *arg, bool *submitted, tf_error *err)
{
    return submit_as(arg, true, submitted, err);
}

static uint64_t sink_writes_done(void *arg, bool ahead)
{
    tf_pipeline_sink *s = arg;
    return tf_sink_worker_writes_done(s->worker, ahead);
}

static uint64_t sink_acknowledged(void *arg)
{
    tf_pipeline_sink *s = arg;
    return tf_sink_worker_acknowledged(s->worker);
}

static bool sink_wait(void *arg, tf_error *err)
{
    tf_pipeline_sink *s = arg;
    return tf_sink_worker_wait(s->worker, 0, err);
}

static size_t sink_pending(void *arg)
{
    tf_pipeline_sink *s = arg;
    return s->op_count + tf_sink_worker_pending_ops(s->worker);
}

static void sink_record(void *arg, const char *table, tf_view_change_kind kind,
                        const tf_value *before, const tf_value *after, size_t column_count)
{
    tf_pipeline_sink *s = arg;
    tfr_state_store_record(s->store, table, kind, before, after, column_count);
}

static void sink_rebase(void *arg)
{
    tf_pipeline_sink *s = arg;
    tfr_state_store_force_base(s->store);
}

static bool sink_commit(void *arg, const tf_view *view, const bson_t *progress,
                        const tf_checkpoint *cp, tf_error *err)
{
    tf_pipeline_sink *s = arg;
    if (s->op_count && !hand_over(s, false, false, err))
        return false;
    if (!tfr_state_store_stage(s->store, s->worker, view, s->spec_hash, s->root_key,
                               s->root_key_count, progress, err) ||
        !tfr_state_store_commit(s->store, s->worker, cp, err))
        return false;
    return true;
}

static bool sink_costs(void *arg, tf_view_write_costs *out)
{
    tf_pipeline_sink *s = arg;
    tf_sink_stats stats;
    tf_sink_worker_get_stats(s->worker, &stats);
    const tf_sink_write_costs *c = &stats.costs;
    if (!c->measured)
        return false;
    *out = (tf_view_write_costs){.replace = c->replace_ms,
                                 .replace_per_kb = c->replace_per_kb_ms,
                                 .update = c->update_ms,
                                 .update_per_kb = c->update_per_kb_ms,
                                 .update_many = c->update_many_ms,
                                 .update_many_doc = c->update_many_doc_ms,
                                 .doc_kb = c->doc_kb};
    return true;
}

tf_pipeline_target tf_pipeline_sink_target(tf_pipeline_sink *s)
{
    tf_pipeline_target t = {
        .add = sink_add,
        .submit = sink_submit,
        .acknowledged = sink_acknowledged,
        .wait = sink_wait,
        .pending = sink_pending,
        .record = sink_record,
        .rebase = sink_rebase,
        .commit = sink_commit,
        .costs = sink_costs,
        .submit_ahead = sink_submit_ahead,
        .writes_done = sink_writes_done,
        .arg = s,
    };
    return t;
}

void tf_pipeline_sink_cleanup(tf_pipeline_sink *s)
{
    for (size_t i = 0; i < s->op_count; i++)
        tf_doc_op_cleanup(&s->ops[i]);
    bson_free(s->ops);
    s->ops = NULL;
    s->op_count = s->op_cap = 0;
}
