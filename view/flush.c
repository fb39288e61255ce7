/* flush.c — the pending documents as document ops.
 *
 * Documents are written as raw BSON into one reused buffer (a row's
 * fields copied as byte runs, sub-documents length-patched in place) and
 * copied once into the op's bson_t: a recompute allocates nothing but the
 * op itself. Every value comes from the state at flush time, which is
 * what makes the ops of one flush commute where they overlap (a SET_MANY
 * on a document that a later REPLACE rewrites whole writes the same final
 * values) and lets a replayed batch change nothing. */
#include "view_internal.h"

#include <stdlib.h>
#include <string.h>

/* Arrays are sorted on the stack up to this many elements. */
#define SORT_ON_STACK 32

/* A pending document or fan-out key, as the flush walks them in order. */
typedef struct pending_item {
    const uint8_t *key;
    size_t key_len;
    const void *record;
    const view_row *row;
} pending_item;

static int compare_rows(const void *a, const void *b)
{
    return view_row_pk_compare(*(view_row *const *)a, *(view_row *const *)b);
}

static const view_row *lowest(const view_bucket *matches)
{
    const view_row *best = matches->rows[0];
    for (uint32_t i = 1; i < matches->count; i++)
        if (view_row_pk_compare(matches->rows[i], best) < 0)
            best = matches->rows[i];
    return best;
}

static void build_row(const tf_view *view, size_t node_index, const view_row *row, view_buf *out);
static void prefetch_lines(const void *p, size_t bytes);

static void put_object(const tf_view *view, size_t node_index, const view_row *row, view_buf *out,
                       const char *key, size_t key_len)
{
    view_raw_key(out, BSON_TYPE_DOCUMENT, key, key_len);
    size_t at = view_raw_open(out);
    build_row(view, node_index, row, out);
    view_raw_close(out, at);
}

static void put_array(const tf_view *view, size_t node_index, const view_bucket *matches,
                      view_buf *out, const char *key, size_t key_len)
{
    view_raw_key(out, BSON_TYPE_ARRAY, key, key_len);
    size_t at = view_raw_open(out);
    if (matches) {
        view_row *on_stack[SORT_ON_STACK];
        view_row **sorted = matches->count <= SORT_ON_STACK
                                ? on_stack
                                : bson_malloc(matches->count * sizeof *sorted);
        memcpy(sorted, matches->rows, matches->count * sizeof *sorted);
        if (matches->count <= SORT_ON_STACK) {
            for (uint32_t i = 1; i < matches->count; i++) {
                view_row *r = sorted[i];
                uint32_t j = i;
                for (; j > 0 && view_row_pk_compare(sorted[j - 1], r) > 0; j--)
                    sorted[j] = sorted[j - 1];
                sorted[j] = r;
            }
        } else {
            qsort(sorted, matches->count, sizeof *sorted, compare_rows);
        }
        for (uint32_t i = 0; i < matches->count; i++) {
            view_raw_index_key(out, BSON_TYPE_DOCUMENT, i);
            size_t element = view_raw_open(out);
            build_row(view, node_index, sorted[i], out);
            view_raw_close(out, element);
        }
        if (sorted != on_stack)
            bson_free(sorted);
    }
    view_raw_close(out, at);
}

/* The element of node's lookup under parent_row, named key: false (and
 * nothing written) when an object lookup matches nothing. */
static bool embed(const tf_view *view, size_t node_index, const view_row *parent_row, view_buf *out,
                  const char *key, size_t key_len)
{
    const view_node *n = &view->nodes[node_index];
    const view_row_key *k = &view_row_keys(parent_row)[n->parent_slot];
    const view_bucket *matches =
        k->len ? view_bucket_links(view_key_bucket(k->ptr))[n->parent_link] : NULL;
    if (n->type == TF_LOOKUP_OBJECT) {
        if (!matches)
            return false;
        put_object(view, node_index, lowest(matches), out, key, key_len);
        return true;
    }
    put_array(view, node_index, matches, out, key, key_len);
    return true;
}

/* A row's lookups are independent chains (bucket of its key, bucket
 * across the join, matched rows): walk them breadth first with prefetches
 * so that their misses overlap, before embedding them one by one. */
