/* test_view_flow_edit.c — a saved flow whose lookups changed: which tables
 * must be read again (tf_flow_edit_plan) and the held rows that carry over
 * (tf_view_adopt_table). */
#include "support.h"

#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD "f = Flow('O').read_from('S.orders')\n"
#define CUSTOMER                                                                         \
    "f.lookup('S.customers', path='customer', type='object', relation=[['customer_id', " \
    "'customer_id']])\n"
#define ITEMS \
    "f.lookup('S.items', path='items', type='array', relation=[['order_id','order_id']])\n"
#define PRODUCT                                                                            \
    "f.lookup('S.products', path='items.product', type='object', relation=[['items.sku', " \
    "'sku']])\n"
#define TAIL "f.write_to('T.v')\n"

static tf_flow_spec *parse(const char *text)
{
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    assert_int_equal(tf_flow_parse(text, strlen(text), "f.tap", &spec, &err), TF_OK);
    return spec;
}

static bool listed(char **list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static void plan(const char *old_text, const char *new_text, tf_flow_edit *out)
{
    tf_flow_spec *a = parse(old_text), *b = parse(new_text);
    tf_flow_edit_plan(a, b, out);
    tf_flow_spec_destroy(a);
    tf_flow_spec_destroy(b);
}

static void test_removed_lookup_keeps_every_table(void **state)
{
    (void)state;
    tf_flow_edit e;
    plan(HEAD CUSTOMER ITEMS PRODUCT TAIL, HEAD CUSTOMER ITEMS TAIL, &e);
    assert_false(e.rebuild);
    assert_int_equal(e.reread_count, 0);
    assert_int_equal(e.keep_count, 3);
    assert_true(listed(e.keep, e.keep_count, "items"));
    tf_flow_edit_cleanup(&e);
}

static void test_new_lookup_table_is_read_again(void **state)
{
    (void)state;
    tf_flow_edit e;
    plan(HEAD CUSTOMER ITEMS TAIL, HEAD CUSTOMER ITEMS PRODUCT TAIL, &e);
    assert_false(e.rebuild);
    /* products is new, and items now needs an index on sku it lacked */
    assert_int_equal(e.reread_count, 2);
    assert_true(listed(e.reread, e.reread_count, "products"));
    assert_true(listed(e.reread, e.reread_count, "items"));
    assert_true(listed(e.keep, e.keep_count, "orders"));
    assert_true(listed(e.keep, e.keep_count, "customers"));
    tf_flow_edit_cleanup(&e);
}

static void test_changed_relation_reads_only_its_tables(void **state)
{
    (void)state;
    tf_flow_edit e;
    plan(HEAD CUSTOMER TAIL,
         HEAD "f.lookup('S.customers', path='customer', type='array', relation=[['customer_id', "
              "'customer_id']])\n" TAIL,
         &e);
    /* object -> array on the same columns: no table read again */
    assert_false(e.rebuild);
    assert_int_equal(e.reread_count, 0);
    tf_flow_edit_cleanup(&e);
    plan(HEAD CUSTOMER TAIL,
         HEAD "f.lookup('S.customers', path='customer', type='object', relation=[['customer_id', "
              "'other_id']])\n" TAIL,
         &e);
    assert_int_equal(e.reread_count, 1);
    assert_string_equal(e.reread[0], "customers");
    tf_flow_edit_cleanup(&e);
}

static void test_new_root_or_target_needs_a_rebuild(void **state)
{
    (void)state;
    tf_flow_edit e;
    plan(HEAD TAIL, "f = Flow('O').read_from('S.orders2')\n" TAIL, &e);
    assert_true(e.rebuild);
    assert_string_equal(e.reason, "its root table (read_from) changed");
    tf_flow_edit_cleanup(&e);
    plan(HEAD TAIL, HEAD "f.write_to('T.w')\n", &e);
    assert_true(e.rebuild);
    assert_string_equal(e.reason, "its target (write_to) changed");
    tf_flow_edit_cleanup(&e);
}

/* ---- adopt ---- */

static void define_all(tf_view *v, bool products)
{
    tf_error err = {0};
    tf_column o[2] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("customer_id", TF_TYPE_VARCHAR, false)};
    tf_column c[2] = {tf_test_column("customer_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("name", TF_TYPE_VARCHAR, false)};
    tf_column it[3] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                       tf_test_column("n", TF_TYPE_LONG, true),
                       tf_test_column("sku", TF_TYPE_VARCHAR, false)};
    tf_column p[2] = {tf_test_column("sku", TF_TYPE_VARCHAR, true),
                      tf_test_column("label", TF_TYPE_VARCHAR, false)};
    assert_int_equal(tf_view_define_table(v, "orders", o, 2, NULL, 0, &err), TF_OK);
    assert_int_equal(tf_view_define_table(v, "customers", c, 2, NULL, 0, &err), TF_OK);
    assert_int_equal(tf_view_define_table(v, "items", it, 3, NULL, 0, &err), TF_OK);
    if (products)
        assert_int_equal(tf_view_define_table(v, "products", p, 2, NULL, 0, &err), TF_OK);
}

static char *flush_text(tf_view *v)
{
    tf_view_ops ops;
    tf_view_ops_init(&ops);
    tf_error err = {0};
    assert_int_equal(tf_view_flush(v, &ops, &err), TF_OK);
    char *all = bson_strdup("");
    for (size_t i = 0; i < ops.count; i++) {
        char *one = tf_view_op_describe(&ops.ops[i]);
        char *next = bson_strdup_printf("%s%s\n", all, one);
        bson_free(one);
        bson_free(all);
        all = next;
    }
    tf_view_ops_cleanup(&ops);
    return all;
}

static void test_adopted_rows_join_under_the_new_flow(void **state)
{
    (void)state;
    tf_error err = {0};
    tf_flow_spec *old_spec = parse(HEAD CUSTOMER ITEMS PRODUCT TAIL);
    tf_flow_spec *new_spec = parse(HEAD CUSTOMER ITEMS TAIL);
    tf_view *old_view = tf_view_new(old_spec);
    define_all(old_view, true);
    tf_value o1[2] = {tf_test_str("O1"), tf_test_str("C1")},
             c1[2] = {tf_test_str("C1"), tf_test_str("Ann")};
    tf_value i1[3] = {tf_test_str("O1"), tf_test_int(1), tf_test_str("K")},
             p1[2] = {tf_test_str("K"), tf_test_str("pen")};
    assert_int_equal(tf_view_apply(old_view, "orders", TF_VIEW_INSERT, NULL, o1, &err), TF_OK);
    assert_int_equal(tf_view_apply(old_view, "customers", TF_VIEW_INSERT, NULL, c1, &err), TF_OK);
    assert_int_equal(tf_view_apply(old_view, "items", TF_VIEW_INSERT, NULL, i1, &err), TF_OK);
    assert_int_equal(tf_view_apply(old_view, "products", TF_VIEW_INSERT, NULL, p1, &err), TF_OK);
    tf_view_discard_pending(old_view);

    tf_view *v = tf_view_new(new_spec);
    assert_int_equal(tf_view_adopt_table(v, old_view, "orders", &err), TF_OK);
    assert_int_equal(tf_view_adopt_table(v, old_view, "customers", &err), TF_OK);
    assert_false(tf_view_ready(v));
    assert_int_equal(tf_view_adopt_table(v, old_view, "items", &err), TF_OK);
    assert_true(tf_view_ready(v));
    tf_view_destroy(old_view);
    /* nothing marked by adopting */
    char *ops = flush_text(v);
    assert_string_equal(ops, "");
    bson_free(ops);
    /* a change reaches the document through the carried-over indexes */
    tf_value c1b[2] = {tf_test_str("C1"), tf_test_str("Bea")};
    assert_int_equal(tf_view_apply(v, "customers", TF_VIEW_UPDATE, c1, c1b, &err), TF_OK);
    ops = flush_text(v);
    assert_string_equal(ops, "replace { \"order_id\" : \"O1\" } { \"order_id\" : \"O1\", "
                             "\"customer_id\" : \"C1\", \"customer\" : { \"name\" : \"Bea\" }, "
                             "\"items\" : [ { \"n\" : 1, \"sku\" : \"K\" } ] }\n");
    bson_free(ops);
    tf_view_destroy(v);
    tf_flow_spec_destroy(old_spec);
    tf_flow_spec_destroy(new_spec);
}

static void test_adopt_refuses_a_table_needing_a_new_index(void **state)
{
    (void)state;
    tf_error err = {0};
    tf_flow_spec *old_spec = parse(HEAD ITEMS TAIL);
    tf_flow_spec *new_spec = parse(HEAD ITEMS PRODUCT TAIL);
    tf_view *old_view = tf_view_new(old_spec);
    tf_column o[2] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                      tf_test_column("customer_id", TF_TYPE_VARCHAR, false)};
    tf_column it[3] = {tf_test_column("order_id", TF_TYPE_VARCHAR, true),
                       tf_test_column("n", TF_TYPE_LONG, true),
                       tf_test_column("sku", TF_TYPE_VARCHAR, false)};
    assert_int_equal(tf_view_define_table(old_view, "orders", o, 2, NULL, 0, &err), TF_OK);
    assert_int_equal(tf_view_define_table(old_view, "items", it, 3, NULL, 0, &err), TF_OK);
    tf_view *v = tf_view_new(new_spec);
    assert_int_equal(tf_view_adopt_table(v, old_view, "items", &err), TF_MALFORMED);
    assert_string_equal(err.message, "table items: the new flow joins on columns the old one did "
                                     "not index; it must be read again");
    assert_int_equal(tf_view_adopt_table(v, old_view, "products", &err), TF_MALFORMED);
    tf_view_destroy(v);
    tf_view_destroy(old_view);
    tf_flow_spec_destroy(old_spec);
    tf_flow_spec_destroy(new_spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_removed_lookup_keeps_every_table),
        cmocka_unit_test(test_new_lookup_table_is_read_again),
        cmocka_unit_test(test_changed_relation_reads_only_its_tables),
        cmocka_unit_test(test_new_root_or_target_needs_a_rebuild),
        cmocka_unit_test(test_adopted_rows_join_under_the_new_flow),
        cmocka_unit_test(test_adopt_refuses_a_table_needing_a_new_index),
    };
    return cmocka_run_group_tests_name("flow edits", tests, NULL, NULL);
}
