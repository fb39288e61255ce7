/* replica.h — what the replica layer offers.
 *
 * A live MySQL / MariaDB replica on one libevent event_base: it connects
 * (TCP or Unix socket, optional TLS), authenticates, does the session set-up
 * real replicas do, registers (COM_REGISTER_SLAVE: visible in SHOW SLAVE
 * HOSTS), asks for the binlog (MariaDB: @slave_connect_state + COM_BINLOG_DUMP;
 * MySQL: COM_BINLOG_DUMP_GTID; or file + position) and hands every COMPLETE
 * transaction, in commit order, to a callback: its GTID, commit timestamp,
 * events and decoded row changes.
 *
 * It survives what happens to connections: heartbeats detect a dead one
 * within 3 heartbeat periods; cuts, server restarts, KILL, binlog rotation
 * are followed by reconnection with exponential backoff and jitter that
 * resumes after the last complete transaction. A partial transaction is
 * discarded, never delivered; a transaction already delivered is never
 * delivered twice. A position the server no longer has is a fatal error
 * naming the missing GTIDs.
 *
 * Nothing blocks: DNS goes through evdns, sockets through bufferevents
 * (OpenSSL bufferevents for TLS). Callbacks run on the event_base's thread.
 */
#ifndef TAPFLOW_REPLICA_H
#define TAPFLOW_REPLICA_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/* ---- options ------------------------------------------------------------ */

typedef enum tf_tls_mode {
    TF_TLS_DISABLED = 0,   /* never: plain connection */
    TF_TLS_PREFERRED,      /* TLS when the server offers it, no verification */
    TF_TLS_REQUIRED,       /* TLS or fail; the certificate is not verified */
    TF_TLS_VERIFY_CA,      /* TLS, certificate signed by a trusted CA */
    TF_TLS_VERIFY_IDENTITY /* VERIFY_CA and the certificate names the host */
} tf_tls_mode;

/* "disabled", "preferred", "required", "verify-ca", "verify-identity"
 * (also MySQL's upper-case spellings); false for anything else. */
bool tf_tls_mode_parse(const char *text, tf_tls_mode *out);
const char *tf_tls_mode_name(tf_tls_mode mode);

/* How to reach and log in to the server. Strings are borrowed and must
 * outlive the replica (the password is never copied, printed or logged). */
typedef struct tf_conn_options {
    const char *host;        /* name or address; ignored with socket_path */
    uint16_t port;           /* 0 = 3306 */
    const char *socket_path; /* Unix socket instead of TCP */
    const char *user;
    const char *password; /* NULL = empty */
    tf_tls_mode tls_mode;
    const char *tls_ca_file;            /* PEM bundle for verify-ca / verify-identity;
                                NULL = OpenSSL's default paths */
    const char *tls_cert_file;          /* optional client certificate ... */
    const char *tls_key_file;           /* ... and its key */
    const char *server_public_key_file; /* PEM: caching_sha2 / sha256 full
                                           auth without TLS (else the key is
                                           asked for) */
    double connect_timeout;             /* seconds for connect + handshake + set-up;
                                0 = 10 */
} tf_conn_options;

/* Where the stream starts. */
typedef enum tf_replica_start_mode {
    TF_REPLICA_START_NOW = 0, /* the server's current position: GTIDs when
                                 the server has them (MariaDB always;
                                 MySQL with gtid_mode=ON), else SHOW MASTER
                                 STATUS's file and position */
    TF_REPLICA_START_GTID,    /* after the transactions of `gtid`: a MariaDB
                                 position "0-1-100,1-2-5" or a MySQL GTID set
                                 "uuid:1-100" (the set already applied) */
    TF_REPLICA_START_FILE,    /* `file` at `position` (4 = start of file) */
} tf_replica_start_mode;

typedef struct tf_replica tf_replica;

/* One event of the stream. Everything in `event` borrows memory the replica
 * owns until the callback that received it returns. */
