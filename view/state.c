/* state.c — the source rows a flow needs, per table, with hash indexes.
 *
 * Each table holds its rows by encoded primary key and keeps one index per
 * "slot": a list of columns some lookup joins on (the lookup's own relation
 * columns in its table; the parent fields in the parent's table). With both
 * sides indexed, a change anywhere finds the rows on either side of every
 * join without scanning and without asking the source. */
#include "view_internal.h"

#include <stddef.h>
#include <string.h>

view_table *view_table_new(const char *name)
{
    view_table *t = bson_malloc0(sizeof *t);
    t->name = bson_strdup(name);
    view_map_init(&t->rows, sizeof(view_row));
    return t;
}

static void free_columns(view_table *t)
{
    for (size_t i = 0; i < t->column_count; i++) {
        tf_column *c = &t->columns[i];
        bson_free((char *)c->name.ptr);
        for (uint32_t k = 0; k < c->enum_set_count; k++)
            bson_free((char *)c->enum_set_values[k].ptr);
        bson_free(c->enum_set_values);
    }
    bson_free(t->columns);
    bson_free(t->pk);
    t->columns = NULL;
    t->pk = NULL;
    t->column_count = t->pk_count = 0;
}

void view_table_use_store(view_table *t, view_store *store)
{
    t->store = store;
    t->rows.store = store;
    for (size_t s = 0; s < t->slot_count; s++)
        t->slots[s].index.store = store;
}

static size_t row_bytes(const view_table *t, const view_row *row)
{
    return view_row_keys_offset(row->pk_len, row->values_len) +
           t->slot_count * sizeof(view_row_key);
}

static size_t bucket_alloc_size(const view_slot *slot, size_t key_len)
{
    return view_bucket_links_offset(key_len) + slot->link_count * sizeof(view_bucket *);
}

static void bucket_free(const view_table *t, const view_slot *slot, view_bucket *bucket)
{
    if (bucket->rows != bucket->inline_rows)
        view_store_free(t->store, bucket->rows, bucket->cap * sizeof *bucket->rows);
    view_store_free(t->store, bucket, bucket_alloc_size(slot, bucket->key_len));
}

void view_table_destroy(view_table *t)
{
    if (!t)
        return;
    /* Rows, buckets and slots in a store go with the store, which the view
     * closes next: walking them to free each would read the whole state
     * back from disk (minutes for 10M orders, past a unit's stop timeout). */
    size_t b = 0;
    for (view_map_entry *e = t->store ? NULL : view_map_next(&t->rows, &b, NULL); e;
         e = view_map_next(&t->rows, &b, e))
        view_row_destroy(t, e->value);
    if (!t->store)
        view_map_cleanup(&t->rows);
    for (size_t s = 0; s < t->slot_count; s++) {
        view_slot *slot = &t->slots[s];
        size_t bb = 0;
        for (view_map_entry *e = t->store ? NULL : view_map_next(&slot->index, &bb, NULL); e;
             e = view_map_next(&slot->index, &bb, e)) {
            bucket_free(t, slot, e->value);
        }
        if (!t->store)
            view_map_cleanup(&slot->index);
        for (size_t c = 0; c < slot->column_count; c++)
            bson_free(slot->column_names[c]);
        bson_free(slot->column_names);
        bson_free(slot->columns);
        bson_free(slot->links);
    }
    bson_free(t->slots);
    free_columns(t);
    view_buf_cleanup(&t->scratch);
    view_buf_cleanup(&t->packed);
    if (t->writer)
        bson_writer_destroy(t->writer);
    bson_free(t->writer_buf);
    bson_free(t->name);
    bson_free(t);
}

