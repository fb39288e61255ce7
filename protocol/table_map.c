/* table_map.c — TABLE_MAP_EVENT: the event view, the owned decoded map
 * (types, metadata, optional metadata), and the table_id registry.
 *
 * A TABLE_MAP precedes the rows events of each table in a statement; rows
 * events refer to it by table_id only, so the decoded map must outlive its
 * event buffer: tf_table_map_new copies the event body and points into the
 * copy. */
#include "event_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tf_status tf_event_decode_table_map(tf_reader *r, uint8_t post_header_len, tf_table_map_event *out)
{
    tf_status st;
    uint8_t len, nul;
    const uint8_t *p;
    memset(out, 0, sizeof *out);
    /* Servers before 5.1.4 wrote a 4-byte table id (post-header 6). */
    if ((st = tf_read_uint_le(r, post_header_len == 6 ? 4 : 6, &out->table_id, "table id")) !=
            TF_OK ||
        (st = tf_read_u16le(r, &out->flags, "flags")) != TF_OK)
        return st;
    if ((st = tf_read_u8(r, &len, "database name length")) != TF_OK ||
        (st = tf_read_bytes(r, len, &p, "database name")) != TF_OK ||
        (st = tf_read_u8(r, &nul, "database name terminator")) != TF_OK)
        return st;
    out->database.ptr = (const char *)p;
    out->database.len = len;
    if (nul != 0)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: database name not NUL-terminated at offset %zu", r->context,
                            tf_reader_offset(r) - 1);
    if ((st = tf_read_u8(r, &len, "table name length")) != TF_OK ||
        (st = tf_read_bytes(r, len, &p, "table name")) != TF_OK ||
        (st = tf_read_u8(r, &nul, "table name terminator")) != TF_OK)
        return st;
    out->table.ptr = (const char *)p;
    out->table.len = len;
    if (nul != 0)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: table name not NUL-terminated at offset %zu", r->context,
                            tf_reader_offset(r) - 1);
    size_t at = tf_reader_offset(r);
    if ((st = tf_read_lenenc(r, &out->column_count, NULL, "column count")) != TF_OK)
        return st;
    if (out->column_count == 0 || out->column_count > tf_reader_left(r))
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: column count %llu at offset %zu does not fit the %zu bytes left",
                            r->context, (unsigned long long)out->column_count, at,
                            tf_reader_left(r));
    if ((st = tf_read_bytes(r, (size_t)out->column_count, &out->column_types, "column types")) !=
        TF_OK)
        return st;
    uint64_t meta_len;
    at = tf_reader_offset(r);
    if ((st = tf_read_lenenc(r, &meta_len, NULL, "metadata length")) != TF_OK)
        return st;
    if (meta_len > tf_reader_left(r))
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: metadata length %llu at offset %zu runs past the end of the "
                            "event (%zu bytes left)",
                            r->context, (unsigned long long)meta_len, at, tf_reader_left(r));
    out->metadata_len = (size_t)meta_len;
    tf_read_bytes(r, out->metadata_len, &out->metadata, "metadata");
    if ((st = tf_read_bytes(r, (size_t)(out->column_count + 7) / 8, &out->null_bitmap,
                            "null bitmap")) != TF_OK)
        return st;
    out->optional_metadata_offset = tf_reader_offset(r);
    out->optional_metadata = tf_reader_cursor(r);
    out->optional_metadata_len = tf_reader_left(r);
    r->pos = r->len;
    return TF_OK;
}

/* ---- owned map ---- */

typedef struct owned_map {
    tf_table_map map; /* first: tf_table_map_destroy casts back */
    uint8_t *body;    /* copy of the event body the tf_str point into */
} owned_map;