typedef struct tf_replica_event {
    tf_event event;
    const tf_format *format;   /* to decode it with (inner events: no CRC) */
    const char *log_file;      /* source binlog the event is in */
    uint64_t pos;              /* its offset there (0 when the server sent
                                log_pos 0: artificial events) */
    uint64_t next_pos;         /* offset after it (its log_pos) */
    bool inner;                /* inside a MySQL TRANSACTION_PAYLOAD; pos and
                                next_pos are the payload event's */
    size_t inner_offset;       /* offset in the uncompressed payload */
    const tf_table_map *table; /* TABLE_MAP and rows events: the table map
                                  in effect (owned by the transaction) */
} tf_replica_event;

#define TF_REPLICA_GTID_TEXT_MAX 96

/* A complete transaction (GTID ... XID / COMMIT, or GTID + one DDL). */
typedef struct tf_replica_txn {
    tf_flavour flavour;
    bool has_gtid;                       /* false: anonymous (MySQL gtid_mode=OFF) */
    char gtid[TF_REPLICA_GTID_TEXT_MAX]; /* "0-1-42" or "uuid:42"; "" */
    tf_mariadb_gtid mariadb_gtid;        /* MariaDB */
    tf_gtid mysql_gtid;                  /* MySQL */
    int64_t commit_timestamp_us;         /* MySQL: immediate_commit_timestamp;
                                    MariaDB: the XID/COMMIT event's time
                                    (second precision) */
    const char *log_file;                /* binlog of the transaction's first event */
    uint64_t start_pos;                  /* offset of its first event there */
    uint64_t end_pos;                    /* offset after its last event */
    bool is_ddl;                         /* a single statement without BEGIN */
    /* Every event of the transaction in binlog order; the events inside a
     * TRANSACTION_PAYLOAD follow the payload event itself (inner=true). */
    const tf_replica_event *events;
    size_t event_count;
} tf_replica_txn;

/* Decoded row changes of a transaction, one at a time. Values borrow from
 * the transaction's events and from the iterator: valid until the next
 * call. */
typedef struct tf_replica_row {
    const tf_table_map *table;
    tf_rows_kind kind;            /* WRITE (insert), UPDATE, DELETE, PARTIAL_UPDATE */
    const tf_value *before;       /* table->column_count values; NULL for WRITE */
    const tf_value *after;        /* NULL for DELETE */
    bool before_full, after_full; /* false: binlog_row_image MINIMAL/NOBLOB */
    const tf_replica_event *event;
    uint64_t row_index; /* within its rows event */
} tf_replica_row;

typedef struct tf_replica_rows {
    const tf_replica_txn *txn;
    size_t next_event;
    bool in_event;
    tf_rows_cursor cursor;
    const tf_replica_event *event;
    tf_value *before, *after;
    size_t capacity;
} tf_replica_rows;

void tf_replica_rows_init(tf_replica_rows *it, const tf_replica_txn *txn);
/* TF_OK with *row filled, or TF_OK with *done = true at the end, or
 * TF_MALFORMED with err (value that does not decode). */
tf_status tf_replica_rows_next(tf_replica_rows *it, tf_replica_row *row, bool *done, tf_error *err);
void tf_replica_rows_cleanup(tf_replica_rows *it);

/* What the callbacks are told. */
typedef struct tf_replica_callbacks {
    /* A complete transaction. Return false (with err filled) to stop the
     * replica: on_stop is then called with that error. Required. */
    bool (*on_transaction)(tf_replica *r, const tf_replica_txn *txn, void *arg, tf_error *err);
    /* Events outside transactions, as they come: the server's ROTATE and
     * FORMAT_DESCRIPTION (again after each reconnection), GTID_LIST,
     * BINLOG_CHECKPOINT, PREVIOUS_GTIDS, STOP, HEARTBEAT. Optional. */
    void (*on_event)(tf_replica *r, const tf_replica_event *ev, void *arg);
    /* Things an operator wants in the log: "connected to ...", "connection
     * lost: ...; reconnecting in 0.8 s", "discarded a partial transaction".
     * Optional. */
    void (*on_log)(tf_replica *r, const char *message, void *arg);
    /* Called exactly once when the replica stops: err NULL after
     * tf_replica_stop or the end of the binlog (stop_at_end), else the fatal
     * error (wrong password, purged position, TLS refused, ...). The
     * replica may be destroyed from here. Optional. */
    void (*on_stop)(tf_replica *r, const tf_error *err, void *arg);
} tf_replica_callbacks;

