/* cost.c — what the target's writes cost (sink.h section 2, "write
 * costs"): probed once on a scratch collection at open, then refined by
 * the time each flush took.
 *
 * The probe writes each shape the sink sends (insert, replace by _id,
 * $set of an element path, updateMany with arrayFilters where the server
 * has them) PROBE_OPS times in one ordered bulk, as a flush does, and
 * divides. The per-KB cost is the slope between replaces of small and of
 * large documents. A probe that fails leaves the costs unmeasured: the
 * view then writes as it would without them. */
#include "sink_internal.h"

#include <string.h>
#include <unistd.h>

#define PROBE_OPS 16
#define PROBE_SMALL_PAD 1024
#define PROBE_LARGE_PAD (32 * 1024)
/* A flush refines the costs only from this many ops on: a smaller one's
 * time is mostly its round trip. */
#define REFINE_MIN_OPS 16
/* How far one flush moves a cost towards what it measured. */
#define REFINE_WEIGHT 0.2

static double now_ms(void) { return (double)bson_get_monotonic_time() / 1000.0; }

static bson_t *probe_doc(int id, size_t pad_len, char *pad)
{
    memset(pad, 'x', pad_len);
    pad[pad_len] = '\0';
    return BCON_NEW("_id", BCON_INT32(id), "pad", BCON_UTF8(pad), "a", "[", "{", "k", BCON_INT32(0),
                    "v", BCON_INT32(0), "}", "{", "k", BCON_INT32(1), "v", BCON_INT32(0), "}", "]");
}

typedef enum probe_shape {
    PROBE_INSERT,
    PROBE_REPLACE,
    PROBE_REPLACE_LARGE,
    PROBE_UPDATE,
    PROBE_UPDATE_MANY,     /* one per document */
    PROBE_UPDATE_MANY_ALL, /* one reaching every document */
} probe_shape;

/* Milliseconds one ordered bulk of the shape took; negative on failure. */
static double probe_bulk(tf_sink *sink, mongoc_collection_t *scratch, probe_shape shape, int round)
{
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", true);
    sink_append_write_concern(sink, &opts);
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(scratch, &opts);
    bson_destroy(&opts);
    static char pad[PROBE_LARGE_PAD + 1];
    bson_error_t error;
    bool ok = true;
    int n = shape == PROBE_UPDATE_MANY_ALL ? 1 : PROBE_OPS;
    for (int i = 0; ok && i < n; i++) {
        bson_t *filter = BCON_NEW("_id", BCON_INT32(i));
        bson_t *doc = NULL, *update = NULL, *one_opts = NULL;
        switch (shape) {
        case PROBE_INSERT:
            doc = probe_doc(i, PROBE_SMALL_PAD, pad);
            ok = mongoc_bulk_operation_insert_with_opts(bulk, doc, NULL, &error);
            break;
        case PROBE_REPLACE:
        case PROBE_REPLACE_LARGE:
            doc = probe_doc(i, shape == PROBE_REPLACE ? PROBE_SMALL_PAD : PROBE_LARGE_PAD, pad);
            one_opts = BCON_NEW("upsert", BCON_BOOL(true));
            ok = mongoc_bulk_operation_replace_one_with_opts(bulk, filter, doc, one_opts, &error);
            break;
        case PROBE_UPDATE:
            update = BCON_NEW("$set", "{", "a.1.v", BCON_INT32(round), "}");
            ok = mongoc_bulk_operation_update_one_with_opts(bulk, filter, update, NULL, &error);
            break;
        case PROBE_UPDATE_MANY:
        case PROBE_UPDATE_MANY_ALL:
            if (shape == PROBE_UPDATE_MANY_ALL) {
                bson_destroy(filter);
                filter = bson_new();
            }
            update = BCON_NEW("$set", "{", "a.$[e].v", BCON_INT32(round), "}");
            one_opts = BCON_NEW("arrayFilters", "[", "{", "e.k", BCON_INT32(1), "}", "]");
            ok =
                mongoc_bulk_operation_update_many_with_opts(bulk, filter, update, one_opts, &error);
            break;
        }
        bson_destroy(filter);
        if (doc)
            bson_destroy(doc);
        if (update)
            bson_destroy(update);
        if (one_opts)
            bson_destroy(one_opts);
    }
    double t0 = now_ms();
    bson_t reply;
    ok = ok && mongoc_bulk_operation_execute(bulk, &reply, &error) != 0;
    double took = now_ms() - t0;
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    return ok ? took : -1;
}

static double at_least(double v, double floor) { return v > floor ? v : floor; }