/* Which columns the SIGNEDNESS and charset fields count. The two server
 * families differ: MariaDB's writer counts GEOMETRY (a BLOB underneath)
 * among character columns; MySQL counts old DECIMAL as numeric and, from
 * 9.0, VECTOR as character (seen in vector.binlog). Both count YEAR as
 * numeric (MariaDB 10.11 writes its bit, always set: a YEAR column before
 * a BIGINT and a BIGINT UNSIGNED shifted their bits, seen on a real
 * server; mariadb-binlog --print-table-metadata shows the same shift).
 * Types are the real types, so ENUM/SET written as STRING are never
 * character columns here. */
static bool is_numeric(uint8_t t, tf_flavour flavour)
{
    switch (t) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24:
    case TF_TYPE_LONG:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_NEWDECIMAL:
    case TF_TYPE_FLOAT:
    case TF_TYPE_DOUBLE:
    case TF_TYPE_YEAR: return true;
    case TF_TYPE_DECIMAL: return flavour != TF_FLAVOUR_MARIADB;
    default: return false;
    }
}

static bool is_character(uint8_t t, tf_flavour flavour)
{
    switch (t) {
    case TF_TYPE_STRING:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_VARCHAR:
    case TF_TYPE_BLOB: return true;
    case TF_TYPE_GEOMETRY: return flavour == TF_FLAVOUR_MARIADB;
    case TF_TYPE_VECTOR: return flavour != TF_FLAVOUR_MARIADB;
    default: return false;
    }
}

static bool is_enum_or_set(uint8_t t) { return t == TF_TYPE_ENUM || t == TF_TYPE_SET; }

/* Reads the type metadata of one column and normalises it (section 5). */
static tf_status read_column_meta(tf_reader *r, uint32_t index, uint8_t binlog_type, tf_column *col)
{
    tf_status st;
    uint8_t b0, b1;
    char field[48];
    snprintf(field, sizeof field, "column %u metadata", index);
    col->type = binlog_type;
    col->meta = 0;
    switch (binlog_type) {
    case TF_TYPE_FLOAT:
    case TF_TYPE_DOUBLE:
    case TF_TYPE_BLOB:
    case TF_TYPE_TINY_BLOB:
    case TF_TYPE_MEDIUM_BLOB:
    case TF_TYPE_LONG_BLOB:
    case TF_TYPE_GEOMETRY:
    case TF_TYPE_JSON:
    case TF_TYPE_VECTOR:
    case TF_TYPE_TIMESTAMP2:
    case TF_TYPE_DATETIME2:
    case TF_TYPE_TIME2:
        if ((st = tf_read_u8(r, &b0, field)) != TF_OK)
            return st;
        col->meta = b0;
        return TF_OK;
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING: return tf_read_u16le(r, &col->meta, field);
    case TF_TYPE_BIT:
        if ((st = tf_read_u8(r, &b0, field)) != TF_OK || (st = tf_read_u8(r, &b1, field)) != TF_OK)
            return st;
        col->meta = (uint16_t)(b0 | (b1 << 8));
        return TF_OK;
    case TF_TYPE_NEWDECIMAL:
        if ((st = tf_read_u8(r, &b0, field)) != TF_OK || (st = tf_read_u8(r, &b1, field)) != TF_OK)
            return st;
        col->meta = (uint16_t)(b0 << 8 | b1);
        return TF_OK;
    case TF_TYPE_STRING:
    case TF_TYPE_ENUM:
    case TF_TYPE_SET:
        if ((st = tf_read_u8(r, &b0, field)) != TF_OK || (st = tf_read_u8(r, &b1, field)) != TF_OK)
            return st;
        /* byte 0 is the real type; CHAR longer than 255 bytes borrows its
         * bits 4-5 (inverted) as length bits 8-9 (MySQL bug #37426). */
        if ((b0 & 0x30) != 0x30) {
            col->type = TF_TYPE_STRING;
            col->meta = (uint16_t)(b1 | (((b0 & 0x30) ^ 0x30) << 4));
        } else if (b0 == TF_TYPE_ENUM || b0 == TF_TYPE_SET) {
            col->type = b0;
            col->meta = b1;
        } else if (b0 == TF_TYPE_STRING) {
            col->type = TF_TYPE_STRING;
            col->meta = b1;
        } else {
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: column %u: STRING metadata names real type %u at offset %zu",
                                r->context, index, b0, tf_reader_offset(r) - 2);
        }
        return TF_OK;
    case TF_TYPE_TYPED_ARRAY:
        return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                            "%s: column %u has type TYPED_ARRAY (multi-valued index), which is "
                            "not supported",
                            r->context, index);
    case TF_TYPE_DECIMAL:
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_LONG:
    case TF_TYPE_NULL:
    case TF_TYPE_TIMESTAMP:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_INT24:
    case TF_TYPE_DATE:
    case TF_TYPE_TIME:
    case TF_TYPE_DATETIME:
    case TF_TYPE_YEAR:
    case TF_TYPE_NEWDATE: return TF_OK;
    default:
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0, "%s: column %u has unknown type %u",
                            r->context, index, binlog_type);
    }
}

