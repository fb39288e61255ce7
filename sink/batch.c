/* batch.c — pending document operations and the ordered bulk write that
 * sends them (sink.h section 2).
 *
 * The batch keeps its ops (not only a mongoc_bulk_operation_t) because a
 * bulk can be executed once: after a transient failure the same ops are
 * sent again in a fresh bulk. Ops before the failure may already be
 * applied; sending them again is harmless since every op is idempotent. */
#include "sink_internal.h"

#include <pthread.h>
#include <string.h>

static const char *op_kind_name(tf_doc_op_kind kind)
{
    switch (kind) {
    case TF_DOC_OP_REPLACE: return "replace";
    case TF_DOC_OP_UPDATE: return "update";
    case TF_DOC_OP_UPDATE_MANY: return "updateMany";
    case TF_DOC_OP_DELETE: return "delete";
    case TF_DOC_OP_INSERT: return "insert";
    case TF_DOC_OP_NONE:
    default: return "none";
    }
}

static bool op_check(const tf_sink *sink, const tf_doc_op *op, tf_error *err)
{
    if (op->filter == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "%s op without a filter", op_kind_name(op->kind));
        return false;
    }
    switch (op->kind) {
    case TF_DOC_OP_REPLACE:
    case TF_DOC_OP_INSERT:
        if (op->document == NULL) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "%s op without a document", op_kind_name(op->kind));
            return false;
        }
        return true;
    case TF_DOC_OP_UPDATE_MANY:
        if (sink->fanout != TF_FANOUT_ARRAY_FILTERS) {
            tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                         "updateMany with arrayFilters refused: the target %s does not "
                         "support arrayFilters (fan-out mode is recompute: send a "
                         "replace of each affected document instead)",
                         sink->uri_redacted);
            return false;
        }
        /* same shape as UPDATE */
        __attribute__((fallthrough));
    case TF_DOC_OP_UPDATE:
        if ((op->set == NULL || bson_empty(op->set)) &&
            (op->unset == NULL || bson_empty(op->unset))) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "%s op with nothing to $set or $unset",
                         op_kind_name(op->kind));
            return false;
        }
        return true;
    case TF_DOC_OP_DELETE: return true;
    case TF_DOC_OP_NONE:
    default: {
        tf_error_set(err, TF_ERR_CONFIG, 0, "op of unknown kind %d", (int)op->kind);
        return false;
    }
    }
}

/* Finds a Decimal128 anywhere in doc; fills path ("order_items.0.price"). */
static bool find_decimal128(const bson_t *doc, char *path, size_t cap, size_t used)
{
    bson_iter_t it;
    if (doc == NULL || !bson_iter_init(&it, doc))
        return false;
    while (bson_iter_next(&it)) {
        int n = snprintf(path + used, cap - used, "%s%s", used > 0 ? "." : "", bson_iter_key(&it));
        size_t next = n > 0 && (size_t)n < cap - used ? used + (size_t)n : cap - 1;
        if (BSON_ITER_HOLDS_DECIMAL128(&it))
            return true;
        if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
            uint32_t len;
            const uint8_t *data;
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &len, &data);
            else
                bson_iter_array(&it, &len, &data);
            bson_t child;
            if (bson_init_static(&child, data, len) && find_decimal128(&child, path, cap, next))
                return true;
        }
        path[used] = '\0';
    }
    return false;
}

static bool op_check_types(const tf_sink *sink, const tf_doc_op *op, tf_error *err)
{
    if (sink->decimal128)
        return true;
    const bson_t *parts[] = {op->filter, op->document, op->set, op->array_filters};
    const char *names[] = {"filter", "document", "$set", "arrayFilters"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char path[256] = "";
        if (find_decimal128(parts[i], path, sizeof path, 0)) {
            char *filter = bson_as_relaxed_extended_json(op->filter, NULL);
            tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                         "%s op %.200s: field \"%s\" of its %s is a Decimal128, which the target "
                         "%s cannot store (FerretDB 1.x drops the connection on it); map DECIMAL "
                         "columns to another type for this target",
                         op_kind_name(op->kind), filter, path, names[i], sink->uri_redacted);
            bson_free(filter);
            return false;
        }
    }
    return true;
}

/* Makes the op own its BSON, copying borrowed documents. */
static void op_take(tf_doc_op *dst, tf_doc_op *src)
{
    *dst = *src;
    if (!src->owns_bson) {
        dst->owns_bson = true;
        dst->filter = src->filter != NULL ? bson_copy(src->filter) : NULL;
        dst->document = src->document != NULL ? bson_copy(src->document) : NULL;
        dst->set = src->set != NULL ? bson_copy(src->set) : NULL;
        dst->unset = src->unset != NULL ? bson_copy(src->unset) : NULL;
        dst->array_filters = src->array_filters != NULL ? bson_copy(src->array_filters) : NULL;
    }
    memset(src, 0, sizeof *src);
}

