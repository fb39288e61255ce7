/* test_sink_target.c — tf_sink against the local MongoDB-wire server
 * (TAPFLOW_MONGO_URI from `tools/servers.sh env`; every test that needs the
 * server is skipped with a message when it is not set).
 *
 * Each run works in its own database tf_sink_<pid>_<time>, dropped at the
 * end. Documents are read back with a plain driver client and compared as
 * BSON (types included) with what the ops describe. A tiny TCP proxy in a
 * thread stands between the sink and the server to cut a connection in the
 * middle of a write, so the retry path runs against the real server. */
#include "sink.h"
#include "sink_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- the per-run database and a plain client to read back ------------------ */

typedef struct fixture {
    sink_live_db live;
    bool decimal128; /* the server stores Decimal128 (from the last open) */
} fixture;

static int group_setup(void **state)
{
    static fixture fx; /* one per process, torn down in group_teardown */
    memset(&fx, 0, sizeof fx);
    if (!sink_live_db_open(&fx.live, "tf_sink"))
        return -1;
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    sink_live_db_close(&fx->live);
    return 0;
}

static const char *const order_key[] = {"order_id"};

static tf_sink *open_sink(fixture *fx, const char *collection, tf_fanout_choice fanout,
                          const char *flow, tf_sink_options *extra)
{
    char uri[256];
    sink_live_db_uri(&fx->live, uri, sizeof uri);
    tf_sink_options o;
    if (extra != NULL)
        o = *extra;
    else
        tf_sink_options_init(&o);
    if (o.uri == NULL)
        o.uri = uri;
    o.collection = collection;
    o.flow = flow;
    o.root_key_fields = order_key;
    o.n_root_key_fields = 1;
    o.fanout = fanout;
    tf_error err = {0};
    tf_sink *sink = tf_sink_open(&o, &err);
    if (sink == NULL)
        fail_msg("tf_sink_open: %s", err.message);
    fx->decimal128 = tf_sink_supports_decimal128(sink);
    return sink;
}

/* All documents of a collection sorted by order_id, without _id (the server
 * assigns ObjectIds on upsert). */
static size_t read_back(const fixture *fx, const char *collection, bson_t **docs, size_t cap)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_t *opts = BCON_NEW("sort", "{", "order_id", BCON_INT32(1), "}");
    bson_t filter = BSON_INITIALIZER;
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    size_t n = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        assert_true(n < cap);
        docs[n] = bson_new();
        bson_copy_to_excluding_noinit(doc, docs[n], "_id", NULL);
        n++;
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor, &error))
        fail_msg("read back %s: %s", collection, error.message);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return n;
}

static void assert_bson_equal(const bson_t *got, const bson_t *expected)
{
    if (!bson_equal(got, expected)) {
        char *g = bson_as_canonical_extended_json(got, NULL);
        char *e = bson_as_canonical_extended_json(expected, NULL);
        print_error("got      %s\nexpected %s\n", g, e);
        bson_free(g);
        bson_free(e);
        fail();
    }
}

static void free_docs(bson_t **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
}

static void add_ok(tf_sink *sink, tf_doc_op *op)
{
    tf_error err = {0};
    if (!tf_sink_add(sink, op, &err))
        fail_msg("tf_sink_add: %s", err.message);
}

/* An order-shaped document with one value of each type the view writes
 * (the Decimal128 only when the server can store it). */
static bson_t *order_doc(const fixture *fx, const char *order_id, int32_t n_items,
                         const char *product_name)
{
    bson_decimal128_t price;
    bson_decimal128_from_string("129.90", &price);
    const uint8_t blob[] = {0x00, 0xff, 0x10};
    bson_t *doc = bson_new();
    BSON_APPEND_UTF8(doc, "order_id", order_id);
    BSON_APPEND_UTF8(doc, "customer_id", "CUST12345");
    BSON_APPEND_INT32(doc, "status_code", 3);
    BSON_APPEND_INT64(doc, "big", INT64_C(9007199254740993));
    BSON_APPEND_DOUBLE(doc, "weight", 1.25);
    if (fx->decimal128)
        BSON_APPEND_DECIMAL128(doc, "total", &price);
    BSON_APPEND_DATE_TIME(doc, "purchased", INT64_C(1700000000123));
    BSON_APPEND_BINARY(doc, "raw", BSON_SUBTYPE_BINARY, blob, sizeof blob);
    BSON_APPEND_NULL(doc, "approved_at");
    BSON_APPEND_BOOL(doc, "paid", true);
    bson_t customer;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "customer", &customer);
    BSON_APPEND_UTF8(&customer, "customer_city", "sao paulo");
    bson_append_document_end(doc, &customer);
    bson_t items;
    BSON_APPEND_ARRAY_BEGIN(doc, "order_items", &items);
    for (int32_t i = 0; i < n_items; i++) {
        char idx[16], pid[16];
        snprintf(idx, sizeof idx, "%d", i);
        snprintf(pid, sizeof pid, "P%d", i % 2 + 1);
        bson_t item, product;
        BSON_APPEND_DOCUMENT_BEGIN(&items, idx, &item);
        BSON_APPEND_INT32(&item, "order_item_id", i + 1);
        BSON_APPEND_UTF8(&item, "product_id", pid);
        BSON_APPEND_DOCUMENT_BEGIN(&item, "product", &product);
        BSON_APPEND_UTF8(&product, "product_category_name",
                         i % 2 == 0 && product_name != NULL ? product_name : "perfumaria");
        bson_append_document_end(&item, &product);
        bson_append_document_end(&items, &item);
    }
    bson_append_array_end(doc, &items);
    return doc;
}

/* ---- bulk writes ------------------------------------------------------------ */

static void test_ordered_bulk_writes_give_exact_documents(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_exact", TF_FANOUT_DETECT, "exact", NULL);
    tf_doc_op op;
    /* A: replaced twice (the second wins), then $set / $unset. */
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), order_doc(fx, "A", 1, NULL));
    add_ok(sink, &op);
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), order_doc(fx, "A", 3, NULL));
    add_ok(sink, &op);
    tf_doc_op_update_steal(&op, BCON_NEW("order_id", "A"),
                           BCON_NEW("status_code", BCON_INT32(4), "customer.customer_state", "SP"),
                           BCON_NEW("approved_at", "", "raw", ""));
    add_ok(sink, &op);
    /* B: borrowed BSON, freed right after tf_sink_add. */
    bson_t *key_b = BCON_NEW("order_id", "B");
    bson_t *doc_b = order_doc(fx, "B", 0, NULL);
    tf_doc_op_replace_borrow(&op, key_b, doc_b);
    add_ok(sink, &op);
    bson_destroy(key_b);
    bson_destroy(doc_b);
    /* C: inserted then deleted in the same batch (order matters). */
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "C"), order_doc(fx, "C", 1, NULL));
    add_ok(sink, &op);
    tf_doc_op_delete_steal(&op, BCON_NEW("order_id", "C"));
    add_ok(sink, &op);
    /* D: a partial update of a missing document creates nothing. */
    tf_doc_op_update_steal(&op, BCON_NEW("order_id", "D"), BCON_NEW("status_code", BCON_INT32(1)),
                           NULL);
    add_ok(sink, &op);
    assert_int_equal(tf_sink_pending_ops(sink), 7);
    tf_error err = {0};
    assert_true(tf_sink_commit(sink, NULL, &err));
    assert_int_equal(tf_sink_pending_ops(sink), 0);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.ops_written, 7);
    assert_int_equal(stats.batches, 1);
    assert_int_equal(stats.retries, 0);
    tf_sink_destroy(sink);

    bson_t *expected_a = bson_new();
    bson_t *a = order_doc(fx, "A", 3, NULL);
    bson_iter_t it;
    bson_iter_init(&it, a);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "approved_at") == 0 || strcmp(k, "raw") == 0)
            continue;
        if (strcmp(k, "status_code") == 0) {
            BSON_APPEND_INT32(expected_a, k, 4);
        } else if (strcmp(k, "customer") == 0) {
            bson_t c;
            BSON_APPEND_DOCUMENT_BEGIN(expected_a, k, &c);
            BSON_APPEND_UTF8(&c, "customer_city", "sao paulo");
            BSON_APPEND_UTF8(&c, "customer_state", "SP");
            bson_append_document_end(expected_a, &c);
        } else {
            bson_append_iter(expected_a, k, -1, &it);
        }
    }
    bson_destroy(a);
    bson_t *expected_b = order_doc(fx, "B", 0, NULL);

    bson_t *docs[8];
    size_t n = read_back(fx, "orders_exact", docs, 8);
    assert_int_equal(n, 2);
    assert_bson_equal(docs[0], expected_a);
    assert_bson_equal(docs[1], expected_b);
    free_docs(docs, n);
    bson_destroy(expected_a);
    bson_destroy(expected_b);
}

