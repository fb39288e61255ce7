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
 * tf_view_flush (flush.c) recomputes each marked document from the state,
 * exactly the LEFT JOINs of the flow, and emits it whole (replace with
 * upsert), or a delete when its root row is gone.
 *
 * In TF_VIEW_FANOUT_ARRAY_FILTERS mode the walk stops early where a
 * partial update is exactly right (view_route): at a lookup directly under
 * the root it marks the documents above with that field only ($set of
 * one path); at an object lookup under a root-level array it records the
 * lookup key once, for one updateMany with arrayFilters, instead of
 * visiting the documents at all. TF_VIEW_FANOUT_POSITIONAL mode marks
 * alike; the flush turns each recorded key into positional $sets on the
 * documents embedding it. */
#include "expr_internal.h"
#include "view_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

view_table *view_table_by_name(const tf_view *view, const char *name)
{
    for (size_t i = 0; i < view->table_count; i++)
        if (strcmp(view->tables[i]->name, name) == 0)
            return view->tables[i];
    return NULL;
}

static view_table *add_table(tf_view *view, const char *name)
{
    view_table *t = view_table_by_name(view, name);
    if (t)
        return t;
    view->tables = bson_realloc(view->tables, (view->table_count + 1) * sizeof *view->tables);
    t = view_table_new(name);
    view_table_use_store(t, view->store);
    view->tables[view->table_count++] = t;
    return t;
}

tf_view *tf_view_new(const tf_flow_spec *spec)
{
    tf_view *view = bson_malloc0(sizeof *view);
    view->spec = spec;
    view_map_init(&view->pending, offsetof(view_pending_root, key));
    view_map_init(&view->fanouts, offsetof(view_pending_fanout, data));
    view->node_count = spec->lookup_count + 1;
    view->nodes = bson_malloc0(view->node_count * sizeof *view->nodes);
    view->nodes[0].table = add_table(view, spec->source_table);
    view->nodes[0].parent = -1;
    view->nodes[0].name = "";
    for (size_t i = 0; i < spec->lookup_count; i++) {
        const tf_flow_lookup *lk = &spec->lookups[i];
        view_node *n = &view->nodes[i + 1];
        n->lookup = lk;
        n->table = add_table(view, lk->table);
        n->parent = lk->parent + 1; /* lookup parent -1 (root) is node 0 */
        n->type = lk->type;
        const char *dot = strrchr(lk->path, '.');
        n->name = dot ? dot + 1 : lk->path;
        n->name_len = strlen(n->name);
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
        view_table_link_slots(n->table, n->child_slot, parent->table, n->parent_slot,
                              &n->child_link, &n->parent_link);
        bson_free(child_names);
        bson_free(parent_names);
    }
    view->filters = bson_malloc0(view->table_count * sizeof *view->filters);
    return view;
}

void tf_view_destroy(tf_view *view)
{
    if (!view)
        return;
    view_map_cleanup(&view->pending);
    view_map_cleanup(&view->fanouts);
    view_arena_cleanup(&view->arena);
    for (size_t i = 0; i < view->table_count; i++)
        view_expr_destroy(view->filters[i]);
    bson_free(view->filters);
    for (size_t i = 0; i < view->node_count; i++) {
        view_computed_cleanup(&view->nodes[i]);
        bson_free(view->nodes[i].renamed);
        bson_free(view->nodes[i].omit);
        bson_free(view->nodes[i].parent_columns);
        bson_free(view->nodes[i].children);
    }
    bson_free(view->nodes);
    for (size_t i = 0; i < view->table_count; i++)
        view_table_destroy(view->tables[i]);
    bson_free(view->tables);
    view_buf_cleanup(&view->scratch);
    view_buf_cleanup(&view->out);
    view_buf_cleanup(&view->set);
    view_buf_cleanup(&view->unset);
    view_buf_cleanup(&view->filter);
    view_buf_cleanup(&view->array_filters);
    view_buf_cleanup(&view->path);
    view_buf_cleanup(&view->element);
    view_store_close(view->store);
    bson_free(view->state_dir);
    bson_free(view);
}

