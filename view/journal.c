/* journal.c — source row changes as compact binary chunks, and back.
 *
 * A checkpoint of a streaming flow persists these instead of the whole view
 * state: a few hundred bytes per change against hundreds of megabytes of
 * rows. The encoding keeps every tf_value exactly (kind, width-free
 * integers, float bits, decimal text with its scale, temporal fields and
 * precision), so replaying a chunk through tf_view_apply builds the same
 * rows, keys and documents as the original changes did.
 *
 * Changes are encoded when recorded, into one growing buffer, with the end
 * offset of each kept so that saving can cut chunks at change boundaries
 * without decoding anything. */
#include "view_internal.h"

#include <stdio.h>
#include <string.h>

#define JOURNAL_MAGIC "TFJ1"
#define JOURNAL_MAGIC_LEN 4
/* MySQL allows at most 4096 columns per table. */
#define JOURNAL_MAX_COLUMNS 4096

struct tf_view_journal {
    size_t table_count;
    char **tables;
    view_buf records;
    size_t *ends; /* end offset in records of each change */
    size_t change_count, ends_cap;
};

/* ---- encoding ---- */

static void put_byte(view_buf *b, uint8_t v) { view_buf_append(b, &v, 1); }

static void put_le(view_buf *b, uint64_t v, size_t bytes)
{
    uint8_t out[8];
    for (size_t i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * i));
    view_buf_append(b, out, bytes);
}

static void put_bytes(view_buf *b, const void *data, size_t len)
{
    view_buf_put_varint(b, len);
    view_buf_append(b, data, len);
}

static void put_value(view_buf *b, const tf_value *v)
{
    put_byte(b, (uint8_t)v->kind);
    switch (v->kind) {
    case TF_VAL_NULL:
    case TF_VAL_ABSENT: break;
    case TF_VAL_INT:
    case TF_VAL_YEAR: view_buf_put_varint(b, view_zigzag(v->i)); break;
    case TF_VAL_UINT:
    case TF_VAL_ENUM:
    case TF_VAL_SET: view_buf_put_varint(b, v->u); break;
    case TF_VAL_BIT:
        view_buf_put_varint(b, v->u);
        view_buf_put_varint(b, v->bit_width);
        break;
    case TF_VAL_FLOAT: {
        uint32_t bits;
        memcpy(&bits, &v->f, sizeof bits);
        put_le(b, bits, 4);
        break;
    }
    case TF_VAL_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->d, sizeof bits);
        put_le(b, bits, 8);
        break;
    }
    case TF_VAL_DECIMAL:
        put_byte(b, v->decimal.precision);
        put_byte(b, v->decimal.scale);
        put_bytes(b, v->decimal.text, strnlen(v->decimal.text, TF_DECIMAL_TEXT_MAX - 1));
        break;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
    case TF_VAL_TIME:
        view_buf_put_varint(b, view_zigzag(v->temporal.year));
        put_byte(b, v->temporal.month);
        put_byte(b, v->temporal.day);
        view_buf_put_varint(b, v->temporal.hour);
        put_byte(b, v->temporal.minute);
        put_byte(b, v->temporal.second);
        view_buf_put_varint(b, v->temporal.microsecond);
        put_byte(b, v->temporal.negative ? 1 : 0);
        put_byte(b, v->temporal.fsp);
        break;
    case TF_VAL_TIMESTAMP:
        view_buf_put_varint(b, view_zigzag(v->timestamp.seconds));
        view_buf_put_varint(b, v->timestamp.microsecond);
        put_byte(b, v->timestamp.fsp);
        break;
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_JSON:
    case TF_VAL_GEOMETRY:
    case TF_VAL_VECTOR:
    case TF_VAL_JSON_DIFF: put_bytes(b, v->bytes.ptr, v->bytes.len); break;
    }
}

static void put_image(view_buf *b, const tf_value *values, size_t column_count)
{
    view_buf_put_varint(b, column_count);
    for (size_t i = 0; i < column_count; i++)
        put_value(b, &values[i]);
}

tf_view_journal *tf_view_journal_new(void) { return bson_malloc0(sizeof(tf_view_journal)); }

void tf_view_journal_destroy(tf_view_journal *journal)
{
    if (!journal)
        return;
    for (size_t i = 0; i < journal->table_count; i++)
        bson_free(journal->tables[i]);
    bson_free(journal->tables);
    view_buf_cleanup(&journal->records);
    bson_free(journal->ends);
    bson_free(journal);
}

static size_t table_index(tf_view_journal *journal, const char *table)
{
    for (size_t i = 0; i < journal->table_count; i++)
        if (strcmp(journal->tables[i], table) == 0)
            return i;
    journal->tables =
        bson_realloc(journal->tables, (journal->table_count + 1) * sizeof *journal->tables);
    journal->tables[journal->table_count] = bson_strdup(table);
    return journal->table_count++;
}