size_t view_table_slot(view_table *t, char **names, size_t count)
{
    for (size_t s = 0; s < t->slot_count; s++) {
        view_slot *slot = &t->slots[s];
        bool same = slot->column_count == count;
        for (size_t c = 0; same && c < count; c++)
            same = strcmp(slot->column_names[c], names[c]) == 0;
        if (same)
            return s;
    }
    t->slots = bson_realloc(t->slots, (t->slot_count + 1) * sizeof *t->slots);
    view_slot *slot = &t->slots[t->slot_count];
    memset(slot, 0, sizeof *slot);
    slot->column_count = count;
    slot->column_names = bson_malloc(count * sizeof *slot->column_names);
    slot->columns = bson_malloc0(count * sizeof *slot->columns);
    for (size_t c = 0; c < count; c++)
        slot->column_names[c] = bson_strdup(names[c]);
    view_map_init(&slot->index, offsetof(view_bucket, key));
    slot->index.store = t->store;
    return t->slot_count++;
}

static size_t add_link(view_slot *slot, view_table *other, size_t other_slot)
{
    slot->links = bson_realloc(slot->links, (slot->link_count + 1) * sizeof *slot->links);
    slot->links[slot->link_count] = (view_slot_link){.table = other, .slot = other_slot};
    return slot->link_count++;
}

void view_table_link_slots(view_table *a, size_t slot_a, view_table *b, size_t slot_b,
                           size_t *link_a, size_t *link_b)
{
    *link_a = add_link(&a->slots[slot_a], b, slot_b);
    *link_b = add_link(&b->slots[slot_b], a, slot_a);
    a->slots[slot_a].links[*link_a].back = *link_b;
    b->slots[slot_b].links[*link_b].back = *link_a;
}

long view_table_column(const view_table *t, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < t->column_count; i++)
        if (t->columns[i].name.len == len && memcmp(t->columns[i].name.ptr, name, len) == 0)
            return (long)i;
    return -1;
}

void view_table_resolve_slots(view_table *t)
{
    for (size_t s = 0; s < t->slot_count; s++)
        for (size_t c = 0; c < t->slots[s].column_count; c++)
            t->slots[s].columns[c] = (uint32_t)view_table_column(t, t->slots[s].column_names[c]);
}

bool view_same_column(const tf_column *a, const tf_column *b)
{
    if (a->type != b->type || a->meta != b->meta || a->is_unsigned != b->is_unsigned ||
        a->is_primary_key != b->is_primary_key || a->charset != b->charset ||
        a->name.len != b->name.len || memcmp(a->name.ptr, b->name.ptr, a->name.len) != 0 ||
        a->enum_set_count != b->enum_set_count)
        return false;
    for (uint32_t k = 0; k < a->enum_set_count; k++)
        if (a->enum_set_values[k].len != b->enum_set_values[k].len ||
            memcmp(a->enum_set_values[k].ptr, b->enum_set_values[k].ptr,
                   a->enum_set_values[k].len) != 0)
            return false;
    return true;
}

