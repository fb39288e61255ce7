/* cost.c — what the target's writes cost (sink.h, tf_sink_write_costs):
 * probed on a scratch collection at open and again every
 * TF_SINK_COST_REPROBE_MS, and brought to the level each flush measured.
 *
 * The probe writes each shape the sink sends (insert, replace by _id,
 * $set of an element path, updateMany with arrayFilters where the server
 * has them) PROBE_OPS times in one ordered bulk, as a flush does, on
 * documents of nested objects like a wide table's (a flat string pad is
 * far cheaper per KB to a server that converts documents, as FerretDB
 * does), at two sizes: the base cost and the slope per KB of document
 * come from the pair. Only a probe compares the shapes on equal terms; a
 * flush's time, of whatever mix it wrote, moves every cost by the same
 * factor, so it changes the level the costs report, not their order. A
 * probe that fails leaves the costs as they were (unmeasured at open:
 * the view then writes as it would without them). */
#include "sink_internal.h"

#include <string.h>
#include <unistd.h>

#define PROBE_OPS 16
/* Array elements of the probe's small and large documents (about 0.2
 * and 5.6 KB; an order of the guide is about 1.1 KB): far apart, so that
 * the slopes stand above the noise of 16 writes. */
#define PROBE_SMALL_ELEMENTS 2
#define PROBE_LARGE_ELEMENTS 64
/* A flush refines the costs only from this many ops on: a smaller one's
 * time is mostly its round trip. */
#define REFINE_MIN_OPS 16
/* How far one flush moves the level towards what it measured. */
#define REFINE_WEIGHT 0.2

static double now_ms(void) { return (double)bson_get_monotonic_time() / 1000.0; }

/* {_id, a: [{k, v, s, n, d, o: {x, y}} x elements]} */
static bson_t *probe_doc(int id, int elements, int version)
{
    bson_t *doc = bson_new();
    BSON_APPEND_INT32(doc, "_id", id);
    bson_t array, element, object;
    BSON_APPEND_ARRAY_BEGIN(doc, "a", &array);
    for (int j = 0; j < elements; j++) {
        char key[16];
        const char *k;
        bson_uint32_to_string((uint32_t)j, &k, key, sizeof key);
        bson_append_document_begin(&array, k, -1, &element);
        BSON_APPEND_INT32(&element, "k", j);
        BSON_APPEND_INT32(&element, "v", version);
        BSON_APPEND_UTF8(&element, "s", "abcdefghij");
        BSON_APPEND_DOUBLE(&element, "n", 1.5 + j);
        BSON_APPEND_DATE_TIME(&element, "d", 1700000000000 + j);
        BSON_APPEND_DOCUMENT_BEGIN(&element, "o", &object);
        BSON_APPEND_INT32(&object, "x", j);
        BSON_APPEND_UTF8(&object, "y", "zz");
        bson_append_document_end(&element, &object);
        bson_append_document_end(&array, &element);
    }
    bson_append_array_end(doc, &array);
    return doc;
}

typedef enum probe_shape {
    PROBE_INSERT,
    PROBE_REPLACE,
    PROBE_UPDATE,
    PROBE_UPDATE_MANY,     /* one per document */
    PROBE_UPDATE_MANY_ALL, /* one reaching every document */
} probe_shape;

/* Milliseconds one ordered bulk of the shape took; negative on failure.
 * version makes every write change the documents. */
