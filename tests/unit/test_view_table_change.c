/* test_view_table_change.c — TRUNCATE, a new column list (ALTER TABLE)
 * and re-sync rows on a small flow: orders (root) embedding its customer
 * (object) and its items (array). */
#include "support.h"

#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOW                                                                                \
    "f = Flow('O').read_from('S.orders')\n"                                                 \
    "f.lookup('S.customers', path='customer', type='object', "                              \
    "relation=[['customer_id','customer_id']])\n"                                           \
    "f.lookup('S.items', path='items', type='array', relation=[['order_id','order_id']])\n" \
    "f.write_to('T.v')\n"

typedef struct fx {
    tf_flow_spec *spec;
    tf_view *view;
    tf_view_ops ops;
} fx;

static void define_customers(tf_view *view, bool with_rating, bool with_name)
{
    tf_error err = {0};
    tf_column c[3];
    size_t n = 0;
    c[n++] = tf_test_column("customer_id", TF_TYPE_VARCHAR, true);
    if (with_name)
        c[n++] = tf_test_column("name", TF_TYPE_VARCHAR, false);
    if (with_rating)
        c[n++] = tf_test_column("rating", TF_TYPE_LONG, false);
    assert_int_equal(tf_view_redefine_table(view, "customers", c, n, NULL, 0, &err), TF_OK);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tf_error err = {0};
    assert_int_equal(tf_flow_parse(FLOW, strlen(FLOW), "f.tap", &f->spec, &err), TF_OK);
    f->view = tf_view_new(f->spec);
    tf_view_ops_init(&f->ops);
    tf_column o[2] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("customer_id", TF_TYPE_VARCHAR, false)};
    assert_int_equal(tf_view_define_table(f->view, "orders", o, 2, NULL, 0, &err), TF_OK);
    define_customers(f->view, false, true);
    tf_column it[3] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                       tf_test_column("item_id", TF_TYPE_LONG, true),
                       tf_test_column("sku", TF_TYPE_VARCHAR, false)};
    assert_int_equal(tf_view_define_table(f->view, "items", it, 3, NULL, 0, &err), TF_OK);
    assert_true(tf_view_ready(f->view));
    /* O1 and O2 of customer C1; O1 has two items */
    tf_value c1[2] = {tf_test_str("C1"), tf_test_str("Ann")};
    tf_value o1[2] = {tf_test_str("O1"), tf_test_str("C1")},
             o2[2] = {tf_test_str("O2"), tf_test_str("C1")};
    tf_value i1[3] = {tf_test_str("O1"), tf_test_int(1), tf_test_str("pen")},
             i2[3] = {tf_test_str("O1"), tf_test_int(2), tf_test_str("ink")};
    assert_int_equal(tf_view_apply(f->view, "customers", TF_VIEW_INSERT, NULL, c1, &err), TF_OK);
    assert_int_equal(tf_view_apply(f->view, "orders", TF_VIEW_INSERT, NULL, o1, &err), TF_OK);
    assert_int_equal(tf_view_apply(f->view, "orders", TF_VIEW_INSERT, NULL, o2, &err), TF_OK);
    assert_int_equal(tf_view_apply(f->view, "items", TF_VIEW_INSERT, NULL, i1, &err), TF_OK);
    assert_int_equal(tf_view_apply(f->view, "items", TF_VIEW_INSERT, NULL, i2, &err), TF_OK);
    assert_int_equal(tf_view_flush(f->view, &f->ops, &err), TF_OK);
    tf_view_ops_clear(&f->ops);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tf_view_ops_cleanup(&f->ops);
    tf_view_destroy(f->view);
    tf_flow_spec_destroy(f->spec);
    free(f);
    return 0;
}

/* The flush's ops, described, joined by '\n' (bson_free). */
static char *flush_text(fx *f)
{
    tf_error err = {0};
    assert_int_equal(tf_view_flush(f->view, &f->ops, &err), TF_OK);
    char *all = bson_strdup("");
    for (size_t i = 0; i < f->ops.count; i++) {
        char *one = tf_view_op_describe(&f->ops.ops[i]);
        char *next = bson_strdup_printf("%s%s\n", all, one);
        bson_free(one);
        bson_free(all);
        all = next;
    }
    tf_view_ops_clear(&f->ops);
    return all;
}

