/* checkpoint.c — one document per flow in the checkpoint collection
 * (sink.h section 3). Written with an upsert after the batch it covers is
 * acknowledged; `created` is set once ($setOnInsert), everything else on
 * every commit. */
#include "sink_internal.h"
#include "tf_version.h"

#include <string.h>
#include <time.h>

#define TAPFLOW_VERSION TF_RELEASE

const char *tf_tapflow_version(void) { return TAPFLOW_VERSION; }

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void append_utf8_or_null(bson_t *doc, const char *key, const char *value)
{
    if (value != NULL)
        bson_append_utf8(doc, key, -1, value, -1);
    else
        bson_append_null(doc, key, -1);
}

typedef struct checkpoint_write {
    const bson_t *filter;
    const bson_t *update;
} checkpoint_write;

static bool checkpoint_attempt(tf_sink *sink, void *ctx, bson_t *reply, bson_error_t *error)
{
    checkpoint_write *w = ctx;
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "upsert", true);
    sink_append_write_concern(sink, &opts);
    bson_destroy(reply);
    bool ok =
        mongoc_collection_update_one(sink->checkpoints, w->filter, w->update, &opts, reply, error);
    bson_destroy(&opts);
    return ok;
}

bool sink_checkpoint_write(tf_sink *sink, const tf_checkpoint *cp, int64_t seq, tf_error *err)
{
    int64_t now = now_ms();
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", sink->flow);
    bson_t update = BSON_INITIALIZER, set, counts, on_insert;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    append_utf8_or_null(&set, "gtid", cp->gtid);
    append_utf8_or_null(&set, "flavour", cp->flavour);
    append_utf8_or_null(&set, "server_uuid", cp->server_uuid);
    BSON_APPEND_INT64(&set, "server_id", (int64_t)cp->server_id);
    append_utf8_or_null(&set, "binlog_file", cp->binlog_file);
    BSON_APPEND_INT64(&set, "binlog_position", (int64_t)cp->binlog_position);
    append_utf8_or_null(&set, "spec_hash", cp->spec_hash);
    BSON_APPEND_DOCUMENT_BEGIN(&set, "counts", &counts);
    BSON_APPEND_INT64(&counts, "rows", (int64_t)cp->rows);
    BSON_APPEND_INT64(&counts, "transactions", (int64_t)cp->transactions);
    BSON_APPEND_INT64(&counts, "documents", (int64_t)sink->documents_total);
    bson_append_document_end(&set, &counts);
    BSON_APPEND_INT64(&set, "seq", seq);
    BSON_APPEND_DATE_TIME(&set, "updated", now);
    BSON_APPEND_UTF8(&set, "tapflow_version", TAPFLOW_VERSION);
    bson_append_document_end(&update, &set);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$setOnInsert", &on_insert);
    BSON_APPEND_DATE_TIME(&on_insert, "created", now);
    bson_append_document_end(&update, &on_insert);

    checkpoint_write w = {&filter, &update};
    bson_t reply = BSON_INITIALIZER;
    bson_error_t error;
    bool ok = sink_with_retries(sink, checkpoint_attempt, &w, &reply, &error);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what, "writing checkpoint of flow \"%s\" to %s.%s", sink->flow,
                 sink->database, sink->checkpoint_collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    bson_destroy(&reply);
    bson_destroy(&filter);
    bson_destroy(&update);
    return ok;
}

static const char *dup_utf8(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it) &&
        BSON_ITER_HOLDS_UTF8(&it))
        return bson_strdup(bson_iter_utf8(&it, NULL));
    return NULL;
}

static int64_t get_int(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it) &&
        (BSON_ITER_HOLDS_INT(&it) || BSON_ITER_HOLDS_DOUBLE(&it)))
        return bson_iter_as_int64(&it);
    return 0;
}

static int64_t get_date(const bson_t *doc, const char *path)
{
    bson_iter_t it;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it))
        return bson_iter_date_time(&it);
    return 0;
}

bool tf_sink_checkpoint_read(tf_sink *sink, tf_checkpoint *out, bool *found, tf_error *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", sink->flow);
    mongoc_cursor_t *cursor =
        mongoc_collection_find_with_opts(sink->checkpoints, &filter, NULL, NULL);
    const bson_t *doc = NULL;
    if (mongoc_cursor_next(cursor, &doc)) {
        *found = true;
        out->gtid = dup_utf8(doc, "gtid");
        out->flavour = dup_utf8(doc, "flavour");
        out->server_uuid = dup_utf8(doc, "server_uuid");
        out->server_id = (uint32_t)get_int(doc, "server_id");
        out->binlog_file = dup_utf8(doc, "binlog_file");
        out->binlog_position = (uint64_t)get_int(doc, "binlog_position");
        out->spec_hash = dup_utf8(doc, "spec_hash");
        out->rows = (uint64_t)get_int(doc, "counts.rows");
        out->transactions = (uint64_t)get_int(doc, "counts.transactions");
        out->documents = (uint64_t)get_int(doc, "counts.documents");
        out->seq = get_int(doc, "seq");
        out->created_ms = get_date(doc, "created");
        out->updated_ms = get_date(doc, "updated");
        out->version = dup_utf8(doc, "tapflow_version");
    }
    bson_error_t error;
    bool ok = !mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(&filter);
    if (!ok) {
        tf_checkpoint_cleanup(out);
        *found = false;
        char what[256];
        snprintf(what, sizeof what, "reading checkpoint of flow \"%s\" from %s.%s", sink->flow,
                 sink->database, sink->checkpoint_collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

void tf_checkpoint_cleanup(tf_checkpoint *cp)
{
    /* Only checkpoints filled by tf_sink_checkpoint_read own their strings. */
    const char *owned[] = {cp->gtid,        cp->flavour,   cp->server_uuid,
                           cp->binlog_file, cp->spec_hash, cp->version};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        bson_free((char *)owned[i]);
    memset(cp, 0, sizeof *cp);
}
