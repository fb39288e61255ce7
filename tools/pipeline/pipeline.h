/* pipeline.h — the flow pipeline: source row changes and statements in,
 * documents, state deltas and checkpoints out (DESIGN.md "Pipeline").
 *
 * A tf_pipeline owns the view of one flow and is the only place where the
 * layers meet: it applies a source transaction (or a snapshot row) to the
 * view, turns the view's document operations into the target's (the
 * snapshot's inserts, DECIMAL rewriting for targets without Decimal128),
 * records each change for the next state delta, and commits documents,
 * state and position in that order at transaction boundaries. It opens no
 * connection and keeps no timer: the program around it (tapflow-replica)
 * owns the replica, the snapshot, the sink, signals and the event loop,
 * and calls in. Both sides are interfaces, so the pipeline is unit-tested
 * with a fake source and a fake target (tests/pipeline/).
 *
 * Source transactions arrive as tf_pipeline_txn: row changes (with their
 * TABLE_MAP) followed by the transaction's statements (QUERY events other
 * than BEGIN / COMMIT). tf_pipeline_replica_txn adapts a tf_replica_txn. */
#ifndef TAPFLOW_PIPELINE_H
#define TAPFLOW_PIPELINE_H

#include "protocol.h"
#include "sink.h"
#include "view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_replica_txn tf_replica_txn;

/* ---- where the flow is ---------------------------------------------------- */

typedef enum tf_pipeline_phase {
    TF_PIPELINE_STARTING = 0, /* reading the checkpoint, loading state */
    TF_PIPELINE_SNAPSHOT,     /* the initial snapshot is being read */
    TF_PIPELINE_RUNNING,      /* streaming */
    TF_PIPELINE_STOPPED,      /* stopped cleanly */
    TF_PIPELINE_ERROR,        /* stopped by an error (tf_pipeline_error) */
} tf_pipeline_phase;

/* "starting", "snapshot", "running", "stopped", "error": the words of the
 * status endpoint. */
const char *tf_pipeline_phase_name(tf_pipeline_phase phase);

/* ---- the target side ------------------------------------------------------ */

/* Where documents, state and checkpoints go. The daemon's is
 * tf_pipeline_sink_target (a tf_sink and the state store); tests give a
 * fake. Every function returns false with err filled on failure. */
typedef struct tf_pipeline_target {
    /* Queues one document operation; the target owns op's documents after
     * the call, whatever it returns. */
    bool (*add)(void *arg, tf_doc_op *op, tf_error *err);
    /* Writes the queued operations: always when force, else only when the
     * target's batch is due (size or age). *written says whether anything
     * was acknowledged. */
    bool (*flush)(void *arg, bool force, bool *written, tf_error *err);
    /* A change just applied to the view, for the next state delta (never
     * called for snapshot rows: the snapshot's checkpoint saves all). */
    void (*record)(void *arg, const char *table, tf_view_change_kind kind, const tf_value *before,
                   const tf_value *after, size_t column_count);
    /* Writes every queued operation, then the state of view (a delta of
     * the recorded changes, or a new base), then cp: a stored checkpoint
     * never runs ahead of the documents and state it names. */
    bool (*commit)(void *arg, const tf_view *view, const tf_checkpoint *cp, tf_error *err);
    void *arg;
} tf_pipeline_target;

/* ---- the source side ------------------------------------------------------ */

typedef enum tf_pipeline_item_kind {
    TF_PIPELINE_ITEM_ROW = 0,
    TF_PIPELINE_ITEM_STATEMENT,
} tf_pipeline_item_kind;

/* One thing a transaction did. Borrowed: valid until the next call of the
 * transaction's iterator. */
typedef struct tf_pipeline_item {
    tf_pipeline_item_kind kind;
    /* ROW */
    const tf_table_map *table; /* names, columns, primary key */
    tf_rows_kind rows_kind;
    const tf_value *before, *after; /* table->column_count values or NULL */
    bool before_full, after_full;   /* false: a partial image (MINIMAL / NOBLOB) */
    /* STATEMENT: a QUERY event other than BEGIN / COMMIT */
    tf_str database; /* the event's current database */
    tf_str sql;
} tf_pipeline_item;

/* A complete source transaction. */
typedef struct tf_pipeline_txn {
    const char *gtid;            /* for messages; "" when anonymous */
    int64_t commit_timestamp_us; /* 0 when unknown */
    const char *log_file;        /* binlog and offset after it (NULL: unknown) */
    uint64_t end_pos;
    /* Row changes first, in binlog order, then statements: TF_OK with
     * *item, or TF_OK and *done at the end, or TF_MALFORMED with err. */
    tf_status (*next)(void *it, tf_pipeline_item *item, bool *done, tf_error *err);
    void *it;
} tf_pipeline_txn;

/* ---- the pipeline --------------------------------------------------------- */

typedef enum tf_pipeline_decimal {
    TF_PIPELINE_DECIMAL_KEEP = 0, /* Decimal128 as the view builds it */
    TF_PIPELINE_DECIMAL_DOUBLE,   /* rewritten as doubles (targets without Decimal128) */
    TF_PIPELINE_DECIMAL_STRING,   /* rewritten as their decimal text */
} tf_pipeline_decimal;

