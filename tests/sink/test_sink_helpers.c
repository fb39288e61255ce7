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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