tf_status tf_view_use_state_dir(tf_view *view, const char *dir, size_t resident_limit,
                                tf_error *err)
{
    for (size_t i = 0; i < view->table_count; i++)
        if (view->tables[i]->rows.count)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "the view state directory is set before the state has rows");
    view_store *store = view_store_open(dir, resident_limit, err);
    if (!store)
        return TF_MALFORMED;
    view_store_close(view->store);
    view->store = store;
    bson_free(view->state_dir);
    view->state_dir = bson_strdup(dir);
    for (size_t i = 0; i < view->table_count; i++)
        view_table_use_store(view->tables[i], store);
    return TF_OK;
}

size_t view_table_count(const tf_view *view) { return view->table_count; }

view_table *view_table_at(const tf_view *view, size_t index) { return view->tables[index]; }

bool tf_view_uses_table(const tf_view *view, const char *table)
{
    return view_table_by_name(view, table) != NULL;
}

bool tf_view_ready(const tf_view *view) { return view->ready; }

tf_status view_config_error(const tf_view *view, tf_flow_pos pos, tf_error *err, const char *fmt,
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

/* Where a change stops in ARRAY_FILTERS mode (see view_route). An object
 * under a root-level array qualifies only when the element holds every
 * parent field (not omitted as the array's own relation column): the
 * filter and arrayFilters match on them. */
static void assign_routes(tf_view *view)
{
    unsigned root_fields = 0;
    for (size_t i = 1; i < view->node_count; i++) {
        view_node *n = &view->nodes[i];
        const view_node *parent = &view->nodes[n->parent];
        n->route = VIEW_ROUTE_UP;
        if (n->parent == 0) {
            if (root_fields < VIEW_ROOT_COLUMNS_BIT) {
                n->route = VIEW_ROUTE_ROOT_FIELD;
                n->field_bit = root_fields++;
            }
            continue;
        }
        if (n->type != TF_LOOKUP_OBJECT || parent->parent != 0 || parent->type != TF_LOOKUP_ARRAY)
            continue;
        bool held = true;
        for (size_t r = 0; r < n->lookup->relation_count; r++)
            held = held && !parent->omit[n->parent_columns[r]] &&
                   !(parent->renamed && parent->renamed[n->parent_columns[r]]);
        if (held)
            n->route = VIEW_ROUTE_ARRAY_FILTER;
    }
}

static const tf_flow_shape *node_shape(const tf_view *view, size_t node_index)
{
    return node_index == 0 ? &view->spec->shape : &view->nodes[node_index].lookup->shape;
}

static size_t table_index(const tf_view *view, const view_table *t)
{
    size_t i = 0;
    while (view->tables[i] != t)
        i++;
    return i;
}

/* "the root" / "lookup \"customer_info\"", for messages. */
static void describe_node(const tf_view *view, size_t node_index, char *out, size_t cap)
{
    if (node_index == 0)
        snprintf(out, cap, "read_from");
    else
        snprintf(out, cap, "lookup \"%.100s\"", view->nodes[node_index].lookup->path);
}

/* Each table's filter, parsed and checked against its columns. The rows
 * a view holds are per table, so every node reading a table must give it
 * the same filter (none, or the same text). */
static tf_status resolve_filters(tf_view *view, tf_error *err)
{
    for (size_t ti = 0; ti < view->table_count; ti++) {
        view_expr_destroy(view->filters[ti]);
        view->filters[ti] = NULL;
        const view_table *t = view->tables[ti];
        long first = -1;
        for (size_t i = 0; i < view->node_count; i++) {
            if (view->nodes[i].table != t)
                continue;
            const char *filter = node_shape(view, i)->filter;
            if (first < 0) {
                first = (long)i;
                continue;
            }
            const char *first_filter = node_shape(view, (size_t)first)->filter;
            if ((filter || first_filter) &&
                (!filter || !first_filter || strcmp(filter, first_filter) != 0)) {
                char a[128], b[128];
                describe_node(view, (size_t)first, a, sizeof a);
                describe_node(view, i, b, sizeof b);
                tf_flow_pos pos = i == 0 ? view->spec->source_pos : view->nodes[i].lookup->pos;
                return view_config_error(
                    view, pos, err,
                    "table %.100s is read by %s and %s with different filters: "
                    "the view holds one set of rows per table, so give both the "
                    "same filter",
                    t->name, a, b);
            }
        }
        const tf_flow_shape *shape = first >= 0 ? node_shape(view, (size_t)first) : NULL;
        if (!shape || !shape->filter)
            continue;
        char msg[256];
        size_t offset = 0;
        view_expr *e =
            view_expr_parse(shape->filter, strlen(shape->filter), &offset, msg, sizeof msg);
        if (e &&
            !view_expr_bind(e, t->name, t->columns, t->column_count, &offset, msg, sizeof msg)) {
            view_expr_destroy(e);
            e = NULL;
        }
        if (!e)
            return view_config_error(view, view_expr_pos(shape->filter_pos, shape->filter, offset),
                                     err, "filter: %s", msg);
        view->filters[ti] = e;
    }
    return TF_OK;
}

static long column_of_field(const tf_view *view, const view_node *n, const tf_flow_field *f,
                            tf_error *err)
{
    long c = view_table_column(n->table, f->name);
    if (c < 0)
        view_config_error(view, f->pos, err, "table %.100s has no column \"%.100s\"",
                          n->table->name, f->name);
    return c;
}

/* include / exclude / fields= and rename_fields / rename=: which columns
 * a node's document shows and under which names. The root's primary key
 * stays as it is: documents are addressed by it. */
static tf_status resolve_shape(tf_view *view, size_t node_index, tf_error *err)
{
    view_node *n = &view->nodes[node_index];
    const tf_flow_shape *shape = node_shape(view, node_index);
    bson_free(n->renamed);
    n->renamed = NULL;
    if (node_index == 0) {
        bson_free(n->omit);
        n->omit = NULL;
    }
    if (!shape->include_count && !shape->exclude_count && !shape->rename_count)
        return TF_OK;
    size_t count = n->table->column_count;
    if (!n->omit)
        n->omit = bson_malloc0(count * sizeof *n->omit);
    const tf_flow_field *lists[] = {shape->include, shape->exclude, shape->renames};
    const size_t counts[] = {shape->include_count, shape->exclude_count, shape->rename_count};
    bool *included = bson_malloc0(count * sizeof *included);
    tf_status st = TF_OK;
    for (size_t l = 0; st == TF_OK && l < 3; l++) {
        for (size_t i = 0; st == TF_OK && i < counts[l]; i++) {
            const tf_flow_field *f = &lists[l][i];
            long c = column_of_field(view, n, f, err);
            if (c < 0) {
                st = TF_MALFORMED;
            } else if (node_index == 0 && l > 0 && n->table->columns[c].is_primary_key) {
                st = view_config_error(
                    view, f->pos, err,
                    "%.100s is the primary key of the root table %.100s: documents "
                    "are addressed by it, so it cannot be %s",
                    f->name, n->table->name, l == 1 ? "excluded" : "renamed");
            } else if (l == 0) {
                included[c] = true;
            } else if (l == 1) {
                n->omit[c] = true;
            } else {
                if (!n->renamed)
                    n->renamed = bson_malloc0(count * sizeof *n->renamed);
                n->renamed[c] = f->new_name;
            }
        }
    }
    for (size_t c = 0; st == TF_OK && shape->include_count && c < count; c++)
        if (!included[c] && !(node_index == 0 && n->table->columns[c].is_primary_key))
            n->omit[c] = true;
    bson_free(included);
    /* A new name may not meet a shown column or an embedded lookup. */
    for (size_t i = 0; st == TF_OK && i < shape->rename_count; i++) {
        const tf_flow_field *f = &shape->renames[i];
        long other = view_table_column(n->table, f->new_name);
        bool taken = other >= 0 && !n->omit[other] && !(n->renamed && n->renamed[other]);
        for (size_t c = 0; !taken && c < n->child_count; c++)
            taken = strcmp(view->nodes[n->children[c]].name, f->new_name) == 0;
        if (taken)
            st = view_config_error(view, f->pos, err,
                                   "rename \"%.100s\" -> \"%.100s\": the document already has a "
                                   "field \"%.100s\"",
                                   f->name, f->new_name, f->new_name);
    }
    return st;
}

/* Once every table is known: relation columns exist on both sides and
 * compare as the same kind of value; embedded field names do not collide
 * with columns of the row they are embedded in. */
tf_status view_resolve(tf_view *view, tf_error *err)
{
    for (size_t i = 1; i < view->node_count; i++) {
        view_node *n = &view->nodes[i];
        const view_table *parent = view->nodes[n->parent].table;
        const tf_flow_lookup *lk = n->lookup;
        if (view_table_column(parent, n->name) >= 0)
            return view_config_error(
                view, lk->path_pos, err,
                "path \"%.100s\": field \"%.100s\" is already a column of %.100s", lk->path,
                n->name, parent->name);
        bson_free(n->omit);
        n->omit = bson_malloc0(n->table->column_count * sizeof *n->omit);
        bson_free(n->parent_columns);
        n->parent_columns = bson_malloc0(lk->relation_count * sizeof *n->parent_columns);
        for (size_t r = 0; r < lk->relation_count; r++) {
            const tf_flow_relation *rel = &lk->relations[r];
            long child = view_table_column(n->table, rel->child_column);
            if (child < 0)
                return view_config_error(view, rel->pos, err,
                                         "relation of path \"%.100s\": table %.100s has no column "
                                         "\"%.100s\"",
                                         lk->path, n->table->name, rel->child_column);
            const char *last = strrchr(rel->parent_field, '.');
            const char *parent_column = last ? last + 1 : rel->parent_field;
            long pcol = view_table_column(parent, parent_column);
            if (pcol < 0)
                return view_config_error(view, rel->pos, err,
                                         "relation of path \"%.100s\": table %.100s has no column "
                                         "\"%.100s\"",
                                         lk->path, parent->name, parent_column);
            const tf_column *pc = &parent->columns[pcol], *cc = &n->table->columns[child];
            if (view_key_family_of(pc) != view_key_family_of(cc) ||
                view_key_family_of(pc) == VIEW_KEY_OTHER)
                return view_config_error(
                    view, rel->pos, err,
                    "relation of path \"%.100s\": %.100s.%.100s (%s) and %.100s.%.100s (%s) are "
                    "not comparable the way the view joins them",
                    lk->path, parent->name, parent_column, tf_column_type_name(pc->type),
                    n->table->name, rel->child_column, tf_column_type_name(cc->type));
            n->omit[child] = true;
            n->parent_columns[r] = (uint32_t)pcol;
        }
    }
    for (size_t i = 0; i < view->node_count; i++)
        if (resolve_shape(view, i, err) != TF_OK)
            return TF_MALFORMED;
    if (resolve_filters(view, err) != TF_OK || view_computed_resolve(view, err) != TF_OK)
        return TF_MALFORMED;
    assign_routes(view);
    for (size_t i = 0; i < view->table_count; i++)
        view_table_resolve_slots(view->tables[i]);
    view->ready = true;
    return TF_OK;
}

tf_status tf_view_define_table(tf_view *view, const char *table, const tf_column *columns,
                               size_t column_count, const uint32_t *primary_key,
                               size_t primary_key_count, tf_error *err)
{
    if (view->sealed)
        return view_sealed_error(err);
    view_table *t = view_table_by_name(view, table);
    if (!t)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "table %.100s is not read by flow %.100s", table,
                            view->spec->name);
    if (view_table_define(t, columns, column_count, primary_key, primary_key_count, err) != TF_OK)
        return TF_MALFORMED;
    for (size_t i = 0; i < view->table_count; i++)
        if (!view->tables[i]->defined)
            return TF_OK;
    view->ready = false;
    return view_resolve(view, err);
}