bool sink_probe_costs(tf_sink *sink)
{
    memset(&sink->stats.costs, 0, sizeof sink->stats.costs);
    char name[128];
    snprintf(name, sizeof name, "tapflow_probe_cost_%ld_%lld", (long)getpid(),
             (long long)bson_get_monotonic_time());
    mongoc_collection_t *scratch = mongoc_client_get_collection(sink->client, sink->database, name);
    bool af = sink->fanout == TF_FANOUT_ARRAY_FILTERS;
    /* The first write creates the collection: not a cost of any shape. */
    bson_error_t error;
    bson_t *all = bson_new();
    bool warm = probe_bulk(sink, scratch, PROBE_INSERT, 0) >= 0 &&
                mongoc_collection_delete_many(scratch, all, NULL, NULL, &error);
    bson_destroy(all);
    double insert = warm ? probe_bulk(sink, scratch, PROBE_INSERT, 1) : -1;
    double replace = insert >= 0 ? probe_bulk(sink, scratch, PROBE_REPLACE, 2) : -1;
    double update = replace >= 0 ? probe_bulk(sink, scratch, PROBE_UPDATE, 3) : -1;
    double large = update >= 0 ? probe_bulk(sink, scratch, PROBE_REPLACE_LARGE, 4) : -1;
    double many = af && large >= 0 ? probe_bulk(sink, scratch, PROBE_UPDATE_MANY, 5) : 0;
    double many_all = af && many >= 0 ? probe_bulk(sink, scratch, PROBE_UPDATE_MANY_ALL, 6) : 0;
    mongoc_collection_drop(scratch, &error);
    mongoc_collection_destroy(scratch);
    if (insert < 0 || replace < 0 || update < 0 || large < 0 || many < 0 || many_all < 0)
        return false;
    tf_sink_write_costs *c = &sink->stats.costs;
    /* A floor of a microsecond: a cost of 0 would mean "unmeasured". */
    c->insert_ms = at_least(insert / PROBE_OPS, 0.001);
    c->replace_ms = at_least(replace / PROBE_OPS, 0.001);
    c->update_ms = at_least(update / PROBE_OPS, 0.001);
    double kb = (double)(PROBE_LARGE_PAD - PROBE_SMALL_PAD) / 1024;
    c->per_kb_ms = at_least((large / PROBE_OPS - c->replace_ms) / kb, 0);
    if (af) {
        c->update_many_ms = at_least(many / PROBE_OPS, 0.001);
        c->update_many_doc_ms = at_least((many_all - c->update_many_ms) / (PROBE_OPS - 1), 0);
    }
    c->measured = true;
    return true;
}

static double *cost_of(tf_sink_write_costs *c, tf_doc_op_kind kind)
{
    switch (kind) {
    case TF_DOC_OP_INSERT: return &c->insert_ms;
    case TF_DOC_OP_REPLACE: return &c->replace_ms;
    case TF_DOC_OP_UPDATE_MANY: return &c->update_many_ms;
    case TF_DOC_OP_UPDATE:
    case TF_DOC_OP_DELETE: /* a delete is priced as an update, and left alone */
    case TF_DOC_OP_NONE:
    default: return &c->update_ms;
    }
}

void sink_refine_costs(tf_sink *sink, double elapsed_ms)
{
    tf_sink_write_costs *c = &sink->stats.costs;
    if (!c->measured || sink->n_pending < REFINE_MIN_OPS || elapsed_ms <= 0)
        return;
    enum {
        KINDS = TF_DOC_OP_INSERT + 1
    };
    double spent[KINDS] = {0}, predicted = 0, kb = 0;
    for (size_t i = 0; i < sink->n_pending; i++) {
        const tf_doc_op *op = &sink->pending[i].op;
        if (op->kind <= TF_DOC_OP_NONE || op->kind > TF_DOC_OP_INSERT)
            continue;
        spent[op->kind] += *cost_of(c, op->kind);
        kb += (double)tf_doc_op_size(op) / 1024;
    }
    for (int k = 0; k < KINDS; k++)
        predicted += spent[k];
    predicted += c->per_kb_ms * kb;
    if (predicted <= 0)
        return;
    double ratio = elapsed_ms / predicted;
    ratio = ratio < 0.2 ? 0.2 : ratio > 5 ? 5 : ratio;
    /* Each shape moves by its share of the predicted time. */
    for (int k = TF_DOC_OP_REPLACE; k < KINDS; k++) {
        if (spent[k] <= 0 || k == TF_DOC_OP_DELETE)
            continue;
        double *cost = cost_of(c, (tf_doc_op_kind)k);
        *cost = at_least(*cost * (1 + REFINE_WEIGHT * (spent[k] / predicted) * (ratio - 1)), 0.001);
    }
    c->refinements++;
}
