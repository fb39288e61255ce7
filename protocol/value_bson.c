/* value_bson.c — decoded values to BSON (DESIGN.md's type mapping) and to
 * the text SELECT shows (for tools and the differential tests).
 *
 * The mapping is chosen by the column, not by the value, so that one field
 * keeps one BSON type across rows: an INT column is int32 even for 5, a
 * BIGINT int64 even for 5. Where BSON cannot hold the value exactly the
 * choice is documented in protocol.h (section 5) and never rounds. */
#include "value_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static tf_status unsupported(tf_error *err, const tf_column *col, const char *fmt,
                             const char *detail)
{
    char what[TF_ERROR_MESSAGE_MAX];
    snprintf(what, sizeof what, fmt, detail);
    if (col && col->name.len)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "column %.*s (%s): %s",
                            (int)(col->name.len > 64 ? 64 : col->name.len), col->name.ptr,
                            tf_column_type_name(col->type), what);
    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "%s column: %s",
                        col ? tf_column_type_name(col->type) : "unknown", what);
}

static tf_status full(tf_error *err)
{
    return tf_error_set(err, TF_ERR_TARGET, 0, "BSON document would exceed its maximum size");
}

/* Whether the column's whole range fits int32 (so it maps to int32). */
static bool column_fits_int32(const tf_column *col, int64_t i, uint64_t u, bool is_unsigned)
{
    if (!col)
        return is_unsigned ? u <= INT32_MAX : (i >= INT32_MIN && i <= INT32_MAX);
    switch (col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24: return true;
    case TF_TYPE_LONG: return !col->is_unsigned;
    default: return false;
    }
}

/* Latin-1 collation ids (latin1_*: MySQL's latin1 is Windows-1252). */
static bool is_latin1(uint16_t charset)
{
    switch (charset) {
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94: return true;
    default: return false;
    }
}

/* Windows-1252's 0x80..0x9F; MySQL maps the five undefined bytes to the C1
 * controls of the same number. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static char *latin1_to_utf8(const uint8_t *s, size_t len, size_t *out_len)
{
    char *out = bson_malloc(len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = s[i];
        if (cp >= 0x80 && cp < 0xa0)
            cp = cp1252_high[cp - 0x80];
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xc0 | cp >> 6);
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[n++] = (char)(0xe0 | cp >> 12);
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static tf_status append_string(bson_t *doc, const char *key, size_t key_len, const tf_value *v,
                               const tf_column *col, tf_error *err)
{
    const char *s = (const char *)v->bytes.ptr;
    size_t len = v->bytes.len;
    bool ok;
    if (col && is_latin1(col->charset)) {
        size_t ulen;
        char *u = latin1_to_utf8(v->bytes.ptr, len, &ulen);
        ok = bson_append_utf8(doc, key, (int)key_len, u, (int)ulen);
        bson_free(u);
        return ok ? TF_OK : full(err);
    }
    if (!tf_utf8_valid(s, len)) {
        char detail[64];
        snprintf(detail, sizeof detail, "%u", col ? col->charset : 0);
        return unsupported(err, col,
                           "string bytes are not valid UTF-8 (collation id %s); only utf8, "
                           "ascii and latin1 text is converted",
                           detail);
    }
    ok = bson_append_utf8(doc, key, (int)key_len, s, (int)len);
    return ok ? TF_OK : full(err);
}

static tf_status enum_member(const tf_value *v, const tf_column *col, tf_str *out, tf_error *err)
{
    if (v->u == 0) {
        out->ptr = "";
        out->len = 0;
        return TF_OK;
    }
    if (v->u > col->enum_set_count) {
        char detail[64];
        snprintf(detail, sizeof detail, "%llu is above the %u members", (unsigned long long)v->u,
                 col->enum_set_count);
        return unsupported(err, col, "enum index %s", detail);
    }
    *out = col->enum_set_values[v->u - 1];
    return TF_OK;
}

static tf_status check_set_bits(const tf_value *v, const tf_column *col, tf_error *err)
{
    if (col->enum_set_count < 64 && (v->u >> col->enum_set_count) != 0) {
        char detail[80];
        snprintf(detail, sizeof detail, "0x%llx has bits above its %u members",
                 (unsigned long long)v->u, col->enum_set_count);
        return unsupported(err, col, "set bitmask %s", detail);
    }
    return TF_OK;
}

/* BINARY(n) is CHAR(n) with the binary charset: the row image drops its
 * trailing 0x00 pad bytes (MariaDB does; MySQL keeps them) but the value,
 * as SELECT shows it, has all n bytes. Returns the length to present. */