tf_status tf_view_define_table_map(tf_view *view, const tf_table_map *map, tf_error *err)
{
    bool has_pk_metadata = map->optional_metadata & ((1u << TF_TABLE_META_SIMPLE_PRIMARY_KEY) |
                                                     (1u << TF_TABLE_META_PRIMARY_KEY_WITH_PREFIX));
    return tf_view_define_table(view, map->table.ptr, map->columns, map->column_count,
                                has_pk_metadata ? map->primary_key : NULL,
                                has_pk_metadata ? map->primary_key_count : 0, err);
}

/* ---- marking affected documents ---- */

/* fields: the bits of view_pending_root.fields to $set, 0 for the whole
 * document. */
void view_root_filter(tf_view *view, const view_row *row, view_buf *out)
{
    const view_table *root = view->nodes[0].table;
    out->len = 0;
    size_t at = view_raw_open(out);
    for (size_t k = 0; k < root->pk_count; k++) {
        view_raw_element el;
        if (view_row_element(root, row, root->pk[k], &view->element, &el))
            view_buf_append(out, el.start, el.len);
    }
    view_raw_close(out, at);
}

static void mark_root(tf_view *view, const view_row *row, uint64_t fields)
{
    bool created;
    view_map_entry *e = view_map_upsert(&view->pending, view_row_pk(row), row->pk_len, &created);
    view_pending_root *p = e->value;
    if (created) {
        /* The filter is taken now: the row may be gone at the flush. */
        view_buf *f = &view->filter;
        view_root_filter(view, row, f);
        p = view_arena_alloc(&view->arena, sizeof *p + row->pk_len + f->len);
        p->fields = 0;
        p->whole = false;
        p->key_len = (uint32_t)row->pk_len;
        memcpy(p->key, view_row_pk(row), row->pk_len);
        p->filter = p->key + row->pk_len;
        p->filter_len = (uint32_t)f->len;
        memcpy(p->filter, f->ptr, f->len);
        e->value = p;
    }
    if (fields)
        p->fields |= fields;
    else
        p->whole = true;
}

