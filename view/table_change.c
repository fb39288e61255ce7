/* table_change.c — what the source does to a table besides row changes:
 * TRUNCATE, a new column list (ALTER TABLE) and the per-table re-sync
 * that re-reads rows (see view.h, "table changes and re-sync").
 *
 * A new column list keeps every held row: each row keeps the values of the
 * columns whose names remain, in the new order, and a new column is NULL
 * until the re-sync that follows brings its value. Keys are not touched:
 * the primary key and every relation column must survive by name, which is
 * checked before anything changes. No document is marked here: readers go
 * on seeing the old shape until the re-sync rewrites the documents (forced,
 * so that a dropped or added column reaches every document). */
#include "view_internal.h"

#include <stdio.h>
#include <string.h>

static bool name_is(const tf_column *c, const char *name)
{
    return c->name.len == strlen(name) && memcmp(c->name.ptr, name, c->name.len) == 0;
}

static long column_named(const tf_column *columns, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (name_is(&columns[i], name))
            return (long)i;
    return -1;
}

bool tf_view_table_matches(const tf_view *view, const char *table, const tf_column *columns,
                           size_t column_count)
{
    const view_table *t = view_table_by_name(view, table);
    if (!t || !t->defined || t->column_count != column_count)
        return false;
    for (size_t i = 0; i < column_count; i++)
        if (!view_same_column(&t->columns[i], &columns[i]))
            return false;
    return true;
}

/* The columns the flow joins on, by name, must remain; so must the primary
 * key, in the same order. */
static tf_status check_columns_kept(const tf_view *view, const view_table *t,
                                    const tf_column *columns, size_t column_count,
                                    const uint32_t *pk, size_t pk_count, tf_error *err)
{
    bool same_pk = pk_count == t->pk_count;
    for (size_t k = 0; same_pk && k < pk_count; k++)
        same_pk = pk[k] < column_count && name_is(&columns[pk[k]], t->columns[t->pk[k]].name.ptr);
    if (!same_pk)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "table %.100s: its primary key changed (the view addresses its rows "
                            "by it): flow %.100s cannot follow; restart with --resnapshot",
                            t->name, view->spec->name);
    for (size_t i = 1; i < view->node_count; i++) {
        const view_node *n = &view->nodes[i];
        const tf_flow_lookup *lk = n->lookup;
        const view_table *parent = view->nodes[n->parent].table;
        for (size_t r = 0; r < lk->relation_count; r++) {
            const tf_flow_relation *rel = &lk->relations[r];
            const char *last = strrchr(rel->parent_field, '.');
            const char *parent_column = last ? last + 1 : rel->parent_field;
            const char *missing = NULL;
            if (n->table == t && column_named(columns, column_count, rel->child_column) < 0)
                missing = rel->child_column;
            else if (parent == t && column_named(columns, column_count, parent_column) < 0)
                missing = parent_column;
            if (missing)
                return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                    "table %.100s: column %.100s was dropped or renamed, but "
                                    "lookup \"%.100s\" (%.100s:%u) joins on it: flow %.100s "
                                    "cannot follow; change the flow or the table",
                                    t->name, missing, lk->path, view->spec->file, rel->pos.line,
                                    view->spec->name);
        }
        /* a new column may not take an embedded field's name */
        if (parent == t && column_named(columns, column_count, n->name) >= 0)
            return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                "table %.100s: new column %.100s collides with the path of lookup "
                                "\"%.100s\": flow %.100s cannot follow",
                                t->name, n->name, lk->path, view->spec->name);
    }
    return TF_OK;
}

/* A held row rewritten for the new column list: its packed values, then
 * its primary key and slot keys (copied: the buckets they point into go). */
typedef struct saved_row {
    size_t values_at, values_len, pk_at, pk_len;
    size_t key_at[64];
    uint32_t key_len[64];
} saved_row;

/* The row's document under the new column list (a new column is null),
 * packed onto out; old and remapped are work buffers. */
static void append_remapped_values(view_buf *out, const view_table *t, const view_row *row,
                                   const tf_column *columns, size_t column_count, view_buf *old,
                                   view_buf *remapped)
{
    old->len = remapped->len = 0;
    view_row_bson(t, row, old);
    view_buf *doc = remapped;
    size_t at = view_raw_open(doc);
    for (size_t i = 0; i < column_count; i++) {
        const tf_column *c = &columns[i];
        size_t pos = 0;
        view_raw_element e;
        bool found = false;
        while (view_raw_next(old->ptr, old->len, &pos, &e)) {
            if (e.key_len == c->name.len && memcmp(e.key, c->name.ptr, e.key_len) == 0) {
                found = true;
                break;
            }
        }
        if (found) {
            view_buf_append(doc, e.start, e.len);
        } else {
            view_raw_key(doc, BSON_TYPE_NULL, c->name.ptr, c->name.len);
        }
    }
    view_raw_close(doc, at);
    bool ok = view_pack_doc(out, doc->ptr, doc->len, column_count);
    BSON_ASSERT(ok); /* one element per column, written just above */
}

