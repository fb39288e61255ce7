/* resync.c — per-table online re-sync (pipeline.h, DESIGN.md "Source events
 * and per-table re-sync").
 *
 * Why a read window is enough. A read starts after the stream has applied
 * everything up to some binlog point S (it reads the live server, which is
 * never behind what it has sent) and sees the table at some point P >= S.
 * While it is in flight the stream applies more, up to S'. For a key the
 * stream changed in (S, S'] the stream's row is kept and the read's ignored:
 * if S' >= P the stream's row is the newer, and if S' < P the changes in
 * (S', P] are still to come from the stream, which carries whole rows. For a
 * key the stream did not change in (S, S'] the read's row is right: at P,
 * and either P <= S' (no change in between) or the stream replays (S', P]
 * on top of it. This is DBLog's watermark idea, with the stream position at
 * the request and at the answer as the two watermarks; no signalling table
 * and no lock are needed. Statements that change many rows at once
 * (TRUNCATE, statement-format DML, ALTER) carry no keys: one of those on
 * the table while a read is in flight drops the read's answer.
 *
 * A chunk's rows are held until the read ends (at most resync_chunk_rows),
 * then applied together; the queue and the last completed chunk's key go
 * into each checkpoint (resync_progress), so a restarted flow continues
 * with the next chunk (resync_progress.c). */
#include "pipeline_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define RETRY_MS 1000
/* keys per key read */
#define KEY_READ_ROWS 1000
/* documents a slice of a read may change before it goes to the target */
#define RESYNC_SLICE_DOCS 200

static bool apply_slice(tf_pipeline *p, tf_error *err);
static void stop_applying(tf_pipeline *p);
/* documents a rewrite job recomputes per tick */
#define REWRITE_ROWS 1000

/* ---- jobs ---- */

static void job_clear_keys(resync_job *j)
{
    for (size_t i = 0; i < j->key_rows; i++)
        bson_free(j->keys[i]);
    j->key_rows = 0;
}

static void job_clear_root_keys(resync_job *j)
{
    for (size_t i = 0; i < j->root_key_count; i++)
        bson_free(j->root_keys[i]);
    bson_free(j->root_keys);
    bson_free(j->root_key_lens);
    j->root_keys = NULL;
    j->root_key_lens = NULL;
    j->root_key_count = j->root_key_next = 0;
    j->root_keys_taken = false;
}

static void job_destroy(resync_job *j)
{
    job_clear_keys(j);
    job_clear_root_keys(j);
    bson_free(j->keys);
    bson_free(j->after);
    keyset_clear(&j->confirmed);
    bson_free(j->table);
    bson_free(j);
}

static void job_restart(resync_job *j)
{
    job_clear_keys(j);
    bson_free(j->after);
    j->after = NULL;
    keyset_clear(&j->confirmed);
    j->resumed = j->checking = false;
    j->chunks = j->rows_read = j->rows_changed = j->rows_deleted = 0;
}

void resync_job_add_key(resync_job *j, const tf_value *key)
{
    if (j->key_rows == j->key_cap) {
        j->key_cap = j->key_cap ? j->key_cap * 2 : 16;
        j->keys = bson_realloc(j->keys, j->key_cap * sizeof *j->keys);
    }
    j->keys[j->key_rows++] = tf_pipeline_values_dup(key, j->key_count);
}

resync_job *resync_job_new(tf_pipeline *p, resync_kind kind, const char *table)
{
    resync_job *j = bson_malloc0(sizeof *j);
    j->kind = kind;
    j->table = bson_strdup(table);
    j->key_count = tf_view_table_key(p->view, table, NULL, NULL, NULL);
    resync_job **tail = &p->jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;
    return j;
}

static void drop_head(tf_pipeline *p)
{
    resync_job *j = p->jobs;
    p->jobs = j->next;
    job_destroy(j);
}

/* The read in flight (of the head job) is of no use any more. */
static void discard_read(tf_pipeline *p)
{
    if (!p->reading)
        return;
    if (p->source.cancel) {
        p->source.cancel(p->source.arg);
        p->reading = false;
    } else {
        p->discard = true; /* its answer will be dropped */
    }
}

