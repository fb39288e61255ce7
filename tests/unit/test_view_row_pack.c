/* test_view_row_pack.c — held rows' packed values (view/row_pack.c).
 *
 * Every BSON type a row document can hold (and the edges of each: empty,
 * hex and almost-hex strings, integer limits, dates before 1970, decimals
 * that do and do not fit the short form, nested documents, binaries)
 * packs and unpacks to the same bytes; single elements, omitted, renamed
 * and skipped primary key columns come out as the document had them; the
 * packed form is smaller where it should be; and packed bytes from
 * outside (a saved state) are checked: every truncation and a run of
 * random byte strings are refused or, when accepted, unpack to a valid
 * document that packs back to the same bytes. */
#include "support.h"

#include "view_internal.h"

#include <stdlib.h>
#include <string.h>

static tf_column *columns_for(const bson_t *doc, size_t *count)
{
    bson_iter_t it;
    size_t n = 0;
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it))
        n++;
    tf_column *cols = calloc(n ? n : 1, sizeof *cols);
    bson_iter_init(&it, doc);
    for (size_t i = 0; bson_iter_next(&it); i++) {
        cols[i].name.ptr = bson_iter_key(&it);
        cols[i].name.len = strlen(bson_iter_key(&it));
    }
    *count = n;
    return cols;
}

/* Packs doc, unpacks it, checks the bytes; returns the packed length. */
static size_t round_trip(const bson_t *doc)
{
    size_t n;
    tf_column *cols = columns_for(doc, &n);
    view_buf packed = {0}, back = {0};
    assert_true(view_pack_doc(&packed, bson_get_data(doc), doc->len, n));
    assert_true(view_pack_check(packed.ptr, packed.len, n));
    view_unpack_doc(&back, packed.ptr, packed.len, cols, n);
    assert_int_equal(back.len, doc->len);
    assert_memory_equal(back.ptr, bson_get_data(doc), doc->len);
    /* Each element alone, as the document holds it. */
    view_buf scratch = {0};
    size_t pos = 0;
    view_raw_element want;
    for (size_t i = 0; view_raw_next(bson_get_data(doc), doc->len, &pos, &want); i++) {
        view_raw_element el;
        assert_true(view_unpack_element(&scratch, packed.ptr, packed.len, cols, n, i, &el));
        assert_int_equal(el.len, want.len);
        assert_memory_equal(el.start, want.start, want.len);
    }
    view_raw_element el;
    assert_false(view_unpack_element(&scratch, packed.ptr, packed.len, cols, n, n, &el));
    size_t len = packed.len;
    view_buf_cleanup(&packed);
    view_buf_cleanup(&back);
    view_buf_cleanup(&scratch);
    free(cols);
    return len;
}

