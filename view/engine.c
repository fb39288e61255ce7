/* engine.c — row changes in, affected documents out.
 *
 * The flow is a tree of nodes: node 0 reads the root table, node i+1 the
 * lookup i, under the node its path's prefix names. A change to a row of
 * table T can alter the document of every root whose join tree holds that
 * row, before or after the change. So each change is handled as
 *
 *   1. for the row as held before (if any): find its roots, mark them;
 *   2. change the state;
 *   3. for the row as held after (if any): find its roots, mark them.
 *
 * Finding roots walks up the tree through the indexes: a row of node N
 * joins the parent rows whose parent fields equal its relation columns
 * (parent slot index), and so on up to the root. Nothing is scanned, and
 * only the documents that embed the row are marked (for object lookups
 * with several matches, all their parents are marked although only the
 * lowest key is embedded: the recomputed document is then the same).
 *
 * tf_view_flush recomputes each marked document from the state, exactly
 * the LEFT JOINs of the flow, and emits it whole (replace with upsert), or
 * a delete when its root row is gone. Finer ops ($set of one path, array
 * filters) can replace whole documents later without changing the
 * marking. */
#include "view_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct view_node {
    view_table *table;
    long parent;      /* node index, -1 for the root */
    const char *name; /* field name in the parent: last path segment */
    tf_lookup_type type;
    const tf_flow_lookup *lookup; /* NULL for the root */
    size_t child_slot;            /* in table: this node's relation columns */
    size_t parent_slot;           /* in the parent's table: parent fields */
    bool *omit;                   /* per column: relation column, not embedded */
    size_t child_count;
    size_t *children;
} view_node;

struct tf_view {
    const tf_flow_spec *spec;
    size_t table_count;
    view_table **tables;
    size_t node_count;
    view_node *nodes;
    bool ready;
    view_map pending; /* encoded root pk -> bson_t filter (as last seen) */
    view_buf scratch;
};

static view_table *table_named(const tf_view *view, const char *name)
{
    for (size_t i = 0; i < view->table_count; i++)
        if (strcmp(view->tables[i]->name, name) == 0)
            return view->tables[i];
    return NULL;
}

static view_table *add_table(tf_view *view, const char *name)
{
    view_table *t = table_named(view, name);
    if (t)
        return t;
    view->tables = bson_realloc(view->tables, (view->table_count + 1) * sizeof *view->tables);
    t = view_table_new(name);
    view->tables[view->table_count++] = t;
    return t;
}

tf_view *tf_view_new(const tf_flow_spec *spec)
{
    tf_view *view = bson_malloc0(sizeof *view);
    view->spec = spec;
    view_map_init(&view->pending);
    view->node_count = spec->lookup_count + 1;
    view->nodes = bson_malloc0(view->node_count * sizeof *view->nodes);
    view->nodes[0].table = add_table(view, spec->source_table);
    view->nodes[0].parent = -1;
    for (size_t i = 0; i < spec->lookup_count; i++) {
        const tf_flow_lookup *lk = &spec->lookups[i];
        view_node *n = &view->nodes[i + 1];
        n->lookup = lk;
        n->table = add_table(view, lk->table);
        n->parent = lk->parent + 1; /* lookup parent -1 (root) is node 0 */
        n->type = lk->type;
        const char *dot = strrchr(lk->path, '.');
        n->name = dot ? dot + 1 : lk->path;
        view_node *parent = &view->nodes[n->parent];
        parent->children =
            bson_realloc(parent->children, (parent->child_count + 1) * sizeof *parent->children);
        parent->children[parent->child_count++] = i + 1;
        /* Slots by column name; parent fields lose their path prefix
         * (validation guarantees "<parent path>.<column>"). */
        char **child_names = bson_malloc(lk->relation_count * sizeof *child_names);
        char **parent_names = bson_malloc(lk->relation_count * sizeof *parent_names);
        for (size_t r = 0; r < lk->relation_count; r++) {
            child_names[r] = lk->relations[r].child_column;
            const char *field = lk->relations[r].parent_field;
            const char *last = strrchr(field, '.');
            parent_names[r] = (char *)(last ? last + 1 : field);
        }
        n->child_slot = view_table_slot(n->table, child_names, lk->relation_count);
        n->parent_slot = view_table_slot(parent->table, parent_names, lk->relation_count);
        bson_free(child_names);
        bson_free(parent_names);
    }
    return view;
}