typedef struct tf_replica_options {
    tf_conn_options conn;
    uint32_t server_id;      /* ours; must differ from the source's and
                                 from every other replica's. 0 = 0x7461 ('ta') */
    const char *report_host; /* SHOW SLAVE HOSTS' Host; NULL = "" */
    uint16_t report_port;
    tf_replica_start_mode start;
    const char *gtid;           /* TF_REPLICA_START_GTID */
    const char *file;           /* TF_REPLICA_START_FILE */
    uint64_t position;          /* TF_REPLICA_START_FILE; 0 = 4 */
    double heartbeat_period;    /* seconds; 0 = 5. Silence for 3 periods =
                                 dead connection */
    double reconnect_min_delay; /* seconds; 0 = 0.1 */
    double reconnect_max_delay; /* seconds; 0 = 30 */
    bool retry_first_connect;   /* false: failing to reach the server the
                                 first time is fatal (a CLI wants to know);
                                 true: retried like any later failure */
    bool stop_at_end;           /* stop when the server has sent all it has
                                 (BINLOG_DUMP_NON_BLOCK) instead of waiting */
    bool send_annotate_rows;    /* MariaDB: ask for ANNOTATE_ROWS (the SQL) */
    tf_replica_callbacks cb;
    void *arg;
} tf_replica_options;

/* Creates a replica on base (options copied; their strings borrowed).
 * NULL with err on a bad option (TF_ERR_CONFIG). */
tf_replica *tf_replica_new(struct event_base *base, const tf_replica_options *opt, tf_error *err);
/* Starts connecting; the rest happens in base's loop. */
bool tf_replica_start(tf_replica *r, tf_error *err);
/* Clean stop: closes the connection, cancels timers, calls on_stop(NULL)
 * (unless already stopped). A partial transaction is dropped. */
void tf_replica_stop(tf_replica *r);
/* Frees everything; stops first if running. Not from inside a callback
 * other than on_stop. */
void tf_replica_destroy(tf_replica *r);

/* Where a restart should resume (after the last transaction delivered):
 * GTID text (MariaDB position / MySQL set) when streaming by GTID, else
 * "file:position". snprintf-style. */
size_t tf_replica_position(const tf_replica *r, char *buf, size_t cap);

/* What the server said about itself during the last set-up. */
typedef struct tf_replica_server_info {
    tf_flavour flavour;
    char version[TF_HANDSHAKE_NAME_MAX]; /* "10.11.19-MariaDB-0+deb12u1-log" */
    uint32_t server_id;
    char server_uuid[TF_GTID_UUID_TEXT_LEN + 1]; /* MySQL; "" for MariaDB */
    bool gtid_mode;                              /* MariaDB: true; MySQL: gtid_mode=ON */
    tf_checksum_alg checksum;
    bool tls; /* the connection is encrypted */
    uint32_t connection_id;
} tf_replica_server_info;

const tf_replica_server_info *tf_replica_server(const tf_replica *r);

typedef struct tf_replica_stats {
    uint64_t connects;     /* successful dumps started */
    uint64_t reconnects;   /* connection losses recovered from */
    uint64_t transactions; /* delivered */
    uint64_t events;       /* received (heartbeats excluded) */
    uint64_t heartbeats;
    uint64_t bytes;              /* event bytes received */
    uint64_t partial_discarded;  /* partial transactions dropped on a loss */
    uint64_t duplicates_skipped; /* transactions the server resent */
} tf_replica_stats;

const tf_replica_stats *tf_replica_get_stats(const tf_replica *r);

