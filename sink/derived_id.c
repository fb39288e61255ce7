/* derived_id.c — a document's _id from its root key (sink.h section 2,
 * "Addressing by _id"): the canonical key, its SHA-256, the op rewritten to
 * {_id: X}, and the check at open that a collection was written so. */
#include "sink_internal.h"

#include <openssl/evp.h>
#include <string.h>

/* The key with int32 values widened to int64, other values as they are. */
static bool canonical_key(const bson_t *key, bson_t *out, tf_error *err)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, key)) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "root key is not a valid BSON document");
        return false;
    }
    bson_init(out);
    size_t n = 0;
    while (bson_iter_next(&it)) {
        const char *name = bson_iter_key(&it);
        if (strcmp(name, "_id") == 0) {
            bson_destroy(out);
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "root key names _id, which the sink derives from the root key "
                         "(turn id_from_root_key off to address documents by a given _id)");
            return false;
        }
        if (BSON_ITER_HOLDS_INT32(&it))
            BSON_APPEND_INT64(out, name, bson_iter_int32(&it));
        else
            bson_append_iter(out, name, -1, &it);
        n++;
    }
    if (n == 0) {
        bson_destroy(out);
        tf_error_set(err, TF_ERR_CONFIG, 0, "root key is empty: no _id can be derived from it");
        return false;
    }
    return true;
}

bool tf_sink_derive_id(const bson_t *root_key, bson_oid_t *out, tf_error *err)
{
    bson_t canonical;
    if (!canonical_key(root_key, &canonical, err))
        return false;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    bool ok = EVP_Digest(bson_get_data(&canonical), canonical.len, digest, &digest_len,
                         EVP_sha256(), NULL) == 1 &&
              digest_len >= sizeof out->bytes;
    bson_destroy(&canonical);
    if (!ok) {
        tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "SHA-256 of a root key failed (OpenSSL)");
        return false;
    }
    memcpy(out->bytes, digest, sizeof out->bytes);
    return true;
}

/* document with {_id: id} in front; refuses one that holds an _id of its
 * own (the caller would expect it kept). */
static bson_t *document_with_id(const bson_t *document, const bson_oid_t *id, tf_error *err)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, document, "_id")) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "document holds an _id, which the sink derives from the root key (leave "
                     "_id out, or turn id_from_root_key off)");
        return NULL;
    }
    bson_t *out = bson_sized_new(document->len + 17);
    BSON_APPEND_OID(out, "_id", id);
    bson_concat(out, document);
    return out;
}

bool sink_op_address_by_id(pending_op *p, tf_error *err)
{
    tf_doc_op *op = &p->op;
    if (op->kind == TF_DOC_OP_UPDATE_MANY)
        return true;
    bson_oid_t id;
    if (!tf_sink_derive_id(op->filter, &id, err))
        return false;
    bson_t *document = NULL;
    if (op->document != NULL && (document = document_with_id(op->document, &id, err)) == NULL)
        return false;
    /* The op owns its BSON here (op_take): swap in the new filter and
     * document, keep the root key for messages. */
    p->root_key = (bson_t *)op->filter;
    bson_t *filter = bson_sized_new(22);
    BSON_APPEND_OID(filter, "_id", &id);
    op->filter = filter;
    if (document != NULL) {
        bson_destroy((bson_t *)op->document);
        op->document = document;
    }
    return true;
}

/* The root key of a stored document, named as the view names it. */
static bool stored_root_key(const tf_sink *sink, const bson_t *doc, bson_t *key)
{
    bson_init(key);
    for (size_t i = 0; i < sink->opts.n_root_key_fields; i++) {
        const char *field = sink->root_key_fields[i];
        bson_iter_t it;
        if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, field, &it)) {
            bson_destroy(key);
            return false;
        }
        bson_append_iter(key, field, -1, &it);
    }
    return true;
}

/* How many stored documents the check at open looks at: enough to catch a
 * collection written before ids were derived (every document then has a
 * server-chosen _id), cheap on a server that scans. */
#define SAMPLE_DOCUMENTS 16

bool sink_check_stored_ids(tf_sink *sink, tf_error *err)
{
    if (!sink->opts.id_from_root_key || sink->opts.n_root_key_fields == 0)
        return true;
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("limit", BCON_INT64(SAMPLE_DOCUMENTS));
    mongoc_cursor_t *cursor =
        mongoc_collection_find_with_opts(sink->collection, &filter, opts, NULL);
    bson_destroy(opts);
    const bson_t *doc;
    bool ok = true;
    while (ok && mongoc_cursor_next(cursor, &doc)) {
        bson_t key;
        bson_iter_t it;
        if (!stored_root_key(sink, doc, &key))
            continue; /* not a document of this flow's shape: not ours to judge */
        bson_oid_t expected;
        tf_error derive_err = {0};
        if (tf_sink_derive_id(&key, &expected, &derive_err) &&
            !(bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it) &&
              bson_oid_equal(bson_iter_oid(&it), &expected))) {
            char *key_json = bson_as_relaxed_extended_json(&key, NULL);
            char *id_json = NULL;
            if (bson_iter_init_find(&it, doc, "_id")) {
                bson_t id_doc = BSON_INITIALIZER;
                bson_append_iter(&id_doc, "_id", -1, &it);
                id_json = bson_as_relaxed_extended_json(&id_doc, NULL);
                bson_destroy(&id_doc);
            }
            char expected_hex[25];
            bson_oid_to_string(&expected, expected_hex);
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "collection %s.%s holds documents whose _id is not derived from "
                         "their root key (%.200s has %.100s, expected ObjectId(\"%s\")): they "
                         "were written by a tapflow that let the server choose _id, and "
                         "this one addresses documents by the derived _id; drop the "
                         "collection (mongosh: db.getSiblingDB(\"%s\").%s.drop()) and "
                         "restart with --resnapshot",
                         sink->database, sink->collection_name, key_json,
                         id_json != NULL ? id_json : "no _id", expected_hex, sink->database,
                         sink->collection_name);
            bson_free(key_json);
            bson_free(id_json);
            ok = false;
        }
        bson_destroy(&key);
    }
    bson_error_t error;
    if (ok && mongoc_cursor_error(cursor, &error)) {
        char what[256];
        snprintf(what, sizeof what, "reading documents of %s.%s to check their _id", sink->database,
                 sink->collection_name);
        sink_error_from_driver(sink, err, &error, what);
        ok = false;
    }
    mongoc_cursor_destroy(cursor);
    return ok;
}
