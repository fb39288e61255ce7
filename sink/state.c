/* state.c — named binary chunks of view state kept with the checkpoint
 * (sink.h section 4).
 *
 * Two slots per chunk: a commit writes slot (seq % 2), then the checkpoint
 * with that seq. Until the checkpoint lands, the other slot still holds the
 * chunk of the stored checkpoint, so a crash in between never pairs a
 * checkpoint with state from a later position. Each chunk records its seq;
 * a read accepts only the chunk whose seq is the stored checkpoint's.
 *
 * Generation chunks carry the bulk of the state (the view's rows, change
 * journals): they are written at once and never paired with a seq, so the
 * caller names them where no stored checkpoint looks (a new generation, a
 * journal number past the stored one) and records what to read in a
 * slotted chunk. */
#include "sink_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A chunk's _id is a string: FerretDB pushes a filter down to its backend
 * only when it is {_id: <string or ObjectId>}, and any other filter reads
 * (and parses) every chunk of the collection, hundreds of megabytes. The
 * flow name is length-prefixed so that no two (flow, kind, chunk) triples
 * share an _id; flow, gen or slot, and chunk are also plain fields, for
 * the rare filter over many chunks (drop). */
static void state_id(bson_t *doc, const tf_sink *sink, char kind, int64_t number, const char *chunk)
{
    char *id = bson_strdup_printf("%zu:%s/%c%" PRId64 "/%s", strlen(sink->flow), sink->flow, kind,
                                  number, chunk);
    BSON_APPEND_UTF8(doc, "_id", id);
    bson_free(id);
}

static void chunk_id(bson_t *doc, const char *key, const tf_sink *sink, const char *chunk,
                     int32_t slot)
{
    if (strcmp(key, "_id") == 0) {
        state_id(doc, sink, 's', slot, chunk);
        return;
    }
    BSON_APPEND_UTF8(doc, "flow", sink->flow);
    BSON_APPEND_INT32(doc, "slot", slot);
    BSON_APPEND_UTF8(doc, "chunk", chunk);
}

bool tf_sink_state_put(tf_sink *sink, const char *chunk, const uint8_t *data, size_t len,
                       tf_error *err)
{
    if (len >= TF_STATE_CHUNK_MAX) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "state chunk \"%s\" of flow \"%s\" is %zu bytes, over the %zu-byte limit of "
                     "one MongoDB document: split it",
                     chunk, sink->flow, len, TF_STATE_CHUNK_MAX);
        return false;
    }
    staged_chunk *slot = NULL;
    for (size_t i = 0; i < sink->n_chunks; i++)
        if (strcmp(sink->chunks[i].name, chunk) == 0)
            slot = &sink->chunks[i];
    if (slot == NULL) {
        if (sink->n_chunks == sink->cap_chunks) {
            sink->cap_chunks = sink->cap_chunks ? sink->cap_chunks * 2 : 8;
            sink->chunks = bson_realloc(sink->chunks, sink->cap_chunks * sizeof *sink->chunks);
        }
        slot = &sink->chunks[sink->n_chunks++];
        slot->name = bson_strdup(chunk);
    } else {
        bson_free(slot->data);
    }
    slot->data = bson_malloc(len > 0 ? len : 1);
    if (len > 0)
        memcpy(slot->data, data, len);
    slot->len = len;
    return true;
}

typedef struct chunk_write {
    const bson_t *filter;
    const bson_t *document;
} chunk_write;

static bool chunk_attempt(tf_sink *sink, void *ctx, bson_t *reply, bson_error_t *error)
{
    chunk_write *w = ctx;
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "upsert", true);
    sink_append_write_concern(sink, &opts);
    bson_destroy(reply);
    bool ok =
        mongoc_collection_replace_one(sink->state, w->filter, w->document, &opts, reply, error);
    bson_destroy(&opts);
    return ok;
}

/* Upserts doc where filter matches, with the sink's retries; destroys
 * filter and doc either way. */
static bool write_chunk(tf_sink *sink, bson_t *filter, bson_t *doc, bson_error_t *error)
{
    chunk_write w = {filter, doc};
    bson_t reply = BSON_INITIALIZER;
    bool ok = sink_with_retries(sink, chunk_attempt, &w, &reply, error);
    bson_destroy(&reply);
    bson_destroy(filter);
    bson_destroy(doc);
    return ok;
}

