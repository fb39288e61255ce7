/* replica_internal.h — what the files of replica/ share. No other folder
 * includes it.
 *
 *   connection.c  socket / TLS / handshake / auth, packet framing: tf_conn
 *   query.c       COM_QUERY and its text resultset: tf_query
 *   session.c     the set-up queries, COM_REGISTER_SLAVE, the dump command
 *   stream.c      binlog packets -> events -> transactions -> callback
 *   reconnect.c   lifecycle: start, watchdog, backoff, reconnection, stop
 */
#ifndef TAPFLOW_REPLICA_INTERNAL_H
#define TAPFLOW_REPLICA_INTERNAL_H

#include "replica.h"

#include <event2/event.h>
#include <openssl/ssl.h>

/* Bytes one read of the socket may take (see tf_conn_start). */
#define TF_CONN_MAX_SINGLE_READ (1u << 20)

struct evdns_base;

/* ---- connection.c --------------------------------------------------------- */

typedef struct tf_conn tf_conn;

typedef struct tf_conn_handlers {
    /* Authenticated: commands may be sent. */
    void (*on_ready)(tf_conn *c, void *arg);
    /* One logical packet of a response (after on_ready). payload is valid
     * during the call only. */
    void (*on_packet)(tf_conn *c, const uint8_t *payload, size_t len, void *arg);
    /* The connection failed or closed; fatal says that retrying cannot help
     * (authentication refused, TLS required but refused or not trusted).
     * Destroy the connection (from here is fine). */
    void (*on_error)(tf_conn *c, const tf_error *err, bool fatal, void *arg);
} tf_conn_handlers;

/* ssl_ctx (NULL with tls_mode disabled), pem (the server's RSA public key,
 * may be NULL) and opt are borrowed. */
tf_conn *tf_conn_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *ssl_ctx,
                     const uint8_t *pem, size_t pem_len, const tf_conn_options *opt,
                     const tf_conn_handlers *h, void *arg);
/* Starts connecting; errors come through on_error. */
void tf_conn_start(tf_conn *c);
/* Safe from inside the connection's own callbacks. */
void tf_conn_destroy(tf_conn *c);
/* Sends one command (payload = command byte + body) with sequence id 0;
 * the response's packets are then expected from the sequence the framing
 * leaves. false (err) if out of memory. */
bool tf_conn_send_command(tf_conn *c, const uint8_t *payload, size_t len, tf_error *err);
const tf_handshake *tf_conn_handshake(const tf_conn *c);
uint64_t tf_conn_capabilities(const tf_conn *c);
bool tf_conn_is_tls(const tf_conn *c);
/* Monotonic seconds of the last bytes received. */
double tf_conn_last_receive(const tf_conn *c);
/* Where it connects to, for messages: "127.0.0.1:33061" or the socket. */
const char *tf_conn_peer(const tf_conn *c);

/* Monotonic clock in seconds. */
double tf_now(void);

/* OpenSSL client context for o's TLS mode (CA file, client certificate);
 * NULL with err (TF_ERR_CONFIG) when a file does not load. */
SSL_CTX *tf_conn_ssl_ctx_new(const tf_conn_options *o, tf_error *err);
/* Reads the server public key file for caching_sha2 / sha256 full auth. */
bool tf_conn_read_pem(const char *path, uint8_t **out, size_t *len, tf_error *err);

/* ---- dialer.c ---------------------------------------------------------------- */

/* What every connection to one server shares (see dialer.c). */
typedef struct tf_conn_dialer {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl_ctx; /* NULL with TLS disabled */
    uint8_t *pem;     /* the server's public key file, when given */
    size_t pem_len;
} tf_conn_dialer;

/* false with err when a TLS file or the key file does not load. */
bool tf_conn_dialer_init(tf_conn_dialer *d, struct event_base *base, const tf_conn_options *o,
                         tf_error *err);
/* Safe on a zeroed or cleaned-up dialer. */
void tf_conn_dialer_cleanup(tf_conn_dialer *d);
/* A connection with d's resolver, TLS context and key (tf_conn_new). */
tf_conn *tf_conn_dial(const tf_conn_dialer *d, const tf_conn_options *opt,
                      const tf_conn_handlers *h, void *arg);

/* ---- query.c ----------------------------------------------------------------- */

typedef struct tf_query tf_query;
/* err NULL on success. The query may be freed from here. */
typedef void (*tf_query_done_fn)(tf_query *q, const tf_error *err, void *arg);

/* A collected text resultset: rows x columns cells, NULL for SQL NULL. */
typedef struct tf_query_result {
    size_t columns;
    size_t rows;
    char **cells; /* rows * columns */
    size_t cap;
    tf_ok_packet ok; /* for statements without rows (strings not kept) */
} tf_query_result;

struct tf_query {
    tf_resultset rs;
    tf_query_result result;
    tf_str *values;
    bool *nulls;
    size_t values_cap;
    tf_query_done_fn done;
    void *arg;
    char sql_head[64]; /* start of the statement, for error messages */
    bool active;
};

