/* sink.c — opening the target: options, connection, the root-key index and
 * the fan-out probe (sink.h section 2), plus the retry loop every write
 * goes through. */
#include "sink_internal.h"

#include <pthread.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void tf_sink_options_init(tf_sink_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->checkpoint_collection = "tapflow_checkpoints";
    opts->state_collection = "tapflow_state";
    opts->max_batch_ops = 1000;
    opts->max_batch_bytes = (size_t)8 * 1024 * 1024;
    opts->flush_interval_ms = 100;
    opts->journal = -1;
    opts->max_retries = 6;
    opts->backoff_initial_ms = 100;
    opts->backoff_max_ms = 5000;
    opts->server_selection_timeout_ms = 5000;
    opts->fanout = TF_FANOUT_DETECT;
    opts->connections = 1;
    opts->id_from_root_key = true;
}

static void driver_init_once(void)
{
    /* libmongoc keeps counters in /dev/shm/mongoc-PID, created when the
     * library loads; a killed process (SIGKILL runs nothing) leaves the
     * file behind, and a later process given the same PID prints "Falling
     * back to malloc for counters" on stderr. The mapping outlives its
     * name: removing the name now leaves nothing behind however the
     * process ends. tapflow reads no counters. */
    char name[32];
    snprintf(name, sizeof name, "/mongoc-%ld", (long)getpid());
    shm_unlink(name);
    mongoc_init();
}

void sink_driver_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, driver_init_once);
}

tf_fanout_mode tf_sink_fanout_mode(const tf_sink *sink) { return sink->fanout; }

bool tf_sink_supports_decimal128(const tf_sink *sink) { return sink->decimal128; }

const char *tf_sink_redacted_uri(const tf_sink *sink) { return sink->uri_redacted; }

void tf_sink_get_stats(const tf_sink *sink, tf_sink_stats *out) { *out = sink->stats; }

/* From a millisecond (a small local write) to ten seconds (a target that
 * retries): Prometheus' own default buckets, with 1 ms and 2.5 s added. */
const double tf_sink_latency_bounds[TF_SINK_LATENCY_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

void tf_latency_histogram_add(tf_latency_histogram *h, double seconds)
{
    size_t i = 0;
    while (i < TF_SINK_LATENCY_BUCKETS && seconds > tf_sink_latency_bounds[i])
        i++;
    h->count[i]++;
    h->total++;
    h->sum_seconds += seconds;
}

void sink_error_from_driver(tf_sink *sink, tf_error *err, const bson_error_t *error,
                            const char *what)
{
    tf_error_set(err, TF_ERR_TARGET, error->code, "%s on %s: %s (error %u.%u)", what,
                 sink->uri_redacted, error->message, error->domain, error->code);
}

void sink_append_write_concern(const tf_sink *sink, bson_t *opts)
{
    if (sink->write_concern != NULL)
        mongoc_write_concern_append(sink->write_concern, opts);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

bool sink_with_retries(tf_sink *sink, sink_attempt_fn attempt, void *ctx, bson_t *reply,
                       bson_error_t *error)
{
    return sink_with_retries_counted(sink, attempt, ctx, reply, error, &sink->stats.retries);
}

bool sink_with_retries_counted(tf_sink *sink, sink_attempt_fn attempt, void *ctx, bson_t *reply,
                               bson_error_t *error, uint64_t *retries)
{
    for (unsigned try_no = 0;; try_no++) {
        bson_reinit(reply);
        memset(error, 0, sizeof *error);
        if (attempt(sink, ctx, reply, error))
            return true;
        if (!tf_sink_error_is_transient(error, reply) || try_no >= sink->opts.max_retries)
            return false;
        (*retries)++;
        sleep_ms(
            tf_sink_backoff_ms(try_no, sink->opts.backoff_initial_ms, sink->opts.backoff_max_ms));
    }
}

static char *dup_or_null(const char *s) { return s != NULL ? bson_strdup(s) : NULL; }

static bool make_write_concern(tf_sink *sink, const tf_sink_options *o, tf_error *err)
{
    if (o->w == NULL && o->journal < 0 && o->wtimeout_ms <= 0)
        return true;
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    if (o->w != NULL) {
        if (strcmp(o->w, "majority") == 0) {
            mongoc_write_concern_set_wmajority(wc, (int32_t)o->wtimeout_ms);
        } else {
            char *end = NULL;
            long w = strtol(o->w, &end, 10);
            if (end == o->w || *end != '\0' || w < 1 || w > 50) {
                mongoc_write_concern_destroy(wc);
                tf_error_set(err, TF_ERR_CONFIG, 0,
                             "write concern w=\"%s\" is not \"majority\" or a number from 1 "
                             "to 50 (w=0 is refused: checkpoints follow acknowledgements)",
                             o->w);
                return false;
            }
            mongoc_write_concern_set_w(wc, (int32_t)w);
        }
    }
    if (o->journal >= 0)
        mongoc_write_concern_set_journal(wc, o->journal != 0);
    if (o->wtimeout_ms > 0)
        mongoc_write_concern_set_wtimeout_int64(wc, o->wtimeout_ms);
    sink->write_concern = wc;
    return true;
}

static bool create_index(tf_sink *sink, const char *name, const char *const *fields, size_t n,
                         bool unique, const char *why, tf_error *err)
{
    bson_t cmd = BSON_INITIALIZER, indexes, index, key;
    BSON_APPEND_UTF8(&cmd, "createIndexes", sink->collection_name);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
    for (size_t i = 0; i < n; i++)
        BSON_APPEND_INT32(&key, fields[i], 1);
    bson_append_document_end(&index, &key);
    BSON_APPEND_UTF8(&index, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&index, "unique", true);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);

    bson_t reply;
    bson_error_t error;
    mongoc_database_t *db = mongoc_client_get_database(sink->client, sink->database);
    bool ok = mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &error);
    mongoc_database_destroy(db);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    if (!ok) {
        char what[512];
        snprintf(what, sizeof what, "creating the %sindex %s on %s.%s (%s)",
                 unique ? "unique " : "", name, sink->database, sink->collection_name, why);
        sink_error_from_driver(sink, err, &error, what);
    }
    return ok;
}

