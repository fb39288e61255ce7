/* sink.h — what the sink layer offers: document operations in, MongoDB writes
 * out, checkpoints and view-state chunks kept next to the documents.
 *
 * sink/ is the only module that talks to MongoDB (mongo-c-driver, one
 * mongoc_client_t used on the caller's thread) and knows nothing of MySQL.
 * Its input is data: tf_doc_op values that view/ emits. Every operation is
 * idempotent (replace-with-upsert, $set/$unset, updateMany, delete), so a
 * batch that is written twice — a retry after a lost acknowledgement, or a
 * restart from the previous checkpoint — gives the same documents.
 *
 * Sections:
 *   1. document operations  (tf_doc_op: what to write, who owns the BSON)
 *   2. the writer           (tf_sink: batching, retries, write concern)
 *   3. checkpoints          (tapflow_checkpoints, one document per flow)
 *   4. view state chunks    (tapflow_state, named binary chunks per flow)
 *   5. small pure helpers   (URI redaction, backoff schedule, error class)
 */
#ifndef TAPFLOW_SINK_H
#define TAPFLOW_SINK_H

#include "tf_error.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * 1. document operations
 * ====================================================================== */

typedef enum tf_doc_op_kind {
    TF_DOC_OP_NONE = 0,
    /* Replace the whole document whose root key matches `filter` with
     * `document`, inserting it when absent (replaceOne, upsert). */
    TF_DOC_OP_REPLACE,
    /* $set the paths of `set` and $unset the paths (keys) of `unset` on the
     * one document whose root key matches `filter` (updateOne, no upsert:
     * a partial update never creates a partial document). */
    TF_DOC_OP_UPDATE,
    /* updateMany(filter, {$set: set, $unset: unset}, {arrayFilters}) across
     * all documents: `set` paths use identifiers ("order_items.$[it].product")
     * bound by `array_filters` ([{"it.product_id": "P1"}]). Only accepted when
     * tf_sink_fanout_mode() is TF_FANOUT_ARRAY_FILTERS. */
    TF_DOC_OP_UPDATE_MANY,
    /* Delete the document whose root key matches `filter` (deleteOne). */
    TF_DOC_OP_DELETE,
    /* Insert `document` (insertOne): for building a collection that is
     * empty, such as the initial snapshot, where it is far cheaper than an
     * upsert (FerretDB 1.24 SQLite: ~20x). `filter` is the document's root
     * key: a retried batch first deletes the documents its inserts name, so
     * a batch repeated after a lost acknowledgement stays idempotent. An
     * insert of a key that already existed before the batch fails with a
     * duplicate key error. */
    TF_DOC_OP_INSERT,
} tf_doc_op_kind;

/* One document operation. `filter` is the root key ({order_id: "X"}) except
 * for UPDATE_MANY, where it selects the documents to visit
 * ({"order_items.product_id": "X"}). With tf_sink_options.id_from_root_key
 * (the default) the sink sends REPLACE, UPDATE, DELETE and INSERT as
 * {_id: tf_sink_derive_id(filter)} and gives REPLACE / INSERT documents
 * that _id as their first field; see section 2 for why and what it costs.
 * `array_filters` is a BSON array document ({"0": {...}, ...}). Unused
 * members are NULL.
 *
 * Ownership is in the constructor's name: *_steal takes the bson_t's (they
 * must be heap bson_t from bson_new()/bson_copy() etc.; tf_doc_op_cleanup
 * destroys them); *_borrow only points at them and the caller keeps them
 * alive until tf_doc_op_cleanup (tf_sink_add copies borrowed BSON, so after
 * tf_sink_add returns the caller may free them). */
typedef struct tf_doc_op {
    tf_doc_op_kind kind;
    bool owns_bson;
    const bson_t *filter;
    const bson_t *document;      /* REPLACE, INSERT */
    const bson_t *set;           /* UPDATE, UPDATE_MANY: {path: value} or NULL */
    const bson_t *unset;         /* UPDATE, UPDATE_MANY: {path: ""} or NULL */
    const bson_t *array_filters; /* UPDATE_MANY */
} tf_doc_op;

