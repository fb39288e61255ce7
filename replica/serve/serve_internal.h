/* serve_internal.h — shared by the files of replica/serve/ only. */
#ifndef TAPFLOW_SERVE_INTERNAL_H
#define TAPFLOW_SERVE_INTERNAL_H

#include "serve.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

/* ---- binlog_store.c ---- */

/* One event of a file. GTIDs live in the file's side tables so that the
 * row events, which are most of them, cost 16 bytes here. */
typedef struct serve_event {
    uint32_t offset;
    uint32_t size;
    uint32_t gtid; /* index into the file's gtids when has_gtid */
    uint8_t type;
    bool starts_group; /* GTID / ANONYMOUS_GTID / MariaDB GTID */
    bool has_gtid;     /* MariaDB GTID, or MySQL GTID (not ANONYMOUS) */
} serve_event;

typedef struct serve_file {
    char *name;    /* base name: what ROTATE and replicas call it */
    uint8_t *data; /* in memory (fd < 0) */
    size_t data_cap;
    int fd;       /* on disk: read with pread */
    uint64_t len; /* committed bytes */
    uint64_t pending_len;
    tf_format fmt; /* from the file's FORMAT_DESCRIPTION */
    bool has_fmt;
    serve_event *events;
    size_t event_count; /* committed */
    size_t pending_count;
    size_t event_cap;
    tf_mariadb_gtid *mariadb_gtids; /* by serve_event.gtid */
    tf_gtid *mysql_gtids;
    size_t gtid_count, gtid_cap;
    bool has_gtid_list; /* MariaDB GTID_LIST: the state at the file's start */
    tf_mariadb_gtid_pos gtid_list;
    tf_gtid_set *previous_gtids; /* MySQL PREVIOUS_GTIDS, empty if none */
    unsigned readers;            /* dumps positioned in it */
    /* A closed file kept zstd-compressed on disk (zst_path): its bytes are
     * decompressed into data while a dump reads it, freed after. */
    bool compressed;
    char *zst_path;
} serve_file;

typedef void (*serve_store_listener)(void *arg);

struct tf_binlog_store {
    serve_file *files;
    size_t count, cap;
    size_t base;                    /* absolute number of files[0]: files purged before it */
    tf_flavour flavour;             /* of the first file's FDE */
    char server_uuid[40];           /* MySQL: the uuid of the files' GTIDs */
    bool any_anonymous;             /* MySQL ANONYMOUS_GTID seen */
    bool any_gtid;                  /* MySQL GTID seen */
    tf_gtid_set *executed;          /* MySQL: previous of the first file + every GTID */
    tf_mariadb_gtid_pos binlog_pos; /* MariaDB: GTID_LIST + every GTID */
    uint64_t events_total;
    uint32_t source_server_id; /* in the last FORMAT_DESCRIPTION's header */
    serve_store_listener listeners[8];
    void *listener_args[8];
    size_t listener_count;
};

static inline const tf_mariadb_gtid *serve_event_mariadb_gtid(const serve_file *f,
                                                              const serve_event *e)
{
    return e->has_gtid && f->mariadb_gtids ? &f->mariadb_gtids[e->gtid] : NULL;
}

static inline const tf_gtid *serve_event_mysql_gtid(const serve_file *f, const serve_event *e)
{
    return e->has_gtid && f->mysql_gtids ? &f->mysql_gtids[e->gtid] : NULL;
}

/* A dump left the file: a compressed file's bytes go when nobody reads it. */
void serve_file_leave(serve_file *f);
/* The file called name is now kept compressed at zst_path (its plain copy
 * is about to go). false when no such file. */
bool serve_store_file_compressed(tf_binlog_store *b, const char *name, const char *zst_path);

void serve_store_add_listener(tf_binlog_store *b, serve_store_listener fn, void *arg);
void serve_store_remove_listener(tf_binlog_store *b, void *arg);
/* Index of the file called name, or -1. */
long serve_store_find(const tf_binlog_store *b, const char *name, size_t len);
/* Index of the event starting at offset in file, or -1. */
long serve_file_event_at(const serve_file *f, uint64_t offset);
/* Bytes of a file on disk read ahead for a dump, so that events (a few
 * hundred bytes each) are not one pread each. */
typedef struct serve_window {
    uint8_t *buf;
    size_t cap;
    uint64_t off; /* file offset of buf[0] */
    size_t len;   /* 0: empty */
} serve_window;

#define SERVE_WINDOW_BYTES (256u << 10)

/* The bytes of an event: a pointer into memory, or into w, which is
 * refilled from the event on (one window's worth of committed bytes) when
 * it does not hold it. NULL with err on a read error or a compressed file
 * that does not decompress to what was indexed. Empty w (len = 0) when
 * the dump moves to another file. */
const uint8_t *serve_file_event_bytes(serve_file *f, const serve_event *e, serve_window *w,
                                      tf_error *err);
/* MariaDB binlog_gtid_pos(file, pos) as text into out. false if unknown. */
bool serve_store_gtid_pos_at(const tf_binlog_store *b, size_t file, uint64_t offset, char *out,
                             size_t cap);
/* MariaDB: the file a replica at state must start from; false with err
 * (the server's message) when it cannot. */