/* Indexes of the columns a per-kind optional metadata field lists, in
 * order: the k-th numeric column, character column, ... */
typedef bool (*column_filter)(const tf_column *col, tf_flavour flavour);

static bool filter_character(const tf_column *c, tf_flavour fl)
{
    return is_character(c->type, fl);
}
static bool filter_enum_set(const tf_column *c, tf_flavour fl)
{
    (void)fl;
    return is_enum_or_set(c->type);
}
static bool filter_enum(const tf_column *c, tf_flavour fl)
{
    (void)fl;
    return c->type == TF_TYPE_ENUM;
}
static bool filter_set(const tf_column *c, tf_flavour fl)
{
    (void)fl;
    return c->type == TF_TYPE_SET;
}
static bool filter_geometry(const tf_column *c, tf_flavour fl)
{
    (void)fl;
    return c->type == TF_TYPE_GEOMETRY;
}
static bool filter_vector(const tf_column *c, tf_flavour fl)
{
    (void)fl;
    return c->type == TF_TYPE_VECTOR;
}

/* Finds the column index of the n-th column passing filter; -1 if none. */
static int64_t nth_column(const tf_table_map *m, tf_flavour fl, column_filter f, uint64_t n)
{
    for (uint32_t i = 0; i < m->column_count; i++) {
        if (f(&m->columns[i], fl)) {
            if (n == 0)
                return i;
            n--;
        }
    }
    return -1;
}

static tf_status read_lenenc_bounded(tf_reader *r, uint64_t *v, const char *field)
{
    return tf_read_lenenc(r, v, NULL, field);
}

/* DEFAULT_CHARSET and ENUM_AND_SET_DEFAULT_CHARSET: a default collation,
 * then (index among the filtered columns, collation) for the exceptions. */
static tf_status read_default_charset(tf_reader *r, tf_table_map *m, tf_flavour fl, column_filter f)
{
    tf_status st;
    uint64_t def;
    if ((st = read_lenenc_bounded(r, &def, "default charset")) != TF_OK)
        return st;
    for (uint32_t i = 0; i < m->column_count; i++)
        if (f(&m->columns[i], fl))
            m->columns[i].charset = (uint16_t)def;
    while (tf_reader_left(r) > 0) {
        uint64_t idx, coll;
        if ((st = read_lenenc_bounded(r, &idx, "charset column index")) != TF_OK ||
            (st = read_lenenc_bounded(r, &coll, "charset collation")) != TF_OK)
            return st;
        int64_t c = nth_column(m, fl, f, idx);
        if (c < 0)
            return tf_reader_bad(r, "charset for column #%llu of %s, which does not exist",
                                 (unsigned long long)idx, "its kind");
        m->columns[c].charset = (uint16_t)coll;
    }
    return TF_OK;
}