void resync_table_hit(tf_pipeline *p, const char *table, bool start, bool force)
{
    if (p->reading && strcmp(p->jobs->table, table) == 0)
        discard_read(p);
    if (p->applying && strcmp(p->jobs->table, table) == 0)
        stop_applying(p); /* the rows not applied yet are of no use */
    bool found = false;
    for (resync_job *j = p->jobs; j; j = j->next) {
        if (j->kind != RESYNC_TABLE || strcmp(j->table, table) != 0)
            continue;
        job_restart(j);
        j->force = j->force || force;
        found = true;
    }
    if (!found && start) {
        resync_job *j = resync_job_new(p, RESYNC_TABLE, table);
        j->force = force;
    }
}

void tf_pipeline_rewrite_all(tf_pipeline *p, const char *reason)
{
    pipeline_log(p, "rewrite of every document of flow %s queued: %s", p->spec->name, reason);
    resync_job_new(p, RESYNC_REWRITE, p->spec->source_table);
}

void tf_pipeline_resync_start(tf_pipeline *p, const char *table, bool force, const char *reason)
{
    if (!tf_view_uses_table(p->view, table))
        return;
    pipeline_log(p, "re-sync of %s.%s queued: %s", p->database, table, reason);
    resync_table_hit(p, table, true, force);
}

/* ---- what the stream does meanwhile ---- */

static void note_key(tf_pipeline *p, const char *table, const tf_value *values, bool window)
{
    uint8_t *key;
    size_t len;
    if (!values || !tf_view_encode_key(p->view, table, values, &key, &len))
        return;
    if (window)
        keyset_add(&p->touched, key, len);
    for (resync_job *j = p->jobs; j; j = j->next)
        if (j->kind == RESYNC_TABLE && strcmp(j->table, table) == 0)
            keyset_add(&j->confirmed, key, len);
    bson_free(key);
}

void resync_note_change(tf_pipeline *p, const char *table, const tf_value *before,
                        const tf_value *after)
{
    if (!p->jobs)
        return;
    bool window = (p->reading || p->applying) && strcmp(p->jobs->table, table) == 0;
    note_key(p, table, before, window);
    note_key(p, table, after, window);
}

/* The key columns of an image, when it has them all. */
static bool image_key(const tf_pipeline *p, const char *table, const tf_value *image, tf_value *key)
{
    const tf_column *columns;
    size_t count;
    const uint32_t *pk;
    size_t n = tf_view_table_key(p->view, table, &columns, &count, &pk);
    if (!image || n == 0)
        return false;
    for (size_t k = 0; k < n; k++) {
        tf_value_kind kind = image[pk[k]].kind;
        if (kind == TF_VAL_ABSENT || kind == TF_VAL_NULL)
            return false;
        key[k] = image[pk[k]];
    }
    return true;
}

void resync_partial_row(tf_pipeline *p, const char *table, const tf_value *before,
                        const tf_value *after)
{
    tf_value kb[64], ka[64];
    bool has_before = image_key(p, table, before, kb);
    bool has_after = image_key(p, table, after, ka);
    if ((before && !has_before) || (!before && !has_after)) {
        /* no key to re-read by: the whole table */
        resync_table_hit(p, table, true, false);
        return;
    }
    /* A ROWS job of the table that is not being read takes the keys. */
    resync_job *j = NULL;
    for (resync_job *it = p->jobs; it; it = it->next)
        if (it->kind == RESYNC_ROWS && strcmp(it->table, table) == 0 &&
            !(it == p->jobs && p->reading))
            j = it;
    if (!j)
        j = resync_job_new(p, RESYNC_ROWS, table);
    if (has_before)
        resync_job_add_key(j, kb);
    if (has_after)
        resync_job_add_key(j, ka);
    /* The stream did not apply it: the read's row must win over any
     * earlier window entry of these keys, and the document may change. */
    p->dirty = true;
}

/* ---- reads ---- */

static void clear_read(tf_pipeline *p)
{
    for (size_t i = 0; i < p->read_row_count; i++)
        bson_free(p->read_rows[i]);
    p->read_row_count = 0;
    p->read_columns = NULL;
    p->read_column_count = p->read_pk_count = 0;
    keyset_clear(&p->touched);
}

/* Flattened keys for a key read (freed by the caller). */
static tf_value *flat_keys(const resync_job *j, size_t from, size_t n)
{
    tf_value *flat = bson_malloc((n * j->key_count + 1) * sizeof *flat);
    for (size_t i = 0; i < n; i++)
        memcpy(&flat[i * j->key_count], j->keys[from + i], j->key_count * sizeof *flat);
    return flat;
}

