/* json_binary.c — MySQL's binary JSON (the JSON column type, 245) to BSON,
 * and the PARTIAL_UPDATE_ROWS JSON diffs applied to a BSON image.
 *
 * Format (sql/json_binary.h): a document is a type byte and a value.
 * Objects and arrays come small (16-bit counts, sizes and offsets) or large
 * (32-bit): element count, byte size, for objects one key entry per member
 * (offset, 16-bit length), one value entry per element (type byte, then the
 * value itself when it fits the entry — literals, int16, uint16, and in large
 * containers int32/uint32 — or its offset), then the keys and the values.
 * Offsets count from the start of the container (after its type byte).
 * Strings and opaque values carry a variable-length size: 7 bits a byte,
 * low bits first, high bit set when another byte follows.
 *
 * Nothing here trusts an offset: every value is decoded inside the byte
 * range of its container, nesting stops at TF_JSON_MAX_DEPTH, and the
 * number of values decoded is bounded by the document's size, so entries
 * that share or loop over the same bytes cannot make the work explode. */
#include "value_internal.h"

#include <stdio.h>
#include <stdlib.h>

enum json_type {
    JSONB_SMALL_OBJECT = 0x00,
    JSONB_LARGE_OBJECT = 0x01,
    JSONB_SMALL_ARRAY = 0x02,
    JSONB_LARGE_ARRAY = 0x03,
    JSONB_LITERAL = 0x04,
    JSONB_INT16 = 0x05,
    JSONB_UINT16 = 0x06,
    JSONB_INT32 = 0x07,
    JSONB_UINT32 = 0x08,
    JSONB_INT64 = 0x09,
    JSONB_UINT64 = 0x0a,
    JSONB_DOUBLE = 0x0b,
    JSONB_STRING = 0x0c,
    JSONB_OPAQUE = 0x0f,
};

enum {
    JSONB_NULL = 0x00,
    JSONB_TRUE = 0x01,
    JSONB_FALSE = 0x02
};

typedef struct json_ctx {
    const uint8_t *doc; /* the whole document; readers are views into it */
    size_t doc_len;
    size_t budget; /* values that may still be decoded */
    tf_error *err;
} json_ctx;

static tf_status append_value(json_ctx *c, bson_t *parent, const char *key, size_t key_len,
                              uint8_t type, size_t start, size_t end, unsigned depth);

/* A reader over doc[start, end), whose offsets in messages are document
 * offsets. */
static void view(json_ctx *c, tf_reader *r, size_t start, size_t end, const char *context)
{
    tf_reader_init(r, c->doc + start, end - start, start, context, TF_MALFORMED, c->err);
}

static tf_status read_varlen(tf_reader *r, uint32_t *out, const char *field)
{
    uint64_t v = 0;
    size_t at = r->pos;
    for (unsigned i = 0; i < 5; i++) {
        uint8_t b;
        tf_status st = tf_read_u8(r, &b, field);
        if (st != TF_OK)
            return st;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v > UINT32_MAX) {
                r->pos = at;
                return tf_reader_bad(r, "%s %llu is above 2^32-1", field, (unsigned long long)v);
            }
            *out = (uint32_t)v;
            return TF_OK;
        }
    }
    r->pos = at;
    return tf_reader_bad(r, "%s has more than 5 bytes", field);
}

static bool append_int(bson_t *b, const char *key, size_t key_len, int64_t v)
{
    if (v >= INT32_MIN && v <= INT32_MAX)
        return bson_append_int32(b, key, (int)key_len, (int32_t)v);
    return bson_append_int64(b, key, (int)key_len, v);
}

static bool append_uint(bson_t *b, const char *key, size_t key_len, uint64_t v)
{
    if (v <= INT64_MAX)
        return append_int(b, key, key_len, (int64_t)v);
    /* Above int64: Decimal128 keeps the exact value (20 digits fit). */
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    bson_decimal128_t dec;
    bson_decimal128_from_string(text, &dec);
    return bson_append_decimal128(b, key, (int)key_len, &dec);
}

static tf_status appended(tf_reader *r, bool ok)
{
    if (ok)
        return TF_OK;
    return tf_reader_bad(r, "the BSON document would exceed its maximum size");
}

