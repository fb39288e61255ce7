/* decimal.c — Decimal128 values for targets that cannot store them.
 *
 * FerretDB 1.24 drops the connection on a Decimal128, and the sink refuses
 * such ops rather than send them. The daemon therefore rewrites documents
 * before handing them over: double by default (what a JSON API reads as a
 * number; DECIMAL(10,2) values are exact to the cent), or the decimal text
 * when the config asks for decimal = string. */
#include "pipeline.h"

#include <stdlib.h>

static bool holds_decimal(bson_iter_t *it)
{
    while (bson_iter_next(it)) {
        if (BSON_ITER_HOLDS_DECIMAL128(it))
            return true;
        bson_iter_t child;
        if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
            bson_iter_recurse(it, &child) && holds_decimal(&child))
            return true;
    }
    return false;
}

static void copy_rewritten(bson_iter_t *it, bson_t *out, bool as_string)
{
    while (bson_iter_next(it)) {
        const char *key = bson_iter_key(it);
        uint32_t key_len = bson_iter_key_len(it);
        bson_iter_t child;
        if (BSON_ITER_HOLDS_DECIMAL128(it)) {
            bson_decimal128_t d;
            bson_iter_decimal128(it, &d);
            char text[BSON_DECIMAL128_STRING];
            bson_decimal128_to_string(&d, text);
            if (as_string)
                bson_append_utf8(out, key, (int)key_len, text, -1);
            else
                bson_append_double(out, key, (int)key_len, strtod(text, NULL));
        } else if (BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &child)) {
            bson_t sub;
            bson_append_document_begin(out, key, (int)key_len, &sub);
            copy_rewritten(&child, &sub, as_string);
            bson_append_document_end(out, &sub);
        } else if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child)) {
            bson_t sub;
            bson_append_array_begin(out, key, (int)key_len, &sub);
            copy_rewritten(&child, &sub, as_string);
            bson_append_array_end(out, &sub);
        } else {
            bson_append_iter(out, key, (int)key_len, it);
        }
    }
}

bson_t *tf_pipeline_decimal_rewrite(const bson_t *doc, bool as_string)
{
    bson_iter_t it;
    if (!doc || !bson_iter_init(&it, doc) || !holds_decimal(&it))
        return NULL;
    bson_t *out = bson_new();
    bson_iter_init(&it, doc);
    copy_rewritten(&it, out, as_string);
    return out;
}