void tf_doc_op_replace_steal(tf_doc_op *op, bson_t *key, bson_t *document);
void tf_doc_op_replace_borrow(tf_doc_op *op, const bson_t *key, const bson_t *document);
void tf_doc_op_update_steal(tf_doc_op *op, bson_t *key, bson_t *set, bson_t *unset);
void tf_doc_op_update_borrow(tf_doc_op *op, const bson_t *key, const bson_t *set,
                             const bson_t *unset);
void tf_doc_op_update_many_steal(tf_doc_op *op, bson_t *filter, bson_t *set, bson_t *unset,
                                 bson_t *array_filters);
void tf_doc_op_update_many_borrow(tf_doc_op *op, const bson_t *filter, const bson_t *set,
                                  const bson_t *unset, const bson_t *array_filters);
void tf_doc_op_insert_steal(tf_doc_op *op, bson_t *key, bson_t *document);
void tf_doc_op_insert_borrow(tf_doc_op *op, const bson_t *key, const bson_t *document);
void tf_doc_op_delete_steal(tf_doc_op *op, bson_t *key);
void tf_doc_op_delete_borrow(tf_doc_op *op, const bson_t *key);

/* Destroys what the op owns and zeroes it. Safe on a zeroed op. */
void tf_doc_op_cleanup(tf_doc_op *op);

/* Encoded size of the op's BSON (what a batch's byte limit counts). */
size_t tf_doc_op_size(const tf_doc_op *op);

/* ======================================================================
 * 2. the writer
 * ====================================================================== */

/* How fan-out updates of array elements reach the server. Detected once in
 * tf_sink_open by running an updateMany with arrayFilters on a scratch
 * collection (FerretDB 1.x answers NotImplemented). */
typedef enum tf_fanout_mode {
    /* TF_DOC_OP_UPDATE_MANY is accepted and sent as updateMany+arrayFilters. */
    TF_FANOUT_ARRAY_FILTERS = 1,
    /* The server lacks arrayFilters: the caller recomputes each affected
     * document and sends TF_DOC_OP_REPLACE (or TF_DOC_OP_UPDATE of the whole
     * array); tf_sink_add refuses TF_DOC_OP_UPDATE_MANY. */
    TF_FANOUT_RECOMPUTE = 2,
} tf_fanout_mode;

typedef enum tf_fanout_choice {
    TF_FANOUT_DETECT = 0,          /* probe the server (default) */
    TF_FANOUT_FORCE_RECOMPUTE,     /* never use arrayFilters (tests, old servers) */
    TF_FANOUT_FORCE_ARRAY_FILTERS, /* skip the probe, trust the server */
} tf_fanout_choice;

typedef struct tf_sink_options {
    const char *uri;        /* mongodb://[user:pass@]host[:port]/[db][?opts] */
    const char *database;   /* NULL: the URI's database */
    const char *collection; /* the flow's target collection */
    const char *flow;       /* the flow name: checkpoint _id, state key */
    /* Root key fields (dotted paths) of the unique index created at open;
     * n_root_key_fields 0 creates no index. */
    const char *const *root_key_fields;
    size_t n_root_key_fields;
    /* The root key index without `unique`: for a collection sharded on
     * {_id: "hashed"}, where MongoDB refuses a unique index that does not
     * start with the shard key. Documents stay one per root key through
     * the _id derived from it (id_from_root_key). */
    bool root_key_index_plain;
    const char *checkpoint_collection; /* default "tapflow_checkpoints" */
    const char *state_collection;      /* default "tapflow_state" */

    /* Batching: ops are sent when either limit is reached (tf_sink_add), and
     * tf_sink_flush_due() turns true once the oldest pending op is older
     * than flush_interval_ms. */
    size_t max_batch_ops;      /* default 1000 */
    size_t max_batch_bytes;    /* default 8 MiB */
    int64_t flush_interval_ms; /* default 100 */

    /* Write concern: w NULL = server default, "majority" or a number;
     * journal -1 = server default, 0 or 1; wtimeout_ms 0 = none. w "0"
     * (unacknowledged) is refused: a checkpoint follows acknowledgements. */
    const char *w;
    int journal;
    int64_t wtimeout_ms;

    /* Retries of transient errors: attempts after the first, with a delay
     * of min(backoff_max_ms, backoff_initial_ms * 2^attempt). */
    unsigned max_retries;       /* default 6 */
    int64_t backoff_initial_ms; /* default 100 */
    int64_t backoff_max_ms;     /* default 5000 */

    int32_t server_selection_timeout_ms; /* default 5000 */
    tf_fanout_choice fanout;

    /* Connections documents are written over (default 1, at most
     * TF_SINK_MAX_CONNECTIONS). With more, a flush of at least
     * TF_SINK_SPLIT_MIN_OPS ops, each addressed by a derived _id, is split
     * by _id over the connections and written in parallel: a document's
     * ops stay in order on one connection, and the flush returns once every
     * connection acknowledged its part, so what follows (the next flush, a
     * checkpoint) still comes after it. Checkpoints and state use the
     * first connection. A target that serves each write statement by
     * itself (FerretDB: a query and a transaction per statement) is
     * otherwise idle between one connection's statements. */
    size_t connections;

    /* Measure the target's write costs at open (a few dozen writes on a
     * scratch collection; see tf_sink_write_costs). Default false. */
    bool probe_costs;

    /* Address documents through _id = tf_sink_derive_id(root key) (default
     * true; false sends the root key as the filter and lets the server pick
     * _id, for tests of that behaviour). See "Addressing by _id" below. */
    bool id_from_root_key;
} tf_sink_options;