typedef struct tf_pipeline_options {
    const tf_flow_spec *spec; /* must outlive the pipeline */
    const char *spec_hash;    /* tf_flow_spec_hash of spec (copied) */
    const char *database;     /* the source database of the flow's tables (copied) */
    tf_pipeline_target target;
    int64_t checkpoint_interval_ms; /* between two checkpoints while streaming; 0 = 1000 */
    /* Root rows applied during the snapshot between two pushes of their
     * documents (0 = 1000): the documents pending in the view stay few. */
    size_t snapshot_push_root_rows;
    /* Logs (warnings, re-sync progress); NULL = none. */
    void (*log)(void *arg, const char *message);
    void *log_arg;
} tf_pipeline_options;

typedef struct tf_pipeline tf_pipeline;

/* A pipeline with a new, empty view of opt->spec. */
tf_pipeline *tf_pipeline_new(const tf_pipeline_options *opt);
void tf_pipeline_destroy(tf_pipeline *p);

/* The view, to define tables in (snapshot) or load state into (resume). */
tf_view *tf_pipeline_view(tf_pipeline *p);

tf_pipeline_phase tf_pipeline_get_phase(const tf_pipeline *p);
void tf_pipeline_set_phase(tf_pipeline *p, tf_pipeline_phase phase);
/* Enters TF_PIPELINE_ERROR with err's message (kept for status). */
void tf_pipeline_fail(tf_pipeline *p, const tf_error *err);
/* The last error's message, or NULL. */
const char *tf_pipeline_error(const tf_pipeline *p);

/* Set only between flushes (the view's fan-out mode follows the target's
 * capabilities). */
void tf_pipeline_set_decimal(tf_pipeline *p, tf_pipeline_decimal mode);

/* Where the documents are. Strings are copied; NULL keeps the current
 * value of a string field. */
typedef struct tf_pipeline_position {
    const char *gtid; /* MariaDB GTID position / MySQL GTID set; "" = none */
    const char *binlog_file;
    uint64_t binlog_pos;
    const char *flavour; /* "mariadb" / "mysql" */
    const char *server_uuid;
    uint32_t server_id;
} tf_pipeline_position;

void tf_pipeline_set_position(tf_pipeline *p, const tf_pipeline_position *pos);
/* Current values (borrowed; "" for unset strings). */
void tf_pipeline_get_position(const tf_pipeline *p, tf_pipeline_position *out);

/* Counters carried across restarts by the checkpoint. */
void tf_pipeline_set_counts(tf_pipeline *p, uint64_t rows, uint64_t transactions);

/* The snapshot: one source row, applied as an insert. The documents of
 * root rows go to the target as inserts (the snapshot fills an emptied
 * collection) every snapshot_push_root_rows root rows. */
bool tf_pipeline_snapshot_row(tf_pipeline *p, const char *table, const tf_value *values,
                              tf_error *err);
/* The snapshot's end: the last documents, written, then the state base and
 * the checkpoint at the position set before. */
bool tf_pipeline_snapshot_done(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* Streaming: applies one complete transaction: each row change of a flow
 * table (database and table names compared exactly) to the view, recorded
 * for the next delta, then the documents it changed queued on the target.
 * The position moves to the transaction's end. A malformed or unsupported
 * change is an error naming the transaction; nothing of it is recorded. */
bool tf_pipeline_apply(tf_pipeline *p, const tf_pipeline_txn *txn, tf_error *err);

/* Adapts a transaction of replica/ (rows via tf_replica_rows, statements
 * from its QUERY events) and applies it. */
bool tf_pipeline_apply_replica_txn(tf_pipeline *p, const tf_replica_txn *txn, tf_error *err);

/* The periodic work of a running pipeline (call every few ms): a checkpoint
 * when something was applied and checkpoint_interval_ms has passed since
 * the last one, else the target's batch when due. */
bool tf_pipeline_tick(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* Flushes the view and commits documents, state and checkpoint now (only
 * between transactions). */
bool tf_pipeline_checkpoint(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* Whether something was applied since the last checkpoint. */
bool tf_pipeline_dirty(const tf_pipeline *p);

typedef struct tf_pipeline_stats {
    uint64_t rows_total;   /* source row changes applied, snapshot included */
    uint64_t transactions; /* source transactions applied */
    uint64_t snapshot_rows;
    int64_t delay_ms; /* commit -> acknowledged, of the last acknowledged batch */
    uint64_t checkpoints;
    double checkpoint_ms_total, checkpoint_ms_max;
} tf_pipeline_stats;

void tf_pipeline_get_stats(const tf_pipeline *p, tf_pipeline_stats *out);

/* ---- the daemon's target: a tf_sink and the state store ------------------- */

typedef struct tfr_state_store tfr_state_store;

/* What tf_pipeline_sink_target works on; the fields may be replaced
 * between calls (the daemon reopens its sink once the root key is known). */
typedef struct tf_pipeline_sink {
    tf_sink *sink;
    tfr_state_store *store;
    const char *spec_hash;
    char *const *root_key; /* root primary key columns, saved with the state */
    size_t root_key_count;
} tf_pipeline_sink;

/* A target writing through s (which must outlive it). */
tf_pipeline_target tf_pipeline_sink_target(tf_pipeline_sink *s);

/* ---- DECIMAL rewriting (decimal.c) ---------------------------------------- */

/* A copy of doc with every Decimal128 (at any depth) replaced by a double
 * (as_string false) or its decimal text (true); NULL when doc holds none
 * (the caller keeps doc). */
bson_t *tf_pipeline_decimal_rewrite(const bson_t *doc, bool as_string);

#endif