void sink_pending_cleanup(pending_op *p)
{
    tf_doc_op_cleanup(&p->op);
    if (p->root_key != NULL)
        bson_destroy(p->root_key);
    p->root_key = NULL;
}

bool tf_sink_add(tf_sink *sink, tf_doc_op *op, tf_error *err)
{
    if (!op_check(sink, op, err) || !op_check_types(sink, op, err)) {
        tf_doc_op_cleanup(op);
        return false;
    }
    if (sink->n_pending == sink->cap_pending) {
        sink->cap_pending = sink->cap_pending ? sink->cap_pending * 2 : 256;
        sink->pending = bson_realloc(sink->pending, sink->cap_pending * sizeof *sink->pending);
    }
    pending_op *slot = &sink->pending[sink->n_pending];
    slot->root_key = NULL;
    op_take(&slot->op, op);
    if (sink->opts.id_from_root_key && !sink_op_address_by_id(slot, err)) {
        char *key = bson_as_relaxed_extended_json(slot->op.filter, NULL);
        tf_error_prefix(err, "%s op %.200s", op_kind_name(slot->op.kind), key);
        bson_free(key);
        tf_doc_op_cleanup(&slot->op);
        return false;
    }
    if (sink->n_pending++ == 0)
        sink->oldest_pending_us = bson_get_monotonic_time();
    sink->pending_bytes += tf_doc_op_size(&slot->op);
    if (sink->n_pending >= sink->opts.max_batch_ops ||
        sink->pending_bytes >= sink->opts.max_batch_bytes)
        return tf_sink_flush(sink, err);
    return true;
}

size_t tf_sink_pending_ops(const tf_sink *sink) { return sink->n_pending; }

bool tf_sink_flush_due(const tf_sink *sink)
{
    if (sink->n_pending == 0)
        return false;
    if (sink->n_pending >= sink->opts.max_batch_ops ||
        sink->pending_bytes >= sink->opts.max_batch_bytes)
        return true;
    return bson_get_monotonic_time() - sink->oldest_pending_us >=
           sink->opts.flush_interval_ms * 1000;
}

static bson_t *update_document(const tf_doc_op *op)
{
    bson_t *update = bson_new();
    if (op->set != NULL && !bson_empty(op->set))
        BSON_APPEND_DOCUMENT(update, "$set", op->set);
    if (op->unset != NULL && !bson_empty(op->unset))
        BSON_APPEND_DOCUMENT(update, "$unset", op->unset);
    return update;
}

static bool bulk_append(mongoc_bulk_operation_t *bulk, const tf_doc_op *op, bson_error_t *error)
{
    bson_t opts = BSON_INITIALIZER;
    bool ok = false;
    switch (op->kind) {
    case TF_DOC_OP_REPLACE:
        BSON_APPEND_BOOL(&opts, "upsert", true);
        ok = mongoc_bulk_operation_replace_one_with_opts(bulk, op->filter, op->document, &opts,
                                                         error);
        break;
    case TF_DOC_OP_UPDATE: {
        bson_t *update = update_document(op);
        ok = mongoc_bulk_operation_update_one_with_opts(bulk, op->filter, update, NULL, error);
        bson_destroy(update);
        break;
    }
    case TF_DOC_OP_UPDATE_MANY: {
        bson_t *update = update_document(op);
        if (op->array_filters != NULL)
            BSON_APPEND_ARRAY(&opts, "arrayFilters", op->array_filters);
        ok = mongoc_bulk_operation_update_many_with_opts(bulk, op->filter, update, &opts, error);
        bson_destroy(update);
        break;
    }
    case TF_DOC_OP_DELETE:
        ok = mongoc_bulk_operation_remove_one_with_opts(bulk, op->filter, NULL, error);
        break;
    case TF_DOC_OP_INSERT:
        ok = mongoc_bulk_operation_insert_with_opts(bulk, op->document, NULL, error);
        break;
    case TF_DOC_OP_NONE:
    default: bson_set_error(error, MONGOC_ERROR_COMMAND, 0, "op of unknown kind"); break;
    }
    bson_destroy(&opts);
    return ok;
}

/* One ordered sequence of ops written over one connection: the whole
 * batch, or one connection's part of a split flush. */
