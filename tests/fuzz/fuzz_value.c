/* fuzz_value.c — libFuzzer harness for one column value.
 *
 * Input: type (1 byte), meta (2 bytes LE), flags (1 byte: bit 0 unsigned,
 * bit 1 binary charset, bit 2 latin1, bit 3 ENUM/SET names present), then
 * the value bytes as a row image holds them. The value goes through
 * tf_value_decode (and tf_value_check_fast, which must agree with it),
 * tf_value_append_bson and tf_value_to_text; the bytes
 * are also read as a whole MySQL binary JSON document and as a JSON diff
 * list, whatever the type, since those decoders see attacker-shaped bytes
 * from any server. Complements fuzz_event.c, which reaches values only
 * through a table map that decodes. */
#include "protocol.h"
#include "value_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    static const tf_str names[] = {{"a", 1}, {"b", 1}, {"ü", 2}, {"", 0}};
    tf_column col;
    memset(&col, 0, sizeof col);
    col.type = data[0];
    col.meta = (uint16_t)(data[1] | data[2] << 8);
    col.is_unsigned = data[3] & 1;
    col.charset = (data[3] & 2) ? TF_CHARSET_BINARY : (data[3] & 4) ? 8 : 45;
    col.nullable = true;
    if (data[3] & 8) {
        col.enum_set_count = 4;
        col.enum_set_values = (tf_str *)names;
    }
    size -= 4;
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 4, size);

    tf_value v;
    size_t consumed = 0, checked = 0;
    tf_error err = {0};
    /* The row loop's validation-only path accepts nothing the decoder
     * rejects, and takes the same bytes. */
    bool check_ok = tf_value_check_fast(buf, size, &col, &checked);
    tf_status st = tf_value_decode(buf, size, &col, &v, &consumed, &err);
    if (check_ok && (st != TF_OK || checked != consumed))
        __builtin_trap();
    if (st == TF_OK) {
        if (consumed > size)
            __builtin_trap();
        bson_t doc;
        bson_init(&doc);
        (void)tf_value_append_bson(&doc, "v", 1, &v, &col, &err);
        bson_destroy(&doc);
        size_t len = 0;
        bson_free(tf_value_to_text(&v, &col, &len, &err));
    }

    bson_t doc;
    bson_init(&doc);
    if (tf_json_binary_append_bson(&doc, "j", 1, buf, size, &err) == TF_OK) {
        bson_t after;
        bson_init(&after);
        /* A diff list applied to the document just built (the diff bytes
         * are the same input: most will be rejected, some will apply). */
        (void)tf_json_diff_apply_bson(&doc, "j", 1, buf, size, &after, &err);
        bson_destroy(&after);
    }
    bson_destroy(&doc);
    bson_free(tf_json_binary_to_text(buf, size, &err));
    size_t pos = 0;
    while (pos < size) {
        tf_json_diff diff;
        size_t before = pos;
        if (tf_json_diff_next(buf, size, &pos, &diff, &err) != TF_OK)
            break;
        if (pos <= before || pos > size)
            __builtin_trap(); /* must advance and stay inside */
    }
    free(buf);
    return 0;
}