/* ---- documents addressed by the _id derived from their root key ------------ */

/* Every document of a collection as stored (with _id), sorted by order_id. */
static size_t read_raw(const fixture *fx, const char *collection, bson_t **docs, size_t cap)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_t *opts = BCON_NEW("sort", "{", "order_id", BCON_INT32(1), "}");
    bson_t filter = BSON_INITIALIZER;
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    size_t n = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        assert_true(n < cap);
        docs[n++] = bson_copy(doc);
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor, &error))
        fail_msg("read %s: %s", collection, error.message);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return n;
}

/* doc's first field is _id, the id derived from {order_id: order_id}, and
 * the rest equals expected. */
static void assert_addressed_document(const bson_t *doc, const char *order_id,
                                      const bson_t *expected)
{
    bson_t *key = BCON_NEW("order_id", order_id);
    bson_oid_t id;
    tf_error err = {0};
    assert_true(tf_sink_derive_id(key, &id, &err));
    bson_destroy(key);
    bson_iter_t it;
    assert_true(bson_iter_init(&it, doc) && bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "_id");
    assert_true(BSON_ITER_HOLDS_OID(&it));
    assert_true(bson_oid_equal(bson_iter_oid(&it), &id));
    bson_t rest = BSON_INITIALIZER;
    bson_copy_to_excluding_noinit(doc, &rest, "_id", NULL);
    assert_bson_equal(&rest, expected);
    bson_destroy(&rest);
}

static void commit_ok(tf_sink *sink)
{
    tf_error err = {0};
    if (!tf_sink_commit(sink, NULL, &err))
        fail_msg("tf_sink_commit: %s", err.message);
}

static void test_derived_id_replace_twice_gives_one_document(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_derived", TF_FANOUT_FORCE_RECOMPUTE, "derived", NULL);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), order_doc(fx, "A", 1, NULL));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), order_doc(fx, "A", 2, "x"));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_sink_destroy(sink);

    bson_t *docs[4];
    size_t n = read_raw(fx, "orders_derived", docs, 4);
    assert_int_equal(n, 1);
    bson_t *expected = order_doc(fx, "A", 2, "x");
    assert_addressed_document(docs[0], "A", expected);
    bson_destroy(expected);
    free_docs(docs, n);
}

static void test_derived_id_delete_by_key(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink =
        open_sink(fx, "orders_derived_del", TF_FANOUT_FORCE_RECOMPUTE, "derived_del", NULL);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), order_doc(fx, "A", 1, NULL));
    add_ok(sink, &op);
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "B"), order_doc(fx, "B", 1, NULL));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_doc_op_delete_steal(&op, BCON_NEW("order_id", "A"));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_sink_destroy(sink);

    bson_t *docs[4];
    size_t n = read_raw(fx, "orders_derived_del", docs, 4);
    assert_int_equal(n, 1);
    bson_t *expected = order_doc(fx, "B", 1, NULL);
    assert_addressed_document(docs[0], "B", expected);
    bson_destroy(expected);
    free_docs(docs, n);
}

static void test_derived_id_insert_then_replace(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink =
        open_sink(fx, "orders_derived_ins", TF_FANOUT_FORCE_RECOMPUTE, "derived_ins", NULL);
    tf_doc_op op;
    tf_doc_op_insert_steal(&op, BCON_NEW("order_id", "C"), order_doc(fx, "C", 1, NULL));
    add_ok(sink, &op);
    commit_ok(sink);
    bson_t *docs[4];
    size_t n = read_raw(fx, "orders_derived_ins", docs, 4);
    assert_int_equal(n, 1);
    bson_t *expected = order_doc(fx, "C", 1, NULL);
    assert_addressed_document(docs[0], "C", expected);
    bson_destroy(expected);
    free_docs(docs, n);

    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "C"), order_doc(fx, "C", 3, "y"));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_sink_destroy(sink);
    n = read_raw(fx, "orders_derived_ins", docs, 4);
    assert_int_equal(n, 1);
    expected = order_doc(fx, "C", 3, "y");
    assert_addressed_document(docs[0], "C", expected);
    bson_destroy(expected);
    free_docs(docs, n);
}

static void test_derived_id_refuses_document_with_its_own_id(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink =
        open_sink(fx, "orders_derived_own", TF_FANOUT_FORCE_RECOMPUTE, "derived_own", NULL);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"),
                            BCON_NEW("_id", BCON_INT32(5), "order_id", "A"));
    tf_error err = {0};
    assert_false(tf_sink_add(sink, &op, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    assert_non_null(strstr(err.message, "replace op { \"order_id\" : \"A\" }"));
    assert_non_null(strstr(err.message, "document holds an _id"));
    assert_int_equal(tf_sink_pending_ops(sink), 0);
    tf_sink_destroy(sink);
}

/* Writes {_id: <random ObjectId>, order_id: key} as a tapflow that let the
 * server choose _id did. */
static void insert_server_id_document(const fixture *fx, const char *collection, const char *key)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_oid_t random_id;
    bson_oid_init(&random_id, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(&random_id), "order_id", key, "status", "old");
    bson_error_t error;
    if (!mongoc_collection_insert_one(c, doc, NULL, NULL, &error))
        fail_msg("insert: %s", error.message);
    bson_destroy(doc);
    mongoc_collection_destroy(c);
}

static size_t count_key(const fixture *fx, const char *collection, const char *key)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_t *filter = BCON_NEW("order_id", key);
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &error);
    if (n < 0)
        fail_msg("count: %s", error.message);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return (size_t)n;
}

/* A collection written by a tapflow that let the server choose _id: the
 * open refuses it with what to do (drop, --resnapshot); with the option off
 * it opens as before. */