static void prefetch_lookups(const tf_view *view, const view_node *n, const view_row *row)
{
    for (size_t c = 0; c < n->child_count; c++) {
        const view_row_key *k = &view_row_keys(row)[view->nodes[n->children[c]].parent_slot];
        if (k->len) {
            __builtin_prefetch(view_key_bucket(k->ptr));
            __builtin_prefetch(view_key_bucket(k->ptr)->key + 64);
        }
    }
    const view_bucket *matches[8];
    size_t count = n->child_count < 8 ? n->child_count : 8;
    for (size_t c = 0; c < count; c++) {
        const view_node *child = &view->nodes[n->children[c]];
        const view_row_key *k = &view_row_keys(row)[child->parent_slot];
        matches[c] = k->len ? view_bucket_links(view_key_bucket(k->ptr))[child->parent_link] : NULL;
        if (matches[c])
            __builtin_prefetch(matches[c]);
    }
    for (size_t c = 0; c < count; c++)
        for (uint32_t j = 0; matches[c] && j < matches[c]->count && j < 4; j++)
            prefetch_lines(matches[c]->rows[j], 128);
}

void view_append_shown_columns(const view_node *n, const view_row *row, bool skip_pk, view_buf *out)
{
    const view_table *t = n->table;
    view_unpack_elements(out, view_row_values(row), row->values_len, t->columns, t->column_count,
                         n->omit, (const char *const *)n->renamed, skip_pk);
    view_computed_append(n, row, out);
}

/* The row's columns (minus the relation columns when embedded), then its
 * lookups in the order the flow declares them. */
static void build_row(const tf_view *view, size_t node_index, const view_row *row, view_buf *out)
{
    const view_node *n = &view->nodes[node_index];
    if (n->child_count > 1)
        prefetch_lookups(view, n, row);
    view_append_shown_columns(n, row, false, out);
    for (size_t c = 0; c < n->child_count; c++) {
        const view_node *child = &view->nodes[n->children[c]];
        embed(view, n->children[c], row, out, child->name, child->name_len);
    }
}

static bson_t *bson_from_bytes(const uint8_t *data, size_t len)
{
    bson_t *b = bson_new_from_data(data, len);
    BSON_ASSERT(b); /* written by view_raw_* */
    return b;
}

/* {path: ""} element, as $unset wants it. */
static void put_unset(view_buf *b, const char *path, size_t len)
{
    view_raw_key(b, BSON_TYPE_UTF8, path, len);
    static const uint8_t empty_string[5] = {1, 0, 0, 0, 0};
    view_buf_append(b, empty_string, sizeof empty_string);
}

/* Closes the $set / $unset documents opened at set_at / unset_at and
 * appends one SET op on the document filter names (an empty side is NULL). */
static void push_set(tf_view_ops *ops, const uint8_t *filter, size_t filter_len, view_buf *set,
                     size_t set_at, bool any_set, view_buf *unset, size_t unset_at, bool any_unset)
{
    view_raw_close(set, set_at);
    view_raw_close(unset, unset_at);
    tf_view_ops_push_update_steal(ops, TF_VIEW_OP_SET, bson_from_bytes(filter, filter_len),
                                  any_set ? bson_from_bytes(set->ptr, set->len) : NULL,
                                  any_unset ? bson_from_bytes(unset->ptr, unset->len) : NULL, NULL);
}

/* A shape other than the one the view's mode writes must cost less than
 * this fraction of it: measured costs are noisy (FerretDB's replace and
 * update differ by 5-30%), and a plan flipping on noise gains nothing. */
#define PLAN_MARGIN 0.9

/* ---- the plan: what the target's write costs change ----
 *
 * Every value of a flush comes from the state, so a document may be
 * written whole instead of by its SET, and a recorded key by positional
 * SETs instead of a SET_MANY, with the same final documents. */

/* Pushes row's document whole when that costs the target less than its
 * SET; whether it did. */
static bool replaced_cheaper(tf_view *view, const view_row *row, const uint8_t *filter,
                             size_t filter_len, tf_view_ops *ops)
{
    if (!view->planning)
        return false;
    const tf_view_write_costs *c = &view->costs;
    /* Building the document costs time: only when some size can win. */
    if (!(c->replace < PLAN_MARGIN * c->update ||
          c->replace_per_kb < PLAN_MARGIN * c->update_per_kb))
        return false;
    view_buf *out = &view->out;
    out->len = 0;
    size_t at = view_raw_open(out);
    build_row(view, 0, row, out);
    view_raw_close(out, at);
    double kb = (double)out->len / 1024;
    if (!(c->replace + c->replace_per_kb * kb < PLAN_MARGIN * (c->update + c->update_per_kb * kb)))
        return false;
    tf_view_ops_push_steal(ops, TF_VIEW_OP_REPLACE, bson_from_bytes(filter, filter_len),
                           bson_from_bytes(out->ptr, out->len));
    view->planned_replaces++;
    return true;
}

