/* raw_bson.c — BSON element bytes, walked and written directly.
 *
 * The engine copies a row's fields into documents many times per change
 * (a seller change rebuilds every order holding the seller). Copying
 * element bytes in runs and patching lengths in place costs a memcpy
 * where bson_append_iter costs a key scan, a type switch and a growth
 * check per field. */
#include "view_internal.h"

#include <string.h>

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Length of a value of `type` at v with avail bytes left; SIZE_MAX when
 * it does not fit or the type is unknown. */
static size_t value_size(uint8_t type, const uint8_t *v, size_t avail)
{
    size_t n;
    switch (type) {
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DATE_TIME:
    case BSON_TYPE_TIMESTAMP:
    case BSON_TYPE_INT64: n = 8; break;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_CODE:
    case BSON_TYPE_SYMBOL:
        if (avail < 4)
            return SIZE_MAX;
        n = 4 + (size_t)read_u32(v);
        break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
    case BSON_TYPE_CODEWSCOPE:
        if (avail < 4)
            return SIZE_MAX;
        n = read_u32(v);
        break;
    case BSON_TYPE_BINARY:
        if (avail < 4)
            return SIZE_MAX;
        n = 5 + (size_t)read_u32(v);
        break;
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL:
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY: n = 0; break;
    case BSON_TYPE_OID: n = 12; break;
    case BSON_TYPE_BOOL: n = 1; break;
    case BSON_TYPE_INT32: n = 4; break;
    case BSON_TYPE_DECIMAL128: n = 16; break;
    case BSON_TYPE_REGEX: {
        const uint8_t *end1 = memchr(v, 0, avail);
        if (!end1)
            return SIZE_MAX;
        size_t first = (size_t)(end1 - v) + 1;
        const uint8_t *end2 = memchr(end1 + 1, 0, avail - first);
        if (!end2)
            return SIZE_MAX;
        n = (size_t)(end2 - v) + 1;
        break;
    }
    case BSON_TYPE_DBPOINTER:
        if (avail < 4)
            return SIZE_MAX;
        n = 4 + (size_t)read_u32(v) + 12;
        break;
    default: return SIZE_MAX;
    }
    return n <= avail ? n : SIZE_MAX;
}

bool view_raw_next(const uint8_t *doc, size_t doc_len, size_t *pos, view_raw_element *out)
{
    size_t p = *pos ? *pos : 4;
    /* The last byte is the document's terminator. */
    if (doc_len < 5 || p >= doc_len - 1)
        return false;
    size_t end = doc_len - 1;
    out->start = doc + p;
    out->type = doc[p];
    const uint8_t *key = doc + p + 1;
    const uint8_t *key_end = memchr(key, 0, end - (p + 1));
    if (!key_end)
        return false;
    out->key = (const char *)key;
    out->key_len = (size_t)(key_end - key);
    out->value = key_end + 1;
    size_t avail = (size_t)(doc + end - out->value);
    out->value_len = value_size(out->type, out->value, avail);
    if (out->value_len == SIZE_MAX)
        return false;
    out->len = (size_t)(out->value + out->value_len - out->start);
    *pos = p + out->len;
    return true;
}


void view_raw_key(view_buf *b, uint8_t type, const char *key, size_t key_len)
{
    view_buf_append(b, &type, 1);
    view_buf_append(b, key, key_len);
    uint8_t nul = 0;
    view_buf_append(b, &nul, 1);
}

size_t view_raw_open(view_buf *b)
{
    size_t at = b->len;
    static const uint8_t placeholder[4] = {0};
    view_buf_append(b, placeholder, 4);
    return at;
}

void view_raw_close(view_buf *b, size_t at)
{
    uint8_t nul = 0;
    view_buf_append(b, &nul, 1);
    uint32_t len = (uint32_t)(b->len - at);
    b->ptr[at] = (uint8_t)len;
    b->ptr[at + 1] = (uint8_t)(len >> 8);
    b->ptr[at + 2] = (uint8_t)(len >> 16);
    b->ptr[at + 3] = (uint8_t)(len >> 24);
}

void view_raw_index_key(view_buf *b, uint8_t type, size_t index)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + index % 10);
        index /= 10;
    } while (index);
    view_raw_key(b, type, digits + sizeof digits - n, n);
}