static void test_every_type(void **state)
{
    (void)state;
    bson_t doc = BSON_INITIALIZER;
    bson_append_null(&doc, "null", -1);
    bson_append_utf8(&doc, "empty", -1, "", 0);
    bson_append_utf8(&doc, "text", -1, "são paulo", -1);
    bson_append_utf8(&doc, "hex_lower", -1, "e6c8b6c881c371eaa32484aad1aac6de", -1);
    bson_append_utf8(&doc, "hex_upper", -1, "E6C8B6C881C371EAA32484AAD1AAC6DE", -1);
    bson_append_utf8(&doc, "hex_mixed", -1, "e6C8", -1);
    bson_append_utf8(&doc, "hex_odd", -1, "abc", -1);
    bson_append_utf8(&doc, "digits", -1, "20221", -1);
    bson_append_utf8(&doc, "digits_even", -1, "0123", -1);
    bson_append_utf8(&doc, "hex_g", -1, "abcg", -1);
    bson_append_utf8(&doc, "nul_inside", -1, "a\0b", 3);
    bson_append_int32(&doc, "i32_min", -1, INT32_MIN);
    bson_append_int32(&doc, "i32_max", -1, INT32_MAX);
    bson_append_int32(&doc, "i32_zero", -1, 0);
    bson_append_int32(&doc, "i32_neg", -1, -1);
    bson_append_int64(&doc, "i64_min", -1, INT64_MIN);
    bson_append_int64(&doc, "i64_max", -1, INT64_MAX);
    bson_append_date_time(&doc, "date", -1, 1520010189000);
    bson_append_date_time(&doc, "date_before_1970", -1, -62135596800000);
    bson_append_double(&doc, "double", -1, -1.5e300);
    bson_decimal128_t dec;
    assert_true(bson_decimal128_from_string("101.21", &dec));
    bson_append_decimal128(&doc, "decimal", -1, &dec);
    assert_true(bson_decimal128_from_string("-0.000001", &dec));
    bson_append_decimal128(&doc, "decimal_neg", -1, &dec);
    assert_true(bson_decimal128_from_string("1234567890123456789012345678901234", &dec));
    bson_append_decimal128(&doc, "decimal_big", -1, &dec);
    assert_true(bson_decimal128_from_string("NaN", &dec));
    bson_append_decimal128(&doc, "decimal_nan", -1, &dec);
    bson_append_bool(&doc, "bool", -1, true);
    static const uint8_t bin[] = {0, 1, 2, 255};
    bson_append_binary(&doc, "binary", -1, BSON_SUBTYPE_BINARY, bin, sizeof bin);
    bson_t sub;
    bson_append_document_begin(&doc, "json", -1, &sub);
    bson_append_utf8(&sub, "k", -1, "v", -1);
    bson_append_document_end(&doc, &sub);
    bson_append_array_begin(&doc, "set", -1, &sub);
    bson_append_utf8(&sub, "0", -1, "red", -1);
    bson_append_array_end(&doc, &sub);
    round_trip(&doc);
    bson_destroy(&doc);
}

static void test_smaller(void **state)
{
    (void)state;
    /* An Olist order row: two 32-digit ids, a status, five datetimes. */
    bson_t doc = BSON_INITIALIZER;
    bson_append_utf8(&doc, "order_id", -1, "e6c8b6c881c371eaa32484aad1aac6de", -1);
    bson_append_utf8(&doc, "customer_id", -1, "b036355f49f9350663bced25531ecb09", -1);
    bson_append_utf8(&doc, "order_status", -1, "delivered", -1);
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "order_time_%d", i);
        bson_append_date_time(&doc, key, -1, 1520010189000 + i * 86400000LL);
    }
    size_t packed = round_trip(&doc);
    assert_true(packed <= 1 + 17 + 1 + 17 + 1 + 10 + 5 * 7);
    assert_true(packed * 2 < doc.len);
    bson_destroy(&doc);
}

static void test_omit_rename_and_skip_pk(void **state)
{
    (void)state;
    bson_t doc = BSON_INITIALIZER;
    bson_append_utf8(&doc, "id", -1, "ab01", -1);
    bson_append_int32(&doc, "rel", -1, 7);
    bson_append_utf8(&doc, "name", -1, "x", -1);
    size_t n;
    tf_column *cols = columns_for(&doc, &n);
    cols[0].is_primary_key = true;
    view_buf packed = {0}, out = {0};
    assert_true(view_pack_doc(&packed, bson_get_data(&doc), doc.len, n));
    bool omit[3] = {false, true, false};
    size_t at = view_raw_open(&out);
    const char *renamed[3] = {NULL, NULL, "title"};
    view_unpack_elements(&out, packed.ptr, packed.len, cols, n, omit, renamed, true);
    view_raw_close(&out, at);
    bson_t got;
    assert_true(bson_init_static(&got, out.ptr, out.len));
    char *json = bson_as_relaxed_extended_json(&got, NULL);
    assert_string_equal(json, "{ \"title\" : \"x\" }");
    bson_free(json);
    view_buf_cleanup(&packed);
    view_buf_cleanup(&out);
    free(cols);
    bson_destroy(&doc);
}