void tf_view_journal_add(tf_view_journal *journal, const char *table, tf_view_change_kind kind,
                         const tf_value *before, const tf_value *after, size_t column_count)
{
    view_buf *b = &journal->records;
    view_buf_put_varint(b, table_index(journal, table));
    put_byte(b, (uint8_t)kind);
    if (kind != TF_VIEW_INSERT)
        put_image(b, before, column_count);
    if (kind != TF_VIEW_DELETE)
        put_image(b, after, column_count);
    if (journal->change_count == journal->ends_cap) {
        journal->ends_cap = journal->ends_cap ? journal->ends_cap * 2 : 256;
        journal->ends = bson_realloc(journal->ends, journal->ends_cap * sizeof *journal->ends);
    }
    journal->ends[journal->change_count++] = b->len;
}

size_t tf_view_journal_changes(const tf_view_journal *journal) { return journal->change_count; }

size_t tf_view_journal_bytes(const tf_view_journal *journal) { return journal->records.len; }

void tf_view_journal_clear(tf_view_journal *journal)
{
    journal->records.len = 0;
    journal->change_count = 0;
}

static void chunk_header(view_buf *chunk, const tf_view_journal *journal, size_t change_count)
{
    chunk->len = 0;
    view_buf_append(chunk, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
    view_buf_put_varint(chunk, journal->table_count);
    for (size_t i = 0; i < journal->table_count; i++)
        put_bytes(chunk, journal->tables[i], strlen(journal->tables[i]));
    view_buf_put_varint(chunk, change_count);
}

tf_status tf_view_journal_save(const tf_view_journal *journal, size_t max_chunk,
                               tf_view_chunk_fn fn, void *arg, tf_error *err)
{
    view_buf chunk = {0};
    tf_status st = TF_OK;
    size_t first = 0; /* first change of the chunk being cut */
    while (first < journal->change_count) {
        size_t start = first ? journal->ends[first - 1] : 0;
        chunk_header(&chunk, journal, 0);
        /* The change count's varint may grow by a few bytes once known. */
        size_t room =
            max_chunk > chunk.len + VIEW_VARINT_MAX ? max_chunk - chunk.len - VIEW_VARINT_MAX : 0;
        size_t last = first;
        while (last < journal->change_count && journal->ends[last] - start <= room)
            last++;
        if (last == first) {
            st = tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                              "saving the change journal: change %zu (%zu bytes) does not fit "
                              "in a %zu-byte chunk",
                              first, journal->ends[first] - start, max_chunk);
            break;
        }
        chunk_header(&chunk, journal, last - first);
        view_buf_append(&chunk, journal->records.ptr + start, journal->ends[last - 1] - start);
        if (!fn(chunk.ptr, chunk.len, arg, err)) {
            st = TF_MALFORMED;
            break;
        }
        first = last;
    }
    view_buf_cleanup(&chunk);
    return st;
}

/* ---- decoding ---- */

typedef struct reader {
    const uint8_t *data;
    size_t len, pos;
    tf_error *err;
} reader;

static bool fail(reader *r, const char *what)
{
    tf_error_set(r->err, TF_ERR_PROTOCOL, 0, "change journal chunk: %s at offset %zu of %zu", what,
                 r->pos, r->len);
    return false;
}

static bool get_byte(reader *r, uint8_t *out, const char *what)
{
    if (r->pos >= r->len)
        return fail(r, what);
    *out = r->data[r->pos++];
    return true;
}

static bool get_varint(reader *r, uint64_t *out, const char *what)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->len)
            return fail(r, what);
        uint8_t byte = r->data[r->pos++];
        if (shift == 63 && byte > 1)
            return fail(r, "varint over 64 bits");
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return fail(r, "varint over 64 bits");
}

static bool get_bounded(reader *r, uint64_t max, uint64_t *out, const char *what)
{
    size_t at = r->pos;
    if (!get_varint(r, out, what))
        return false;
    if (*out > max) {
        r->pos = at;
        char text[160];
        snprintf(text, sizeof text, "%s %llu over %llu", what, (unsigned long long)*out,
                 (unsigned long long)max);
        return fail(r, text);
    }
    return true;
}

static bool get_zigzag(reader *r, int64_t *out, const char *what)
{
    uint64_t z;
    if (!get_varint(r, &z, what))
        return false;
    *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return true;
}

static bool get_le(reader *r, size_t bytes, uint64_t *out, const char *what)
{
    if (r->len - r->pos < bytes)
        return fail(r, what);
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v |= (uint64_t)r->data[r->pos + i] << (8 * i);
    r->pos += bytes;
    *out = v;
    return true;
}