typedef struct bulk_attempt {
    mongoc_collection_t *collection;
    pending_op *ops; /* borrowed from the sink's batch */
    size_t n;
    size_t failed_append; /* index of an op the driver refused to add, or SIZE_MAX */
    unsigned tries;       /* attempts so far */
    size_t prepended;     /* deletes put before the ops on a retry */
    size_t executed;      /* entries (prepended deletes, then ops) of earlier commands */
    uint64_t upserted;    /* documents the attempt's upserts created (nUpserted) */
} bulk_attempt;

/* Entry i of one attempt's sequence: the prepended deletes, then the ops. */
static bool bulk_append_entry(mongoc_bulk_operation_t *bulk, size_t i, bulk_attempt *a,
                              bson_error_t *error)
{
    if (i < a->prepended) {
        size_t seen = 0;
        for (size_t k = 0; k < a->n; k++) {
            const tf_doc_op *op = &a->ops[k].op;
            if (op->kind != TF_DOC_OP_INSERT)
                continue;
            if (seen++ == i) {
                if (mongoc_bulk_operation_remove_one_with_opts(bulk, op->filter, NULL, error))
                    return true;
                a->failed_append = k;
                return false;
            }
        }
        return true;
    }
    if (bulk_append(bulk, &a->ops[i - a->prepended].op, error))
        return true;
    a->failed_append = i - a->prepended;
    return false;
}

static bool bulk_write_attempt(tf_sink *sink, void *ctx, bson_t *reply, bson_error_t *error)
{
    bulk_attempt *a = ctx;
    a->failed_append = SIZE_MAX;
    /* A retry may find some inserts of the previous try applied: remove
     * what the batch's inserts name, so the batch runs on what was there
     * before it (inserts are only for keys absent before the batch). */
    a->prepended = 0;
    a->upserted = 0;
    if (a->tries++ > 0)
        for (size_t i = 0; i < a->n; i++)
            a->prepended += a->ops[i].op.kind == TF_DOC_OP_INSERT;
    size_t total = a->prepended + a->n;
    size_t per_command = sink->max_ops_per_command ? sink->max_ops_per_command : total;
    bool ok = true;
    /* In order, one ordered bulk per `per_command` entries: the sequence
     * stops at the first failure as a single ordered bulk would. */
    for (a->executed = 0; ok && a->executed < total; a->executed += per_command) {
        size_t end = a->executed + per_command < total ? a->executed + per_command : total;
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", true);
        sink_append_write_concern(sink, &opts);
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(a->collection, &opts);
        bson_destroy(&opts);
        for (size_t i = a->executed; i < end; i++) {
            if (!bulk_append_entry(bulk, i, a, error)) {
                /* Driver-side validation (e.g. a replacement with $-keys):
                 * the op is wrong, never transient. */
                error->domain = MONGOC_ERROR_COMMAND;
                mongoc_bulk_operation_destroy(bulk);
                return false;
            }
        }
        bson_destroy(reply); /* execute initialises it */
        ok = mongoc_bulk_operation_execute(bulk, reply, error) != 0;
        mongoc_bulk_operation_destroy(bulk);
        if (!ok)
            break;
        bson_iter_t it;
        if (bson_iter_init_find(&it, reply, "nUpserted") && BSON_ITER_HOLDS_NUMBER(&it))
            a->upserted += (uint64_t)bson_iter_as_int64(&it);
    }
    return ok;
}

/* The index of the first failed op named by a bulk reply's writeErrors. */
static size_t failed_op_index(const bson_t *reply, size_t prepended, size_t executed)
{
    bson_iter_t it;
    if (bson_iter_init(&it, reply) && bson_iter_find_descendant(&it, "writeErrors.0.index", &it) &&
        BSON_ITER_HOLDS_INT(&it) && (size_t)bson_iter_as_int64(&it) + executed >= prepended)
        return (size_t)bson_iter_as_int64(&it) + executed - prepended;
    return SIZE_MAX;
}