static tf_status append_opaque(json_ctx *c, tf_reader *r, bson_t *parent, const char *key,
                               size_t key_len)
{
    size_t at = r->pos;
    uint8_t mysql_type;
    uint32_t n;
    const uint8_t *data;
    tf_status st = tf_read_u8(r, &mysql_type, "opaque value's MySQL type");
    if (st == TF_OK)
        st = read_varlen(r, &n, "opaque value's length");
    if (st == TF_OK)
        st = tf_read_bytes(r, n, &data, "opaque value's data");
    if (st != TF_OK)
        return st;
    switch (mysql_type) {
    case TF_TYPE_NEWDECIMAL: {
        /* precision, scale, then the binary DECIMAL. */
        char text[TF_DECIMAL_TEXT_MAX];
        size_t used;
        if (n < 2) {
            r->pos = at;
            return tf_reader_bad(r, "opaque DECIMAL of %u bytes lacks precision and scale", n);
        }
        st = tf_decimal_decode(data + 2, n - 2, data[0], data[1], text, &used, c->err);
        if (st != TF_OK) {
            tf_error_prefix(c->err, "JSON opaque DECIMAL at offset %zu", tf_reader_offset(r) - n);
            return st;
        }
        if (used != n - 2) {
            r->pos = at;
            return tf_reader_bad(r, "opaque DECIMAL(%u,%u) has %zu bytes after its value", data[0],
                                 data[1], (size_t)(n - 2 - used));
        }
        return appended(r, tf_decimal_text_append_bson(parent, key, key_len, text));
    }
    case TF_TYPE_DATE:
    case TF_TYPE_DATETIME:
    case TF_TYPE_TIMESTAMP:
    case TF_TYPE_TIME: {
        if (n != 8) {
            r->pos = at;
            return tf_reader_bad(r, "opaque %s has %u bytes, not 8",
                                 tf_column_type_name(mysql_type), n);
        }
        int64_t packed = (int64_t)tf_le_uint(data, 8);
        tf_temporal t;
        bool ok = mysql_type == TF_TYPE_TIME ? tf_temporal_from_packed_time(packed, &t)
                                             : tf_temporal_from_packed_datetime(packed, &t);
        if (!ok) {
            r->pos = at;
            return tf_reader_bad(r, "opaque %s packed value 0x%llx is out of range",
                                 tf_column_type_name(mysql_type), (unsigned long long)packed);
        }
        if (mysql_type == TF_TYPE_TIME) {
            char text[40];
            tf_temporal_format(&t, TF_VAL_TIME, text, sizeof text);
            return appended(r, bson_append_utf8(parent, key, (int)key_len, text, -1));
        }
        int64_t ms;
        if (!tf_temporal_to_unix_ms(&t, &ms))
            return appended(r, bson_append_null(parent, key, (int)key_len));
        return appended(r, bson_append_date_time(parent, key, (int)key_len, ms));
    }
    default:
        return appended(
            r, bson_append_binary(parent, key, (int)key_len, BSON_SUBTYPE_BINARY, data, n));
    }
}