/* A length-prefixed run of bytes, borrowed from the chunk. */
static bool get_bytes(reader *r, const uint8_t **ptr, size_t *len, const char *what)
{
    uint64_t n;
    if (!get_varint(r, &n, what))
        return false;
    if (n > r->len - r->pos)
        return fail(r, what);
    *ptr = r->data + r->pos;
    *len = (size_t)n;
    r->pos += (size_t)n;
    return true;
}

static bool get_temporal(reader *r, tf_temporal *t)
{
    int64_t year;
    uint64_t hour, usec;
    uint8_t negative;
    if (!get_zigzag(r, &year, "truncated temporal year"))
        return false;
    if (year < INT32_MIN || year > INT32_MAX)
        return fail(r, "temporal year out of range");
    t->year = (int32_t)year;
    if (!get_byte(r, &t->month, "truncated temporal month") ||
        !get_byte(r, &t->day, "truncated temporal day") ||
        !get_bounded(r, UINT32_MAX, &hour, "temporal hour") ||
        !get_byte(r, &t->minute, "truncated temporal minute") ||
        !get_byte(r, &t->second, "truncated temporal second") ||
        !get_bounded(r, UINT32_MAX, &usec, "temporal microsecond") ||
        !get_byte(r, &negative, "truncated temporal sign") ||
        !get_byte(r, &t->fsp, "truncated temporal precision"))
        return false;
    if (negative > 1)
        return fail(r, "temporal sign byte is neither 0 nor 1");
    t->hour = (uint32_t)hour;
    t->microsecond = (uint32_t)usec;
    t->negative = negative == 1;
    return true;
}

static bool get_value(reader *r, tf_value *v)
{
    uint8_t kind;
    memset(v, 0, sizeof *v);
    if (!get_byte(r, &kind, "truncated value"))
        return false;
    if (kind > TF_VAL_JSON_DIFF) {
        r->pos--;
        return fail(r, "unknown value kind");
    }
    v->kind = (tf_value_kind)kind;
    switch (v->kind) {
    case TF_VAL_NULL:
    case TF_VAL_ABSENT: return true;
    case TF_VAL_INT:
    case TF_VAL_YEAR: return get_zigzag(r, &v->i, "truncated integer");
    case TF_VAL_UINT:
    case TF_VAL_ENUM:
    case TF_VAL_SET: return get_varint(r, &v->u, "truncated integer");
    case TF_VAL_BIT: {
        uint64_t width;
        if (!get_varint(r, &v->u, "truncated BIT value") ||
            !get_bounded(r, UINT16_MAX, &width, "BIT width"))
            return false;
        v->bit_width = (uint16_t)width;
        return true;
    }
    case TF_VAL_FLOAT: {
        uint64_t bits;
        if (!get_le(r, 4, &bits, "truncated FLOAT"))
            return false;
        uint32_t bits32 = (uint32_t)bits;
        memcpy(&v->f, &bits32, sizeof v->f);
        return true;
    }
    case TF_VAL_DOUBLE: {
        uint64_t bits;
        if (!get_le(r, 8, &bits, "truncated DOUBLE"))
            return false;
        memcpy(&v->d, &bits, sizeof v->d);
        return true;
    }
    case TF_VAL_DECIMAL: {
        const uint8_t *text;
        size_t len;
        if (!get_byte(r, &v->decimal.precision, "truncated DECIMAL precision") ||
            !get_byte(r, &v->decimal.scale, "truncated DECIMAL scale") ||
            !get_bytes(r, &text, &len, "truncated DECIMAL text"))
            return false;
        if (len >= TF_DECIMAL_TEXT_MAX || memchr(text, 0, len))
            return fail(r, "DECIMAL text too long or holding a NUL");
        memcpy(v->decimal.text, text, len);
        v->decimal.text[len] = '\0';
        return true;
    }
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
    case TF_VAL_TIME: return get_temporal(r, &v->temporal);
    case TF_VAL_TIMESTAMP: {
        uint64_t usec;
        if (!get_zigzag(r, &v->timestamp.seconds, "truncated TIMESTAMP") ||
            !get_bounded(r, UINT32_MAX, &usec, "TIMESTAMP microsecond") ||
            !get_byte(r, &v->timestamp.fsp, "truncated TIMESTAMP precision"))
            return false;
        v->timestamp.microsecond = (uint32_t)usec;
        return true;
    }
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_JSON:
    case TF_VAL_GEOMETRY:
    case TF_VAL_VECTOR:
    case TF_VAL_JSON_DIFF:
        return get_bytes(r, &v->bytes.ptr, &v->bytes.len, "truncated byte value");
    }
    return fail(r, "unknown value kind");
}