void tf_view_destroy(tf_view *view)
{
    if (!view)
        return;
    size_t b = 0;
    for (view_map_entry *e = view_map_next(&view->pending, &b, NULL); e;
         e = view_map_next(&view->pending, &b, e))
        bson_destroy(e->value);
    view_map_cleanup(&view->pending);
    for (size_t i = 0; i < view->node_count; i++) {
        bson_free(view->nodes[i].omit);
        bson_free(view->nodes[i].children);
    }
    bson_free(view->nodes);
    for (size_t i = 0; i < view->table_count; i++)
        view_table_destroy(view->tables[i]);
    bson_free(view->tables);
    view_buf_cleanup(&view->scratch);
    bson_free(view);
}

size_t view_table_count(const tf_view *view) { return view->table_count; }

view_table *view_table_at(const tf_view *view, size_t index) { return view->tables[index]; }

view_table *view_table_by_name(const tf_view *view, const char *name)
{
    return table_named(view, name);
}

bool tf_view_uses_table(const tf_view *view, const char *table)
{
    return table_named(view, table) != NULL;
}

bool tf_view_ready(const tf_view *view) { return view->ready; }

static tf_status config_error(const tf_view *view, tf_flow_pos pos, tf_error *err, const char *fmt,
                              ...) __attribute__((format(printf, 4, 5)));

static tf_status config_error(const tf_view *view, tf_flow_pos pos, tf_error *err, const char *fmt,
                              ...)
{
    char msg[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tf_error_set(err, TF_ERR_CONFIG, 0, "%.150s:%u:%u: %.340s", view->spec->file, pos.line,
                        pos.column, msg);
}

/* Once every table is known: relation columns exist on both sides and
 * compare as the same kind of value; embedded field names do not collide
 * with columns of the row they are embedded in. */
static tf_status resolve(tf_view *view, tf_error *err)
{
    for (size_t i = 1; i < view->node_count; i++) {
        view_node *n = &view->nodes[i];
        const view_table *parent = view->nodes[n->parent].table;
        const tf_flow_lookup *lk = n->lookup;
        if (view_table_column(parent, n->name) >= 0)
            return config_error(view, lk->path_pos, err,
                                "path \"%.100s\": field \"%.100s\" is already a column of %.100s",
                                lk->path, n->name, parent->name);
        bson_free(n->omit);
        n->omit = bson_malloc0(n->table->column_count * sizeof *n->omit);
        for (size_t r = 0; r < lk->relation_count; r++) {
            const tf_flow_relation *rel = &lk->relations[r];
            long child = view_table_column(n->table, rel->child_column);
            if (child < 0)
                return config_error(view, rel->pos, err,
                                    "relation of path \"%.100s\": table %.100s has no column "
                                    "\"%.100s\"",
                                    lk->path, n->table->name, rel->child_column);
            const char *last = strrchr(rel->parent_field, '.');
            const char *parent_column = last ? last + 1 : rel->parent_field;
            long pcol = view_table_column(parent, parent_column);
            if (pcol < 0)
                return config_error(view, rel->pos, err,
                                    "relation of path \"%.100s\": table %.100s has no column "
                                    "\"%.100s\"",
                                    lk->path, parent->name, parent_column);
            const tf_column *pc = &parent->columns[pcol], *cc = &n->table->columns[child];
            if (view_key_family_of(pc) != view_key_family_of(cc) ||
                view_key_family_of(pc) == VIEW_KEY_OTHER)
                return config_error(
                    view, rel->pos, err,
                    "relation of path \"%.100s\": %.100s.%.100s (%s) and %.100s.%.100s (%s) are "
                    "not comparable the way the view joins them",
                    lk->path, parent->name, parent_column, tf_column_type_name(pc->type),
                    n->table->name, rel->child_column, tf_column_type_name(cc->type));
            n->omit[child] = true;
        }
    }
    for (size_t i = 0; i < view->table_count; i++)
        view_table_resolve_slots(view->tables[i]);
    view->ready = true;
    return TF_OK;
}

tf_status tf_view_define_table(tf_view *view, const char *table, const tf_column *columns,
                               size_t column_count, const uint32_t *primary_key,
                               size_t primary_key_count, tf_error *err)
{
    view_table *t = table_named(view, table);
    if (!t)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "table %.100s is not read by flow %.100s", table,
                            view->spec->name);
    if (view_table_define(t, columns, column_count, primary_key, primary_key_count, err) != TF_OK)
        return TF_MALFORMED;
    for (size_t i = 0; i < view->table_count; i++)
        if (!view->tables[i]->defined)
            return TF_OK;
    view->ready = false;
    return resolve(view, err);
}