tf_status tf_view_redefine_table(tf_view *view, const char *table, const tf_column *columns,
                                 size_t column_count, const uint32_t *primary_key,
                                 size_t primary_key_count, tf_error *err)
{
    if (view->sealed)
        return view_sealed_error(err);
    view_table *t = view_table_by_name(view, table);
    if (!t)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "table %.100s is not read by flow %.100s", table,
                            view->spec->name);
    if (!t->defined || t->rows.count == 0 || !view->ready)
        return tf_view_define_table(view, table, columns, column_count, primary_key,
                                    primary_key_count, err);
    uint32_t pk_from_flags[64];
    if (!primary_key) {
        primary_key_count = 0;
        for (size_t i = 0; i < column_count && primary_key_count < 64; i++)
            if (columns[i].is_primary_key)
                pk_from_flags[primary_key_count++] = (uint32_t)i;
        primary_key = pk_from_flags;
    }
    if (check_columns_kept(view, t, columns, column_count, primary_key, primary_key_count, err) !=
        TF_OK)
        return TF_MALFORMED;
    if (t->slot_count > 64)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "table %.100s: more than 64 join indexes",
                            t->name);
    /* What view_table_define would refuse, refused before any row moves. */
    if (primary_key_count == 0 || primary_key_count > 64)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "table %.100s: new column list without a usable primary key", t->name);
    for (size_t i = 0; i < column_count; i++)
        if (columns[i].name.len == 0)
            return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                "table %.100s: column %zu has no name (the view needs "
                                "binlog_row_metadata=FULL or the schema)",
                                t->name, i);
    /* Every row, rewritten, into one buffer; then out of the table. */
    size_t count = t->rows.count;
    saved_row *saved = bson_malloc0(count * sizeof *saved);
    view_row **rows = bson_malloc(count * sizeof *rows);
    view_buf data = {0}, old = {0}, remapped = {0};
    size_t n = 0, bucket = 0;
    for (view_map_entry *e = view_map_next(&t->rows, &bucket, NULL); e;
         e = view_map_next(&t->rows, &bucket, e)) {
        view_row *row = e->value;
        saved_row *s = &saved[n];
        rows[n++] = row;
        s->values_at = data.len;
        append_remapped_values(&data, t, row, columns, column_count, &old, &remapped);
        s->values_len = data.len - s->values_at;
        s->pk_at = data.len;
        s->pk_len = row->pk_len;
        view_buf_append(&data, view_row_pk(row), row->pk_len);
        for (size_t k = 0; k < t->slot_count; k++) {
            s->key_at[k] = data.len;
            s->key_len[k] = view_row_keys(row)[k].len;
            if (view_row_keys(row)[k].len)
                view_buf_append(&data, view_row_keys(row)[k].ptr, view_row_keys(row)[k].len);
        }
    }
    for (size_t i = 0; i < n; i++) {
        view_table_remove(t, rows[i]);
        view_row_destroy(t, rows[i]);
    }
    tf_status st = view_table_define(t, columns, column_count, primary_key, primary_key_count, err);
    BSON_ASSERT(st == TF_OK); /* checked above */
    view->ready = false;
    st = view_resolve(view, err);
    /* The rows go back, also when resolving failed (a relation column
     * retyped to another kind of value): the flow then stops on err. */
    view_row_key keys[64];
    for (size_t i = 0; i < n; i++) {
        const saved_row *s = &saved[i];
        for (size_t k = 0; k < t->slot_count; k++) {
            keys[k].ptr = data.ptr + s->key_at[k];
            keys[k].len = s->key_len[k];
            keys[k].position = 0;
        }
        view_row *row = view_row_assemble(t, data.ptr + s->pk_at, s->pk_len,
                                          data.ptr + s->values_at, s->values_len, keys);
        view_table_insert(t, row);
    }
    view_buf_cleanup(&data);
    view_buf_cleanup(&old);
    view_buf_cleanup(&remapped);
    bson_free(saved);
    bson_free(rows);
    return st;
}

tf_status tf_view_redefine_table_map(tf_view *view, const tf_table_map *map, tf_error *err)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)map->table.len, map->table.ptr);
    return tf_view_redefine_table(view, name, map->columns, map->column_count,
                                  map->primary_key_count ? map->primary_key : NULL,
                                  map->primary_key_count, err);
}

