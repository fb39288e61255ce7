/* test_tap_flow_builder.c — the statement-at-a-time flow builder the tap
 * shell runs (view/flow_parse.c, tf_flow_builder_*): the guide's
 * statements one by one give the same spec as the flow file, each call is
 * reported in order, tf_flow_spec_to_text reads back to the same hash, and
 * errors name the statement's line and column. */
#include "support.h"

#include "view.h"

#include <stdlib.h>
#include <string.h>

#ifndef TF_VECTORS_DIR
#error TF_VECTORS_DIR must be defined by the build
#endif

typedef struct calls {
    char log[2048];
    const char *fail_on; /* method whose report fails */
} calls;

static bool record(void *arg, tf_flow_spec *spec, const char *method, tf_flow_pos pos,
                   tf_error *err)
{
    calls *c = arg;
    snprintf(c->log + strlen(c->log), sizeof c->log - strlen(c->log), "%s:%s@%u;", spec->name,
             method, pos.line);
    if (c->fail_on && strcmp(c->fail_on, method) == 0) {
        tf_error_set(err, TF_ERR_TARGET, 0, "cannot %s", method);
        return false;
    }
    return true;
}

static tf_status run(tf_flow_builder *b, const char *text, unsigned line, calls *c, tf_error *err)
{
    return tf_flow_builder_run(b, text, strlen(text), "guide.tap", line, record, c, err);
}

