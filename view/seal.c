/* seal.c — the state file kept across a clean stop, and mapped back.
 *
 * Loading a saved state rebuilds every hash map and bucket: at 45M rows,
 * minutes. But a state in a file (store.c) is already what the view
 * needs, a web of pointers into one mapping. So a clean stop syncs the
 * file and writes beside it the little that lives outside the mapping:
 * each map's header (slots, capacity, count, seed), the allocator's free
 * lists and regions, the tables' definitions. The next start maps the
 * file at the same address, where the pointers are valid again, and reads
 * only the pages it touches.
 *
 * The seal names what the state matches (the spec's hash and the caller's
 * tag, its checkpoint): a state that does not match the checkpoint the
 * flow resumes from is never used. It is used once: read and removed
 * before the state changes, so a crash afterwards leaves a file without a
 * seal, which the next start removes and loads from the target as usual. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "view_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_VERSION 1
#define SEAL_MAX_BYTES ((size_t)64 << 20)

static bool name_ok(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) > 200)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return false;
    return true;
}

static void append_map(bson_t *doc, const char *key, const view_map *m, const view_store *s)
{
    bson_t d;
    bson_append_document_begin(doc, key, -1, &d);
    BSON_APPEND_INT64(&d, "e",
                      m->entries ? (int64_t)((uint8_t *)m->entries - view_store_base(s)) : -1);
    BSON_APPEND_INT64(&d, "c", (int64_t)m->capacity);
    BSON_APPEND_INT64(&d, "n", (int64_t)m->count);
    BSON_APPEND_INT64(&d, "s", (int64_t)m->seed);
    bson_append_document_end(doc, &d);
}

static bool sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static tf_status io_error(tf_error *err, const char *what, const char *path)
{
    return tf_error_set(err, TF_ERR_IO, errno, "%s %.200s: %s", what, path, strerror(errno));
}

tf_status tf_view_seal_state(tf_view *view, const char *name, const char *tag, tf_error *err)
{
    if (!view->store || !view->state_dir)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "keeping the view state: it is not in a file");
    if (!name_ok(name))
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "keeping the view state: %.100s is not a file name", name);
    if (!view->ready || view->pending.count || view->fanouts.count)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "keeping the view state: documents are pending (flush first)");
    if (!tag)
        tag = "";
    char state_path[4096], seal_path[4096], tmp_path[4096];
    snprintf(state_path, sizeof state_path, "%s/%s.state", view->state_dir, name);
    snprintf(seal_path, sizeof seal_path, "%s/%s.seal", view->state_dir, name);
    snprintf(tmp_path, sizeof tmp_path, "%s/%s.seal.tmp", view->state_dir, name);
    char spec_hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(view->spec, spec_hash);
    bson_t doc, store, tables, one, slots;
    bson_init(&doc);
    BSON_APPEND_INT32(&doc, "v", SEAL_VERSION);
    BSON_APPEND_UTF8(&doc, "spec", spec_hash);
    BSON_APPEND_UTF8(&doc, "tag", tag);
    bson_append_array_begin(&doc, "tables", -1, &tables);
    char key[16];
    const char *k;
    for (size_t i = 0; i < view->table_count; i++) {
        const view_table *t = view->tables[i];
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
        bson_append_document_begin(&tables, k, -1, &one);
        BSON_APPEND_UTF8(&one, "table", t->name);
        view_persist_append_definition(&one, t);
        append_map(&one, "rows", &t->rows, view->store);
        bson_append_array_begin(&one, "slots", -1, &slots);
        for (size_t s = 0; s < t->slot_count; s++) {
            bson_uint32_to_string((uint32_t)s, &k, key, sizeof key);
            append_map(&slots, k, &t->slots[s].index, view->store);
        }
        bson_append_array_end(&one, &slots);
        BSON_APPEND_INT64(&one, "row_bytes", (int64_t)t->row_bytes);
        BSON_APPEND_INT64(&one, "bucket_bytes", (int64_t)t->bucket_bytes);
        bson_append_document_end(&tables, &one);
    }
    bson_append_array_end(&doc, &tables);
    bson_append_document_begin(&doc, "store", -1, &store);
    bool ok = view_store_seal(view->store, state_path, &store, err);
    bson_append_document_end(&doc, &store);
    view->sealed = ok; /* the file is as sealed from here, even if no seal names it */
    if (!ok) {
        bson_destroy(&doc);
        return TF_MALFORMED;
    }
    /* The seal appears whole or not at all, after the file it names. */
    tf_status st = TF_OK;
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = io_error(err, "keeping the view state: creating", tmp_path);
    } else {
        const uint8_t *data = bson_get_data(&doc);
        size_t left = doc.len;
        while (left) {
            ssize_t n = write(fd, data, left);
            if (n <= 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                break;
            }
            data += n;
            left -= (size_t)n;
        }
        if (left || fsync(fd) != 0)
            st = io_error(err, "keeping the view state: writing", tmp_path);
        close(fd);
        if (st == TF_OK && rename(tmp_path, seal_path) != 0)
            st = io_error(err, "keeping the view state: renaming to", seal_path);
        if (st == TF_OK && !sync_dir(view->state_dir))
            st = io_error(err, "keeping the view state: syncing", view->state_dir);
        if (st != TF_OK)
            unlink(tmp_path);
    }
    bson_destroy(&doc);
    return st;
}