bool serve_store_mariadb_start(const tf_binlog_store *b, const tf_mariadb_gtid_pos *state,
                               size_t *file, tf_error *err);
/* MySQL COM_BINLOG_DUMP_GTID: the file to start from for a replica that has
 * gtids; false with err (purged GTIDs, or more GTIDs than we have). */
bool serve_store_mysql_start(const tf_binlog_store *b, const tf_gtid_set *gtids, size_t *file,
                             tf_error *err);

/* ---- server.c ---- */

typedef struct serve_session serve_session;

struct tf_serve {
    tf_serve_options opt;
    tf_serve_account *accounts;
    uint8_t (*password_stage2)[20]; /* SHA1(SHA1(password)) per account */
    char server_version[64];
    char version_comment[64];
    char hostname[64];
    tf_binlog_store *store;
    struct event_base *base;
    struct evconnlistener *listener;
    uint16_t port;
    uint32_t next_connection_id;
    serve_session *sessions; /* doubly linked */
    tf_serve_stats stats;
};

void serve_log(const tf_serve *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void serve_session_unlink(tf_serve *srv, serve_session *s);

/* ---- session.c ---- */

#define SERVE_MAX_VARS 32

/* User variables a replica set on its session (@master_heartbeat_period,
 * @slave_connect_state, ...), names lowercased, values as text. */
typedef struct serve_user_var {
    char *name;
    char *value; /* NULL = SQL NULL */
} serve_user_var;

typedef enum serve_session_state {
    SESSION_AUTH,        /* handshake sent, waiting for HandshakeResponse41 */
    SESSION_AUTH_SWITCH, /* auth switch sent, waiting for the scramble */
    SESSION_COMMAND,
    SESSION_DUMP,
    SESSION_CLOSING, /* flush the output, then close */
} serve_session_state;

typedef struct serve_dump {
    size_t file;  /* absolute file number (tf_binlog_store.base + index) */
    size_t event; /* index of the next event in the file */
    bool reading; /* counted in the file's readers */
    bool mariadb_gtid_mode;
    tf_mariadb_gtid_pos state; /* MariaDB: what the replica has */
    tf_gtid_set *exclude;      /* MySQL: what the replica has */
    bool skipping;             /* inside a transaction the replica has */
    bool non_block;
    bool checksums; /* the stream's events carry CRC32 */
    bool idle;      /* at the end of the last file */
    uint64_t heartbeat_ns;
    struct event *heartbeat;
    uint8_t last_type; /* of the last event sent from the current file */
    uint64_t events_sent, transactions_skipped;
    serve_window window; /* of the file being read, when on disk */
} serve_dump;

struct serve_session {
    tf_serve *server;
    serve_session *prev, *next;
    struct bufferevent *bev;
    char peer[96]; /* host:port, for the log */
    char host[64]; /* host, for "Access denied for user 'u'@'host'" */
    uint32_t connection_id;
    serve_session_state state;
    uint8_t nonce[TF_SCRAMBLE_LENGTH];
    uint64_t caps; /* negotiated */
    uint8_t seq;   /* sequence id of the next packet we send */
    char user[128];
    bool used_password;
    serve_user_var vars[SERVE_MAX_VARS];
    size_t var_count;
    /* COM_REGISTER_SLAVE: what SHOW SLAVE HOSTS lists */
    bool registered;
    uint32_t replica_server_id;
    char report_host[64];
    uint16_t report_port;
    serve_dump dump;
};

void serve_session_accept(tf_serve *srv, evutil_socket_t fd, const char *host, unsigned port);
void serve_session_free(serve_session *s);
void serve_session_close_after_flush(serve_session *s);

/* Sends one packet of the current exchange (next sequence id). */
void serve_send_parts(serve_session *s, const uint8_t *head, size_t head_len, const uint8_t *body,
                      size_t body_len);
void serve_send_payload(serve_session *s, const uint8_t *payload, size_t len);
void serve_send_ok(serve_session *s, uint64_t affected_rows, const char *info);
void serve_send_eof(serve_session *s);
void serve_send_err(serve_session *s, uint16_t code, const char *sql_state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A text resultset; NULL values are NULL pointers. */
void serve_send_resultset(serve_session *s, const char *const *names, size_t column_count,
                          const char *const *values, size_t row_count);

const char *serve_session_var(const serve_session *s, const char *name);
bool serve_session_set_var(serve_session *s, const char *name, const char *value);

/* ---- dump.c ---- */

/* COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID: checks the request, answers an
 * ERR or starts the stream. */
void serve_dump_start(serve_session *s, const uint8_t *payload, size_t len);
/* Sends events while the output has room; called again when it drains and
 * when the store commits. */
void serve_dump_pump(serve_session *s);
/* Ends the dump (session closing): releases the file and the timer. */
void serve_dump_cleanup(serve_session *s);

static inline serve_file *serve_dump_file(const serve_session *s)
{
    return &s->server->store->files[s->dump.file - s->server->store->base];
}

/* ---- query.c ---- */

/* Answers one COM_QUERY: appends the response packets to the output. */
void serve_query_answer(serve_session *s, const char *query, size_t len);

#endif
