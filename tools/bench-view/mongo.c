/* bench-mongo — the target's raw ceiling for the documents tapflow writes,
 * through mongo-c-driver ordered bulk writes, as the sink does.
 *
 *   bench-mongo URI DB FROM TO insert  [BATCH]
 *       reads every document of FROM (with its _id) into memory, then times
 *       inserting them into TO (dropped first, then given FROM's secondary
 *       indexes, as the sink creates them): ordered bulk insert_one
 *   bench-mongo URI DB FROM TO upsert  [BATCH]
 *       the same documents as ordered bulk replace_one({_id}, doc, upsert)
 *       into an emptied TO
 *   bench-mongo URI DB FROM TO replace [BATCH] [N]
 *       N (default 20000) documents of TO replaced again with one field
 *       changed, addressed by _id as the sink addresses them (the CDC case:
 *       whole-document replaces of existing documents)
 *
 *   bench-mongo URI DB COLL ORDER_ID watch [SECONDS] [POLL_MS]
 *       finds the document of ORDER_ID once, then polls findOne({_id})
 *       every POLL_MS (default 5) for SECONDS (default 60) and prints
 *       "<epoch ms> <order_status>" whenever order_status changes (delay
 *       probes: bench.py writes the commit time into it)
 *
 * BATCH is the number of ops per bulk write (FerretDB 1.24 hangs on large
 * update commands: bench.py passes the sink's 32 there). Prints key=value
 * lines: docs, seconds, docs_per_s. */
#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const bson_error_t *e)
{
    fprintf(stderr, "bench-mongo: %s: %s\n", what, e ? e->message : "");
    exit(1);
}

static bson_t **read_all(mongoc_collection_t *from, size_t limit, size_t *count)
{
    bson_t query = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    if (limit)
        BSON_APPEND_INT64(&opts, "limit", (int64_t)limit);
    mongoc_cursor_t *c = mongoc_collection_find_with_opts(from, &query, &opts, NULL);
    size_t n = 0, cap = 1024;
    bson_t **docs = malloc(cap * sizeof *docs);
    const bson_t *doc;
    while (mongoc_cursor_next(c, &doc)) {
        if (n == cap)
            docs = realloc(docs, (cap *= 2) * sizeof *docs);
        docs[n++] = bson_copy(doc);
    }
    bson_error_t e;
    if (mongoc_cursor_error(c, &e))
        fail("reading the documents", &e);
    mongoc_cursor_destroy(c);
    bson_destroy(&query);
    bson_destroy(&opts);
    *count = n;
    return docs;
}

static bson_t *filter_of(const bson_t *doc)
{
    bson_iter_t it;
    bson_t *f = bson_new();
    if (bson_iter_init_find(&it, doc, "_id"))
        bson_append_iter(f, "_id", -1, &it);
    return f;
}

