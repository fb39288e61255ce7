/* value_internal.h — what the files of section 5 (value.c, decimal.c,
 * temporal.c, json_binary.c, value_bson.c) share with each other, and the
 * inline fast path of tf_value_decode that rows.c's row loop calls. */
#ifndef TAPFLOW_VALUE_INTERNAL_H
#define TAPFLOW_VALUE_INTERNAL_H

#include "reader_internal.h"

/* Row-image decoders of the temporal column types. The reader's context
 * names the column type; each sets out->kind and its fields, in a value
 * the caller has cleared with tf_value_clear (tf_value_decode does). */
tf_status tf_temporal_decode_date(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_datetime_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_timestamp_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_time_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_datetime2(tf_reader *r, unsigned fsp, tf_value *out);
tf_status tf_temporal_decode_timestamp2(tf_reader *r, unsigned fsp, tf_value *out);
tf_status tf_temporal_decode_time2(tf_reader *r, unsigned fsp, tf_value *out);

/* Validation only, for row images whose values nobody keeps (tf_rows_next
 * with NULL images): whether tf_value_decode would accept the DATETIME2 /
 * TIMESTAMP2 value of fsp fractional digits at p (left bytes), and its
 * size. False means "decode it to find out", never "accept". */
bool tf_temporal_check_datetime2(const uint8_t *p, size_t left, unsigned fsp, size_t *used);
bool tf_temporal_check_timestamp2(const uint8_t *p, size_t left, unsigned fsp, size_t *used);

/* MySQL's in-memory "packed" temporal integers (my_time.h), used by binary
 * JSON's opaque DATE/DATETIME/TIMESTAMP (datetime packing) and TIME (time
 * packing). Return false when a field is out of its range. */
bool tf_temporal_from_packed_datetime(int64_t packed, tf_temporal *out);
bool tf_temporal_from_packed_time(int64_t packed, tf_temporal *out);

/* Validation only, as above: whether tf_decimal_decode would accept the
 * DECIMAL(precision, scale) at p, and its size, without writing its text. */
bool tf_decimal_check(const uint8_t *p, size_t left, unsigned precision, unsigned scale,
                      size_t *used);

/* Appends a DECIMAL's exact text as Decimal128, or as a string when it needs
 * more than 34 significant digits (the documented choice). */
bool tf_decimal_text_append_bson(bson_t *doc, const char *key, size_t key_len, const char *text);

/* What tf_value_decode sets before decoding: the kind, the union's first
 * bytes (what every kind but DECIMAL fills in part) and bit_width. A
 * memset of the whole 112 bytes was half of that function's time. */
static inline void tf_value_clear(tf_value *out)
{
    out->kind = TF_VAL_NULL;
    memset(&out->temporal, 0, sizeof out->temporal);
    out->bit_width = 0;
}

/* The values most row images are made of (integers, FLOAT, DOUBLE, YEAR,
 * ENUM, CHAR/VARCHAR), decoded without a reader or a call: returns true
 * with *used set when col is of one of these types and its value fits in
 * the `left` bytes at p, the value set exactly as tf_value_decode sets it.
 * Returns false for every other type and for every value that does not
 * fit or whose metadata is wrong: tf_value_decode decodes those, and
 * writes the error messages. (The call, the reader and the dispatch per
 * value were a third of tapflow-binlog --verify-only.) */
static inline bool tf_value_decode_fast(const uint8_t *p, size_t left, const tf_column *col,
                                        tf_value *out, size_t *used)
{
    size_t width;
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY: width = 1; break;
    case TF_TYPE_SHORT: width = 2; break;
    case TF_TYPE_INT24: width = 3; break;
    case TF_TYPE_LONG: width = 4; break;
    case TF_TYPE_LONGLONG: width = 8; break;
    case TF_TYPE_FLOAT: {
        if (left < 4)
            return false;
        uint32_t bits = (uint32_t)tf_le_uint(p, 4);
        tf_value_clear(out);
        out->kind = TF_VAL_FLOAT;
        memcpy(&out->f, &bits, sizeof out->f);
        *used = 4;
        return true;
    }
    case TF_TYPE_DOUBLE: {
        if (left < 8)
            return false;
        uint64_t bits = tf_le_uint(p, 8);
        tf_value_clear(out);
        out->kind = TF_VAL_DOUBLE;
        memcpy(&out->d, &bits, sizeof out->d);
        *used = 8;
        return true;
    }
    case TF_TYPE_YEAR:
        if (left < 1)
            return false;
        tf_value_clear(out);
        out->kind = TF_VAL_YEAR;
        out->i = p[0] ? 1900 + p[0] : 0;
        *used = 1;
        return true;
    case TF_TYPE_ENUM:
        if ((col->meta != 1 && col->meta != 2) || left < col->meta)
            return false;
        tf_value_clear(out);
        out->kind = TF_VAL_ENUM;
        out->u = tf_le_uint(p, col->meta);
        *used = col->meta;
        return true;
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING: {
        /* A 1-byte length when the column's maximum byte length fits it. */
        size_t prefix = col->meta < 256 ? 1 : 2;
        if (left < prefix)
            return false;
        size_t n = (size_t)tf_le_uint(p, prefix);
        if (n > left - prefix)
            return false;
        tf_value_clear(out);
        out->kind = col->charset == TF_CHARSET_BINARY ? TF_VAL_BYTES : TF_VAL_STRING;
        out->bytes.ptr = p + prefix;
        out->bytes.len = n;
        *used = prefix + n;
        return true;
    }
    default: return false;
    }
    if (left < width)
        return false;
    uint64_t u = tf_le_uint(p, width);
    tf_value_clear(out);
    if (col->is_unsigned) {
        out->kind = TF_VAL_UINT;
        out->u = u;
    } else {
        out->kind = TF_VAL_INT;
        unsigned shift = (unsigned)(64 - 8 * width); /* sign-extend */
        out->i = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
    }
    *used = width;
    return true;
}