bool sink_state_write_staged(tf_sink *sink, int64_t seq, tf_error *err)
{
    int32_t slot = (int32_t)(seq % 2);
    for (size_t i = 0; i < sink->n_chunks; i++) {
        const staged_chunk *c = &sink->chunks[i];
        bson_t filter = BSON_INITIALIZER, doc = BSON_INITIALIZER;
        chunk_id(&filter, "_id", sink, c->name, slot);
        chunk_id(&doc, "_id", sink, c->name, slot);
        chunk_id(&doc, "fields", sink, c->name, slot);
        BSON_APPEND_INT64(&doc, "seq", seq);
        BSON_APPEND_BINARY(&doc, "data", BSON_SUBTYPE_BINARY, c->data, (uint32_t)c->len);
        bson_error_t error;
        bool ok = write_chunk(sink, &filter, &doc, &error);
        if (!ok) {
            char what[256];
            snprintf(what, sizeof what, "writing state chunk \"%s\" of flow \"%s\" to %s.%s",
                     c->name, sink->flow, sink->database, sink->state_collection_name);
            sink_error_from_driver(sink, err, &error, what);
            return false;
        }
    }
    for (size_t i = 0; i < sink->n_chunks; i++) {
        bson_free(sink->chunks[i].name);
        bson_free(sink->chunks[i].data);
    }
    sink->n_chunks = 0;
    return true;
}

/* Copies the "data" of the first state document filter matches into *data
 * (the caller frees it); *found stays false when there is none, it has no
 * binary data, or (seq not NULL) its "seq" is not *seq. false on a driver
 * error, with error set and nothing returned. */
static bool find_chunk_data(tf_sink *sink, const bson_t *filter, const int64_t *seq, uint8_t **data,
                            size_t *len, bool *found, bson_error_t *error)
{
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(sink->state, filter, NULL, NULL);
    const bson_t *doc = NULL;
    if (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        bool seq_matches =
            seq == NULL || (bson_iter_init_find(&it, doc, "seq") && BSON_ITER_HOLDS_INT(&it) &&
                            bson_iter_as_int64(&it) == *seq);
        if (seq_matches && bson_iter_init_find(&it, doc, "data") && BSON_ITER_HOLDS_BINARY(&it)) {
            const uint8_t *bytes = NULL;
            uint32_t n = 0;
            bson_iter_binary(&it, NULL, &n, &bytes);
            *data = malloc(n > 0 ? n : 1);
            if (n > 0)
                memcpy(*data, bytes, n);
            *len = n;
            *found = true;
        }
    }
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    if (!ok) {
        free(*data);
        *data = NULL;
        *len = 0;
        *found = false;
    }
    return ok;
}

bool tf_sink_state_get(tf_sink *sink, const char *chunk, uint8_t **data, size_t *len, bool *found,
                       tf_error *err)
{
    *data = NULL;
    *len = 0;
    *found = false;
    int64_t seq = sink->checkpoint_seq;
    if (seq == 0)
        return true;
    bson_t filter = BSON_INITIALIZER;
    chunk_id(&filter, "_id", sink, chunk, (int32_t)(seq % 2));
    bson_error_t error;
    bool ok = find_chunk_data(sink, &filter, &seq, data, len, found, &error);
    bson_destroy(&filter);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what, "reading state chunk \"%s\" of flow \"%s\" from %s.%s", chunk,
                 sink->flow, sink->database, sink->state_collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

bool tf_sink_state_drop(tf_sink *sink, tf_error *err)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "flow", sink->flow);
    bson_t opts = BSON_INITIALIZER;
    sink_append_write_concern(sink, &opts);
    bson_error_t error;
    bool ok = mongoc_collection_delete_many(sink->state, &filter, &opts, NULL, &error);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what, "dropping the state chunks of flow \"%s\"", sink->flow);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

/* ---- generation chunks: bulk state written at once ---- */

static void generation_id(bson_t *doc, const tf_sink *sink, int64_t generation, const char *chunk,
                          bool with_fields)
{
    state_id(doc, sink, 'g', generation, chunk);
    if (!with_fields)
        return;
    BSON_APPEND_UTF8(doc, "flow", sink->flow);
    BSON_APPEND_INT64(doc, "gen", generation);
    BSON_APPEND_UTF8(doc, "chunk", chunk);
}

bool tf_sink_state_write(tf_sink *sink, int64_t generation, const char *chunk, const uint8_t *data,
                         size_t len, tf_error *err)
{
    if (len >= TF_STATE_CHUNK_MAX) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "state chunk \"%s\" of flow \"%s\" is %zu bytes, over the %zu-byte limit of "
                     "one MongoDB document: split it",
                     chunk, sink->flow, len, TF_STATE_CHUNK_MAX);
        return false;
    }
    bson_t filter = BSON_INITIALIZER, doc = BSON_INITIALIZER;
    generation_id(&filter, sink, generation, chunk, false);
    generation_id(&doc, sink, generation, chunk, true);
    BSON_APPEND_BINARY(&doc, "data", BSON_SUBTYPE_BINARY, data, (uint32_t)len);
    bson_error_t error;
    bool ok = write_chunk(sink, &filter, &doc, &error);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what,
                 "writing state chunk \"%s\" (generation %" PRId64 ") of flow \"%s\" to %s.%s",
                 chunk, generation, sink->flow, sink->database, sink->state_collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