#define TF_SINK_MAX_CONNECTIONS 16
#define TF_SINK_SPLIT_MIN_OPS 8

/* Fills defaults; the caller then sets uri, collection, flow, key fields. */
void tf_sink_options_init(tf_sink_options *opts);

/* Addressing by _id.
 *
 * The _id of a root key's document is the ObjectId made of the first 12
 * bytes of SHA-256 over the key's canonical BSON: the filter as view/ emits
 * it ({order_id: "X"}, the root primary key columns in key order), with
 * every int32 value written as an int64 (an INT column's values are int32,
 * a BIGINT's int64: widening keeps the _id when a column is widened, and a
 * 1 is a 1 whatever the column). Other types are hashed as they are. The
 * same key always gives the same _id, so REPLACE, UPDATE, DELETE and
 * INSERT address their document by {_id: X} alone: the one filter
 * FerretDB pushes down to its backend, and MongoDB answers from its _id
 * index.
 *
 * Collisions: two keys share an _id with probability about n^2 / 2^97 for
 * n documents (1e8 documents: 6e-14). A collision is not detected: the
 * filter is {_id} alone, so the replace of the second key overwrites the
 * first key's document. Naming the root key fields in the filter too
 * ({_id, order_id}) would turn that into a duplicate key error, but
 * FerretDB 1.24 pushes a filter down to its backend only when it is
 * exactly {_id: <ObjectId or string>}: that filter costs as much as the
 * root key alone (below), so the sink accepts the collision probability.
 *
 * Cost on FerretDB 1.24 (SQLite backend), tests/sink/sink_bench on the
 * shared 2-core machine (noisy, best of 2 where repeated), 1.4 KiB order
 * documents, ops/s:
 *                                   1,000 docs     50,000 docs
 *   replace upsert, derived _id         93             2.4
 *   update $set, derived _id            35             0.7
 *   delete, derived _id                 37             0.7
 *   replace upsert, root key             6.4           0.11
 *   update $set, root key                5.3           0.075
 *   delete, root key                     5.0           0.09
 *   replace upsert, {_id, order_id}      7.6           0.077
 *   insert (new key), either          2,000-4,700      500-1,500 (10 ops)
 *   plain bulk insert, no writer      5,000-6,300    7,300
 * The derived _id is 10-20x faster, yet still linear in the collection
 * size: FerretDB 1.24's SQLite backend never uses its _id index, not even
 * for {_id: X}: it pushes that filter down as
 * `_ferretdb_sjson->'$._id' = ?` while the index is on
 * `_ferretdb_sjson->"_id"`, an expression SQLite does not match (EXPLAIN
 * QUERY PLAN: SCAN), so every replace, update and delete parses every
 * stored document twice (the query, then the UPDATE/DELETE by _id); a
 * filter on other fields is decoded and matched in Go, slower still. A real MongoDB answers {_id: X} from its _id index. Inserts are
 * not affected: build initial collections with TF_DOC_OP_INSERT.
 *
 * Documents written by a tapflow that let the server choose _id (a random
 * ObjectId, same root key) cannot be addressed so: tf_sink_open samples the
 * collection and refuses it with a message (drop the collection, restart
 * with --resnapshot), and a write that meets one anyway fails on the unique
 * root key index with the same advice.
 */