static void describe_failure(tf_sink *sink, tf_error *err, const bson_error_t *error,
                             const bson_t *reply, const bulk_attempt *a, size_t op_index,
                             unsigned attempts)
{
    char what[512];
    int n = snprintf(what, sizeof what, "writing a batch of %zu ops to %s.%s", a->n, sink->database,
                     sink->collection_name);
    const pending_op *failed = op_index < a->n ? &a->ops[op_index] : NULL;
    if (failed != NULL && n > 0 && (size_t)n < sizeof what) {
        /* The caller's key, and the _id it was sent as. */
        const bson_t *shown = failed->root_key != NULL ? failed->root_key : failed->op.filter;
        char *key = bson_as_relaxed_extended_json(shown, NULL);
        char id_hex[25] = "";
        bson_iter_t it;
        if (failed->root_key != NULL && bson_iter_init_find(&it, failed->op.filter, "_id") &&
            BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), id_hex);
        snprintf(what + n, sizeof what - (size_t)n, " (op %zu: %s %.200s%s%s%s)", op_index,
                 op_kind_name(failed->op.kind), key, id_hex[0] ? " as _id ObjectId(\"" : "", id_hex,
                 id_hex[0] ? "\")" : "");
        bson_free(key);
    }
    /* A replace upsert by the derived _id cannot meet a duplicate _id (it
     * matches by _id): a duplicate key is the unique root key index, so the
     * key is stored under an _id not derived from it (sink.h, "Addressing
     * by _id"). FerretDB's message names no index: say what it means. */
    if (failed != NULL && failed->root_key != NULL && error->code == 11000 &&
        failed->op.kind == TF_DOC_OP_REPLACE)
        tf_error_set(err, TF_ERR_TARGET, error->code,
                     "%s: the root key is stored under another _id (chosen by the server "
                     "for an older tapflow): drop the collection and restart with "
                     "--resnapshot (server: %.80s)",
                     what, error->message);
    else
        sink_error_from_driver(sink, err, error, what);
    if (tf_sink_error_is_transient(error, reply))
        tf_error_prefix(err, "gave up after %u attempts", attempts);
    else
        tf_error_prefix(err, "not retried (the write itself is refused)");
}

/* One connection's part of a flush, run on a thread of its own for every
 * connection but the first. */
typedef struct lane_write {
    tf_sink *sink;
    bulk_attempt a;
    uint64_t retries;
    bool ok;
    tf_error err;
    pthread_t thread;
    bool started;
} lane_write;

static void lane_write_run(lane_write *w)
{
    bson_t reply = BSON_INITIALIZER;
    bson_error_t error;
    w->a.failed_append = SIZE_MAX;
    w->ok =
        sink_with_retries_counted(w->sink, bulk_write_attempt, &w->a, &reply, &error, &w->retries);
    if (!w->ok) {
        size_t index = w->a.failed_append != SIZE_MAX
                           ? w->a.failed_append
                           : failed_op_index(&reply, w->a.prepended, w->a.executed);
        /* A command-level error (FerretDB answers unsupported options so)
         * names no op; with a single op there is no doubt which. */
        if (index == SIZE_MAX && w->a.n == 1)
            index = 0;
        describe_failure(w->sink, &w->err, &error, &reply, &w->a, index, (unsigned)w->retries + 1);
    }
    bson_destroy(&reply);
}

static void *lane_write_main(void *arg)
{
    lane_write_run(arg);
    return NULL;
}

size_t tf_sink_connection_of(const bson_oid_t *id, size_t n)
{
    /* the _id is a SHA-256 prefix: any of its bytes spread evenly */
    const uint8_t *b = id->bytes;
    uint32_t h = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return n ? h % n : 0;
}

size_t tf_sink_connections(const tf_sink *sink) { return sink->n_lanes + 1; }

/* The connection an op's document is written over: from its derived _id,
 * or -1 when the op is not addressed by one _id (an updateMany, a filter
 * of the caller's). */
static int op_lane(const pending_op *p, size_t lanes)
{
    bson_iter_t it;
    if (p->op.kind == TF_DOC_OP_UPDATE_MANY || p->root_key == NULL ||
        !bson_iter_init_find(&it, p->op.filter, "_id") || !BSON_ITER_HOLDS_OID(&it))
        return -1;
    return (int)tf_sink_connection_of(bson_iter_oid(&it), lanes);
}

/* How many connections this batch is written over: 1 when the sink has
 * one, the batch is small, or an op is not addressed by a derived _id;
 * otherwise *lane_of (bson_malloc, the caller frees) holds each op's. */
static size_t plan_lanes(const tf_sink *sink, uint8_t **lane_of)
{
    *lane_of = NULL;
    size_t lanes = sink->n_lanes + 1;
    if (lanes == 1 || sink->n_pending < TF_SINK_SPLIT_MIN_OPS)
        return 1;
    if (lanes > sink->n_pending / (TF_SINK_SPLIT_MIN_OPS / 2))
        lanes = sink->n_pending / (TF_SINK_SPLIT_MIN_OPS / 2);
    uint8_t *of = bson_malloc(sink->n_pending);
    for (size_t i = 0; i < sink->n_pending; i++) {
        int lane = op_lane(&sink->pending[i], lanes);
        if (lane < 0) {
            bson_free(of);
            return 1;
        }
        of[i] = (uint8_t)lane;
    }
    *lane_of = of;
    return lanes;
}