size_t tf_view_truncate(tf_view *view, const char *table)
{
    view_table *t = view_table_by_name(view, table);
    if (!t || t->rows.count == 0)
        return 0;
    size_t count = t->rows.count, n = 0, bucket = 0;
    view_row **rows = bson_malloc(count * sizeof *rows);
    for (view_map_entry *e = view_map_next(&t->rows, &bucket, NULL); e;
         e = view_map_next(&t->rows, &bucket, e))
        rows[n++] = e->value;
    for (size_t i = 0; i < n; i++) {
        view_mark_row(view, t, rows[i], 0, false);
        view_table_remove(t, rows[i]);
        view_row_destroy(t, rows[i]);
    }
    bson_free(rows);
    return n;
}

tf_status tf_view_foreach_row(const tf_view *view, const char *table, tf_view_row_fn fn, void *arg)
{
    const view_table *t = view_table_by_name(view, table);
    if (!t)
        return TF_OK;
    view_buf buf = {0};
    size_t bucket = 0;
    for (view_map_entry *e = view_map_next(&t->rows, &bucket, NULL); e;
         e = view_map_next(&t->rows, &bucket, e)) {
        const view_row *row = e->value;
        buf.len = 0;
        view_row_bson(t, row, &buf);
        bson_t doc;
        bool ok = bson_init_static(&doc, buf.ptr, buf.len);
        BSON_ASSERT(ok); /* unpacked whole */
        if (!fn(arg, view_row_pk(row), row->pk_len, &doc)) {
            view_buf_cleanup(&buf);
            return TF_MALFORMED;
        }
    }
    view_buf_cleanup(&buf);
    return TF_OK;
}

size_t tf_view_table_row_count(const tf_view *view, const char *table)
{
    const view_table *t = view_table_by_name(view, table);
    return t ? t->rows.count : 0;
}

bool tf_view_encode_key(const tf_view *view, const char *table, const tf_value *values,
                        uint8_t **key, size_t *len)
{
    const view_table *t = view_table_by_name(view, table);
    if (!t || !t->defined)
        return false;
    view_buf b = {0};
    if (!view_table_encode_pk(t, values, &b)) {
        view_buf_cleanup(&b);
        return false;
    }
    *key = b.ptr ? b.ptr : bson_malloc(1);
    *len = b.len;
    return true;
}

/* Marks the documents of the held row with this key; removes the row too
 * when remove. False when none is held. */
static bool mark_key(tf_view *view, const char *table, const uint8_t *key, size_t len, bool remove)
{
    view_table *t = view_table_by_name(view, table);
    view_row *row = t ? view_table_find(t, key, len) : NULL;
    if (!row)
        return false;
    view_mark_row(view, t, row, 0, false);
    if (remove) {
        view_table_remove(t, row);
        view_row_destroy(t, row);
    }
    return true;
}

bool tf_view_delete_key(tf_view *view, const char *table, const uint8_t *key, size_t len)
{
    if (view->sealed)
        return false;
    return mark_key(view, table, key, len, true);
}

bool tf_view_mark_key(tf_view *view, const char *table, const uint8_t *key, size_t len)
{
    return mark_key(view, table, key, len, false);
}

tf_status tf_view_resync_row(tf_view *view, const char *table, const tf_value *values, bool force,
                             bool *changed, tf_error *err)
{
    if (view->sealed)
        return view_sealed_error(err);
    *changed = false;
    view_table *t = view_table_by_name(view, table);
    if (!t)
        return TF_OK;
    bool accepted;
    if (view_filter_accepts(view, t, values, &accepted, err) != TF_OK)
        return TF_MALFORMED;
    if (!accepted && !force) {
        /* Refused by the filter: a change only when a row of its key is
         * held (it leaves). */
        view_buf key = {0};
        bool held = view_table_encode_pk(t, values, &key) && view_table_find(t, key.ptr, key.len);
        view_buf_cleanup(&key);
        if (!held)
            return TF_OK;
    } else if (!force) {
        view_row *fresh = view_row_build(t, values, err);
        if (!fresh)
            return TF_MALFORMED;
        const view_row *held = view_table_find(t, view_row_pk(fresh), fresh->pk_len);
        /* Packing is one-to-one: equal bytes, equal documents. */
        bool same = held && held->values_len == fresh->values_len &&
                    memcmp(view_row_values(held), view_row_values(fresh), held->values_len) == 0;
        view_row_destroy(t, fresh);
        if (same)
            return TF_OK;
    }
    *changed = true;
    return tf_view_apply(view, table, TF_VIEW_INSERT, NULL, values, err);
}

size_t tf_view_table_key(const tf_view *view, const char *table, const tf_column **columns,
                         size_t *column_count, const uint32_t **primary_key)
{
    const view_table *t = view_table_by_name(view, table);
    if (!t || !t->defined)
        return 0;
    if (columns)
        *columns = t->columns;
    if (column_count)
        *column_count = t->column_count;
    if (primary_key)
        *primary_key = t->pk;
    return t->pk_count;
}
