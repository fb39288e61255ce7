/* sink_bench.c — the writer against the target, in one run:
 *   - a plain mongoc ordered bulk insert of N order-shaped documents (the
 *     server's ceiling), and tf_sink INSERT ops of the same documents;
 *   - on a collection of N documents, K ops of each kind (replace upserts of
 *     existing keys, $set updates, deletes, inserts of new keys) addressed
 *     by the derived _id (tf_sink_options.id_from_root_key, the default) and
 *     by the root key (the option off), keys spread over the collection;
 *   - K plain replace upserts filtered on {_id, order_id} (what a filter
 *     that also names the root key costs).
 *
 *   sink_bench [URI] [N] [K]   (URI default $TAPFLOW_MONGO_URI, N 10000, K 50)
 *
 * Works in a database of its own (tf_sink_bench_<pid>), dropped at the end.
 * Timings on a shared machine are noisy: run it several times. */
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

static void row(const char *what, int docs, int ops, double seconds)
{
    printf("%-44s %7d %6d %9.3f %9.2f\n", what, docs, ops, seconds, ops / seconds);
    fflush(stdout);
}

static bson_t *order_key(int i)
{
    char id[32];
    snprintf(id, sizeof id, "ORD%08d", i);
    return BCON_NEW("order_id", BCON_UTF8(id));
}

/* Queues one op (the key and document are borrowed and copied). */
static void add(tf_sink *sink, tf_doc_op_kind kind, int key_index, const bson_t *doc)
{
    bson_t *key = order_key(key_index);
    bson_t *set = BCON_NEW("order_status", "canceled");
    tf_doc_op op;
    switch (kind) {
    case TF_DOC_OP_REPLACE: tf_doc_op_replace_borrow(&op, key, doc); break;
    case TF_DOC_OP_INSERT: tf_doc_op_insert_borrow(&op, key, doc); break;
    case TF_DOC_OP_UPDATE: tf_doc_op_update_borrow(&op, key, set, NULL); break;
    case TF_DOC_OP_DELETE:
    default: tf_doc_op_delete_borrow(&op, key); break;
    }
    tf_error err = {0};
    bool ok = tf_sink_add(sink, &op, &err);
    bson_destroy(key);
    bson_destroy(set);
    if (!ok)
        fail("sink add", err.message);
}

static void commit(tf_sink *sink)
{
    tf_error err = {0};
    tf_checkpoint cp = {.gtid = "0-1-1", .flavour = "mariadb"};
    if (!tf_sink_commit(sink, &cp, &err))
        fail("sink commit", err.message);
}

/* The four kinds of op on a collection of n documents, keys spread over
 * it: replace and update key j*n/k, delete key j*n/k + 1, insert keys n+j
 * (new_docs[j]). */