/* The _id of root_key's document (above). False with err (TF_ERR_CONFIG)
 * for an empty key, a key naming _id, or malformed BSON. */
bool tf_sink_derive_id(const bson_t *root_key, bson_oid_t *out, tf_error *err);

typedef struct tf_sink tf_sink;

/* Connects (bounded by server_selection_timeout_ms), creates the unique
 * index on the root key fields, detects the fan-out mode. Returns NULL with
 * err filled (domain TF_ERR_TARGET or TF_ERR_CONFIG; the address in the
 * message is redacted). Strings in opts are copied. */
tf_sink *tf_sink_open(const tf_sink_options *opts, tf_error *err);
void tf_sink_destroy(tf_sink *sink);

tf_fanout_mode tf_sink_fanout_mode(const tf_sink *sink);
/* Connections documents are written over (tf_sink_options.connections). */
size_t tf_sink_connections(const tf_sink *sink);
/* Which of n connections a split flush writes the document with this _id
 * over (every op of one document goes over the same one). */
size_t tf_sink_connection_of(const bson_oid_t *id, size_t n);
/* Creates (if absent) a non-unique index `name` on the collection over
 * fields (dotted paths, ascending), e.g. the "order_items.seller_id" that a
 * TF_DOC_OP_UPDATE_MANY filters on: without it every fan-out update scans
 * the collection on MongoDB. Same name and keys again is a no-op. */
bool tf_sink_ensure_index(tf_sink *sink, const char *name, const char *const *fields, size_t n,
                          tf_error *err);
/* Whether the server stores Decimal128 (probed at open by inserting one
 * into a scratch collection). FerretDB 1.24 does not: it drops the
 * connection. When false, tf_sink_add refuses any op holding a Decimal128
 * (TF_ERR_UNSUPPORTED, naming the field) instead of sending it. */
bool tf_sink_supports_decimal128(const tf_sink *sink);
/* The target URI with any user:password@ replaced (for log lines). */
const char *tf_sink_redacted_uri(const tf_sink *sink);

/* Queues an op (taking over *op: stolen BSON is kept, borrowed BSON is
 * copied; *op is zeroed). When the batch reaches max_batch_ops or
 * max_batch_bytes it is written at once (without a checkpoint: ops are
 * idempotent). False with err on a refused op or a failed write. */
bool tf_sink_add(tf_sink *sink, tf_doc_op *op, tf_error *err);

/* True once pending ops exist and the oldest is flush_interval_ms old, or a
 * size limit is reached: the caller should commit at its next transaction
 * boundary. */
bool tf_sink_flush_due(const tf_sink *sink);
size_t tf_sink_pending_ops(const tf_sink *sink);

/* Sends the pending ops as one ordered bulk write (retrying transient
 * errors with backoff), nothing else. After a failure that is not transient
 * (or retries exhausted) the ops stay pending and the flow must stop:
 * report err and tf_sink_destroy; the checkpoint is still the previous one. */
bool tf_sink_flush(tf_sink *sink, tf_error *err);

typedef struct tf_checkpoint tf_checkpoint;

/* The transaction-boundary commit: flush the pending ops; once they are
 * acknowledged write the staged state chunks (section 4), then the
 * checkpoint. On any failure nothing after the failing step is written, so
 * the stored checkpoint never runs ahead of the documents. cp NULL: flush
 * only. */
bool tf_sink_commit(tf_sink *sink, const tf_checkpoint *cp, tf_error *err);

/* Upper bounds (seconds) of the buckets the write latencies are counted
 * in, the Prometheus way (a last, implicit bucket takes the rest). */
#define TF_SINK_LATENCY_BUCKETS 14
extern const double tf_sink_latency_bounds[TF_SINK_LATENCY_BUCKETS];

