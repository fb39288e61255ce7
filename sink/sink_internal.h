/* sink_internal.h — the writer's state, shared by the files of sink/ only. */
#ifndef TAPFLOW_SINK_INTERNAL_H
#define TAPFLOW_SINK_INTERNAL_H

#include "sink.h"

#include <mongoc/mongoc.h>

#define TF_SINK_URI_MAX 512

typedef struct staged_chunk {
    char *name;
    uint8_t *data;
    size_t len;
} staged_chunk;

/* A queued op. With id_from_root_key, op.filter is {_id: derived} and
 * root_key the caller's filter, kept for error messages; else NULL. */
typedef struct pending_op {
    tf_doc_op op;
    bson_t *root_key;
} pending_op;

/* One more connection for documents (tf_sink_options.connections). */
typedef struct write_lane {
    mongoc_client_t *client;
    mongoc_collection_t *collection;
} write_lane;

struct tf_sink {
    /* options, with the strings copied */
    tf_sink_options opts;
    char *database;
    char *collection_name;
    char *flow;
    char *checkpoint_collection_name;
    char *state_collection_name;
    char **root_key_fields;

    char uri_redacted[TF_SINK_URI_MAX];
    mongoc_uri_t *uri; /* parsed target (with credentials: never printed) */
    mongoc_client_t *client;
    mongoc_collection_t *collection;
    mongoc_collection_t *checkpoints;
    mongoc_collection_t *state;
    mongoc_write_concern_t *write_concern;
    /* connections beyond the first, for documents only (batch.c) */
    write_lane *lanes;
    size_t n_lanes;
    tf_fanout_mode fanout;
    bool decimal128; /* the server stores Decimal128 (probed at open) */
    /* Most ops in one write command, 0 for the driver's own split. FerretDB
     * 1.x keeps every update statement's query cursor (a pooled SQLite
     * connection of that database) open until the whole command ends, and
     * each statement needs one more connection to write: from about 50
     * statements per command its pool of 100 runs dry and the server hangs
     * (every later command on the database waits forever). */
    size_t max_ops_per_command;

    /* the batch not yet acknowledged */
    pending_op *pending;
    size_t n_pending, cap_pending;
    size_t pending_bytes;
    int64_t oldest_pending_us; /* bson_get_monotonic_time() of the first op */

    staged_chunk *chunks;
    size_t n_chunks, cap_chunks;

    /* from the stored checkpoint at open, advanced by each commit */
    uint64_t documents_total;
    int64_t checkpoint_seq;
    tf_sink_stats stats;
    int64_t costs_probed_us; /* monotonic time of the last cost probe */
};

/* Runs `attempt(sink, ctx, reply, error)` until it succeeds, fails with a
 * non-transient error, or max_retries is exhausted, sleeping the backoff
 * schedule between tries. reply is re-initialised for every try and holds
 * the last one's on return. */
/* mongoc_init() once per process; removes the driver's counter file
 * (sink.c says why). */
void sink_driver_init(void);

typedef bool (*sink_attempt_fn)(tf_sink *sink, void *ctx, bson_t *reply, bson_error_t *error);
bool sink_with_retries(tf_sink *sink, sink_attempt_fn attempt, void *ctx, bson_t *reply,
                       bson_error_t *error);
/* The same, counting the retries in *retries instead of the sink's stats:
 * for attempts running on several threads at once. */
bool sink_with_retries_counted(tf_sink *sink, sink_attempt_fn attempt, void *ctx, bson_t *reply,
                               bson_error_t *error, uint64_t *retries);

/* Fills err from a driver error: "<what> on <redacted uri>: <message>
 * (<code>)" plus, for a transient error given up on, how many tries. */
void sink_error_from_driver(tf_sink *sink, tf_error *err, const bson_error_t *error,
                            const char *what);

/* Writes the staged state chunks into slot seq % 2 (state.c). */
bool sink_state_write_staged(tf_sink *sink, int64_t seq, tf_error *err);

/* Upserts the flow's checkpoint document with the given seq (checkpoint.c). */
bool sink_checkpoint_write(tf_sink *sink, const tf_checkpoint *cp, int64_t seq, tf_error *err);

/* Destroys what a queued op owns (batch.c). */
void sink_pending_cleanup(pending_op *p);

/* Rewrites a queued op (owning its BSON) to address its document by the
 * _id derived from its root key (derived_id.c). UPDATE_MANY is left as is. */
bool sink_op_address_by_id(pending_op *p, tf_error *err);

/* With id_from_root_key and root key fields: refuses a collection whose
 * sampled documents carry an _id not derived from their root key
 * (derived_id.c). */
bool sink_check_stored_ids(tf_sink *sink, tf_error *err);

/* Appends the write concern to command options. */
void sink_append_write_concern(const tf_sink *sink, bson_t *opts);

/* cost.c: fills sink->stats.costs from writes on a scratch collection;
 * false (costs unmeasured) when a write failed. */
bool sink_probe_costs(tf_sink *sink);
/* Moves the costs towards what writing the pending batch took. */
void sink_refine_costs(tf_sink *sink, double elapsed_ms);
/* Probes again once TF_SINK_COST_REPROBE_MS passed since the last probe. */
void sink_maybe_reprobe_costs(tf_sink *sink);

#endif