static void mark_fanout(tf_view *view, size_t node_index, const view_row_key *key)
{
    view_buf *data = &view->scratch;
    data->len = 0;
    uint8_t node_be[4] = {(uint8_t)(node_index >> 24), (uint8_t)(node_index >> 16),
                          (uint8_t)(node_index >> 8), (uint8_t)node_index};
    view_buf_append(data, node_be, 4);
    view_buf_append(data, key->ptr, key->len);
    bool created;
    view_map_entry *e = view_map_upsert(&view->fanouts, data->ptr, data->len, &created);
    if (!created)
        return;
    view_pending_fanout *f = view_arena_alloc(&view->arena, sizeof *f + data->len);
    f->node = (uint32_t)node_index;
    f->data_len = (uint32_t)data->len;
    memcpy(f->data, data->ptr, data->len);
    e->value = f;
}

static void prefetch_row_lines(const view_row *row)
{
    for (size_t off = 0; off < 256; off += 64)
        __builtin_prefetch((const uint8_t *)row + off);
}

/* Level 1: the bucket of row's key towards node's parent; 2: the bucket
 * it links to there; 3: that bucket's first row. */
static void prefetch_upwards(const view_node *node, const view_row *row, int level)
{
    const view_row_key *key = &view_row_keys(row)[node->child_slot];
    if (!key->len)
        return;
    const view_bucket *b = view_key_bucket(key->ptr);
    if (level == 1) {
        __builtin_prefetch(b);
        __builtin_prefetch((const uint8_t *)b + 64);
        return;
    }
    const view_bucket *up = view_bucket_links(b)[node->child_link];
    if (up && level == 2)
        __builtin_prefetch(up);
    else if (up && up->count)
        prefetch_row_lines(up->rows[0]);
}