/* The row loop's path when nobody keeps the values (tf_rows_next with a
 * NULL image: tapflow-binlog --verify-only and --summary): returns true
 * with *used set when the value of col at p is one tf_value_decode accepts
 * (the same checks: lengths, metadata, DECIMAL digit groups, calendar
 * fields, fractions), decoding nothing. Returns false for types it does
 * not know and for every value it does not accept: the caller then runs
 * tf_value_decode on it, which decodes it or writes the error message, so
 * the messages stay that function's. (Writing DECIMAL text and 112-byte
 * values nobody reads was half of --verify-only.) */
static inline bool tf_value_check_fast(const uint8_t *p, size_t left, const tf_column *col,
                                       size_t *used)
{
    size_t n, prefix;
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_YEAR: n = 1; break;
    case TF_TYPE_SHORT: n = 2; break;
    case TF_TYPE_INT24: n = 3; break;
    case TF_TYPE_LONG:
    case TF_TYPE_FLOAT: n = 4; break;
    case TF_TYPE_LONGLONG:
    case TF_TYPE_DOUBLE: n = 8; break;
    case TF_TYPE_ENUM:
        if (col->meta != 1 && col->meta != 2)
            return false;
        n = col->meta;
        break;
    case TF_TYPE_SET:
        if (col->meta < 1 || col->meta > 8)
            return false;
        n = col->meta;
        break;
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING: prefix = col->meta < 256 ? 1 : 2; goto prefixed;
    case TF_TYPE_BLOB:
    case TF_TYPE_JSON:
    case TF_TYPE_GEOMETRY:
        prefix = col->meta;
        if (prefix < 1 || prefix > 4)
            return false;
        goto prefixed;
    case TF_TYPE_TINY_BLOB: prefix = 1; goto prefixed;
    case TF_TYPE_MEDIUM_BLOB: prefix = 3; goto prefixed;
    case TF_TYPE_LONG_BLOB: prefix = 4; goto prefixed;
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE: {
        if (left < 3)
            return false;
        uint32_t v = (uint32_t)tf_le_uint(p, 3);
        /* The day's 5 bits cannot exceed 31. */
        if ((v >> 9) > 9999 || ((v >> 5) & 15) > 12)
            return false;
        n = 3;
        break;
    }
    case TF_TYPE_DATETIME2: return tf_temporal_check_datetime2(p, left, col->meta, used);
    case TF_TYPE_TIMESTAMP2: return tf_temporal_check_timestamp2(p, left, col->meta, used);
    case TF_TYPE_NEWDECIMAL:
        return tf_decimal_check(p, left, col->meta >> 8, col->meta & 0xff, used);
    default: return false;
    }
    if (left < n)
        return false;
    *used = n;
    return true;
prefixed:
    if (left < prefix)
        return false;
    n = (size_t)tf_le_uint(p, prefix);
    if (n > left - prefix)
        return false;
    *used = prefix + n;
    return true;
}

#endif /* TAPFLOW_VALUE_INTERNAL_H */
