/* state_store.h — the view state persisted with the daemon's checkpoints.
 *
 * The state is a BASE (every held row, tf_view_save chunks) plus DELTAS
 * (the source row changes applied since, tf_view_journal chunks), both
 * stored as generation chunks of the sink (sink.h section 4). A checkpoint
 * writes one delta — what changed in the last second, not the hundreds of
 * megabytes of rows — unless the deltas have outgrown a fraction of the
 * base: then it writes a new base, in a new generation, instead. A small
 * slotted "meta" chunk, committed with the checkpoint, says which
 * generation, how many base chunks and how many deltas belong to it: it is
 * the commit point, so a crash anywhere leaves the previous checkpoint's
 * state whole (chunks written after it are past what it counts, or in a
 * generation it does not name, and are overwritten when that name is
 * written again; only a crashed compaction's base chunks past the count of
 * the next one in that generation stay behind).
 *
 * Resume loads the base, applies the deltas in order and discards the
 * pending documents (the target holds them already): no document is
 * computed. Chunks are stored zstd-compressed. */
#ifndef TAPFLOW_REPLICA_STATE_STORE_H
#define TAPFLOW_REPLICA_STATE_STORE_H

#include "sink.h"
#include "sink_worker.h"
#include "view.h"

typedef struct tfr_state_store tfr_state_store;

tfr_state_store *tfr_state_store_new(void);
void tfr_state_store_destroy(tfr_state_store *store);

/* Records a change just applied to the view (column_count values per
 * image), for the next checkpoint's delta. Not for snapshot rows: the
 * snapshot's checkpoint writes a base. */
void tfr_state_store_record(tfr_state_store *store, const char *table, tf_view_change_kind kind,
                            const tf_value *before, const tf_value *after, size_t column_count);

/* Queues on worker the state for the checkpoint about to be committed (a
 * delta, or a new base) and its meta chunk (with progress, when not empty:
 * committed atomically with the checkpoint); the caller then queues the
 * checkpoint with tfr_state_store_commit. root_key names the root primary
 * key columns, kept for the unique index at resume. A base is serialized
 * here, on the caller's thread (the view is not the worker's to read);
 * while more than STATE_QUEUE_MAX bytes of it wait this blocks. */
bool tfr_state_store_stage(tfr_state_store *store, tf_sink_worker *worker, const tf_view *view,
                           const char *spec_hash, char *const *root_key, size_t root_key_count,
                           const bson_t *progress, tf_error *err);
/* The next stage writes a new base whatever the deltas' size: after a
 * change the journal cannot express (TRUNCATE, a new column list, rows a
 * re-sync deleted). */
void tfr_state_store_force_base(tfr_state_store *store);
/* The progress document staged with the stored checkpoint (the pipeline's
 * re-sync queue), as tfr_state_store_read_meta found it; empty when none. */
const bson_t *tfr_state_store_progress(const tfr_state_store *store);
/* Queues cp after the staged state and, when the staged state is a new
 * generation, the removal of the previous one's chunks after it: the
 * staged state counts as the stored one from now on (a failed write stops
 * the flow, which then resumes from what the target holds). */
bool tfr_state_store_commit(tfr_state_store *store, tf_sink_worker *worker,
                            const tf_checkpoint *cp, tf_error *err);

/* Resume, first step: reads the stored checkpoint's meta chunk (flow names
 * the flow in messages). Fills the root key columns (new strings, bson_free
 * each and the array). A missing or malformed meta is an error that says
 * to restart with --resnapshot. */
bool tfr_state_store_read_meta(tfr_state_store *store, tf_sink *sink, const char *flow,
                               char ***root_key, size_t *root_key_count, tf_error *err);
/* Resume, second step (any sink of the same flow): loads the base and
 * applies the deltas into view (a new view of the same spec) and discards
 * the pending documents. */
bool tfr_state_store_load(tfr_state_store *store, tf_sink *sink, tf_view *view, const char *flow,
                          tf_error *err);

/* The snapshot about to fill the target marks it as this flow's (a
 * generation-0 chunk, removed by the first checkpoint): a snapshot
 * interrupted by a crash is then taken again without --resnapshot. */
bool tfr_state_store_mark_snapshot(tf_sink *sink, tf_error *err);
bool tfr_state_store_snapshot_marked(tf_sink *sink, bool *marked, tf_error *err);

/* The stored checkpoint (cp, as read at resume or just committed) and its
 * state's layout as one string: a state kept on this host under this tag
 * (tf_view_seal_state) is exactly the one the stored state describes. Set
 * by tfr_state_store_commit; at resume, after tfr_state_store_read_meta. */
void tfr_state_store_set_checkpoint(tfr_state_store *store, const tf_checkpoint *cp);
/* NULL before either. */
const char *tfr_state_store_tag(const tfr_state_store *store);

typedef struct tfr_state_stats {
    int64_t generation;
    size_t base_chunks, delta_chunks; /* of the stored checkpoint */
    uint64_t base_bytes, delta_bytes;
    uint64_t bases_written, deltas_written; /* by this process */
    uint64_t stage_count;
    double stage_ms_total, stage_ms_max; /* time spent writing state */
    double last_base_ms;
} tfr_state_stats;

void tfr_state_store_get_stats(const tfr_state_store *store, tfr_state_stats *out);

#endif