tf_status view_sealed_error(tf_error *err)
{
    return tf_error_set(err, TF_ERR_CONFIG, 0,
                        "the view state was kept for the next start: "
                        "it takes no more changes");
}

/* ---- mapping it back ---- */

typedef struct sealed_map {
    size_t entries; /* offset, SIZE_MAX: none */
    size_t capacity, count;
    uint64_t seed;
} sealed_map;

typedef struct sealed_table {
    view_table *table;
    tf_column *cols;
    size_t col_count;
    uint32_t *pk;
    size_t pk_count;
    sealed_map rows;
    sealed_map *slots;
    size_t row_bytes, bucket_bytes;
} sealed_table;

static bool get_i64(const bson_t *doc, const char *key, int64_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_INT64(&it))
        return false;
    *out = bson_iter_int64(&it);
    return true;
}

static bool sub_document(const bson_iter_t *it, bson_t *out)
{
    const uint8_t *data;
    uint32_t len;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &len, &data);
    else if (BSON_ITER_HOLDS_ARRAY(it))
        bson_iter_array(it, &len, &data);
    else
        return false;
    return bson_init_static(out, data, len);
}

static bool parse_map(const bson_iter_t *it, sealed_map *m)
{
    bson_t d;
    int64_t e, c, n, s;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !sub_document(it, &d) || !get_i64(&d, "e", &e) ||
        !get_i64(&d, "c", &c) || !get_i64(&d, "n", &n) || !get_i64(&d, "s", &s))
        return false;
    if (e < -1 || c < 0 || n < 0 || n > c || (c & (c - 1)) != 0 || (e < 0) != (c == 0))
        return false;
    m->entries = e < 0 ? SIZE_MAX : (size_t)e;
    m->capacity = (size_t)c;
    m->count = (size_t)n;
    m->seed = (uint64_t)s;
    return true;
}

static void free_tables(sealed_table *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        view_persist_free_definition(st[i].cols, st[i].col_count);
        bson_free(st[i].pk);
        bson_free(st[i].slots);
    }
    bson_free(st);
}

/* Every table of the view, once, with its own slot count: else NULL and
 * why in err. */