/* Objects and arrays: doc[start, end) holds the container. */
static tf_status append_container(json_ctx *c, bson_t *parent, const char *key, size_t key_len,
                                  uint8_t type, size_t start, size_t end, unsigned depth)
{
    bool large = type == JSONB_LARGE_OBJECT || type == JSONB_LARGE_ARRAY;
    bool is_object = type == JSONB_SMALL_OBJECT || type == JSONB_LARGE_OBJECT;
    size_t w = large ? 4 : 2;
    tf_reader r;
    view(c, &r, start, end, is_object ? "JSON object" : "JSON array");
    if (depth > TF_JSON_MAX_DEPTH)
        return tf_reader_bad(&r, "nesting deeper than %d levels", TF_JSON_MAX_DEPTH);
    uint64_t count, size;
    tf_status st = tf_read_uint_le(&r, w, &count, "element count");
    if (st == TF_OK)
        st = tf_read_uint_le(&r, w, &size, "byte size");
    if (st != TF_OK)
        return st;
    if (size > end - start) {
        r.pos = w;
        return tf_reader_bad(&r, "byte size %llu runs past its enclosing value (%zu bytes)",
                             (unsigned long long)size, end - start);
    }
    uint64_t header = 2 * w + count * ((is_object ? w + 2 : 0) + 1 + w);
    if (header > size) {
        r.pos = 0;
        return tf_reader_bad(&r, "%llu elements need %llu header bytes but the size is %llu",
                             (unsigned long long)count, (unsigned long long)header,
                             (unsigned long long)size);
    }
    end = start + (size_t)size;
    r.len = (size_t)size;

    bson_t child;
    bool ok = is_object ? bson_append_document_begin(parent, key, (int)key_len, &child)
                        : bson_append_array_begin(parent, key, (int)key_len, &child);
    if (!ok)
        return appended(&r, false);
    size_t key_entries = 2 * w;
    size_t value_entries = key_entries + (is_object ? (size_t)count * (w + 2) : 0);
    for (size_t i = 0; i < count && st == TF_OK; i++) {
        const char *k;
        size_t klen;
        char index_buf[16];
        if (is_object) {
            r.pos = key_entries + i * (w + 2);
            uint64_t koff = 0, kl = 0;
            tf_read_uint_le(&r, w, &koff, "key offset");
            tf_read_uint_le(&r, 2, &kl, "key length");
            if (koff > size || kl > size - koff) {
                r.pos -= w + 2;
                st = tf_reader_bad(
                    &r, "key %zu (offset %llu, length %llu) runs past the object's %llu bytes", i,
                    (unsigned long long)koff, (unsigned long long)kl, (unsigned long long)size);
                break;
            }
            k = (const char *)c->doc + start + koff;
            klen = (size_t)kl;
            if (!bson_utf8_validate(k, klen, false)) {
                r.pos = (size_t)koff;
                st = tf_reader_bad(&r, "key %zu is not valid UTF-8 or contains NUL", i);
                break;
            }
        } else {
            const char *s;
            klen = bson_uint32_to_string((uint32_t)i, &s, index_buf, sizeof index_buf);
            k = s;
        }
        r.pos = value_entries + i * (1 + w);
        uint8_t vtype = 0;
        uint64_t inline_or_offset = 0;
        tf_read_u8(&r, &vtype, "value type");
        tf_read_uint_le(&r, w, &inline_or_offset, "value offset");
        if (c->budget == 0) {
            r.pos -= 1 + w;
            st = tf_reader_bad(&r,
                               "more values than the document's %zu bytes can hold "
                               "(entries share or loop over the same bytes)",
                               c->doc_len);
            break;
        }
        switch (vtype) {
        case JSONB_LITERAL:
            c->budget--;
            if ((inline_or_offset & 0xff) == JSONB_NULL)
                ok = bson_append_null(&child, k, (int)klen);
            else if ((inline_or_offset & 0xff) == JSONB_TRUE ||
                     (inline_or_offset & 0xff) == JSONB_FALSE)
                ok =
                    bson_append_bool(&child, k, (int)klen, (inline_or_offset & 0xff) == JSONB_TRUE);
            else {
                r.pos -= w;
                st = tf_reader_bad(&r, "literal 0x%02x is not null, true or false",
                                   (unsigned)(inline_or_offset & 0xff));
                break;
            }
            st = appended(&r, ok);
            break;
        case JSONB_INT16:
            c->budget--;
            st = appended(
                &r, bson_append_int32(&child, k, (int)klen, (int16_t)(uint16_t)inline_or_offset));
            break;
        case JSONB_UINT16:
            c->budget--;
            st = appended(&r, bson_append_int32(&child, k, (int)klen, (uint16_t)inline_or_offset));
            break;
        case JSONB_INT32:
        case JSONB_UINT32:
            if (large) {
                c->budget--;
                st = appended(&r,
                              vtype == JSONB_INT32
                                  ? append_int(&child, k, klen, (int32_t)(uint32_t)inline_or_offset)
                                  : append_uint(&child, k, klen, (uint32_t)inline_or_offset));
                break;
            }
            /* Small containers store int32/uint32 at an offset. */
            /* fall through */
        default:
            if (inline_or_offset < header || inline_or_offset >= size) {
                r.pos -= w;
                st = tf_reader_bad(
                    &r, "value %zu offset %llu is outside the %s's data (%llu..%llu)", i,
                    (unsigned long long)inline_or_offset, is_object ? "object" : "array",
                    (unsigned long long)header, (unsigned long long)size);
                break;
            }
            st = append_value(c, &child, k, klen, vtype, start + (size_t)inline_or_offset, end,
                              depth + 1);
        }
    }
    if (is_object)
        ok = bson_append_document_end(parent, &child);
    else
        ok = bson_append_array_end(parent, &child);
    if (st == TF_OK && !ok)
        st = appended(&r, false);
    return st;
}