static void test_truncate_of_array_lookup_empties_the_arrays(void **state)
{
    fx *f = *state;
    assert_int_equal(tf_view_truncate(f->view, "items"), 2);
    assert_int_equal(tf_view_table_row_count(f->view, "items"), 0);
    char *ops = flush_text(f);
    assert_non_null(strstr(ops, "\"order_id\" : \"O1\""));
    assert_non_null(strstr(ops, "\"items\" : [  ]"));
    assert_null(strstr(ops, "pen"));
    bson_free(ops);
}

static void test_truncate_of_root_deletes_every_document(void **state)
{
    fx *f = *state;
    assert_int_equal(tf_view_truncate(f->view, "orders"), 2);
    char *ops = flush_text(f);
    assert_string_equal(ops,
                        "delete { \"order_id\" : \"O1\" }\ndelete { \"order_id\" : \"O2\" }\n");
    bson_free(ops);
}

static void test_truncate_of_unknown_or_empty_table_does_nothing(void **state)
{
    fx *f = *state;
    assert_int_equal(tf_view_truncate(f->view, "payments"), 0);
    assert_int_equal(tf_view_truncate(f->view, "items"), 2);
    char *ops = flush_text(f);
    bson_free(ops);
    assert_int_equal(tf_view_truncate(f->view, "items"), 0);
    ops = flush_text(f);
    assert_string_equal(ops, "");
    bson_free(ops);
}

static void test_added_column_is_null_until_resync_and_marks_nothing(void **state)
{
    fx *f = *state;
    define_customers(f->view, true, true);
    char *ops = flush_text(f);
    assert_string_equal(ops, "");
    bson_free(ops);
    /* the row as re-read: rating 5 */
    tf_error err = {0};
    tf_value c1[3] = {tf_test_str("C1"), tf_test_str("Ann"), tf_test_int(5)};
    bool changed = false;
    assert_int_equal(tf_view_resync_row(f->view, "customers", c1, false, &changed, &err), TF_OK);
    assert_true(changed);
    ops = flush_text(f);
    assert_non_null(strstr(ops, "\"customer\" : { \"name\" : \"Ann\", \"rating\" : 5 }"));
    assert_non_null(strstr(ops, "\"O2\""));
    bson_free(ops);
}

static void test_dropped_column_leaves_documents_on_forced_resync(void **state)
{
    fx *f = *state;
    define_customers(f->view, false, false); /* name dropped */
    tf_error err = {0};
    tf_value c1[1] = {tf_test_str("C1")};
    bool changed = false;
    /* same values as the remapped row: only a forced re-sync rewrites */
    assert_int_equal(tf_view_resync_row(f->view, "customers", c1, false, &changed, &err), TF_OK);
    assert_false(changed);
    assert_int_equal(tf_view_resync_row(f->view, "customers", c1, true, &changed, &err), TF_OK);
    assert_true(changed);
    char *ops = flush_text(f);
    assert_non_null(strstr(ops, "\"customer\" : {  }"));
    assert_null(strstr(ops, "Ann"));
    bson_free(ops);
}

static void test_new_column_list_keeps_joins_working(void **state)
{
    fx *f = *state;
    define_customers(f->view, true, true);
    tf_error err = {0};
    /* a later order of C1 still embeds the (remapped) customer */
    tf_value o3[2] = {tf_test_str("O3"), tf_test_str("C1")};
    assert_int_equal(tf_view_apply(f->view, "orders", TF_VIEW_INSERT, NULL, o3, &err), TF_OK);
    char *ops = flush_text(f);
    assert_non_null(strstr(ops, "\"O3\""));
    assert_non_null(strstr(ops, "\"customer\" : { \"name\" : \"Ann\", \"rating\" : null }"));
    bson_free(ops);
}

