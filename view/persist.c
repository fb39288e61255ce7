/* persist.c — the view's held rows as BSON chunks, and back.
 *
 * A row is saved as the view holds it: its encoded primary key, its packed
 * values (row_pack.c; version 1 saved the typed document, still loaded)
 * and its encoded index keys. Loading therefore rebuilds the
 * indexes without decoding any value again, and the keys are the exact
 * bytes the engine computed (they depend on the spec's slots, which is why
 * a chunk is only loaded into a view of the same spec; the chunk records
 * the slot count as a cheap guard). */
#include "view_internal.h"

#include <stdio.h>
#include <string.h>

#define PERSIST_VERSION 2
#define PERSIST_VERSION_DOCUMENTS 1
/* Room left in a chunk for the row being added and the array closings. */
#define PERSIST_MARGIN 1024

void view_persist_append_definition(bson_t *chunk, const view_table *t)
{
    bson_t cols, col, members, pk;
    char key[16];
    const char *k;
    bson_append_array_begin(chunk, "columns", -1, &cols);
    for (size_t i = 0; i < t->column_count; i++) {
        const tf_column *c = &t->columns[i];
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        bson_append_document_begin(&cols, k, -1, &col);
        bson_append_utf8(&col, "n", -1, c->name.ptr, (int)c->name.len);
        BSON_APPEND_INT32(&col, "t", c->type);
        BSON_APPEND_INT32(&col, "m", c->meta);
        BSON_APPEND_BOOL(&col, "nl", c->nullable);
        BSON_APPEND_BOOL(&col, "u", c->is_unsigned);
        BSON_APPEND_INT32(&col, "cs", c->charset);
        BSON_APPEND_INT64(&col, "g", c->geometry_type);
        bson_append_array_begin(&col, "e", -1, &members);
        for (uint32_t m = 0; m < c->enum_set_count; m++) {
            bson_uint32_to_string(m, &k, key, sizeof key);
            bson_append_utf8(&members, k, -1, c->enum_set_values[m].ptr,
                             (int)c->enum_set_values[m].len);
        }
        bson_append_array_end(&col, &members);
        bson_append_document_end(&cols, &col);
    }
    bson_append_array_end(chunk, &cols);
    bson_append_array_begin(chunk, "pk", -1, &pk);
    for (size_t i = 0; i < t->pk_count; i++) {
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        BSON_APPEND_INT32(&pk, k, (int32_t)t->pk[i]);
    }
    bson_append_array_end(chunk, &pk);
}

static void chunk_begin(bson_t *chunk, bson_t *rows, const view_table *t)
{
    bson_init(chunk);
    BSON_APPEND_INT32(chunk, "v", PERSIST_VERSION);
    BSON_APPEND_UTF8(chunk, "table", t->name);
    view_persist_append_definition(chunk, t);
    BSON_APPEND_INT64(chunk, "slots", (int64_t)t->slot_count);
    /* Sizes of the table's maps when saved: the loader makes room once.
     * (Later fields: a chunk without them loads as before.) */
    BSON_APPEND_INT64(chunk, "n", (int64_t)t->rows.count);
    bson_t keys;
    char key[16];
    const char *k;
    bson_append_array_begin(chunk, "kn", -1, &keys);
    for (size_t s = 0; s < t->slot_count; s++) {
        bson_uint32_to_string((uint32_t)s, &k, key, sizeof key);
        BSON_APPEND_INT64(&keys, k, (int64_t)t->slots[s].index.count);
    }
    bson_append_array_end(chunk, &keys);
    bson_append_array_begin(chunk, "rows", -1, rows);
}

static bool chunk_emit(bson_t *chunk, bson_t *rows, tf_view_chunk_fn fn, void *arg, tf_error *err)
{
    bson_append_array_end(chunk, rows);
    bool ok = fn(bson_get_data(chunk), chunk->len, arg, err);
    bson_destroy(chunk);
    return ok;
}

static void append_row(bson_t *rows, uint32_t index, const view_table *t, const view_row *row)
{
    char key[16];
    const char *k;
    bson_t r, keys;
    bson_uint32_to_string(index, &k, key, sizeof key);
    bson_append_document_begin(rows, k, -1, &r);
    bson_append_binary(&r, "p", 1, BSON_SUBTYPE_BINARY, view_row_pk(row), (uint32_t)row->pk_len);
    bson_append_binary(&r, "d", 1, BSON_SUBTYPE_BINARY, view_row_values(row), row->values_len);
    bson_append_array_begin(&r, "k", 1, &keys);
    for (size_t s = 0; s < t->slot_count; s++) {
        bson_uint32_to_string((uint32_t)s, &k, key, sizeof key);
        if (view_row_keys(row)[s].len)
            bson_append_binary(&keys, k, -1, BSON_SUBTYPE_BINARY, view_row_keys(row)[s].ptr,
                               (uint32_t)view_row_keys(row)[s].len);
        else
            bson_append_null(&keys, k, -1);
    }
    bson_append_array_end(&r, &keys);
    bson_append_document_end(rows, &r);
}