/* One value of `type` starting at doc[start], inside doc[start, end). */
static tf_status append_value(json_ctx *c, bson_t *parent, const char *key, size_t key_len,
                              uint8_t type, size_t start, size_t end, unsigned depth)
{
    tf_reader r;
    uint64_t u;
    tf_status st;
    switch (type) {
    case JSONB_SMALL_OBJECT:
    case JSONB_LARGE_OBJECT:
    case JSONB_SMALL_ARRAY:
    case JSONB_LARGE_ARRAY:
        if (c->budget == 0) {
            view(c, &r, start, end, "JSON value");
            return tf_reader_bad(&r,
                                 "more values than the document's %zu bytes can hold "
                                 "(entries share or loop over the same bytes)",
                                 c->doc_len);
        }
        c->budget--;
        return append_container(c, parent, key, key_len, type, start, end, depth);
    default: break;
    }
    if (c->budget == 0) {
        view(c, &r, start, end, "JSON value");
        return tf_reader_bad(&r, "more values than the document's %zu bytes can hold", c->doc_len);
    }
    c->budget--;
    switch (type) {
    case JSONB_LITERAL: {
        view(c, &r, start, end, "JSON literal");
        uint8_t lit;
        st = tf_read_u8(&r, &lit, "literal");
        if (st != TF_OK)
            return st;
        if (lit == JSONB_NULL)
            return appended(&r, bson_append_null(parent, key, (int)key_len));
        if (lit == JSONB_TRUE || lit == JSONB_FALSE)
            return appended(&r, bson_append_bool(parent, key, (int)key_len, lit == JSONB_TRUE));
        r.pos = 0;
        return tf_reader_bad(&r, "literal 0x%02x is not null, true or false", lit);
    }
    case JSONB_INT16:
    case JSONB_UINT16:
    case JSONB_INT32:
    case JSONB_UINT32:
    case JSONB_INT64:
    case JSONB_UINT64: {
        static const uint8_t width[] = {2, 2, 4, 4, 8, 8};
        static const char *const ctx[] = {"JSON int16",  "JSON uint16", "JSON int32",
                                          "JSON uint32", "JSON int64",  "JSON uint64"};
        size_t idx = (size_t)(type - JSONB_INT16);
        view(c, &r, start, end, ctx[idx]);
        st = tf_read_uint_le(&r, width[idx], &u, "number");
        if (st != TF_OK)
            return st;
        bool is_signed = (type - JSONB_INT16) % 2 == 0;
        if (!is_signed)
            return appended(&r, append_uint(parent, key, key_len, u));
        unsigned shift = 64 - 8u * width[idx];
        int64_t v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        return appended(&r, append_int(parent, key, key_len, v));
    }
    case JSONB_DOUBLE: {
        view(c, &r, start, end, "JSON double");
        st = tf_read_u64le(&r, &u, "double");
        if (st != TF_OK)
            return st;
        double d;
        memcpy(&d, &u, sizeof d);
        return appended(&r, bson_append_double(parent, key, (int)key_len, d));
    }
    case JSONB_STRING: {
        view(c, &r, start, end, "JSON string");
        uint32_t n;
        const uint8_t *s;
        st = read_varlen(&r, &n, "string length");
        if (st == TF_OK)
            st = tf_read_bytes(&r, n, &s, "string data");
        if (st != TF_OK)
            return st;
        if (!tf_utf8_valid(s, n)) {
            r.pos -= n;
            return tf_reader_bad(&r, "string of %u bytes is not valid UTF-8", n);
        }
        return appended(&r, bson_append_utf8(parent, key, (int)key_len, (const char *)s, (int)n));
    }
    case JSONB_OPAQUE:
        view(c, &r, start, end, "JSON opaque value");
        return append_opaque(c, &r, parent, key, key_len);
    default:
        view(c, &r, start, end, "JSON value");
        return tf_reader_bad(&r, "unknown value type 0x%02x", type);
    }
}