static bool create_root_key_index(tf_sink *sink, tf_error *err)
{
    if (sink->opts.n_root_key_fields == 0)
        return true;
    return create_index(sink, "tapflow_root_key", (const char *const *)sink->root_key_fields,
                        sink->opts.n_root_key_fields, !sink->opts.root_key_index_plain,
                        "the root key", err);
}

bool tf_sink_ensure_index(tf_sink *sink, const char *name, const char *const *fields, size_t n,
                          tf_error *err)
{
    if (n == 0 || !name || !name[0])
        return tf_error_set(err, TF_ERR_CONFIG, 0, "index %s: no fields", name ? name : ""), false;
    return create_index(sink, name, fields, n, false, "fan-out filter", err);
}

/* FerretDB names itself in buildInfo ("ferretdbVersion"); its 1.x update
 * command must get few statements at a time (sink_internal.h,
 * max_ops_per_command). A failed buildInfo leaves the driver's split. */
static void probe_ferretdb(tf_sink *sink)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    BSON_APPEND_INT32(&cmd, "buildInfo", 1);
    bson_error_t error;
    bson_iter_t it;
    if (mongoc_client_command_simple(sink->client, "admin", &cmd, NULL, &reply, &error) &&
        bson_iter_init_find(&it, &reply, "ferretdbVersion"))
        sink->max_ops_per_command = 32;
    bson_destroy(&reply);
    bson_destroy(&cmd);
}

/* Inserts a Decimal128 into a scratch collection. FerretDB 1.x cannot
 * encode the type: its handler panics and drops the connection ("invalid
 * BSON type wirebson.Decimal128"), which a writer would take for a network
 * error and retry forever. Knowing it up front lets tf_sink_add refuse such
 * documents with a message instead. Any failure means "unsupported"; the
 * client reconnects on its next command. */