/* ---- snapshot (replica/snapshot.c) ----------------------------------------
 *
 * The initial load: reads a set of tables in primary-key order, in chunks
 * (keyset pagination: WHERE key > last key ORDER BY key LIMIT chunk_rows),
 * on its own connection, inside one transaction whose binlog position is
 * known exactly. Starting tf_replica from that position (see
 * tf_snapshot_replica_start) continues with the first transaction the
 * snapshot does not contain: nothing is lost, nothing is applied twice.
 *
 *   MariaDB  START TRANSACTION WITH CONSISTENT SNAPSHOT (REPEATABLE READ),
 *            then the status variables binlog_snapshot_file/_position,
 *            which the server keeps consistent with the snapshot without
 *            any lock; BINLOG_GTID_POS(file, pos) turns them into a GTID
 *            position.
 *   MySQL    FLUSH TABLES WITH READ LOCK, START TRANSACTION WITH
 *            CONSISTENT SNAPSHOT, SHOW MASTER STATUS (SHOW BINARY LOG
 *            STATUS from 8.2) for file, position and Executed_Gtid_Set,
 *            UNLOCK TABLES: writes are blocked only for those statements.
 *
 * Rows are handed over one at a time as they come off the socket: a table
 * is never held in memory, not even a chunk. Each row's values are the
 * tf_value a rows event of the same row decodes to, with columns described
 * as TABLE_MAP (binlog_row_metadata=FULL) describes them, so
 * tf_value_append_bson gives the same BSON from either path. Tables without
 * a primary key, or on a non-transactional engine, are refused with an
 * error naming them.
 *
 * The same reader re-syncs one table while the stream runs: a tf_snapshot
 * per chunk, each starting after the key the previous one ended on
 * (start_after, max_rows, tf_snapshot_exhausted), or one for a set of keys
 * (key_rows), without a transaction or a position when the caller has its
 * own (no_position). */

typedef struct tf_snapshot tf_snapshot;

typedef struct tf_snapshot_table {
    const char *schema;
    const char *name;
    size_t column_count;
    const tf_column *columns; /* as TABLE_MAP describes them (names, types,
                                  meta, charsets, ENUM/SET members, key) */
    size_t key_count;
    const size_t *key_columns; /* primary key, in key order */
    uint64_t rows;             /* rows delivered so far */
} tf_snapshot_table;

/* Where the snapshot sits in the binlog. Strings owned by the snapshot. */
typedef struct tf_snapshot_position {
    tf_flavour flavour;
    const char *gtid; /* MariaDB: GTID position "0-1-100,1-2-5" ("" when
                         the server never logged a GTID); MySQL with
                         gtid_mode=ON: gtid_executed "uuid:1-100,...";
                         NULL without GTIDs */
    const char *file; /* binlog file and offset of the same point */
    uint64_t pos;     /* (no_position: gtid and file NULL, pos 0) */
} tf_snapshot_position;

typedef struct tf_snapshot_callbacks {
    /* The position is known; called once, after the tables' columns and
     * keys are and before the first row. Optional. */
    void (*on_position)(tf_snapshot *s, const tf_snapshot_position *pos, void *arg);
    /* One row; values (table->column_count) borrow memory valid during the
     * call. Return false with err filled to stop (on_done gets err).
     * Required. */
    bool (*on_row)(tf_snapshot *s, const tf_snapshot_table *table, const tf_value *values,
                   void *arg, tf_error *err);
    /* A table was read whole (all of key_rows in key mode); not called
     * when max_rows ended the read first. Optional. */
    void (*on_table_done)(tf_snapshot *s, const tf_snapshot_table *table, void *arg);
    /* Called once at the end: err NULL when every table was read, else why
     * not. The snapshot may be destroyed from here. Required. */
    void (*on_done)(tf_snapshot *s, const tf_error *err, void *arg);
} tf_snapshot_callbacks;

