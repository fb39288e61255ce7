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
/* The server_id in the header of the last FORMAT_DESCRIPTION: the primary
 * that wrote the files. */
uint32_t tf_binlog_store_source_server_id(const tf_binlog_store *store);
/* An empty store's GTID state before its first file (what the first file's
 * GTID_LIST / PREVIOUS_GTIDS will say): a MariaDB position or MySQL set. */
bool tf_binlog_store_seed_gtid(tf_binlog_store *store, tf_flavour flavour, const char *text,
                               tf_error *err);
/* Events committed so far, over all files (for stats). */
uint64_t tf_binlog_store_event_count(const tf_binlog_store *store);

/* ---- the archive (archive.c) ----------------------------------------------
 *
 * Binlog files on disk written from an upstream's transactions, indexed
 * into a store and served from it once they are durable. See archive.c for
 * the file layout, the fsync policy and recovery. */

typedef struct tf_archive tf_archive;

typedef struct tf_archive_options {
    const char *dir;            /* created if missing */
    const char *base_name;      /* files BASE.000001, ...; NULL = "relay-bin" */
    uint64_t rotate_bytes;      /* start a new file past this size; 0 = 256 MiB */
    uint32_t fsync_interval_ms; /* 0: fdatasync after each transaction (grouped
                                   while the upstream has more to read, when the
                                   base has priorities: see tf_archive_transaction);
                                   N: every N ms */
    uint64_t retention_bytes;   /* drop the oldest files past this total; 0 = keep */
    uint64_t retention_seconds; /* drop files older than this; 0 = keep */
    bool compress;              /* zstd-compress closed files (NAME.zst), a
                                   chunk per loop turn; served decompressed */
    /* Things worth a log line (a compression that failed). Optional. */
    void (*on_log)(void *arg, const char *message);
    /* A write or sync that failed later, from the event loop (the archive
     * then refuses more). */
    void (*on_error)(void *arg, const tf_error *err);
    void *arg;
} tf_archive_options;

typedef struct tf_archive_stats {
    uint64_t transactions;
    uint64_t bytes_written;
    uint64_t syncs;
    uint64_t sync_ns_total, sync_ns_max;
    uint64_t files_created, files_purged;
    uint64_t files_compressed, compressed_bytes_in, compressed_bytes_out;
    uint64_t recovered_files;     /* found at open */
    uint64_t recovered_cut_bytes; /* torn tail cut at open */
} tf_archive_stats;

/* Opens (creating) the archive in opt->dir and indexes what it holds into
 * store, cutting a torn tail. Errors name the folder or file. */
tf_archive *tf_archive_open(struct event_base *base, const tf_archive_options *opt,
                            tf_binlog_store *store, tf_error *err);
/* Syncs what is written, serves it, closes. */
void tf_archive_close(tf_archive *a);
/* The upstream's FORMAT_DESCRIPTION (at every connection): starts the first
 * file, or a new one when the format changed (upgrade, checksum). */
bool tf_archive_format(tf_archive *a, const uint8_t *fde, size_t len, tf_error *err);
/* Whether a FORMAT_DESCRIPTION is known (from the files or the upstream). */
bool tf_archive_has_format(const tf_archive *a);
/* One complete transaction, its events' bytes as the upstream sent them. */
bool tf_archive_transaction(tf_archive *a, const uint8_t *const *events, const size_t *lens,
                            size_t count, tf_error *err);
/* Syncs and serves what is written now. */
bool tf_archive_flush(tf_archive *a, tf_error *err);
/* Drops the oldest files past the retention limits (not one being read). */
void tf_archive_enforce_retention(tf_archive *a);
const tf_archive_stats *tf_archive_get_stats(const tf_archive *a);

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