static void test_derived_id_open_refuses_server_chosen_ids(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    insert_server_id_document(fx, "orders_old", "A");
    char uri[256];
    sink_live_db_uri(&fx->live, uri, sizeof uri);
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = uri;
    o.collection = "orders_old";
    o.flow = "old";
    o.root_key_fields = order_key;
    o.n_root_key_fields = 1;
    o.fanout = TF_FANOUT_FORCE_RECOMPUTE;
    tf_error err = {0};
    assert_null(tf_sink_open(&o, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    print_message("%s\n", err.message);
    assert_non_null(strstr(err.message, "whose _id is not derived from their root key"));
    assert_non_null(strstr(err.message, "{ \"order_id\" : \"A\" }"));
    assert_non_null(strstr(err.message, ".orders_old.drop()"));
    assert_non_null(strstr(err.message, "--resnapshot"));

    o.id_from_root_key = false;
    tf_sink *sink = tf_sink_open(&o, &err);
    assert_non_null(sink);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), BCON_NEW("order_id", "A"));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_sink_destroy(sink);
    assert_int_equal(count_key(fx, "orders_old", "A"), 1);
}

/* One such document past the sampled ones: the replace of its key is
 * refused by the unique root key index (never a second document), with
 * the same advice. */
static void test_derived_id_write_meeting_server_chosen_id_fails_clearly(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_mixed", TF_FANOUT_FORCE_RECOMPUTE, "mixed", NULL);
    tf_doc_op op;
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "K%02d", i);
        tf_doc_op_insert_steal(&op, BCON_NEW("order_id", key), BCON_NEW("order_id", key));
        add_ok(sink, &op);
    }
    commit_ok(sink);
    insert_server_id_document(fx, "orders_mixed", "OLD");
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "OLD"), BCON_NEW("order_id", "OLD"));
    add_ok(sink, &op);
    tf_error err = {0};
    assert_false(tf_sink_commit(sink, NULL, &err));
    print_message("%s\n", err.message);
    assert_int_equal(err.code, 11000);
    assert_non_null(strstr(err.message, "replace { \"order_id\" : \"OLD\" } as _id ObjectId("));
    assert_non_null(strstr(err.message, "root key is stored under another _id"));
    assert_non_null(strstr(err.message, "--resnapshot"));
    tf_sink_destroy(sink);
    assert_int_equal(count_key(fx, "orders_mixed", "OLD"), 1);
}

/* Adds replaces of orders PREFIX000.. PREFIX<n-1>, each with round items. */
static void add_replaces(fixture *fx, tf_sink *sink, const char *prefix, int n, int round)
{
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%s%03d", prefix, i);
        tf_doc_op op;
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", id), order_doc(fx, id, round, NULL));
        add_ok(sink, &op);
    }
}

/* 300 replaces of existing documents in one batch. FerretDB 1.24 holds a
 * pooled SQLite connection per update statement until the command ends:
 * sent as one command (the driver's own split is 100,000), the batch
 * exhausted its pool of 100 and hung the server. The sink sends at most
 * max_ops_per_command statements per command there. */
static void test_large_batch_of_replaces_completes(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_large", TF_FANOUT_DETECT, "large", NULL);
    tf_error err = {0};
    for (int round = 1; round <= 2; round++) {
        add_replaces(fx, sink, "L", 300, round);
        assert_int_equal(tf_sink_pending_ops(sink), 300);
        assert_true(tf_sink_commit(sink, NULL, &err));
    }
    tf_sink_destroy(sink);
    bson_t *docs[300];
    size_t n = read_back(fx, "orders_large", docs, 300);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "L%03zu", i);
        bson_t *want = order_doc(fx, id, 2, NULL);
        assert_bson_equal(docs[i], want);
        bson_destroy(want);
    }
    free_docs(docs, n);
}

/* The index called name on collection: its key (a copy, the caller
 * destroys it) and whether it is unique; NULL key when there is none. */
static bson_t *find_index(fixture *fx, const char *collection, const char *name, bool *unique)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(c, NULL);
    const bson_t *index;
    bson_t *key = NULL;
    *unique = false;
    while (!key && mongoc_cursor_next(cursor, &index)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, index, "name") ||
            strcmp(bson_iter_utf8(&it, NULL), name) != 0)
            continue;
        bson_iter_t k;
        assert_true(bson_iter_init_find(&k, index, "key"));
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&k, &len, &data);
        key = bson_new_from_data(data, len);
        *unique = bson_iter_init_find(&it, index, "unique") && bson_iter_as_bool(&it);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(c);
    return key;
}

static void test_unique_index_on_root_key_created(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_index", TF_FANOUT_FORCE_RECOMPUTE, "index", NULL);
    tf_sink_destroy(sink);
    /* Opening again finds the same index and is fine. */
    sink = open_sink(fx, "orders_index", TF_FANOUT_FORCE_RECOMPUTE, "index", NULL);
    tf_sink_destroy(sink);

    bool unique;
    bson_t *got = find_index(fx, "orders_index", "tapflow_root_key", &unique);
    assert_non_null(got);
    bson_t *key = BCON_NEW("order_id", BCON_INT32(1));
    assert_bson_equal(got, key);
    assert_true(unique);
    bson_destroy(key);
    bson_destroy(got);
}

/* root_key_index_plain: the same index without unique, what a collection
 * sharded on {_id: "hashed"} accepts (README "Scaling out"). */
static void test_plain_root_key_index_for_a_sharded_target(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.root_key_index_plain = true;
    tf_sink *sink = open_sink(fx, "orders_plain_index", TF_FANOUT_FORCE_RECOMPUTE, "plain", &o);
    tf_sink_destroy(sink);
    bool unique;
    bson_t *got = find_index(fx, "orders_plain_index", "tapflow_root_key", &unique);
    assert_non_null(got);
    bson_t *key = BCON_NEW("order_id", BCON_INT32(1));
    assert_bson_equal(got, key);
    assert_false(unique);
    bson_destroy(key);
    bson_destroy(got);
}

static void test_fanout_filter_index_created(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_fanout_index", TF_FANOUT_FORCE_RECOMPUTE, "fx", NULL);
    const char *fields[] = {"order_items.seller_id"};
    tf_error err = {0};
    assert_true(tf_sink_ensure_index(sink, "tapflow_fanout_seller", fields, 1, &err));
    /* Again: the same index exists, fine. */
    assert_true(tf_sink_ensure_index(sink, "tapflow_fanout_seller", fields, 1, &err));
    assert_false(tf_sink_ensure_index(sink, "tapflow_fanout_none", fields, 0, &err));
    assert_string_equal(err.message, "index tapflow_fanout_none: no fields");
    tf_sink_destroy(sink);

    bool unique;
    bson_t *got = find_index(fx, "orders_fanout_index", "tapflow_fanout_seller", &unique);
    assert_non_null(got);
    bson_t *key = BCON_NEW("order_items.seller_id", BCON_INT32(1));
    assert_bson_equal(got, key);
    assert_false(unique);
    bson_destroy(key);
    bson_destroy(got);
}

static void test_batch_flushes_by_size_and_by_time(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.max_batch_ops = 3;
    o.flush_interval_ms = 200;
    tf_sink *sink = open_sink(fx, "orders_batching", TF_FANOUT_FORCE_RECOMPUTE, "batching", &o);
    tf_doc_op op;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "S%d", i);
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", id), BCON_NEW("order_id", id));
        add_ok(sink, &op);
    }
    /* The third op reached max_batch_ops: written at once. */
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.batches, 1);
    assert_int_equal(tf_sink_pending_ops(sink), 0);
    assert_false(tf_sink_flush_due(sink));

    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "T"), BCON_NEW("order_id", "T"));
    add_ok(sink, &op);
    assert_false(tf_sink_flush_due(sink));
    usleep(250 * 1000);
    assert_true(tf_sink_flush_due(sink));
    tf_error err = {0};
    assert_true(tf_sink_commit(sink, NULL, &err));
    assert_false(tf_sink_flush_due(sink));
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.batches, 2);
    assert_int_equal(stats.ops_written, 4);
    tf_sink_destroy(sink);
}