tf_status tf_json_binary_append_bson(bson_t *parent, const char *key, size_t key_len,
                                     const uint8_t *buf, size_t len, tf_error *err)
{
    /* An empty document is how MySQL stores a JSON NULL literal written
     * into a NOT NULL column in non-strict mode; MySQL reads it as null. */
    if (len == 0) {
        if (!bson_append_null(parent, key, (int)key_len))
            return tf_error_set(err, TF_ERR_PROTOCOL, 0, "JSON value: BSON document full");
        return TF_OK;
    }
    /* Every value but the first needs a value entry of at least 3 bytes, so
     * a document of len bytes holds at most len values. */
    json_ctx c = {.doc = buf, .doc_len = len, .budget = len, .err = err};
    return append_value(&c, parent, key, key_len, buf[0], 1, len, 0);
}

char *tf_json_binary_to_text(const uint8_t *buf, size_t len, tf_error *err)
{
    bson_t wrapper = BSON_INITIALIZER;
    if (tf_json_binary_append_bson(&wrapper, "v", 1, buf, len, err) != TF_OK) {
        bson_destroy(&wrapper);
        return NULL;
    }
    size_t json_len;
    char *json = bson_as_relaxed_extended_json(&wrapper, &json_len);
    bson_destroy(&wrapper);
    /* libbson writes { "v" : VALUE }: keep VALUE. */
    static const char prefix[] = "{ \"v\" : ";
    size_t plen = sizeof prefix - 1;
    if (!json || json_len < plen + 2 || memcmp(json, prefix, plen) != 0) {
        bson_free(json);
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "JSON value: could not render as text");
        return NULL;
    }
    size_t vlen = json_len - plen - 2;
    memmove(json, json + plen, vlen);
    json[vlen] = '\0';
    return json;
}

/* ---------------------------------------------------------------------
 * PARTIAL_UPDATE_ROWS diffs
 * --------------------------------------------------------------------- */

tf_status tf_json_diff_next(const uint8_t *buf, size_t len, size_t *pos, tf_json_diff *out,
                            tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, buf, len, 0, "JSON diff", TF_MALFORMED, err);
    r.pos = *pos;
    if (r.pos > len)
        return tf_reader_bad(&r, "position past the end of the diff list");
    uint8_t op;
    tf_status st = tf_read_u8(&r, &op, "operation");
    if (st != TF_OK)
        return st;
    if (op > TF_JSON_DIFF_REMOVE) {
        r.pos--;
        return tf_reader_bad(&r, "operation %u is not REPLACE (0), INSERT (1) or REMOVE (2)", op);
    }
    memset(out, 0, sizeof *out);
    out->op = (tf_json_diff_op)op;
    st = tf_read_lenenc_str(&r, &out->path, NULL, "path");
    if (st != TF_OK)
        return st;
    if (op != TF_JSON_DIFF_REMOVE) {
        tf_str value;
        st = tf_read_lenenc_str(&r, &value, NULL, "value");
        if (st != TF_OK)
            return st;
        out->value = (const uint8_t *)value.ptr;
        out->value_len = value.len;
    }
    *pos = r.pos;
    return TF_OK;
}

/* One step of a path: an object member or an array cell. */
typedef struct path_leg {
    bool is_member;
    const char *name; /* member name (unescaped) */
    size_t name_len;
    bool from_last; /* [last] or [last-N] */
    uint64_t index; /* N */
} path_leg;

enum {
    MAX_LEGS = TF_JSON_MAX_DEPTH + 2
};

typedef struct parsed_path {
    path_leg legs[MAX_LEGS];
    size_t count;
    char *names; /* scratch for unescaped member names */
} parsed_path;

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static tf_status read_hex4(tf_reader *r, uint32_t *cp)
{
    const uint8_t *h;
    tf_status st = tf_read_bytes(r, 4, &h, "\\u escape");
    if (st != TF_OK)
        return st;
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        int v = hex_value((char)h[i]);
        if (v < 0) {
            r->pos -= 4;
            return tf_reader_bad(r, "\\u escape has a non-hex digit");
        }
        *cp = *cp << 4 | (uint32_t)v;
    }
    return TF_OK;
}

