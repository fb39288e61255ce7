/* decode.h — tapflow-binlog's walk over binlog files and what it prints. */
#ifndef TAPFLOW_BINLOG_DECODE_H
#define TAPFLOW_BINLOG_DECODE_H

#include "out.h"
#include "protocol.h"

typedef struct tool_options {
    uint64_t start_position;     /* first file only; 0 = from the start */
    uint64_t stop_position;      /* last file only; 0 = to the end */
    const char *start_gtid;      /* start at this transaction */
    const char *stop_after_gtid; /* stop after this transaction */
    bool summary;                /* print only the summary */
    bool events_only;            /* events, not row changes */
    bool no_rows;                /* do not decode row images at all */
    bool verify_only;            /* decode everything, print nothing */
    bool text_values;            /* values as SELECT text, not typed */
} tool_options;

typedef struct table_stats {
    char *name; /* "db.table" */
    uint64_t inserts, updates, deletes, rows_events;
} table_stats;

typedef struct tool_state {
    const tool_options *opt;
    out_buf out;
    tf_table_maps *maps;
    const char *file; /* path of the file being read */
    bool first_file, last_file;

    /* Transaction context. */
    char gtid[160]; /* "" before the first GTID event */
    bool selecting; /* inside the --start-gtid range */
    bool stopping;  /* --stop-after-gtid reached */

    /* Row image scratch, sized for the widest table seen. */
    tf_value *before, *after;
    size_t values_cap;
    /* JSON validation in --verify-only; one value on the BSON path of
     * JSON output */
    bson_t scratch;

    /* Row lines of the current rows event: their common start and the
     * JSON keys of the table's columns (decode.c, render_keys). */
    out_buf row_prefix;
    out_buf keys;
    size_t *key_end;
    size_t key_cap;

    /* Summary. */
    uint64_t events, inner_events, rows_events, rows, bytes;
    uint64_t gtid_events, xid_events, errors;
    uint64_t events_by_type[256];
    table_stats *tables;
    size_t table_count, table_cap;
} tool_state;

bool tool_state_init(tool_state *st, const tool_options *opt, FILE *sink);
void tool_state_cleanup(tool_state *st);

/* Decodes one whole file held in memory. Returns 0, or 1 after printing
 * "tapflow-binlog: FILE: ..." to stderr for a malformed or unsupported
 * file. */
int tool_decode_file(tool_state *st, const char *path, const uint8_t *buf, size_t len);

/* Prints one event that did not come from a file (--stream: the replica
 * hands over events of complete transactions). log_file names the source
 * binlog in messages; pos / next_pos are its offsets there. Same return as
 * tool_decode_file. A TRANSACTION_PAYLOAD's inner events are printed by
 * this call: do not pass them again. */
int tool_decode_event(tool_state *st, const char *log_file, const tf_event *ev,
                      const tf_format *fmt, uint64_t pos, uint64_t next_pos);

/* tapflow-binlog --stream (stream.c): the whole program in that mode. */
int tool_stream_main(int argc, char **argv);

void tool_print_summary(tool_state *st);

#endif
