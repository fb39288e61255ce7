/* sink_target.c — the daemon's tf_pipeline_target: documents through a
 * tf_sink, the state through the state store (state_store.h), both in the
 * target database. */
#include "pipeline.h"
#include "state_store.h"

static bool sink_add(void *arg, tf_doc_op *op, tf_error *err)
{
    tf_pipeline_sink *s = arg;
    return tf_sink_add(s->sink, op, err);
}

static bool sink_flush(void *arg, bool force, bool *written, tf_error *err)
{
    tf_pipeline_sink *s = arg;
    *written = false;
    if (!tf_sink_pending_ops(s->sink) || (!force && !tf_sink_flush_due(s->sink)))
        return true;
    if (!tf_sink_flush(s->sink, err))
        return false;
    *written = true;
    return true;
}

static size_t sink_pending(void *arg)
{
    tf_pipeline_sink *s = arg;
    return tf_sink_pending_ops(s->sink);
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
    return tfr_state_store_stage(s->store, s->sink, view, s->spec_hash, s->root_key,
                                 s->root_key_count, progress, err) &&
           tf_sink_commit(s->sink, cp, err) && tfr_state_store_committed(s->store, s->sink, err);
}

tf_pipeline_target tf_pipeline_sink_target(tf_pipeline_sink *s)
{
    tf_pipeline_target t = {
        .add = sink_add,
        .flush = sink_flush,
        .pending = sink_pending,
        .record = sink_record,
        .rebase = sink_rebase,
        .commit = sink_commit,
        .arg = s,
    };
    return t;
}
