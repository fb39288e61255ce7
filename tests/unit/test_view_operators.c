/* test_view_operators.c — filter / include / exclude / rename_fields on
 * the root and filter= / fields= / rename= on a lookup, through the view:
 * rows moving in and out of a filter make documents appear and go and
 * embedded rows join and leave; projections shape the documents; errors
 * name the flow file's line and column; flow edits re-read what a changed
 * filter changes. (The randomized proof is test_view_differential.c.) */
#include "support.h"

#include "view.h"

#include <stdio.h>
#include <string.h>

/* orders(order_id INT PK, customer_id INT, status VARCHAR, placed DATE);
 * customers(customer_id INT PK, city VARCHAR, zip INT) */
static void column(tf_column *c, const char *name, uint8_t type, bool pk)
{
    memset(c, 0, sizeof *c);
    c->name.ptr = name;
    c->name.len = strlen(name);
    c->type = type;
    c->is_primary_key = pk;
    c->meta = type == TF_TYPE_VARCHAR ? 100 : 0;
}

static tf_column orders[4], customers[3];

static tf_view *view_of(const char *flow, tf_flow_spec **spec, tf_error *err)
{
    column(&orders[0], "order_id", TF_TYPE_LONG, true);
    column(&orders[1], "customer_id", TF_TYPE_LONG, false);
    column(&orders[2], "status", TF_TYPE_VARCHAR, false);
    column(&orders[3], "placed", TF_TYPE_DATE, false);
    column(&customers[0], "customer_id", TF_TYPE_LONG, true);
    column(&customers[1], "city", TF_TYPE_VARCHAR, false);
    column(&customers[2], "zip", TF_TYPE_LONG, false);
    if (tf_flow_parse(flow, strlen(flow), "ops.tap", spec, err) != TF_OK)
        fail_msg("%s", err->message);
    tf_view *view = tf_view_new(*spec);
    if (tf_view_define_table(view, "orders", orders, 4, NULL, 0, err) != TF_OK)
        fail_msg("%s", err->message);
    return view;
}

/* Defines customers, the last table: where relations, shapes and filters
 * are resolved. */
static tf_status finish(tf_view *view, tf_error *err)
{
    return tf_view_define_table(view, "customers", customers, 3, NULL, 0, err);
}

static void order(tf_value *v, int64_t id, int64_t customer, const char *status, int day)
{
    memset(v, 0, 4 * sizeof *v);
    v[0] = (tf_value){.kind = TF_VAL_INT, .i = id};
    v[1] = (tf_value){.kind = TF_VAL_INT, .i = customer};
    v[2].kind = TF_VAL_STRING;
    v[2].bytes.ptr = (const uint8_t *)status;
    v[2].bytes.len = strlen(status);
    v[3].kind = TF_VAL_DATE;
    v[3].temporal = (tf_temporal){.year = 2018, .month = 1, .day = (uint8_t)day};
}

static void customer(tf_value *v, int64_t id, const char *city, int64_t zip)
{
    memset(v, 0, 3 * sizeof *v);
    v[0] = (tf_value){.kind = TF_VAL_INT, .i = id};
    v[1].kind = TF_VAL_STRING;
    v[1].bytes.ptr = (const uint8_t *)city;
    v[1].bytes.len = strlen(city);
    v[2] = (tf_value){.kind = TF_VAL_INT, .i = zip};
}

/* The flush as text: one op per line. */
static const char *flush_text(tf_view *view)
{
    static char out[4096];
    tf_view_ops ops;
    tf_view_ops_init(&ops);
    tf_error err = {0};
    assert_int_equal(tf_view_flush(view, &ops, &err), TF_OK);
    out[0] = '\0';
    for (size_t i = 0; i < ops.count; i++) {
        char *d = tf_view_op_describe(&ops.ops[i]);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "\n" : "", d);
        bson_free(d);
    }
    tf_view_ops_cleanup(&ops);
    return out;
}

static const char flow_filtered[] =
    "f = Flow('ops').read_from('S.orders')\n"
    "f.filter(\"status != 'canceled' AND placed >= '2018-01-05'\")\n"
    "f.exclude('placed').rename_fields({'status': 'state'})\n"
    "f.lookup('S.customers', path='customer', type='object',\n"
    "    relation=[['customer_id', 'customer_id']], filter='zip < 500', fields=['city'],\n"
    "    rename={'city': 'town'})\n"
    "f.write_to('T.c')\n";