tf_status tf_view_define_table_map(tf_view *view, const tf_table_map *map, tf_error *err)
{
    bool has_pk_metadata = map->optional_metadata & ((1u << TF_TABLE_META_SIMPLE_PRIMARY_KEY) |
                                                     (1u << TF_TABLE_META_PRIMARY_KEY_WITH_PREFIX));
    return tf_view_define_table(view, map->table.ptr, map->columns, map->column_count,
                                has_pk_metadata ? map->primary_key : NULL,
                                has_pk_metadata ? map->primary_key_count : 0, err);
}

/* ---- marking affected roots ---- */

static void mark_root(tf_view *view, const view_row *row)
{
    void **slot = view_map_upsert(&view->pending, row->pk.ptr, row->pk.len);
    if (*slot)
        bson_destroy(*slot);
    *slot = view_row_filter(view->nodes[0].table, row);
}

/* row is held by node's table and joins under node: mark every root above. */
static void mark_up(tf_view *view, size_t node_index, const view_row *row)
{
    const view_node *n = &view->nodes[node_index];
    if (node_index == 0) {
        mark_root(view, row);
        return;
    }
    const view_row_key *key = &row->keys[n->child_slot];
    if (!key->len)
        return;
    const view_node *parent = &view->nodes[n->parent];
    const view_bucket *parents =
        view_table_matches(parent->table, n->parent_slot, key->ptr, key->len);
    if (!parents)
        return;
    for (size_t i = 0; i < parents->count; i++)
        mark_up(view, (size_t)n->parent, parents->rows[i]);
}

static void mark_row(tf_view *view, const view_table *t, const view_row *row)
{
    for (size_t i = 0; i < view->node_count; i++)
        if (view->nodes[i].table == t)
            mark_up(view, i, row);
}

tf_status tf_view_apply(tf_view *view, const char *table, tf_view_change_kind kind,
                        const tf_value *before, const tf_value *after, tf_error *err)
{
    view_table *t = table_named(view, table);
    if (!t)
        return TF_OK;
    if (!view->ready) {
        for (size_t i = 0; i < view->table_count; i++)
            if (!view->tables[i]->defined)
                return tf_error_set(err, TF_ERR_CONFIG, 0,
                                    "change of %.100s before table %.100s of flow %.100s was "
                                    "defined",
                                    table, view->tables[i]->name, view->spec->name);
        return tf_error_set(err, TF_ERR_CONFIG, 0, "flow %.100s: tables not resolved",
                            view->spec->name);
    }
    /* Build the new row first: a value the mapping refuses leaves the state
     * as it was. */
    view_row *new_row = NULL;
    if (kind != TF_VIEW_DELETE) {
        new_row = view_row_build(t, after, err);
        if (!new_row)
            return TF_MALFORMED;
    }
    if (kind != TF_VIEW_INSERT) {
        for (size_t k = 0; k < t->pk_count; k++) {
            tf_value_kind vk = before[t->pk[k]].kind;
            if (vk == TF_VAL_ABSENT || vk == TF_VAL_NULL) {
                view_row_destroy(t, new_row);
                return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                    "table %.100s: before image without its primary key", t->name);
            }
        }
        view_table_encode_pk(t, before, &view->scratch);
        view_row *old = view_table_find(t, view->scratch.ptr, view->scratch.len);
        if (old) {
            mark_row(view, t, old);
            view_table_remove(t, old);
            view_row_destroy(t, old);
        }
    }
    if (new_row) {
        /* A replayed INSERT, or an UPDATE onto a key that is held: the
         * new row replaces it. */
        view_row *held = view_table_find(t, new_row->pk.ptr, new_row->pk.len);
        if (held) {
            mark_row(view, t, held);
            view_table_remove(t, held);
            view_row_destroy(t, held);
        }
        view_table_insert(t, new_row);
        mark_row(view, t, new_row);
    }
    return TF_OK;
}

/* ---- building documents ---- */

static int compare_rows(const void *a, const void *b)
{
    return view_row_pk_compare(*(view_row *const *)a, *(view_row *const *)b);
}

static void build_row(const tf_view *view, size_t node_index, const view_row *row, bson_t *out);