/* ---- fan-out: arrayFilters or recomputed documents -------------------------- */

static bool server_is_ferretdb_1(const fixture *fx)
{
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    bool ferret = false;
    if (mongoc_client_command_simple(fx->live.client, "admin", cmd, NULL, &reply, &error)) {
        bson_iter_t it;
        ferret = bson_iter_init_find(&it, &reply, "ferretdbVersion") &&
                 strncmp(bson_iter_utf8(&it, NULL), "v1.", 3) == 0;
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    return ferret;
}

static void seed_fanout(const fixture *fx, tf_sink *sink)
{
    tf_doc_op op;
    const char *ids[] = {"F1", "F2", "F3"};
    for (int i = 0; i < 3; i++) {
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", ids[i]),
                                order_doc(fx, ids[i], i + 1, NULL));
        add_ok(sink, &op);
    }
    tf_error err = {0};
    if (!tf_sink_commit(sink, NULL, &err))
        fail_msg("%s", err.message);
}

/* Product P1 is renamed: every order item with product_id P1 in every order
 * gets the new embedded product. Expected: the documents rebuilt from
 * scratch with the new name (what view/ would compute). */
static void expect_renamed(const fixture *fx, const char *collection)
{
    bson_t *docs[4];
    size_t n = read_back(fx, collection, docs, 4);
    assert_int_equal(n, 3);
    const char *ids[] = {"F1", "F2", "F3"};
    for (int i = 0; i < 3; i++) {
        bson_t *expected = order_doc(fx, ids[i], i + 1, "beleza_saude");
        assert_bson_equal(docs[i], expected);
        bson_destroy(expected);
    }
    free_docs(docs, n);
}

/* The probes' scratch collections are gone. */
static void assert_no_probe_collections(fixture *fx)
{
    mongoc_database_t *db = mongoc_client_get_database(fx->live.client, fx->live.db);
    bson_error_t error;
    char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &error);
    assert_non_null(names);
    for (char **p = names; *p != NULL; p++)
        assert_null(strstr(*p, "tapflow_probe_"));
    bson_strfreev(names);
    mongoc_database_destroy(db);
}

static void test_fanout_probe_matches_server(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_probe", TF_FANOUT_DETECT, "probe", NULL);
    /* FerretDB 1.x: NotImplemented; MongoDB has had arrayFilters since 3.6. */
    if (server_is_ferretdb_1(fx))
        assert_int_equal(tf_sink_fanout_mode(sink), TF_FANOUT_RECOMPUTE);
    else
        assert_int_equal(tf_sink_fanout_mode(sink), TF_FANOUT_ARRAY_FILTERS);
    assert_no_probe_collections(fx);
    tf_sink_destroy(sink);
}

/* With probe_costs the open measures each shape on a scratch collection
 * (gone afterwards), and flushes of 16 ops or more refine the costs. */
static void test_write_costs_probed_and_refined(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *plain = open_sink(fx, "orders_costs", TF_FANOUT_DETECT, "costs", NULL);
    tf_sink_stats st;
    tf_sink_get_stats(plain, &st);
    assert_false(st.costs.measured); /* not asked for */
    tf_sink_destroy(plain);

    tf_sink_options o;
    tf_sink_options_init(&o);
    o.probe_costs = true;
    tf_sink *sink = open_sink(fx, "orders_costs", TF_FANOUT_DETECT, "costs", &o);
    tf_sink_get_stats(sink, &st);
    const tf_sink_write_costs probed = st.costs;
    assert_true(probed.measured);
    print_message("probed costs (ms): insert %.3f + %.3f/KB, replace %.3f + %.3f/KB, update "
                  "%.3f + %.3f/KB, updateMany %.3f + %.3f per document\n",
                  probed.insert_ms, probed.insert_per_kb_ms, probed.replace_ms,
                  probed.replace_per_kb_ms, probed.update_ms, probed.update_per_kb_ms,
                  probed.update_many_ms, probed.update_many_doc_ms);
    assert_true(probed.insert_ms > 0 && probed.replace_ms > 0 && probed.update_ms > 0);
    assert_true(probed.insert_per_kb_ms >= 0 && probed.replace_per_kb_ms >= 0 &&
                probed.update_per_kb_ms >= 0);
    /* A write on a local server takes far less than a second. */
    assert_true(probed.replace_ms < 1000 && probed.update_ms < 1000);
    assert_int_equal(probed.probes, 1);
    assert_true(probed.doc_kb > 0);
    bool array_filters = tf_sink_fanout_mode(sink) == TF_FANOUT_ARRAY_FILTERS;
    assert_int_equal(probed.update_many_ms > 0, array_filters);
    assert_int_equal(probed.refinements, 0);
    assert_no_probe_collections(fx);

    tf_error err = {0};
    for (int round = 1; round <= 2; round++) {
        add_replaces(fx, sink, "C", 40, round);
        assert_true(tf_sink_flush(sink, &err));
    }
    for (int i = 0; i < 4; i++) { /* too few to refine */
        tf_doc_op op;
        tf_doc_op_delete_steal(&op, BCON_NEW("order_id", "C000"));
        add_ok(sink, &op);
    }
    assert_true(tf_sink_flush(sink, &err));
    tf_sink_get_stats(sink, &st);
    assert_int_equal(st.costs.refinements, 2);
    /* Every cost moved by the same factor: the probe's order stays. */
    double f = st.costs.replace_ms / probed.replace_ms;
    assert_true(f != 1.0);
    assert_true(fabs(st.costs.update_ms / probed.update_ms - f) < 1e-6 * f ||
                st.costs.update_ms == 0.001);
    /* The typical document moved towards the replaced ones. */
    assert_true(st.costs.doc_kb != probed.doc_kb);
    tf_sink_destroy(sink);
}

static void test_fanout_recompute_refuses_update_many(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_refuse", TF_FANOUT_FORCE_RECOMPUTE, "refuse", NULL);
    tf_doc_op op;
    tf_doc_op_update_many_steal(&op, BCON_NEW("order_items.product_id", "P1"),
                                BCON_NEW("order_items.$[it].product.product_category_name", "x"),
                                NULL, BCON_NEW("0", "{", "it.product_id", "P1", "}"));
    tf_error err = {0};
    assert_false(tf_sink_add(sink, &op, &err));
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    char expected[512];
    snprintf(expected, sizeof expected,
             "updateMany with arrayFilters refused: the target %s does not support arrayFilters "
             "(fan-out mode is recompute: send a replace of each affected document instead)",
             tf_sink_redacted_uri(sink));
    assert_string_equal(err.message, expected);
    assert_int_equal(tf_sink_pending_ops(sink), 0);
    tf_sink_destroy(sink);
}

static void test_fanout_recompute_path_gives_expected_documents(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_recompute", TF_FANOUT_FORCE_RECOMPUTE, "recompute", NULL);
    seed_fanout(fx, sink);
    /* The caller recomputes each affected document: all three embed P1. */
    const char *ids[] = {"F1", "F2", "F3"};
    tf_doc_op op;
    for (int i = 0; i < 3; i++) {
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", ids[i]),
                                order_doc(fx, ids[i], i + 1, "beleza_saude"));
        add_ok(sink, &op);
    }
    tf_error err = {0};
    assert_true(tf_sink_commit(sink, NULL, &err));
    tf_sink_destroy(sink);
    expect_renamed(fx, "orders_recompute");
}