static void test_rows_move_in_and_out_of_the_filters(void **state)
{
    (void)state;
    tf_flow_spec *spec;
    tf_error err = {0};
    tf_view *view = view_of(flow_filtered, &spec, &err);
    assert_int_equal(finish(view, &err), TF_OK);
    tf_value a[4], b[4], c[3], d[3];
    /* Refused at insert: no document. */
    order(a, 1, 10, "canceled", 9);
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_INSERT, NULL, a, &err), TF_OK);
    assert_string_equal(flush_text(view), "");
    /* Starts matching: the document appears, shaped. */
    order(b, 1, 10, "shipped", 9);
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_UPDATE, a, b, &err), TF_OK);
    assert_string_equal(flush_text(view), "replace { \"order_id\" : 1 } { \"order_id\" : 1, "
                                          "\"customer_id\" : 10, \"state\" : \"shipped\" }");
    /* A customer the lookup's filter refuses is not embedded... */
    customer(c, 10, "Recife", 900);
    assert_int_equal(tf_view_apply(view, "customers", TF_VIEW_INSERT, NULL, c, &err), TF_OK);
    assert_string_equal(flush_text(view), "");
    /* ...until it matches: embedded, projected and renamed. */
    customer(d, 10, "Recife", 100);
    assert_int_equal(tf_view_apply(view, "customers", TF_VIEW_UPDATE, c, d, &err), TF_OK);
    assert_string_equal(flush_text(view),
                        "replace { \"order_id\" : 1 } { \"order_id\" : 1, \"customer_id\" : 10, "
                        "\"state\" : \"shipped\", \"customer\" : { \"town\" : \"Recife\" } }");
    /* It stops matching: it leaves. */
    assert_int_equal(tf_view_apply(view, "customers", TF_VIEW_UPDATE, d, c, &err), TF_OK);
    assert_string_equal(flush_text(view), "replace { \"order_id\" : 1 } { \"order_id\" : 1, "
                                          "\"customer_id\" : 10, \"state\" : \"shipped\" }");
    /* The root stops matching (an earlier date): the document goes. */
    order(a, 1, 10, "shipped", 2);
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_UPDATE, b, a, &err), TF_OK);
    assert_string_equal(flush_text(view), "delete { \"order_id\" : 1 }");
    /* Deleting a refused row, and replaying it, change nothing. */
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_DELETE, a, NULL, &err), TF_OK);
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_INSERT, NULL, a, &err), TF_OK);
    assert_string_equal(flush_text(view), "");
    tf_view_stats stats;
    tf_view_get_stats(view, &stats);
    assert_int_equal(stats.row_count, 0);
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

static void test_resync_row_refused_by_the_filter(void **state)
{
    (void)state;
    tf_flow_spec *spec;
    tf_error err = {0};
    tf_view *view = view_of(flow_filtered, &spec, &err);
    assert_int_equal(finish(view, &err), TF_OK);
    tf_value a[4], b[4];
    order(a, 1, 10, "shipped", 9);
    order(b, 1, 10, "canceled", 9);
    bool changed = true;
    assert_int_equal(tf_view_resync_row(view, "orders", b, false, &changed, &err), TF_OK);
    assert_false(changed); /* refused and not held: nothing to do */
    assert_int_equal(tf_view_resync_row(view, "orders", a, false, &changed, &err), TF_OK);
    assert_true(changed);
    flush_text(view);
    assert_int_equal(tf_view_resync_row(view, "orders", b, false, &changed, &err), TF_OK);
    assert_true(changed); /* held, now refused: it leaves */
    assert_string_equal(flush_text(view), "delete { \"order_id\" : 1 }");
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

/* The error when the tables are defined, for a flow with this line 2. */
static const char *resolve_error(const char *line2)
{
    static char out[512];
    char flow[600];
    snprintf(flow, sizeof flow,
             "f = Flow('ops').read_from('S.orders')\n%s\n"
             "f.lookup('S.customers', path='customer', type='object',\n"
             "    relation=[['customer_id', 'customer_id']])\n"
             "f.write_to('T.c')\n",
             line2);
    tf_flow_spec *spec;
    tf_error err = {0};
    tf_view *view = view_of(flow, &spec, &err);
    assert_int_equal(finish(view, &err), TF_MALFORMED);
    snprintf(out, sizeof out, "%s", err.message);
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
    return out;
}

static void test_errors_name_line_and_column(void **state)
{
    (void)state;
    assert_string_equal(resolve_error("f.filter('placed > 20180101')"),
                        "ops.tap:2:18: filter: type mismatch: comparing DATE column placed with "
                        "the number 20180101");
    assert_string_equal(resolve_error("f.filter(\"state = 'x'\")"),
                        "ops.tap:2:11: filter: unknown column \"state\" of table orders");
    assert_string_equal(resolve_error("f.include('order_id', 'sttus')"),
                        "ops.tap:2:23: table orders has no column \"sttus\"");
    assert_string_equal(resolve_error("f.exclude('order_id')"),
                        "ops.tap:2:11: order_id is the primary key of the root table orders: "
                        "documents are addressed by it, so it cannot be excluded");
    assert_string_equal(resolve_error("f.rename_fields({'order_id': 'id'})"),
                        "ops.tap:2:18: order_id is the primary key of the root table orders: "
                        "documents are addressed by it, so it cannot be renamed");
    assert_string_equal(resolve_error("f.rename_fields({'status': 'customer'})"),
                        "ops.tap:2:18: rename \"status\" -> \"customer\": the document already "
                        "has a field \"customer\"");
    assert_string_equal(resolve_error("f.rename_fields({'status': 'placed'})"),
                        "ops.tap:2:18: rename \"status\" -> \"placed\": the document already has "
                        "a field \"placed\"");
}

static void test_include_keeps_the_root_key_and_joins_on_excluded_columns(void **state)
{
    (void)state;
    tf_flow_spec *spec;
    tf_error err = {0};
    tf_view *view = view_of("f = Flow('ops').read_from('S.orders').include('status')\n"
                            "f.lookup('S.customers', path='customer', type='object',\n"
                            "    relation=[['customer_id', 'customer_id']])\n"
                            "f.write_to('T.c')\n",
                            &spec, &err);
    assert_int_equal(finish(view, &err), TF_OK);
    tf_value a[4], c[3];
    order(a, 1, 10, "shipped", 9);
    customer(c, 10, "Recife", 100);
    assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_INSERT, NULL, a, &err), TF_OK);
    assert_int_equal(tf_view_apply(view, "customers", TF_VIEW_INSERT, NULL, c, &err), TF_OK);
    assert_string_equal(flush_text(view),
                        "replace { \"order_id\" : 1 } { \"order_id\" : 1, \"status\" : "
                        "\"shipped\", \"customer\" : { \"city\" : \"Recife\", \"zip\" : 100 } }");
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