static void test_dropping_a_relation_column_is_an_error_naming_the_lookup(void **state)
{
    fx *f = *state;
    tf_error err = {0};
    tf_column it[2] = {tf_test_column("item_id", TF_TYPE_LONG, false),
                       tf_test_column("sku", TF_TYPE_VARCHAR, false)};
    it[0].is_primary_key = true;
    /* order_id (primary key and relation) gone */
    assert_int_equal(tf_view_redefine_table(f->view, "items", it, 2, NULL, 0, &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "table items: its primary key changed"));
    tf_column o[2] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("cust", TF_TYPE_VARCHAR, false)};
    assert_int_equal(tf_view_redefine_table(f->view, "orders", o, 2, NULL, 0, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "table orders: column customer_id was dropped or renamed, but lookup "
                        "\"customer\" (f.tap:2) joins on it: flow O cannot follow; change the "
                        "flow or the table");
    /* nothing changed */
    char *ops = flush_text(f);
    assert_string_equal(ops, "");
    bson_free(ops);
    assert_int_equal(tf_view_table_row_count(f->view, "orders"), 2);
}

static void test_resync_row_identical_is_not_a_change(void **state)
{
    fx *f = *state;
    tf_error err = {0};
    tf_value i1[3] = {tf_test_str("O1"), tf_test_int(1), tf_test_str("pen")};
    bool changed = true;
    assert_int_equal(tf_view_resync_row(f->view, "items", i1, false, &changed, &err), TF_OK);
    assert_false(changed);
    char *ops = flush_text(f);
    assert_string_equal(ops, "");
    bson_free(ops);
    tf_value i1b[3] = {tf_test_str("O1"), tf_test_int(1), tf_test_str("pencil")};
    assert_int_equal(tf_view_resync_row(f->view, "items", i1b, false, &changed, &err), TF_OK);
    assert_true(changed);
    ops = flush_text(f);
    assert_non_null(strstr(ops, "pencil"));
    bson_free(ops);
}

static bool collect_key(void *arg, const uint8_t *key, size_t len, const bson_t *doc)
{
    size_t *n = arg;
    (void)key;
    (void)len;
    assert_true(bson_has_field(doc, "sku"));
    (*n)++;
    return true;
}

static void test_delete_by_key_and_foreach(void **state)
{
    fx *f = *state;
    size_t n = 0;
    assert_int_equal(tf_view_foreach_row(f->view, "items", collect_key, &n), TF_OK);
    assert_int_equal(n, 2);
    tf_value i2[3] = {tf_test_str("O1"), tf_test_int(2), tf_test_str("whatever")};
    uint8_t *key = NULL;
    size_t len = 0;
    assert_true(tf_view_encode_key(f->view, "items", i2, &key, &len));
    assert_true(tf_view_delete_key(f->view, "items", key, len));
    assert_false(tf_view_delete_key(f->view, "items", key, len));
    bson_free(key);
    char *ops = flush_text(f);
    assert_non_null(strstr(ops, "pen"));
    assert_null(strstr(ops, "ink"));
    bson_free(ops);
    tf_value nul[3] = {{.kind = TF_VAL_NULL}, tf_test_int(1), tf_test_str("x")};
    assert_false(tf_view_encode_key(f->view, "items", nul, &key, &len));
}

static void test_table_matches(void **state)
{
    fx *f = *state;
    tf_column c[2] = {tf_test_column("customer_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("name", TF_TYPE_VARCHAR, false)};
    assert_true(tf_view_table_matches(f->view, "customers", c, 2));
    c[1].meta = 100;
    assert_false(tf_view_table_matches(f->view, "customers", c, 2));
    assert_false(tf_view_table_matches(f->view, "customers", c, 1));
    assert_false(tf_view_table_matches(f->view, "nope", c, 2));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_truncate_of_array_lookup_empties_the_arrays),
        T(test_truncate_of_root_deletes_every_document),
        T(test_truncate_of_unknown_or_empty_table_does_nothing),
        T(test_added_column_is_null_until_resync_and_marks_nothing),
        T(test_dropped_column_leaves_documents_on_forced_resync),
        T(test_new_column_list_keeps_joins_working),
        T(test_dropping_a_relation_column_is_an_error_naming_the_lookup),
        T(test_resync_row_identical_is_not_a_change),
        T(test_delete_by_key_and_foreach),
        T(test_table_matches),
    };
    return cmocka_run_group_tests_name("view table changes", tests, NULL, NULL);
}