static void test_fanout_array_filters_path(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *probe = open_sink(fx, "orders_af_probe", TF_FANOUT_DETECT, "af_probe", NULL);
    bool supported = tf_sink_fanout_mode(probe) == TF_FANOUT_ARRAY_FILTERS;
    tf_sink_destroy(probe);

    tf_sink *sink =
        open_sink(fx, "orders_array_filters", TF_FANOUT_FORCE_ARRAY_FILTERS, "array_filters", NULL);
    seed_fanout(fx, sink);
    tf_doc_op op;
    tf_doc_op_update_many_steal(
        &op, BCON_NEW("order_items.product_id", "P1"),
        BCON_NEW("order_items.$[it].product.product_category_name", "beleza_saude"), NULL,
        BCON_NEW("0", "{", "it.product_id", "P1", "}"));
    add_ok(sink, &op);
    tf_error err = {0};
    bool ok = tf_sink_commit(sink, NULL, &err);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    tf_sink_destroy(sink);
    if (supported) {
        assert_true(ok);
        expect_renamed(fx, "orders_array_filters");
        return;
    }
    /* FerretDB 1.x: the server refuses arrayFilters; the sink reports it at
     * once (NotImplemented is not transient) and names the op. */
    assert_false(ok);
    assert_int_equal(stats.retries, 0);
    assert_int_equal(err.code, 238);
    assert_non_null(strstr(err.message, "not retried (the write itself is refused): writing a "
                                        "batch of 1 ops to "));
    assert_non_null(strstr(err.message, "(op 0: updateMany { \"order_items.product_id\" : \"P1\" "
                                        "})"));
    assert_non_null(strstr(err.message, "arrayFilters"));
    print_message("server refuses arrayFilters (%s): the recompute path is the one used here\n",
                  err.message);
}

/* ---- checkpoints and state ------------------------------------------------- */

static tf_checkpoint sample_checkpoint(uint64_t rows)
{
    tf_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    cp.gtid = "0-1-42,1-2-7";
    cp.flavour = "mariadb";
    cp.server_uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    cp.server_id = 4294967295u;
    cp.binlog_file = "mariadb-bin.000003";
    cp.binlog_position = UINT64_C(5000000000);
    cp.spec_hash = "sha256:9f86d081884c7d659a2feaa0c55ad015";
    cp.rows = rows;
    cp.transactions = rows / 2;
    return cp;
}

/* ---- a flush split over several connections ---------------------------------- */

static tf_sink *open_split_sink(fixture *fx, const char *collection, size_t connections)
{
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.connections = connections;
    return open_sink(fx, collection, TF_FANOUT_FORCE_RECOMPUTE, collection, &o);
}

/* Each of 120 documents gets an insert, an update and a replace in one
 * batch; every 3rd is then deleted and every 6th inserted again: the ops of
 * one document must reach the server in their order, whichever connection
 * carries them. */
static void test_split_flush_keeps_each_documents_order(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_split_sink(fx, "orders_split", 4);
    enum {
        N = 120
    };
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "S%03d", i);
        tf_doc_op op;
        tf_doc_op_insert_steal(&op, BCON_NEW("order_id", id), order_doc(fx, id, 1, NULL));
        add_ok(sink, &op);
    }
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "S%03d", i);
        tf_doc_op op;
        tf_doc_op_update_steal(&op, BCON_NEW("order_id", id),
                               BCON_NEW("status_code", BCON_INT32(7)), NULL);
        add_ok(sink, &op);
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", id), order_doc(fx, id, 2, "z"));
        add_ok(sink, &op);
        if (i % 3 == 0) {
            tf_doc_op_delete_steal(&op, BCON_NEW("order_id", id));
            add_ok(sink, &op);
        }
        if (i % 6 == 0) {
            tf_doc_op_insert_steal(&op, BCON_NEW("order_id", id), order_doc(fx, id, 3, "y"));
            add_ok(sink, &op);
        }
    }
    size_t queued = tf_sink_pending_ops(sink);
    assert_int_equal(queued, N + 2 * N + N / 3 + N / 6);
    commit_ok(sink);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    tf_sink_destroy(sink);
    assert_int_equal(stats.ops_written, queued);
    assert_int_equal(stats.split_batches, 1);

    bson_t *docs[N];
    size_t n = read_back(fx, "orders_split", docs, N);
    assert_int_equal(n, N - N / 3 + N / 6);
    size_t at = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0 && i % 6 != 0)
            continue;
        char id[16];
        snprintf(id, sizeof id, "S%03d", i);
        bson_t *want = i % 6 == 0 ? order_doc(fx, id, 3, "y") : order_doc(fx, id, 2, "z");
        assert_bson_equal(docs[at++], want);
        bson_destroy(want);
    }
    free_docs(docs, n);
}

/* A refused op on one connection fails the flush with its key named, and
 * no checkpoint follows; small batches and updateMany stay on one
 * connection. */
static void test_split_flush_failure_is_reported(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_split_sink(fx, "orders_split_fail", 3);
    tf_doc_op op;
    tf_doc_op_insert_steal(&op, BCON_NEW("order_id", "DUP"), BCON_NEW("order_id", "DUP"));
    add_ok(sink, &op);
    commit_ok(sink);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.split_batches, 0); /* one op: not split */

    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "F%03d", i);
        tf_doc_op_replace_steal(&op, BCON_NEW("order_id", id), BCON_NEW("order_id", id));
        add_ok(sink, &op);
        if (i == 50) {
            tf_doc_op_insert_steal(&op, BCON_NEW("order_id", "DUP"), BCON_NEW("order_id", "DUP"));
            add_ok(sink, &op);
        }
    }
    tf_checkpoint cp = sample_checkpoint(5);
    tf_error err = {0};
    assert_false(tf_sink_commit(sink, &cp, &err));
    assert_int_equal(err.domain, TF_ERR_TARGET);
    assert_int_equal(err.code, 11000);
    assert_non_null(strstr(err.message, "not retried (the write itself is refused): writing a "
                                        "batch of "));
    assert_non_null(strstr(err.message, ": insert { \"order_id\" : \"DUP\" } as _id"));
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.checkpoints, 0);
    assert_int_equal(stats.retries, 0);
    tf_checkpoint got;
    bool found = true;
    assert_true(tf_sink_checkpoint_read(sink, &got, &found, &err));
    assert_false(found);
    tf_sink_destroy(sink);
}

