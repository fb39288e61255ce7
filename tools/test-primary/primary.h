/* primary.h — tapflow-test-primary's internal interface.
 *
 * The test primary plays a MySQL 8 or MariaDB 10.11 source for replicas
 * under test: it speaks the server side of the handshake, answers the
 * queries replicas send while they set up, and serves binlog files (read
 * once at start) over COM_BINLOG_DUMP and COM_BINLOG_DUMP_GTID.
 *
 *   binlogs.c   the served files: events, GTIDs, where a replica starts
 *   query.c     answers to COM_QUERY (SET, SELECT @@..., SHOW ...)
 *   session.c   one connection: handshake, auth, commands, the dump stream
 *   main.c      options, listener, the event loop */
#ifndef TAPFLOW_TEST_PRIMARY_H
#define TAPFLOW_TEST_PRIMARY_H

#include "protocol.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- binlogs.c ---- */

/* One event of a served file. */
typedef struct tp_event {
    uint32_t offset;
    uint32_t size;
    uint8_t type;
    bool starts_group; /* GTID / ANONYMOUS_GTID / MariaDB GTID */
    bool has_mariadb_gtid;
    tf_mariadb_gtid mariadb_gtid;
    bool has_mysql_gtid; /* not for ANONYMOUS_GTID */
    tf_gtid mysql_gtid;
} tp_event;

typedef struct tp_binlog {
    char *name; /* base name: what ROTATE and replicas call it */
    uint8_t *data;
    size_t len;
    tf_format fmt; /* from the file's FORMAT_DESCRIPTION */
    tp_event *events;
    size_t event_count;
    bool has_gtid_list; /* MariaDB GTID_LIST: the state at the file's start */
    tf_mariadb_gtid_pos gtid_list;
    tf_gtid_set *previous_gtids; /* MySQL PREVIOUS_GTIDS, empty if none */
} tp_binlog;

typedef struct tp_binlogs {
    tp_binlog *files;
    size_t count;
    tf_flavour flavour;             /* of the first file's FDE */
    char server_uuid[40];           /* MySQL: the uuid of the files' GTIDs */
    bool any_anonymous;             /* MySQL ANONYMOUS_GTID seen */
    bool any_gtid;                  /* MySQL GTID seen */
    tf_gtid_set *executed;          /* MySQL: previous of the first file + every GTID */
    tf_mariadb_gtid_pos binlog_pos; /* MariaDB: GTID_LIST + every GTID */
} tp_binlogs;

/* Loads files (sorted as given); a directory argument contributes its
 * files named like binlogs (NAME.NNNNNN), in name order. */
bool tp_binlogs_load(tp_binlogs *b, char **paths, size_t path_count, tf_error *err);
void tp_binlogs_cleanup(tp_binlogs *b);
/* Index of the file called name, or -1. */
long tp_binlogs_find(const tp_binlogs *b, const char *name, size_t len);
/* Index of the event starting at offset in file, or -1. */
long tp_binlog_event_at(const tp_binlog *f, size_t offset);
/* MariaDB binlog_gtid_pos(file, pos) as text into out. false if unknown. */
bool tp_binlogs_gtid_pos_at(const tp_binlogs *b, size_t file, size_t offset, char *out, size_t cap);
/* MariaDB: the file a replica at state must start from; false with err
 * (the server's message) when it cannot. */
bool tp_binlogs_mariadb_start(const tp_binlogs *b, const tf_mariadb_gtid_pos *state, size_t *file,
                              tf_error *err);
/* MySQL COM_BINLOG_DUMP_GTID: the file to start from for a replica that has
 * gtids; false with err (purged GTIDs, or more GTIDs than we have). */
bool tp_binlogs_mysql_start(const tp_binlogs *b, const tf_gtid_set *gtids, size_t *file,
                            tf_error *err);

/* ---- configuration ---- */

typedef struct tp_config {
    const char *bind_address;
    uint16_t port;
    const char *user;
    const char *password;
    uint32_t server_id;
    tf_flavour flavour;
    char server_version[64]; /* without MariaDB's "5.5.5-" */
    uint64_t heartbeat_ns;   /* 0: only what the replica asks */
    bool verbose;
} tp_config;

typedef struct tp_server {
    tp_config config;
    tp_binlogs binlogs;
    struct event_base *base;
    uint32_t next_connection_id;
    uint8_t password_stage2[20]; /* SHA1(SHA1(password)) */
} tp_server;

/* ---- query.c ---- */

#define TP_MAX_VARS 32

/* User variables a replica set on its session (@master_heartbeat_period,
 * @slave_connect_state, ...), names lowercased, values as text. */
typedef struct tp_user_var {
    char *name;
    char *value; /* NULL = SQL NULL */
} tp_user_var;

typedef struct tp_session tp_session;

/* Answers one COM_QUERY: appends the response packets (sequence ids from 1)
 * to the session's output. */
void tp_query_answer(tp_session *s, const char *query, size_t len);
const char *tp_session_var(const tp_session *s, const char *name);

/* ---- session.c ---- */

void tp_session_accept(tp_server *server, evutil_socket_t fd, const char *host, unsigned port);

/* Sends one packet of the current exchange (next sequence id). */
void tp_send_payload(tp_session *s, const uint8_t *payload, size_t len);
void tp_send_ok(tp_session *s, uint64_t affected_rows, const char *info);
void tp_send_err(tp_session *s, uint16_t code, const char *sql_state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A text resultset; NULL values are NULL pointers. */
void tp_send_resultset(tp_session *s, const char *const *names, size_t column_count,
                       const char *const *values, size_t row_count);

tp_server *tp_session_server(tp_session *s);
tp_user_var *tp_session_vars(tp_session *s, size_t *count);
bool tp_session_set_var(tp_session *s, const char *name, const char *value);

/* Logging (stderr, one line, prefixed). */
void tp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
