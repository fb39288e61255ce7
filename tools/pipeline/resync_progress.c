/* resync_progress.c — the re-sync queue stored with each checkpoint (in the
 * state meta, committed with it) and restored by a restarted flow, with the
 * flow text the documents are of (read back by a start under an edited
 * flow, tf_flow_edit_plan). Keys are kept in the view journal's typed
 * encoding, exact for every value kind. */
#include "pipeline_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct bytes_out {
    bson_t *doc;
    const char *field;
} bytes_out;

static bool append_chunk(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    bytes_out *o = arg;
    bson_append_binary(o->doc, o->field, -1, BSON_SUBTYPE_BINARY, data, (uint32_t)len);
    return true;
}

/* Key value lists in the journal's typed encoding (every value kind, exact). */
static void append_keys(bson_t *doc, const char *field, const char *table, tf_value *const *keys,
                        size_t n, size_t key_count)
{
    tf_view_journal *jr = tf_view_journal_new();
    for (size_t i = 0; i < n; i++)
        tf_view_journal_add(jr, table, TF_VIEW_INSERT, NULL, keys[i], key_count);
    bytes_out o = {doc, field};
    tf_error err = {0};
    tf_view_journal_save(jr, (size_t)1 << 30, append_chunk, &o, &err);
    tf_view_journal_destroy(jr);
}

void resync_progress(const tf_pipeline *p, bson_t *out)
{
    bson_init(out);
    /* the flow these documents and this state are of: a later start under
     * an edited flow plans from it (tf_flow_edit_plan) */
    char *flow = tf_flow_spec_to_text(p->spec, "flow");
    BSON_APPEND_UTF8(out, "flow", flow);
    bson_free(flow);
    if (!p->jobs)
        return;
    bson_t jobs;
    bson_append_array_begin(out, "resync", -1, &jobs);
    unsigned i = 0;
    for (const resync_job *j = p->jobs; j; j = j->next, i++) {
        char index[16];
        snprintf(index, sizeof index, "%u", i);
        bson_t d;
        bson_append_document_begin(&jobs, index, -1, &d);
        BSON_APPEND_UTF8(&d, "table", j->table);
        BSON_APPEND_UTF8(&d, "kind",
                         j->kind == RESYNC_TABLE  ? "table"
                         : j->kind == RESYNC_ROWS ? "rows"
                                                  : "rewrite");
        BSON_APPEND_BOOL(&d, "force", j->force);
        if (j->kind == RESYNC_TABLE && j->after && !j->checking)
            append_keys(&d, "after", j->table, &j->after, 1, j->key_count);
        if (j->kind == RESYNC_ROWS && j->key_rows)
            append_keys(&d, "keys", j->table, j->keys, j->key_rows, j->key_count);
        bson_append_document_end(&jobs, &d);
    }
    bson_append_array_end(out, &jobs);
}

typedef struct keys_in {
    resync_job *job;
    bool after;
} keys_in;

static bool take_key(const char *table, tf_view_change_kind kind, const tf_value *before,
                     const tf_value *after, size_t column_count, void *arg, tf_error *err)
{
    (void)table;
    (void)kind;
    (void)before;
    keys_in *in = arg;
    if (!after || column_count != in->job->key_count)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "key of %zu values, expected %zu",
                            column_count, in->job->key_count),
               false;
    if (in->after) {
        bson_free(in->job->after);
        in->job->after = tf_pipeline_values_dup(after, column_count);
    } else {
        resync_job_add_key(in->job, after);
    }
    return true;
}

bool tf_pipeline_resync_restore(tf_pipeline *p, const bson_t *progress, tf_error *err)
{
    bson_iter_t it, jobs;
    if (!progress || !bson_iter_init_find(&it, progress, "resync"))
        return true;
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &jobs))
        goto malformed;
    while (bson_iter_next(&jobs)) {
        bson_iter_t f;
        const uint8_t *data;
        uint32_t len;
        bson_t d;
        if (!BSON_ITER_HOLDS_DOCUMENT(&jobs))
            goto malformed;
        bson_iter_document(&jobs, &len, &data);
        if (!bson_init_static(&d, data, len))
            goto malformed;
        if (!bson_iter_init_find(&f, &d, "table") || !BSON_ITER_HOLDS_UTF8(&f))
            goto malformed;
        const char *table = bson_iter_utf8(&f, NULL);
        const char *kind = bson_iter_init_find(&f, &d, "kind") && BSON_ITER_HOLDS_UTF8(&f)
                               ? bson_iter_utf8(&f, NULL)
                               : "table";
        if (!tf_view_uses_table(p->view, table)) {
            /* a table the flow no longer reads (an edited flow) */
            pipeline_log(p, "re-sync of %s.%s dropped: the flow no longer reads it", p->database,
                         table);
            continue;
        }
        if (strcmp(kind, "rewrite") == 0) {
            tf_pipeline_rewrite_all(p, "continued from the checkpoint");
            continue;
        }
        bool rows = strcmp(kind, "rows") == 0;
        resync_job *j = resync_job_new(p, rows ? RESYNC_ROWS : RESYNC_TABLE, table);
        j->force =
            bson_iter_init_find(&f, &d, "force") && BSON_ITER_HOLDS_BOOL(&f) && bson_iter_bool(&f);
        const char *field = rows ? "keys" : "after";
        if (bson_iter_init_find(&f, &d, field)) {
            const uint8_t *bin;
            uint32_t blen;
            bson_subtype_t st;
            if (!BSON_ITER_HOLDS_BINARY(&f))
                goto malformed;
            bson_iter_binary(&f, &st, &blen, &bin);
            keys_in in = {j, !rows};
            if (tf_view_journal_decode(bin, blen, take_key, &in, err) != TF_OK) {
                tf_error_prefix(err, "the re-sync queue stored with the checkpoint (%s)", table);
                return false;
            }
            j->resumed = !rows;
        }
        pipeline_log(p, "re-sync of %s.%s continues from the checkpoint%s", p->database, table,
                     j->after ? " after its last completed read" : "");
    }
    return true;
malformed:
    return tf_error_set(err, TF_ERR_CONFIG, 0,
                        "the re-sync queue stored with the checkpoint is malformed; restart with "
                        "--resnapshot"),
           false;
}

char *tf_pipeline_progress_flow(const bson_t *progress)
{
    bson_iter_t it;
    if (!progress || !bson_iter_init_find(&it, progress, "flow") || !BSON_ITER_HOLDS_UTF8(&it))
        return NULL;
    return bson_strdup(bson_iter_utf8(&it, NULL));
}