static size_t binary_padded_len(const tf_value *v, const tf_column *col)
{
    if (v->kind == TF_VAL_BYTES && col && col->type == TF_TYPE_STRING &&
        col->charset == TF_CHARSET_BINARY && v->bytes.len < col->meta)
        return col->meta;
    return v->bytes.len;
}

tf_status tf_value_append_bson(bson_t *doc, const char *key, size_t key_len, const tf_value *v,
                               const tf_column *col, tf_error *err)
{
    bool ok = true;
    int k = (int)key_len;
    switch (v->kind) {
    case TF_VAL_ABSENT: return TF_OK;
    case TF_VAL_NULL: ok = bson_append_null(doc, key, k); break;
    case TF_VAL_INT:
        if (column_fits_int32(col, v->i, 0, false) && v->i >= INT32_MIN && v->i <= INT32_MAX)
            ok = bson_append_int32(doc, key, k, (int32_t)v->i);
        else
            ok = bson_append_int64(doc, key, k, v->i);
        break;
    case TF_VAL_UINT:
        if (column_fits_int32(col, 0, v->u, true) && v->u <= INT32_MAX) {
            ok = bson_append_int32(doc, key, k, (int32_t)v->u);
        } else if (v->u <= INT64_MAX) {
            ok = bson_append_int64(doc, key, k, (int64_t)v->u);
        } else {
            char text[24];
            bson_decimal128_t dec;
            snprintf(text, sizeof text, "%llu", (unsigned long long)v->u);
            bson_decimal128_from_string(text, &dec);
            ok = bson_append_decimal128(doc, key, k, &dec);
        }
        break;
    case TF_VAL_FLOAT: ok = bson_append_double(doc, key, k, (double)v->f); break;
    case TF_VAL_DOUBLE: ok = bson_append_double(doc, key, k, v->d); break;
    case TF_VAL_DECIMAL:
        ok = tf_decimal_text_append_bson(doc, key, key_len, v->decimal.text);
        break;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME: {
        int64_t ms;
        if (tf_temporal_to_unix_ms(&v->temporal, &ms))
            ok = bson_append_date_time(doc, key, k, ms);
        else
            ok = bson_append_null(doc, key, k);
        break;
    }
    case TF_VAL_TIMESTAMP:
        /* Seconds 0 is TIMESTAMP's zero value '0000-00-00 00:00:00' (the
         * epoch itself cannot be stored: the range starts at 00:00:01). */
        if (v->timestamp.seconds == 0 && v->timestamp.microsecond == 0)
            ok = bson_append_null(doc, key, k);
        else
            ok = bson_append_date_time(
                doc, key, k, v->timestamp.seconds * 1000 + v->timestamp.microsecond / 1000);
        break;
    case TF_VAL_TIME: {
        char text[40];
        size_t n = tf_temporal_format(&v->temporal, TF_VAL_TIME, text, sizeof text);
        ok = bson_append_utf8(doc, key, k, text, (int)n);
        break;
    }
    case TF_VAL_YEAR: ok = bson_append_int32(doc, key, k, (int32_t)v->i); break;
    case TF_VAL_STRING: return append_string(doc, key, key_len, v, col, err);
    case TF_VAL_BYTES:
    case TF_VAL_GEOMETRY: {
        uint8_t *padded = NULL;
        size_t n = binary_padded_len(v, col);
        const uint8_t *p = v->bytes.ptr;
        if (n != v->bytes.len) {
            padded = bson_malloc0(n);
            memcpy(padded, v->bytes.ptr, v->bytes.len);
            p = padded;
        }
        ok = bson_append_binary(doc, key, k, BSON_SUBTYPE_BINARY, p, (uint32_t)n);
        bson_free(padded);
        break;
    }
    case TF_VAL_BIT: ok = bson_append_int64(doc, key, k, (int64_t)v->u); break;
    case TF_VAL_ENUM: {
        if (!col || col->enum_set_count == 0 || !col->enum_set_values) {
            ok = bson_append_int32(doc, key, k, (int32_t)v->u);
            break;
        }
        tf_str member = {0}; /* set when found; -O3 cannot see it */
        tf_status st = enum_member(v, col, &member, err);
        if (st != TF_OK)
            return st;
        tf_value as_string = {.kind = TF_VAL_STRING};
        as_string.bytes.ptr = (const uint8_t *)member.ptr;
        as_string.bytes.len = member.len;
        return append_string(doc, key, key_len, &as_string, col, err);
    }
    case TF_VAL_SET: {
        if (!col || col->enum_set_count == 0 || !col->enum_set_values) {
            ok = bson_append_int64(doc, key, k, (int64_t)v->u);
            break;
        }
        tf_status st = check_set_bits(v, col, err);
        if (st != TF_OK)
            return st;
        bson_t array;
        ok = bson_append_array_begin(doc, key, k, &array);
        uint32_t index = 0;
        for (uint32_t bit = 0; bit < 64 && bit < col->enum_set_count && ok; bit++) {
            if (!(v->u >> bit & 1))
                continue;
            char buf[16];
            const char *ikey;
            size_t ilen = bson_uint32_to_string(index++, &ikey, buf, sizeof buf);
            tf_value member = {.kind = TF_VAL_STRING};
            member.bytes.ptr = (const uint8_t *)col->enum_set_values[bit].ptr;
            member.bytes.len = col->enum_set_values[bit].len;
            st = append_string(&array, ikey, ilen, &member, col, err);
            if (st != TF_OK) {
                bson_append_array_end(doc, &array);
                return st;
            }
        }
        ok = bson_append_array_end(doc, &array) && ok;
        break;
    }
    case TF_VAL_JSON: {
        tf_status st =
            tf_json_binary_append_bson(doc, key, key_len, v->bytes.ptr, v->bytes.len, err);
        if (st != TF_OK && col && col->name.len)
            tf_error_prefix(err, "column %.*s", (int)(col->name.len > 64 ? 64 : col->name.len),
                            col->name.ptr);
        return st;
    }
    case TF_VAL_VECTOR: {
        bson_t array;
        ok = bson_append_array_begin(doc, key, k, &array);
        for (size_t i = 0; i + 4 <= v->bytes.len && ok; i += 4) {
            uint32_t bits = (uint32_t)tf_le_uint(v->bytes.ptr + i, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            char buf[16];
            const char *ikey;
            size_t ilen = bson_uint32_to_string((uint32_t)(i / 4), &ikey, buf, sizeof buf);
            ok = bson_append_double(&array, ikey, (int)ilen, (double)f);
        }
        ok = bson_append_array_end(doc, &array) && ok;
        break;
    }
    case TF_VAL_JSON_DIFF:
        return unsupported(err, col, "%s",
                           "a partial JSON update (diff list) has no value of its own; apply it "
                           "to the before image with tf_json_diff_apply_bson");
    default:
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "value kind %d is unknown", (int)v->kind);
    }
    return ok ? TF_OK : full(err);
}

