/* state_store.c — base + delta view state behind the daemon's checkpoints
 * (see state_store.h for the scheme and why it is crash-safe). */
#include "state_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define META_CHUNK "state.meta"
#define META_VERSION 2
/* A new base is written once the deltas exceed a quarter of the base (a
 * resume replays them change by change, slower per byte than loading rows)
 * and at least this much: small states would otherwise rewrite their base
 * at nearly every checkpoint. */
#define DELTA_FRACTION 4
#define DELTA_MIN_BYTES ((uint64_t)1 << 20)
/* Chunks are stored zstd-compressed (rows compress about 4x, and the
 * target's time goes with the bytes it stores). Room is left for a frame
 * of incompressible input, which zstd grows by under 0.4%. */
#define COMPRESSION_LEVEL 3
#define CHUNK_INPUT_MAX (TF_STATE_CHUNK_MAX - TF_STATE_CHUNK_MAX / 128)
/* The base chunks queued ahead of the target at most (tfr_state_store_stage
 * waits beyond): a large state is not held twice in memory. */
#define STATE_QUEUE_MAX ((size_t)64 << 20)
/* The most a stored chunk may expand to: a bound for malformed frames. */
#define CHUNK_OUTPUT_MAX ((size_t)64 << 20)
#define SNAPSHOT_MARK_CHUNK "snapshot"

/* What the stored (or the staged) checkpoint's state consists of. */
typedef struct state_layout {
    int64_t generation; /* 0: none */
    int64_t base_chunks, delta_chunks;
    uint64_t base_bytes, delta_bytes;
} state_layout;

struct tfr_state_store {
    tf_view_journal *journal;
    state_layout stored, staged;
    tfr_state_stats stats;
    bool force_base;  /* the next stage writes a base */
    bson_t *progress; /* read from the stored meta (a pointer: bson_t wants an
                         alignment bson_malloc does not give) */
    char *tag;        /* the stored checkpoint and state, as one string */
};

tfr_state_store *tfr_state_store_new(void)
{
    tfr_state_store *store = bson_malloc0(sizeof *store);
    store->journal = tf_view_journal_new();
    store->progress = bson_new();
    return store;
}

void tfr_state_store_destroy(tfr_state_store *store)
{
    if (!store)
        return;
    tf_view_journal_destroy(store->journal);
    bson_destroy(store->progress);
    bson_free(store->tag);
    bson_free(store);
}

void tfr_state_store_record(tfr_state_store *store, const char *table, tf_view_change_kind kind,
                            const tf_value *before, const tf_value *after, size_t column_count)
{
    tf_view_journal_add(store->journal, table, kind, before, after, column_count);
}

/* ---- writing ---- */

typedef struct chunk_writer {
    tf_sink_worker *worker;
    int64_t generation;
    const char *prefix; /* "base" or "delta" */
    int64_t next;       /* number of the next chunk */
    uint64_t bytes;     /* as stored */
    void *packed;
    size_t packed_cap;
} chunk_writer;

static bool write_chunk(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    chunk_writer *w = arg;
    char name[48];
    snprintf(name, sizeof name, "%s.%" PRId64, w->prefix, w->next);
    size_t bound = ZSTD_compressBound(len);
    if (bound > w->packed_cap) {
        w->packed = bson_realloc(w->packed, bound);
        w->packed_cap = bound;
    }
    size_t packed = ZSTD_compress(w->packed, w->packed_cap, data, len, COMPRESSION_LEVEL);
    if (ZSTD_isError(packed))
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "compressing state chunk %s: %s", name,
                            ZSTD_getErrorName(packed)),
               false;
    if (!tf_sink_worker_state_write(w->worker, w->generation, name, w->packed, packed, err) ||
        !tf_sink_worker_wait(w->worker, STATE_QUEUE_MAX, err))
        return false;
    w->next++;
    w->bytes += packed;
    return true;
}

