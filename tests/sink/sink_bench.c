/* sink_bench.c — documents/s of ~10k order-shaped documents written through
 * tf_sink (replace+upsert by root key, ordered bulks) against a plain
 * mongoc ordered bulk insert of the same documents, in the same run.
 *
 *   sink_bench [URI] [N]     (URI default $TAPFLOW_MONGO_URI, N 10000)
 *
 * Works in a database of its own (tf_sink_bench_<pid>), dropped at the end. */
#include "sink.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double now_s(void) { return (double)bson_get_monotonic_time() / 1e6; }

/* An Olist-like order with a customer, 1-3 items with product and seller,
 * 1-2 payments (about 1.3 KiB of BSON). */
static bson_t *make_order(int i, bool decimal)
{
    char id[32], cust[32];
    snprintf(id, sizeof id, "ORD%08d", i);
    snprintf(cust, sizeof cust, "CUST%07d", i % 9000);
    bson_t *d = bson_new();
    BSON_APPEND_UTF8(d, "order_id", id);
    BSON_APPEND_UTF8(d, "customer_id", cust);
    BSON_APPEND_UTF8(d, "order_status", i % 10 ? "delivered" : "shipped");
    BSON_APPEND_DATE_TIME(d, "order_purchase_timestamp", INT64_C(1500000000000) + i * 60000);
    BSON_APPEND_DATE_TIME(d, "order_approved_at", INT64_C(1500000000000) + i * 60000 + 3600000);
    BSON_APPEND_DATE_TIME(d, "order_estimated_delivery_date", INT64_C(1501000000000) + i);
    bson_t c, arr, e, p, s;
    BSON_APPEND_DOCUMENT_BEGIN(d, "customer", &c);
    BSON_APPEND_UTF8(&c, "customer_unique_id", "861eff4711a542e4b93843c6dd7febb0");
    BSON_APPEND_INT32(&c, "customer_zip_code_prefix", 14409 + i % 100);
    BSON_APPEND_UTF8(&c, "customer_city", "franca");
    BSON_APPEND_UTF8(&c, "customer_state", "SP");
    bson_append_document_end(d, &c);
    BSON_APPEND_ARRAY_BEGIN(d, "order_payments", &arr);
    for (int k = 0; k < 1 + i % 2; k++) {
        char key[8];
        snprintf(key, sizeof key, "%d", k);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &e);
        BSON_APPEND_INT32(&e, "payment_sequential", k + 1);
        BSON_APPEND_UTF8(&e, "payment_type", "credit_card");
        BSON_APPEND_INT32(&e, "payment_installments", 1 + i % 8);
        BSON_APPEND_DOUBLE(&e, "payment_value", 99.9 + i % 50);
        bson_append_document_end(&arr, &e);
    }
    bson_append_array_end(d, &arr);
    BSON_APPEND_ARRAY_BEGIN(d, "order_items", &arr);
    for (int k = 0; k < 1 + i % 3; k++) {
        char key[8], pid[40];
        snprintf(key, sizeof key, "%d", k);
        snprintf(pid, sizeof pid, "P%031d", (i * 7 + k) % 33000);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &e);
        BSON_APPEND_INT32(&e, "order_item_id", k + 1);
        BSON_APPEND_UTF8(&e, "product_id", pid);
        BSON_APPEND_UTF8(&e, "seller_id", "48436dade18ac8b2bce089ec2a041202");
        BSON_APPEND_DATE_TIME(&e, "shipping_limit_date", INT64_C(1500500000000) + i);
        if (decimal) {
            bson_decimal128_t price;
            bson_decimal128_from_string("58.90", &price);
            BSON_APPEND_DECIMAL128(&e, "price", &price);
        } else {
            BSON_APPEND_DOUBLE(&e, "price", 58.90);
        }
        BSON_APPEND_DOUBLE(&e, "freight_value", 13.29);
        BSON_APPEND_DOCUMENT_BEGIN(&e, "product", &p);
        BSON_APPEND_UTF8(&p, "product_category_name", "cool_stuff");
        BSON_APPEND_INT32(&p, "product_weight_g", 650);
        BSON_APPEND_INT32(&p, "product_length_cm", 28);
        BSON_APPEND_INT32(&p, "product_height_cm", 9);
        BSON_APPEND_INT32(&p, "product_width_cm", 14);
        bson_append_document_end(&e, &p);
        BSON_APPEND_DOCUMENT_BEGIN(&e, "seller", &s);
        BSON_APPEND_INT32(&s, "seller_zip_code_prefix", 27277);
        BSON_APPEND_UTF8(&s, "seller_city", "volta redonda");
        BSON_APPEND_UTF8(&s, "seller_state", "SP");
        bson_append_document_end(&e, &s);
        bson_append_document_end(&arr, &e);
    }
    bson_append_array_end(d, &arr);
    return d;
}

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "sink_bench: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TAPFLOW_MONGO_URI");
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    /* Upserts filtered on a non-_id field are a collection scan per op on
     * FerretDB's SQLite backend (quadratic): those paths run on fewer docs. */
    int n_slow = argc > 3 ? atoi(argv[3]) : 300;
    if (n_slow > n)
        n_slow = n;
    if (base == NULL || n <= 0) {
        fprintf(stderr, "usage: sink_bench [URI] [N] (or set TAPFLOW_MONGO_URI)\n");
        return 2;
    }
    mongoc_init();
    char db[64], uri[512];
    snprintf(db, sizeof db, "tf_sink_bench_%ld", (long)getpid());
    mongoc_uri_t *u = mongoc_uri_new(base);
    if (u == NULL)
        fail("URI", "invalid");
    const mongoc_host_list_t *h = mongoc_uri_get_hosts(u);
    snprintf(uri, sizeof uri, "mongodb://%s/%s?socketTimeoutMS=120000", h->host_and_port, db);
    mongoc_uri_destroy(u);

    const char *const key[] = {"order_id"};
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = uri;
    o.collection = "orders_sink";
    o.flow = "bench";
    o.root_key_fields = key;
    o.n_root_key_fields = 1;
    tf_error err = {0};
    double t0 = now_s();
    tf_sink *sink = tf_sink_open(&o, &err);
    double open_s = now_s() - t0;
    if (sink == NULL)
        fail("open", err.message);
    bool decimal = tf_sink_supports_decimal128(sink);

    bson_t **docs = malloc((size_t)n * sizeof *docs);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        docs[i] = make_order(i, decimal);
        bytes += docs[i]->len;
    }

    /* 1. plain driver: one ordered bulk of inserts. */
    mongoc_client_t *client = mongoc_client_new(uri);
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    mongoc_collection_t *plain = mongoc_client_get_collection(client, db, "orders_plain");
    bson_t *idx =
        BCON_NEW("createIndexes", "orders_plain", "indexes", "[", "{", "key", "{", "order_id",
                 BCON_INT32(1), "}", "name", "k", "unique", BCON_BOOL(true), "}", "]");
    bson_error_t berr;
    if (!mongoc_client_command_simple(client, db, idx, NULL, NULL, &berr))
        fail("index", berr.message);
    bson_destroy(idx);
    bson_t *bopts = BCON_NEW("ordered", BCON_BOOL(true));
    t0 = now_s();
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(plain, bopts);
    for (int i = 0; i < n; i++)
        mongoc_bulk_operation_insert_with_opts(bulk, docs[i], NULL, NULL);
    bson_t reply;
    if (!mongoc_bulk_operation_execute(bulk, &reply, &berr))
        fail("plain insert", berr.message);
    double plain_s = now_s() - t0;
    printf("%-48s %6d %10.3f %10.0f\n", "mongoc bulk insert (ordered, one bulk)", n, plain_s,
           n / plain_s);
    fflush(stdout);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);

    /* 2. plain driver: ordered bulk of replace+upsert (what the sink sends). */
    mongoc_collection_t *plain_up = mongoc_client_get_collection(client, db, "orders_plain_upsert");
    t0 = now_s();
    bulk = mongoc_collection_create_bulk_operation_with_opts(plain_up, bopts);
    bson_t *up = BCON_NEW("upsert", BCON_BOOL(true));
    for (int i = 0; i < n_slow; i++) {
        bson_iter_t it;
        bson_iter_init_find(&it, docs[i], "order_id");
        bson_t *k = BCON_NEW("order_id", BCON_UTF8(bson_iter_utf8(&it, NULL)));
        mongoc_bulk_operation_replace_one_with_opts(bulk, k, docs[i], up, NULL);
        bson_destroy(k);
    }
    if (!mongoc_bulk_operation_execute(bulk, &reply, &berr))
        fail("plain upsert", berr.message);
    double plain_up_s = now_s() - t0;
    printf("%-48s %6d %10.3f %10.0f\n", "mongoc bulk replace+upsert by order_id", n_slow,
           plain_up_s, n_slow / plain_up_s);
    fflush(stdout);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(up);
    bson_destroy(bopts);

    /* 3. the writer: replace ops by root key, batches of max_batch_ops. */
    t0 = now_s();
    for (int i = 0; i < n_slow; i++) {
        bson_iter_t it;
        bson_iter_init_find(&it, docs[i], "order_id");
        tf_doc_op op;
        tf_doc_op_replace_borrow(&op, BCON_NEW("order_id", BCON_UTF8(bson_iter_utf8(&it, NULL))),
                                 docs[i]);
        const bson_t *k = op.filter;
        bool ok = tf_sink_add(sink, &op, &err);
        bson_destroy((bson_t *)k);
        if (!ok)
            fail("sink add", err.message);
    }
    tf_checkpoint cp = {.gtid = "0-1-1", .flavour = "mariadb"};
    if (!tf_sink_commit(sink, &cp, &err))
        fail("sink commit", err.message);
    double sink_s = now_s() - t0;
    printf("%-48s %6d %10.3f %10.0f\n", "tf_sink replace+upsert by order_id", n_slow, sink_s,
           n_slow / sink_s);
    fflush(stdout);
    tf_sink_destroy(sink);

    /* 4. the writer with _id = root key: the filter is {_id: key}, which
     * FerretDB's SQLite backend can push down (other fields are scanned). */
    const char *const id_key[] = {"order_id"};
    o.collection = "orders_sink_id";
    o.flow = "bench_id";
    o.root_key_fields = id_key;
    sink = tf_sink_open(&o, &err);
    if (sink == NULL)
        fail("open", err.message);
    t0 = now_s();
    for (int i = 0; i < n_slow; i++) {
        bson_iter_t it;
        bson_iter_init_find(&it, docs[i], "order_id");
        const char *id = bson_iter_utf8(&it, NULL);
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(id));
        bson_concat(doc, docs[i]);
        tf_doc_op op;
        tf_doc_op_replace_steal(&op, BCON_NEW("_id", BCON_UTF8(id)), doc);
        if (!tf_sink_add(sink, &op, &err))
            fail("sink add", err.message);
    }
    if (!tf_sink_commit(sink, &cp, &err))
        fail("sink commit", err.message);
    double sink_id_s = now_s() - t0;
    printf("%-48s %6d %10.3f %10.0f\n", "tf_sink replace+upsert by _id = order_id", n_slow,
           sink_id_s, n_slow / sink_id_s);
    fflush(stdout);
    tf_sink_destroy(sink);

    /* 5. the writer with insert ops (initial build into an empty collection). */
    o.collection = "orders_sink_insert";
    o.flow = "bench_insert";
    o.root_key_fields = key;
    sink = tf_sink_open(&o, &err);
    if (sink == NULL)
        fail("open", err.message);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        bson_iter_t it;
        bson_iter_init_find(&it, docs[i], "order_id");
        tf_doc_op op;
        bson_t *k = BCON_NEW("order_id", BCON_UTF8(bson_iter_utf8(&it, NULL)));
        tf_doc_op_insert_borrow(&op, k, docs[i]);
        bool ok = tf_sink_add(sink, &op, &err);
        bson_destroy(k);
        if (!ok)
            fail("sink add", err.message);
    }
    if (!tf_sink_commit(sink, &cp, &err))
        fail("sink commit", err.message);
    double sink_insert_s = now_s() - t0;
    printf("%-48s %6d %10.3f %10.0f\n", "tf_sink insert ops (1000/batch) + checkpoint", n,
           sink_insert_s, n / sink_insert_s);
    fflush(stdout);

    printf("%d order documents, %.0f bytes each on average, FerretDB/MongoDB at %s\n", n,
           (double)bytes / n, h == NULL ? "" : uri);
    printf("tf_sink_open (ping, index, probes): %.1f ms\n", open_s * 1e3);

    tf_sink_destroy(sink);
    mongoc_database_t *d = mongoc_client_get_database(client, db);
    mongoc_database_drop(d, &berr);
    mongoc_database_destroy(d);
    mongoc_collection_destroy(plain);
    mongoc_collection_destroy(plain_up);
    mongoc_client_destroy(client);
    for (int i = 0; i < n; i++)
        bson_destroy(docs[i]);
    free(docs);
    mongoc_cleanup();
    return 0;
}
