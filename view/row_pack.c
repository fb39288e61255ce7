/* row_pack.c — a held row's values in few bytes, and back to BSON.
 *
 * The state keeps every source row of the flow; as BSON a row spends most
 * of its bytes on column names (each row repeats them), length prefixes,
 * terminators and fixed-width numbers. The packed form keeps the values
 * only, in column order, each as a tag byte and a short body:
 *
 *   NULL                 tag
 *   string               tag, varint length, bytes
 *   hex string           tag, varint byte count, the bytes the digits spell
 *                        (32-digit ids take 16 bytes; lower and upper case
 *                        have their own tags so the text comes back exact)
 *   int32, int64, date   tag, zigzag varint (a date in ms since the epoch)
 *   double               tag, 8 bytes
 *   decimal128           tag, top 16 bits of the high word, varint low word
 *                        when the rest of the high word is zero (every
 *                        DECIMAL up to 19 digits), else tag and 16 bytes
 *   anything else        tag, BSON type, varint length, the value's bytes
 *
 * Unpacking writes the BSON elements the row's document had, names from
 * the table's columns, byte for byte: pack is a function of the document
 * and unpack its inverse, so equal packed bytes mean equal documents. */
#include "view_internal.h"

#include <string.h>

enum {
    PACK_NULL,
    PACK_UTF8,
    PACK_HEX_LOWER,
    PACK_HEX_UPPER,
    PACK_INT32,
    PACK_INT64,
    PACK_DATE_TIME,
    PACK_DOUBLE,
    PACK_DECIMAL_SMALL,
    PACK_DECIMAL,
    PACK_OTHER,
};

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t read_u64(const uint8_t *p)
{
    return (uint64_t)read_u32(p) | (uint64_t)read_u32(p + 4) << 32;
}

/* Reads a varint at *pos (< len); false when it runs past len or over 64
 * bits. */