static tf_status read_column_charset(tf_reader *r, tf_table_map *m, tf_flavour fl, column_filter f)
{
    tf_status st;
    for (uint32_t i = 0; i < m->column_count && tf_reader_left(r) > 0; i++) {
        if (!f(&m->columns[i], fl))
            continue;
        uint64_t coll;
        if ((st = read_lenenc_bounded(r, &coll, "column charset")) != TF_OK)
            return st;
        m->columns[i].charset = (uint16_t)coll;
    }
    if (tf_reader_left(r) > 0)
        return tf_reader_bad(r, "%zu bytes of column charsets left over", tf_reader_left(r));
    return TF_OK;
}

static tf_status read_str_values(tf_reader *r, tf_table_map *m, tf_flavour fl, column_filter f)
{
    tf_status st;
    for (uint32_t i = 0; i < m->column_count && tf_reader_left(r) > 0; i++) {
        tf_column *c = &m->columns[i];
        if (!f(c, fl))
            continue;
        uint64_t count;
        size_t at = tf_reader_offset(r);
        if ((st = read_lenenc_bounded(r, &count, "value count")) != TF_OK)
            return st;
        /* Every value takes at least its 1-byte length. */
        if (count > tf_reader_left(r) || count > 65535)
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: column %u: %llu enum/set values at offset %zu do not fit",
                                r->context, i, (unsigned long long)count, at);
        free(c->enum_set_values);
        c->enum_set_values = calloc(count ? (size_t)count : 1, sizeof(tf_str));
        if (!c->enum_set_values)
            return tf_reader_bad(r, "out of memory for %llu values", (unsigned long long)count);
        c->enum_set_count = (uint32_t)count;
        for (uint64_t k = 0; k < count; k++) {
            if ((st = tf_read_lenenc_str(r, &c->enum_set_values[k], NULL, "enum/set value")) !=
                TF_OK)
                return st;
        }
    }
    if (tf_reader_left(r) > 0)
        return tf_reader_bad(r, "%zu bytes of enum/set values left over", tf_reader_left(r));
    return TF_OK;
}

static tf_status read_primary_key(tf_reader *r, tf_table_map *m, bool with_prefix)
{
    tf_status st;
    size_t cap = 0;
    free(m->primary_key);
    free(m->primary_key_prefix);
    m->primary_key = NULL;
    m->primary_key_prefix = NULL;
    m->primary_key_count = 0;
    while (tf_reader_left(r) > 0) {
        uint64_t idx, prefix = 0;
        size_t at = tf_reader_offset(r);
        if ((st = read_lenenc_bounded(r, &idx, "primary key column")) != TF_OK)
            return st;
        if (with_prefix && (st = read_lenenc_bounded(r, &prefix, "primary key prefix")) != TF_OK)
            return st;
        if (idx >= m->column_count)
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: primary key column %llu at offset %zu but the table has %u "
                                "columns",
                                r->context, (unsigned long long)idx, at, m->column_count);
        if (m->primary_key_count == cap) {
            cap = cap ? cap * 2 : 4;
            uint32_t *k = realloc(m->primary_key, cap * sizeof *k);
            if (!k)
                return tf_reader_bad(r, "out of memory");
            m->primary_key = k;
            uint32_t *p = realloc(m->primary_key_prefix, cap * sizeof *p);
            if (!p)
                return tf_reader_bad(r, "out of memory");
            m->primary_key_prefix = p;
        }
        m->primary_key[m->primary_key_count] = (uint32_t)idx;
        m->primary_key_prefix[m->primary_key_count] = (uint32_t)prefix;
        m->primary_key_count++;
        m->columns[idx].is_primary_key = true;
    }
    return TF_OK;
}

static tf_status read_per_column_lenenc(tf_reader *r, tf_table_map *m, tf_flavour fl,
                                        column_filter f, bool store_geometry)
{
    tf_status st;
    for (uint32_t i = 0; i < m->column_count && tf_reader_left(r) > 0; i++) {
        if (!f(&m->columns[i], fl))
            continue;
        uint64_t v;
        if ((st = read_lenenc_bounded(r, &v, "column value")) != TF_OK)
            return st;
        if (store_geometry)
            m->columns[i].geometry_type = (uint32_t)v;
    }
    if (tf_reader_left(r) > 0)
        return tf_reader_bad(r, "%zu bytes left over", tf_reader_left(r));
    return TF_OK;
}