bool tf_sink_state_read(tf_sink *sink, int64_t generation, const char *chunk, uint8_t **data,
                        size_t *len, bool *found, tf_error *err)
{
    *data = NULL;
    *len = 0;
    *found = false;
    bson_t filter = BSON_INITIALIZER;
    generation_id(&filter, sink, generation, chunk, false);
    bson_error_t error;
    bool ok = find_chunk_data(sink, &filter, NULL, data, len, found, &error);
    bson_destroy(&filter);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what,
                 "reading state chunk \"%s\" (generation %" PRId64 ") of flow \"%s\" from %s.%s",
                 chunk, generation, sink->flow, sink->database, sink->state_collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

bool tf_sink_state_read_all(tf_sink *sink, int64_t generation, tf_sink_state_chunk_fn fn, void *arg,
                            tf_error *err)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "flow", sink->flow);
    BSON_APPEND_INT64(&filter, "gen", generation);
    /* Two chunks (at most 32 MiB) per batch: FerretDB answers a find with
     * every document in its first batch, and a reply over the driver's
     * 48 MB message limit failed the resume of any state past it (1M
     * orders: 424 MB). */
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT32(&opts, "batchSize", 2);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(sink->state, &filter, &opts, NULL);
    bson_destroy(&opts);
    const bson_t *doc = NULL;
    bool ok = true;
    while (ok && mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it, data;
        if (!bson_iter_init_find(&it, doc, "chunk") || !BSON_ITER_HOLDS_UTF8(&it) ||
            !bson_iter_init_find(&data, doc, "data") || !BSON_ITER_HOLDS_BINARY(&data))
            continue;
        const uint8_t *bytes = NULL;
        uint32_t n = 0;
        bson_iter_binary(&data, NULL, &n, &bytes);
        ok = fn(bson_iter_utf8(&it, NULL), bytes, n, arg, err);
    }
    bson_error_t error;
    if (ok && mongoc_cursor_error(cursor, &error)) {
        char what[256];
        snprintf(what, sizeof what,
                 "reading the state chunks (generation %" PRId64 ") of flow \"%s\" from %s.%s",
                 generation, sink->flow, sink->database, sink->state_collection_name);
        sink_error_from_driver(sink, err, &error, what);
        ok = false;
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(&filter);
    return ok;
}

static bool delete_state(tf_sink *sink, const bson_t *filter, const char *what, tf_error *err)
{
    bson_t opts = BSON_INITIALIZER;
    sink_append_write_concern(sink, &opts);
    bson_error_t error;
    bool ok = mongoc_collection_delete_many(sink->state, filter, &opts, NULL, &error);
    bson_destroy(&opts);
    if (!ok)
        sink_error_from_driver(sink, err, &error, what);
    return ok;
}

bool tf_sink_state_remove(tf_sink *sink, int64_t generation, const char *chunk, tf_error *err)
{
    bson_t filter = BSON_INITIALIZER;
    generation_id(&filter, sink, generation, chunk, false);
    char what[256];
    snprintf(what, sizeof what,
             "removing state chunk \"%s\" (generation %" PRId64 ") of flow \"%s\"", chunk,
             generation, sink->flow);
    bool ok = delete_state(sink, &filter, what, err);
    bson_destroy(&filter);
    return ok;
}

/* ---- the target as a whole ---- */

bool tf_sink_documents_exist(tf_sink *sink, bool *exist, tf_error *err)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_cursor_t *cursor =
        mongoc_collection_find_with_opts(sink->collection, &filter, &opts, NULL);
    const bson_t *doc;
    *exist = mongoc_cursor_next(cursor, &doc);
    bson_error_t error;
    bool ok = !mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!ok) {
        char what[256];
        snprintf(what, sizeof what, "looking for documents in %s.%s", sink->database,
                 sink->collection_name);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

/* The server's code for a collection that does not exist. */
#define NAMESPACE_NOT_FOUND 26

bool tf_sink_reset(tf_sink *sink, tf_error *err)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", sink->flow);
    sink_append_write_concern(sink, &opts);
    bson_error_t error;
    char what[256];
    bool ok = mongoc_collection_delete_one(sink->checkpoints, &filter, &opts, NULL, &error);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!ok) {
        snprintf(what, sizeof what, "removing the checkpoint of flow \"%s\"", sink->flow);
        sink_error_from_driver(sink, err, &error, what);
        return false;
    }
    sink->checkpoint_seq = 0;
    sink->documents_total = 0;
    if (!tf_sink_state_drop(sink, err))
        return false;
    if (!mongoc_collection_drop(sink->collection, &error) && error.code != NAMESPACE_NOT_FOUND &&
        !strstr(error.message, "ns not found")) {
        snprintf(what, sizeof what, "dropping %s.%s", sink->database, sink->collection_name);
        sink_error_from_driver(sink, err, &error, what);
        return false;
    }
    return true;
}