static bool take_root_key(void *arg, const uint8_t *key, size_t len, const bson_t *doc)
{
    resync_job *j = arg;
    (void)doc;
    j->root_keys[j->root_key_count] = bson_malloc(len ? len : 1);
    memcpy(j->root_keys[j->root_key_count], key, len);
    j->root_key_lens[j->root_key_count++] = len;
    return true;
}

/* One step of a rewrite job: the next REWRITE_ROWS documents recomputed
 * and replaced whole (the keys are taken when it starts: documents of root
 * rows inserted later are written whole anyway). */
static bool rewrite_step(tf_pipeline *p, resync_job *j, tf_error *err)
{
    if (!j->root_keys_taken) {
        size_t n = tf_view_table_row_count(p->view, j->table);
        j->root_keys = bson_malloc((n ? n : 1) * sizeof *j->root_keys);
        j->root_key_lens = bson_malloc((n ? n : 1) * sizeof *j->root_key_lens);
        tf_view_foreach_row(p->view, j->table, take_root_key, j);
        j->root_keys_taken = true;
    }
    tf_view_fanout mode = tf_view_get_fanout(p->view);
    if (!pipeline_push_ops(p, err) ||
        tf_view_set_fanout(p->view, TF_VIEW_FANOUT_RECOMPUTE, err) != TF_OK)
        return false;
    size_t end = j->root_key_next + REWRITE_ROWS;
    for (; j->root_key_next < j->root_key_count && j->root_key_next < end; j->root_key_next++)
        j->rows_changed += tf_view_mark_key(p->view, j->table, j->root_keys[j->root_key_next],
                                            j->root_key_lens[j->root_key_next]);
    p->mark_replaces = true;
    bool ok = pipeline_push_ops(p, err);
    p->mark_replaces = false;
    if (!ok)
        return false;
    if (tf_view_set_fanout(p->view, mode, err) != TF_OK)
        return false;
    j->chunks++;
    p->dirty = true;
    if (j->root_key_next >= j->root_key_count) {
        pipeline_log(p, "rewrite of the documents of flow %s done: %" PRIu64 " documents",
                     p->spec->name, j->rows_changed);
        p->resyncs_completed++;
        drop_head(p);
    }
    return true;
}

bool resync_tick(tf_pipeline *p, int64_t now_ms, tf_error *err)
{
    if (p->applying) {
        /* the next slice once the target has written the last one */
        if (p->target.pending && p->target.pending(p->target.arg))
            return true;
        return apply_slice(p, err);
    }
    if (!p->jobs || p->reading || now_ms < p->retry_at_ms)
        return true;
    resync_job *j = p->jobs;
    if (j->kind == RESYNC_REWRITE)
        return rewrite_step(p, j, err);
    if (!p->source.read)
        return true;
    if (j->key_count == 0) {
        j->key_count = tf_view_table_key(p->view, j->table, NULL, NULL, NULL);
        if (j->key_count == 0)
            return true; /* the table is not defined yet */
    }
    tf_pipeline_read req = {.table = j->table, .key_count = j->key_count};
    tf_value *flat = NULL;
    if (j->kind == RESYNC_ROWS || j->checking) {
        size_t n = j->key_rows < KEY_READ_ROWS ? j->key_rows : KEY_READ_ROWS;
        flat = flat_keys(j, 0, n);
        req.keys = flat;
        req.key_rows = n;
    } else {
        req.after = j->after;
        req.max_rows = p->resync_chunk_rows;
    }
    clear_read(p);
    p->reading = true;
    p->discard = false;
    tf_error rerr = {0};
    bool ok = p->source.read(p->source.arg, &req, &rerr);
    bson_free(flat);
    if (!ok) {
        p->reading = false;
        p->retry_at_ms = now_ms + RETRY_MS;
        pipeline_log(p, "re-sync of %s.%s: cannot read: %s; retrying in %d ms", p->database,
                     j->table, rerr.message, RETRY_MS);
    }
    return true;
}

void tf_pipeline_resync_columns(tf_pipeline *p, const tf_column *columns, size_t column_count,
                                const uint32_t *primary_key, size_t primary_key_count)
{
    p->read_columns = columns;
    p->read_column_count = column_count;
    p->read_pk_count = primary_key_count < 64 ? primary_key_count : 64;
    memcpy(p->read_pk, primary_key, p->read_pk_count * sizeof *p->read_pk);
}