static tf_status read_optional_metadata(const tf_table_map_event *ev, const uint8_t *opt,
                                        tf_table_map *m, tf_error *err)
{
    tf_status st;
    tf_reader r;
    tf_reader_init(&r, opt, ev->optional_metadata_len, ev->optional_metadata_offset,
                   "TABLE_MAP event: optional metadata", TF_MALFORMED, err);
    tf_flavour fl = ev->flavour;
    while (tf_reader_left(&r) > 0) {
        uint8_t kind;
        uint64_t flen;
        if ((st = tf_read_u8(&r, &kind, "field type")) != TF_OK)
            return st;
        size_t at = tf_reader_offset(&r);
        if ((st = tf_read_lenenc(&r, &flen, NULL, "field length")) != TF_OK)
            return st;
        if (flen > tf_reader_left(&r))
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "TABLE_MAP event: optional metadata field %u: length %llu at "
                                "offset %zu runs past the end of the event (%zu bytes left)",
                                kind, (unsigned long long)flen, at, tf_reader_left(&r));
        char context[96];
        snprintf(context, sizeof context, "TABLE_MAP event: optional metadata field %u", kind);
        tf_reader f;
        tf_reader_init(&f, tf_reader_cursor(&r), (size_t)flen, tf_reader_offset(&r), context,
                       TF_MALFORMED, err);
        r.pos += (size_t)flen;
        if (kind < 32)
            m->optional_metadata |= 1u << kind;
        switch (kind) {
        case TF_TABLE_META_SIGNEDNESS: {
            /* One bit per numeric column, most significant bit first. */
            uint64_t k = 0;
            for (uint32_t i = 0; i < m->column_count; i++) {
                if (!is_numeric(m->columns[i].type, fl))
                    continue;
                if (k / 8 >= f.len)
                    return tf_reader_short(&f, "signedness bits", (size_t)(k / 8 + 1));
                /* YEAR takes a bit (always set: the server stores it
                 * unsigned) but is no signed or unsigned integer to its
                 * users, nor to information_schema, which the snapshot
                 * describes it from: the two must describe it alike. */
                if (m->columns[i].type != TF_TYPE_YEAR)
                    m->columns[i].is_unsigned = (f.buf[k / 8] >> (7 - k % 8)) & 1;
                k++;
            }
            break;
        }
        case TF_TABLE_META_DEFAULT_CHARSET:
            st = read_default_charset(&f, m, fl, filter_character);
            break;
        case TF_TABLE_META_COLUMN_CHARSET:
            st = read_column_charset(&f, m, fl, filter_character);
            break;
        case TF_TABLE_META_COLUMN_NAME:
            for (uint32_t i = 0; i < m->column_count && (st = TF_OK, tf_reader_left(&f) > 0); i++)
                if ((st = tf_read_lenenc_str(&f, &m->columns[i].name, NULL, "column name")) !=
                    TF_OK)
                    break;
            if (st == TF_OK && tf_reader_left(&f) > 0)
                st = tf_reader_bad(&f, "more column names than the %u columns", m->column_count);
            break;
        case TF_TABLE_META_SET_STR_VALUE: st = read_str_values(&f, m, fl, filter_set); break;
        case TF_TABLE_META_ENUM_STR_VALUE: st = read_str_values(&f, m, fl, filter_enum); break;
        case TF_TABLE_META_GEOMETRY_TYPE:
            st = read_per_column_lenenc(&f, m, fl, filter_geometry, true);
            break;
        case TF_TABLE_META_SIMPLE_PRIMARY_KEY: st = read_primary_key(&f, m, false); break;
        case TF_TABLE_META_PRIMARY_KEY_WITH_PREFIX: st = read_primary_key(&f, m, true); break;
        case TF_TABLE_META_ENUM_AND_SET_DEFAULT_CHARSET:
            st = read_default_charset(&f, m, fl, filter_enum_set);
            break;
        case TF_TABLE_META_ENUM_AND_SET_COLUMN_CHARSET:
            st = read_column_charset(&f, m, fl, filter_enum_set);
            break;
        case TF_TABLE_META_COLUMN_VISIBILITY:
            if (f.len < (m->column_count + 7u) / 8u)
                st = tf_reader_short(&f, "visibility bits", (m->column_count + 7u) / 8u);
            break;
        case TF_TABLE_META_VECTOR_DIMENSIONALITY:
            st = read_per_column_lenenc(&f, m, fl, filter_vector, false);
            break;
        default:
            /* Newer servers may add kinds; the TLV length lets us skip. */
            st = TF_OK;
            break;
        }
        if (st != TF_OK)
            return st;
    }
    return TF_OK;
}