/* FerretDB 1.x says so in buildInfo (ferretdbVersion "v1.24.2"). */
static bool server_is_ferretdb_1(tf_sink *sink)
{
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t error;
    bool ferret = false;
    if (mongoc_client_command_simple(sink->client, "admin", cmd, NULL, &reply, &error)) {
        bson_iter_t it;
        ferret = bson_iter_init_find(&it, &reply, "ferretdbVersion") && BSON_ITER_HOLDS_UTF8(&it) &&
                 strncmp(bson_iter_utf8(&it, NULL), "v1.", 3) == 0;
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    return ferret;
}

static void probe_decimal128(tf_sink *sink, const mongoc_uri_t *uri)
{
    /* Known answer, and the probe would cost FerretDB a panic in the middle
     * of a write (seen to leave a database locked): do not send it. */
    if (server_is_ferretdb_1(sink)) {
        sink->decimal128 = false;
        return;
    }
    /* On a client of its own: the dropped connection would otherwise cost
     * the writer's client a server rescan (minHeartbeatFrequencyMS). */
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    if (client == NULL) {
        sink->decimal128 = false;
        return;
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    char name[128];
    snprintf(name, sizeof name, "tapflow_probe_dec_%ld_%lld", (long)getpid(),
             (long long)bson_get_monotonic_time());
    mongoc_collection_t *scratch = mongoc_client_get_collection(client, sink->database, name);
    bson_decimal128_t value;
    bson_decimal128_from_string("1.5", &value);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT32(&doc, "_id", 1);
    BSON_APPEND_DECIMAL128(&doc, "d", &value);
    bson_error_t error;
    sink->decimal128 = mongoc_collection_insert_one(scratch, &doc, NULL, NULL, &error);
    bson_destroy(&doc);
    mongoc_collection_destroy(scratch);
    mongoc_client_destroy(client);
    /* The writer's client removes the scratch collection (the probe's may
     * have lost its connection). */
    scratch = mongoc_client_get_collection(sink->client, sink->database, name);
    mongoc_collection_drop(scratch, &error);
    mongoc_collection_destroy(scratch);
}

/* Runs an updateMany with arrayFilters on a scratch collection and checks
 * that exactly the filtered element changed. A server that refuses the
 * command (FerretDB 1.x: NotImplemented, "support for field arrayFilters
 * ... is not implemented yet") or answers wrongly gets the recompute path;
 * only a lost connection fails the open. */
static bool probe_array_filters(tf_sink *sink, tf_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "tapflow_probe_%ld_%lld", (long)getpid(),
             (long long)bson_get_monotonic_time());
    mongoc_collection_t *scratch = mongoc_client_get_collection(sink->client, sink->database, name);
    bson_error_t error;
    bson_t *doc =
        BCON_NEW("_id", BCON_INT32(1), "a", "[", "{", "k", BCON_INT32(1), "v", BCON_INT32(0), "}",
                 "{", "k", BCON_INT32(2), "v", BCON_INT32(0), "}", "]");
    bool ok = mongoc_collection_insert_one(scratch, doc, NULL, NULL, &error);
    bson_destroy(doc);
    if (!ok) {
        sink_error_from_driver(sink, err, &error, "probing arrayFilters (insert into scratch)");
        mongoc_collection_destroy(scratch);
        return false;
    }
    bson_t *selector = BCON_NEW("a.k", BCON_INT32(2));
    bson_t *update = BCON_NEW("$set", "{", "a.$[e].v", BCON_INT32(7), "}");
    bson_t *opts = BCON_NEW("arrayFilters", "[", "{", "e.k", BCON_INT32(2), "}", "]");
    bson_t reply;
    bool supported = mongoc_collection_update_many(scratch, selector, update, opts, &reply, &error);
    bool network = !supported && (error.domain == MONGOC_ERROR_STREAM ||
                                  error.domain == MONGOC_ERROR_SERVER_SELECTION);
    bson_destroy(&reply);
    bson_destroy(selector);
    bson_destroy(update);
    bson_destroy(opts);
    if (supported) {
        /* Trust only what we read back: a[1].v == 7 and a[0].v untouched. */
        bson_t *query = BCON_NEW("_id", BCON_INT32(1));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(scratch, query, NULL, NULL);
        const bson_t *found = NULL;
        bson_iter_t it;
        supported = mongoc_cursor_next(cursor, &found) && bson_iter_init(&it, found) &&
                    bson_iter_find_descendant(&it, "a.1.v", &it) && bson_iter_as_int64(&it) == 7 &&
                    bson_iter_init(&it, found) && bson_iter_find_descendant(&it, "a.0.v", &it) &&
                    bson_iter_as_int64(&it) == 0;
        mongoc_cursor_destroy(cursor);
        bson_destroy(query);
    }
    bson_error_t drop_error;
    mongoc_collection_drop(scratch, &drop_error);
    mongoc_collection_destroy(scratch);
    if (network) {
        sink_error_from_driver(sink, err, &error, "probing arrayFilters");
        return false;
    }
    sink->fanout = supported ? TF_FANOUT_ARRAY_FILTERS : TF_FANOUT_RECOMPUTE;
    return true;
}

/* The extra connections: clients of the same URI, connecting on first use. */
static bool open_lanes(tf_sink *sink, const tf_sink_options *opts, tf_error *err)
{
    if (opts->connections > TF_SINK_MAX_CONNECTIONS) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "sink connections %zu: at most %d", opts->connections,
                     TF_SINK_MAX_CONNECTIONS);
        return false;
    }
    size_t extra = opts->connections > 1 ? opts->connections - 1 : 0;
    sink->lanes = bson_malloc0((extra ? extra : 1) * sizeof *sink->lanes);
    for (; sink->n_lanes < extra; sink->n_lanes++) {
        bson_error_t error;
        write_lane *lane = &sink->lanes[sink->n_lanes];
        lane->client = mongoc_client_new_from_uri_with_error(sink->uri, &error);
        if (lane->client == NULL) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "target URI %s: %s", sink->uri_redacted,
                         error.message);
            return false;
        }
        mongoc_client_set_error_api(lane->client, MONGOC_ERROR_API_VERSION_2);
        mongoc_client_set_appname(lane->client, "tapflow-sink");
        lane->collection =
            mongoc_client_get_collection(lane->client, sink->database, sink->collection_name);
    }
    return true;
}