static void test_one_table_two_filters_is_refused(void **state)
{
    (void)state;
    tf_flow_spec *spec;
    tf_error err = {0};
    tf_view *view = view_of("f = Flow('ops').read_from('S.orders')\n"
                            "f.lookup('S.customers', path='a', type='object',\n"
                            "    relation=[['customer_id', 'customer_id']], filter='zip > 1')\n"
                            "f.lookup('S.customers', path='b', type='object',\n"
                            "    relation=[['customer_id', 'customer_id']])\n"
                            "f.write_to('T.c')\n",
                            &spec, &err);
    assert_int_equal(finish(view, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "ops.tap:4:3: table customers is read by lookup \"a\" and lookup \"b\" "
                        "with different filters: the view holds one set of rows per table, so "
                        "give both the same filter");
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

static void test_flow_edit_rereads_a_table_whose_filter_changed(void **state)
{
    (void)state;
    const char *base = "f = Flow('ops').read_from('S.orders')%s\n"
                       "f.lookup('S.customers', path='customer', type='object',\n"
                       "    relation=[['customer_id', 'customer_id']]%s)\n"
                       "f.write_to('T.c')\n";
    char a[512], b[512], c[512], d[512];
    snprintf(a, sizeof a, base, "", "");
    snprintf(b, sizeof b, base, "", ", filter='zip > 1', fields=['city']");
    snprintf(c, sizeof c, base, ".rename_fields({'status': 's'})", "");
    snprintf(d, sizeof d, base, ".filter('order_id > 3')", "");
    tf_flow_spec *sa, *sb, *sc, *sd;
    tf_error err = {0};
    assert_int_equal(tf_flow_parse(a, strlen(a), "a", &sa, &err), TF_OK);
    assert_int_equal(tf_flow_parse(b, strlen(b), "b", &sb, &err), TF_OK);
    assert_int_equal(tf_flow_parse(c, strlen(c), "c", &sc, &err), TF_OK);
    assert_int_equal(tf_flow_parse(d, strlen(d), "d", &sd, &err), TF_OK);
    tf_flow_edit plan;
    tf_flow_edit_plan(sa, sb, &plan);
    assert_false(plan.rebuild);
    assert_int_equal(plan.reread_count, 1);
    assert_string_equal(plan.reread[0], "customers");
    tf_flow_edit_cleanup(&plan);
    tf_flow_edit_plan(sa, sc, &plan); /* a projection: documents rewritten, rows kept */
    assert_false(plan.rebuild);
    assert_int_equal(plan.reread_count, 0);
    tf_flow_edit_cleanup(&plan);
    tf_flow_edit_plan(sa, sd, &plan);
    assert_true(plan.rebuild);
    assert_string_equal(plan.reason, "its root filter changed");
    tf_flow_edit_cleanup(&plan);
    tf_flow_spec_destroy(sa);
    tf_flow_spec_destroy(sb);
    tf_flow_spec_destroy(sc);
    tf_flow_spec_destroy(sd);
}

static const char flow_computed[] =
    "f = Flow('ops').read_from('S.orders')\n"
    "f.add_fields([['label', 'String', \"CONCAT(status, '@', placed)\"],\n"
    "    ['month', 'Int', 'MONTH(placed) * 100 + DAY(placed)'],\n"
    "    ['late', 'Boolean', \"placed > '2018-01-05'\"], ['half', 'Double', 'order_id / 2'],\n"
    "    ['when', 'Date', 'placed'], ['tier', 'String', \"CASE WHEN status = 'new' THEN "
    "'gold' ELSE 'std' END\"]])\n"
    "f.lookup('S.customers', path='customer', type='object',\n"
    "    relation=[['customer_id', 'customer_id']])\n"
    "f.write_to('T.c')\n";

static void test_computed_fields_follow_their_row(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        tf_flow_spec *spec;
        tf_error err = {0};
        tf_view *view = view_of(flow_computed, &spec, &err);
        assert_int_equal(finish(view, &err), TF_OK);
        assert_int_equal(
            tf_view_set_fanout(view, mode ? TF_VIEW_FANOUT_ARRAY_FILTERS : TF_VIEW_FANOUT_RECOMPUTE,
                               &err),
            TF_OK);
        tf_value a[4], b[4];
        order(a, 1, 10, "shipped", 9);
        assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_INSERT, NULL, a, &err), TF_OK);
        assert_string_equal(flush_text(view),
                            "replace { \"order_id\" : 1 } { \"order_id\" : 1, \"customer_id\" : "
                            "10, \"status\" : \"shipped\", \"placed\" : { \"$date\" : "
                            "\"2018-01-09T00:00:00Z\" }, \"label\" : \"shipped@2018-01-09\", "
                            "\"month\" : 109, \"late\" : true, \"half\" : 0.5, \"when\" : { "
                            "\"$date\" : \"2018-01-09T00:00:00Z\" }, \"tier\" : \"std\" }");
        /* An update of the row: the computed fields follow (a $set of the
         * root's columns in ARRAY_FILTERS mode, in place). */
        order(b, 1, 10, "new", 2);
        assert_int_equal(tf_view_apply(view, "orders", TF_VIEW_UPDATE, a, b, &err), TF_OK);
        const char *want_fields = "\"label\" : \"new@2018-01-02\", \"month\" : 102, \"late\" : "
                                  "false, \"half\" : 0.5, \"when\" : { \"$date\" : "
                                  "\"2018-01-02T00:00:00Z\" }, \"tier\" : \"gold\"";
        const char *got = flush_text(view);
        if (!strstr(got, want_fields) || strncmp(got, mode ? "set" : "replace", 3) != 0)
            fail_msg("mode %d: %s", mode, got);
        tf_view_destroy(view);
        tf_flow_spec_destroy(spec);
    }
}