static bool stage_meta(tf_sink_worker *worker, const state_layout *l, const char *spec_hash,
                       const bson_t *progress, char *const *root_key, size_t root_key_count,
                       tf_error *err)
{
    bson_t meta = BSON_INITIALIZER, keys;
    BSON_APPEND_INT32(&meta, "v", META_VERSION);
    BSON_APPEND_UTF8(&meta, "spec_hash", spec_hash);
    bson_append_array_begin(&meta, "root_key", -1, &keys);
    for (size_t i = 0; i < root_key_count; i++) {
        char k[24];
        snprintf(k, sizeof k, "%zu", i);
        BSON_APPEND_UTF8(&keys, k, root_key[i]);
    }
    bson_append_array_end(&meta, &keys);
    BSON_APPEND_INT64(&meta, "gen", l->generation);
    BSON_APPEND_INT64(&meta, "base_chunks", l->base_chunks);
    BSON_APPEND_INT64(&meta, "base_bytes", (int64_t)l->base_bytes);
    BSON_APPEND_INT64(&meta, "delta_chunks", l->delta_chunks);
    BSON_APPEND_INT64(&meta, "delta_bytes", (int64_t)l->delta_bytes);
    if (progress && !bson_empty(progress))
        BSON_APPEND_DOCUMENT(&meta, "progress", progress);
    bool ok = tf_sink_worker_state_put(worker, META_CHUNK, bson_get_data(&meta), meta.len, err);
    bson_destroy(&meta);
    return ok;
}

bool tfr_state_store_stage(tfr_state_store *store, tf_sink_worker *worker, const tf_view *view,
                           const char *spec_hash, char *const *root_key, size_t root_key_count,
                           const bson_t *progress, tf_error *err)
{
    int64_t t0 = bson_get_monotonic_time();
    const state_layout *cur = &store->stored;
    uint64_t deltas = cur->delta_bytes + tf_view_journal_bytes(store->journal);
    uint64_t limit = cur->base_bytes / DELTA_FRACTION;
    bool new_base = store->force_base || cur->generation == 0 ||
                    deltas > (limit > DELTA_MIN_BYTES ? limit : DELTA_MIN_BYTES);
    state_layout next = *cur;
    if (new_base) {
        /* A generation no stored checkpoint names: leftovers of a crash in
         * an earlier attempt at it are overwritten. */
        chunk_writer w = {worker, cur->generation + 1, "base", 0, 0, NULL, 0};
        bool ok = tf_view_save(view, CHUNK_INPUT_MAX, write_chunk, &w, err) == TF_OK;
        bson_free(w.packed);
        if (!ok)
            return false;
        next = (state_layout){w.generation, w.next, 0, w.bytes, 0};
        store->stats.bases_written++;
        store->stats.last_base_ms = (double)(bson_get_monotonic_time() - t0) / 1000.0;
    } else if (tf_view_journal_changes(store->journal)) {
        /* Numbers past the stored delta count: no checkpoint reads them yet. */
        chunk_writer w = {worker, cur->generation, "delta", cur->delta_chunks, 0, NULL, 0};
        bool ok =
            tf_view_journal_save(store->journal, CHUNK_INPUT_MAX, write_chunk, &w, err) == TF_OK;
        bson_free(w.packed);
        if (!ok)
            return false;
        next.delta_chunks = w.next;
        next.delta_bytes += w.bytes;
        store->stats.deltas_written += (uint64_t)(w.next - cur->delta_chunks);
    }
    tf_view_journal_clear(store->journal);
    if (!stage_meta(worker, &next, spec_hash, progress, root_key, root_key_count, err))
        return false;
    store->staged = next;
    store->force_base = false;
    double ms = (double)(bson_get_monotonic_time() - t0) / 1000.0;
    store->stats.stage_count++;
    store->stats.stage_ms_total += ms;
    if (ms > store->stats.stage_ms_max)
        store->stats.stage_ms_max = ms;
    return true;
}

static bool remove_chunks(tf_sink_worker *worker, int64_t generation, const char *prefix,
                          int64_t count, tf_error *err)
{
    for (int64_t i = 0; i < count; i++) {
        char name[48];
        snprintf(name, sizeof name, "%s.%" PRId64, prefix, i);
        if (!tf_sink_worker_state_remove(worker, generation, name, err))
            return false;
    }
    return true;
}

void tfr_state_store_set_checkpoint(tfr_state_store *store, const tf_checkpoint *cp)
{
    const state_layout *l = &store->stored;
    bson_free(store->tag);
    store->tag = bson_strdup_printf(
        "%s|%s|%s:%" PRIu64 "|%" PRIu64 "|%" PRIu64 "|%" PRId64 ".%" PRId64 ".%" PRId64,
        cp->spec_hash ? cp->spec_hash : "", cp->gtid ? cp->gtid : "",
        cp->binlog_file ? cp->binlog_file : "", cp->binlog_position, cp->rows, cp->transactions,
        l->generation, l->base_chunks, l->delta_chunks);
}

const char *tfr_state_store_tag(const tfr_state_store *store) { return store->tag; }

