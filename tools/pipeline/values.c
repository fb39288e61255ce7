/* values.c — value arrays that outlive the event buffer they were decoded
 * from, and key values read back from a held row's document. */
#include "pipeline_internal.h"

#include <stdio.h>
#include <string.h>

static bool has_bytes(tf_value_kind k)
{
    return k == TF_VAL_STRING || k == TF_VAL_BYTES || k == TF_VAL_JSON || k == TF_VAL_GEOMETRY ||
           k == TF_VAL_VECTOR || k == TF_VAL_JSON_DIFF;
}

tf_value *tf_pipeline_values_dup(const tf_value *values, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (has_bytes(values[i].kind))
            bytes += values[i].bytes.len;
    tf_value *out = bson_malloc(n * sizeof *out + (bytes ? bytes : 1));
    uint8_t *p = (uint8_t *)(out + n);
    for (size_t i = 0; i < n; i++) {
        out[i] = values[i];
        if (has_bytes(values[i].kind)) {
            if (values[i].bytes.len)
                memcpy(p, values[i].bytes.ptr, values[i].bytes.len);
            out[i].bytes.ptr = p;
            p += values[i].bytes.len;
        }
    }
    return out;
}

/* The type mapping (DESIGN.md) keeps integers, strings, binary strings and
 * DECIMALs exactly; those are the keys read back. */
bool values_from_doc(const bson_t *doc, const tf_column *columns, const uint32_t *pk,
                     size_t pk_count, tf_value *out)
{
    for (size_t k = 0; k < pk_count; k++) {
        const tf_column *c = &columns[pk[k]];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)c->name.len, c->name.ptr);
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, name))
            return false;
        tf_value *v = &out[k];
        memset(v, 0, sizeof *v);
        switch (c->type) {
        case TF_TYPE_TINY:
        case TF_TYPE_SHORT:
        case TF_TYPE_INT24:
        case TF_TYPE_LONG:
        case TF_TYPE_LONGLONG:
            if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
                int64_t i = bson_iter_as_int64(&it);
                if (c->is_unsigned) {
                    v->kind = TF_VAL_UINT;
                    v->u = (uint64_t)i;
                } else {
                    v->kind = TF_VAL_INT;
                    v->i = i;
                }
                break;
            }
            return false; /* unsigned 64-bit past int64: Decimal128 */
        case TF_TYPE_VARCHAR:
        case TF_TYPE_VAR_STRING:
        case TF_TYPE_STRING:
            if (BSON_ITER_HOLDS_UTF8(&it)) {
                uint32_t len = 0;
                const char *s = bson_iter_utf8(&it, &len);
                v->kind = TF_VAL_STRING;
                v->bytes.ptr = (const uint8_t *)s;
                v->bytes.len = len;
                break;
            }
            if (BSON_ITER_HOLDS_BINARY(&it)) {
                uint32_t len = 0;
                const uint8_t *b = NULL;
                bson_subtype_t st;
                bson_iter_binary(&it, &st, &len, &b);
                v->kind = TF_VAL_BYTES;
                v->bytes.ptr = b;
                v->bytes.len = len;
                break;
            }
            return false;
        case TF_TYPE_NEWDECIMAL:
            if (BSON_ITER_HOLDS_DECIMAL128(&it)) {
                bson_decimal128_t d;
                bson_iter_decimal128(&it, &d);
                v->kind = TF_VAL_DECIMAL;
                bson_decimal128_to_string(&d, v->decimal.text);
                v->decimal.precision = (uint8_t)(c->meta >> 8);
                v->decimal.scale = (uint8_t)(c->meta & 0xff);
                break;
            }
            return false;
        default: return false;
        }
    }
    return true;
}