/* row is held by node's table and joins under node: mark every document
 * above. fields are the parts to $set (0: the whole document); partial
 * allows the ARRAY_FILTERS routes. */
static void mark_up(tf_view *view, size_t node_index, const view_row *row, uint64_t fields,
                    bool partial)
{
    const view_node *n = &view->nodes[node_index];
    if (node_index == 0) {
        mark_root(view, row, fields);
        return;
    }
    const view_row_key *key = &view_row_keys(row)[n->child_slot];
    if (!key->len)
        return;
    if (partial && n->route == VIEW_ROUTE_ARRAY_FILTER) {
        mark_fanout(view, node_index, key);
        return;
    }
    if (partial && n->route == VIEW_ROUTE_ROOT_FIELD)
        fields = (uint64_t)1 << n->field_bit;
    /* The row is in its table: its key is its bucket's, linked to the
     * parent side. */
    const view_bucket *parents = view_bucket_links(view_key_bucket(key->ptr))[n->child_link];
    if (!parents)
        return;
    const view_node *parent = &view->nodes[n->parent];
    for (size_t i = 0; i < parents->count; i++) {
        /* A fan-out visits many rows whose chains upwards are independent:
         * request the next ones' first links while this one is walked. */
        if (i + 6 < parents->count)
            prefetch_row_lines(parents->rows[i + 6]);
        if (n->parent != 0 && i + 4 < parents->count)
            prefetch_upwards(parent, parents->rows[i + 4], 1);
        if (n->parent != 0 && i + 2 < parents->count)
            prefetch_upwards(parent, parents->rows[i + 2], 2);
        if (n->parent != 0 && i + 1 < parents->count)
            prefetch_upwards(parent, parents->rows[i + 1], 3);
        mark_up(view, (size_t)n->parent, parents->rows[i], fields, partial);
    }
}