/* Durations counted in tf_sink_latency_bounds' buckets: count[i] holds
 * those above bound i-1 and at most bound i, count[TF_SINK_LATENCY_BUCKETS]
 * those above the last bound (not cumulative). */
typedef struct tf_latency_histogram {
    uint64_t count[TF_SINK_LATENCY_BUCKETS + 1];
    uint64_t total;
    double sum_seconds;
} tf_latency_histogram;

void tf_latency_histogram_add(tf_latency_histogram *h, double seconds);

/* What the target's writes cost, in milliseconds: each shape's base and
 * its slope per KB of the document, probed at open when
 * tf_sink_options.probe_costs is set and again every
 * TF_SINK_COST_REPROBE_MS (cost.c: a few dozen writes on a scratch
 * collection, at two document sizes); between probes every flush of 16
 * ops or more moves them all by the factor its time measured against
 * them. update_many_* are 0 on a target without arrayFilters; measured
 * false: not probed, or the probe failed. */
typedef struct tf_sink_write_costs {
    bool measured;
    double insert_ms, insert_per_kb_ms;
    double replace_ms, replace_per_kb_ms;
    double update_ms, update_per_kb_ms; /* per KB of the document updated */
    double update_many_ms;              /* one updateMany, before the documents it changes */
    double update_many_doc_ms;          /* each document it changes */
    double doc_kb;                      /* a typical document (of those written whole) */
    uint64_t probes;                    /* probes that measured them */
    uint64_t refinements;               /* flushes that moved them */
} tf_sink_write_costs;

#define TF_SINK_COST_REPROBE_MS (10 * 60 * 1000)

typedef struct tf_sink_stats {
    uint64_t ops_written;   /* ops acknowledged by the server */
    uint64_t batches;       /* bulk writes acknowledged */
    uint64_t retries;       /* transient failures retried */
    uint64_t checkpoints;   /* checkpoints written by this sink */
    uint64_t split_batches; /* batches written over several connections */
    /* ops_written by what they did: an upsert (a replace or update of a
     * document addressed by key) that created its document is an insert;
     * an updateMany counts once */
    uint64_t inserted, updated, deleted;
    /* each bulk write (tf_sink_flush, retries and all) from its start to
     * the last acknowledgment */
    tf_latency_histogram write_latency;
    tf_sink_write_costs costs;
} tf_sink_stats;

void tf_sink_get_stats(const tf_sink *sink, tf_sink_stats *out);

/* The tapflow version written with checkpoints ("0.1.0-dev"). */
const char *tf_tapflow_version(void);

/* ======================================================================
 * 3. checkpoints
 * ====================================================================== */

/* One document per flow in the checkpoint collection:
 *   { _id: flow, gtid, flavour, server_uuid, server_id, binlog_file,
 *     binlog_position, spec_hash, counts: {rows, transactions, documents},
 *     seq, created: Date, updated: Date, tapflow_version }
 * Strings are borrowed by tf_sink_commit; tf_sink_checkpoint_read fills
 * owned copies that tf_checkpoint_cleanup frees. */
struct tf_checkpoint {
    const char *gtid;        /* MariaDB "0-1-42,1-2-7" or MySQL GTID set text */
    const char *flavour;     /* "mariadb" or "mysql" */
    const char *server_uuid; /* MySQL server_uuid; NULL when none */
    uint32_t server_id;
    const char *binlog_file;
    uint64_t binlog_position;
    const char *spec_hash; /* hash of the flow spec that wrote the documents */
    uint64_t rows;         /* source row changes applied (total) */
    uint64_t transactions; /* source transactions applied (total) */
    /* Filled by the sink: documents = ops acknowledged in total (across
     * restarts), seq = checkpoints written for this flow, the timestamps in
     * ms since the epoch, version = tapflow version that wrote it. */
    uint64_t documents;
    int64_t seq;
    int64_t created_ms;
    int64_t updated_ms;
    const char *version;
};

/* Reads the flow's checkpoint. *found false (and true returned) when none
 * exists. */