/* An image into values (cap entries); *count set to its column count. */
static bool get_image(reader *r, tf_value **values, size_t *cap, size_t *count)
{
    uint64_t n;
    if (!get_bounded(r, JOURNAL_MAX_COLUMNS, &n, "column count"))
        return false;
    if (n == 0)
        return fail(r, "row image without columns");
    if (n > *cap) {
        *cap = (size_t)n;
        *values = bson_realloc(*values, *cap * sizeof **values);
    }
    for (size_t i = 0; i < n; i++)
        if (!get_value(r, &(*values)[i]))
            return false;
    *count = (size_t)n;
    return true;
}

tf_status tf_view_journal_decode(const uint8_t *data, size_t len, tf_view_change_fn fn, void *arg,
                                 tf_error *err)
{
    reader r = {data, len, 0, err};
    char **tables = NULL;
    uint64_t table_count = 0, change_count = 0;
    tf_value *before = NULL, *after = NULL;
    size_t before_cap = 0, after_cap = 0;
    bool ok = true;
    if (len < JOURNAL_MAGIC_LEN || memcmp(data, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "change journal chunk: does not start with \"" JOURNAL_MAGIC
                     "\" (not a journal chunk, or written by another tapflow version; "
                     "restart with --resnapshot)");
        return TF_MALFORMED;
    }
    r.pos = JOURNAL_MAGIC_LEN;
    /* Every name takes at least one byte, which bounds the count. */
    ok = get_bounded(&r, len, &table_count, "table count");
    if (ok)
        tables = bson_malloc0((table_count ? table_count : 1) * sizeof *tables);
    for (uint64_t i = 0; ok && i < table_count; i++) {
        const uint8_t *name;
        size_t name_len;
        ok = get_bytes(&r, &name, &name_len, "truncated table name");
        if (ok && (name_len == 0 || memchr(name, 0, name_len)))
            ok = fail(&r, "empty table name or one holding a NUL");
        if (ok)
            tables[i] = tf_strndup((const char *)name, name_len);
    }
    ok = ok && get_varint(&r, &change_count, "truncated change count");
    for (uint64_t c = 0; ok && c < change_count; c++) {
        uint64_t table;
        uint8_t kind;
        size_t before_n = 0, after_n = 0;
        ok = get_bounded(&r, table_count ? table_count - 1 : 0, &table, "table index") &&
             (table_count > 0 || fail(&r, "change without any table"));
        ok = ok && get_byte(&r, &kind, "truncated change kind");
        if (ok && kind > TF_VIEW_DELETE) {
            r.pos--;
            ok = fail(&r, "unknown change kind");
        }
        if (ok && kind != TF_VIEW_INSERT)
            ok = get_image(&r, &before, &before_cap, &before_n);
        if (ok && kind != TF_VIEW_DELETE)
            ok = get_image(&r, &after, &after_cap, &after_n);
        if (ok && kind == TF_VIEW_UPDATE && before_n != after_n)
            ok = fail(&r, "UPDATE images of different column counts");
        if (ok && fn)
            ok = fn(tables[table], (tf_view_change_kind)kind,
                    kind == TF_VIEW_INSERT ? NULL : before, kind == TF_VIEW_DELETE ? NULL : after,
                    kind == TF_VIEW_INSERT ? after_n : before_n, arg, err);
    }
    if (ok && r.pos != len)
        ok = fail(&r, "bytes after the last change");
    for (uint64_t i = 0; tables && i < table_count; i++)
        bson_free(tables[i]);
    bson_free(tables);
    bson_free(before);
    bson_free(after);
    return ok ? TF_OK : TF_MALFORMED;
}

static bool apply_change(const char *table, tf_view_change_kind kind, const tf_value *before,
                         const tf_value *after, size_t column_count, void *arg, tf_error *err)
{
    tf_view *view = arg;
    const view_table *t = view_table_by_name(view, table);
    if (!t || !t->defined)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "change journal chunk: table %.100s is not defined in the view "
                            "(state of another flow spec?); restart with --resnapshot",
                            table),
               false;
    if (column_count != t->column_count)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "change journal chunk: a change of %.100s has %zu columns, the "
                            "table %zu; restart with --resnapshot",
                            table, column_count, t->column_count),
               false;
    if (tf_view_apply(view, table, kind, before, after, err) != TF_OK) {
        tf_error_prefix(err, "change journal chunk");
        return false;
    }
    return true;
}

tf_status tf_view_journal_apply(tf_view *view, const uint8_t *data, size_t len, tf_error *err)
{
    if (tf_view_journal_decode(data, len, NULL, NULL, err) != TF_OK)
        return TF_MALFORMED;
    return tf_view_journal_decode(data, len, apply_change, view, err);
}