static sealed_table *parse_tables(const tf_view *view, const bson_t *doc, tf_error *err)
{
    bson_iter_t it, tables;
    if (!bson_iter_init_find(&it, doc, "tables") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &tables)) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "the seal lists no tables");
        return NULL;
    }
    sealed_table *st = bson_malloc0(view->table_count * sizeof *st);
    size_t n = 0;
    const char *why = NULL;
    while (!why && bson_iter_next(&tables)) {
        bson_t one;
        bson_iter_t f, slots;
        if (n == view->table_count || !BSON_ITER_HOLDS_DOCUMENT(&tables) ||
            !sub_document(&tables, &one) || !bson_iter_init_find(&f, &one, "table") ||
            !BSON_ITER_HOLDS_UTF8(&f)) {
            why = "a table entry is malformed";
            break;
        }
        sealed_table *t = &st[n++];
        t->table = view_table_by_name(view, bson_iter_utf8(&f, NULL));
        int64_t rb, bb;
        if (!t->table) {
            why = "it holds a table this flow does not read";
        } else {
            for (size_t i = 0; i + 1 < n; i++)
                if (st[i].table == t->table)
                    why = "a table appears twice";
        }
        if (why)
            break;
        if (!view_persist_parse_definition(&one, &t->cols, &t->col_count, &t->pk, &t->pk_count) ||
            !get_i64(&one, "row_bytes", &rb) || !get_i64(&one, "bucket_bytes", &bb) || rb < 0 ||
            bb < 0 || !bson_iter_init_find(&f, &one, "rows") || !parse_map(&f, &t->rows) ||
            !bson_iter_init_find(&f, &one, "slots") || !BSON_ITER_HOLDS_ARRAY(&f) ||
            !bson_iter_recurse(&f, &slots)) {
            why = "a table entry is malformed";
            break;
        }
        t->row_bytes = (size_t)rb;
        t->bucket_bytes = (size_t)bb;
        t->slots = bson_malloc0((t->table->slot_count + 1) * sizeof *t->slots);
        size_t s = 0;
        while (!why && bson_iter_next(&slots)) {
            if (s == t->table->slot_count || !parse_map(&slots, &t->slots[s]))
                why = "a table's index slots differ from this flow's";
            s++;
        }
        if (!why && s != t->table->slot_count)
            why = "a table's index slots differ from this flow's";
    }
    if (!why && n != view->table_count)
        why = "it lacks tables this flow reads";
    if (why) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "%s", why);
        free_tables(st, n);
        return NULL;
    }
    return st;
}

static bool map_fits(const view_store *s, const sealed_map *m)
{
    return m->entries == SIZE_MAX || view_store_holds(s, view_store_base(s) + m->entries,
                                                      m->capacity * sizeof(view_map_entry));
}

static void set_map(view_map *m, const sealed_map *sm, view_store *s)
{
    m->entries = sm->entries == SIZE_MAX
                     ? NULL
                     : (view_map_entry *)(void *)(view_store_base(s) + sm->entries);
    m->capacity = sm->capacity;
    m->count = sm->count;
    m->seed = sm->seed;
}