/* Gives TO the secondary indexes FROM has (what the sink created). */
static void copy_indexes(mongoc_client_t *client, const char *db, mongoc_collection_t *from,
                         const char *to_name)
{
    bson_error_t e;
    mongoc_cursor_t *c = mongoc_collection_find_indexes_with_opts(from, NULL);
    bson_t cmd = BSON_INITIALIZER, list;
    BSON_APPEND_UTF8(&cmd, "createIndexes", to_name);
    bson_append_array_begin(&cmd, "indexes", -1, &list);
    const bson_t *spec;
    int n = 0;
    while (mongoc_cursor_next(c, &spec)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
            strcmp(bson_iter_utf8(&it, NULL), "_id_") == 0)
            continue;
        char key[16];
        snprintf(key, sizeof key, "%d", n++);
        bson_t one;
        bson_append_document_begin(&list, key, -1, &one);
        bson_copy_to_excluding_noinit(spec, &one, "v", "ns", NULL);
        bson_append_document_end(&list, &one);
    }
    if (mongoc_cursor_error(c, &e))
        fail("listing the source collection's indexes", &e);
    mongoc_cursor_destroy(c);
    bson_append_array_end(&cmd, &list);
    if (n > 0) {
        mongoc_database_t *d = mongoc_client_get_database(client, db);
        if (!mongoc_database_write_command_with_opts(d, &cmd, NULL, NULL, &e))
            fail("creating the indexes", &e);
        mongoc_database_destroy(d);
    }
    bson_destroy(&cmd);
}

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch(mongoc_client_t *client, const char *db, const char *coll, const char *order_id,
                 double seconds, long poll_ms)
{
    mongoc_collection_t *c = mongoc_client_get_collection(client, db, coll);
    bson_t *by_key = BCON_NEW("order_id", BCON_UTF8(order_id));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "order_status",
                            BCON_INT32(1), "}");
    /* Looked up once by order_id (not indexed on FerretDB), then by _id. */
    bson_t *filter = bson_new();
    mongoc_cursor_t *first = mongoc_collection_find_with_opts(c, by_key, opts, NULL);
    const bson_t *found;
    bson_iter_t id;
    if (!mongoc_cursor_next(first, &found) || !bson_iter_init_find(&id, found, "_id")) {
        fprintf(stderr, "bench-mongo: watch: no document with order_id %s in %s.%s\n", order_id,
                db, coll);
        return 1;
    }
    bson_append_iter(filter, "_id", -1, &id);
    mongoc_cursor_destroy(first);
    bson_destroy(by_key);
    char last[64] = "";
    double end = now_s() + seconds;
    while (now_s() < end) {
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
        const bson_t *doc;
        bson_iter_t it;
        if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "order_status") &&
            BSON_ITER_HOLDS_UTF8(&it)) {
            const char *v = bson_iter_utf8(&it, NULL);
            if (strcmp(v, last) != 0) {
                snprintf(last, sizeof last, "%s", v);
                printf("%lld %s\n", (long long)epoch_ms(), v);
                fflush(stdout);
            }
        }
        mongoc_cursor_destroy(cur);
        struct timespec ts = {poll_ms / 1000, (poll_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    bson_destroy(filter);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench-mongo URI DB FROM TO insert|upsert|replace [BATCH] [N]\n");
        return 2;
    }
    const char *uri = argv[1], *db = argv[2], *from_name = argv[3], *to_name = argv[4],
               *mode = argv[5];
    size_t batch = argc > 6 ? strtoul(argv[6], NULL, 10) : 1000;
    size_t limit = argc > 7 ? strtoul(argv[7], NULL, 10) : 20000;
    mongoc_init();
    bson_error_t e;
    mongoc_client_t *client = mongoc_client_new(uri);
    if (!client)
        fail("bad uri", NULL);
    mongoc_collection_t *from = mongoc_client_get_collection(client, db, from_name);
    mongoc_collection_t *to = mongoc_client_get_collection(client, db, to_name);
    if (strcmp(mode, "watch") == 0)
        return watch(client, db, from_name, to_name, argc > 6 ? atof(argv[6]) : 60.0,
                     argc > 7 ? atol(argv[7]) : 5);
    bool replace = strcmp(mode, "replace") == 0, upsert = strcmp(mode, "upsert") == 0;
    size_t n;
    bson_t **docs = read_all(replace ? to : from, replace ? limit : 0, &n);
    if (!replace) {
        mongoc_collection_drop(to, NULL);
        copy_indexes(client, db, from, to_name);
    } else {
        /* one field changed in every document, as a status update does */
        for (size_t i = 0; i < n; i++) {
            bson_t *d = bson_new();
            bson_copy_to_excluding_noinit(docs[i], d, "order_status", NULL);
            BSON_APPEND_UTF8(d, "order_status", i % 2 ? "shipped" : "invoiced");
            bson_destroy(docs[i]);
            docs[i] = d;
        }
    }
    double t0 = now_s();
    for (size_t i = 0; i < n; i += batch) {
        bson_t bopts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&bopts, "ordered", true);
        mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(to, &bopts);
        for (size_t j = i; j < n && j < i + batch; j++) {
            bool ok;
            if (replace || upsert) {
                bson_t *f = filter_of(docs[j]);
                bson_t o = BSON_INITIALIZER;
                BSON_APPEND_BOOL(&o, "upsert", true);
                ok = mongoc_bulk_operation_replace_one_with_opts(bulk, f, docs[j], &o, &e);
                bson_destroy(&o);
                bson_destroy(f);
            } else {
                ok = mongoc_bulk_operation_insert_with_opts(bulk, docs[j], NULL, &e);
            }
            if (!ok)
                fail("bulk append", &e);
        }
        bson_t reply;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &e))
            fail("bulk write", &e);
        bson_destroy(&reply);
        mongoc_bulk_operation_destroy(bulk);
        bson_destroy(&bopts);
    }
    double s = now_s() - t0;
    printf("docs=%zu\nseconds=%.3f\ndocs_per_s=%.0f\n", n, s, (double)n / s);
    for (size_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    free(docs);
    mongoc_collection_destroy(from);
    mongoc_collection_destroy(to);
    mongoc_client_destroy(client);
    mongoc_cleanup();
    return 0;
}
