/* test_sink_helpers.c — the sink's pure parts, no server: URI redaction,
 * the backoff schedule, which driver errors are transient, and who owns the
 * BSON of a document operation (leaks show under ASan and valgrind). */
#include "sink.h"

#include <mongoc/mongoc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void redacted(const char *uri, const char *expected)
{
    char out[256];
    tf_sink_redact_uri(uri, out, sizeof out);
    assert_string_equal(out, expected);
}

static void test_redact_user_and_password(void **state)
{
    (void)state;
    redacted("mongodb://tapflow:s3cret@127.0.0.1:27118/db", "mongodb://***@127.0.0.1:27118/db");
    redacted("mongodb+srv://u:p@cluster0.example.net/?retryWrites=true",
             "mongodb+srv://***@cluster0.example.net/?retryWrites=true");
}

static void test_redact_user_without_password(void **state)
{
    (void)state;
    redacted("mongodb://admin@h1:1,h2:2/x", "mongodb://***@h1:1,h2:2/x");
}

static void test_redact_password_holding_at_and_slash(void **state)
{
    (void)state;
    /* A sloppy, unescaped password: the last '@' before '?' still ends it. */
    redacted("mongodb://u:p@ss/w@rd@host:1/db?authSource=admin",
             "mongodb://***@host:1/db?authSource=admin");
}

static void test_redact_keeps_uri_without_credentials(void **state)
{
    (void)state;
    redacted("mongodb://127.0.0.1:27118/", "mongodb://127.0.0.1:27118/");
    /* '@' in the options is not user info. */
    redacted("mongodb://h/db?appname=a@b", "mongodb://h/db?appname=a@b");
}

static void test_redact_truncates_and_terminates(void **state)
{
    (void)state;
    char out[12];
    tf_sink_redact_uri("mongodb://u:p@hostname:1/", out, sizeof out);
    assert_string_equal(out, "mongodb://*");
}

static void test_backoff_schedule_doubles_to_the_cap(void **state)
{
    (void)state;
    const int64_t expected[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (unsigned i = 0; i < sizeof expected / sizeof expected[0]; i++)
        assert_int_equal(tf_sink_backoff_ms(i, 100, 5000), expected[i]);
    /* No overflow for absurd attempt numbers. */
    assert_int_equal(tf_sink_backoff_ms(1000, 100, 5000), 5000);
    assert_int_equal(tf_sink_backoff_ms(0, 0, 5000), 1);
}

static bson_error_t driver_error(uint32_t domain, uint32_t code)
{
    bson_error_t e;
    memset(&e, 0, sizeof e);
    e.domain = domain;
    e.code = code;
    return e;
}

static void test_transient_network_and_selection_errors(void **state)
{
    (void)state;
    bson_error_t e = driver_error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET);
    assert_true(tf_sink_error_is_transient(&e, NULL));
    e = driver_error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE);
    assert_true(tf_sink_error_is_transient(&e, NULL));
}

static void test_transient_not_primary_codes(void **state)
{
    (void)state;
    const uint32_t codes[] = {10107, 13435, 13436, 189, 91, 11600, 11602, 64, 9001};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        bson_error_t e = driver_error(MONGOC_ERROR_SERVER, codes[i]);
        assert_true(tf_sink_error_is_transient(&e, NULL));
        e = driver_error(MONGOC_ERROR_WRITE_CONCERN, codes[i]);
        assert_true(tf_sink_error_is_transient(&e, NULL));
    }
}

static void test_fatal_duplicate_key_validation_not_implemented(void **state)
{
    (void)state;
    const uint32_t codes[] = {11000, 121, 238, 2, 9, 52};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        bson_error_t e = driver_error(MONGOC_ERROR_SERVER, codes[i]);
        assert_false(tf_sink_error_is_transient(&e, NULL));
    }
    /* A driver-side refusal (invalid document) is never transient either. */
    bson_error_t e = driver_error(MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG);
    assert_false(tf_sink_error_is_transient(&e, NULL));
}

static void test_transient_when_reply_labelled_retryable(void **state)
{
    (void)state;
    bson_t *reply = BCON_NEW("ok", BCON_INT32(0), "code", BCON_INT32(1), "errorLabels", "[",
                             "RetryableWriteError", "]");
    bson_error_t e = driver_error(MONGOC_ERROR_SERVER, 1);
    assert_true(tf_sink_error_is_transient(&e, reply));
    bson_destroy(reply);
}

static void test_doc_op_steal_owns_and_frees(void **state)
{
    (void)state;
    tf_doc_op op;
    tf_doc_op_update_many_steal(&op, BCON_NEW("order_items.product_id", "P1"),
                                BCON_NEW("order_items.$[it].product.name", "new"), NULL,
                                BCON_NEW("0", "{", "it.product_id", "P1", "}"));
    assert_int_equal(op.kind, TF_DOC_OP_UPDATE_MANY);
    assert_true(op.owns_bson);
    assert_null(op.unset);
    assert_int_equal(tf_doc_op_size(&op), op.filter->len + op.set->len + op.array_filters->len);
    tf_doc_op_cleanup(&op); /* frees all three: ASan/valgrind would report a leak */
    assert_int_equal(op.kind, TF_DOC_OP_NONE);
    assert_null(op.filter);
}

static void test_doc_op_borrow_leaves_bson_to_caller(void **state)
{
    (void)state;
    bson_t *key = BCON_NEW("order_id", "A");
    bson_t *doc = BCON_NEW("order_id", "A", "n", BCON_INT32(1));
    tf_doc_op op;
    tf_doc_op_replace_borrow(&op, key, doc);
    assert_false(op.owns_bson);
    assert_ptr_equal(op.document, doc);
    tf_doc_op_cleanup(&op);
    /* Still ours and intact. */
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, doc, "n"));
    assert_int_equal(bson_iter_int32(&it), 1);
    bson_destroy(key);
    bson_destroy(doc);
}