/* ---------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */

/* Shortest %g text that reads back as the same value. */
static void shortest_double(char *out, size_t cap, double d, int max_digits, bool is_float)
{
    if (isnan(d) || isinf(d)) {
        snprintf(out, cap, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    for (int digits = 1; digits <= max_digits; digits++) {
        snprintf(out, cap, "%.*g", digits, d);
        double back = strtod(out, NULL);
        if (is_float ? (float)back == (float)d : back == d)
            return;
    }
}

char *tf_value_to_text(const tf_value *v, const tf_column *col, size_t *len_out, tf_error *err)
{
    char small[TF_DECIMAL_TEXT_MAX + 8];
    bson_string_t *s;
    *len_out = 0;
    switch (v->kind) {
    case TF_VAL_NULL:
    case TF_VAL_ABSENT: return NULL;
    case TF_VAL_INT: snprintf(small, sizeof small, "%lld", (long long)v->i); break;
    case TF_VAL_UINT:
    case TF_VAL_BIT:
        if (v->kind == TF_VAL_BIT) {
            /* SELECT shows BIT as its raw big-endian bytes. */
            size_t n = (v->bit_width + 7u) / 8u;
            char *out = bson_malloc(n + 1);
            for (size_t i = 0; i < n; i++)
                out[i] = (char)(v->u >> (8 * (n - 1 - i)));
            out[n] = '\0';
            *len_out = n;
            return out;
        }
        snprintf(small, sizeof small, "%llu", (unsigned long long)v->u);
        break;
    case TF_VAL_FLOAT: shortest_double(small, sizeof small, v->f, 9, true); break;
    case TF_VAL_DOUBLE: shortest_double(small, sizeof small, v->d, 17, false); break;
    case TF_VAL_DECIMAL: snprintf(small, sizeof small, "%s", v->decimal.text); break;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
    case TF_VAL_TIME: tf_temporal_format(&v->temporal, v->kind, small, sizeof small); break;
    case TF_VAL_TIMESTAMP: {
        tf_temporal t;
        if (v->timestamp.seconds == 0 && v->timestamp.microsecond == 0)
            memset(&t, 0, sizeof t);
        else
            tf_timestamp_to_temporal(v->timestamp.seconds, v->timestamp.microsecond,
                                     v->timestamp.fsp, &t);
        t.fsp = v->timestamp.fsp;
        tf_temporal_format(&t, TF_VAL_DATETIME, small, sizeof small);
        break;
    }
    case TF_VAL_YEAR: snprintf(small, sizeof small, "%04lld", (long long)v->i); break;
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_GEOMETRY: {
        size_t n = binary_padded_len(v, col);
        char *out = bson_malloc0(n + 1);
        if (v->bytes.len)
            memcpy(out, v->bytes.ptr, v->bytes.len);
        *len_out = n;
        return out;
    }
    case TF_VAL_ENUM: {
        if (!col || col->enum_set_count == 0 || !col->enum_set_values) {
            snprintf(small, sizeof small, "%llu", (unsigned long long)v->u);
            break;
        }
        tf_str member = {0}; /* set when found; -O3 cannot see it */
        if (enum_member(v, col, &member, err) != TF_OK)
            return NULL;
        char *out = bson_malloc(member.len + 1);
        memcpy(out, member.ptr, member.len);
        out[member.len] = '\0';
        *len_out = member.len;
        return out;
    }
    case TF_VAL_SET: {
        if (!col || col->enum_set_count == 0 || !col->enum_set_values) {
            snprintf(small, sizeof small, "%llu", (unsigned long long)v->u);
            break;
        }
        if (check_set_bits(v, col, err) != TF_OK)
            return NULL;
        s = bson_string_new("");
        bool first = true;
        for (uint32_t bit = 0; bit < 64 && bit < col->enum_set_count; bit++) {
            if (!(v->u >> bit & 1))
                continue;
            if (!first)
                bson_string_append_c(s, ',');
            first = false;
            /* Member names hold no NUL; copy via a bounded append. */
            char *name = tf_strndup(col->enum_set_values[bit].ptr, col->enum_set_values[bit].len);
            bson_string_append(s, name);
            bson_free(name);
        }
        *len_out = s->len;
        return bson_string_free(s, false);
    }
    case TF_VAL_JSON: {
        char *out = tf_json_binary_to_text(v->bytes.ptr, v->bytes.len, err);
        if (out)
            *len_out = strlen(out);
        return out;
    }
    case TF_VAL_VECTOR: {
        s = bson_string_new("[");
        for (size_t i = 0; i + 4 <= v->bytes.len; i += 4) {
            uint32_t bits = (uint32_t)tf_le_uint(v->bytes.ptr + i, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            shortest_double(small, sizeof small, f, 9, true);
            if (i)
                bson_string_append_c(s, ',');
            bson_string_append(s, small);
        }
        bson_string_append_c(s, ']');
        *len_out = s->len;
        return bson_string_free(s, false);
    }
    case TF_VAL_JSON_DIFF:
    default:
        unsupported(err, col, "%s", "a partial JSON update (diff list) has no text of its own");
        return NULL;
    }
    *len_out = strlen(small);
    return bson_strdup(small);
}