tf_status view_table_define(view_table *t, const tf_column *columns, size_t column_count,
                            const uint32_t *primary_key, size_t primary_key_count, tf_error *err)
{
    uint32_t pk_from_flags[64];
    if (!primary_key) {
        primary_key_count = 0;
        for (size_t i = 0; i < column_count; i++) {
            if (columns[i].is_primary_key) {
                if (primary_key_count == 64)
                    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                        "table %.100s: primary key of more than 64 columns",
                                        t->name);
                pk_from_flags[primary_key_count++] = (uint32_t)i;
            }
        }
        primary_key = pk_from_flags;
    }
    if (primary_key_count == 0)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "table %.100s has no primary key: the view addresses its rows by it "
                            "(add one, or give binlog_row_metadata=FULL so the binlog names it)",
                            t->name);
    for (size_t i = 0; i < column_count; i++) {
        if (columns[i].name.len == 0)
            return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                "table %.100s: column %zu has no name (the view needs "
                                "binlog_row_metadata=FULL or the schema)",
                                t->name, i);
    }
    for (size_t k = 0; k < primary_key_count; k++)
        if (primary_key[k] >= column_count)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "table %.100s: primary key column %u past the %zu columns", t->name,
                                primary_key[k], column_count);
    if (t->defined) {
        bool same = t->column_count == column_count && t->pk_count == primary_key_count;
        for (size_t i = 0; same && i < column_count; i++)
            same = view_same_column(&t->columns[i], &columns[i]);
        for (size_t k = 0; same && k < primary_key_count; k++)
            same = t->pk[k] == primary_key[k];
        if (same)
            return TF_OK;
        if (t->rows.count > 0)
            return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                "table %.100s changed its columns while the view holds %zu of its "
                                "rows; restart with --resnapshot",
                                t->name, t->rows.count);
        free_columns(t);
    }
    t->columns = bson_malloc0(column_count * sizeof *t->columns);
    t->column_count = column_count;
    for (size_t i = 0; i < column_count; i++) {
        tf_column *c = &t->columns[i];
        *c = columns[i];
        c->name.ptr = tf_strndup(columns[i].name.ptr, columns[i].name.len);
        c->enum_set_values = NULL;
        if (c->enum_set_count) {
            c->enum_set_values = bson_malloc(c->enum_set_count * sizeof *c->enum_set_values);
            for (uint32_t k = 0; k < c->enum_set_count; k++) {
                c->enum_set_values[k].ptr = tf_strndup(columns[i].enum_set_values[k].ptr,
                                                       columns[i].enum_set_values[k].len);
                c->enum_set_values[k].len = columns[i].enum_set_values[k].len;
            }
        }
        c->is_primary_key = false;
    }
    t->pk = bson_malloc(primary_key_count * sizeof *t->pk);
    memcpy(t->pk, primary_key, primary_key_count * sizeof *t->pk);
    t->pk_count = primary_key_count;
    for (size_t k = 0; k < primary_key_count; k++)
        t->columns[primary_key[k]].is_primary_key = true;
    t->defined = true;
    return TF_OK;
}

bool view_table_encode_pk(const view_table *t, const tf_value *values, view_buf *out)
{
    out->len = 0;
    for (size_t k = 0; k < t->pk_count; k++)
        if (!view_key_append_value(out, &values[t->pk[k]]))
            return false;
    return true;
}

view_row *view_row_assemble(const view_table *t, const uint8_t *pk, size_t pk_len,
                            const uint8_t *values, size_t values_len, const view_row_key *keys)
{
    size_t keys_at = view_row_keys_offset(pk_len, values_len);
    view_row *row = view_store_alloc(t->store, keys_at + t->slot_count * sizeof(view_row_key));
    row->pk_len = (uint32_t)pk_len;
    row->values_len = (uint32_t)values_len;
    memcpy(view_row_pk(row), pk, pk_len);
    memcpy(view_row_values(row), values, values_len);
    for (size_t s = 0; s < t->slot_count; s++) {
        view_row_keys(row)[s].ptr = keys[s].len ? keys[s].ptr : NULL;
        view_row_keys(row)[s].len = keys[s].len;
        view_row_keys(row)[s].position = 0;
    }
    return row;
}