static void ops_on_collection(tf_sink *sink, const char *label, bson_t **docs, bson_t **new_docs,
                              int n, int k)
{
    static const struct {
        tf_doc_op_kind kind;
        const char *name;
    } kinds[] = {{TF_DOC_OP_REPLACE, "replace upsert"},
                 {TF_DOC_OP_UPDATE, "update $set"},
                 {TF_DOC_OP_DELETE, "delete"},
                 {TF_DOC_OP_INSERT, "insert (new key)"}};
    for (size_t t = 0; t < sizeof kinds / sizeof kinds[0]; t++) {
        double t0 = now_s();
        for (int j = 0; j < k; j++) {
            int i = (int)((int64_t)j * n / k);
            switch (kinds[t].kind) {
            case TF_DOC_OP_DELETE: add(sink, TF_DOC_OP_DELETE, i + 1, NULL); break;
            case TF_DOC_OP_INSERT: add(sink, TF_DOC_OP_INSERT, n + j, new_docs[j]); break;
            default: add(sink, kinds[t].kind, i, docs[i]); break;
            }
        }
        commit(sink);
        char what[96];
        snprintf(what, sizeof what, "%s, by %s", kinds[t].name, label);
        row(what, n, k, now_s() - t0);
    }
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TAPFLOW_MONGO_URI");
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    int k = argc > 3 ? atoi(argv[3]) : 50;
    if (base == NULL || n <= 1 || k <= 0 || k > n / 2) {
        fprintf(stderr, "usage: sink_bench [URI] [N > 1] [K <= N/2] (or set TAPFLOW_MONGO_URI)\n");
        return 2;
    }
    mongoc_init();
    char db[64], uri[512];
    snprintf(db, sizeof db, "tf_sink_bench_%ld", (long)getpid());
    mongoc_uri_t *u = mongoc_uri_new(base);
    if (u == NULL)
        fail("URI", "invalid");
    const mongoc_host_list_t *h = mongoc_uri_get_hosts(u);
    snprintf(uri, sizeof uri, "mongodb://%s/%s?socketTimeoutMS=600000", h->host_and_port, db);
    mongoc_uri_destroy(u);

    const char *const key[] = {"order_id"};
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = uri;
    o.root_key_fields = key;
    o.n_root_key_fields = 1;
    o.fanout = TF_FANOUT_FORCE_RECOMPUTE;
    o.collection = "orders_by_id";
    o.flow = "bench_by_id";
    tf_error err = {0};
    double t0 = now_s();
    tf_sink *by_id = tf_sink_open(&o, &err);
    double open_s = now_s() - t0;
    if (by_id == NULL)
        fail("open", err.message);
    bool decimal = tf_sink_supports_decimal128(by_id);

    bson_t **docs = malloc((size_t)(n + k) * sizeof *docs);
    size_t bytes = 0;
    for (int i = 0; i < n + k; i++) {
        docs[i] = make_order(i, decimal);
        bytes += docs[i]->len;
    }
    printf("%-44s %7s %6s %9s %9s\n", "path", "docs", "ops", "seconds", "ops/s");

    /* The ceiling: one ordered bulk of plain inserts. */
    mongoc_client_t *client = mongoc_client_new(uri);
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    mongoc_collection_t *plain = mongoc_client_get_collection(client, db, "orders_plain");
    bson_t *bopts = BCON_NEW("ordered", BCON_BOOL(true));
    bson_error_t berr;
    bson_t reply;
    t0 = now_s();
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(plain, bopts);
    for (int i = 0; i < n; i++)
        mongoc_bulk_operation_insert_with_opts(bulk, docs[i], NULL, NULL);
    if (!mongoc_bulk_operation_execute(bulk, &reply, &berr))
        fail("plain insert", berr.message);
    row("mongoc bulk insert (ordered, one bulk)", 0, n, now_s() - t0);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(bopts);

    /* The same documents through the writer, both addressings. */
    o.id_from_root_key = false;
    o.collection = "orders_by_key";
    o.flow = "bench_by_key";
    tf_sink *by_key = tf_sink_open(&o, &err);
    if (by_key == NULL)
        fail("open", err.message);
    tf_sink *sinks[] = {by_id, by_key};
    const char *labels[] = {"derived _id", "root key"};
    for (int s = 0; s < 2; s++) {
        t0 = now_s();
        for (int i = 0; i < n; i++)
            add(sinks[s], TF_DOC_OP_INSERT, i, docs[i]);
        commit(sinks[s]);
        char what[96];
        snprintf(what, sizeof what, "tf_sink insert ops, %s", labels[s]);
        row(what, 0, n, now_s() - t0);
    }
    for (int s = 0; s < 2; s++)
        ops_on_collection(sinks[s], labels[s], docs, docs + n, n, k);

    /* {_id, order_id}: the filter that would also catch a hash collision. */
    mongoc_collection_t *with_id = mongoc_client_get_collection(client, db, "orders_by_id");
    bson_t *up = BCON_NEW("upsert", BCON_BOOL(true));
    t0 = now_s();
    for (int j = 0; j < k; j++) {
        int i = (int)((int64_t)j * n / k) + 2;
        bson_t *filter = order_key(i);
        bson_oid_t id;
        if (!tf_sink_derive_id(filter, &id, &err))
            fail("derive", err.message);
        bson_t *both = bson_new();
        BSON_APPEND_OID(both, "_id", &id);
        bson_concat(both, filter);
        if (!mongoc_collection_replace_one(with_id, both, docs[i], up, NULL, &berr))
            fail("replace by {_id, order_id}", berr.message);
        bson_destroy(both);
        bson_destroy(filter);
    }
    row("mongoc replace upsert by {_id, order_id}", n, k, now_s() - t0);
    bson_destroy(up);
    mongoc_collection_destroy(with_id);

    printf("%d order documents, %.0f bytes each on average, at %s\n", n, (double)bytes / (n + k),
           uri);
    printf("tf_sink_open (ping, index, probes, _id check): %.1f ms\n", open_s * 1e3);

    tf_sink_destroy(by_id);
    tf_sink_destroy(by_key);
    mongoc_database_t *d = mongoc_client_get_database(client, db);
    mongoc_database_drop(d, &berr);
    mongoc_database_destroy(d);
    mongoc_collection_destroy(plain);
    mongoc_client_destroy(client);
    for (int i = 0; i < n + k; i++)
        bson_destroy(docs[i]);
    free(docs);
    mongoc_cleanup();
    return 0;
}