static bool get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t byte = p[(*pos)++];
        if (shift == 63 && byte > 1)
            return false;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static int hex_digit(uint8_t c, bool upper)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (!upper && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (upper && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The hex tag s (of even length) fits, or PACK_UTF8. Digits only count
 * as lower case: "1234" comes back as written either way. */
static int hex_kind(const uint8_t *s, size_t len)
{
    if (len < 2 || len % 2)
        return PACK_UTF8;
    bool lower = true, upper = true;
    for (size_t i = 0; i < len && (lower || upper); i++) {
        lower = lower && hex_digit(s[i], false) >= 0;
        upper = upper && hex_digit(s[i], true) >= 0;
    }
    return lower ? PACK_HEX_LOWER : upper ? PACK_HEX_UPPER : PACK_UTF8;
}

static void pack_string(view_buf *out, const uint8_t *s, size_t len)
{
    int kind = hex_kind(s, len);
    uint8_t tag = (uint8_t)kind;
    view_buf_append(out, &tag, 1);
    if (kind == PACK_UTF8) {
        view_buf_put_varint(out, len);
        view_buf_append(out, s, len);
        return;
    }
    bool upper = kind == PACK_HEX_UPPER;
    view_buf_put_varint(out, len / 2);
    uint8_t chunk[64];
    size_t n = 0;
    for (size_t i = 0; i < len; i += 2) {
        chunk[n++] = (uint8_t)(hex_digit(s[i], upper) << 4 | hex_digit(s[i + 1], upper));
        if (n == sizeof chunk) {
            view_buf_append(out, chunk, n);
            n = 0;
        }
    }
    view_buf_append(out, chunk, n);
}

static void pack_value(view_buf *out, const view_raw_element *e)
{
    uint8_t tag;
    switch (e->type) {
    case BSON_TYPE_NULL:
        tag = PACK_NULL;
        view_buf_append(out, &tag, 1);
        return;
    case BSON_TYPE_UTF8: {
        /* value: int32 length with its NUL, bytes, NUL */
        size_t len = read_u32(e->value);
        if (len >= 1 && 4 + len == e->value_len && e->value[e->value_len - 1] == 0) {
            pack_string(out, e->value + 4, len - 1);
            return;
        }
        break; /* not as libbson writes it: keep it whole */
    }
    case BSON_TYPE_INT32:
        tag = PACK_INT32;
        view_buf_append(out, &tag, 1);
        view_buf_put_varint(out, view_zigzag((int32_t)read_u32(e->value)));
        return;
    case BSON_TYPE_INT64:
    case BSON_TYPE_DATE_TIME:
        tag = e->type == BSON_TYPE_INT64 ? PACK_INT64 : PACK_DATE_TIME;
        view_buf_append(out, &tag, 1);
        view_buf_put_varint(out, view_zigzag((int64_t)read_u64(e->value)));
        return;
    case BSON_TYPE_DOUBLE:
        tag = PACK_DOUBLE;
        view_buf_append(out, &tag, 1);
        view_buf_append(out, e->value, 8);
        return;
    case BSON_TYPE_DECIMAL128: {
        uint64_t low = read_u64(e->value), high = read_u64(e->value + 8);
        if ((high & 0xFFFFFFFFFFFFull) == 0) {
            uint8_t head[3] = {PACK_DECIMAL_SMALL, (uint8_t)(high >> 48), (uint8_t)(high >> 56)};
            view_buf_append(out, head, 3);
            view_buf_put_varint(out, low);
        } else {
            tag = PACK_DECIMAL;
            view_buf_append(out, &tag, 1);
            view_buf_append(out, e->value, 16);
        }
        return;
    }
    default: break;
    }
    uint8_t head[2] = {PACK_OTHER, e->type};
    view_buf_append(out, head, 2);
    view_buf_put_varint(out, e->value_len);
    view_buf_append(out, e->value, e->value_len);
}

bool view_pack_doc(view_buf *out, const uint8_t *doc, size_t doc_len, size_t column_count)
{
    size_t pos = 0, at = out->len, n = 0;
    view_raw_element e;
    while (view_raw_next(doc, doc_len, &pos, &e)) {
        pack_value(out, &e);
        n++;
    }
    /* pos stays 0 for a document with no element. */
    if (n != column_count || (n > 0 && pos != doc_len - 1) || doc_len < 5) {
        out->len = at;
        return false;
    }
    return true;
}

/* One packed value: its tag and where its body is. */
typedef struct packed_value {
    uint8_t tag;
    uint8_t bson_type; /* PACK_OTHER */
    uint64_t number;   /* varint body; string/other: the length */
    const uint8_t *body;
    size_t body_len;
} packed_value;

/* Reads the value at *pos; false on bytes that are not a packed value. */
static bool next_value(const uint8_t *p, size_t len, size_t *pos, packed_value *v)
{
    if (*pos >= len)
        return false;
    v->tag = p[(*pos)++];
    v->body_len = 0;
    switch (v->tag) {
    case PACK_NULL: return true;
    case PACK_INT32:
    case PACK_INT64:
    case PACK_DATE_TIME: return get_varint(p, len, pos, &v->number);
    case PACK_DOUBLE: v->body_len = 8; break;
    case PACK_DECIMAL: v->body_len = 16; break;
    case PACK_DECIMAL_SMALL:
        if (len - *pos < 2)
            return false;
        v->body = p + *pos;
        *pos += 2;
        return get_varint(p, len, pos, &v->number);
    case PACK_OTHER:
        if (*pos >= len)
            return false;
        v->bson_type = p[(*pos)++];
        /* fallthrough */
    case PACK_UTF8:
    case PACK_HEX_LOWER:
    case PACK_HEX_UPPER:
        if (!get_varint(p, len, pos, &v->number) || v->number > INT32_MAX / 2)
            return false;
        v->body_len = (size_t)v->number;
        break;
    default: return false;
    }
    if (len - *pos < v->body_len)
        return false;
    v->body = p + *pos;
    *pos += v->body_len;
    return true;
}

static const char hex_lower[] = "0123456789abcdef", hex_upper[] = "0123456789ABCDEF";

static uint8_t *write_u32(uint8_t *d, uint32_t v)
{
    d[0] = (uint8_t)v;
    d[1] = (uint8_t)(v >> 8);
    d[2] = (uint8_t)(v >> 16);
    d[3] = (uint8_t)(v >> 24);
    return d + 4;
}

static uint8_t *write_u64(uint8_t *d, uint64_t v)
{
    return write_u32(write_u32(d, (uint32_t)v), (uint32_t)(v >> 32));
}

static uint8_t *write_key(uint8_t *d, uint8_t type, const char *key, size_t key_len)
{
    *d++ = type;
    memcpy(d, key, key_len);
    d += key_len;
    *d++ = 0;
    return d;
}

/* Most bytes the element of v can take besides its key. */
static size_t element_bound(const packed_value *v) { return 2 + 5 + 2 * v->body_len + 16; }

/* Writes the element (type, key, value) of v as BSON at d, which has
 * room for key_len + element_bound(v) bytes; returns its end. */
static uint8_t *put_element(uint8_t *d, const packed_value *v, const char *key, size_t key_len)
{
    switch (v->tag) {
    case PACK_NULL: return write_key(d, BSON_TYPE_NULL, key, key_len);
    case PACK_UTF8:
        d = write_key(d, BSON_TYPE_UTF8, key, key_len);
        d = write_u32(d, (uint32_t)v->body_len + 1);
        memcpy(d, v->body, v->body_len);
        d += v->body_len;
        *d++ = 0;
        return d;
    case PACK_HEX_LOWER:
    case PACK_HEX_UPPER: {
        d = write_key(d, BSON_TYPE_UTF8, key, key_len);
        d = write_u32(d, (uint32_t)v->body_len * 2 + 1);
        const char *digits = v->tag == PACK_HEX_LOWER ? hex_lower : hex_upper;
        for (size_t i = 0; i < v->body_len; i++) {
            *d++ = (uint8_t)digits[v->body[i] >> 4];
            *d++ = (uint8_t)digits[v->body[i] & 15];
        }
        *d++ = 0;
        return d;
    }
    case PACK_INT32:
        d = write_key(d, BSON_TYPE_INT32, key, key_len);
        return write_u32(d, (uint32_t)view_unzigzag(v->number));
    case PACK_INT64:
    case PACK_DATE_TIME:
        d = write_key(d, v->tag == PACK_INT64 ? BSON_TYPE_INT64 : BSON_TYPE_DATE_TIME, key,
                      key_len);
        return write_u64(d, (uint64_t)view_unzigzag(v->number));
    case PACK_DOUBLE:
        d = write_key(d, BSON_TYPE_DOUBLE, key, key_len);
        memcpy(d, v->body, 8);
        return d + 8;
    case PACK_DECIMAL_SMALL:
        d = write_key(d, BSON_TYPE_DECIMAL128, key, key_len);
        d = write_u64(d, v->number);
        return write_u64(d, (uint64_t)v->body[0] << 48 | (uint64_t)v->body[1] << 56);
    case PACK_DECIMAL:
        d = write_key(d, BSON_TYPE_DECIMAL128, key, key_len);
        memcpy(d, v->body, 16);
        return d + 16;
    default:
        d = write_key(d, v->bson_type, key, key_len);
        memcpy(d, v->body, v->body_len);
        return d + v->body_len;
    }
}

void view_unpack_elements(view_buf *out, const uint8_t *packed, size_t len,
                          const tf_column *columns, size_t column_count, const bool *omit,
                          const char *const *renamed, bool skip_pk)
{
    /* One reservation for the row: a name, and twice the packed bytes
     * (hex digits) plus a fixed margin per value, bound what it takes. */
    size_t bound = 2 * len;
    for (size_t i = 0; i < column_count; i++)
        bound += (renamed && renamed[i] ? strlen(renamed[i]) : columns[i].name.len) +
                 element_bound(&(packed_value){.body_len = 0});
    uint8_t *d = view_buf_reserve(out, bound);
    size_t pos = 0;
    packed_value v;
    for (size_t i = 0; i < column_count && next_value(packed, len, &pos, &v); i++) {
        if ((omit && omit[i]) || (skip_pk && columns[i].is_primary_key))
            continue;
        if (renamed && renamed[i])
            d = put_element(d, &v, renamed[i], strlen(renamed[i]));
        else
            d = put_element(d, &v, columns[i].name.ptr, columns[i].name.len);
    }
    out->len = (size_t)(d - out->ptr);
}

void view_unpack_doc(view_buf *out, const uint8_t *packed, size_t len, const tf_column *columns,
                     size_t column_count)
{
    size_t at = view_raw_open(out);
    view_unpack_elements(out, packed, len, columns, column_count, NULL, NULL, false);
    view_raw_close(out, at);
}

bool view_unpack_element(view_buf *scratch, const uint8_t *packed, size_t len,
                         const tf_column *columns, size_t column_count, size_t index,
                         view_raw_element *out)
{
    size_t pos = 0;
    packed_value v;
    for (size_t i = 0; i < column_count && next_value(packed, len, &pos, &v); i++) {
        if (i != index)
            continue;
        scratch->len = 0;
        size_t at = view_raw_open(scratch);
        uint8_t *d = view_buf_reserve(scratch, columns[i].name.len + element_bound(&v));
        d = put_element(d, &v, columns[i].name.ptr, columns[i].name.len);
        scratch->len = (size_t)(d - scratch->ptr);
        view_raw_close(scratch, at);
        size_t doc_pos = 0;
        return view_raw_next(scratch->ptr, scratch->len, &doc_pos, out);
    }
    return false;
}

bool view_pack_check(const uint8_t *packed, size_t len, size_t column_count)
{
    size_t pos = 0, n = 0;
    packed_value v;
    while (pos < len) {
        if (!next_value(packed, len, &pos, &v))
            return false;
        if (v.tag == PACK_INT32 &&
            (view_unzigzag(v.number) < INT32_MIN || view_unzigzag(v.number) > INT32_MAX))
            return false;
        if (v.tag == PACK_OTHER) {
            /* The value bytes must be a whole, valid BSON value of their type. */
            view_buf probe = {0};
            size_t at = view_raw_open(&probe);
            uint8_t *d = view_buf_reserve(&probe, element_bound(&v));
            d = put_element(d, &v, "", 0);
            probe.len = (size_t)(d - probe.ptr);
            view_raw_close(&probe, at);
            size_t doc_pos = 0;
            view_raw_element e;
            bson_t one;
            bool whole = view_raw_next(probe.ptr, probe.len, &doc_pos, &e) &&
                         e.value_len == v.body_len && doc_pos == probe.len - 1 &&
                         bson_init_static(&one, probe.ptr, probe.len) &&
                         bson_validate(&one, BSON_VALIDATE_NONE, NULL);
            view_buf_cleanup(&probe);
            if (!whole)
                return false;
        }
        n++;
    }
    return n == column_count;
}