/* An element of src renamed "<prefix>.<its key>". */
static void put_renamed(view_buf *b, const char *prefix, size_t prefix_len,
                        const view_raw_element *el, view_buf *scratch)
{
    scratch->len = 0;
    view_buf_append(scratch, prefix, prefix_len);
    view_buf_append(scratch, ".", 1);
    view_buf_append(scratch, el->key, el->key_len);
    view_raw_key(b, el->type, (const char *)scratch->ptr, scratch->len);
    view_buf_append(b, el->value, el->value_len);
}

/* One updateMany for an ARRAY_FILTER lookup key: the elements of the
 * root-level array whose parent fields equal the key get the lookup's
 * value for it. The parent fields' BSON is taken from a parent row that
 * holds the key, so it is exactly what the documents hold; with no such
 * row no document embeds the key (a row that left it in this flush
 * marked its document whole). */
static void emit_fanout(tf_view *view, const view_pending_fanout *f, tf_view_ops *ops)
{
    const view_node *n = &view->nodes[f->node];
    const view_node *parent = &view->nodes[n->parent];
    const uint8_t *key = f->data + 4;
    size_t key_len = f->data_len - 4;
    const view_bucket *parents = view_table_matches(parent->table, n->parent_slot, key, key_len);
    if (!parents)
        return;
    const view_row *prow = parents->rows[0];
    view_buf *filter = &view->filter, *filters = &view->array_filters, *set = &view->set,
             *path = &view->path;
    filter->len = filters->len = 0;
    size_t filter_at = view_raw_open(filter);
    size_t filters_at = view_raw_open(filters);
    view_raw_index_key(filters, BSON_TYPE_DOCUMENT, 0);
    size_t binding_at = view_raw_open(filters);
    for (size_t r = 0; r < n->lookup->relation_count; r++) {
        view_raw_element el;
        if (!view_row_element(parent->table, prow, n->parent_columns[r], &view->element, &el))
            continue;
        put_renamed(filter, parent->name, parent->name_len, &el, path);
        put_renamed(filters, "e", 1, &el, path);
    }
    view_raw_close(filters, binding_at);
    view_raw_close(filters, filters_at);
    view_raw_close(filter, filter_at);
    path->len = 0;
    view_buf_append(path, parent->name, parent->name_len);
    view_buf_append(path, ".$[e].", 6);
    view_buf_append(path, n->name, n->name_len);
    const view_bucket *matches = view_table_matches(n->table, n->child_slot, key, key_len);
    set->len = 0;
    size_t set_at = view_raw_open(set);
    if (matches)
        put_object(view, f->node, lowest(matches), set, (const char *)path->ptr, path->len);
    else
        put_unset(set, (const char *)path->ptr, path->len);
    view_raw_close(set, set_at);
    bson_t *update = bson_from_bytes(set->ptr, set->len);
    bson_t *array_filters = bson_from_bytes(filters->ptr, filters->len);
    tf_view_ops_push_update_steal(ops, TF_VIEW_OP_SET_MANY,
                                  bson_from_bytes(filter->ptr, filter->len),
                                  matches ? update : NULL, matches ? NULL : update, array_filters);
}

/* ---- POSITIONAL mode: a recorded lookup key as element paths ----
 *
 * Without arrayFilters, each document embedding the key is updated by the
 * position of each element that embeds it. The array is its rows ordered
 * by primary key, so a position is the count of lower keys among the
 * element's siblings; it is exact in the target when the array's
 * membership did not change since the last flush, which is when the
 * document is neither recomputed nor has the array $set whole here (the
 * cases skipped).
 *
 * Every element embedding one recorded key embeds the same value (the
 * lowest row matching the key), so that value's BSON is built once per
 * flush, on the first document that needs it, and its bytes are appended
 * to every document's SET: a seller embedded in dozens of orders costs
 * one build and dozens of copies. */