static double probe_bulk(tf_sink *sink, mongoc_collection_t *scratch, probe_shape shape,
                         int elements, int version)
{
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", true);
    sink_append_write_concern(sink, &opts);
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(scratch, &opts);
    bson_destroy(&opts);
    bson_error_t error;
    bool ok = true;
    int n = shape == PROBE_UPDATE_MANY_ALL ? 1 : PROBE_OPS;
    for (int i = 0; ok && i < n; i++) {
        bson_t *filter =
            shape == PROBE_UPDATE_MANY_ALL ? bson_new() : BCON_NEW("_id", BCON_INT32(i));
        bson_t *doc = NULL, *update = NULL, *one_opts = NULL;
        switch (shape) {
        case PROBE_INSERT:
            doc = probe_doc(i, elements, version);
            ok = mongoc_bulk_operation_insert_with_opts(bulk, doc, NULL, &error);
            break;
        case PROBE_REPLACE:
            doc = probe_doc(i, elements, version);
            one_opts = BCON_NEW("upsert", BCON_BOOL(true));
            ok = mongoc_bulk_operation_replace_one_with_opts(bulk, filter, doc, one_opts, &error);
            break;
        case PROBE_UPDATE:
            update = BCON_NEW("$set", "{", "a.1.v", BCON_INT32(version), "}");
            ok = mongoc_bulk_operation_update_one_with_opts(bulk, filter, update, NULL, &error);
            break;
        case PROBE_UPDATE_MANY:
        case PROBE_UPDATE_MANY_ALL:
            update = BCON_NEW("$set", "{", "a.$[e].v", BCON_INT32(version), "}");
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
    return ok ? took / n : -1;
}

static double at_least(double v, double floor) { return v > floor ? v : floor; }

static double probe_doc_kb(int elements)
{
    bson_t *doc = probe_doc(0, elements, 0);
    double kb = (double)doc->len / 1024;
    bson_destroy(doc);
    return kb;
}

/* The probe's writes, in order: each needs the documents the one before
 * left. Per op, ms. */
typedef struct probe_times {
    double insert_small, replace_small, update_small;
    double insert_large, replace_large, update_large;
    double update_many, update_many_all;
} probe_times;

static bool probe_all(tf_sink *sink, mongoc_collection_t *scratch, bool af, probe_times *t)
{
    bson_error_t error;
    bson_t *all = bson_new();
    /* The first write creates the collection: not a cost of any shape. */
    bool ok =
        probe_bulk(sink, scratch, PROBE_INSERT, PROBE_SMALL_ELEMENTS, 0) >= 0 &&
        mongoc_collection_delete_many(scratch, all, NULL, NULL, &error) &&
        (t->insert_small = probe_bulk(sink, scratch, PROBE_INSERT, PROBE_SMALL_ELEMENTS, 1)) >= 0 &&
        (t->replace_small = probe_bulk(sink, scratch, PROBE_REPLACE, PROBE_SMALL_ELEMENTS, 2)) >=
            0 &&
        (t->update_small = probe_bulk(sink, scratch, PROBE_UPDATE, PROBE_SMALL_ELEMENTS, 3)) >= 0 &&
        mongoc_collection_delete_many(scratch, all, NULL, NULL, &error) &&
        (t->insert_large = probe_bulk(sink, scratch, PROBE_INSERT, PROBE_LARGE_ELEMENTS, 4)) >= 0 &&
        (t->replace_large = probe_bulk(sink, scratch, PROBE_REPLACE, PROBE_LARGE_ELEMENTS, 5)) >=
            0 &&
        (t->update_large = probe_bulk(sink, scratch, PROBE_UPDATE, PROBE_LARGE_ELEMENTS, 6)) >= 0;
    if (ok && af)
        ok = (t->update_many =
                  probe_bulk(sink, scratch, PROBE_UPDATE_MANY, PROBE_LARGE_ELEMENTS, 7)) >= 0 &&
             (t->update_many_all =
                  probe_bulk(sink, scratch, PROBE_UPDATE_MANY_ALL, PROBE_LARGE_ELEMENTS, 8)) >= 0;
    bson_destroy(all);
    return ok;
}

bool sink_probe_costs(tf_sink *sink)
{
    char name[128];
    snprintf(name, sizeof name, "tapflow_probe_cost_%ld_%lld", (long)getpid(),
             (long long)bson_get_monotonic_time());
    mongoc_collection_t *scratch = mongoc_client_get_collection(sink->client, sink->database, name);
    bool af = sink->fanout == TF_FANOUT_ARRAY_FILTERS;
    probe_times t = {0};
    bool ok = probe_all(sink, scratch, af, &t);
    bson_error_t error;
    mongoc_collection_drop(scratch, &error);
    mongoc_collection_destroy(scratch);
    sink->costs_probed_us = bson_get_monotonic_time();
    if (!ok)
        return false;
    tf_sink_write_costs *c = &sink->stats.costs;
    double small_kb = probe_doc_kb(PROBE_SMALL_ELEMENTS);
    double kb = probe_doc_kb(PROBE_LARGE_ELEMENTS) - small_kb;
    /* A floor of a microsecond: a cost of 0 means "unmeasured". */
    c->insert_per_kb_ms = at_least((t.insert_large - t.insert_small) / kb, 0);
    c->replace_per_kb_ms = at_least((t.replace_large - t.replace_small) / kb, 0);
    c->update_per_kb_ms = at_least((t.update_large - t.update_small) / kb, 0);
    /* Bases at a document of 0 KB: the small one's cost less its slope. */
    c->insert_ms = at_least(t.insert_small - c->insert_per_kb_ms * small_kb, 0.001);
    c->replace_ms = at_least(t.replace_small - c->replace_per_kb_ms * small_kb, 0.001);
    c->update_ms = at_least(t.update_small - c->update_per_kb_ms * small_kb, 0.001);
    if (af) {
        c->update_many_ms = at_least(t.update_many, 0.001);
        c->update_many_doc_ms = at_least((t.update_many_all - t.update_many) / (PROBE_OPS - 1), 0);
    }
    if (c->doc_kb <= 0)
        c->doc_kb = 1;
    c->measured = true;
    c->probes++;
    return true;
}

/* What one op costs by the current figures. */
static double op_cost(const tf_sink_write_costs *c, const tf_doc_op *op)
{
    switch (op->kind) {
    case TF_DOC_OP_INSERT:
        return c->insert_ms + c->insert_per_kb_ms * (double)op->document->len / 1024;
    case TF_DOC_OP_REPLACE:
        return c->replace_ms + c->replace_per_kb_ms * (double)op->document->len / 1024;
    case TF_DOC_OP_UPDATE_MANY: return c->update_many_ms + c->update_many_doc_ms;
    case TF_DOC_OP_UPDATE:
    case TF_DOC_OP_DELETE: /* priced as an update */
    case TF_DOC_OP_NONE:
    default: return c->update_ms + c->update_per_kb_ms * c->doc_kb;
    }
}

void sink_refine_costs(tf_sink *sink, double elapsed_ms)
{
    tf_sink_write_costs *c = &sink->stats.costs;
    if (!c->measured || elapsed_ms <= 0)
        return;
    /* The typical document, from those written whole. */
    for (size_t i = 0; i < sink->n_pending; i++) {
        const tf_doc_op *op = &sink->pending[i].op;
        if (op->kind == TF_DOC_OP_INSERT || op->kind == TF_DOC_OP_REPLACE)
            c->doc_kb += 0.01 * ((double)op->document->len / 1024 - c->doc_kb);
    }
    if (sink->n_pending < REFINE_MIN_OPS)
        return;
    double predicted = 0;
    for (size_t i = 0; i < sink->n_pending; i++)
        predicted += op_cost(c, &sink->pending[i].op);
    if (predicted <= 0)
        return;
    double ratio = elapsed_ms / predicted;
    ratio = ratio < 0.2 ? 0.2 : ratio > 5 ? 5 : ratio;
    double f = 1 + REFINE_WEIGHT * (ratio - 1);
    double *all[] = {&c->insert_ms,         &c->insert_per_kb_ms,  &c->replace_ms,
                     &c->replace_per_kb_ms, &c->update_ms,         &c->update_per_kb_ms,
                     &c->update_many_ms,    &c->update_many_doc_ms};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (*all[k] > 0)
            *all[k] = at_least(*all[k] * f, 0.001);
    c->refinements++;
}

void sink_maybe_reprobe_costs(tf_sink *sink)
{
    if (!sink->stats.costs.measured ||
        bson_get_monotonic_time() - sink->costs_probed_us < (int64_t)TF_SINK_COST_REPROBE_MS * 1000)
        return;
    /* A failed probe keeps the figures it would have replaced. */
    tf_sink_write_costs before = sink->stats.costs;
    if (!sink_probe_costs(sink))
        sink->stats.costs = before;
}