/* Reads the whole seal file; false when absent (errno ENOENT) or unreadable. */
static bool read_seal(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= SEAL_MAX_BYTES;
    if (!ok)
        errno = EFBIG;
    *len = ok ? (size_t)st.st_size : 0;
    *data = ok ? bson_malloc(*len) : NULL;
    size_t got = 0;
    while (ok && got < *len) {
        ssize_t n = read(fd, *data + got, *len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = false;
            errno = n == 0 ? EIO : errno;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!ok) {
        bson_free(*data);
        *data = NULL;
    }
    return ok;
}

tf_status tf_view_reopen_state(tf_view *view, const char *name, const char *tag, bool *reopened,
                               tf_error *err)
{
    *reopened = false;
    if (!view->store || !view->state_dir)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "reopening the view state: it is not in a "
                            "file");
    if (!name_ok(name))
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "reopening the view state: %.100s is not a "
                            "file name",
                            name);
    if (!tag)
        tag = "";
    for (size_t i = 0; i < view->table_count; i++)
        if (view->tables[i]->defined)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "reopening the view state: tables are "
                                "defined already");
    char state_path[4096], seal_path[4096];
    snprintf(state_path, sizeof state_path, "%s/%s.state", view->state_dir, name);
    snprintf(seal_path, sizeof seal_path, "%s/%s.seal", view->state_dir, name);
    uint8_t *data = NULL;
    size_t len = 0;
    if (!read_seal(seal_path, &data, &len)) {
        if (errno != ENOENT) {
            tf_error_set(err, TF_ERR_IO, errno, "%.200s: %s", seal_path, strerror(errno));
            unlink(seal_path);
        }
        unlink(state_path); /* none, or one a crash left in use */
        return TF_OK;
    }
    /* Used once: gone before the state can change. */
    unlink(seal_path);
    sync_dir(view->state_dir);
    char spec_hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(view->spec, spec_hash);
    bson_t doc, store_doc;
    bson_iter_t it;
    sealed_table *tables = NULL;
    const char *why = NULL;
    if (!bson_init_static(&doc, data, len) || !bson_validate(&doc, BSON_VALIDATE_NONE, NULL))
        why = "it is not a BSON document";
    else if (!bson_iter_init_find(&it, &doc, "v") || !BSON_ITER_HOLDS_INT32(&it) ||
             bson_iter_int32(&it) != SEAL_VERSION)
        why = "it was written by another tapflow version";
    else if (!bson_iter_init_find(&it, &doc, "spec") || !BSON_ITER_HOLDS_UTF8(&it) ||
             strcmp(bson_iter_utf8(&it, NULL), spec_hash) != 0)
        why = "it was kept under another flow spec";
    else if (!bson_iter_init_find(&it, &doc, "tag") || !BSON_ITER_HOLDS_UTF8(&it) ||
             strcmp(bson_iter_utf8(&it, NULL), tag) != 0)
        why = "it matches another checkpoint than the one resumed from";
    else if (!bson_iter_init_find(&it, &doc, "store") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
             !sub_document(&it, &store_doc))
        why = "its allocator fields are missing";
    if (why) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "the view state kept in %.200s: %s", state_path, why);
        bson_free(data);
        unlink(state_path);
        return TF_OK;
    }
    tables = parse_tables(view, &doc, err);
    if (!tables) {
        tf_error_prefix(err, "the view state kept in %.200s", state_path);
        bson_free(data);
        unlink(state_path);
        return TF_OK;
    }
    /* The fresh store may sit at the address the kept one needs. */
    size_t limit = view_store_resident_limit(view->store);
    view_store_close(view->store);
    view->store = NULL;
    view_store *kept = view_store_reopen(state_path, &store_doc, limit, err);
    bool fits = kept != NULL;
    for (size_t i = 0; fits && i < view->table_count; i++) {
        fits = map_fits(kept, &tables[i].rows);
        for (size_t s = 0; fits && s < tables[i].table->slot_count; s++)
            fits = map_fits(kept, &tables[i].slots[s]);
        if (!fits)
            tf_error_set(err, TF_ERR_CONFIG, 0, "a map lies outside the file");
    }
    if (!fits) {
        tf_error_prefix(err, "the view state kept in %.200s", state_path);
        view_store_close(kept);
        unlink(state_path);
        free_tables(tables, view->table_count);
        bson_free(data);
        tf_error fresh_err = {0};
        view->store = view_store_open(view->state_dir, limit, &fresh_err);
        for (size_t i = 0; i < view->table_count; i++)
            view_table_use_store(view->tables[i], view->store);
        if (!view->store) {
            *err = fresh_err;
            return TF_MALFORMED;
        }
        return TF_OK;
    }
    view->store = kept;
    tf_status st = TF_OK;
    for (size_t i = 0; i < view->table_count; i++) {
        sealed_table *t = &tables[i];
        view_table_use_store(t->table, kept);
        if (st == TF_OK)
            st = tf_view_define_table(view, t->table->name, t->cols, t->col_count, t->pk,
                                      t->pk_count, err);
        if (st != TF_OK)
            continue;
        set_map(&t->table->rows, &t->rows, kept);
        for (size_t s = 0; s < t->table->slot_count; s++)
            set_map(&t->table->slots[s].index, &t->slots[s], kept);
        t->table->row_bytes = t->row_bytes;
        t->table->bucket_bytes = t->bucket_bytes;
    }
    free_tables(tables, view->table_count);
    bson_free(data);
    if (st != TF_OK) {
        tf_error_prefix(err, "the view state kept in %.200s", state_path);
        return TF_MALFORMED; /* the file goes with the store, unsealed */
    }
    *reopened = true;
    return TF_OK;
}
