/* snapshot_internal.h — shared by the snapshot's files: snapshot.c (the
 * steps, the connection and the public calls), snapshot_schema.c (columns
 * and keys from information_schema), snapshot_rows.c (keyset chunks and
 * their rows) and sql_buf.c (the SQL text builder). */
#ifndef TAPFLOW_SNAPSHOT_INTERNAL_H
#define TAPFLOW_SNAPSHOT_INTERNAL_H

#include "replica_internal.h"

#define DEFAULT_CHUNK_ROWS 1000
#define MAX_KEY_PARTS 64 /* MySQL allows 16, MariaDB 32 */

/* ---- sql_buf.c ---- */

typedef struct sql_buf {
    char *p;
    size_t len, cap;
    bool oom;
} sql_buf;

void sql_buf_reserve(sql_buf *b, size_t more);
void sql_buf_add(sql_buf *b, const char *s, size_t n);
void sql_buf_str(sql_buf *b, const char *s);
void sql_buf_printf(sql_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `name` with backquotes doubled. */
void sql_buf_ident(sql_buf *b, const char *name);
/* 'text' for a string literal, quotes and backslashes escaped. */
void sql_buf_quoted(sql_buf *b, const char *text);

/* ---- the snapshot's state ---- */

/* How a column's text is selected and read back. */
typedef enum col_read {
    READ_PLAIN = 0,
    READ_FLOAT_AS_DOUBLE, /* CAST(c AS DOUBLE): exact, unlike FLOAT's text */
    READ_BINARY,          /* CAST(c AS BINARY(n)): UUID, INET6, INET4 */
} col_read;

typedef struct snap_table {
    char *schema, *name;
    tf_column *columns;
    col_read *reads;
    char **charset_names; /* per column, NULL for non-character columns */
    size_t column_count;
    size_t *key;
    size_t key_count;
    char *select_head; /* "SELECT cols FROM `db`.`t`" */
    char *order_by;    /* " ORDER BY k1, k2" */
    tf_snapshot_table pub;
} snap_table;

typedef enum snap_step {
    STEP_ISOLATION = 0,
    STEP_TIME_ZONE,
    STEP_CHARSET,
    STEP_VARIABLES, /* MySQL: gtid_mode */
    STEP_COLUMNS,   /* per table */
    STEP_KEY,       /* per table */
    STEP_LOCK,      /* MySQL: FLUSH TABLES WITH READ LOCK */
    STEP_START,     /* START TRANSACTION WITH CONSISTENT SNAPSHOT */
    STEP_STATUS,    /* MariaDB: binlog_snapshot_%; MySQL: SHOW MASTER STATUS */
    STEP_GTID_POS,  /* MariaDB: BINLOG_GTID_POS */
    STEP_UNLOCK,    /* MySQL: UNLOCK TABLES */
    STEP_ROWS,      /* chunks of every table */
    STEP_COMMIT,
    STEP_DONE,
} snap_step;

struct tf_snapshot {
    struct event_base *base;
    tf_conn_dialer dialer;
    tf_snapshot_options opt;
    char **table_names; /* copies of opt.tables */

    tf_conn *conn;
    tf_query query;
    snap_step step;
    size_t table_index;
    bool mariadb;
    bool mysql_gtid_mode;
    bool mysql_binary_log_status; /* 8.2+: SHOW BINARY LOG STATUS */
    struct event *timer;          /* connect timeout */
    struct event *done_event;
    bool finished;
    bool has_error;
    tf_error error;

    snap_table *tables;
    size_t table_count;

    /* Chunk reading. */
    bool reading_rows; /* packets go to the resultset reader */
    tf_resultset rs;
    tf_str *cells;
    bool *nulls;
    tf_value *values;
    size_t cells_cap;
    uint64_t chunk_seen;
    uint64_t chunk_limit;   /* the chunk's LIMIT (range mode) */
    bool final_chunk;       /* its LIMIT is what max_rows leaves, plus one */
    bool cut;               /* that one more row came: max_rows cut the read */
    bool exhausted;         /* the table ended before max_rows did */
    tf_value *last_key;     /* key_count values of the last row (or start_after) */
    sql_buf last_key_bytes; /* their string bytes, back to back */
    bool has_last_key;
    size_t next_key; /* key mode: the first key of the next chunk */
    sql_buf sql;

    /* Position. */
    char *gtid;
    char *file;
    uint64_t pos;
    tf_snapshot_position position;
    bool position_known;
};

/* ---- snapshot.c ---- */

void snap_run_step(tf_snapshot *s);
/* Ends the snapshot once, with err or without; on_done follows from the
 * loop. */
void snap_finish(tf_snapshot *s, const tf_error *err);
/* Ends it with a TF_ERR_CONFIG error "snapshot: <message>". */
void snap_fail(tf_snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- snapshot_schema.c ---- */

/* The query's cell (row, col) as a number (0 when NULL or not one). */
uint64_t snap_cell_u64(const tf_query *q, size_t row, size_t col);
/* A table's columns from information_schema.COLUMNS; false after
 * snap_fail. */
bool snap_columns_result(tf_snapshot *s);
/* A table's primary key (or the re-sync's key columns); false after
 * snap_fail. */
bool snap_key_result(tf_snapshot *s);

/* ---- snapshot_rows.c ---- */

/* Keeps count key values (values[index[k]], or values[k] when index is
 * NULL) as the keyset's last key, their bytes copied; false on out of
 * memory. */
bool snap_keep_key(tf_snapshot *s, const tf_value *values, const size_t *index, size_t count);
/* Sends the next chunk's SELECT of the current table. */
void snap_send_chunk(tf_snapshot *s);
/* One packet of a chunk's resultset. */
void snap_rows_packet(tf_snapshot *s, const uint8_t *payload, size_t len);

#endif
