/* pipeline_fakes.h — a fake source and a fake target for the pipeline's
 * unit tests: no server, everything in memory, every call recorded. */
#ifndef TAPFLOW_TEST_PIPELINE_FAKES_H
#define TAPFLOW_TEST_PIPELINE_FAKES_H

#include "pipeline.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- the flow: shop.orders (root) with its customer embedded ----------- */

/* orders(order_id VARCHAR PK, customer_id VARCHAR, total DECIMAL(10,2)),
 * customers(customer_id VARCHAR PK, name VARCHAR); items(order_id, item_id
 * INT, sku VARCHAR; PK order_id, item_id) embedded as array "items". */
#define FAKE_FLOW                                                                             \
    "f = Flow('Orders').read_from('Src.orders')\n"                                            \
    "f.lookup('Src.customers', path='customer', type='object', "                              \
    "relation=[['customer_id','customer_id']])\n"                                             \
    "f.lookup('Src.items', path='items', type='array', relation=[['order_id','order_id']])\n" \
    "f.write_to('Dst.orders_view')\n"

enum {
    FAKE_ORDERS,
    FAKE_CUSTOMERS,
    FAKE_ITEMS,
    FAKE_TABLES
};

/* The TABLE_MAP of a table in database "shop" (or db when not NULL). */
const tf_table_map *fake_table_map(int table);
const tf_table_map *fake_table_map_in(int table, const char *db);
const char *fake_table_name(int table);

/* Values (static storage per call site is the caller's: arrays of 3). */
tf_value fake_str(const char *s);
tf_value fake_int(int64_t i);
tf_value fake_dec(const char *text);
tf_value fake_null(void);

/* ---- fake source: a transaction from a list of items -------------------- */

#define FAKE_MAX_ITEMS 64

typedef struct fake_txn {
    tf_pipeline_item items[FAKE_MAX_ITEMS];
    tf_value images[FAKE_MAX_ITEMS][2][4];
    size_t count, next;
    bool fail_at_end; /* the iterator reports a malformed event after the items */
    tf_pipeline_txn txn;
} fake_txn;

void fake_txn_init(fake_txn *t, const char *gtid, const char *log_file, uint64_t end_pos);
/* A row change; before/after NULL where the kind has none (copied). */
void fake_txn_row(fake_txn *t, const tf_table_map *map, tf_rows_kind kind, const tf_value *before,
                  const tf_value *after);
/* A statement (sql borrowed). */
void fake_txn_statement(fake_txn *t, const char *database, const char *sql);
/* Ready to apply (rewinds). */
const tf_pipeline_txn *fake_txn_get(fake_txn *t);

/* ---- fake target: records what it is given ------------------------------ */

typedef enum fake_call_kind {
    FAKE_ADD,
    FAKE_SUBMIT,
    FAKE_RECORD,
    FAKE_COMMIT
} fake_call_kind;

typedef struct fake_call {
    fake_call_kind kind;
    char text[512]; /* ADD: "insert|replace|update|update_many|delete <json>"; RECORD: "table kind";
                       COMMIT: "gtid file:pos rows txns"; FLUSH: "force|due" */
} fake_call;

typedef struct fake_target {
    fake_call *calls;
    size_t count, cap;
    size_t pending;       /* ops added since the last submission */
    uint64_t submissions; /* submits with ops, and commits */
    uint64_t acked;       /* acknowledged: all of them unless hold */
    bool hold;            /* acknowledge nothing more (until a wait) */
    /* Set before the pipeline is made: the target takes submissions ahead
     * of their turn (submit_ahead, recorded as SUBMIT "ahead N"), counted
     * written with the rest (writes_done) */
    bool ahead;
    uint64_t sent[2], done[2]; /* submissions of documents, by submit / ahead */
    size_t queued;             /* added to pending: ops submitted, not yet written */
    size_t waits;         /* wait calls */
    bool fail_commit; /* the next commit fails */
    bool fail_add;    /* every add fails */
    size_t rebases;   /* rebase calls */
    bson_t *progress; /* of the last commit (a pointer: bson_t wants a 128-byte
                          alignment that a calloc'ed fixture lacks) */
} fake_target;

void fake_target_init(fake_target *f);
void fake_target_cleanup(fake_target *f);
tf_pipeline_target fake_target_iface(fake_target *f);
/* Index of the first call of kind at or after from whose text contains
 * needle (NULL: any), or -1. */
long fake_target_find(const fake_target *f, fake_call_kind kind, const char *needle, size_t from);
size_t fake_target_count(const fake_target *f, fake_call_kind kind);

/* ---- fake source: records re-sync reads; the test answers them --------- */

typedef struct fake_source {
    size_t reads, cancels;
    bool refuse;        /* the next read cannot start */
    char table[64];     /* of the last read */
    bool key_read;      /* the last read was by keys */
    size_t key_rows;    /* its key count */
    char first_key[64]; /* its first key's first value (strings), or "" */
    char after[64];     /* a range read's after key (first value), or "" */
    size_t max_rows;
} fake_source;

tf_pipeline_source fake_source_iface(fake_source *s);

/* Log lines of a pipeline, joined by '\n'. */
typedef struct fake_log {
    char text[8192];
} fake_log;

/* A pipeline over FAKE_FLOW with every table defined, writing to f,
 * reading re-syncs from src (NULL: none), logging to log (NULL: none). */
tf_pipeline *fake_pipeline_new_full(fake_target *f, fake_source *src, fake_log *log,
                                    size_t chunk_rows, tf_flow_spec **spec);

/* ---- a test's fixture: the pipeline with its fakes ----------------------- */

typedef struct fake_fixture {
    fake_target target;
    fake_source source;
    fake_log log;
    tf_flow_spec *spec;
    tf_pipeline *p;
    int64_t now; /* the tests' clock, ms */
} fake_fixture;

/* A pipeline in phase over FAKE_FLOW, re-syncing in reads of chunk_rows
 * (0: the default); free with fake_fixture_destroy. */
fake_fixture *fake_fixture_new(size_t chunk_rows, tf_pipeline_phase phase);
void fake_fixture_destroy(fake_fixture *fx);

#endif