static void test_computed_field_errors(void **state)
{
    (void)state;
    assert_string_equal(resolve_error("f.add_fields([['n', 'Int', \"CONCAT(status, 'x')\"]])"),
                        "ops.tap:2:15: add_fields \"n\": a string cannot be Int (String, Int, "
                        "Long, Double and Decimal hold numbers, Boolean a condition, Date a date)");
    assert_string_equal(resolve_error("f.add_fields([['n', 'Int', 'YEAR(status)']])"),
                        "ops.tap:2:34: add_fields \"n\": YEAR takes a date or datetime, not "
                        "VARCHAR column status");
    assert_string_equal(resolve_error("f.add_fields([['status', 'String', 'order_id']])"),
                        "ops.tap:2:15: add_fields: the document already has a field \"status\"");
    assert_string_equal(resolve_error("f.add_fields([['customer', 'String', 'order_id']])"),
                        "ops.tap:2:15: add_fields: the document already has a field "
                        "\"customer\"");
    assert_string_equal(resolve_error("f.add_fields([['n', 'Date', 'nope + 1']])"),
                        "ops.tap:2:30: add_fields \"n\": unknown column \"nope\" of table orders");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_move_in_and_out_of_the_filters),
        cmocka_unit_test(test_resync_row_refused_by_the_filter),
        cmocka_unit_test(test_errors_name_line_and_column),
        cmocka_unit_test(test_include_keeps_the_root_key_and_joins_on_excluded_columns),
        cmocka_unit_test(test_one_table_two_filters_is_refused),
        cmocka_unit_test(test_flow_edit_rereads_a_table_whose_filter_changed),
        cmocka_unit_test(test_computed_fields_follow_their_row),
        cmocka_unit_test(test_computed_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