bool tf_sink_checkpoint_read(tf_sink *sink, tf_checkpoint *out, bool *found, tf_error *err);
void tf_checkpoint_cleanup(tf_checkpoint *cp);

/* ======================================================================
 * 4. view state chunks
 * ====================================================================== */

/* Named binary chunks persisted with the checkpoint, in the state
 * collection under a string _id of flow, slot and chunk.
 * tf_sink_state_put stages a copy; tf_sink_commit writes the staged chunks
 * after the ops and before the checkpoint, into slot (seq % 2) where seq is
 * the checkpoint about to be written. The previous checkpoint's slot stays intact, so a crash
 * between the chunks and the checkpoint leaves a consistent pair.
 * A chunk must be under TF_STATE_CHUNK_MAX bytes (split larger state). */
#define TF_STATE_CHUNK_MAX ((size_t)16 * 1024 * 1024 - 64 * 1024)

bool tf_sink_state_put(tf_sink *sink, const char *chunk, const uint8_t *data, size_t len,
                       tf_error *err);
/* Reads the chunk that belongs to the stored checkpoint. *found false when
 * there is no checkpoint or the chunk was not written with it. *data is
 * malloc'ed (free()). */
bool tf_sink_state_get(tf_sink *sink, const char *chunk, uint8_t **data, size_t *len, bool *found,
                       tf_error *err);
/* Removes every chunk of the flow (resnapshot). */
bool tf_sink_state_drop(tf_sink *sink, tf_error *err);

/* Generation chunks: the bulk of a flow's state, written at once (not
 * staged) under a string _id naming flow, generation and chunk (the one
 * filter FerretDB does not answer by reading every chunk), upserted, and
 * read by name. They
 * are not tied to a checkpoint: the caller writes only names that the
 * stored checkpoint does not use (a new generation, a delta number past
 * the stored one), lists in a slotted chunk (tf_sink_state_put) what
 * belongs to the checkpoint, and so stays exact through a crash at any
 * point. Same size limit as above. */
bool tf_sink_state_write(tf_sink *sink, int64_t generation, const char *chunk, const uint8_t *data,
                         size_t len, tf_error *err);
/* *found false when the chunk does not exist; *data is malloc'ed (free()). */
bool tf_sink_state_read(tf_sink *sink, int64_t generation, const char *chunk, uint8_t **data,
                        size_t *len, bool *found, tf_error *err);
/* Calls fn for every chunk of a generation, in no particular order, from
 * one query (on FerretDB, one read of the state collection instead of one
 * per chunk); data is valid during the call. Stops at fn's first false. */
typedef bool (*tf_sink_state_chunk_fn)(const char *chunk, const uint8_t *data, size_t len,
                                       void *arg, tf_error *err);
bool tf_sink_state_read_all(tf_sink *sink, int64_t generation, tf_sink_state_chunk_fn fn, void *arg,
                            tf_error *err);
/* Removes one generation chunk (none is fine): addressed by _id alone. */
bool tf_sink_state_remove(tf_sink *sink, int64_t generation, const char *chunk, tf_error *err);

/* Whether the target collection holds any document. */
bool tf_sink_documents_exist(tf_sink *sink, bool *exist, tf_error *err);
/* Forgets everything the flow wrote, before an initial snapshot rebuilds
 * it: the checkpoint first (a crash midway then leaves no checkpoint to
 * resume from), then every state chunk, then the target collection
 * (dropped, with its indexes: reopen the sink to create the unique index
 * again). The next commit writes checkpoint seq 1. */
bool tf_sink_reset(tf_sink *sink, tf_error *err);

/* ======================================================================
 * 5. small pure helpers
 * ====================================================================== */

/* Copies uri into out with "user:password@" (or "user@") replaced by
 * "***@". Always NUL-terminates (truncates to cap-1). */
void tf_sink_redact_uri(const char *uri, char *out, size_t cap);

/* Delay before retry number `attempt` (0 = first retry):
 * min(max_ms, initial_ms * 2^attempt). */
int64_t tf_sink_backoff_ms(unsigned attempt, int64_t initial_ms, int64_t max_ms);