/* Parses "$", ".name", ".\"quoted\"", "[N]", "[last]", "[last-N]". */
static tf_status parse_path(const tf_str *text, parsed_path *p, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, (const uint8_t *)text->ptr, text->len, 0, "JSON diff path", TF_MALFORMED,
                   err);
    p->count = 0;
    p->names = malloc(text->len + 1);
    char *names = p->names;
    uint8_t ch;
    tf_status st = tf_read_u8(&r, &ch, "'$'");
    if (st != TF_OK)
        return st;
    if (ch != '$') {
        r.pos--;
        return tf_reader_bad(&r, "path does not start with '$'");
    }
    while (tf_reader_left(&r) > 0) {
        if (p->count == MAX_LEGS - 1)
            return tf_reader_bad(&r, "path deeper than %d legs", TF_JSON_MAX_DEPTH);
        path_leg *leg = &p->legs[p->count];
        memset(leg, 0, sizeof *leg);
        tf_read_u8(&r, &ch, "leg");
        while (ch == ' ' && tf_reader_left(&r) > 0)
            tf_read_u8(&r, &ch, "leg");
        if (ch == '.') {
            leg->is_member = true;
            leg->name = names;
            if (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == '"') {
                r.pos++;
                for (;;) {
                    st = tf_read_u8(&r, &ch, "closing '\"' of a member name");
                    if (st != TF_OK)
                        return st;
                    if (ch == '"')
                        break;
                    if (ch != '\\') {
                        *names++ = (char)ch;
                        continue;
                    }
                    st = tf_read_u8(&r, &ch, "escaped character");
                    if (st != TF_OK)
                        return st;
                    switch (ch) {
                    case 'b': *names++ = '\b'; break;
                    case 'f': *names++ = '\f'; break;
                    case 'n': *names++ = '\n'; break;
                    case 'r': *names++ = '\r'; break;
                    case 't': *names++ = '\t'; break;
                    case 'u': {
                        uint32_t cp, lo;
                        st = read_hex4(&r, &cp);
                        if (st != TF_OK)
                            return st;
                        if (cp >= 0xd800 && cp < 0xdc00 && tf_reader_left(&r) >= 6 &&
                            tf_reader_cursor(&r)[0] == '\\' && tf_reader_cursor(&r)[1] == 'u') {
                            r.pos += 2;
                            st = read_hex4(&r, &lo);
                            if (st != TF_OK)
                                return st;
                            if (lo < 0xdc00 || lo > 0xdfff)
                                return tf_reader_bad(&r, "unpaired UTF-16 surrogate");
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        } else if (cp >= 0xd800 && cp <= 0xdfff) {
                            return tf_reader_bad(&r, "unpaired UTF-16 surrogate");
                        }
                        names += put_utf8(names, cp);
                        break;
                    }
                    default: *names++ = (char)ch; /* \" \\ \/ */
                    }
                }
            } else {
                while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) != '.' &&
                       *tf_reader_cursor(&r) != '[')
                    *names++ = (char)r.buf[r.pos++];
            }
            leg->name_len = (size_t)(names - leg->name);
            if (leg->name_len == 1 && leg->name[0] == '*')
                return tf_reader_bad(&r, "wildcard member '.*' cannot name one value");
            if (leg->name_len == 0)
                return tf_reader_bad(&r, "empty member name");
        } else if (ch == '[') {
            size_t at = r.pos;
            while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == ' ')
                r.pos++;
            if (tf_reader_left(&r) >= 4 && memcmp(tf_reader_cursor(&r), "last", 4) == 0) {
                leg->from_last = true;
                r.pos += 4;
                while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == ' ')
                    r.pos++;
                if (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == '-') {
                    r.pos++;
                    while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == ' ')
                        r.pos++;
                } else {
                    goto close_bracket;
                }
            }
            {
                bool any = false;
                while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) >= '0' &&
                       *tf_reader_cursor(&r) <= '9') {
                    if (leg->index > UINT32_MAX) {
                        r.pos = at;
                        return tf_reader_bad(&r, "array index too large");
                    }
                    leg->index = leg->index * 10 + (uint64_t)(r.buf[r.pos++] - '0');
                    any = true;
                }
                if (!any) {
                    r.pos = at;
                    return tf_reader_bad(&r, "array leg needs an index (wildcards and ranges "
                                             "cannot name one value)");
                }
            }
        close_bracket:
            while (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == ' ')
                r.pos++;
            st = tf_read_u8(&r, &ch, "']'");
            if (st != TF_OK)
                return st;
            if (ch != ']') {
                r.pos--;
                return tf_reader_bad(&r, "expected ']'");
            }
        } else {
            r.pos--;
            return tf_reader_bad(&r, "unexpected character '%c' in path", ch);
        }
        p->count++;
    }
    return TF_OK;
}