typedef struct tf_snapshot_options {
    tf_conn_options conn;
    const char *const *tables; /* "db.table" (backquotes allowed:
                                  "`my.db`.`t`"); copied */
    size_t table_count;
    size_t chunk_rows; /* rows per SELECT (keys per SELECT in key mode);
                          0 = 1000 */
    /* Re-sync reads. start_after, max_rows and key_rows need table_count
     * 1 (TF_ERR_CONFIG otherwise). Keys are the table's primary-key
     * columns' values in key order, as on_row delivered them (or a rows
     * event decoded them): each becomes a literal that compares in its
     * column's type and collation (tf_value_sql_literal), so "after" means
     * after in the server's ORDER BY of the key. A key with another number
     * of values, or a value of another kind than its column's, fails the
     * snapshot with TF_ERR_CONFIG (on_done) once the key is known. */
    const tf_value *start_after; /* only rows whose key sorts after this one;
                                    copied (with the bytes it points to) */
    size_t start_after_count;    /* = the key's column count */
    uint64_t max_rows;           /* read at most this many rows, then finish
                                    (0 = all); see tf_snapshot_exhausted */
    const tf_value *key_rows;    /* key mode: only the rows whose key is one
                                    of key_row_count keys (key-count values
                                    each, concatenated), chunk_rows keys per
                                    SELECT ... WHERE (k1, k2) IN (..); each
                                    chunk's rows in key order (the whole
                                    read's when the keys are sorted); keys
                                    that match nothing give no row, a key
                                    given twice in two chunks its row twice.
                                    Borrowed: valid until on_done. Not with
                                    start_after or max_rows (TF_ERR_CONFIG) */
    size_t key_row_count;
    bool no_position; /* no consistent-snapshot transaction and no position
                         (MySQL: no FLUSH TABLES WITH READ LOCK; binary
                         logging may be off): each SELECT is consistent by
                         itself. on_position is still called, with gtid
                         and file NULL and pos 0 */
    tf_snapshot_callbacks cb;
    void *arg;
} tf_snapshot_options;

/* NULL with err on a bad option (TF_ERR_CONFIG). Strings in conn are
 * borrowed and must outlive the snapshot. */
tf_snapshot *tf_snapshot_new(struct event_base *base, const tf_snapshot_options *opt,
                             tf_error *err);
/* Connects and reads; everything else happens in base's loop. */
bool tf_snapshot_start(tf_snapshot *s, tf_error *err);
/* Closes the connection (the server rolls the read-only transaction back)
 * and frees everything; on_done is not called. Not from on_row. */
void tf_snapshot_destroy(tf_snapshot *s);
/* NULL until on_position. */
const tf_snapshot_position *tf_snapshot_get_position(const tf_snapshot *s);
/* After on_done without error: true when the table has no row after the
 * last one delivered (max_rows did not cut the read: the last chunk asks
 * for one row more to know, and does not deliver it); always true in key
 * mode and without max_rows. */
bool tf_snapshot_exhausted(const tf_snapshot *s);
/* The tables being read, columns and keys known (valid from on_position
 * until the snapshot is destroyed): a consumer that needs every table
 * defined before the first row (a view joining them) reads them here. */
size_t tf_snapshot_table_count(const tf_snapshot *s);
const tf_snapshot_table *tf_snapshot_get_table(const tf_snapshot *s, size_t index);
/* Sets opt->start and opt->gtid / file / position so that a tf_replica
 * continues exactly after pos (the strings stay pos's: keep the snapshot
 * alive, or copy them). */
void tf_snapshot_replica_start(const tf_snapshot_position *pos, tf_replica_options *opt);

/* ---- one blocking statement (replica/query_sync.c) ------------------------
 *
 * For tools that look at a source instead of following it (a shell's SHOW
 * TABLES, COUNT(*), a few rows): connects with conn (same transport, TLS
 * and auth as the replica), runs one statement, streams the rows of its
 * text resultset to a callback and closes, on an event_base of its own.
 * Nothing is collected. */

typedef struct tf_sync_column {
    char *name;       /* the column's name (alias) */
    uint8_t type;     /* tf_column_type */
    uint16_t flags;   /* TF_COLUMN_* */
    uint16_t charset; /* collation id; 63 = binary */
    uint8_t decimals;
} tf_sync_column;

/* One row: values[i] borrows the text of column i (NULL ptr and nulls[i]
 * for SQL NULL), valid during the call. Return false with err filled to
 * stop (tf_sync_query then fails with that err). */
typedef bool (*tf_sync_row_fn)(void *arg, const tf_sync_column *columns, size_t column_count,
                               const tf_str *values, const bool *nulls, tf_error *err);

/* timeout: seconds for the answer after connecting (0 = 60); connecting is
 * bounded by conn->connect_timeout. server_version (may be NULL) gets the
 * handshake's version. fn may be NULL (statements without rows). Errors:
 * the server's (TF_ERR_SERVER with its code), or the connection's. */
bool tf_sync_query(const tf_conn_options *conn, const char *sql, double timeout, tf_sync_row_fn fn,
                   void *arg, char *server_version, size_t version_cap, tf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TAPFLOW_REPLICA_H */