static void test_guide_statements_one_by_one(void **state)
{
    (void)state;
    size_t len = 0;
    char *file =
        (char *)tf_test_read_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &len);
    assert_non_null(file);
    tf_flow_spec *whole = NULL;
    tf_error err = {0};
    assert_int_equal(tf_flow_parse(file, len, "guide.tap", &whole, &err), TF_OK);
    /* Split the file into statements the way the shell reads it: lines
     * until the text is complete. */
    tf_flow_builder *b = tf_flow_builder_new();
    calls c = {0};
    char *buf = calloc(len + 1, 1);
    unsigned line = 0, first = 0;
    for (char *p = file; p < file + len;) {
        char *nl = memchr(p, '\n', (size_t)(file + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(file + len - p);
        line++;
        if (!buf[0])
            first = line;
        strncat(buf, p, n);
        if (tf_flow_text_complete(buf, strlen(buf))) {
            if (run(b, buf, first, &c, &err) != TF_OK)
                fail_msg("statement at line %u: %s", first, err.message);
            buf[0] = '\0';
        } else {
            strcat(buf, "\n");
        }
        p += n + 1;
    }
    assert_string_equal(c.log, "Order_SingleView_Sync:read_from@7;Order_SingleView_Sync:lookup@10;"
                               "Order_SingleView_Sync:lookup@15;Order_SingleView_Sync:lookup@20;"
                               "Order_SingleView_Sync:lookup@25;Order_SingleView_Sync:lookup@30;"
                               "Order_SingleView_Sync:write_to@36;Order_SingleView_Sync:save@38;"
                               "Order_SingleView_Sync:start@39;");
    tf_flow_spec *spec = tf_flow_builder_get(b, "orderFlow");
    assert_non_null(spec);
    assert_int_equal(tf_flow_spec_check(spec, &err), TF_OK);
    char h1[TF_FLOW_HASH_HEX_LEN + 1], h2[TF_FLOW_HASH_HEX_LEN + 1], h3[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(whole, h1);
    tf_flow_spec_hash(spec, h2);
    assert_string_equal(h1, h2);
    /* The text form reads back to the same flow. */
    char *text = tf_flow_spec_to_text(spec, "flow");
    tf_flow_spec *again = NULL;
    if (tf_flow_parse(text, strlen(text), "saved.tap", &again, &err) != TF_OK)
        fail_msg("%s\n%s", err.message, text);
    tf_flow_spec_hash(again, h3);
    assert_string_equal(h1, h3);
    tf_flow_spec_destroy(again);
    bson_free(text);
    tf_flow_spec_destroy(whole);
    tf_flow_builder_destroy(b);
    free(buf);
    free(file);
}

static void test_names_and_rebinding(void **state)
{
    (void)state;
    tf_flow_builder *b = tf_flow_builder_new();
    calls c = {0};
    tf_error err = {0};
    assert_int_equal(run(b, "a = Flow(\"A\"); b = a; a = Flow(\"B\")", 1, &c, &err), TF_OK);
    assert_string_equal(tf_flow_builder_get(b, "a")->name, "B");
    assert_string_equal(tf_flow_builder_get(b, "b")->name, "A");
    assert_int_equal(run(b, "b.read_from(\"S.t\").status()", 2, &c, &err), TF_OK);
    assert_string_equal(c.log, "A:read_from@2;A:status@2;");
    /* Flow() without a name bound is a flow for that statement only. */
    assert_int_equal(run(b, "Flow(\"C\").stop()", 3, &c, &err), TF_OK);
    assert_non_null(strstr(c.log, "C:stop@3;"));
    assert_null(tf_flow_builder_get(b, "c"));
    /* Names in strings keep their escapes through the text form. */
    assert_int_equal(
        run(b, "q = Flow(\"x\\\"y\"); q.read_from(\"S.t\"); q.write_to(\"M.c\")", 4, &c, &err),
        TF_OK);
    char *text = tf_flow_spec_to_text(tf_flow_builder_get(b, "q"), "f");
    tf_flow_spec *back = NULL;
    assert_int_equal(tf_flow_parse(text, strlen(text), "q.tap", &back, &err), TF_OK);
    assert_string_equal(back->name, "x\"y");
    tf_flow_spec_destroy(back);
    bson_free(text);
    tf_flow_builder_destroy(b);
}

static void test_errors(void **state)
{
    (void)state;
    tf_flow_builder *b = tf_flow_builder_new();
    calls c = {0};
    tf_error err = {0};
    assert_int_equal(run(b, "f = Flow(\"F\")", 1, &c, &err), TF_OK);
    assert_int_equal(run(b, "g.save()", 7, &c, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "guide.tap:7:1: unknown name 'g' (define it with g = Flow(\"name\"))");
    assert_int_equal(run(b, "f.explode()", 2, &c, &err), TF_MALFORMED);
    assert_string_equal(err.message, "guide.tap:2:3: unknown method 'explode' of a flow (expected "
                                     "read_from, filter, include, exclude, rename_fields, "
                                     "add_fields, lookup, write_to, save, start, stop or "
                                     "status)");
    assert_int_equal(run(b, "f.save(1)", 3, &c, &err), TF_MALFORMED);
    assert_int_equal(run(b, "f.read_from(\"S.a\")", 4, &c, &err), TF_OK);
    assert_int_equal(run(b, "f.read_from(\"S.b\")", 5, &c, &err), TF_MALFORMED);
    assert_string_equal(err.message, "guide.tap:5:3: read_from given twice (first at line 4)");
    assert_int_equal(run(b, "f.write_to(\"M.c\"); f.write_to(\"M.d\")", 6, &c, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "guide.tap:6:22: write_to given twice (the flow writes to M.c)");
    /* A callback's failure stops the run and keeps its own message. */
    c.fail_on = "save";
    c.log[0] = '\0';
    assert_int_equal(run(b, "f.save().start()", 8, &c, &err), TF_MALFORMED);
    assert_string_equal(err.message, "cannot save");
    assert_string_equal(c.log, "F:save@8;");
    /* An incomplete spec fails the whole-flow check. */
    assert_int_equal(run(b, "h = Flow(\"H\")", 9, &c, &err), TF_OK);
    assert_int_equal(tf_flow_spec_check(tf_flow_builder_get(b, "h"), &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "has no read_from"));
    tf_flow_builder_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide_statements_one_by_one),
        cmocka_unit_test(test_names_and_rebinding),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
