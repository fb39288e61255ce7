/* support.h — helpers shared by the tests of replica/serve/: real binlog
 * files cut into the transactions an upstream would send, the archive fed
 * with them, and its files read back with the protocol's own reader. */
#ifndef TAPFLOW_TEST_SERVE_SUPPORT_H
#define TAPFLOW_TEST_SERVE_SUPPORT_H

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "serve.h"

#include <event2/event.h>

#define MARIADB_VECTOR TF_VECTORS_DIR "/mariadb-10.11-events.000005"

/* One event of a real file, borrowed from its bytes. */
typedef struct src_event {
    const uint8_t *bytes;
    size_t len;
    size_t offset; /* in the source file */
    uint8_t type;
} src_event;

/* One transaction as the upstream sends it: GTID .. XID / COMMIT, GTID +
 * one DDL QUERY, or (MySQL) GTID + TRANSACTION_PAYLOAD. */
typedef struct src_txn {
    size_t first; /* index into src_binlog.events */
    size_t count;
    size_t bytes; /* all its events */
    bool has_gtid;
    tf_mariadb_gtid mariadb_gtid;
    tf_gtid mysql_gtid; /* not for ANONYMOUS_GTID */
} src_txn;

typedef struct src_binlog {
    uint8_t *data;
    size_t len;
    tf_flavour flavour;
    src_event *events;
    size_t event_count;
    const src_event *fde;
    const src_event *gtid_header; /* GTID_LIST / PREVIOUS_GTIDS */
    char start_gtid[1024];        /* what that header says, as text */
    src_txn *txns;
    size_t txn_count;
} src_binlog;

/* Reads and cuts a real binlog file (fails the test when it cannot). */
void src_binlog_load(src_binlog *src, const char *path);
void src_binlog_cleanup(src_binlog *src);
/* The GTID text (gtid_binlog_pos / executed set) after the header's state
 * and the first n transactions. */
void src_gtid_after(const src_binlog *src, size_t n, char *buf, size_t cap);

/* Path of a fixture under ../shared/fixtures into buf, or NULL when that
 * folder is absent (then the caller skips). */
const char *fixture_path(const char *relative, char *buf, size_t cap);

/* ---- files ---- */

/* A fresh folder under /tmp into buf (at least 64 bytes). */
void temp_dir_make(char *buf);
/* Removes the folder and the files in it. */
void temp_dir_remove(const char *dir);
uint8_t *file_read(const char *path, size_t *len);
void file_write(const char *path, const uint8_t *data, size_t len);
/* -1 when absent. */
long long file_size(const char *path);
/* The names in dir that start with prefix, sorted, joined by spaces. */
void dir_listing(const char *dir, const char *prefix, char *buf, size_t cap);

/* ---- the archive ---- */

/* The events of one archive file, decoded by tf_binlog_reader to the end
 * (the test fails on a bad event), with every CRC32 also checked with
 * zlib's crc32 and every log_pos checked to be the event's end offset. */
typedef struct arc_event {
    size_t offset;
    size_t len;
    tf_event_header header;
} arc_event;

typedef struct arc_file {
    uint8_t *data;
    size_t len;
    bool crc; /* its FORMAT_DESCRIPTION says CRC32 */
    arc_event *events;
    size_t event_count;
} arc_file;

void arc_file_load(arc_file *f, const char *path);
void arc_file_cleanup(arc_file *f);
/* The GTIDs of the file's GTID_LIST (MariaDB) or PREVIOUS_GTIDS (MySQL),
 * its second event, as text. */
void arc_file_header_gtid(const arc_file *f, char *buf, size_t cap);

/* tf_archive_format with the source's FDE. */
void arc_format(tf_archive *a, const src_binlog *src);
/* tf_archive_transaction for transactions [from, to) of src. */
void arc_feed(tf_archive *a, const src_binlog *src, size_t from, size_t to);
/* Asserts that events [first, first + txn count) of f are transaction t of
 * src: byte for byte but for log_pos (13..16) and the CRC32. */
void assert_txn_archived(const arc_file *f, size_t first, const src_binlog *src, size_t t);
/* An archive over dir (relay-bin.NNNNNN) with the given limits; asserts. */
tf_archive *arc_open(struct event_base *base, tf_binlog_store *store, const char *dir,
                     uint64_t rotate_bytes, uint64_t retention_bytes);
/* The store's GTID text. */
const char *store_gtid(const tf_binlog_store *store, char *buf, size_t cap);
/* The store's file names, joined by spaces. */
void store_listing(const tf_binlog_store *store, char *buf, size_t cap);

/* ---- whole checks, run over several real files ---- */

/* Archives every transaction of src into a new folder (seeded with the
 * file's own GTID_LIST / PREVIOUS_GTIDS) and checks the file against src:
 * FDE, GTID header equal to the seed, each event byte-identical but for
 * log_pos and CRC32, the GTID state, serving only after the sync, and the
 * same state after a reopen. Returns the archive file's length. */
size_t check_archive_round_trip(const src_binlog *src);
/* Archives src, then for every length within its last two transactions
 * reopens a copy cut there: the tail is cut back to a transaction
 * boundary, the GTID state is that of the complete transactions, and the
 * next transaction appended makes the file byte for byte what it was. */
void check_archive_torn_tail_every_offset(const src_binlog *src);

#endif
