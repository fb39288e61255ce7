/* value.c — one column value of a row image (WRITE/UPDATE/DELETE_ROWS), by
 * the column's type and TABLE_MAP metadata.
 *
 * Integers and floats are little-endian; DECIMAL and the "2" temporal types
 * are big-endian (decimal.c, temporal.c); strings, blobs, JSON, GEOMETRY and
 * VECTOR carry a little-endian length prefix whose width the metadata gives.
 * Values borrow their bytes from the row image. */
#include "value_internal.h"

#include <stdio.h>

const char *tf_column_type_name(uint8_t type)
{
    switch ((tf_column_type)type) {
    case TF_TYPE_DECIMAL: return "DECIMAL";
    case TF_TYPE_TINY: return "TINY";
    case TF_TYPE_SHORT: return "SHORT";
    case TF_TYPE_LONG: return "LONG";
    case TF_TYPE_FLOAT: return "FLOAT";
    case TF_TYPE_DOUBLE: return "DOUBLE";
    case TF_TYPE_NULL: return "NULL";
    case TF_TYPE_TIMESTAMP: return "TIMESTAMP";
    case TF_TYPE_LONGLONG: return "LONGLONG";
    case TF_TYPE_INT24: return "INT24";
    case TF_TYPE_DATE: return "DATE";
    case TF_TYPE_TIME: return "TIME";
    case TF_TYPE_DATETIME: return "DATETIME";
    case TF_TYPE_YEAR: return "YEAR";
    case TF_TYPE_NEWDATE: return "NEWDATE";
    case TF_TYPE_VARCHAR: return "VARCHAR";
    case TF_TYPE_BIT: return "BIT";
    case TF_TYPE_TIMESTAMP2: return "TIMESTAMP2";
    case TF_TYPE_DATETIME2: return "DATETIME2";
    case TF_TYPE_TIME2: return "TIME2";
    case TF_TYPE_TYPED_ARRAY: return "TYPED_ARRAY";
    case TF_TYPE_VECTOR: return "VECTOR";
    case TF_TYPE_JSON: return "JSON";
    case TF_TYPE_NEWDECIMAL: return "NEWDECIMAL";
    case TF_TYPE_ENUM: return "ENUM";
    case TF_TYPE_SET: return "SET";
    case TF_TYPE_TINY_BLOB: return "TINY_BLOB";
    case TF_TYPE_MEDIUM_BLOB: return "MEDIUM_BLOB";
    case TF_TYPE_LONG_BLOB: return "LONG_BLOB";
    case TF_TYPE_BLOB: return "BLOB";
    case TF_TYPE_VAR_STRING: return "VAR_STRING";
    case TF_TYPE_STRING: return "STRING";
    case TF_TYPE_GEOMETRY: return "GEOMETRY";
    }
    return "UNKNOWN";
}

/* The reader context for a value: a constant string, so that decoding a
 * value formats nothing unless it fails (this is the hot path). */
static const char *value_context(uint8_t type)
{
    switch ((tf_column_type)type) {
    case TF_TYPE_DECIMAL: return "DECIMAL value";
    case TF_TYPE_TINY: return "TINY value";
    case TF_TYPE_SHORT: return "SHORT value";
    case TF_TYPE_LONG: return "LONG value";
    case TF_TYPE_FLOAT: return "FLOAT value";
    case TF_TYPE_DOUBLE: return "DOUBLE value";
    case TF_TYPE_NULL: return "NULL value";
    case TF_TYPE_TIMESTAMP: return "TIMESTAMP value";
    case TF_TYPE_LONGLONG: return "LONGLONG value";
    case TF_TYPE_INT24: return "INT24 value";
    case TF_TYPE_DATE: return "DATE value";
    case TF_TYPE_TIME: return "TIME value";
    case TF_TYPE_DATETIME: return "DATETIME value";
    case TF_TYPE_YEAR: return "YEAR value";
    case TF_TYPE_NEWDATE: return "NEWDATE value";
    case TF_TYPE_VARCHAR: return "VARCHAR value";
    case TF_TYPE_BIT: return "BIT value";
    case TF_TYPE_TIMESTAMP2: return "TIMESTAMP2 value";
    case TF_TYPE_DATETIME2: return "DATETIME2 value";
    case TF_TYPE_TIME2: return "TIME2 value";
    case TF_TYPE_TYPED_ARRAY: return "TYPED_ARRAY value";
    case TF_TYPE_VECTOR: return "VECTOR value";
    case TF_TYPE_JSON: return "JSON value";
    case TF_TYPE_NEWDECIMAL: return "NEWDECIMAL value";
    case TF_TYPE_ENUM: return "ENUM value";
    case TF_TYPE_SET: return "SET value";
    case TF_TYPE_TINY_BLOB: return "TINY_BLOB value";
    case TF_TYPE_MEDIUM_BLOB: return "MEDIUM_BLOB value";
    case TF_TYPE_LONG_BLOB: return "LONG_BLOB value";
    case TF_TYPE_BLOB: return "BLOB value";
    case TF_TYPE_VAR_STRING: return "VAR_STRING value";
    case TF_TYPE_STRING: return "STRING value";
    case TF_TYPE_GEOMETRY: return "GEOMETRY value";
    }
    return "UNKNOWN value";
}