bool tfr_state_store_commit(tfr_state_store *store, tf_sink_worker *worker, const tf_checkpoint *cp,
                            tf_error *err)
{
    if (!tf_sink_worker_commit(worker, cp, err))
        return false;
    state_layout old = store->stored;
    store->stored = store->staged;
    tfr_state_store_set_checkpoint(store, cp);
    if (old.generation == store->stored.generation)
        return true;
    /* The old generation's chunks, one by one by _id (a filter over many
     * chunks would read them all on FerretDB), once the checkpoint naming
     * the new one is written. */
    return remove_chunks(worker, old.generation, "base", old.base_chunks, err) &&
           remove_chunks(worker, old.generation, "delta", old.delta_chunks, err) &&
           (old.generation != 0 ||
            tf_sink_worker_state_remove(worker, 0, SNAPSHOT_MARK_CHUNK, err));
}

bool tfr_state_store_mark_snapshot(tf_sink *sink, tf_error *err)
{
    static const uint8_t mark[] = {1};
    return tf_sink_state_write(sink, 0, SNAPSHOT_MARK_CHUNK, mark, sizeof mark, err);
}

bool tfr_state_store_snapshot_marked(tf_sink *sink, bool *marked, tf_error *err)
{
    uint8_t *data = NULL;
    size_t len;
    bool ok = tf_sink_state_read(sink, 0, SNAPSHOT_MARK_CHUNK, &data, &len, marked, err);
    free(data);
    return ok;
}

/* ---- reading ---- */

static bool meta_int(const bson_t *meta, const char *key, int64_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, meta, key) || !BSON_ITER_HOLDS_INT(&it))
        return false;
    *out = bson_iter_as_int64(&it);
    return *out >= 0;
}

bool tfr_state_store_read_meta(tfr_state_store *store, tf_sink *sink, const char *flow,
                               char ***root_key, size_t *root_key_count, tf_error *err)
{
    uint8_t *data;
    size_t len;
    bool found;
    *root_key = NULL;
    *root_key_count = 0;
    if (!tf_sink_state_get(sink, META_CHUNK, &data, &len, &found, err))
        return false;
    if (!found)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %s: the checkpoint has no view state with it (written by an "
                            "older tapflow, or removed); restart with --resnapshot",
                            flow),
               false;
    bson_t meta;
    bson_iter_t it, keys, prog;
    int64_t version = 0, base_bytes = 0, delta_bytes = 0;
    state_layout l = {0};
    bool ok = bson_init_static(&meta, data, len) && meta_int(&meta, "v", &version) &&
              version == META_VERSION && meta_int(&meta, "gen", &l.generation) &&
              l.generation > 0 && meta_int(&meta, "base_chunks", &l.base_chunks) &&
              meta_int(&meta, "base_bytes", &base_bytes) &&
              meta_int(&meta, "delta_chunks", &l.delta_chunks) &&
              meta_int(&meta, "delta_bytes", &delta_bytes) &&
              bson_iter_init_find(&it, &meta, "root_key") && BSON_ITER_HOLDS_ARRAY(&it) &&
              bson_iter_recurse(&it, &keys);
    while (ok && bson_iter_next(&keys)) {
        if (!BSON_ITER_HOLDS_UTF8(&keys)) {
            ok = false;
            break;
        }
        *root_key = bson_realloc(*root_key, (*root_key_count + 1) * sizeof **root_key);
        (*root_key)[(*root_key_count)++] = bson_strdup(bson_iter_utf8(&keys, NULL));
    }
    bson_reinit(store->progress);
    if (ok && bson_iter_init_find(&prog, &meta, "progress")) {
        const uint8_t *pdata;
        uint32_t plen;
        bson_t pdoc;
        ok = BSON_ITER_HOLDS_DOCUMENT(&prog);
        if (ok) {
            bson_iter_document(&prog, &plen, &pdata);
            ok = bson_init_static(&pdoc, pdata, plen);
        }
        if (ok) {
            bson_destroy(store->progress);
            store->progress = bson_copy(&pdoc);
        }
    }
    free(data);
    if (!ok) {
        for (size_t i = 0; i < *root_key_count; i++)
            bson_free((*root_key)[i]);
        bson_free(*root_key);
        *root_key = NULL;
        *root_key_count = 0;
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %s: the view state index (%s in the state collection) is "
                            "malformed or from another tapflow version; restart with "
                            "--resnapshot",
                            flow, META_CHUNK),
               false;
    }
    l.base_bytes = (uint64_t)base_bytes;
    l.delta_bytes = (uint64_t)delta_bytes;
    store->stored = store->staged = l;
    return true;
}