void tf_table_map_destroy(tf_table_map *map)
{
    if (!map)
        return;
    owned_map *o = (owned_map *)map;
    if (map->columns)
        for (uint32_t i = 0; i < map->column_count; i++)
            free(map->columns[i].enum_set_values);
    free(map->columns);
    free(map->primary_key);
    free(map->primary_key_prefix);
    free(o->body);
    free(o);
}

tf_status tf_table_map_new(const tf_event *ev, tf_table_map **out, tf_error *err)
{
    *out = NULL;
    if (ev->kind != TF_EVENT_TABLE_MAP)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "tf_table_map_new: %s event is not a TABLE_MAP",
                            tf_event_type_name(ev->header.type));
    const tf_table_map_event *tm = &ev->table_map;
    owned_map *o = calloc(1, sizeof *o);
    if (!o)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "TABLE_MAP event: out of memory");
    tf_table_map *m = &o->map;
    o->body = malloc(ev->body_len + 1);
    m->columns = calloc((size_t)tm->column_count, sizeof(tf_column));
    if (!o->body || !m->columns) {
        tf_table_map_destroy(m);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "TABLE_MAP event: out of memory");
    }
    memcpy(o->body, ev->body, ev->body_len);
    o->body[ev->body_len] = 0;
#define REMAP(p) (o->body + ((const uint8_t *)(p)-ev->body))
    m->table_id = tm->table_id;
    m->flags = tm->flags;
    m->database.ptr = (const char *)REMAP(tm->database.ptr);
    m->database.len = tm->database.len;
    m->table.ptr = (const char *)REMAP(tm->table.ptr);
    m->table.len = tm->table.len;
    m->column_count = (uint32_t)tm->column_count;

    tf_reader r;
    size_t meta_offset = TF_EVENT_HEADER_LEN + (size_t)(tm->metadata - ev->body);
    tf_reader_init(&r, tm->metadata, tm->metadata_len, meta_offset, "TABLE_MAP event: metadata",
                   TF_MALFORMED, err);
    tf_status st = TF_OK;
    for (uint32_t i = 0; i < m->column_count && st == TF_OK; i++) {
        tf_column *c = &m->columns[i];
        st = read_column_meta(&r, i, tm->column_types[i], c);
        c->nullable = tf_bitmap_get(tm->null_bitmap, i);
        if (c->type == TF_TYPE_BLOB || c->type == TF_TYPE_GEOMETRY || c->type == TF_TYPE_JSON ||
            c->type == TF_TYPE_VECTOR) {
            if (st == TF_OK && (c->meta < 1 || c->meta > 4))
                st = tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                  "TABLE_MAP event: metadata: column %u: length-prefix size %u "
                                  "(must be 1..4) at offset %zu",
                                  i, c->meta, tf_reader_offset(&r) - 1);
        }
    }
    if (st == TF_OK && tf_reader_left(&r) != 0)
        st = tf_error_set(err, TF_ERR_PROTOCOL, 0,
                          "TABLE_MAP event: metadata: %zu bytes left after the %u columns at "
                          "offset %zu (metadata length does not match the column types)",
                          tf_reader_left(&r), m->column_count, tf_reader_offset(&r));
    if (st == TF_OK)
        st = read_optional_metadata(tm, REMAP(tm->optional_metadata), m, err);
    if (st != TF_OK) {
        tf_table_map_destroy(m);
        return st == TF_NEED_MORE ? TF_MALFORMED : st;
    }