typedef struct diff_edit {
    tf_json_diff_op op;
    const uint8_t *value;
    size_t value_len;
    const tf_str *path_text;
    tf_error *err;
} diff_edit;

static tf_status path_error(const diff_edit *e, const char *what)
{
    return tf_error_set(e->err, TF_ERR_PROTOCOL, 0, "JSON diff %s %.*s: %s",
                        e->op == TF_JSON_DIFF_REPLACE  ? "REPLACE"
                        : e->op == TF_JSON_DIFF_INSERT ? "INSERT"
                                                       : "REMOVE",
                        (int)(e->path_text->len > 200 ? 200 : e->path_text->len), e->path_text->ptr,
                        what);
}

static uint32_t count_children(const bson_t *container) { return bson_count_keys(container); }

/* Copies `src` (an object or an array) into the already begun `dst` with
 * the edit applied at legs[0..count). Arrays are renumbered. */
static tf_status edit_container(const bson_t *src, bool is_array, bson_t *dst, const path_leg *legs,
                                size_t count, const diff_edit *e)
{
    const path_leg *leg = &legs[0];
    bool last_leg = count == 1;
    if (leg->is_member == is_array)
        return path_error(e, is_array ? "a member leg addresses an array"
                                      : "an array leg addresses an object");
    uint32_t n = count_children(src);
    uint64_t target = 0;
    if (is_array) {
        if (leg->from_last) {
            if (leg->index >= n)
                return path_error(e, "[last-N] is before the first element");
            target = n - 1 - leg->index;
        } else {
            target = leg->index;
        }
    }
    bool found = false;
    uint32_t out_index = 0;
    bson_iter_t it;
    bson_iter_init(&it, src);
    char index_buf[16];
    const char *out_key;
    size_t out_key_len;
    tf_status st = TF_OK;
    uint32_t pos = 0;
    for (;; pos++) {
        bool more = bson_iter_next(&it);
        bool hit;
        if (is_array)
            hit = more ? pos == target
                       : !found && e->op == TF_JSON_DIFF_INSERT && last_leg && target >= n;
        else
            hit = more && bson_iter_key_len(&it) == leg->name_len &&
                  memcmp(bson_iter_key(&it), leg->name, leg->name_len) == 0;
        if (is_array) {
            out_key_len = bson_uint32_to_string(out_index, &out_key, index_buf, sizeof index_buf);
        } else if (more) {
            out_key = bson_iter_key(&it);
            out_key_len = bson_iter_key_len(&it);
        } else {
            out_key = leg->name;
            out_key_len = leg->name_len;
        }
        if (!more && !(hit && is_array))
            break;
        if (hit) {
            found = true;
            if (!last_leg) {
                bool child_is_array = BSON_ITER_HOLDS_ARRAY(&it);
                if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !child_is_array)
                    return path_error(e, "an intermediate leg reaches a scalar");
                uint32_t child_len;
                const uint8_t *child_data;
                if (child_is_array)
                    bson_iter_array(&it, &child_len, &child_data);
                else
                    bson_iter_document(&it, &child_len, &child_data);
                bson_t child_src, child_dst;
                if (!bson_init_static(&child_src, child_data, child_len))
                    return path_error(e, "corrupt BSON in the before image");
                if (child_is_array)
                    bson_append_array_begin(dst, out_key, (int)out_key_len, &child_dst);
                else
                    bson_append_document_begin(dst, out_key, (int)out_key_len, &child_dst);
                st = edit_container(&child_src, child_is_array, &child_dst, legs + 1, count - 1, e);
                if (child_is_array)
                    bson_append_array_end(dst, &child_dst);
                else
                    bson_append_document_end(dst, &child_dst);
                if (st != TF_OK)
                    return st;
                out_index++;
                continue;
            }
            switch (e->op) {
            case TF_JSON_DIFF_REPLACE:
                st = tf_json_binary_append_bson(dst, out_key, out_key_len, e->value, e->value_len,
                                                e->err);
                out_index++;
                break;
            case TF_JSON_DIFF_INSERT:
                st = tf_json_binary_append_bson(dst, out_key, out_key_len, e->value, e->value_len,
                                                e->err);
                out_index++;
                if (is_array && more) {
                    /* The element that was at this index moves up one. */
                    out_key_len =
                        bson_uint32_to_string(out_index, &out_key, index_buf, sizeof index_buf);
                    bson_append_iter(dst, out_key, (int)out_key_len, &it);
                    out_index++;
                }
                /* An object member that existed is replaced (MySQL's
                 * Json_object::add_alias semantics). */
                break;
            case TF_JSON_DIFF_REMOVE: break;
            }
            if (st != TF_OK) {
                tf_error_prefix(e->err, "JSON diff value for %.*s",
                                (int)(e->path_text->len > 200 ? 200 : e->path_text->len),
                                e->path_text->ptr);
                return st;
            }
            if (!more)
                break;
            continue;
        }
        bson_append_iter(dst, out_key, (int)out_key_len, &it);
        out_index++;
    }
    if (!found) {
        if (e->op == TF_JSON_DIFF_INSERT && last_leg && !is_array) {
            st = tf_json_binary_append_bson(dst, leg->name, leg->name_len, e->value, e->value_len,
                                            e->err);
            if (st != TF_OK)
                tf_error_prefix(e->err, "JSON diff value for %.*s",
                                (int)(e->path_text->len > 200 ? 200 : e->path_text->len),
                                e->path_text->ptr);
            return st;
        }
        return path_error(e, "the path does not exist in the before image");
    }
    return TF_OK;
}