void tf_pipeline_resync_row(tf_pipeline *p, const tf_value *values)
{
    if (!p->reading || p->discard || !p->read_columns)
        return;
    if (p->read_row_count == p->read_row_cap) {
        p->read_row_cap = p->read_row_cap ? p->read_row_cap * 2 : 256;
        p->read_rows = bson_realloc(p->read_rows, p->read_row_cap * sizeof *p->read_rows);
    }
    p->read_rows[p->read_row_count++] = tf_pipeline_values_dup(values, p->read_column_count);
}

/* ---- applying a read ---- */

static void stop_applying(tf_pipeline *p)
{
    p->applying = false;
    keyset_clear(&p->returned);
    clear_read(p);
}

typedef struct unconfirmed {
    tf_pipeline *p;
    resync_job *job;
    const tf_column *columns;
    const uint32_t *pk;
    uint8_t **keys; /* encoded, for deletes */
    size_t *lens;
    size_t count, cap;
    bool readable; /* every key converted back to values */
} unconfirmed;

static bool collect_unconfirmed(void *arg, const uint8_t *key, size_t len, const bson_t *doc)
{
    unconfirmed *u = arg;
    if (keyset_has(&u->job->confirmed, key, len))
        return true;
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->keys = bson_realloc(u->keys, u->cap * sizeof *u->keys);
        u->lens = bson_realloc(u->lens, u->cap * sizeof *u->lens);
    }
    u->keys[u->count] = bson_malloc(len ? len : 1);
    memcpy(u->keys[u->count], key, len);
    u->lens[u->count++] = len;
    if (u->job->resumed && u->readable) {
        tf_value values[64];
        if (u->job->key_count <= 64 &&
            values_from_doc(doc, u->columns, u->pk, u->job->key_count, values))
            resync_job_add_key(u->job, values);
        else
            u->readable = false;
    }
    return true;
}

static void unconfirmed_free(unconfirmed *u)
{
    for (size_t i = 0; i < u->count; i++)
        bson_free(u->keys[i]);
    bson_free(u->keys);
    bson_free(u->lens);
}

static void finish_job(tf_pipeline *p, resync_job *j)
{
    pipeline_log(p,
                 "re-sync of %s.%s done: %" PRIu64 " rows read in %" PRIu64 " reads, %" PRIu64
                 " changed, %" PRIu64 " deleted",
                 p->database, j->table, j->rows_read, j->chunks, j->rows_changed, j->rows_deleted);
    p->resyncs_completed++;
    drop_head(p);
}

/* The range chunks are all in: held rows nobody confirmed are gone from
 * the source (see the file comment); after a resume they are re-read by
 * key first, since the chunks before it confirmed nothing in this run. */
static void end_of_table(tf_pipeline *p, resync_job *j)
{
    const tf_column *columns;
    size_t count;
    const uint32_t *pk;
    tf_view_table_key(p->view, j->table, &columns, &count, &pk);
    unconfirmed u = {.p = p, .job = j, .columns = columns, .pk = pk, .readable = true};
    job_clear_keys(j);
    tf_view_foreach_row(p->view, j->table, collect_unconfirmed, &u);
    if (j->resumed && u.count) {
        if (!u.readable) {
            /* keys that do not read back exactly: the whole table again,
             * now that every row will be confirmed in this run */
            pipeline_log(p,
                         "re-sync of %s.%s: resumed, and its key cannot be re-read by value: "
                         "reading the table again",
                         p->database, j->table);
            bool force = j->force;
            job_restart(j);
            j->force = force;
        } else {
            j->checking = true;
        }
        unconfirmed_free(&u);
        return;
    }
    for (size_t i = 0; i < u.count; i++)
        if (tf_view_delete_key(p->view, j->table, u.keys[i], u.lens[i]))
            j->rows_deleted++;
    if (u.count)
        p->target.rebase(p->target.arg);
    unconfirmed_free(&u);
    finish_job(p, j);
}

/* A key read is in: requested keys it did not return, and the stream did
 * not touch, are gone from the source. */