static void test_checkpoint_round_trip_all_fields(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_cp", TF_FANOUT_FORCE_RECOMPUTE, "orders_flow", NULL);
    tf_checkpoint got;
    bool found = true;
    tf_error err = {0};
    assert_true(tf_sink_checkpoint_read(sink, &got, &found, &err));
    assert_false(found);

    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "K1"), BCON_NEW("order_id", "K1"));
    add_ok(sink, &op);
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "K2"), BCON_NEW("order_id", "K2"));
    add_ok(sink, &op);
    const uint8_t blob[] = {1, 2, 3, 0, 255};
    assert_true(tf_sink_state_put(sink, "rows", blob, sizeof blob, &err));
    tf_checkpoint cp = sample_checkpoint(10);
    int64_t before_ms = (int64_t)time(NULL) * 1000 - 1000;
    assert_true(tf_sink_commit(sink, &cp, &err));

    assert_true(tf_sink_checkpoint_read(sink, &got, &found, &err));
    assert_true(found);
    assert_string_equal(got.gtid, "0-1-42,1-2-7");
    assert_string_equal(got.flavour, "mariadb");
    assert_string_equal(got.server_uuid, "3e11fa47-71ca-11e1-9e33-c80aa9429562");
    assert_int_equal(got.server_id, 4294967295u);
    assert_string_equal(got.binlog_file, "mariadb-bin.000003");
    assert_int_equal(got.binlog_position, UINT64_C(5000000000));
    assert_string_equal(got.spec_hash, "sha256:9f86d081884c7d659a2feaa0c55ad015");
    assert_int_equal(got.rows, 10);
    assert_int_equal(got.transactions, 5);
    assert_int_equal(got.documents, 2);
    assert_int_equal(got.seq, 1);
    assert_true(got.created_ms >= before_ms);
    assert_int_equal(got.updated_ms, got.created_ms);
    assert_string_equal(got.version, "0.1.0-dev");
    int64_t created = got.created_ms;
    tf_checkpoint_cleanup(&got);
    tf_sink_destroy(sink);

    /* Reopened: counters continue, created stays, the state chunk is back. */
    usleep(20 * 1000);
    sink = open_sink(fx, "orders_cp", TF_FANOUT_FORCE_RECOMPUTE, "orders_flow", NULL);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_true(tf_sink_state_get(sink, "rows", &data, &len, &found, &err));
    assert_true(found);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(data, blob, sizeof blob);
    free(data);
    tf_doc_op_delete_steal(&op, BCON_NEW("order_id", "K2"));
    add_ok(sink, &op);
    cp = sample_checkpoint(12);
    cp.gtid = "0-1-43,1-2-7";
    assert_true(tf_sink_commit(sink, &cp, &err));
    assert_true(tf_sink_checkpoint_read(sink, &got, &found, &err));
    assert_string_equal(got.gtid, "0-1-43,1-2-7");
    assert_int_equal(got.documents, 3);
    assert_int_equal(got.seq, 2);
    assert_int_equal(got.created_ms, created);
    assert_true(got.updated_ms > created);
    tf_checkpoint_cleanup(&got);
    /* "rows" was not written with checkpoint 2: not found (never a stale one). */
    assert_true(tf_sink_state_get(sink, "rows", &data, &len, &found, &err));
    assert_false(found);
    tf_sink_destroy(sink);
}

static void test_checkpoint_readable_from_mongosh(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    const char *mongosh = TF_SOURCE_DIR "/.local/bin/mongosh";
    if (access(mongosh, X_OK) != 0) {
        print_message("%s not installed (tools/setup.sh): skipped\n", mongosh);
        skip();
    }
    tf_sink *sink = open_sink(fx, "orders_sh", TF_FANOUT_FORCE_RECOMPUTE, "shell_flow", NULL);
    tf_checkpoint cp = sample_checkpoint(7);
    tf_error err = {0};
    assert_true(tf_sink_commit(sink, &cp, &err));
    tf_sink_destroy(sink);

    char uri[256], cmd[1024];
    sink_live_db_uri(&fx->live, uri, sizeof uri);
    snprintf(cmd, sizeof cmd,
             "%s --quiet --norc '%s' --eval 'printjson(db.tapflow_checkpoints.findOne({_id: "
             "\"shell_flow\"}))' 2>&1",
             mongosh, uri);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    print_message("mongosh: %s\n", out);
    const char *expected[] = {"_id: 'shell_flow'",
                              "gtid: '0-1-42,1-2-7'",
                              "flavour: 'mariadb'",
                              "server_id: Long('4294967295')",
                              "binlog_file: 'mariadb-bin.000003'",
                              "binlog_position: Long('5000000000')",
                              "rows: Long('7')",
                              "created: ISODate(",
                              "updated: ISODate(",
                              "tapflow_version: '0.1.0-dev'"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (strstr(out, expected[i]) == NULL)
            fail_msg("mongosh output lacks %s", expected[i]);
}

static void test_checkpoint_not_written_when_batch_fails(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_fail", TF_FANOUT_FORCE_RECOMPUTE, "fail_flow", NULL);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "A"), BCON_NEW("order_id", "A"));
    add_ok(sink, &op);
    tf_checkpoint cp = sample_checkpoint(1);
    tf_error err = {0};
    assert_true(tf_sink_commit(sink, &cp, &err));

    /* Upserting key B with a document whose root key is A breaks the unique
     * index: a fatal error, no retry, no checkpoint. */
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "B"), BCON_NEW("order_id", "A"));
    add_ok(sink, &op);
    const uint8_t blob[] = {9};
    assert_true(tf_sink_state_put(sink, "s", blob, 1, &err));
    cp = sample_checkpoint(2);
    cp.gtid = "0-1-99";
    assert_false(tf_sink_commit(sink, &cp, &err));
    assert_int_equal(err.domain, TF_ERR_TARGET);
    assert_int_equal(err.code, 11000);
    char prefix[512];
    snprintf(prefix, sizeof prefix,
             "not retried (the write itself is refused): writing a batch of 1 ops to "
             "%s.orders_fail (op 0: replace { \"order_id\" : \"B\" } as _id "
             "ObjectId(\"ddadab3f4b196d50e8200e2a\")): the root key is stored under another _id",
             fx->live.db);
    /* The unique root key index refused it: the sink says what that means. */
    assert_memory_equal(err.message, prefix, strlen(prefix));
    assert_non_null(strstr(err.message, "(server: E11000"));
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    assert_int_equal(stats.retries, 0);
    assert_int_equal(stats.checkpoints, 1);

    tf_checkpoint got;
    bool found = false;
    assert_true(tf_sink_checkpoint_read(sink, &got, &found, &err));
    assert_true(found);
    assert_string_equal(got.gtid, "0-1-42,1-2-7");
    assert_int_equal(got.seq, 1);
    assert_int_equal(got.rows, 1);
    tf_checkpoint_cleanup(&got);
    tf_sink_destroy(sink);
}

static void test_state_chunk_too_large_refused(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_big", TF_FANOUT_FORCE_RECOMPUTE, "big_flow", NULL);
    tf_error err = {0};
    static const uint8_t byte = 0;
    assert_false(tf_sink_state_put(sink, "huge", &byte, TF_STATE_CHUNK_MAX, &err));
    char expected[256];
    snprintf(expected, sizeof expected,
             "state chunk \"huge\" of flow \"big_flow\" is %zu bytes, over the %zu-byte limit of "
             "one MongoDB document: split it",
             TF_STATE_CHUNK_MAX, TF_STATE_CHUNK_MAX);
    assert_string_equal(err.message, expected);
    tf_sink_destroy(sink);
}

