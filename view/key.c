/* key.c — join and primary keys as comparable bytes.
 *
 * The state indexes rows by their relation columns and orders array
 * lookups by primary key. Both need one byte string per key: equal values
 * give equal bytes (so a hash lookup finds every match) and, for the types
 * primary keys use, memcmp order is the source's order (so sorting keys
 * sorts rows). Each value starts with a family tag, so values of different
 * families never collide. */
#include "view_internal.h"

#include <string.h>

uint8_t *view_buf_reserve(view_buf *b, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + len)
            cap *= 2;
        b->ptr = bson_realloc(b->ptr, cap);
        b->cap = cap;
    }
    return b->ptr + b->len;
}

void view_buf_append(view_buf *b, const void *data, size_t len)
{
    if (len)
        memcpy(view_buf_reserve(b, len), data, len);
    b->len += len;
}

void view_buf_put_varint(view_buf *b, uint64_t v)
{
    uint8_t out[VIEW_VARINT_MAX];
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    view_buf_append(b, out, n);
}

void view_buf_cleanup(view_buf *b)
{
    bson_free(b->ptr);
    memset(b, 0, sizeof *b);
}

enum {
    TAG_INTEGER = 0x20,
    TAG_FLOAT = 0x30,
    TAG_DECIMAL = 0x40,
    TAG_BYTES = 0x50,
    TAG_TEMPORAL = 0x60,
    TAG_TIMESTAMP = 0x61,
    TAG_TIME = 0x62,
};

static void put_u64_be(view_buf *b, uint64_t v)
{
    uint8_t out[8];
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
    view_buf_append(b, out, 8);
}

/* Integers: sign byte (0 negative, 1 not), then 8 big-endian bytes: two's
 * complement orders the negatives among themselves, magnitude the rest. */
static void put_integer(view_buf *b, bool negative, uint64_t bits)
{
    uint8_t head[2] = {TAG_INTEGER, negative ? 0 : 1};
    view_buf_append(b, head, 2);
    put_u64_be(b, bits);
}

/* Bytes with 0x00 escaped as 00 FF and a 00 00 terminator: no encoding is a
 * prefix of another, and memcmp order is bytewise order. */
static void put_bytes(view_buf *b, const uint8_t *p, size_t len)
{
    uint8_t tag = TAG_BYTES;
    view_buf_append(b, &tag, 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0) {
            view_buf_append(b, p + run, i - run);
            static const uint8_t escaped[2] = {0x00, 0xFF};
            view_buf_append(b, escaped, 2);
            run = i + 1;
        }
    }
    view_buf_append(b, p + run, len - run);
    static const uint8_t end[2] = {0x00, 0x00};
    view_buf_append(b, end, 2);
}

/* DECIMAL: the same number written with another scale ("1.50" in a
 * DECIMAL(5,2), "1.5" in a DECIMAL(5,1)) must join, so trailing fraction
 * zeros and a bare point go, and negative zero is zero. (Order by DECIMAL
 * primary keys is textual: noted in view.h.) */
static void put_decimal(view_buf *b, const char *text)
{
    size_t len = strlen(text);
    if (strchr(text, '.')) {
        while (len > 0 && text[len - 1] == '0')
            len--;
        if (len > 0 && text[len - 1] == '.')
            len--;
    }
    uint8_t tag = TAG_DECIMAL;
    view_buf_append(b, &tag, 1);
    if (len == 2 && text[0] == '-' && text[1] == '0') {
        text++;
        len = 1;
    }
    view_buf_append(b, text, len);
    uint8_t end = 0;
    view_buf_append(b, &end, 1);
}