static void embed(const tf_view *view, size_t node_index, const view_row *parent_row, bson_t *out)
{
    const view_node *n = &view->nodes[node_index];
    const view_node *parent = &view->nodes[n->parent];
    const view_row_key *key = &parent_row->keys[n->parent_slot];
    const view_bucket *matches =
        key->len ? view_table_matches(n->table, n->child_slot, key->ptr, key->len) : NULL;
    if (n->type == TF_LOOKUP_OBJECT) {
        if (!matches)
            return;
        const view_row *best = matches->rows[0];
        for (size_t i = 1; i < matches->count; i++)
            if (view_row_pk_compare(matches->rows[i], best) < 0)
                best = matches->rows[i];
        bson_t child;
        bson_append_document_begin(out, n->name, -1, &child);
        build_row(view, node_index, best, &child);
        bson_append_document_end(out, &child);
        return;
    }
    bson_t array;
    bson_append_array_begin(out, n->name, -1, &array);
    if (matches) {
        view_row **sorted = bson_malloc(matches->count * sizeof *sorted);
        memcpy(sorted, matches->rows, matches->count * sizeof *sorted);
        qsort(sorted, matches->count, sizeof *sorted, compare_rows);
        for (size_t i = 0; i < matches->count; i++) {
            char index_buf[16];
            const char *index_key;
            bson_uint32_to_string((uint32_t)i, &index_key, index_buf, sizeof index_buf);
            bson_t child;
            bson_append_document_begin(&array, index_key, -1, &child);
            build_row(view, node_index, sorted[i], &child);
            bson_append_document_end(&array, &child);
        }
        bson_free(sorted);
    }
    bson_append_array_end(out, &array);
    (void)parent;
}

/* The row's columns (minus the relation columns when embedded), then its
 * lookups in the order the flow declares them. */
static void build_row(const tf_view *view, size_t node_index, const view_row *row, bson_t *out)
{
    const view_node *n = &view->nodes[node_index];
    bson_iter_t it;
    size_t column = 0;
    bson_t doc;
    view_row_doc(row, &doc);
    if (bson_iter_init(&it, &doc)) {
        while (bson_iter_next(&it)) {
            if (!n->omit || !n->omit[column])
                bson_append_iter(out, bson_iter_key(&it), (int)bson_iter_key_len(&it), &it);
            column++;
        }
    }
    for (size_t c = 0; c < n->child_count; c++)
        embed(view, n->children[c], row, out);
}

typedef struct pending_item {
    const view_map_entry *entry;
} pending_item;

static int compare_pending(const void *a, const void *b)
{
    const view_map_entry *x = ((const pending_item *)a)->entry;
    const view_map_entry *y = ((const pending_item *)b)->entry;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

tf_status tf_view_flush(tf_view *view, tf_view_ops *ops, tf_error *err)
{
    (void)err;
    size_t count = view->pending.count;
    if (!count)
        return TF_OK;
    pending_item *items = bson_malloc(count * sizeof *items);
    size_t n = 0, b = 0;
    for (view_map_entry *e = view_map_next(&view->pending, &b, NULL); e;
         e = view_map_next(&view->pending, &b, e))
        items[n++].entry = e;
    qsort(items, n, sizeof *items, compare_pending);
    const view_table *root = view->nodes[0].table;
    /* Deletes first: a key that moved frees its old document before the
     * new one is written. */
    for (size_t i = 0; i < n; i++) {
        const view_map_entry *e = items[i].entry;
        if (!view_table_find(root, e->key, e->key_len))
            tf_view_ops_push_steal(ops, TF_VIEW_OP_DELETE, bson_copy(e->value), NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const view_map_entry *e = items[i].entry;
        const view_row *row = view_table_find(root, e->key, e->key_len);
        if (!row)
            continue;
        bson_t *doc = bson_new();
        build_row(view, 0, row, doc);
        tf_view_ops_push_steal(ops, TF_VIEW_OP_REPLACE, view_row_filter(root, row), doc);
    }
    bson_free(items);
    b = 0;
    for (view_map_entry *e = view_map_next(&view->pending, &b, NULL); e;
         e = view_map_next(&view->pending, &b, e))
        bson_destroy(e->value);
    view_map_cleanup(&view->pending);
    return TF_OK;
}

void tf_view_discard_pending(tf_view *view)
{
    size_t b = 0;
    for (view_map_entry *e = view_map_next(&view->pending, &b, NULL); e;
         e = view_map_next(&view->pending, &b, e))
        bson_destroy(e->value);
    view_map_cleanup(&view->pending);
}

void tf_view_get_stats(const tf_view *view, tf_view_stats *out)
{
    memset(out, 0, sizeof *out);
    out->table_count = view->table_count;
    out->pending_count = view->pending.count;
    for (size_t i = 0; i < view->table_count; i++) {
        const view_table *t = view->tables[i];
        out->row_count += t->rows.count;
        out->memory_bytes += t->key_bytes + t->rows.bucket_count * sizeof(void *) +
                             t->rows.count * (sizeof(view_map_entry) + 16);
        for (size_t s = 0; s < t->slot_count; s++)
            out->memory_bytes +=
                t->slots[s].index.bucket_count * sizeof(void *) +
                t->slots[s].index.count * (sizeof(view_map_entry) + sizeof(view_bucket) + 16);
    }
}
