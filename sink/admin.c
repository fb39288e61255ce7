/* admin.c — what a shell asks a MongoDB server (sink.h section 6): is it
 * there, how many documents, a few of them, which collections, and the
 * flow registry (tapflow_flows). One client, blocking calls, every error
 * naming the server by its redacted address. */
#include "sink_internal.h"

#include <stdlib.h>
#include <string.h>

struct tf_admin {
    mongoc_client_t *client;
    char uri_redacted[TF_SINK_URI_MAX];
};

static void admin_error(const tf_admin *a, tf_error *err, const bson_error_t *error,
                        const char *what)
{
    tf_error_set(err, TF_ERR_TARGET, error->code, "%s on %s: %s", what, a->uri_redacted,
                 error->message);
}

tf_admin *tf_admin_open(const char *uri_text, int32_t server_selection_timeout_ms, tf_error *err)
{
    sink_driver_init();
    tf_admin *a = bson_malloc0(sizeof *a);
    tf_sink_redact_uri(uri_text, a->uri_redacted, sizeof a->uri_redacted);
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, &error);
    if (!uri) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "MongoDB URI %s is invalid: %s", a->uri_redacted,
                     error.message);
        bson_free(a);
        return NULL;
    }
    int32_t timeout = server_selection_timeout_ms > 0 ? server_selection_timeout_ms : 5000;
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout);
    a->client = mongoc_client_new_from_uri_with_error(uri, &error);
    mongoc_uri_destroy(uri);
    if (!a->client) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "MongoDB URI %s: %s", a->uri_redacted, error.message);
        bson_free(a);
        return NULL;
    }
    mongoc_client_set_error_api(a->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(a->client, "tapflow-admin");
    return a;
}

void tf_admin_destroy(tf_admin *a)
{
    if (!a)
        return;
    mongoc_client_destroy(a->client);
    bson_free(a);
}

const char *tf_admin_redacted_uri(const tf_admin *a) { return a->uri_redacted; }

bool tf_admin_ping(tf_admin *a, char *version, size_t cap, tf_error *err)
{
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_client_command_simple(a->client, "admin", cmd, NULL, &reply, &error);
    bson_destroy(cmd);
    if (!ok) {
        bson_destroy(&reply);
        tf_error_set(err, TF_ERR_TARGET, error.code, "MongoDB %s unreachable: %s", a->uri_redacted,
                     error.message);
        return false;
    }
    bson_iter_t it;
    const char *server = bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it)
                             ? bson_iter_utf8(&it, NULL)
                             : "?";
    if (bson_iter_init_find(&it, &reply, "ferretdbVersion") && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(version, cap, "%s (FerretDB %s)", server, bson_iter_utf8(&it, NULL));
    else
        snprintf(version, cap, "%s", server);
    bson_destroy(&reply);
    return true;
}

/* count_documents (filter {}) or, estimated, the count command. */
static bool count(tf_admin *a, const char *db, const char *collection, bool estimated, int64_t *out,
                  tf_error *err)
{
    mongoc_collection_t *c = mongoc_client_get_collection(a->client, db, collection);
    bson_t filter = BSON_INITIALIZER;
    bson_error_t error;
    int64_t n = estimated ? mongoc_collection_estimated_document_count(c, NULL, NULL, NULL, &error)
                          : mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &error);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    if (n < 0) {
        char what[300];
        snprintf(what, sizeof what, "counting %.120s.%.120s", db, collection);
        admin_error(a, err, &error, what);
        return false;
    }
    *out = n;
    return true;
}

bool tf_admin_count(tf_admin *a, const char *db, const char *collection, int64_t *out,
                    tf_error *err)
{
    return count(a, db, collection, false, out, err);
}

bool tf_admin_count_all(tf_admin *a, const char *db, const char *collection, int64_t *out,
                        tf_error *err)
{
    return count(a, db, collection, true, out, err);
}

const char *tf_bson_type_name(bson_type_t type)
{
    switch (type) {
    case BSON_TYPE_DOUBLE: return "double";
    case BSON_TYPE_UTF8: return "string";
    case BSON_TYPE_DOCUMENT: return "object";
    case BSON_TYPE_ARRAY: return "array";
    case BSON_TYPE_BINARY: return "binary";
    case BSON_TYPE_OID: return "objectId";
    case BSON_TYPE_BOOL: return "bool";
    case BSON_TYPE_DATE_TIME: return "date";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_INT32: return "int";
    case BSON_TYPE_INT64: return "long";
    case BSON_TYPE_DECIMAL128: return "decimal";
    case BSON_TYPE_TIMESTAMP: return "timestamp";
    default: return "other";
    }
}

