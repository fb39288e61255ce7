/* pipeline_internal.h — shared between the files of tools/pipeline only. */
#ifndef TAPFLOW_PIPELINE_INTERNAL_H
#define TAPFLOW_PIPELINE_INTERNAL_H

#include "pipeline.h"

/* ---- a set of byte strings (keyset.c) ---- */

typedef struct keyset_entry {
    uint8_t *key; /* owned; NULL: empty slot */
    size_t len;
    uint64_t hash;
} keyset_entry;

typedef struct keyset {
    keyset_entry *slots;
    size_t capacity, count;
} keyset;

void keyset_add(keyset *s, const uint8_t *key, size_t len);
bool keyset_has(const keyset *s, const uint8_t *key, size_t len);
void keyset_clear(keyset *s);

/* ---- value arrays that own their bytes (values.c) ---- */

/* The key columns of a held row's document as values (strings and byte
 * payloads borrow from doc): false when a column's type cannot be read back
 * exactly from its BSON (temporal and floating keys). */
bool values_from_doc(const bson_t *doc, const tf_column *columns, const uint32_t *pk,
                     size_t pk_count, tf_value *out);

/* ---- re-sync jobs (resync.c) ---- */

typedef enum resync_kind {
    RESYNC_TABLE = 0, /* every row, in key-range chunks */
    RESYNC_ROWS,      /* the rows of some keys */
    RESYNC_REWRITE,   /* no read: every document rewritten whole (a flow edit) */
} resync_kind;

typedef struct resync_job {
    resync_kind kind;
    char *table;
    bool force;       /* TABLE: apply every row (rewrite every document) */
    bool resumed;     /* TABLE: restored from a checkpoint after some chunks */
    bool checking;    /* TABLE: chunks done; re-reading unconfirmed rows by key */
    size_t key_count; /* primary-key columns */
    tf_value *after;  /* TABLE: last key of the last completed chunk, or NULL */
    tf_value **keys;  /* ROWS, and TABLE while checking: keys to read */
    size_t key_rows, key_cap;
    keyset confirmed;    /* TABLE: keys read or changed by the stream since it began */
    uint8_t **root_keys; /* REWRITE: the root rows still to rewrite, encoded */
    size_t *root_key_lens;
    size_t root_key_count, root_key_next;
    bool root_keys_taken;
    uint64_t chunks, rows_read, rows_changed, rows_deleted;
    struct resync_job *next;
} resync_job;

struct tf_pipeline {
    const tf_flow_spec *spec;
    char *spec_hash;
    char *database;
    tf_view *view;
    tf_view_ops ops;
    tf_pipeline_target target;
    tf_pipeline_source source;
    tf_pipeline_decimal decimal;
    int64_t checkpoint_interval_ms;
    size_t snapshot_push_root_rows;
    size_t resync_chunk_rows;
    void (*log)(void *arg, const char *message);
    void *log_arg;

    tf_pipeline_phase phase;
    char error[TF_ERROR_MESSAGE_MAX];

    /* where the documents are */
    char *gtid, *binlog_file, *flavour, *server_uuid;
    uint64_t binlog_pos;
    uint32_t server_id;

    uint64_t rows_total, transactions, snapshot_rows;
    size_t snapshot_root_rows_unpushed;
    bool dirty; /* applied since the last checkpoint */
    int64_t last_checkpoint_ms;
    int64_t unsent_commit_us; /* newest source commit applied, not yet submitted */
    /* a source transaction that changed nothing of the flow, passed since
     * the last take of acknowledgments (its commit; 0: none) */
    int64_t passed_commit_us;
    /* submissions to the target not yet acknowledged, oldest first: the
     * newest source commit each carries (0: none) */
    struct unacked {
        uint64_t ticket;
        int64_t commit_us;
        int64_t submitted_us; /* monotonic */
    } * unacked;
    size_t unacked_count, unacked_cap;
    uint64_t submissions;   /* made so far: the last one's ticket */
    uint64_t ahead_submissions; /* of documents ahead of their turn (submit_ahead) */
    uint64_t commit_ticket; /* the last checkpoint's */
    int64_t acked_delay_ms; /* of the newest acknowledged source commit */
    int64_t delay_ms;       /* that, or the age of what waits, if older */
    bool source_idle;       /* a heartbeat came after the last transaction */
    bool mark_replaces;     /* each REPLACE is preceded by a marking update (resync.c) */
    uint64_t checkpoints;
    double checkpoint_ms_total, checkpoint_ms_max;
    int64_t checkpoint_sent_ms; /* the one in flight was submitted; 0: none */
    int64_t checkpoint_acked_ms;
    tf_latency_histogram checkpoint_latency;
    /* row changes applied per flow table (source table first) */
    tf_pipeline_table_stats *tables;
    size_t table_count;

    /* re-sync */
    resync_job *jobs; /* the head is the one being read */
    bool reading;     /* a read of the head job is in flight */
    bool applying;    /* its rows are being applied, a slice per tick (resync.c) */
    size_t apply_next;
    bool apply_exhausted;
    keyset returned; /* keys the read returned (applied so far) */
    bool discard;    /* ... and its answer must be dropped (a statement hit the table) */
    keyset touched;  /* keys of the head job's table the stream changed during the read */
    const tf_column *read_columns; /* the read's columns (borrowed, see resync_done) */
    size_t read_column_count, read_pk_count;
    uint32_t read_pk[64];
    tf_value **read_rows;
    size_t read_row_count, read_row_cap;
    int64_t retry_at_ms;
    uint64_t resyncs_completed;
    uint64_t resync_rows_read_total, resync_rows_changed_total, resync_read_errors;
};

void pipeline_log(tf_pipeline *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The view's pending documents to the target's next submission. */
bool pipeline_push_ops(tf_pipeline *p, tf_error *err);
/* Whether a submission is unacknowledged. */
bool pipeline_target_busy(tf_pipeline *p);

/* A new job at the end of the queue (resync.c). */
resync_job *resync_job_new(tf_pipeline *p, resync_kind kind, const char *table);
/* Appends a key (key_count values, copied) to a job's key list. */
void resync_job_add_key(resync_job *j, const tf_value *key);

/* A row change of a flow table was applied: the re-sync windows learn its
 * keys. */
void resync_note_change(tf_pipeline *p, const char *table, const tf_value *before,
                        const tf_value *after);
/* A row with a partial image: re-read its key(s) instead. */
void resync_partial_row(tf_pipeline *p, const char *table, const tf_value *before,
                        const tf_value *after);
/* A statement hit table: an in-flight read of it is dropped; a TABLE job of
 * it starts over (restart) or is queued (start). */
void resync_table_hit(tf_pipeline *p, const char *table, bool start, bool force);
/* Starts the next read when none is in flight. */
bool resync_tick(tf_pipeline *p, int64_t now_ms, tf_error *err);
/* The queue as stored with a checkpoint (empty document when none). */
void resync_progress(const tf_pipeline *p, bson_t *out);
void resync_cleanup(tf_pipeline *p);

/* ---- statements (statements.c) ---- */

/* Acts on one statement of a transaction (see tf_pipeline_apply). */
bool pipeline_statement(tf_pipeline *p, const tf_pipeline_txn *txn, const tf_pipeline_item *item,
                        tf_error *err);

#endif