typedef struct positional_entry {
    const view_row *root; /* the document's root row */
    uint32_t position;    /* of its array element embedding the key */
    uint32_t fanout;      /* the recorded key: index in the flush's sorted keys */
    uint32_t node;        /* the object lookup under the element */
} positional_entry;

typedef struct positional_list {
    positional_entry *items;
    size_t count, cap;
} positional_list;

static int compare_positional(const void *a, const void *b)
{
    const positional_entry *x = a, *y = b;
    int c = x->root == y->root ? 0 : view_row_pk_compare(x->root, y->root);
    if (c)
        return c;
    if (x->position != y->position)
        return x->position < y->position ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* The value of a recorded key's object lookup, once built. */
typedef enum positional_value_state {
    POSITIONAL_VALUE_UNBUILT,
    POSITIONAL_VALUE_PRESENT, /* the document is bytes[offset, offset + len) */
    POSITIONAL_VALUE_ABSENT,  /* no row matches the key: $unset */
} positional_value_state;

typedef struct positional_value {
    positional_value_state state;
    size_t offset, len;
} positional_value;

/* The values of one flush's recorded keys, freed at its end. */
typedef struct positional_memo {
    const pending_item *fanouts;
    positional_value *values; /* one per fanout */
    view_buf bytes;
} positional_memo;

/* The value for fanout index i, built on first use. */
static const positional_value *positional_value_of(const tf_view *view, positional_memo *memo,
                                                   uint32_t i)
{
    positional_value *v = &memo->values[i];
    if (v->state != POSITIONAL_VALUE_UNBUILT)
        return v;
    const view_pending_fanout *f = memo->fanouts[i].record;
    const view_node *n = &view->nodes[f->node];
    const view_bucket *matches =
        view_table_matches(n->table, n->child_slot, f->data + 4, f->data_len - 4);
    if (!matches) {
        v->state = POSITIONAL_VALUE_ABSENT;
        return v;
    }
    v->offset = memo->bytes.len;
    size_t at = view_raw_open(&memo->bytes);
    build_row(view, f->node, lowest(matches), &memo->bytes);
    view_raw_close(&memo->bytes, at);
    v->len = memo->bytes.len - v->offset;
    v->state = POSITIONAL_VALUE_PRESENT;
    return v;
}

/* Appends ".<position>." to path. */
static void put_position(view_buf *path, uint32_t position)
{
    char digits[12];
    size_t at = sizeof digits;
    digits[--at] = '.';
    do {
        digits[--at] = (char)('0' + position % 10);
        position /= 10;
    } while (position);
    digits[--at] = '.';
    view_buf_append(path, digits + at, sizeof digits - at);
}

/* Every (document, element) embedding the key of f, the fanout_index-th
 * recorded key. */
static void collect_positional(const tf_view *view, const view_pending_fanout *f,
                               uint32_t fanout_index, positional_list *list)
{
    const view_node *n = &view->nodes[f->node];
    const view_node *array = &view->nodes[n->parent];
    const view_bucket *elements =
        view_table_matches(array->table, n->parent_slot, f->data + 4, f->data_len - 4);
    for (uint32_t i = 0; elements && i < elements->count; i++) {
        const view_row *element = elements->rows[i];
        const view_row_key *k = &view_row_keys(element)[array->child_slot];
        if (!k->len)
            continue;
        const view_bucket *siblings = view_key_bucket(k->ptr);
        const view_bucket *roots = view_bucket_links(siblings)[array->child_link];
        if (!roots)
            continue;
        uint32_t position = 0;
        for (uint32_t s = 0; s < siblings->count; s++)
            position += view_row_pk_compare(siblings->rows[s], element) < 0;
        for (uint32_t r = 0; r < roots->count; r++) {
            if (list->count == list->cap) {
                list->cap = list->cap ? list->cap * 2 : 64;
                list->items = bson_realloc(list->items, list->cap * sizeof *list->items);
            }
            list->items[list->count++] = (positional_entry){.root = roots->rows[r],
                                                            .position = position,
                                                            .fanout = fanout_index,
                                                            .node = f->node};
        }
    }
}

/* Whether the documents embedding f's key cost the target less as one
 * SET each than as one SET_MANY changing them all. */
static bool positional_cheaper(tf_view *view, const view_pending_fanout *f)
{
    const view_node *n = &view->nodes[f->node];
    const view_node *array = &view->nodes[n->parent];
    const view_bucket *elements =
        view_table_matches(array->table, n->parent_slot, f->data + 4, f->data_len - 4);
    double documents = 0;
    for (uint32_t i = 0; elements && i < elements->count; i++) {
        const view_row_key *k = &view_row_keys(elements->rows[i])[array->child_slot];
        if (!k->len)
            continue;
        const view_bucket *roots = view_bucket_links(view_key_bucket(k->ptr))[array->child_link];
        documents += roots ? roots->count : 0;
    }
    if (documents == 0)
        return true; /* nothing to write either way */
    const tf_view_write_costs *c = &view->costs;
    double per_document = c->update + c->update_per_kb * c->doc_kb;
    bool cheaper =
        documents * per_document < PLAN_MARGIN * (c->update_many + documents * c->update_many_doc);
    view->planned_positional_keys += cheaper;
    return cheaper;
}

/* Whether this flush writes the entry's path otherwise: its document is
 * recomputed (or deleted), or its array is $set whole. */
static bool positional_covered(const tf_view *view, const positional_entry *e)
{
    if (!view->pending.count)
        return false;
    const view_pending_root *p =
        view_map_get(&view->pending, view_row_pk(e->root), e->root->pk_len);
    if (!p)
        return false;
    if (p->whole)
        return true;
    const view_node *array = &view->nodes[view->nodes[e->node].parent];
    return array->route == VIEW_ROUTE_ROOT_FIELD && (p->fields & ((uint64_t)1 << array->field_bit));
}

/* One SET for the entries [from, to) of one document. */
static void emit_positional_set(tf_view *view, positional_memo *memo, const positional_entry *from,
                                const positional_entry *to, tf_view_ops *ops)
{
    view_buf *set = &view->set, *unset = &view->unset, *filter = &view->filter, *path = &view->path;
    const view_row *root = from->root;
    view_root_filter(view, root, filter);
    set->len = unset->len = 0;
    size_t set_at = view_raw_open(set), unset_at = view_raw_open(unset);
    bool any_set = false, any_unset = false;
    for (const positional_entry *e = from; e < to; e++) {
        const view_node *n = &view->nodes[e->node];
        const view_node *array = &view->nodes[n->parent];
        path->len = 0;
        view_buf_append(path, array->name, array->name_len);
        put_position(path, e->position);
        view_buf_append(path, n->name, n->name_len);
        const positional_value *v = positional_value_of(view, memo, e->fanout);
        if (v->state == POSITIONAL_VALUE_PRESENT) {
            view_raw_key(set, BSON_TYPE_DOCUMENT, (const char *)path->ptr, path->len);
            view_buf_append(set, memo->bytes.ptr + v->offset, v->len);
            any_set = true;
        } else {
            put_unset(unset, (const char *)path->ptr, path->len);
            any_unset = true;
        }
    }
    if (replaced_cheaper(view, root, filter->ptr, filter->len, ops))
        return;
    push_set(ops, filter->ptr, filter->len, set, set_at, any_set, unset, unset_at, any_unset);
}

/* The recorded keys of this flush (those chosen[i] says, NULL: all) as
 * positional SETs, one per document, ordered by root key. */
static void emit_positional(tf_view *view, const pending_item *fanouts, size_t count,
                            const bool *chosen, tf_view_ops *ops)
{
    positional_list list = {0};
    for (size_t i = 0; i < count; i++)
        if (!chosen || chosen[i])
            collect_positional(view, fanouts[i].record, (uint32_t)i, &list);
    if (list.count > 1)
        qsort(list.items, list.count, sizeof *list.items, compare_positional);
    size_t kept = 0;
    for (size_t i = 0; i < list.count; i++)
        if (!positional_covered(view, &list.items[i]))
            list.items[kept++] = list.items[i];
    positional_memo memo = {.fanouts = fanouts,
                            .values = bson_malloc0(count * sizeof *memo.values)};
    for (size_t from = 0; from < kept;) {
        size_t to = from + 1;
        while (to < kept && list.items[to].root == list.items[from].root)
            to++;
        emit_positional_set(view, &memo, &list.items[from], &list.items[to], ops);
        from = to;
    }
    bson_free(memo.values);
    view_buf_cleanup(&memo.bytes);
    bson_free(list.items);
}

/* $set / $unset of the marked root-level lookups of one document. */
static void emit_set(tf_view *view, const view_pending_root *p, const view_row *row,
                     tf_view_ops *ops)
{
    view_buf *set = &view->set, *unset = &view->unset;
    set->len = unset->len = 0;
    size_t set_at = view_raw_open(set), unset_at = view_raw_open(unset);
    bool any_set = false, any_unset = false;
    const view_node *root = &view->nodes[0];
    if (p->fields & ((uint64_t)1 << VIEW_ROOT_COLUMNS_BIT)) {
        /* Every shown column but the primary key (the filter holds it):
         * a column is never absent (NULL is null), so each keeps its
         * place. */
        size_t before = set->len;
        view_append_shown_columns(root, row, true, set);
        any_set = set->len > before;
    }
    for (size_t c = 0; c < root->child_count; c++) {
        const view_node *child = &view->nodes[root->children[c]];
        if (child->route != VIEW_ROUTE_ROOT_FIELD ||
            !(p->fields & ((uint64_t)1 << child->field_bit)))
            continue;
        if (embed(view, root->children[c], row, set, child->name, child->name_len)) {
            any_set = true;
        } else {
            put_unset(unset, child->name, child->name_len);
            any_unset = true;
        }
    }
    if (replaced_cheaper(view, row, p->filter, p->filter_len, ops))
        return;
    push_set(ops, p->filter, p->filter_len, set, set_at, any_set, unset, unset_at, any_unset);
}

/* ---- prefetching the next documents' rows ----
 *
 * A recompute is a chain of dependent cache misses (root row, its key's
 * bucket, the linked bucket across the join, the child rows...), and the
 * documents of one flush are independent of each other. So while document
 * i is built, the links of the chains of documents i+1..i+7 are
 * requested, one level deeper per document nearer: their misses overlap
 * the build instead of following it. */

static void prefetch_lines(const void *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch((const uint8_t *)p + off);
}

/* Level 1: the root row (header, key pointers, most of its document). */
static void prefetch_root(const view_row *row) { prefetch_lines(row, 512); }

/* Level 2: the buckets holding the root row's keys of each root-level
 * lookup (their links lead across the join). */
static void prefetch_keys(const tf_view *view, const view_row *row)
{
    const view_node *root = &view->nodes[0];
    for (size_t c = 0; c < root->child_count; c++) {
        const view_row_key *k = &view_row_keys(row)[view->nodes[root->children[c]].parent_slot];
        if (k->len)
            prefetch_lines(view_key_bucket(k->ptr), 128);
    }
}

/* Level 3: the buckets across each join, and their inline rows' first
 * lines. */
static void prefetch_matches(const tf_view *view, const view_row *row)
{
    const view_node *root = &view->nodes[0];
    for (size_t c = 0; c < root->child_count; c++) {
        const view_node *n = &view->nodes[root->children[c]];
        const view_row_key *k = &view_row_keys(row)[n->parent_slot];
        if (!k->len)
            continue;
        const view_bucket *matches = view_bucket_links(view_key_bucket(k->ptr))[n->parent_link];
        if (matches)
            __builtin_prefetch(matches);
    }
}

/* The matched rows of each root-level lookup (few: the first ones). */
#define PREFETCH_CHILD_ROWS 4

static const view_bucket *root_matches(const tf_view *view, const view_row *row, size_t c)
{
    const view_node *n = &view->nodes[view->nodes[0].children[c]];
    const view_row_key *k = &view_row_keys(row)[n->parent_slot];
    return k->len ? view_bucket_links(view_key_bucket(k->ptr))[n->parent_link] : NULL;
}

/* Level 4: the matched child rows. */
static void prefetch_child_rows(const tf_view *view, const view_row *row)
{
    for (size_t c = 0; c < view->nodes[0].child_count; c++) {
        const view_bucket *m = root_matches(view, row, c);
        for (uint32_t j = 0; m && j < m->count && j < PREFETCH_CHILD_ROWS; j++)
            prefetch_lines(m->rows[j], 128);
    }
}

/* Levels 5 to 7, for the child rows' own lookups (an order item's product
 * and seller): 5 the buckets of their keys, 6 the buckets across the
 * join, 7 the first matched row. */
static void prefetch_grandchildren(const tf_view *view, const view_row *row, int level)
{
    const view_node *root = &view->nodes[0];
    for (size_t c = 0; c < root->child_count; c++) {
        const view_node *n = &view->nodes[root->children[c]];
        const view_bucket *m = root_matches(view, row, c);
        for (uint32_t j = 0; m && j < m->count && j < PREFETCH_CHILD_ROWS; j++)
            for (size_t g = 0; g < n->child_count; g++) {
                const view_node *gn = &view->nodes[n->children[g]];
                const view_row_key *k = &view_row_keys(m->rows[j])[gn->parent_slot];
                if (!k->len)
                    continue;
                const view_bucket *b = view_key_bucket(k->ptr);
                if (level == 5) {
                    prefetch_lines(b, 128);
                    continue;
                }
                const view_bucket *gm = view_bucket_links(b)[gn->parent_link];
                if (gm && level == 6)
                    __builtin_prefetch(gm);
                else if (gm && gm->count)
                    prefetch_lines(gm->rows[0], 256);
            }
    }
}

static int compare_items(const void *a, const void *b)
{
    const pending_item *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* The entries of m sorted by key. */
static pending_item *sorted_entries(const view_map *m)
{
    pending_item *items = bson_malloc(m->count * sizeof *items);
    size_t n = 0, b = 0;
    for (view_map_entry *e = view_map_next(m, &b, NULL); e; e = view_map_next(m, &b, e))
        items[n++] =
            (pending_item){.key = view_map_key(m, e), .key_len = e->key_len, .record = e->value};
    qsort(items, n, sizeof *items, compare_items);
    return items;
}

tf_status tf_view_flush(tf_view *view, tf_view_ops *ops, tf_error *err)
{
    (void)err;
    if (view->fanouts.count) {
        pending_item *items = sorted_entries(&view->fanouts);
        size_t count = view->fanouts.count;
        if (view->fanout == TF_VIEW_FANOUT_POSITIONAL) {
            emit_positional(view, items, count, NULL, ops);
        } else if (view->planning && view->costs.update_many > 0) {
            bool *positional = bson_malloc(count * sizeof *positional);
            bool any = false;
            for (size_t i = 0; i < count; i++)
                any |= positional[i] = positional_cheaper(view, items[i].record);
            if (any)
                emit_positional(view, items, count, positional, ops);
            for (size_t i = 0; i < count; i++)
                if (!positional[i])
                    emit_fanout(view, items[i].record, ops);
            bson_free(positional);
        } else {
            for (size_t i = 0; i < count; i++)
                emit_fanout(view, items[i].record, ops);
        }
        bson_free(items);
    }
    size_t n = view->pending.count;
    if (n) {
        const view_table *root = view->nodes[0].table;
        pending_item *items = sorted_entries(&view->pending);
        for (size_t i = 0; i < n; i++)
            items[i].row = view_table_find(root, items[i].key, items[i].key_len);
        /* Deletes first: a key that moved frees its old document before the
         * new one is written. */
        for (size_t i = 0; i < n; i++) {
            const view_pending_root *p = items[i].record;
            if (!items[i].row && p->whole)
                tf_view_ops_push_steal(ops, TF_VIEW_OP_DELETE,
                                       bson_from_bytes(p->filter, p->filter_len), NULL);
        }
        for (size_t i = 0; i < n; i++) {
            const view_pending_root *p = items[i].record;
            const view_row *row = items[i].row;
            if (i + 7 < n && items[i + 7].row)
                prefetch_root(items[i + 7].row);
            if (i + 6 < n && items[i + 6].row)
                prefetch_keys(view, items[i + 6].row);
            if (i + 5 < n && items[i + 5].row)
                prefetch_matches(view, items[i + 5].row);
            if (i + 4 < n && items[i + 4].row)
                prefetch_child_rows(view, items[i + 4].row);
            for (int level = 5; level <= 7; level++)
                if (i + 8 - (size_t)level < n && items[i + 8 - (size_t)level].row)
                    prefetch_grandchildren(view, items[i + 8 - (size_t)level].row, level);
            if (!row)
                continue;
            if (!p->whole) {
                emit_set(view, p, row, ops);
                continue;
            }
            view_buf *out = &view->out;
            out->len = 0;
            size_t at = view_raw_open(out);
            build_row(view, 0, row, out);
            view_raw_close(out, at);
            tf_view_ops_push_steal(ops, TF_VIEW_OP_REPLACE,
                                   bson_from_bytes(p->filter, p->filter_len),
                                   bson_from_bytes(out->ptr, out->len));
        }
        bson_free(items);
    }
    view_pending_reset(view);
    return TF_OK;
}