static tf_status read_int(tf_reader *r, size_t width, bool is_unsigned, tf_value *out)
{
    uint64_t u;
    static const char *const field[] = {
        NULL, "1-byte integer", "2-byte integer", "3-byte integer", "4-byte integer", NULL, NULL,
        NULL, "8-byte integer"};
    tf_status st = tf_read_uint_le(r, width, &u, field[width]);
    if (st != TF_OK)
        return st;
    if (is_unsigned) {
        out->kind = TF_VAL_UINT;
        out->u = u;
    } else {
        out->kind = TF_VAL_INT;
        /* Sign-extend from width bytes. */
        unsigned shift = (unsigned)(64 - 8 * width);
        out->i = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
    }
    return TF_OK;
}

/* Reads a length prefix of prefix_bytes (1..4) and borrows that many bytes. */
static tf_status read_prefixed(tf_reader *r, unsigned prefix_bytes, tf_value_kind kind,
                               tf_value *out)
{
    if (prefix_bytes < 1 || prefix_bytes > 4)
        return tf_reader_bad(r, "length-prefix width %u in metadata is not 1..4", prefix_bytes);
    size_t at = r->pos;
    uint64_t n;
    tf_status st = tf_read_uint_le(r, prefix_bytes, &n, "length prefix");
    if (st != TF_OK)
        return st;
    if (n > tf_reader_left(r)) {
        st = tf_reader_short(r, "data of the length prefix", (size_t)n);
        r->pos = at;
        return st;
    }
    out->kind = kind;
    out->bytes.ptr = tf_reader_cursor(r);
    out->bytes.len = (size_t)n;
    r->pos += (size_t)n;
    return TF_OK;
}

static tf_value_kind string_kind(const tf_column *col)
{
    return col->charset == TF_CHARSET_BINARY ? TF_VAL_BYTES : TF_VAL_STRING;
}

