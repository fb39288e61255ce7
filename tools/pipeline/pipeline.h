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
 * TABLE_MAP) followed by the transaction's statements (its QUERY events).
 * tf_pipeline_apply_replica_txn adapts a tf_replica_txn. */
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
 * tf_pipeline_sink_target (a tf_sink on a writer thread, and the state
 * store); tests give a fake. Every function returns false with err filled
 * on failure.
 *
 * Writing may be asynchronous: submit and commit may return once their
 * work is queued. Each submission (a submit that had operations, or a
 * commit) is acknowledged in order; acknowledged() counts them. While a
 * submission is unacknowledged the pipeline keeps the documents changed
 * meanwhile pending in the view, which merges the changes of many
 * transactions into one operation per document for the next submission. */
typedef struct tf_pipeline_target {
    /* Adds one document operation to the next submission; the target owns
     * op's documents after the call, whatever it returns. */
    bool (*add)(void *arg, tf_doc_op *op, tf_error *err);
    /* Submits the operations added since the last submission as one batch;
     * *submitted says whether there were any. */
    bool (*submit)(void *arg, bool *submitted, tf_error *err);
    /* Submissions acknowledged (written) so far. */
    uint64_t (*acknowledged)(void *arg);
    /* Blocks until every submission is acknowledged. */
    bool (*wait)(void *arg, tf_error *err);
    /* Operations added and not yet written: a re-sync gives the target its
     * next slice only once this is 0. */
    size_t (*pending)(void *arg);
    /* A change just applied to the view, for the next state delta (never
     * called for snapshot rows: the snapshot's checkpoint saves all). */
    void (*record)(void *arg, const char *table, tf_view_change_kind kind, const tf_value *before,
                   const tf_value *after, size_t column_count);
    /* The next commit saves the whole state (a new base): the view changed
     * in a way the recorded changes do not describe (TRUNCATE, a new column
     * list, rows a re-sync deleted). */
    void (*rebase)(void *arg);
    /* Submits every added operation, then the state of view (a delta of
     * the recorded changes, or a new base) with progress (the re-sync
     * queue; empty when none), then cp: a stored checkpoint never runs
     * ahead of the documents and state it names, and progress is stored
     * with it atomically. One submission, acknowledged once cp is written. */
    bool (*commit)(void *arg, const tf_view *view, const bson_t *progress, const tf_checkpoint *cp,
                   tf_error *err);
    /* Optional: what the target's writes cost now, for the view to plan
     * each flush's writes with (tf_view_write_costs); false: unmeasured. */
    bool (*costs)(void *arg, tf_view_write_costs *out);
    /* Optional, both or neither: submits the added operations (a few
     * documents) to be written ahead of the submissions still waiting,
     * as soon as none of those touches their documents; and how many
     * submissions of documents are written so far, in any order, of those
     * submitted so (ahead) or by submit (acknowledged counts a submission
     * only once every one before it is written too). */
    bool (*submit_ahead)(void *arg, bool *submitted, tf_error *err);
    uint64_t (*writes_done)(void *arg, bool ahead);
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
    /* STATEMENT: a QUERY event's SQL (BEGIN and COMMIT included: they are
     * classified and ignored like any statement that changes no table) */
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

/* Re-reads of source rows for re-syncs. The pipeline asks for one read at a
 * time; the source answers, now or later on the same thread, with
 * tf_pipeline_resync_columns (once, before any row), tf_pipeline_resync_row
 * per row and tf_pipeline_resync_done. The daemon's reads are tf_snapshot
 * reads on a connection of their own (no transaction, no position: the
 * pipeline needs neither, see resync.c). */
typedef struct tf_pipeline_read {
    const char *table; /* of the flow's source database */
    /* Range read: rows whose primary key sorts after `after` (key_count
     * values in key order; NULL: from the first row), in key order, at
     * most max_rows. */
    const tf_value *after;
    size_t key_count;
    size_t max_rows;
    /* Key read (keys != NULL): the rows whose primary key is one of
     * key_rows keys (key_count values each, concatenated). */
    const tf_value *keys;
    size_t key_rows;
} tf_pipeline_read;

/* n values with every byte payload copied into the same allocation
 * (bson_free): for a source that keeps a request's keys past the call. */
tf_value *tf_pipeline_values_dup(const tf_value *values, size_t n);

typedef struct tf_pipeline_source {
    /* Starts a read; false with err when it cannot even start (retried).
     * req and its arrays are valid during the call only. */
    bool (*read)(void *arg, const tf_pipeline_read *req, tf_error *err);
    /* Abandons the read in flight: nothing more of it is delivered. */
    void (*cancel)(void *arg);
    void *arg;
} tf_pipeline_source;

/* The flow's tables as a snapshot reads them, each once, "`db`.`table`":
 * the lookup tables first and the root table last, so that each root row
 * read completes its document (one consistent read: the order changes
 * nothing else). *count gets how many; free each and the array with
 * bson_free. */
char **tf_pipeline_flow_tables(const tf_flow_spec *spec, const char *database, size_t *count);

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
    tf_pipeline_source source;      /* read NULL: re-syncs wait (nothing reads) */
    size_t resync_chunk_rows;       /* rows per re-sync read; 0 = 5000 */
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
 * collection) every snapshot_push_root_rows root rows when the target has
 * acknowledged the last ones; when it has not and 4 times as many wait,
 * this waits for the target (the view's pending documents stay few). */
bool tf_pipeline_snapshot_row(tf_pipeline *p, const char *table, const tf_value *values,
                              tf_error *err);
/* The snapshot's end: the last documents, then the state base and the
 * checkpoint at the position set before, all acknowledged on return. */
bool tf_pipeline_snapshot_done(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* Streaming: applies one complete transaction: each row change of a flow
 * table (database and table names compared exactly) to the view, recorded
 * for the next delta; the documents it changed are submitted to the target
 * now if it has acknowledged every submission, else with the next one
 * (merged with later changes to them). The position moves to the transaction's end. A malformed or unsupported
 * change is an error naming the transaction; nothing of it is recorded.
 *
 * What else the source does to a flow table reaches the view too
 * (statements.c): TRUNCATE removes its rows at that point; a statement-
 * format INSERT / UPDATE / DELETE / REPLACE / LOAD DATA re-syncs the table
 * (with a warning naming the GTID and the statement); ALTER TABLE and a
 * TABLE_MAP with a new column list take the new columns and re-sync the
 * table, rewriting every document it reaches; a row with a partial image
 * (binlog_row_image MINIMAL / NOBLOB) is re-read by key instead of
 * applied. DROP TABLE, RENAME TABLE (or ALTER ... RENAME) of a flow table,
 * DROP DATABASE of its database, a new column list without a column the
 * flow joins on, or a changed primary key stop the flow: an error naming
 * the table, the column and the lookup. Statements on other tables change
 * nothing. */
bool tf_pipeline_apply(tf_pipeline *p, const tf_pipeline_txn *txn, tf_error *err);

/* Adapts a transaction of replica/ (rows via tf_replica_rows, statements
 * from its QUERY events) and applies it. */
bool tf_pipeline_apply_replica_txn(tf_pipeline *p, const tf_replica_txn *txn, tf_error *err);

/* The periodic work of a running pipeline (call every few ms, and when the
 * target acknowledges something): takes the target's acknowledgments (the
 * delay); a checkpoint when something was applied, checkpoint_interval_ms
 * has passed since the last one and the last is acknowledged; else the
 * pending documents when the target has acknowledged every submission;
 * the next re-sync read when none is in flight. */
bool tf_pipeline_tick(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* ---- per-table online re-sync (resync.c) ----
 *
 * A table is re-read in primary-key chunks while the stream goes on. Each
 * read is a window: stream changes to the table's keys while it is in
 * flight win over what the read returns for those keys (the read may have
 * seen them before or after the change; the stream's row is never older
 * than the read's once the stream has passed the read, and row images are
 * whole). Rows that differ from the held ones are applied (force: all of
 * them, so every document is rewritten), so only documents whose content
 * changes are written. When the last chunk is in, held rows that no chunk
 * returned and the stream did not touch since the re-sync began are gone
 * from the source and leave the view (after a resume, such rows are first
 * re-read by key). The queue and the last completed chunk are stored with
 * each checkpoint: a restarted flow continues from there. */

/* Queues a re-sync of table (a flow table): starts over when one is queued
 * or running. reason goes to the log. */
void tf_pipeline_resync_start(tf_pipeline *p, const char *table, bool force, const char *reason);
/* Queues a rewrite of every document, whole, after the re-syncs queued
 * before it (a flow whose lookups changed: documents gain or lose fields).
 * Done a thousand documents per tick, so the stream goes on meanwhile. */
void tf_pipeline_rewrite_all(tf_pipeline *p, const char *reason);
/* The flow text stored with the checkpoint the queue came from (the
 * progress document's "flow"), or NULL (bson_free). */
char *tf_pipeline_progress_flow(const bson_t *progress);

/* The source's answers (see tf_pipeline_source). columns borrowed until
 * tf_pipeline_resync_done returns; primary_key and values copied. */
void tf_pipeline_resync_columns(tf_pipeline *p, const tf_column *columns, size_t column_count,
                                const uint32_t *primary_key, size_t primary_key_count);
void tf_pipeline_resync_row(tf_pipeline *p, const tf_value *values);
/* The read ended: exhausted (a range read reached the table's end), or
 * read_err (retried after a second). False with err on what stops the flow
 * (the read's columns drop a column the flow joins on, a value the view
 * refuses). */
bool tf_pipeline_resync_done(tf_pipeline *p, bool exhausted, const tf_error *read_err,
                             int64_t now_ms, tf_error *err);
/* Restores the queue stored with the checkpoint (tfr_state_store_progress)
 * into a pipeline whose view state is loaded. */
bool tf_pipeline_resync_restore(tf_pipeline *p, const bson_t *progress, tf_error *err);

typedef struct tf_pipeline_resync_stats {
    const char *table; /* being re-synced now, or NULL */
    size_t queued;     /* jobs waiting, the current one included */
    uint64_t chunks, rows_read, rows_changed, rows_deleted; /* of the current job */
    uint64_t completed;                                     /* jobs finished (this run) */
    /* every job of this run: rows read and applied, reads failed (retried) */
    uint64_t rows_read_total, rows_changed_total, read_errors;
} tf_pipeline_resync_stats;

void tf_pipeline_get_resync_stats(const tf_pipeline *p, tf_pipeline_resync_stats *out);

/* Submits the pending documents, state and checkpoint now (only between
 * transactions); they are written once tf_pipeline_wait returns. */
bool tf_pipeline_checkpoint(tf_pipeline *p, int64_t now_ms, tf_error *err);
/* Blocks until the target has acknowledged every submission. */
bool tf_pipeline_wait(tf_pipeline *p, int64_t now_ms, tf_error *err);

/* The source has sent everything it has (a heartbeat of the dump, which
 * the server sends only while it has nothing else to send): once every
 * document is acknowledged the delay is 0, not the last change's delay
 * frozen while idle. */
void tf_pipeline_source_idle(tf_pipeline *p);

/* Whether something was applied since the last checkpoint. */
bool tf_pipeline_dirty(const tf_pipeline *p);

typedef struct tf_pipeline_stats {
    uint64_t rows_total;   /* source row changes applied, snapshot included */
    uint64_t transactions; /* source transactions applied */
    uint64_t snapshot_rows;
    int64_t delay_ms; /* commit -> acknowledged, of the last acknowledged batch */
    uint64_t checkpoints;
    double checkpoint_ms_total, checkpoint_ms_max;
    /* each checkpoint from its submission to the target's acknowledgment
     * of it (documents, state and position written) */
    tf_latency_histogram checkpoint_latency;
    int64_t checkpoint_acked_ms; /* when the last one was acknowledged; 0: none yet */
} tf_pipeline_stats;

void tf_pipeline_get_stats(const tf_pipeline *p, tf_pipeline_stats *out);

/* Source row changes applied in this run to one flow table, by kind; the
 * snapshot's rows count as inserts. */
typedef struct tf_pipeline_table_stats {
    const char *table; /* borrowed from the pipeline */
    uint64_t inserts, updates, deletes;
} tf_pipeline_table_stats;

/* Fills out with at most cap tables (every table of the flow, in the flow's
 * order: its source table first); returns how many the flow has. */
size_t tf_pipeline_get_table_stats(const tf_pipeline *p, tf_pipeline_table_stats *out, size_t cap);

/* ---- the daemon's target: a tf_sink and the state store ------------------- */

typedef struct tfr_state_store tfr_state_store;

typedef struct tf_sink_worker tf_sink_worker;

/* What tf_pipeline_sink_target works on: a sink's writer thread
 * (sink_worker.h) and the state store; the fields may be replaced while
 * nothing is added or submitted (the daemon reopens its sink once the root
 * key is known). */
typedef struct tf_pipeline_sink {
    tf_sink_worker *worker;
    tfr_state_store *store;
    const char *spec_hash;
    char *const *root_key; /* root primary key columns, saved with the state */
    size_t root_key_count;
    /* the operations added since the last submission (the target's) */
    tf_doc_op *ops;
    size_t op_count, op_cap;
} tf_pipeline_sink;

/* A target writing through s (which must outlive it). */
tf_pipeline_target tf_pipeline_sink_target(tf_pipeline_sink *s);
/* Frees the operations added and not submitted. */
void tf_pipeline_sink_cleanup(tf_pipeline_sink *s);

/* ---- DECIMAL rewriting (decimal.c) ---------------------------------------- */

/* A copy of doc with every Decimal128 (at any depth) replaced by a double
 * (as_string false) or its decimal text (true); NULL when doc holds none
 * (the caller keeps doc). */
bson_t *tf_pipeline_decimal_rewrite(const bson_t *doc, bool as_string);

#endif