static void put_temporal(view_buf *b, const tf_temporal *t)
{
    uint8_t tag = TAG_TEMPORAL;
    view_buf_append(b, &tag, 1);
    uint8_t out[14];
    uint32_t year = (uint32_t)t->year + 0x80000000u;
    out[0] = (uint8_t)(year >> 24);
    out[1] = (uint8_t)(year >> 16);
    out[2] = (uint8_t)(year >> 8);
    out[3] = (uint8_t)year;
    out[4] = t->month;
    out[5] = t->day;
    out[6] = (uint8_t)(t->hour >> 8);
    out[7] = (uint8_t)t->hour;
    out[8] = t->minute;
    out[9] = t->second;
    out[10] = (uint8_t)(t->microsecond >> 24);
    out[11] = (uint8_t)(t->microsecond >> 16);
    out[12] = (uint8_t)(t->microsecond >> 8);
    out[13] = (uint8_t)t->microsecond;
    view_buf_append(b, out, sizeof out);
}

bool view_key_append_value(view_buf *b, const tf_value *v)
{
    switch (v->kind) {
    case TF_VAL_NULL:
    case TF_VAL_ABSENT:
    case TF_VAL_JSON_DIFF: return false;
    case TF_VAL_INT:
    case TF_VAL_YEAR: put_integer(b, v->i < 0, (uint64_t)v->i); return true;
    case TF_VAL_UINT:
    case TF_VAL_BIT:
    case TF_VAL_ENUM:
    case TF_VAL_SET: put_integer(b, false, v->u); return true;
    case TF_VAL_FLOAT:
    case TF_VAL_DOUBLE: {
        double d = v->kind == TF_VAL_FLOAT ? (double)v->f : v->d;
        if (d == 0)
            d = 0; /* -0.0 joins 0.0 */
        uint64_t bits;
        memcpy(&bits, &d, 8);
        /* IEEE order trick: flip every bit of negatives, the sign of the
         * rest. */
        bits = (bits >> 63) ? ~bits : bits | 0x8000000000000000ull;
        uint8_t tag = TAG_FLOAT;
        view_buf_append(b, &tag, 1);
        put_u64_be(b, bits);
        return true;
    }
    case TF_VAL_DECIMAL: put_decimal(b, v->decimal.text); return true;
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_JSON:
    case TF_VAL_GEOMETRY:
    case TF_VAL_VECTOR: put_bytes(b, v->bytes.ptr, v->bytes.len); return true;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME: put_temporal(b, &v->temporal); return true;
    case TF_VAL_TIMESTAMP: {
        uint8_t tag = TAG_TIMESTAMP;
        view_buf_append(b, &tag, 1);
        put_u64_be(b, (uint64_t)v->timestamp.seconds ^ 0x8000000000000000ull);
        put_u64_be(b, v->timestamp.microsecond);
        return true;
    }
    case TF_VAL_TIME: {
        int64_t us =
            ((int64_t)v->temporal.hour * 3600 + v->temporal.minute * 60 + v->temporal.second) *
                1000000 +
            v->temporal.microsecond;
        if (v->temporal.negative)
            us = -us;
        uint8_t tag = TAG_TIME;
        view_buf_append(b, &tag, 1);
        put_u64_be(b, (uint64_t)us ^ 0x8000000000000000ull);
        return true;
    }
    }
    return false;
}

view_key_family view_key_family_of(const tf_column *col)
{
    switch (col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_LONG:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_INT24:
    case TF_TYPE_YEAR:
    case TF_TYPE_BIT: return VIEW_KEY_INTEGER;
    case TF_TYPE_FLOAT:
    case TF_TYPE_DOUBLE: return VIEW_KEY_FLOAT;
    case TF_TYPE_DECIMAL:
    case TF_TYPE_NEWDECIMAL: return VIEW_KEY_DECIMAL;
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING:
    case TF_TYPE_TINY_BLOB:
    case TF_TYPE_MEDIUM_BLOB:
    case TF_TYPE_LONG_BLOB:
    case TF_TYPE_BLOB: return VIEW_KEY_STRING;
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE:
    case TF_TYPE_DATETIME:
    case TF_TYPE_DATETIME2: return VIEW_KEY_TEMPORAL;
    case TF_TYPE_TIMESTAMP:
    case TF_TYPE_TIMESTAMP2: return VIEW_KEY_TIMESTAMP;
    case TF_TYPE_TIME:
    case TF_TYPE_TIME2: return VIEW_KEY_TIME;
    default: return VIEW_KEY_OTHER;
    }
}