#undef REMAP
    *out = m;
    return TF_OK;
}

/* ---- registry: open addressing on table_id ---- */

struct tf_table_maps {
    tf_table_map **slots;
    size_t cap; /* power of two */
    size_t count;
};

static size_t slot_of(uint64_t id, size_t cap)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

tf_table_maps *tf_table_maps_new(void)
{
    tf_table_maps *maps = calloc(1, sizeof *maps);
    if (!maps)
        return NULL;
    maps->cap = 16;
    maps->slots = calloc(maps->cap, sizeof *maps->slots);
    if (!maps->slots) {
        free(maps);
        return NULL;
    }
    return maps;
}

void tf_table_maps_clear(tf_table_maps *maps)
{
    for (size_t i = 0; i < maps->cap; i++) {
        tf_table_map_destroy(maps->slots[i]);
        maps->slots[i] = NULL;
    }
    maps->count = 0;
}

void tf_table_maps_destroy(tf_table_maps *maps)
{
    if (!maps)
        return;
    tf_table_maps_clear(maps);
    free(maps->slots);
    free(maps);
}

static bool grow(tf_table_maps *maps)
{
    size_t cap = maps->cap * 2;
    tf_table_map **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < maps->cap; i++) {
        tf_table_map *m = maps->slots[i];
        if (!m)
            continue;
        size_t s = slot_of(m->table_id, cap);
        while (slots[s])
            s = (s + 1) & (cap - 1);
        slots[s] = m;
    }
    free(maps->slots);
    maps->slots = slots;
    maps->cap = cap;
    return true;
}

bool tf_table_maps_put_steal(tf_table_maps *maps, tf_table_map *map)
{
    if ((maps->count + 1) * 4 > maps->cap * 3 && !grow(maps)) {
        tf_table_map_destroy(map);
        return false;
    }
    size_t s = slot_of(map->table_id, maps->cap);
    while (maps->slots[s] && maps->slots[s]->table_id != map->table_id)
        s = (s + 1) & (maps->cap - 1);
    if (maps->slots[s])
        tf_table_map_destroy(maps->slots[s]);
    else
        maps->count++;
    maps->slots[s] = map;
    return true;
}

const tf_table_map *tf_table_maps_get(const tf_table_maps *maps, uint64_t table_id)
{
    size_t s = slot_of(table_id, maps->cap);
    while (maps->slots[s]) {
        if (maps->slots[s]->table_id == table_id)
            return maps->slots[s];
        s = (s + 1) & (maps->cap - 1);
    }
    return NULL;
}

size_t tf_table_maps_count(const tf_table_maps *maps) { return maps->count; }

tf_status tf_table_maps_add_event(tf_table_maps *maps, const tf_event *ev, tf_error *err)
{
    tf_table_map *m;
    tf_status st = tf_table_map_new(ev, &m, err);
    if (st != TF_OK)
        return st;
    if (!tf_table_maps_put_steal(maps, m))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "TABLE_MAP event: out of memory");
    return TF_OK;
}

tf_status tf_table_maps_find(const tf_table_maps *maps, const tf_event *ev,
                             const tf_table_map **out, tf_error *err)
{
    *out = NULL;
    if (ev->kind != TF_EVENT_ROWS)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s event is not a rows event",
                            tf_event_type_name(ev->header.type));
    *out = tf_table_maps_get(maps, ev->rows.table_id);
    if (!*out)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event for table_id %llu without a TABLE_MAP for that id (the "
                            "stream must include the TABLE_MAP that precedes each rows event)",
                            tf_event_type_name(ev->header.type),
                            (unsigned long long)ev->rows.table_id);
    return TF_OK;
}