/* The stored chunks of the checkpoint's generation, compressed, in load
 * order (base chunks, then deltas). */
typedef struct packed_chunks {
    const state_layout *layout;
    uint8_t **data;
    size_t *len;
} packed_chunks;

static bool collect_chunk(const char *chunk, const uint8_t *data, size_t len, void *arg,
                          tf_error *err)
{
    (void)err;
    packed_chunks *p = arg;
    int64_t number;
    char tail;
    size_t slot;
    if (sscanf(chunk, "base.%" SCNd64 "%c", &number, &tail) == 1 && number >= 0 &&
        number < p->layout->base_chunks)
        slot = (size_t)number;
    else if (sscanf(chunk, "delta.%" SCNd64 "%c", &number, &tail) == 1 && number >= 0 &&
             number < p->layout->delta_chunks)
        slot = (size_t)(p->layout->base_chunks + number);
    else
        return true; /* past the checkpoint's counts: a crash's leftover */
    free(p->data[slot]);
    p->data[slot] = malloc(len ? len : 1);
    memcpy(p->data[slot], data, len);
    p->len[slot] = len;
    return true;
}

/* Decompresses a stored chunk into a new buffer (free()). */
static bool unpack(const uint8_t *packed, size_t packed_len, uint8_t **data, size_t *len,
                   const char *what, tf_error *err)
{
    unsigned long long size = ZSTD_getFrameContentSize(packed, packed_len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > CHUNK_OUTPUT_MAX)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s is not a zstd frame of at most %zu bytes; restart with "
                            "--resnapshot",
                            what, CHUNK_OUTPUT_MAX),
               false;
    *data = malloc(size ? (size_t)size : 1);
    *len = (size_t)size;
    size_t got = ZSTD_decompress(*data, (size_t)size, packed, packed_len);
    if (ZSTD_isError(got) || got != size) {
        free(*data);
        *data = NULL;
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s does not decompress (%s); restart with --resnapshot", what,
                            ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame"),
               false;
    }
    return true;
}

bool tfr_state_store_load(tfr_state_store *store, tf_sink *sink, tf_view *view, const char *flow,
                          tf_error *err)
{
    const state_layout *l = &store->stored;
    size_t total = (size_t)(l->base_chunks + l->delta_chunks);
    packed_chunks p = {l, calloc(total ? total : 1, sizeof *p.data),
                       calloc(total ? total : 1, sizeof *p.len)};
    /* One query for all: FerretDB reads the whole state collection for any
     * query, even one by _id. */
    bool ok = tf_sink_state_read_all(sink, l->generation, collect_chunk, &p, err);
    for (size_t i = 0; ok && i < total; i++) {
        bool is_base = i < (size_t)l->base_chunks;
        char what[200];
        snprintf(what, sizeof what, "flow %s: view state chunk %s.%zu of generation %" PRId64, flow,
                 is_base ? "base" : "delta", is_base ? i : i - (size_t)l->base_chunks,
                 l->generation);
        if (!p.data[i]) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "%s is missing; restart with --resnapshot", what);
            ok = false;
            break;
        }
        uint8_t *data;
        size_t len;
        ok = unpack(p.data[i], p.len[i], &data, &len, what, err);
        free(p.data[i]);
        p.data[i] = NULL;
        if (!ok)
            break;
        tf_status st = is_base ? tf_view_load_chunk(view, data, len, err)
                               : tf_view_journal_apply(view, data, len, err);
        free(data);
        if (st != TF_OK) {
            tf_error_prefix(err, "%s", what);
            ok = false;
        }
    }
    for (size_t i = 0; i < total; i++)
        free(p.data[i]);
    free(p.data);
    free(p.len);
    if (!ok)
        return false;
    if (!tf_view_ready(view))
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %s: the saved view state lacks tables; restart with "
                            "--resnapshot",
                            flow),
               false;
    tf_view_discard_pending(view);
    return true;
}

void tfr_state_store_get_stats(const tfr_state_store *store, tfr_state_stats *out)
{
    *out = store->stats;
    out->generation = store->stored.generation;
    out->base_chunks = (size_t)store->stored.base_chunks;
    out->delta_chunks = (size_t)store->stored.delta_chunks;
    out->base_bytes = store->stored.base_bytes;
    out->delta_bytes = store->stored.delta_bytes;
}

void tfr_state_store_force_base(tfr_state_store *store) { store->force_base = true; }

const bson_t *tfr_state_store_progress(const tfr_state_store *store) { return store->progress; }