static uint64_t slot_bit(size_t slot) { return (uint64_t)1 << (slot < 63 ? slot : 63); }

/* appeared: the slots where this row's key had no row before the change.
 * An object lookup that matched nothing gains its field; a $set would
 * append it after its siblings, so those documents are recomputed.
 * columns_only: an update of the row that kept its primary key and every
 * index key; as a root row, only its own columns need a $set. */
void view_mark_row(tf_view *view, const view_table *t, const view_row *row, uint64_t appeared,
                   bool columns_only)
{
    for (size_t i = 0; i < view->node_count; i++) {
        const view_node *n = &view->nodes[i];
        if (n->table != t)
            continue;
        bool partial = view->fanout != TF_VIEW_FANOUT_RECOMPUTE;
        if (partial && i > 0 && n->type == TF_LOOKUP_OBJECT && n->route != VIEW_ROUTE_UP &&
            (appeared & slot_bit(n->child_slot)))
            partial = false;
        uint64_t fields =
            partial && i == 0 && columns_only ? (uint64_t)1 << VIEW_ROOT_COLUMNS_BIT : 0;
        mark_up(view, i, row, fields, partial);
    }
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The slots where a and b have the same key (bit 63 only when every slot
 * from 63 on does). */
static uint64_t same_slot_keys(const view_table *t, const view_row *a, const view_row *b)
{
    uint64_t same = 0;
    bool tail_same = true;
    for (size_t s = 0; s < t->slot_count; s++) {
        bool eq = same_bytes(view_row_keys(a)[s].ptr, view_row_keys(a)[s].len,
                             view_row_keys(b)[s].ptr, view_row_keys(b)[s].len);
        if (s < 63)
            same |= eq ? slot_bit(s) : 0;
        else
            tail_same = tail_same && eq;
    }
    if (t->slot_count > 63 && tail_same)
        same |= slot_bit(63);
    return same;
}

static uint64_t all_slots(const view_table *t)
{
    return t->slot_count >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << t->slot_count) - 1;
}

static tf_status apply_change(tf_view *view, view_table *t, tf_view_change_kind kind,
                              const tf_value *before, const tf_value *after, tf_error *err);

tf_status view_filter_accepts(const tf_view *view, const view_table *t, const tf_value *values,
                              bool *accepted, tf_error *err)
{
    const view_expr *filter = view->filters[table_index(view, t)];
    *accepted = true;
    if (!filter || view_expr_accepts(filter, t->columns, values, accepted, err) == TF_OK)
        return TF_OK;
    tf_error_prefix(err, "table %.100s", t->name);
    return TF_MALFORMED;
}

tf_status tf_view_apply(tf_view *view, const char *table, tf_view_change_kind kind,
                        const tf_value *before, const tf_value *after, tf_error *err)
{
    if (view->sealed)
        return view_sealed_error(err);
    view_table *t = view_table_by_name(view, table);
    if (!t)
        return TF_OK;
    if (view->ready && kind != TF_VIEW_DELETE) {
        /* A row the filter refuses is absent from the view: the old image
         * leaves it (if held), and so does a held row with the new image's
         * key (a replayed change), exactly as deletes of both would. */
        bool accepted;
        if (view_filter_accepts(view, t, after, &accepted, err) != TF_OK)
            return TF_MALFORMED;
        if (!accepted) {
            if (kind == TF_VIEW_UPDATE &&
                apply_change(view, t, TF_VIEW_DELETE, before, NULL, err) != TF_OK)
                return TF_MALFORMED;
            return apply_change(view, t, TF_VIEW_DELETE, after, NULL, err);
        }
    }
    return apply_change(view, t, kind, before, after, err);
}

