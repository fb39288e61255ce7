/* fuzz_row_pack.c — libFuzzer harness for held rows' packed values
 * (view/row_pack.c), which a saved view state brings back from outside.
 *
 * Input: a column count (1 byte, 0-15), then bytes read two ways: as
 * packed values (accepted only whole; then they must unpack to a valid
 * BSON document of that many elements that packs and unpacks to itself)
 * and as a BSON document (when valid and of that many elements, packing
 * and unpacking must give back its bytes exactly). */
#include "view_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const tf_column *columns(void)
{
    static tf_column cols[16];
    static const char *names[16] = {"a", "b", "c", "d", "e", "f", "g", "h",
                                    "i", "j", "k", "l", "m", "n", "o", "p"};
    for (size_t i = 0; i < 16; i++) {
        cols[i].name.ptr = names[i];
        cols[i].name.len = 1;
    }
    return cols;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = data[0] % 16;
    const uint8_t *p = data + 1;
    size -= 1;
    const tf_column *cols = columns();
    view_buf doc = {0}, again = {0}, doc2 = {0};
    if (view_pack_check(p, size, n)) {
        view_unpack_doc(&doc, p, size, cols, n);
        bson_t b;
        if (!bson_init_static(&b, doc.ptr, doc.len) ||
            !bson_validate(&b, BSON_VALIDATE_NONE, NULL) || bson_count_keys(&b) != n ||
            !view_pack_doc(&again, doc.ptr, doc.len, n))
            abort();
        view_unpack_doc(&doc2, again.ptr, again.len, cols, n);
        if (doc2.len != doc.len || memcmp(doc2.ptr, doc.ptr, doc.len) != 0)
            abort();
    }
    bson_t in;
    if (bson_init_static(&in, p, size) && bson_validate(&in, BSON_VALIDATE_NONE, NULL)) {
        /* Only documents whose keys are the column names come back as is. */
        bson_iter_t it;
        size_t i = 0;
        bool named = bson_iter_init(&it, &in);
        while (named && bson_iter_next(&it))
            named = i < 16 && strcmp(bson_iter_key(&it), cols[i++].name.ptr) == 0;
        again.len = doc.len = 0;
        if (named && i == n && view_pack_doc(&again, p, size, n)) {
            view_unpack_doc(&doc, again.ptr, again.len, cols, n);
            if (doc.len != size || memcmp(doc.ptr, p, size) != 0)
                abort();
        }
    }
    view_buf_cleanup(&doc);
    view_buf_cleanup(&again);
    view_buf_cleanup(&doc2);
    return 0;
}
