/* serve.h — the server side of the MySQL/MariaDB replication protocol.
 *
 * What a primary does for its replicas, on libevent: handshake v10 and
 * mysql_native_password, the queries replicas and binlog clients send while
 * they set up (SET @..., SELECT @@..., SHOW VARIABLES / MASTER STATUS /
 * BINARY LOGS / SLAVE HOSTS), COM_REGISTER_SLAVE, and the dump itself:
 * COM_BINLOG_DUMP from a file and position or in MariaDB GTID mode
 * (@slave_connect_state), COM_BINLOG_DUMP_GTID with a MySQL GTID set,
 * rotation across files, heartbeats while idle, EOF for
 * BINLOG_DUMP_NON_BLOCK.
 *
 * Events come from a tf_binlog_store: binlog files indexed event by event,
 * held in memory (tapflow-test-primary serves fixture files this way) or on
 * disk (tapflow-relay's archive), and growing while they are served: what
 * is appended and committed reaches every idle dump at once.
 *
 *   binlog_store.c  the files: events, GTIDs, where a replica starts
 *   session.c       one connection: handshake, auth, commands
 *   dump.c          the dump stream of one session
 *   query.c         answers to COM_QUERY
 *   server.c        listener, accounts, the sessions */
#ifndef TAPFLOW_SERVE_H
#define TAPFLOW_SERVE_H

#include "protocol.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the binlog store ---------------------------------------------------- */

typedef struct tf_binlog_store tf_binlog_store;

tf_binlog_store *tf_binlog_store_new(void);
void tf_binlog_store_destroy(tf_binlog_store *store);

/* Reads files whole into memory and indexes them (sorted as given; a
 * directory contributes its files named like binlogs, NAME.NNNNNN, in name
 * order). Errors name the file and the offset of a bad event. */
bool tf_binlog_store_load_files(tf_binlog_store *store, char **paths, size_t path_count,
                                tf_error *err);

/* Starts a new last file called name (its base name, what ROTATE says).
 * fd >= 0: the file's bytes are on disk in fd, which the store reads with
 * pread and closes when done (the caller writes them); fd < 0: the bytes
 * appended are copied into memory. The file starts with the 4-byte magic. */
bool tf_binlog_store_begin_file(tf_binlog_store *store, const char *name, int fd, tf_error *err);
/* Indexes one whole event appended at the end of the last file (for an fd
 * file: already written there). It is not served until the next commit. */
bool tf_binlog_store_append(tf_binlog_store *store, const uint8_t *event, size_t len,
                            tf_error *err);
/* Serves everything appended so far and wakes the idle dumps. */
void tf_binlog_store_commit(tf_binlog_store *store);
/* Forgets what was appended since the last commit (a transaction cut short
 * upstream). */
void tf_binlog_store_rollback(tf_binlog_store *store);
/* Drops the oldest file when no dump reads it; false (nothing done) when one
 * does or when it is the last file. */
bool tf_binlog_store_purge_first(tf_binlog_store *store);

size_t tf_binlog_store_file_count(const tf_binlog_store *store);
const char *tf_binlog_store_file_name(const tf_binlog_store *store, size_t index);
/* Committed length of a file (the magic included). */
uint64_t tf_binlog_store_file_size(const tf_binlog_store *store, size_t index);
tf_flavour tf_binlog_store_flavour(const tf_binlog_store *store);
/* The format of the last file (from its FORMAT_DESCRIPTION); NULL before
 * one was appended. */
const tf_format *tf_binlog_store_format(const tf_binlog_store *store);
/* What the committed files hold, as a replica would resume from it:
 * MariaDB's gtid_binlog_pos ("0-1-42,1-2-5") or MySQL's executed GTID set. */
void tf_binlog_store_gtid_text(const tf_binlog_store *store, char *buf, size_t cap);
/* Events committed so far, over all files (for stats). */
uint64_t tf_binlog_store_event_count(const tf_binlog_store *store);

/* ---- the server ---------------------------------------------------------- */

typedef struct tf_serve tf_serve;

/* An account downstream clients log in with (mysql_native_password). */
typedef struct tf_serve_account {
    const char *user;
    const char *password; /* "" or NULL: none */
} tf_serve_account;

typedef struct tf_serve_options {
    const tf_serve_account *accounts; /* copied */
    size_t account_count;
    uint32_t server_id;          /* @@server_id */
    tf_flavour flavour;          /* what to play */
    const char *server_version;  /* without MariaDB's "5.5.5-" */
    const char *version_comment; /* @@version_comment; NULL = "tapflow" */
    const char *hostname;        /* @@hostname; NULL = "tapflow" */
    uint64_t heartbeat_ns;       /* when the replica asks for none; 0 = none */
    bool verbose;                /* log every query, login and dump */
    /* One line per thing worth logging (no newline). NULL = stderr. */
    void (*log)(void *arg, const char *message);
    void *log_arg;
} tf_serve_options;

/* A server over store (borrowed: it must outlive the server). */
tf_serve *tf_serve_new(struct event_base *base, tf_binlog_store *store, const tf_serve_options *opt,
                       tf_error *err);
/* Listens on addr:port (IPv4; port 0 = any); *bound_port gets the port. */
bool tf_serve_listen(tf_serve *srv, const char *addr, uint16_t port, uint16_t *bound_port,
                     tf_error *err);
/* Closes every session and the listener. */
void tf_serve_destroy(tf_serve *srv);

typedef struct tf_serve_stats {
    uint64_t connections; /* accepted */
    uint64_t logins_refused;
    uint64_t dumps_started;
    uint64_t events_sent;
    uint64_t bytes_sent;
    size_t sessions; /* open now */
    size_t dumps;    /* dumping now */
} tf_serve_stats;

void tf_serve_get_stats(const tf_serve *srv, tf_serve_stats *out);

#endif