static bool sink_connect(tf_sink *sink, const tf_sink_options *opts, mongoc_uri_t **out_uri,
                         tf_error *err)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(opts->uri, &error);
    if (uri == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "target URI %s is invalid: %s", sink->uri_redacted,
                     error.message);
        return false;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                       opts->server_selection_timeout_ms);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
                                       opts->server_selection_timeout_ms);
    const char *db = opts->database != NULL ? opts->database : mongoc_uri_get_database(uri);
    if (db == NULL || db[0] == '\0') {
        mongoc_uri_destroy(uri);
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no target database: give one in the URI (%s) or in the options",
                     sink->uri_redacted);
        return false;
    }
    sink->database = bson_strdup(db);
    sink->client = mongoc_client_new_from_uri_with_error(uri, &error);
    *out_uri = uri;
    if (sink->client == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "target URI %s: %s", sink->uri_redacted, error.message);
        return false;
    }
    mongoc_client_set_error_api(sink->client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(sink->client, "tapflow-sink");

    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_t reply;
    int64_t started = bson_get_monotonic_time();
    bool ok = mongoc_client_command_simple(sink->client, "admin", ping, NULL, &reply, &error);
    bson_destroy(ping);
    bson_destroy(&reply);
    if (!ok) {
        tf_error_set(err, TF_ERR_TARGET, error.code,
                     "MongoDB target %s unreachable after %lld ms: %s", sink->uri_redacted,
                     (long long)((bson_get_monotonic_time() - started) / 1000), error.message);
        return false;
    }
    return true;
}