static void test_column_count_checked(void **state)
{
    (void)state;
    bson_t doc = BSON_INITIALIZER;
    bson_append_int32(&doc, "a", -1, 1);
    bson_append_int32(&doc, "b", -1, 2);
    view_buf packed = {0};
    assert_false(view_pack_doc(&packed, bson_get_data(&doc), doc.len, 3));
    assert_int_equal(packed.len, 0);
    assert_true(view_pack_doc(&packed, bson_get_data(&doc), doc.len, 2));
    assert_false(view_pack_check(packed.ptr, packed.len, 1));
    assert_false(view_pack_check(packed.ptr, packed.len, 3));
    assert_true(view_pack_check(packed.ptr, packed.len, 2));
    view_buf_cleanup(&packed);
    bson_destroy(&doc);
}

/* Accepted bytes unpack to a valid document of n elements, which packs
 * and unpacks to itself (accepted bytes need not be the canonical form
 * view_pack_doc writes: a hex string may come as plain text). */
static void check_accepted(const uint8_t *p, size_t len, size_t n)
{
    tf_column cols[8];
    static const char *names[] = {"a", "bb", "c", "d", "e", "f", "g", "h"};
    for (size_t i = 0; i < 8; i++) {
        memset(&cols[i], 0, sizeof cols[i]);
        cols[i].name.ptr = names[i];
        cols[i].name.len = strlen(names[i]);
    }
    view_buf doc = {0}, again = {0}, doc2 = {0};
    view_unpack_doc(&doc, p, len, cols, n);
    bson_t b;
    assert_true(bson_init_static(&b, doc.ptr, doc.len));
    assert_true(bson_validate(&b, BSON_VALIDATE_NONE, NULL));
    assert_int_equal(bson_count_keys(&b), n);
    assert_true(view_pack_doc(&again, doc.ptr, doc.len, n));
    view_unpack_doc(&doc2, again.ptr, again.len, cols, n);
    assert_int_equal(doc2.len, doc.len);
    assert_memory_equal(doc2.ptr, doc.ptr, doc.len);
    view_buf_cleanup(&doc);
    view_buf_cleanup(&again);
    view_buf_cleanup(&doc2);
}

static void test_malformed_refused(void **state)
{
    (void)state;
    bson_t doc = BSON_INITIALIZER, sub;
    bson_append_utf8(&doc, "a", -1, "e6c8b6c881c371ea", -1);
    bson_append_date_time(&doc, "bb", -1, -5);
    bson_append_document_begin(&doc, "c", -1, &sub);
    bson_append_int64(&sub, "x", -1, 9);
    bson_append_document_end(&doc, &sub);
    bson_decimal128_t dec;
    assert_true(bson_decimal128_from_string("3.14", &dec));
    bson_append_decimal128(&doc, "d", -1, &dec);
    view_buf packed = {0};
    assert_true(view_pack_doc(&packed, bson_get_data(&doc), doc.len, 4));
    for (size_t cut = 0; cut < packed.len; cut++)
        assert_false(view_pack_check(packed.ptr, cut, 4));
    /* A nested document whose inside is broken. */
    uint8_t bad_nested[] = {10 /* other */, BSON_TYPE_DOCUMENT, 6, 6, 0, 0, 0, 0x7f, 0};
    assert_false(view_pack_check(bad_nested, sizeof bad_nested, 1));
    /* An int32 out of range, an unknown tag, an overlong varint. */
    uint8_t big_int32[] = {4, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_false(view_pack_check(big_int32, sizeof big_int32, 1));
    uint8_t unknown[] = {99};
    assert_false(view_pack_check(unknown, sizeof unknown, 1));
    uint8_t overlong[] = {5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_false(view_pack_check(overlong, sizeof overlong, 1));
    /* Random bytes: never a crash; what is accepted is exact. */
    srand(42);
    uint8_t buf[48];
    size_t accepted = 0;
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)(rand() % 4 ? rand() % 12 : rand());
        size_t n = (size_t)(rand() % 8);
        if (view_pack_check(buf, len, n)) {
            check_accepted(buf, len, n);
            accepted++;
        }
    }
    assert_true(accepted > 1000);
    view_buf_cleanup(&packed);
    bson_destroy(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_smaller),
        cmocka_unit_test(test_omit_rename_and_skip_pk),
        cmocka_unit_test(test_column_count_checked),
        cmocka_unit_test(test_malformed_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