static tf_status decode(tf_reader *r, const tf_column *col, tf_value *out)
{
    tf_status st;
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY: return read_int(r, 1, col->is_unsigned, out);
    case TF_TYPE_SHORT: return read_int(r, 2, col->is_unsigned, out);
    case TF_TYPE_INT24: return read_int(r, 3, col->is_unsigned, out);
    case TF_TYPE_LONG: return read_int(r, 4, col->is_unsigned, out);
    case TF_TYPE_LONGLONG: return read_int(r, 8, col->is_unsigned, out);
    case TF_TYPE_FLOAT: {
        uint32_t bits;
        st = tf_read_u32le(r, &bits, "4-byte float");
        if (st == TF_OK) {
            out->kind = TF_VAL_FLOAT;
            memcpy(&out->f, &bits, sizeof out->f);
        }
        return st;
    }
    case TF_TYPE_DOUBLE: {
        uint64_t bits;
        st = tf_read_u64le(r, &bits, "8-byte double");
        if (st == TF_OK) {
            out->kind = TF_VAL_DOUBLE;
            memcpy(&out->d, &bits, sizeof out->d);
        }
        return st;
    }
    case TF_TYPE_YEAR: {
        uint8_t y;
        st = tf_read_u8(r, &y, "year");
        if (st == TF_OK) {
            out->kind = TF_VAL_YEAR;
            out->i = y ? 1900 + y : 0;
        }
        return st;
    }
    case TF_TYPE_NEWDECIMAL: {
        unsigned precision = col->meta >> 8, scale = col->meta & 0xff;
        size_t used;
        st = tf_decimal_decode(tf_reader_cursor(r), tf_reader_left(r), precision, scale,
                               out->decimal.text, &used, r->err);
        if (st != TF_OK) {
            /* decimal.c counts from the value's start; say where it is. */
            tf_error_prefix(r->err, "value at offset %zu", tf_reader_offset(r));
            return st;
        }
        out->kind = TF_VAL_DECIMAL;
        out->decimal.precision = (uint8_t)precision;
        out->decimal.scale = (uint8_t)scale;
        r->pos += used;
        return TF_OK;
    }
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE: return tf_temporal_decode_date(r, out);
    case TF_TYPE_DATETIME: return tf_temporal_decode_datetime_old(r, out);
    case TF_TYPE_TIMESTAMP: return tf_temporal_decode_timestamp_old(r, out);
    case TF_TYPE_TIME: return tf_temporal_decode_time_old(r, out);
    case TF_TYPE_DATETIME2: return tf_temporal_decode_datetime2(r, col->meta, out);
    case TF_TYPE_TIMESTAMP2: return tf_temporal_decode_timestamp2(r, col->meta, out);
    case TF_TYPE_TIME2: return tf_temporal_decode_time2(r, col->meta, out);
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING:
        /* A 1-byte length when the column's maximum byte length fits it. */
        return read_prefixed(r, col->meta < 256 ? 1 : 2, string_kind(col), out);
    case TF_TYPE_BLOB:
        /* BLOB/TEXT: charset binary (63) is a BLOB. An unknown charset
         * (minimal metadata) stays bytes: nothing is lost that way. */
        return read_prefixed(r, col->meta,
                             col->charset == 0 || col->charset == TF_CHARSET_BINARY ? TF_VAL_BYTES
                                                                                    : TF_VAL_STRING,
                             out);
    case TF_TYPE_TINY_BLOB:
    case TF_TYPE_MEDIUM_BLOB:
    case TF_TYPE_LONG_BLOB: {
        /* TABLE_MAP writes these as BLOB with a width; accept the explicit
         * codes too, with their fixed widths. */
        unsigned width = col->type == TF_TYPE_TINY_BLOB     ? 1
                         : col->type == TF_TYPE_MEDIUM_BLOB ? 3
                                                            : 4;
        return read_prefixed(r, width,
                             col->charset == 0 || col->charset == TF_CHARSET_BINARY ? TF_VAL_BYTES
                                                                                    : TF_VAL_STRING,
                             out);
    }
    case TF_TYPE_JSON: return read_prefixed(r, col->meta, TF_VAL_JSON, out);
    case TF_TYPE_GEOMETRY: return read_prefixed(r, col->meta, TF_VAL_GEOMETRY, out);
    case TF_TYPE_VECTOR:
        st = read_prefixed(r, col->meta, TF_VAL_VECTOR, out);
        if (st == TF_OK && out->bytes.len % 4 != 0) {
            r->pos -= out->bytes.len + col->meta;
            return tf_reader_bad(r, "vector length %zu is not a multiple of 4 (float32)",
                                 out->bytes.len);
        }
        return st;
    case TF_TYPE_BIT: {
        unsigned bits = (col->meta >> 8) * 8 + (col->meta & 0xff);
        size_t nbytes = (col->meta >> 8) + ((col->meta & 0xff) ? 1 : 0);
        if ((col->meta & 0xff) > 7 || bits == 0 || bits > 64)
            return tf_reader_bad(r, "metadata 0x%04x is not BIT(1..64)", col->meta);
        const uint8_t *p;
        st = tf_read_bytes(r, nbytes, &p, "bits");
        if (st == TF_OK) {
            out->kind = TF_VAL_BIT;
            out->u = tf_be_uint(p, nbytes);
            out->bit_width = (uint16_t)bits;
        }
        return st;
    }
    case TF_TYPE_ENUM:
        if (col->meta != 1 && col->meta != 2)
            return tf_reader_bad(r, "storage size %u in metadata is not 1 or 2", col->meta);
        st = tf_read_uint_le(r, col->meta, &out->u, "enum index");
        if (st == TF_OK)
            out->kind = TF_VAL_ENUM;
        return st;
    case TF_TYPE_SET:
        if (col->meta < 1 || col->meta > 8)
            return tf_reader_bad(r, "storage size %u in metadata is not 1..8", col->meta);
        st = tf_read_uint_le(r, col->meta, &out->u, "set bitmask");
        if (st == TF_OK)
            out->kind = TF_VAL_SET;
        return st;
    case TF_TYPE_NULL: out->kind = TF_VAL_NULL; return TF_OK;
    case TF_TYPE_DECIMAL:
        tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                     "%s: the pre-5.0 DECIMAL type (0) is not supported; ALTER the column to "
                     "DECIMAL to convert it (offset %zu)",
                     r->context, tf_reader_offset(r));
        return TF_MALFORMED;
    case TF_TYPE_TYPED_ARRAY:
        tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                     "%s: TYPED_ARRAY (multi-valued index) does not appear in row images "
                     "(offset %zu)",
                     r->context, tf_reader_offset(r));
        return TF_MALFORMED;
    }
    tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0, "column type %u is unknown (offset %zu)", col->type,
                 tf_reader_offset(r));
    return TF_MALFORMED;
}

_Static_assert(sizeof(((tf_value *)0)->temporal) >= sizeof(((tf_value *)0)->bytes) &&
                   sizeof(((tf_value *)0)->temporal) >= sizeof(((tf_value *)0)->timestamp) &&
                   sizeof(((tf_value *)0)->temporal) >= sizeof(int64_t),
               "tf_value_decode zeroes the union through its temporal member");

tf_status tf_value_decode(const uint8_t *buf, size_t len, const tf_column *col, tf_value *out,
                          size_t *consumed, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, buf, len, 0, value_context(col->type), TF_MALFORMED, err);
    /* The DECIMAL decoder writes its text, NUL included, and its
     * precision and scale; every other kind fills in part of what is
     * cleared. */
    tf_value_clear(out);
    tf_status st = decode(&r, col, out);
    if (st != TF_OK)
        return st;
    if (consumed)
        *consumed = r.pos;
    return TF_OK;
}