/* ---- _id derived from the root key -------------------------------------- */

/* Expected values computed outside this code: Python's
 * hashlib.sha256(bytes.fromhex(<canonical BSON>)).hexdigest()[:24], the
 * canonical BSON written by hand from the BSON spec (int32 -> int64). */
static void expect_derived(const bson_t *key, const char *oid_hex)
{
    bson_oid_t got;
    tf_error err = {0};
    if (!tf_sink_derive_id(key, &got, &err))
        fail_msg("tf_sink_derive_id: %s", err.message);
    char got_hex[25];
    bson_oid_to_string(&got, got_hex);
    assert_string_equal(got_hex, oid_hex);
}

static void assert_bson_hex(const bson_t *doc, const char *hex)
{
    char out[256] = "";
    const uint8_t *data = bson_get_data(doc);
    assert_true(doc->len * 2 < sizeof out);
    for (uint32_t i = 0; i < doc->len; i++)
        snprintf(out + 2 * i, 3, "%02x", data[i]);
    assert_string_equal(out, hex);
}

static void test_derived_id_of_a_string_key_is_sha256_of_its_bson(void **state)
{
    (void)state;
    /* The guide's first order. */
    static const char hex[] = "34000000026f726465725f696400210000006534383166353163626463353436"
                              "3738623763633439313336663264366166370000";
    bson_t *key = BCON_NEW("order_id", "e481f51cbdc54678b7cc49136f2d6af7");
    assert_bson_hex(key, hex);
    expect_derived(key, "cbe8d14751539f71e14b7ef2");
    bson_destroy(key);
    bson_t *b = BCON_NEW("order_id", "B");
    assert_bson_hex(b, "15000000026f726465725f69640002000000420000");
    expect_derived(b, "ddadab3f4b196d50e8200e2a");
    bson_destroy(b);
}

static void test_derived_id_same_for_int32_and_int64_of_a_key(void **state)
{
    (void)state;
    /* canonical (the int64 form): */
    static const char hex64[] = "1100000012696400070000000000000000";
    bson_t *as64 = BCON_NEW("id", BCON_INT64(7));
    bson_t *as32 = BCON_NEW("id", BCON_INT32(7));
    assert_bson_hex(as64, hex64);
    expect_derived(as64, "54a447488478ce0a3c2672ba");
    expect_derived(as32, "54a447488478ce0a3c2672ba");
    bson_destroy(as64);
    bson_destroy(as32);
    /* A composite key keeps its column order; its int32 is widened too. */
    bson_t *composite = BCON_NEW("order_id", "X", "order_item_id", BCON_INT32(1));
    /* canonical: 2c000000026f726465725f696400020000005800126f726465725f6974656d5f6964
     * 00010000000000000000 */
    expect_derived(composite, "f5ceb5edbe0b74d361dccd02");
    bson_destroy(composite);
    /* Other values, other ids. */
    bson_oid_t a, b;
    tf_error err = {0};
    bson_t *k1 = BCON_NEW("id", BCON_INT64(8));
    bson_t *k2 = BCON_NEW("id", "7");
    assert_true(tf_sink_derive_id(k1, &a, &err));
    assert_true(tf_sink_derive_id(k2, &b, &err));
    char ha[25], hb[25];
    bson_oid_to_string(&a, ha);
    bson_oid_to_string(&b, hb);
    assert_string_not_equal(ha, "54a447488478ce0a3c2672ba");
    assert_string_not_equal(hb, "54a447488478ce0a3c2672ba");
    bson_destroy(k1);
    bson_destroy(k2);
}

static void test_derived_id_refuses_empty_key_and_key_naming_id(void **state)
{
    (void)state;
    bson_oid_t id;
    tf_error err = {0};
    bson_t empty = BSON_INITIALIZER;
    assert_false(tf_sink_derive_id(&empty, &id, &err));
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    assert_non_null(strstr(err.message, "root key is empty"));
    bson_t *with_id = BCON_NEW("_id", BCON_INT32(1));
    memset(&err, 0, sizeof err);
    assert_false(tf_sink_derive_id(with_id, &id, &err));
    assert_non_null(strstr(err.message, "names _id"));
    bson_destroy(with_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_user_and_password),
        cmocka_unit_test(test_redact_user_without_password),
        cmocka_unit_test(test_redact_password_holding_at_and_slash),
        cmocka_unit_test(test_redact_keeps_uri_without_credentials),
        cmocka_unit_test(test_redact_truncates_and_terminates),
        cmocka_unit_test(test_backoff_schedule_doubles_to_the_cap),
        cmocka_unit_test(test_transient_network_and_selection_errors),
        cmocka_unit_test(test_transient_not_primary_codes),
        cmocka_unit_test(test_fatal_duplicate_key_validation_not_implemented),
        cmocka_unit_test(test_transient_when_reply_labelled_retryable),
        cmocka_unit_test(test_doc_op_steal_owns_and_frees),
        cmocka_unit_test(test_doc_op_borrow_leaves_bson_to_caller),
        cmocka_unit_test(test_derived_id_of_a_string_key_is_sha256_of_its_bson),
        cmocka_unit_test(test_derived_id_same_for_int32_and_int64_of_a_key),
        cmocka_unit_test(test_derived_id_refuses_empty_key_and_key_naming_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