static void test_decimal128_refused_when_target_lacks_it(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "orders_dec", TF_FANOUT_FORCE_RECOMPUTE, "dec_flow", NULL);
    if (tf_sink_supports_decimal128(sink)) {
        tf_sink_destroy(sink);
        print_message("the server stores Decimal128: nothing to refuse\n");
        skip();
    }
    bson_decimal128_t price;
    bson_decimal128_from_string("10.50", &price);
    tf_doc_op op;
    tf_doc_op_update_steal(
        &op, BCON_NEW("order_id", "X"),
        BCON_NEW("order_items", "[", "{", "price", BCON_DECIMAL128(&price), "}", "]"), NULL);
    tf_error err = {0};
    assert_false(tf_sink_add(sink, &op, &err));
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    char expected[512];
    snprintf(expected, sizeof expected,
             "update op { \"order_id\" : \"X\" }: field \"order_items.0.price\" of its $set is a "
             "Decimal128, which the target %s cannot store (FerretDB 1.x drops the connection "
             "on it); map DECIMAL columns to another type for this target",
             tf_sink_redacted_uri(sink));
    assert_string_equal(err.message, expected);
    assert_int_equal(tf_sink_pending_ops(sink), 0);
    tf_sink_destroy(sink);
}

/* ---- configuration and unreachable targets ---------------------------------- */

static void test_write_concern_options(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.w = "majority";
    o.journal = 1;
    o.wtimeout_ms = 2000;
    tf_sink *sink = open_sink(fx, "orders_wc", TF_FANOUT_FORCE_RECOMPUTE, "wc_flow", &o);
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "W"), BCON_NEW("order_id", "W"));
    add_ok(sink, &op);
    tf_checkpoint cp = sample_checkpoint(1);
    tf_error err = {0};
    if (!tf_sink_commit(sink, &cp, &err))
        fail_msg("%s", err.message);
    tf_sink_destroy(sink);

    o.w = "0";
    char uri[256];
    sink_live_db_uri(&fx->live, uri, sizeof uri);
    o.uri = uri;
    o.collection = "orders_wc";
    o.flow = "wc_flow";
    assert_null(tf_sink_open(&o, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    assert_string_equal(err.message, "write concern w=\"0\" is not \"majority\" or a number from "
                                     "1 to 50 (w=0 is refused: checkpoints follow "
                                     "acknowledgements)");
}

static void test_unreachable_target_fails_fast_with_redacted_address(void **state)
{
    (void)state; /* needs no server: port 1 refuses */
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = "mongodb://tapflow:hunter2@127.0.0.1:1/shop?serverSelectionTimeoutMS=300";
    o.collection = "orders";
    o.flow = "f";
    tf_error err = {0};
    int64_t t0 = bson_get_monotonic_time();
    tf_sink *sink = tf_sink_open(&o, &err);
    int64_t elapsed_ms = (bson_get_monotonic_time() - t0) / 1000;
    assert_null(sink);
    assert_true(elapsed_ms < 3000);
    assert_int_equal(err.domain, TF_ERR_TARGET);
    const char *prefix =
        "MongoDB target mongodb://***@127.0.0.1:1/shop?serverSelectionTimeoutMS=300 unreachable "
        "after ";
    assert_memory_equal(err.message, prefix, strlen(prefix));
    assert_null(strstr(err.message, "hunter2"));
    assert_non_null(strstr(err.message, "127.0.0.1:1"));
    print_message("%s (in %lld ms)\n", err.message, (long long)elapsed_ms);
}

static void test_silent_target_fails_within_the_selection_timeout(void **state)
{
    (void)state; /* needs no server: a socket that listens and never answers */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t alen = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &alen);
    char uri[128];
    snprintf(uri, sizeof uri, "mongodb://u:pw@127.0.0.1:%u/shop", (unsigned)ntohs(a.sin_port));
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = uri;
    o.collection = "orders";
    o.flow = "f";
    o.server_selection_timeout_ms = 400;
    tf_error err = {0};
    int64_t t0 = bson_get_monotonic_time();
    tf_sink *sink = tf_sink_open(&o, &err);
    int64_t elapsed_ms = (bson_get_monotonic_time() - t0) / 1000;
    close(fd);
    assert_null(sink);
    assert_true(elapsed_ms >= 300 && elapsed_ms < 3000);
    char prefix[128];
    snprintf(prefix, sizeof prefix,
             "MongoDB target mongodb://***@127.0.0.1:%u/shop unreachable after ",
             (unsigned)ntohs(a.sin_port));
    assert_memory_equal(err.message, prefix, strlen(prefix));
    assert_null(strstr(err.message, "pw@"));
    print_message("%s (in %lld ms)\n", err.message, (long long)elapsed_ms);
}