/* Whether a failed command may succeed when repeated: network errors,
 * server selection, NotWritablePrimary and the other "not primary" /
 * shutdown / interrupted codes, write-concern timeouts, and any reply
 * labelled RetryableWriteError. Never duplicate key (11000), document
 * validation (121), NotImplemented or bad values. reply may be NULL. */
bool tf_sink_error_is_transient(const bson_error_t *error, const bson_t *reply);

/* ======================================================================
 * 6. administration (admin.c): what a shell asks a MongoDB server
 * ====================================================================== */

/* Blocking calls on a client of its own (no writer, no probes), for tools
 * that look at a target and keep the flow registry: one document per saved
 * flow in TF_FLOWS_COLLECTION of a database the tool chooses,
 *   {_id: name, text: <the flow in the Tap Shell language>, spec_hash,
 *    created: Date, updated: Date}.
 * Errors are TF_ERR_TARGET (TF_ERR_CONFIG for a bad URI) and name the
 * server by its redacted address. */
#define TF_FLOWS_COLLECTION "tapflow_flows"

typedef struct tf_admin tf_admin;

/* Does not connect yet (the first call does, within the timeout; 0 = 5 s). */
tf_admin *tf_admin_open(const char *uri, int32_t server_selection_timeout_ms, tf_error *err);
void tf_admin_destroy(tf_admin *admin);
const char *tf_admin_redacted_uri(const tf_admin *admin);

/* Drops the driver's own log lines below errors (process-wide; for a
 * shell, where FerretDB's missing endSessions would warn at every client's
 * end). */
void tf_admin_quiet_driver_log(void);

/* Reaches the server; version gets "7.0.12" or "7.0.42 (FerretDB v1.24.2)". */
bool tf_admin_ping(tf_admin *admin, char *version, size_t cap, tf_error *err);
bool tf_admin_count(tf_admin *admin, const char *db, const char *collection, int64_t *out,
                    tf_error *err);

/* The whole collection's count from the server's count command without a
 * filter (estimatedDocumentCount): what MongoDB keeps in its metadata, and
 * what FerretDB answers without reading every document (a count with a
 * filter, tf_admin_count, reads them all there). */
bool tf_admin_count_all(tf_admin *admin, const char *db, const char *collection, int64_t *out,
                        tf_error *err);

/* "double", "string", "object", "array", "binary", "objectId", "bool",
 * "date", "null", "int", "long", "decimal", "timestamp", else "other": the
 * names a person reading a document knows the types by. */
const char *tf_bson_type_name(bson_type_t type);

/* Return false to stop early (not an error). */
typedef bool (*tf_admin_doc_fn)(const bson_t *doc, void *arg);
/* Documents matching filter (NULL = all), at most limit (0 = no limit), in
 * the server's natural order. */
bool tf_admin_find(tf_admin *admin, const char *db, const char *collection, const bson_t *filter,
                   int64_t limit, tf_admin_doc_fn fn, void *arg, tf_error *err);

typedef bool (*tf_admin_name_fn)(const char *name, void *arg);
/* The database's collection names, sorted. */
bool tf_admin_list_collections(tf_admin *admin, const char *db, tf_admin_name_fn fn, void *arg,
                               tf_error *err);

typedef struct tf_flow_record {
    char *name;
    char *text;
    char *spec_hash; /* NULL when the document has none */
    int64_t created_ms, updated_ms;
} tf_flow_record;

void tf_flow_record_cleanup(tf_flow_record *rec);
/* Creates or replaces the flow's document (created kept on replace);
 * *created (may be NULL) says whether it is new. */
bool tf_admin_flow_put(tf_admin *admin, const char *db, const char *name, const char *text,
                       const char *spec_hash, bool *created, tf_error *err);
/* *found false (and true returned) when no flow has that name. */
bool tf_admin_flow_get(tf_admin *admin, const char *db, const char *name, tf_flow_record *out,
                       bool *found, tf_error *err);
/* Every saved flow (documents without name or text are skipped); the
 * record is valid during the call. */
typedef bool (*tf_admin_flow_fn)(const tf_flow_record *rec, void *arg);
bool tf_admin_flow_list(tf_admin *admin, const char *db, tf_admin_flow_fn fn, void *arg,
                        tf_error *err);

#ifdef __cplusplus
}
#endif

#endif