view_row *view_row_build(view_table *t, const tf_value *values, tf_error *err)
{
    if (!t->writer)
        t->writer = bson_writer_new(&t->writer_buf, &t->writer_len, 0, bson_realloc_ctx, NULL);
    bson_t *doc;
    bson_writer_begin(t->writer, &doc);
    for (size_t i = 0; i < t->column_count; i++) {
        const tf_column *c = &t->columns[i];
        if (values[i].kind == TF_VAL_ABSENT || values[i].kind == TF_VAL_JSON_DIFF) {
            tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                         "table %.100s: column %.100s is missing from the row image (the view "
                         "needs binlog_row_image=FULL)",
                         t->name, c->name.ptr);
            bson_writer_rollback(t->writer);
            return NULL;
        }
        if (tf_value_append_bson(doc, c->name.ptr, c->name.len, &values[i], c, err) != TF_OK) {
            tf_error_prefix(err, "table %.100s column %.100s", t->name, c->name.ptr);
            bson_writer_rollback(t->writer);
            return NULL;
        }
    }
    /* Primary key, then each slot's key, one after the other in scratch;
     * offsets are kept (the buffer may move while growing). */
    view_buf *key = &t->scratch;
    if (!view_table_encode_pk(t, values, key)) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "table %.100s: row with a NULL primary key column",
                     t->name);
        bson_writer_rollback(t->writer);
        return NULL;
    }
    size_t pk_len = key->len;
    view_row_key keys_on_stack[8];
    view_row_key *keys =
        t->slot_count <= 8 ? keys_on_stack : bson_malloc(t->slot_count * sizeof *keys);
    size_t offsets_on_stack[8];
    size_t *offsets =
        t->slot_count <= 8 ? offsets_on_stack : bson_malloc(t->slot_count * sizeof *offsets);
    for (size_t s = 0; s < t->slot_count; s++) {
        const view_slot *slot = &t->slots[s];
        offsets[s] = key->len;
        bool complete = true;
        for (size_t c = 0; complete && c < slot->column_count; c++)
            complete = view_key_append_value(key, &values[slot->columns[c]]);
        if (!complete)
            key->len = offsets[s];
        keys[s].len = (uint32_t)(key->len - offsets[s]);
    }
    for (size_t s = 0; s < t->slot_count; s++)
        keys[s].ptr = key->ptr + offsets[s];
    view_buf *packed = &t->packed;
    packed->len = 0;
    bool ok = view_pack_doc(packed, bson_get_data(doc), doc->len, t->column_count);
    BSON_ASSERT(ok); /* one element per column, built just above */
    view_row *row = view_row_assemble(t, key->ptr, pk_len, packed->ptr, packed->len, keys);
    bson_writer_rollback(t->writer); /* the bytes are copied: reuse the buffer */
    if (keys != keys_on_stack)
        bson_free(keys);
    if (offsets != offsets_on_stack)
        bson_free(offsets);
    return row;
}

void view_row_destroy(const view_table *t, view_row *row)
{
    view_store_free(t->store, row, row_bytes(t, row));
}

view_row *view_table_find(const view_table *t, const uint8_t *pk, size_t pk_len)
{
    return view_map_get(&t->rows, pk, pk_len);
}

static size_t bucket_bytes(const view_slot *slot, const view_bucket *b)
{
    return bucket_alloc_size(slot, b->key_len) +
           (b->rows != b->inline_rows ? b->cap * sizeof *b->rows : 0);
}

/* A new bucket finds its counterparts across each join and links both
 * ways. */
static void link_bucket(const view_slot *slot, view_bucket *bucket)
{
    view_bucket **links = view_bucket_links(bucket);
    for (size_t j = 0; j < slot->link_count; j++) {
        const view_slot_link *l = &slot->links[j];
        view_bucket *other =
            view_map_get(&l->table->slots[l->slot].index, bucket->key, bucket->key_len);
        links[j] = other;
        if (other)
            view_bucket_links(other)[l->back] = bucket;
    }
}

static void unlink_bucket(const view_slot *slot, view_bucket *bucket)
{
    view_bucket **links = view_bucket_links(bucket);
    for (size_t j = 0; j < slot->link_count; j++)
        if (links[j])
            view_bucket_links(links[j])[slot->links[j].back] = NULL;
}

void view_table_prefetch(const view_table *t, const view_row *row)
{
    view_map_prefetch(&t->rows, view_row_pk(row), row->pk_len);
    for (size_t s = 0; s < t->slot_count; s++) {
        const view_row_key *k = &view_row_keys(row)[s];
        if (k->len)
            view_map_prefetch(&t->slots[s].index, k->ptr, k->len);
    }
}