bool tf_admin_find(tf_admin *a, const char *db, const char *collection, const bson_t *filter,
                   int64_t limit, tf_admin_doc_fn fn, void *arg, tf_error *err)
{
    mongoc_collection_t *c = mongoc_client_get_collection(a->client, db, collection);
    bson_t empty = BSON_INITIALIZER;
    bson_t opts = BSON_INITIALIZER;
    if (limit > 0)
        BSON_APPEND_INT64(&opts, "limit", limit);
    mongoc_cursor_t *cursor =
        mongoc_collection_find_with_opts(c, filter ? filter : &empty, &opts, NULL);
    const bson_t *doc;
    bool more = true;
    while (more && mongoc_cursor_next(cursor, &doc))
        more = fn(doc, arg);
    bson_error_t error;
    bool ok = !mongoc_cursor_error(cursor, &error);
    if (!ok) {
        char what[300];
        snprintf(what, sizeof what, "reading %.120s.%.120s", db, collection);
        admin_error(a, err, &error, what);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(&opts);
    bson_destroy(&empty);
    mongoc_collection_destroy(c);
    return ok;
}

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

bool tf_admin_list_collections(tf_admin *a, const char *db, tf_admin_name_fn fn, void *arg,
                               tf_error *err)
{
    mongoc_database_t *d = mongoc_client_get_database(a->client, db);
    bson_error_t error;
    char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &error);
    mongoc_database_destroy(d);
    if (!names) {
        char what[200];
        snprintf(what, sizeof what, "listing the collections of %.120s", db);
        admin_error(a, err, &error, what);
        return false;
    }
    size_t n = 0;
    while (names[n])
        n++;
    qsort(names, n, sizeof *names, compare_names);
    bool more = true;
    for (size_t i = 0; more && i < n; i++)
        more = fn(names[i], arg);
    bson_strfreev(names);
    return true;
}

/* ---- the flow registry ---- */

void tf_flow_record_cleanup(tf_flow_record *rec)
{
    bson_free(rec->name);
    bson_free(rec->text);
    bson_free(rec->spec_hash);
    memset(rec, 0, sizeof *rec);
}

bool tf_admin_flow_put(tf_admin *a, const char *db, const char *name, const char *text,
                       const char *spec_hash, bool *created, tf_error *err)
{
    mongoc_collection_t *c = mongoc_client_get_collection(a->client, db, TF_FLOWS_COLLECTION);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
    struct timeval tv;
    bson_gettimeofday(&tv);
    int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    bson_t *update = BCON_NEW("$set", "{", "text", BCON_UTF8(text), "spec_hash",
                              BCON_UTF8(spec_hash), "updated", BCON_DATE_TIME(now), "}",
                              "$setOnInsert", "{", "created", BCON_DATE_TIME(now), "}");
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_collection_update_one(c, filter, update, opts, &reply, &error);
    if (ok && created) {
        bson_iter_t it;
        *created = bson_iter_init_find(&it, &reply, "upsertedCount") && bson_iter_as_int64(&it) > 0;
    }
    bson_destroy(&reply);
    bson_destroy(opts);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    if (!ok) {
        char what[300];
        snprintf(what, sizeof what, "saving flow %.100s in %.100s." TF_FLOWS_COLLECTION, name, db);
        admin_error(a, err, &error, what);
    }
    return ok;
}

static char *utf8_field(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_strdup(bson_iter_utf8(&it, NULL));
    return NULL;
}

static int64_t date_field(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
        return bson_iter_date_time(&it);
    return 0;
}

/* A registry document as a record; false when it lacks a name or text. */
static bool record_from(const bson_t *doc, tf_flow_record *out)
{
    memset(out, 0, sizeof *out);
    out->name = utf8_field(doc, "_id");
    out->text = utf8_field(doc, "text");
    out->spec_hash = utf8_field(doc, "spec_hash");
    out->created_ms = date_field(doc, "created");
    out->updated_ms = date_field(doc, "updated");
    if (out->name && out->text)
        return true;
    tf_flow_record_cleanup(out);
    return false;
}

typedef struct get_ctx {
    tf_flow_record *out;
    bool *found;
} get_ctx;

static bool take_first(const bson_t *doc, void *arg)
{
    get_ctx *g = arg;
    *g->found = record_from(doc, g->out);
    return false;
}

bool tf_admin_flow_get(tf_admin *a, const char *db, const char *name, tf_flow_record *out,
                       bool *found, tf_error *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
    get_ctx g = {out, found};
    bool ok = tf_admin_find(a, db, TF_FLOWS_COLLECTION, filter, 1, take_first, &g, err);
    bson_destroy(filter);
    return ok;
}

typedef struct list_ctx {
    tf_admin_flow_fn fn;
    void *arg;
} list_ctx;

static bool each_record(const bson_t *doc, void *arg)
{
    list_ctx *l = arg;
    tf_flow_record rec;
    if (!record_from(doc, &rec))
        return true; /* not one of ours: skipped */
    bool more = l->fn(&rec, l->arg);
    tf_flow_record_cleanup(&rec);
    return more;
}

bool tf_admin_flow_list(tf_admin *a, const char *db, tf_admin_flow_fn fn, void *arg, tf_error *err)
{
    list_ctx l = {fn, arg};
    return tf_admin_find(a, db, TF_FLOWS_COLLECTION, NULL, 0, each_record, &l, err);
}

/* The driver's warnings are for developers: FerretDB has no endSessions,
 * so every client's destroy would warn at the shell's user. Errors pass. */
static void log_errors_only(mongoc_log_level_t level, const char *domain, const char *message,
                            void *arg)
{
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        mongoc_log_default_handler(level, domain, message, arg);
}

void tf_admin_quiet_driver_log(void) { mongoc_log_set_handler(log_errors_only, NULL); }