tf_status tf_json_diff_apply_bson(const bson_t *before_doc, const char *key, size_t key_len,
                                  const uint8_t *diff, size_t diff_len, bson_t *after_doc,
                                  tf_error *err)
{
    bson_t current, next;
    bson_copy_to(before_doc, &current);
    size_t pos = 0;
    tf_status st = TF_OK;
    parsed_path *path = malloc(sizeof *path);
    while (pos < diff_len) {
        size_t diff_at = pos;
        tf_json_diff d;
        st = tf_json_diff_next(diff, diff_len, &pos, &d, err);
        if (st != TF_OK)
            break;
        path->names = NULL;
        st = parse_path(&d.path, path, err);
        if (st == TF_OK && path->count == 0 && d.op != TF_JSON_DIFF_REPLACE)
            st = tf_error_set(err, TF_ERR_PROTOCOL, 0,
                              "JSON diff at offset %zu: %s of the whole document '$'", diff_at,
                              d.op == TF_JSON_DIFF_INSERT ? "INSERT" : "REMOVE");
        if (st == TF_OK) {
            /* The column is the first leg: a member of the row document. */
            memmove(path->legs + 1, path->legs, path->count * sizeof path->legs[0]);
            memset(&path->legs[0], 0, sizeof path->legs[0]);
            path->legs[0].is_member = true;
            path->legs[0].name = key;
            path->legs[0].name_len = key_len;
            path->count++;
            diff_edit e = {.op = d.op,
                           .value = d.value,
                           .value_len = d.value_len,
                           .path_text = &d.path,
                           .err = err};
            bson_init(&next);
            st = edit_container(&current, false, &next, path->legs, path->count, &e);
            if (st == TF_OK) {
                /* bson_t must not be copied by value: copy the bytes. */
                bson_destroy(&current);
                bson_copy_to(&next, &current);
            }
            bson_destroy(&next);
        }
        free(path->names);
        if (st != TF_OK) {
            tf_error_prefix(err, "JSON diff at offset %zu", diff_at);
            break;
        }
    }
    free(path);
    if (st == TF_OK)
        bson_concat(after_doc, &current);
    bson_destroy(&current);
    return st;
}