static tf_status apply_change(tf_view *view, view_table *t, tf_view_change_kind kind,
                              const tf_value *before, const tf_value *after, tf_error *err)
{
    const char *table = t->name;
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
    /* Slots where the change keeps a key that rows held before it: the
     * bucket may be recreated on insert without the key being new. */
    uint64_t kept = 0;
    bool marked = false;
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
            /* The documents above a row depend only on its keys: an
             * update keeping every key marks them once. */
            if (new_row) {
                kept |= same_slot_keys(t, old, new_row);
                marked = kept == all_slots(t) && same_bytes(view_row_pk(old), old->pk_len,
                                                            view_row_pk(new_row), new_row->pk_len);
            }
            view_mark_row(view, t, old, 0, marked);
            if (marked) {
                /* Same keys everywhere: the new row takes the old one's
                 * place in the table and in each bucket. */
                view_table_replace(t, old, new_row);
                view_row_destroy(t, old);
                return TF_OK;
            }
            view_table_remove(t, old);
            view_row_destroy(t, old);
        }
    }
    if (new_row) {
        /* A replayed INSERT, or an UPDATE onto a key that is held: the
         * new row replaces it. */
        view_row *held = view_table_find(t, view_row_pk(new_row), new_row->pk_len);
        if (held) {
            view_mark_row(view, t, held, 0, false);
            kept |= same_slot_keys(t, held, new_row);
            view_table_remove(t, held);
            view_row_destroy(t, held);
        }
        uint64_t appeared = view_table_insert(t, new_row) & ~kept;
        if (!marked)
            view_mark_row(view, t, new_row, appeared, false);
    }
    return TF_OK;
}

tf_status tf_view_set_fanout(tf_view *view, tf_view_fanout mode, tf_error *err)
{
    if (mode != TF_VIEW_FANOUT_RECOMPUTE && mode != TF_VIEW_FANOUT_ARRAY_FILTERS &&
        mode != TF_VIEW_FANOUT_POSITIONAL)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "flow %.100s: unknown fan-out mode %d",
                            view->spec->name, (int)mode);
    if (view->pending.count || view->fanouts.count)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %.100s: fan-out mode changed with documents pending (flush "
                            "first)",
                            view->spec->name);
    view->fanout = mode;
    return TF_OK;
}

tf_view_fanout tf_view_get_fanout(const tf_view *view) { return view->fanout; }

void view_pending_reset(tf_view *view)
{
    view_map_clear(&view->pending);
    view_map_clear(&view->fanouts);
    view_arena_reset(&view->arena);
}

void tf_view_discard_pending(tf_view *view) { view_pending_reset(view); }

void tf_view_set_write_costs(tf_view *view, const tf_view_write_costs *costs)
{
    memset(&view->costs, 0, sizeof view->costs);
    if (costs)
        view->costs = *costs;
    const tf_view_write_costs *c = &view->costs;
    view->planning = c->replace > 0 || c->update > 0 || c->update_many > 0;
}

static size_t map_bytes(const view_map *m) { return m->capacity * sizeof(view_map_entry); }

void tf_view_pending(const tf_view *view, size_t *documents, size_t *fanouts)
{
    *documents = view->pending.count;
    *fanouts = view->fanouts.count;
}

void tf_view_get_stats(const tf_view *view, tf_view_stats *out)
{
    memset(out, 0, sizeof *out);
    out->table_count = view->table_count;
    out->pending_count = view->pending.count + view->fanouts.count;
    for (size_t i = 0; i < view->table_count; i++) {
        const view_table *t = view->tables[i];
        out->row_count += t->rows.count;
        out->memory_bytes += t->row_bytes + t->bucket_bytes + map_bytes(&t->rows);
        for (size_t s = 0; s < t->slot_count; s++)
            out->memory_bytes += map_bytes(&t->slots[s].index);
    }
    view_store_stats ss;
    view_store_get_stats(view->store, &ss);
    out->state_file_bytes = ss.file_bytes;
    out->state_resident_bytes = ss.resident_bytes;
    out->state_released_bytes = ss.released_bytes;
    out->planned_replaces = view->planned_replaces;
    out->planned_positional_keys = view->planned_positional_keys;
}