tf_status tf_view_save(const tf_view *view, size_t max_chunk, tf_view_chunk_fn fn, void *arg,
                       tf_error *err)
{
    for (size_t i = 0; i < view_table_count(view); i++) {
        const view_table *t = view_table_at(view, i);
        if (!t->defined)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "saving the view: table %.100s is not defined yet", t->name);
        bson_t chunk, rows;
        chunk_begin(&chunk, &rows, t);
        size_t header = chunk.len;
        uint32_t in_chunk = 0;
        size_t b = 0;
        for (view_map_entry *e = view_map_next(&t->rows, &b, NULL); e;
             e = view_map_next(&t->rows, &b, e)) {
            const view_row *row = e->value;
            size_t row_size = row->values_len + row->pk_len + 64;
            for (size_t s = 0; s < t->slot_count; s++)
                row_size += view_row_keys(row)[s].len + 16;
            if (header + row_size + PERSIST_MARGIN > max_chunk)
                return bson_append_array_end(&chunk, &rows), bson_destroy(&chunk),
                       tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                    "saving the view: a row of %.100s (%zu bytes) does not fit "
                                    "in a %zu-byte chunk",
                                    t->name, row_size, max_chunk);
            /* While rows is open, chunk.len does not count it yet. */
            if (header + rows.len + row_size + PERSIST_MARGIN > max_chunk) {
                if (!chunk_emit(&chunk, &rows, fn, arg, err))
                    return TF_MALFORMED;
                chunk_begin(&chunk, &rows, t);
                in_chunk = 0;
            }
            append_row(&rows, in_chunk++, t, row);
        }
        if (!chunk_emit(&chunk, &rows, fn, arg, err))
            return TF_MALFORMED;
    }
    return TF_OK;
}

/* ---- loading ---- */

static tf_status bad(tf_error *err, const char *what)
{
    return tf_error_set(err, TF_ERR_PROTOCOL, 0, "view state chunk: %s", what);
}

static bool find(const bson_t *doc, const char *key, bson_type_t type, bson_iter_t *it)
{
    return bson_iter_init_find(it, doc, key) && bson_iter_type(it) == type;
}

void view_persist_free_definition(tf_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bson_free((char *)cols[i].name.ptr);
        for (uint32_t m = 0; m < cols[i].enum_set_count; m++)
            bson_free((char *)cols[i].enum_set_values[m].ptr);
        bson_free(cols[i].enum_set_values);
    }
    bson_free(cols);
}