/* Writes the batch split over `lanes` connections at once; the first
 * failure (in connection order) is reported. */
static bool flush_split(tf_sink *sink, size_t lanes, const uint8_t *lane_of, uint64_t *upserted,
                        tf_error *err)
{
    lane_write w[TF_SINK_MAX_CONNECTIONS];
    pending_op *parts = bson_malloc(sink->n_pending * sizeof *parts);
    size_t at = 0;
    for (size_t l = 0; l < lanes; l++) {
        w[l] = (lane_write){.sink = sink};
        w[l].a.collection = l == 0 ? sink->collection : sink->lanes[l - 1].collection;
        w[l].a.ops = parts + at;
        for (size_t i = 0; i < sink->n_pending; i++)
            if (lane_of[i] == l)
                parts[at++] = sink->pending[i]; /* shallow: the batch keeps ownership */
        w[l].a.n = (size_t)(parts + at - w[l].a.ops);
    }
    for (size_t l = 1; l < lanes; l++)
        w[l].started = pthread_create(&w[l].thread, NULL, lane_write_main, &w[l]) == 0;
    lane_write_run(&w[0]);
    for (size_t l = 1; l < lanes; l++) {
        if (w[l].started)
            pthread_join(w[l].thread, NULL);
        else
            lane_write_run(&w[l]); /* no thread to be had: in turn */
    }
    bool ok = true;
    for (size_t l = 0; l < lanes; l++) {
        sink->stats.retries += w[l].retries;
        *upserted += w[l].a.upserted;
        if (ok && !w[l].ok) {
            *err = w[l].err;
            ok = false;
        }
    }
    bson_free(parts);
    return ok;
}

static bool flush_one(tf_sink *sink, uint64_t *upserted, tf_error *err)
{
    lane_write w = {
        .sink = sink,
        .a = {.collection = sink->collection, .ops = sink->pending, .n = sink->n_pending}};
    lane_write_run(&w);
    sink->stats.retries += w.retries;
    *upserted += w.a.upserted;
    if (!w.ok)
        *err = w.err;
    return w.ok;
}

bool tf_sink_flush(tf_sink *sink, tf_error *err)
{
    if (sink->n_pending == 0)
        return true;
    int64_t t0 = bson_get_monotonic_time();
    uint8_t *lane_of;
    size_t lanes = plan_lanes(sink, &lane_of);
    uint64_t upserted = 0;
    bool ok = lanes > 1 ? flush_split(sink, lanes, lane_of, &upserted, err)
                        : flush_one(sink, &upserted, err);
    bson_free(lane_of);
    if (!ok)
        return false;
    int64_t took_us = bson_get_monotonic_time() - t0;
    tf_latency_histogram_add(&sink->stats.write_latency, (double)took_us / 1e6);
    sink_refine_costs(sink, (double)took_us / 1000.0);
    uint64_t updated = 0;
    for (size_t i = 0; i < sink->n_pending; i++) {
        switch (sink->pending[i].op.kind) {
        case TF_DOC_OP_INSERT: sink->stats.inserted++; break;
        case TF_DOC_OP_DELETE: sink->stats.deleted++; break;
        default: updated++; break;
        }
    }
    /* a split batch's lanes each counted their own upserts */
    if (upserted > updated)
        upserted = updated;
    sink->stats.inserted += upserted;
    sink->stats.updated += updated - upserted;
    sink->stats.ops_written += sink->n_pending;
    sink->stats.batches++;
    sink->stats.split_batches += lanes > 1;
    sink->documents_total += sink->n_pending;
    for (size_t i = 0; i < sink->n_pending; i++)
        sink_pending_cleanup(&sink->pending[i]);
    sink->n_pending = 0;
    sink->pending_bytes = 0;
    sink_maybe_reprobe_costs(sink);
    return true;
}

bool tf_sink_commit(tf_sink *sink, const tf_checkpoint *cp, tf_error *err)
{
    if (!tf_sink_flush(sink, err))
        return false;
    if (cp == NULL)
        return true;
    int64_t seq = sink->checkpoint_seq + 1;
    if (!sink_state_write_staged(sink, seq, err))
        return false;
    if (!sink_checkpoint_write(sink, cp, seq, err))
        return false;
    sink->checkpoint_seq = seq;
    sink->stats.checkpoints++;
    return true;
}