uint64_t view_table_insert(view_table *t, view_row *row)
{
    uint64_t created_slots = 0;
    view_map_entry *e = view_map_upsert(&t->rows, view_row_pk(row), row->pk_len, NULL);
    e->value = row;
    for (size_t s = 0; s < t->slot_count; s++) {
        view_row_key *k = &view_row_keys(row)[s];
        if (!k->len)
            continue;
        bool created;
        view_slot *slot = &t->slots[s];
        view_map_entry *slot_entry = view_map_upsert(&slot->index, k->ptr, k->len, &created);
        view_bucket *bucket = slot_entry->value;
        if (created) {
            bucket = view_store_alloc(t->store, bucket_alloc_size(slot, k->len));
            bucket->rows = bucket->inline_rows;
            bucket->count = 0;
            bucket->cap = VIEW_BUCKET_INLINE;
            bucket->key_len = k->len;
            memcpy(bucket->key, k->ptr, k->len);
            slot_entry->value = bucket;
            link_bucket(slot, bucket);
            created_slots |= (uint64_t)1 << (s < 63 ? s : 63);
        } else {
            t->bucket_bytes -= bucket_bytes(slot, bucket);
        }
        if (bucket->count == bucket->cap) {
            uint32_t cap = bucket->cap * 2;
            if (bucket->rows == bucket->inline_rows) {
                bucket->rows = view_store_alloc(t->store, cap * sizeof *bucket->rows);
                memcpy(bucket->rows, bucket->inline_rows, sizeof bucket->inline_rows);
            } else {
                bucket->rows = view_store_realloc(t->store, bucket->rows,
                                                  bucket->cap * sizeof *bucket->rows,
                                                  cap * sizeof *bucket->rows);
            }
            bucket->cap = cap;
        }
        k->position = bucket->count;
        k->ptr = bucket->key; /* the lent bytes go away */
        bucket->rows[bucket->count++] = row;
        t->bucket_bytes += bucket_bytes(slot, bucket);
    }
    t->row_bytes += row_bytes(t, row);
    return created_slots;
}

void view_table_remove(view_table *t, view_row *row)
{
    view_map_remove(&t->rows, view_row_pk(row), row->pk_len);
    for (size_t s = 0; s < t->slot_count; s++) {
        view_row_key *k = &view_row_keys(row)[s];
        if (!k->len)
            continue;
        view_slot *slot = &t->slots[s];
        view_bucket *bucket = view_key_bucket(k->ptr);
        /* Swap-remove: the last row takes this row's place. */
        view_row *last = bucket->rows[--bucket->count];
        bucket->rows[k->position] = last;
        view_row_keys(last)[s].position = k->position;
        if (bucket->count == 0) {
            t->bucket_bytes -= bucket_bytes(slot, bucket);
            unlink_bucket(slot, bucket);
            view_map_remove(&slot->index, bucket->key, bucket->key_len);
            bucket_free(t, slot, bucket);
        }
    }
    t->row_bytes -= row_bytes(t, row);
}

void view_table_replace(view_table *t, view_row *old, view_row *row)
{
    view_map_entry *e = view_map_upsert(&t->rows, view_row_pk(row), row->pk_len, NULL);
    e->value = row;
    for (size_t s = 0; s < t->slot_count; s++) {
        view_row_keys(row)[s] = view_row_keys(old)[s];
        if (view_row_keys(row)[s].len)
            view_key_bucket(view_row_keys(row)[s].ptr)->rows[view_row_keys(row)[s].position] = row;
    }
    t->row_bytes += row_bytes(t, row) - row_bytes(t, old);
}

const view_bucket *view_table_matches(const view_table *t, size_t slot, const uint8_t *key,
                                      size_t len)
{
    return view_map_get(&t->slots[slot].index, key, len);
}

void view_row_bson(const view_table *t, const view_row *row, view_buf *out)
{
    view_unpack_doc(out, view_row_values(row), row->values_len, t->columns, t->column_count);
}

bool view_row_element(const view_table *t, const view_row *row, size_t index, view_buf *scratch,
                      view_raw_element *out)
{
    return view_unpack_element(scratch, view_row_values(row), row->values_len, t->columns,
                               t->column_count, index, out);
}

int view_row_pk_compare(const view_row *a, const view_row *b)
{
    size_t n = a->pk_len < b->pk_len ? a->pk_len : b->pk_len;
    int c = memcmp(view_row_pk(a), view_row_pk(b), n);
    if (c)
        return c;
    return a->pk_len < b->pk_len ? -1 : a->pk_len > b->pk_len;
}