bool view_persist_parse_definition(const bson_t *chunk, tf_column **out_cols, size_t *out_n,
                             uint32_t **out_pk, size_t *out_pk_n)
{
    bson_iter_t it, arr, col, f, members;
    if (!find(chunk, "columns", BSON_TYPE_ARRAY, &it) || !bson_iter_recurse(&it, &arr))
        return false;
    size_t n = 0, cap = 0;
    tf_column *cols = NULL;
    bool ok = true;
    while (ok && bson_iter_next(&arr)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &col)) {
            ok = false;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            cols = bson_realloc(cols, cap * sizeof *cols);
        }
        tf_column *c = &cols[n++];
        memset(c, 0, sizeof *c);
        bool has_name = false;
        while (bson_iter_next(&col)) {
            const char *key = bson_iter_key(&col);
            if (strcmp(key, "n") == 0 && BSON_ITER_HOLDS_UTF8(&col)) {
                uint32_t len;
                const char *s = bson_iter_utf8(&col, &len);
                c->name.ptr = tf_strndup(s, len);
                c->name.len = len;
                has_name = true;
            } else if (strcmp(key, "t") == 0) {
                c->type = (uint8_t)bson_iter_as_int64(&col);
            } else if (strcmp(key, "m") == 0) {
                c->meta = (uint16_t)bson_iter_as_int64(&col);
            } else if (strcmp(key, "nl") == 0) {
                c->nullable = bson_iter_as_bool(&col);
            } else if (strcmp(key, "u") == 0) {
                c->is_unsigned = bson_iter_as_bool(&col);
            } else if (strcmp(key, "cs") == 0) {
                c->charset = (uint16_t)bson_iter_as_int64(&col);
            } else if (strcmp(key, "g") == 0) {
                c->geometry_type = (uint32_t)bson_iter_as_int64(&col);
            } else if (strcmp(key, "e") == 0 && BSON_ITER_HOLDS_ARRAY(&col) &&
                       bson_iter_recurse(&col, &members)) {
                while (bson_iter_next(&members)) {
                    if (!BSON_ITER_HOLDS_UTF8(&members)) {
                        ok = false;
                        break;
                    }
                    uint32_t len;
                    const char *s = bson_iter_utf8(&members, &len);
                    c->enum_set_values = bson_realloc(
                        c->enum_set_values, (c->enum_set_count + 1) * sizeof *c->enum_set_values);
                    c->enum_set_values[c->enum_set_count].ptr = tf_strndup(s, len);
                    c->enum_set_values[c->enum_set_count].len = len;
                    c->enum_set_count++;
                }
            }
        }
        ok = ok && has_name;
    }
    uint32_t *pk = NULL;
    size_t pk_n = 0;
    if (ok && find(chunk, "pk", BSON_TYPE_ARRAY, &it) && bson_iter_recurse(&it, &f)) {
        while (bson_iter_next(&f)) {
            int64_t v = bson_iter_as_int64(&f);
            if (v < 0 || (size_t)v >= n) {
                ok = false;
                break;
            }
            pk = bson_realloc(pk, (pk_n + 1) * sizeof *pk);
            pk[pk_n++] = (uint32_t)v;
        }
    } else {
        ok = false;
    }
    if (!ok || n == 0 || pk_n == 0) {
        view_persist_free_definition(cols, n);
        bson_free(pk);
        return false;
    }
    /* As the view marks them: the next chunk of the table (and the table
     * map of a later change) must define the very same columns. */
    for (size_t i = 0; i < pk_n; i++)
        cols[pk[i]].is_primary_key = true;
    *out_cols = cols;
    *out_n = n;
    *out_pk = pk;
    *out_pk_n = pk_n;
    return true;
}

/* documents: a version 1 chunk, whose rows hold their typed document
 * (packed here) instead of packed values. */
static view_row *parse_row(view_table *t, bson_iter_t *row_it, bool documents)
{
    bson_iter_t r, keys;
    if (!BSON_ITER_HOLDS_DOCUMENT(row_it) || !bson_iter_recurse(row_it, &r))
        return NULL;
    /* The parts borrow from the chunk until view_row_assemble copies them
     * into the row's one allocation. */
    view_row_key parts_on_stack[8] = {{0}};
    view_row_key *parts = t->slot_count <= 8 ? parts_on_stack
                                             : bson_malloc0(t->slot_count * sizeof *parts);
    const uint8_t *pk = NULL, *values = NULL;
    uint32_t pk_len = 0, values_len = 0;
    bool has_keys = false;
    size_t slot = 0;
    while (bson_iter_next(&r)) {
        const char *key = bson_iter_key(&r);
        if (strcmp(key, "p") == 0 && BSON_ITER_HOLDS_BINARY(&r)) {
            bson_iter_binary(&r, NULL, &pk_len, &pk);
        } else if (strcmp(key, "d") == 0 && documents && BSON_ITER_HOLDS_DOCUMENT(&r)) {
            const uint8_t *doc;
            uint32_t doc_len;
            bson_iter_document(&r, &doc_len, &doc);
            t->packed.len = 0;
            if (view_pack_doc(&t->packed, doc, doc_len, t->column_count)) {
                values = t->packed.ptr;
                values_len = (uint32_t)t->packed.len;
            }
        } else if (strcmp(key, "d") == 0 && !documents && BSON_ITER_HOLDS_BINARY(&r)) {
            bson_iter_binary(&r, NULL, &values_len, &values);
            if (!view_pack_check(values, values_len, t->column_count))
                values = NULL;
        } else if (strcmp(key, "k") == 0 && BSON_ITER_HOLDS_ARRAY(&r) &&
                   bson_iter_recurse(&r, &keys)) {
            has_keys = true;
            while (bson_iter_next(&keys)) {
                if (slot >= t->slot_count) {
                    has_keys = false;
                    break;
                }
                if (BSON_ITER_HOLDS_BINARY(&keys)) {
                    const uint8_t *data;
                    bson_iter_binary(&keys, NULL, &parts[slot].len, &data);
                    parts[slot].ptr = (uint8_t *)data;
                } else if (!BSON_ITER_HOLDS_NULL(&keys)) {
                    has_keys = false;
                    break;
                }
                slot++;
            }
        }
    }
    view_row *row = NULL;
    if (pk && pk_len > 0 && values && has_keys && slot == t->slot_count)
        row = view_row_assemble(t, pk, pk_len, values, values_len, parts);
    if (parts != parts_on_stack)
        bson_free(parts);
    return row;
}