static void end_of_key_read(tf_pipeline *p, resync_job *j, keyset *returned)
{
    size_t n = j->key_rows < KEY_READ_ROWS ? j->key_rows : KEY_READ_ROWS;
    const tf_column *columns;
    size_t count;
    const uint32_t *pk;
    tf_view_table_key(p->view, j->table, &columns, &count, &pk);
    tf_value *row = bson_malloc0((count ? count : 1) * sizeof *row);
    bool deleted = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < j->key_count; k++)
            row[pk[k]] = j->keys[i][k];
        uint8_t *key;
        size_t len;
        if (!tf_view_encode_key(p->view, j->table, row, &key, &len))
            continue;
        if (!keyset_has(returned, key, len) && !keyset_has(&p->touched, key, len) &&
            tf_view_delete_key(p->view, j->table, key, len)) {
            j->rows_deleted++;
            deleted = true;
        }
        bson_free(key);
    }
    bson_free(row);
    if (deleted)
        p->target.rebase(p->target.arg);
    /* the keys read leave the list */
    for (size_t i = 0; i < n; i++)
        bson_free(j->keys[i]);
    memmove(j->keys, j->keys + n, (j->key_rows - n) * sizeof *j->keys);
    j->key_rows -= n;
    if (j->key_rows == 0)
        finish_job(p, j);
}

bool tf_pipeline_resync_done(tf_pipeline *p, bool exhausted, const tf_error *read_err,
                             int64_t now_ms, tf_error *err)
{
    if (!p->reading)
        return true;
    p->reading = false;
    resync_job *j = p->jobs;
    if (p->discard) {
        clear_read(p);
        return true;
    }
    if (read_err) {
        pipeline_log(p, "re-sync of %s.%s: read failed: %s; retrying in %d ms", p->database,
                     j->table, read_err->message, RETRY_MS);
        p->retry_at_ms = now_ms + RETRY_MS;
        p->resync_read_errors++;
        clear_read(p);
        return true;
    }
    /* The read saw another column list than the view holds: an ALTER the
     * stream has not reached yet, or one it has (this is its re-sync). The
     * read's is the table's current shape; if the stream is still behind
     * it, its own TABLE_MAP or ALTER will re-sync again. */
    if (p->read_columns &&
        !tf_view_table_matches(p->view, j->table, p->read_columns, p->read_column_count)) {
        if (tf_view_redefine_table(p->view, j->table, p->read_columns, p->read_column_count,
                                   p->read_pk, p->read_pk_count, err) != TF_OK) {
            tf_error_prefix(err, "re-sync of %s.%s", p->database, j->table);
            clear_read(p);
            return false;
        }
        p->target.rebase(p->target.arg);
        j->force = true;
        if (j->kind == RESYNC_TABLE && (j->chunks || j->checking)) {
            /* chunks read under the old shape: all again */
            job_restart(j);
            clear_read(p);
            return true;
        }
    }
    p->applying = true;
    p->apply_next = 0;
    p->apply_exhausted = exhausted;
    keyset_clear(&p->returned);
    return apply_slice(p, err);
}

/* A forced re-sync (a new column list) rewrites documents whole, each after
 * a marking update: FerretDB 1.24 ignores a $set of an embedded row whose
 * column was renamed but whose values are equal (it compares sub-documents
 * by value, not by field name), and a replacement equal by value to the
 * stored document (a column retyped from INT to BIGINT); every document
 * changes anyway. The mode changes only between flushes. */
static bool enter_force_mode(tf_pipeline *p, const resync_job *j, tf_view_fanout *mode,
                             bool *recompute, tf_error *err)
{
    *mode = tf_view_get_fanout(p->view);
    *recompute = j->force && *mode != TF_VIEW_FANOUT_RECOMPUTE;
    if (*recompute && (!pipeline_push_ops(p, err) ||
                       tf_view_set_fanout(p->view, TF_VIEW_FANOUT_RECOMPUTE, err) != TF_OK))
        return false;
    p->mark_replaces = j->force;
    return true;
}

static bool leave_force_mode(tf_pipeline *p, tf_view_fanout mode, bool recompute, bool ok,
                             tf_error *err)
{
    p->mark_replaces = false;
    if (!recompute)
        return ok;
    /* the flow stops on !ok: what is pending is never written */
    if (!ok)
        tf_view_discard_pending(p->view);
    tf_error merr = {0};
    if (tf_view_set_fanout(p->view, mode, &merr) != TF_OK && ok) {
        *err = merr;
        return false;
    }
    return ok;
}