static void test_invalid_uri_is_a_config_error_without_password(void **state)
{
    (void)state;
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = "mongodb://u:hunter2@/nohost";
    o.collection = "orders";
    o.flow = "f";
    tf_error err = {0};
    assert_null(tf_sink_open(&o, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    assert_memory_equal(err.message, "target URI mongodb://***@/nohost is invalid: ",
                        strlen("target URI mongodb://***@/nohost is invalid: "));
    assert_null(strstr(err.message, "hunter2"));
}

/* ---- retries through a proxy that cuts connections ---------------------------- */

/* Relays one connection at a time between the sink and the server. While
 * `cut_updates` > 0 it closes the connection instead of forwarding a client
 * message holding an "update" command (and counts down), so the write is
 * lost mid-flight exactly like a server that went away. */
typedef struct proxy {
    const char *command; /* the command whose message is cut ("update") */
    bool lose_reply;     /* forward it, swallow the server's reply, then cut */
    int listen_fd;
    uint16_t port;
    uint16_t server_port;
    int cut_updates;
    int cuts_done;
    int replies_lost;
    int connections;
    volatile int stop;
    pthread_t thread;
} proxy;

/* An OP_MSG body starts with the command as a UTF-8 element: 0x02 name 0x00. */
static bool holds_command(const uint8_t *buf, size_t len, const char *command)
{
    uint8_t needle[32];
    size_t n = strlen(command);
    needle[0] = 0x02;
    memcpy(needle + 1, command, n + 1);
    return memmem(buf, len, needle, n + 2) != NULL;
}

static int connect_server(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void relay(proxy *px, int client)
{
    int server = connect_server(px->server_port);
    if (server < 0)
        return;
    uint8_t buf[65536];
    while (!px->stop) {
        struct pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        int r = poll(fds, 2, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (fds[0].revents) {
            ssize_t n = read(client, buf, sizeof buf);
            if (n <= 0)
                break;
            if (px->cut_updates > 0 && holds_command(buf, (size_t)n, px->command)) {
                px->cut_updates--;
                px->cuts_done++;
                if (px->lose_reply && write(server, buf, (size_t)n) == n) {
                    /* The server applies the write; its answer is lost. */
                    struct pollfd r = {server, POLLIN, 0};
                    if (poll(&r, 1, 5000) > 0 && read(server, buf, sizeof buf) > 0)
                        px->replies_lost++;
                }
                break;
            }
            if (write(server, buf, (size_t)n) != n)
                break;
        }
        if (fds[1].revents) {
            ssize_t n = read(server, buf, sizeof buf);
            if (n <= 0)
                break;
            if (write(client, buf, (size_t)n) != n)
                break;
        }
    }
    close(server);
}

static void *proxy_main(void *arg)
{
    proxy *px = arg;
    while (!px->stop) {
        struct pollfd p = {px->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int client = accept(px->listen_fd, NULL, NULL);
        if (client < 0)
            continue;
        px->connections++;
        relay(px, client);
        close(client);
    }
    return NULL;
}

static void proxy_start(proxy *px, uint16_t server_port, int cut_updates)
{
    memset(px, 0, sizeof *px);
    px->command = "update";
    px->server_port = server_port;
    px->cut_updates = cut_updates;
    px->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(px->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(px->listen_fd, 4), 0);
    socklen_t alen = sizeof a;
    getsockname(px->listen_fd, (struct sockaddr *)&a, &alen);
    px->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
}

static void proxy_stop(proxy *px)
{
    px->stop = 1;
    pthread_join(px->thread, NULL);
    close(px->listen_fd);
}

static uint16_t server_port(const fixture *fx)
{
    mongoc_uri_t *uri = mongoc_uri_new(fx->live.base_uri);
    const mongoc_host_list_t *hosts = mongoc_uri_get_hosts(uri);
    uint16_t port = hosts->port;
    mongoc_uri_destroy(uri);
    return port;
}

static tf_sink *open_through_proxy(fixture *fx, const proxy *px, unsigned max_retries,
                                   const char *collection)
{
    char uri[256];
    snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%u/%s?serverSelectionTimeoutMS=2000",
             (unsigned)px->port, fx->live.db);
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = uri;
    o.max_retries = max_retries;
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 100;
    return open_sink(fx, collection, TF_FANOUT_FORCE_RECOMPUTE, "retry_flow", &o);
}

static void test_transient_network_error_is_retried(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    proxy px;
    proxy_start(&px, server_port(fx), 1);
    tf_sink *sink = open_through_proxy(fx, &px, 6, "orders_retry");
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "R1"), order_doc(fx, "R1", 2, NULL));
    add_ok(sink, &op);
    tf_checkpoint cp = sample_checkpoint(3);
    tf_error err = {0};
    if (!tf_sink_commit(sink, &cp, &err))
        fail_msg("commit through the proxy: %s", err.message);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    tf_sink_destroy(sink);
    proxy_stop(&px);
    assert_int_equal(px.cuts_done, 1);
    assert_true(px.connections >= 2);
    assert_int_equal(stats.retries, 1);
    assert_int_equal(stats.checkpoints, 1);

    bson_t *docs[2];
    size_t n = read_back(fx, "orders_retry", docs, 2);
    assert_int_equal(n, 1);
    bson_t *expected = order_doc(fx, "R1", 2, NULL);
    assert_bson_equal(docs[0], expected);
    bson_destroy(expected);
    free_docs(docs, n);
}

static void test_transient_errors_give_up_after_max_retries(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    proxy px;
    proxy_start(&px, server_port(fx), 1000);
    tf_sink *sink = open_through_proxy(fx, &px, 2, "orders_retry");
    tf_doc_op op;
    tf_doc_op_replace_steal(&op, BCON_NEW("order_id", "R2"), BCON_NEW("order_id", "R2"));
    add_ok(sink, &op);
    tf_checkpoint cp = sample_checkpoint(4);
    tf_error err = {0};
    assert_false(tf_sink_commit(sink, &cp, &err));
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    tf_sink_destroy(sink);
    proxy_stop(&px);
    assert_int_equal(stats.retries, 2);
    assert_int_equal(px.cuts_done, 3);
    assert_int_equal(stats.checkpoints, 0);
    assert_memory_equal(err.message, "gave up after 3 attempts: writing a batch of 1 ops to ",
                        strlen("gave up after 3 attempts: writing a batch of 1 ops to "));
    print_message("%s\n", err.message);
}

/* The server applied an insert batch but its answer was lost: the retry
 * deletes the batch's keys first, so it neither fails on duplicate keys nor
 * leaves anything twice. */
static void test_insert_batch_retried_after_lost_reply(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    proxy px;
    proxy_start(&px, server_port(fx), 1);
    px.command = "insert";
    px.lose_reply = true;
    tf_sink *sink = open_through_proxy(fx, &px, 6, "orders_insert_retry");
    const char *ids[] = {"I1", "I2", "I3"};
    tf_doc_op op;
    for (int i = 0; i < 3; i++) {
        tf_doc_op_insert_steal(&op, BCON_NEW("order_id", ids[i]), order_doc(fx, ids[i], i, NULL));
        add_ok(sink, &op);
    }
    tf_doc_op_update_steal(&op, BCON_NEW("order_id", "I2"), BCON_NEW("status_code", BCON_INT32(9)),
                           NULL);
    add_ok(sink, &op);
    tf_error err = {0};
    if (!tf_sink_commit(sink, NULL, &err))
        fail_msg("commit through the proxy: %s", err.message);
    tf_sink_stats stats;
    tf_sink_get_stats(sink, &stats);
    tf_sink_destroy(sink);
    proxy_stop(&px);
    assert_int_equal(px.cuts_done, 1);
    assert_int_equal(px.replies_lost, 1);
    assert_int_equal(stats.retries, 1);

    bson_t *docs[4];
    size_t n = read_back(fx, "orders_insert_retry", docs, 4);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        bson_t *expected = order_doc(fx, ids[i], i, NULL);
        if (i == 1) {
            bson_t *patched = bson_new();
            bson_iter_t it;
            bson_iter_init(&it, expected);
            while (bson_iter_next(&it))
                if (strcmp(bson_iter_key(&it), "status_code") == 0)
                    BSON_APPEND_INT32(patched, "status_code", 9);
                else
                    bson_append_iter(patched, bson_iter_key(&it), -1, &it);
            bson_destroy(expected);
            expected = patched;
        }
        assert_bson_equal(docs[i], expected);
        bson_destroy(expected);
    }
    free_docs(docs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordered_bulk_writes_give_exact_documents),
        cmocka_unit_test(test_large_batch_of_replaces_completes),
        cmocka_unit_test(test_derived_id_replace_twice_gives_one_document),
        cmocka_unit_test(test_derived_id_delete_by_key),
        cmocka_unit_test(test_derived_id_insert_then_replace),
        cmocka_unit_test(test_derived_id_refuses_document_with_its_own_id),
        cmocka_unit_test(test_derived_id_open_refuses_server_chosen_ids),
        cmocka_unit_test(test_derived_id_write_meeting_server_chosen_id_fails_clearly),
        cmocka_unit_test(test_split_flush_keeps_each_documents_order),
        cmocka_unit_test(test_split_flush_failure_is_reported),
        cmocka_unit_test(test_unique_index_on_root_key_created),
        cmocka_unit_test(test_plain_root_key_index_for_a_sharded_target),
        cmocka_unit_test(test_fanout_filter_index_created),
        cmocka_unit_test(test_batch_flushes_by_size_and_by_time),
        cmocka_unit_test(test_fanout_probe_matches_server),
        cmocka_unit_test(test_write_costs_probed_and_refined),
        cmocka_unit_test(test_fanout_recompute_refuses_update_many),
        cmocka_unit_test(test_fanout_recompute_path_gives_expected_documents),
        cmocka_unit_test(test_fanout_array_filters_path),
        cmocka_unit_test(test_checkpoint_round_trip_all_fields),
        cmocka_unit_test(test_checkpoint_readable_from_mongosh),
        cmocka_unit_test(test_checkpoint_not_written_when_batch_fails),
        cmocka_unit_test(test_state_chunk_too_large_refused),
        cmocka_unit_test(test_decimal128_refused_when_target_lacks_it),
        cmocka_unit_test(test_write_concern_options),
        cmocka_unit_test(test_unreachable_target_fails_fast_with_redacted_address),
        cmocka_unit_test(test_silent_target_fails_within_the_selection_timeout),
        cmocka_unit_test(test_invalid_uri_is_a_config_error_without_password),
        cmocka_unit_test(test_transient_network_error_is_retried),
        cmocka_unit_test(test_transient_errors_give_up_after_max_retries),
        cmocka_unit_test(test_insert_batch_retried_after_lost_reply),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