tf_sink *tf_sink_open(const tf_sink_options *opts, tf_error *err)
{
    if (opts->uri == NULL || opts->collection == NULL || opts->flow == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "sink options need uri, collection and flow");
        return NULL;
    }
    if (opts->max_batch_ops == 0 || opts->max_batch_bytes == 0) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "sink batch limits must be positive");
        return NULL;
    }
    sink_driver_init();

    tf_sink *sink = bson_malloc0(sizeof *sink);
    sink->opts = *opts;
    tf_sink_redact_uri(opts->uri, sink->uri_redacted, sizeof sink->uri_redacted);
    sink->opts.uri = NULL; /* the password stays with the caller */
    sink->collection_name = bson_strdup(opts->collection);
    sink->flow = bson_strdup(opts->flow);
    sink->checkpoint_collection_name = dup_or_null(
        opts->checkpoint_collection != NULL ? opts->checkpoint_collection : "tapflow_checkpoints");
    sink->state_collection_name =
        dup_or_null(opts->state_collection != NULL ? opts->state_collection : "tapflow_state");
    sink->root_key_fields = bson_malloc0((opts->n_root_key_fields + 1) * sizeof(char *));
    for (size_t i = 0; i < opts->n_root_key_fields; i++)
        sink->root_key_fields[i] = bson_strdup(opts->root_key_fields[i]);
    /* The copied options must not point at the caller's strings. */
    sink->opts.database = NULL;
    sink->opts.collection = sink->collection_name;
    sink->opts.flow = sink->flow;
    sink->opts.checkpoint_collection = sink->checkpoint_collection_name;
    sink->opts.state_collection = sink->state_collection_name;
    sink->opts.root_key_fields = (const char *const *)sink->root_key_fields;
    sink->opts.w = NULL;

    if (!make_write_concern(sink, opts, err) || !sink_connect(sink, opts, &sink->uri, err)) {
        tf_sink_destroy(sink);
        return NULL;
    }
    sink->opts.database = sink->database;
    sink->collection =
        mongoc_client_get_collection(sink->client, sink->database, sink->collection_name);
    sink->checkpoints = mongoc_client_get_collection(sink->client, sink->database,
                                                     sink->checkpoint_collection_name);
    sink->state =
        mongoc_client_get_collection(sink->client, sink->database, sink->state_collection_name);

    if (!open_lanes(sink, opts, err) || !create_root_key_index(sink, err) ||
        !sink_check_stored_ids(sink, err)) {
        tf_sink_destroy(sink);
        return NULL;
    }
    probe_decimal128(sink, sink->uri);
    probe_ferretdb(sink);
    switch (opts->fanout) {
    case TF_FANOUT_FORCE_RECOMPUTE: sink->fanout = TF_FANOUT_RECOMPUTE; break;
    case TF_FANOUT_FORCE_ARRAY_FILTERS: sink->fanout = TF_FANOUT_ARRAY_FILTERS; break;
    case TF_FANOUT_DETECT:
    default:
        if (!probe_array_filters(sink, err)) {
            tf_sink_destroy(sink);
            return NULL;
        }
    }

    /* After the fan-out probe: it says which shapes to measure. */
    if (opts->probe_costs)
        sink_probe_costs(sink);

    /* Counters continue from the stored checkpoint. */
    tf_checkpoint cp;
    bool found = false;
    if (!tf_sink_checkpoint_read(sink, &cp, &found, err)) {
        tf_sink_destroy(sink);
        return NULL;
    }
    if (found) {
        sink->documents_total = cp.documents;
        sink->checkpoint_seq = cp.seq;
        tf_checkpoint_cleanup(&cp);
    }
    return sink;
}

void tf_sink_destroy(tf_sink *sink)
{
    if (sink == NULL)
        return;
    for (size_t i = 0; i < sink->n_pending; i++)
        sink_pending_cleanup(&sink->pending[i]);
    bson_free(sink->pending);
    for (size_t i = 0; i < sink->n_chunks; i++) {
        bson_free(sink->chunks[i].name);
        bson_free(sink->chunks[i].data);
    }
    bson_free(sink->chunks);
    for (size_t i = 0; i < sink->n_lanes; i++) {
        if (sink->lanes[i].collection != NULL)
            mongoc_collection_destroy(sink->lanes[i].collection);
        if (sink->lanes[i].client != NULL)
            mongoc_client_destroy(sink->lanes[i].client);
    }
    bson_free(sink->lanes);
    if (sink->collection != NULL)
        mongoc_collection_destroy(sink->collection);
    if (sink->checkpoints != NULL)
        mongoc_collection_destroy(sink->checkpoints);
    if (sink->state != NULL)
        mongoc_collection_destroy(sink->state);
    if (sink->client != NULL)
        mongoc_client_destroy(sink->client);
    if (sink->uri != NULL)
        mongoc_uri_destroy(sink->uri);
    if (sink->write_concern != NULL)
        mongoc_write_concern_destroy(sink->write_concern);
    bson_free(sink->database);
    bson_free(sink->collection_name);
    bson_free(sink->flow);
    bson_free(sink->checkpoint_collection_name);
    bson_free(sink->state_collection_name);
    if (sink->root_key_fields != NULL)
        for (size_t i = 0; sink->root_key_fields[i] != NULL; i++)
            bson_free(sink->root_key_fields[i]);
    bson_free(sink->root_key_fields);
    bson_free(sink);
}