/* The read is applied. */
static void finish_read(tf_pipeline *p, resync_job *j)
{
    j->chunks++;
    p->dirty = true;
    if (j->kind == RESYNC_TABLE && !j->checking) {
        pipeline_log(p,
                     "re-sync of %s.%s: read %" PRIu64 " in: %zu rows (%" PRIu64
                     " rows read, %" PRIu64 " changed so far)",
                     p->database, j->table, j->chunks, p->read_row_count, j->rows_read,
                     j->rows_changed);
        if (p->read_row_count) {
            const tf_value *last = p->read_rows[p->read_row_count - 1];
            tf_value key[64];
            const tf_column *columns;
            size_t count;
            const uint32_t *pk;
            size_t n = tf_view_table_key(p->view, j->table, &columns, &count, &pk);
            for (size_t k = 0; k < n && k < 64; k++)
                key[k] = last[pk[k]];
            bson_free(j->after);
            j->after = tf_pipeline_values_dup(key, n);
            j->key_count = n;
        }
        if (p->apply_exhausted)
            end_of_table(p, j);
    } else {
        end_of_key_read(p, j, &p->returned);
    }
}

/* Applies the next rows of the read, until the documents they change reach
 * RESYNC_SLICE_DOCS: a chunk whose rows fan out to thousands of documents
 * goes to the target in slices, the next one only once the target has
 * written what it holds (resync_tick), so the stream's own changes get
 * through in between instead of waiting behind the whole chunk. Rows the
 * stream changes meanwhile keep the stream's version: the window lasts
 * until the last slice. */
static bool apply_slice(tf_pipeline *p, tf_error *err)
{
    resync_job *j = p->jobs;
    tf_view_fanout mode;
    bool recompute;
    if (!enter_force_mode(p, j, &mode, &recompute, err)) {
        stop_applying(p);
        return false;
    }
    bool ok = true;
    tf_view_stats vs;
    tf_view_get_stats(p->view, &vs);
    size_t pending0 = vs.pending_count;
    while (ok && p->apply_next < p->read_row_count) {
        const tf_value *values = p->read_rows[p->apply_next++];
        uint8_t *key;
        size_t len;
        if (!tf_view_encode_key(p->view, j->table, values, &key, &len))
            continue;
        keyset_add(&p->returned, key, len);
        j->rows_read++;
        p->resync_rows_read_total++;
        if (!keyset_has(&p->touched, key, len)) {
            bool changed = false;
            if (tf_view_resync_row(p->view, j->table, values, j->force, &changed, err) != TF_OK) {
                tf_error_prefix(err, "re-sync of %s.%s", p->database, j->table);
                ok = false;
            } else if (changed) {
                j->rows_changed++;
                p->resync_rows_changed_total++;
                p->target.record(p->target.arg, j->table, TF_VIEW_INSERT, NULL, values,
                                 p->read_column_count);
            }
        } else if (j->force) {
            /* the stream's row stays, but its documents are rewritten whole
             * too (see enter_force_mode) */
            tf_view_mark_key(p->view, j->table, key, len);
        }
        if (j->kind == RESYNC_TABLE)
            keyset_add(&j->confirmed, key, len);
        bson_free(key);
        tf_view_get_stats(p->view, &vs);
        if (vs.pending_count >= pending0 + RESYNC_SLICE_DOCS)
            break;
    }
    bool last = ok && p->apply_next >= p->read_row_count;
    if (last)
        finish_read(p, j);
    if (ok)
        ok = pipeline_push_ops(p, err);
    ok = leave_force_mode(p, mode, recompute, ok, err);
    if (last || !ok)
        stop_applying(p);
    return ok;
}

void tf_pipeline_get_resync_stats(const tf_pipeline *p, tf_pipeline_resync_stats *out)
{
    memset(out, 0, sizeof *out);
    out->completed = p->resyncs_completed;
    out->rows_read_total = p->resync_rows_read_total;
    out->rows_changed_total = p->resync_rows_changed_total;
    out->read_errors = p->resync_read_errors;
    for (const resync_job *j = p->jobs; j; j = j->next)
        out->queued++;
    if (p->jobs) {
        out->table = p->jobs->table;
        out->chunks = p->jobs->chunks;
        out->rows_read = p->jobs->rows_read;
        out->rows_changed = p->jobs->rows_changed;
        out->rows_deleted = p->jobs->rows_deleted;
    }
}

void resync_cleanup(tf_pipeline *p)
{
    if (p->reading && p->source.cancel)
        p->source.cancel(p->source.arg);
    keyset_clear(&p->returned);
    while (p->jobs)
        drop_head(p);
    clear_read(p);
    bson_free(p->read_rows);
}