/* A table's first chunk says how many rows and keys it will hold: room
 * for them at once. The counts come from outside: capped, and a wrong one
 * costs time or room, never a row. */
static void reserve_maps(view_table *t, const bson_t *chunk)
{
    const int64_t cap = (int64_t)1 << 26;
    bson_iter_t it, keys;
    if (t->rows.count || !find(chunk, "n", BSON_TYPE_INT64, &it))
        return;
    int64_t n = bson_iter_int64(&it);
    if (n > 0)
        view_map_reserve(&t->rows, (size_t)(n < cap ? n : cap));
    if (!find(chunk, "kn", BSON_TYPE_ARRAY, &it) || !bson_iter_recurse(&it, &keys))
        return;
    for (size_t s = 0; s < t->slot_count && bson_iter_next(&keys); s++) {
        int64_t kn = BSON_ITER_HOLDS_INT64(&keys) ? bson_iter_int64(&keys) : 0;
        if (kn > 0)
            view_map_reserve(&t->slots[s].index, (size_t)(kn < cap ? kn : cap));
    }
}

tf_status tf_view_load_chunk(tf_view *view, const uint8_t *data, size_t len, tf_error *err)
{
    if (view->sealed)
        return view_sealed_error(err);
    bson_t chunk;
    if (!bson_init_static(&chunk, data, len) || !bson_validate(&chunk, BSON_VALIDATE_NONE, NULL))
        return bad(err, "not a BSON document");
    bson_iter_t it;
    if (!find(&chunk, "v", BSON_TYPE_INT32, &it) ||
        (bson_iter_int32(&it) != PERSIST_VERSION &&
         bson_iter_int32(&it) != PERSIST_VERSION_DOCUMENTS))
        return bad(err, "unknown version (saved by another tapflow?): restart with --resnapshot");
    bool documents = bson_iter_int32(&it) == PERSIST_VERSION_DOCUMENTS;
    if (!find(&chunk, "table", BSON_TYPE_UTF8, &it))
        return bad(err, "no table name");
    const char *name = bson_iter_utf8(&it, NULL);
    view_table *t = view_table_by_name(view, name);
    if (!t)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "view state chunk: table %.100s is not read by this flow", name);
    tf_column *cols;
    size_t n, pk_n;
    uint32_t *pk;
    if (!view_persist_parse_definition(&chunk, &cols, &n, &pk, &pk_n))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "view state chunk of %.100s: malformed column definitions", name);
    tf_status st = tf_view_define_table(view, name, cols, n, pk, pk_n, err);
    view_persist_free_definition(cols, n);
    bson_free(pk);
    if (st != TF_OK) {
        tf_error_prefix(err, "view state chunk of %.100s", name);
        return TF_MALFORMED;
    }
    if (!find(&chunk, "slots", BSON_TYPE_INT64, &it) ||
        bson_iter_int64(&it) != (int64_t)t->slot_count)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "view state chunk of %.100s: saved with another flow spec "
                            "(index slots differ); restart with --resnapshot",
                            name);
    reserve_maps(t, &chunk);
    bson_iter_t rows;
    if (!find(&chunk, "rows", BSON_TYPE_ARRAY, &it) || !bson_iter_recurse(&it, &rows))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "view state chunk of %.100s: no rows", name);
    /* The chunk's rows are assembled first (their keys stay lent by the
     * chunk), then inserted while the hash slots of the rows a few places
     * ahead are fetched: the maps of a large state are far larger than
     * the caches, and one miss at a time made the load bound by memory
     * latency. A malformed row leaves the chunk unloaded. */
    view_row **batch = NULL;
    size_t count = 0, cap = 0;
    tf_status status = TF_OK;
    while (bson_iter_next(&rows)) {
        view_row *row = parse_row(t, &rows, documents);
        if (!row) {
            status = tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                  "view state chunk of %.100s: malformed row %.20s", name,
                                  bson_iter_key(&rows));
            break;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            batch = bson_realloc(batch, cap * sizeof *batch);
        }
        batch[count++] = row;
    }
    enum {
        AHEAD = 8
    };
    for (size_t i = 0; i < count; i++) {
        if (status != TF_OK) {
            view_row_destroy(t, batch[i]);
            continue;
        }
        if (i + AHEAD < count)
            view_table_prefetch(t, batch[i + AHEAD]);
        view_row *row = batch[i];
        view_row *held = view_table_find(t, view_row_pk(row), row->pk_len);
        if (held) {
            view_table_remove(t, held);
            view_row_destroy(t, held);
        }
        view_table_insert(t, row);
    }
    bson_free(batch);
    return status;
}