void tf_query_init(tf_query *q);
void tf_query_cleanup(tf_query *q);
/* Sends sql on c; the owner routes each packet to tf_query_feed until the
 * done callback. */
bool tf_query_send(tf_query *q, tf_conn *c, const char *sql, tf_query_done_fn done, void *arg,
                   tf_error *err);
void tf_query_feed(tf_query *q, const uint8_t *payload, size_t len);
/* Cell (row, column) or NULL. */
const char *tf_query_cell(const tf_query *q, size_t row, size_t column);

/* ---- the replica ---------------------------------------------------------- */

/* Memory for one transaction's events: blocks whose addresses never move,
 * so decoded events can point into them. Reset after each transaction. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    uint8_t data[];
} arena_block;

typedef enum replica_phase {
    PHASE_IDLE = 0,   /* not started, or stopped */
    PHASE_CONNECTING, /* tf_conn until on_ready */
    PHASE_SESSION,    /* set-up queries */
    PHASE_REGISTER,   /* COM_REGISTER_SLAVE sent */
    PHASE_STREAMING,  /* COM_BINLOG_DUMP sent */
    PHASE_WAITING,    /* backoff timer before the next attempt */
} replica_phase;

struct tf_replica {
    struct event_base *base;
    tf_conn_dialer dialer;
    tf_replica_options opt;
    tf_replica_server_info server;
    tf_replica_stats stats;

    replica_phase phase;
    tf_conn *conn;
    tf_query query;
    int session_step;
    double phase_started; /* tf_now() when connecting started */
    bool streamed_once;   /* a dump has started at least once */
    bool dump_live;       /* this connection's dump sent an event */
    bool position_ready;  /* the start options were turned into a position */
    bool stopped;         /* stopped; on_stop is (or was) due */
    int in_callback;      /* depth of user callbacks running */
    tf_error stop_error;  /* what on_stop is told */
    bool stop_has_error;
    struct event *stop_event; /* runs on_stop from the loop */

    struct event *watchdog; /* connect timeout and heartbeat silence */
    double watchdog_tick;   /* seconds between its runs */
    double watchdog_last;   /* when it last ran (tf_now) */
    double loop_resumed;    /* when it last found the loop had stalled */
    struct event *retry_timer;
    unsigned attempt; /* failures since the last good dump */
    uint64_t rng;     /* xorshift state for jitter */

    /* Resume position: after the last complete transaction delivered. */
    bool use_gtid;
    tf_mariadb_gtid_pos mariadb_pos;
    tf_gtid_set *mysql_set;
    char file[512]; /* binlog file and offset after that txn */
    uint64_t file_pos;

    /* Session results. */
    char oldest_binlog[512];

    /* Stream state. */
    tf_format fmt;
    char cur_file[512]; /* binlog being streamed (from ROTATE) */
    bool txn_open;
    bool txn_saw_begin;    /* BEGIN came: ends at XID / COMMIT */
    bool txn_standalone;   /* MariaDB FL_STANDALONE: ends after 1 QUERY */
    bool txn_payload_done; /* MySQL TRANSACTION_PAYLOAD held the whole txn */
    tf_replica_txn txn;
    char txn_file[512];
    tf_replica_event *events;
    size_t event_cap;
    tf_table_map **maps; /* owned by the transaction */
    size_t map_count, map_cap;
    tf_payload_iter **payloads; /* kept alive: inner events point into them */
    size_t payload_count, payload_cap;
    arena_block *arena;
};

/* session.c */
void replica_session_begin(tf_replica *r);
void replica_session_packet(tf_replica *r, const uint8_t *payload, size_t len);

/* stream.c */
void replica_stream_reset(tf_replica *r); /* drop a partial transaction */
void replica_stream_packet(tf_replica *r, const uint8_t *payload, size_t len);
void replica_stream_cleanup(tf_replica *r);
/* Formats the resume position (see tf_replica_position). */
size_t replica_format_position(const tf_replica *r, char *buf, size_t cap);

/* reconnect.c */
/* The connection is gone or unusable. fatal: stop with err; else retry
 * after a backoff (or stop if this is the first connection and the user
 * did not ask for retries). */
void replica_fail(tf_replica *r, const tf_error *err, bool fatal);
/* The dump is running: resets the backoff. */
void replica_stream_started(tf_replica *r);
/* The stream ended as asked (stop_at_end): stop without error. */
void replica_finish(tf_replica *r);
void replica_log(tf_replica *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Seconds to wait before retry number attempt (1 = the first):
 * min_delay * 2^(attempt-1), capped at max_delay, times 0.5 + 0.5 *
 * random01 (random01 in [0, 1): a delay in [base/2, base)). */
double replica_backoff_delay(double min_delay, double max_delay, unsigned attempt, double random01);
/* Next pseudo-random number in [0, 1) from *state (xorshift64*). */
double replica_rand01(uint64_t *state);

#endif
