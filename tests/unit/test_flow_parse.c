/* test_flow_parse.c — flow files in the guide's Tap Shell language: the
 * guide's own snippets (tests/vectors/flows/guide_order_single_view.tap)
 * parse to the expected spec; bad files give exact line:column messages. */
#include "support.h"

#include "view.h"

#include <stdlib.h>
#include <string.h>

static tf_flow_spec *parse_ok(const char *text)
{
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    tf_status st = tf_flow_parse(text, strlen(text), "flow.tap", &spec, &err);
    if (st != TF_OK)
        fail_msg("unexpected error: %s", err.message);
    return spec;
}

/* Parses text expecting an error; returns its message (static buffer). */
static const char *parse_error(const char *text)
{
    static tf_error err;
    memset(&err, 0, sizeof err);
    tf_flow_spec *spec = NULL;
    tf_status st = tf_flow_parse(text, strlen(text), "flow.tap", &spec, &err);
    assert_int_equal(st, TF_MALFORMED);
    assert_null(spec);
    assert_int_equal(err.domain, TF_ERR_CONFIG);
    return err.message;
}

static void assert_lookup(const tf_flow_lookup *lk, const char *table, const char *path,
                          tf_lookup_type type, const char *parent_field, const char *child_column,
                          long parent)
{
    assert_string_equal(lk->datasource, "MySQL_ECommerce");
    assert_string_equal(lk->table, table);
    assert_string_equal(lk->path, path);
    assert_int_equal(lk->type, type);
    assert_int_equal(lk->relation_count, 1);
    assert_string_equal(lk->relations[0].parent_field, parent_field);
    assert_string_equal(lk->relations[0].child_column, child_column);
    assert_int_equal(lk->parent, parent);
}

static void test_guide_flow_file_parses_to_the_order_single_view(void **state)
{
    (void)state;
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    const char *path = TF_VECTORS_DIR "/flows/guide_order_single_view.tap";
    if (tf_flow_parse_file(path, &spec, &err) != TF_OK)
        fail_msg("%s", err.message);
    assert_string_equal(spec->name, "Order_SingleView_Sync");
    assert_string_equal(spec->source_datasource, "MySQL_ECommerce");
    assert_string_equal(spec->source_table, "ecom_orders");
    assert_int_equal(spec->lookup_count, 5);
    assert_lookup(&spec->lookups[0], "ecom_customers", "customer_info", TF_LOOKUP_OBJECT,
                  "customer_id", "customer_id", -1);
    assert_lookup(&spec->lookups[1], "ecom_order_payments", "order_payments", TF_LOOKUP_ARRAY,
                  "order_id", "order_id", -1);
    assert_lookup(&spec->lookups[2], "ecom_order_items", "order_items", TF_LOOKUP_ARRAY, "order_id",
                  "order_id", -1);
    assert_lookup(&spec->lookups[3], "ecom_products", "order_items.product", TF_LOOKUP_OBJECT,
                  "order_items.product_id", "product_id", 2);
    assert_lookup(&spec->lookups[4], "ecom_sellers", "order_items.seller", TF_LOOKUP_OBJECT,
                  "order_items.seller_id", "seller_id", 2);
    assert_string_equal(spec->target_datasource, "MongoDB_ECommerce");
    assert_string_equal(spec->target_collection, "orderSingleView");
    assert_true(spec->saved);
    assert_true(spec->started);
    /* Positions point at what the file wrote: line 10 is the customers
     * lookup, its path on line 11 column 6. */
    assert_int_equal(spec->lookups[0].pos.line, 10);
    assert_int_equal(spec->lookups[0].pos.column, 11);
    assert_int_equal(spec->lookups[0].path_pos.line, 11);
    assert_int_equal(spec->lookups[0].path_pos.column, 6);
    tf_flow_spec_destroy(spec);
}

static const char *const guide_compact =
    "orderFlow = Flow('Order_SingleView_Sync').read_from('MySQL_ECommerce.ecom_orders')\n"
    "orderFlow.lookup('MySQL_ECommerce.ecom_customers', path='customer_info', type='object', "
    "relation=[['customer_id', 'customer_id']])\n"
    "orderFlow.lookup('MySQL_ECommerce.ecom_order_payments', path='order_payments', "
    "type='array', relation=[['order_id', 'order_id']])\n"
    "orderFlow.lookup('MySQL_ECommerce.ecom_order_items', path='order_items', type='array', "
    "relation=[['order_id', 'order_id']])\n"
    "orderFlow.lookup('MySQL_ECommerce.ecom_products', path='order_items.product', "
    "type='object', relation=[['order_items.product_id', 'product_id']])\n"
    "orderFlow.lookup('MySQL_ECommerce.ecom_sellers', path='order_items.seller', type='object', "
    "relation=[['order_items.seller_id', 'seller_id']])\n"
    "orderFlow.write_to('MongoDB_ECommerce.orderSingleView')\n";

static void test_hash_ignores_layout_comments_and_quotes(void **state)
{
    (void)state;
    tf_flow_spec *a = NULL, *b = parse_ok(guide_compact);
    tf_error err = {0};
    assert_int_equal(
        tf_flow_parse_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &a, &err), TF_OK);
    char ha[TF_FLOW_HASH_HEX_LEN + 1], hb[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(a, ha);
    tf_flow_spec_hash(b, hb);
    assert_string_equal(ha, hb);
    assert_int_equal(strlen(ha), 64);
    tf_flow_spec_destroy(a);
    tf_flow_spec_destroy(b);
}

static void test_hash_changes_with_any_field(void **state)
{
    (void)state;
    tf_flow_spec *base = parse_ok(guide_compact);
    char h0[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(base, h0);
    /* Same spec but the payments lookup is an object. */
    const char *at = strstr(guide_compact, "type='array'");
    char *changed = bson_strdup_printf("%.*stype='object'%s", (int)(at - guide_compact),
                                       guide_compact, at + strlen("type='array'"));
    tf_flow_spec *other = parse_ok(changed);
    assert_int_equal(other->lookups[1].type, TF_LOOKUP_OBJECT);
    char h1[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(other, h1);
    assert_string_not_equal(h0, h1);
    /* The canonical form is stable text (this pins the hash input). */
    char *canon = tf_flow_spec_canonical(base);
    assert_non_null(strstr(canon, "tapflow-flow 1\nname 21:Order_SingleView_Sync\n"
                                  "source 15:MySQL_ECommerce\ntable 11:ecom_orders\nlookup 0\n"));
    bson_free(canon);
    bson_free(changed);
    tf_flow_spec_destroy(base);
    tf_flow_spec_destroy(other);
}

static void test_chains_on_one_line_and_leading_dot_lines(void **state)
{
    (void)state;
    tf_flow_spec *spec = parse_ok("f = Flow(\"x\").read_from(\"S.t\").write_to(\"T.c\").save()\n");
    assert_string_equal(spec->source_table, "t");
    assert_string_equal(spec->target_collection, "c");
    assert_true(spec->saved);
    assert_false(spec->started);
    tf_flow_spec_destroy(spec);
    spec = parse_ok("f = Flow(\"x\")\n"
                    "  .read_from(\"S.t\")   # root\n"
                    "\n"
                    "  .lookup(\"S.u\", path=\"u\", type=\"array\", relation=[[\"a\", \"b\"], "
                    "[\"c\", \"d\"],])\n"
                    "  .write_to(\"T.c\");  f.start(); ; \n");
    assert_int_equal(spec->lookup_count, 1);
    assert_int_equal(spec->lookups[0].relation_count, 2);
    assert_string_equal(spec->lookups[0].relations[1].parent_field, "c");
    assert_string_equal(spec->lookups[0].relations[1].child_column, "d");
    assert_true(spec->started);
    tf_flow_spec_destroy(spec);
}

static void test_positional_lookup_arguments(void **state)
{
    (void)state;
    tf_flow_spec *spec = parse_ok("f = Flow('x')\nf.read_from('S.t')\n"
                                  "f.lookup('S.u', 'items', 'array', [['id', 't_id']])\n"
                                  "f.write_to(target='T.c')\n");
    assert_string_equal(spec->lookups[0].path, "items");
    assert_int_equal(spec->lookups[0].type, TF_LOOKUP_ARRAY);
    assert_string_equal(spec->lookups[0].relations[0].child_column, "t_id");
    tf_flow_spec_destroy(spec);
}

static void test_string_escapes(void **state)
{
    (void)state;
    tf_flow_spec *spec = parse_ok("f = Flow('it\\'s \"x\"').read_from('S.t').write_to('T.c')");
    assert_string_equal(spec->name, "it's \"x\"");
    tf_flow_spec_destroy(spec);
}

#define HEAD "f = Flow('x').read_from('S.t')\n"

static void test_syntax_errors_name_line_column_and_expectation(void **state)
{
    (void)state;
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='p' type='object', relation=[['a','b']])\n"),
        "flow.tap:2:26: expected ',' or ')' after argument, found name 'type'");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', 'p' = 'object')\n"),
                        "flow.tap:2:21: expected ',' or ')' after argument, found '='");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path=p)\n"),
                        "flow.tap:2:22: expected a string, a list or a dict, found name 'p'");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', relation=[['a', 'b']\n"),
                        "flow.tap:3:1: expected ',' or ']' after list item, found end of file");
    assert_string_equal(parse_error(HEAD "f.write_to('T.c'\n"),
                        "flow.tap:3:1: expected ',' or ')' after argument, found end of file");
    assert_string_equal(parse_error(HEAD "f.write_to('T.c) \n"),
                        "flow.tap:2:12: unterminated string (it needs a closing ' on the same "
                        "line)");
    assert_string_equal(parse_error(HEAD "f.write_to('T.c') f.save()\n"),
                        "flow.tap:2:19: expected ';' or end of line after the statement, found "
                        "name 'f'");
    assert_string_equal(parse_error(HEAD "f.write_to @ \n"),
                        "flow.tap:2:12: unexpected character '@'");
    assert_string_equal(parse_error(HEAD "f.write_to\n"),
                        "flow.tap:2:11: expected '(' after 'write_to', found end of line");
    assert_string_equal(parse_error(HEAD "f. \n"),
                        "flow.tap:2:4: expected a method name after '.', found end of line");
    assert_string_equal(parse_error("f = Flow('x') \\ # comment\n"),
                        "flow.tap:1:15: expected end of line after '\\' (a line continuation)");
    assert_string_equal(parse_error(HEAD "(f)\n"),
                        "flow.tap:2:1: expected a statement (name = Flow(\"...\") or "
                        "name.method(...)), found '('");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', type=3)\n"),
                        "flow.tap:2:32: expected a string, a list or a dict, found number 3");
    /* Columns count characters, not bytes. */
    assert_string_equal(parse_error("# é\nf = Flow('é') @\n"),
                        "flow.tap:2:15: unexpected character '@'");
}

static void test_call_errors(void **state)
{
    (void)state;
    assert_string_equal(parse_error("g.read_from('S.t')\n"),
                        "flow.tap:1:1: unknown name 'g' (define it with g = Flow(\"name\"))");
    assert_string_equal(parse_error("f = Flow('x')\nstatus('x')\n"),
                        "flow.tap:2:1: unknown function 'status' (a flow file defines name = "
                        "Flow(\"...\") and calls its methods)");
    assert_string_equal(parse_error(HEAD "f.lookups('S.u')\n"),
                        "flow.tap:2:3: unknown method 'lookups' of a flow (expected read_from, "
                        "filter, include, exclude, rename_fields, add_fields, lookup, write_to, "
                        "save or start)");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', kind='object')\n"),
                        "flow.tap:2:27: unknown argument 'kind' of lookup (expected source, "
                        "path, type, relation, filter, fields, rename)");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', relation=[['a','b']])\n"),
                        "flow.tap:2:3: lookup needs type=\"object\"");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', type='object')\n"),
                        "flow.tap:2:3: lookup needs relation=[[\"parent_field\", "
                        "\"child_column\"], ...]");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='p', type='objects', relation=[['a','b']])\n"),
        "flow.tap:2:32: type must be \"object\" or \"array\", found \"objects\"");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='p', type='object', relation=[['a','b','c']])\n"),
        "flow.tap:2:52: each relation pair must be [\"parent_field\", \"child_column\"] (two "
        "strings)");
    assert_string_equal(parse_error(HEAD "f.lookup('S.u', path='p', type='object', relation=[])\n"),
                        "flow.tap:2:51: relation must be a non-empty list of [\"parent_field\", "
                        "\"child_column\"] pairs");
    assert_string_equal(parse_error(HEAD "f.read_from('S.v')\n"),
                        "flow.tap:2:3: read_from given twice (first at line 1)");
    assert_string_equal(parse_error("f = Flow('x').read_from('orders')\n"),
                        "flow.tap:1:25: expected \"Datasource.table\", found \"orders\"");
    assert_string_equal(parse_error(HEAD "f.save('now')\n"),
                        "flow.tap:2:8: save takes no arguments");
    assert_string_equal(parse_error(HEAD "f.write_to('T.c', 'T.d')\n"),
                        "flow.tap:2:19: too many arguments to write_to (it takes 1)");
    assert_string_equal(parse_error(HEAD "f.write_to('T.c', target='T.d')\n"),
                        "flow.tap:2:19: argument 'target' of write_to given twice");
    assert_string_equal(parse_error(HEAD "g = Flow('y')\n"),
                        "flow.tap:2:5: a flow file defines one Flow (the first is at line 1)");
    assert_string_equal(parse_error("f = Flow('x')\nf.lookup('S.u', path='p', type='object', "
                                    "relation=[['a','b']])\n"),
                        "flow.tap:2:3: lookup before read_from: the root table comes first");
}

static void test_validation_errors(void **state)
{
    (void)state;
    assert_string_equal(parse_error("# nothing\n"),
                        "flow.tap: no flow defined (expected name = Flow(\"...\"))");
    assert_string_equal(parse_error("f = Flow('x')\nf.write_to('T.c')\n"),
                        "flow.tap:1:5: flow 'x' has no read_from(\"Datasource.table\") for its "
                        "root table");
    assert_string_equal(parse_error(HEAD),
                        "flow.tap:1:5: flow 'x' has no write_to(\"Datasource.collection\") for "
                        "its target");
#define TAIL "f.write_to('T.c')\n"
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='items.p', type='object', relation=[['items.a', "
                         "'b']])\n" TAIL),
        "flow.tap:2:22: unknown lookup parent path \"items\" of path \"items.p\" (no lookup has "
        "path=\"items\")");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='items', type='array', relation=[['id', 't']])\n"
                         "f.lookup('S.v', path='items.p', type='object', relation=[['p_id', "
                         "'id']])\n" TAIL),
        "flow.tap:3:58: relation parent field \"p_id\" of path \"items.p\" must be a column of "
        "the parent lookup, written \"items.<column>\"");
    assert_string_equal(
        parse_error(HEAD
                    "f.lookup('S.u', path='items', type='array', relation=[['x.id', 't']])\n" TAIL),
        "flow.tap:2:55: relation parent field \"x.id\" of path \"items\" must be a column of the "
        "root table t (no '.')");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='a', type='array', relation=[['id', 't']])\n"
                         "f.lookup('S.v', path='a', type='object', relation=[['id', 'u']])\n" TAIL),
        "flow.tap:3:22: duplicate path \"a\" (first at line 2)");
    assert_string_equal(
        parse_error(HEAD
                    "f.lookup('S.u', path='a..b', type='array', relation=[['id', 't']])\n" TAIL),
        "flow.tap:2:22: path \"a..b\": the path has an empty field name (a '.' at the start, the "
        "end or twice)");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='$a', type='array', relation=[['id', 't']])\n" TAIL),
        "flow.tap:2:22: path \"$a\": a field name in the path starts with '$'");
    assert_string_equal(
        parse_error(HEAD
                    "f.lookup('S.u', path='_id', type='array', relation=[['id', 't']])\n" TAIL),
        "flow.tap:2:22: path \"_id\": the path is under _id, which the target owns");
    assert_string_equal(
        parse_error(HEAD
                    "f.lookup('Other.u', path='a', type='array', relation=[['id', 't']])\n" TAIL),
        "flow.tap:2:3: lookup of Other.u: a flow reads one source, and read_from reads S");
    assert_string_equal(
        parse_error(HEAD "f.lookup('S.u', path='a', type='array', relation=[['id', 't'], ['k', "
                         "'t']])\n" TAIL),
        "flow.tap:2:64: relation names child column \"t\" twice");
}

static void test_never_crashes_on_truncated_guide_file(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *text = tf_test_read_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &len);
    assert_non_null(text);
    for (size_t cut = 0; cut < len; cut++) {
        tf_flow_spec *spec = NULL;
        tf_error err = {0};
        tf_status st = tf_flow_parse((const char *)text, cut, "flow.tap", &spec, &err);
        if (st == TF_OK)
            tf_flow_spec_destroy(spec);
        else
            assert_true(strncmp(err.message, "flow.tap", 8) == 0);
    }
    free(text);
}

static const char operators_flow[] =
    "f = Flow('ops').read_from('S.orders')\n"
    "f.filter(\"status != 'canceled'\").include('order_id', 'status', 'customer_id')\n"
    "f.exclude(['status']).rename_fields({'customer_id': 'buyer'})\n"
    "f.lookup('S.customers', path='customer', type='object',\n"
    "    relation=[['customer_id', 'customer_id']], filter='zip > 100',\n"
    "    fields=['city', 'zip'], rename={\"city\": \"town\"})\n"
    "f.write_to('T.c')\n";

static void test_operators_parse_and_print_back(void **state)
{
    (void)state;
    tf_flow_spec *spec = parse_ok(operators_flow);
    assert_string_equal(spec->shape.filter, "status != 'canceled'");
    assert_int_equal(spec->shape.filter_pos.line, 2);
    assert_int_equal(spec->shape.filter_pos.column, 10);
    assert_int_equal(spec->shape.include_count, 3);
    assert_string_equal(spec->shape.include[2].name, "customer_id");
    assert_int_equal(spec->shape.exclude_count, 1);
    assert_string_equal(spec->shape.renames[0].name, "customer_id");
    assert_string_equal(spec->shape.renames[0].new_name, "buyer");
    const tf_flow_shape *lk = &spec->lookups[0].shape;
    assert_string_equal(lk->filter, "zip > 100");
    assert_int_equal(lk->include_count, 2);
    assert_string_equal(lk->renames[0].new_name, "town");
    /* Printed back, it parses to the same spec (same hash); a change of
     * any operator changes the hash. */
    char *text = tf_flow_spec_to_text(spec, "g");
    tf_flow_spec *again = parse_ok(text);
    char h1[TF_FLOW_HASH_HEX_LEN + 1], h2[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(spec, h1);
    tf_flow_spec_hash(again, h2);
    assert_string_equal(h1, h2);
    bson_free(text);
    tf_flow_spec_destroy(again);
    tf_flow_spec *other = parse_ok("f = Flow('ops').read_from('S.orders')\n"
                                   "f.filter(\"status != 'cancelled'\")\n"
                                   "f.write_to('T.c')\n");
    tf_flow_spec_hash(other, h2);
    assert_string_not_equal(h1, h2);
    tf_flow_spec_destroy(other);
    tf_flow_spec_destroy(spec);
}

static void test_add_fields_parse_and_print_back(void **state)
{
    (void)state;
    tf_flow_spec *spec = parse_ok("f = Flow('ops').read_from('S.orders')\n"
                                  "f.add_fields([['total', 'Double', 'price + freight'],\n"
                                  "  ['tag', 'String', \"CONCAT(a, 'x')\"]])\n"
                                  "f.add_fields([['y', 'Int', 'YEAR(d)']]).write_to('T.c')\n");
    assert_int_equal(spec->computed_count, 3);
    assert_string_equal(spec->computed[1].name, "tag");
    assert_string_equal(spec->computed[1].type, "String");
    assert_string_equal(spec->computed[1].expression, "CONCAT(a, 'x')");
    assert_int_equal(spec->computed[1].pos.line, 3);
    assert_int_equal(spec->computed[1].pos.column, 3);
    char *text = tf_flow_spec_to_text(spec, "g");
    tf_flow_spec *again = parse_ok(text);
    char h1[TF_FLOW_HASH_HEX_LEN + 1], h2[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(spec, h1);
    tf_flow_spec_hash(again, h2);
    assert_string_equal(h1, h2);
    bson_free(text);
    tf_flow_spec_destroy(again);
    tf_flow_spec_destroy(spec);
    assert_string_equal(parse_error(HEAD "f.add_fields([['a', 'Money', '1']])\n"),
                        "flow.tap:2:21: add_fields: unknown type \"Money\" (String, Int, Long, "
                        "Double, Decimal, Boolean or Date)");
    assert_string_equal(parse_error(HEAD "f.add_fields([['a', 'Int']])\n"),
                        "flow.tap:2:15: each field of add_fields is [name, type, expression] "
                        "(three strings)");
    assert_string_equal(parse_error(HEAD "f.add_fields([['a.b', 'Int', '1']])\n"),
                        "flow.tap:2:16: add_fields: \"a.b\" is not a field name (non-empty, no "
                        "'.', not starting with '$', not _id)");
    assert_string_equal(parse_error(HEAD "f.add_fields([['a', 'Int', '1 +']])\n"),
                        "flow.tap:2:32: add_fields \"a\": expected a column or a value, found the "
                        "end of the condition");
    assert_string_equal(parse_error(HEAD "f.add_fields([['a', 'Int', '1'], ['a', 'Long', '2']])\n"),
                        "flow.tap:2:34: add_fields names field \"a\" twice");
}

static void test_operator_errors(void **state)
{
    (void)state;
    assert_string_equal(parse_error(HEAD "f.filter(\"status = 'a' OR\")\n"),
                        "flow.tap:2:26: filter: expected a column or a value, found the end of "
                        "the condition");
    assert_string_equal(parse_error(HEAD "f.filter('a = 1').filter('b = 2')\n"),
                        "flow.tap:2:26: a second filter (the first is at line 2): combine the "
                        "conditions with AND");
    assert_string_equal(parse_error(HEAD "f.filter(['a'])\n"),
                        "flow.tap:2:10: the filter of filter must be a string such as "
                        "\"order_status != 'canceled'\"");
    assert_string_equal(parse_error(HEAD "f.include()\n"),
                        "flow.tap:2:3: include needs column names, such as "
                        "include(\"order_id\", \"order_status\")");
    assert_string_equal(parse_error(HEAD "f.exclude('a.b')\n"),
                        "flow.tap:2:11: an argument of exclude takes column names (non-empty "
                        "strings without '.'), such as [\"order_id\", \"order_status\"]");
    assert_string_equal(parse_error(HEAD "f.rename_fields(['a', 'b'])\n"),
                        "flow.tap:2:17: rename_fields takes a dict of column names to new names, "
                        "such as {\"order_status\": \"status\"}");
    assert_string_equal(parse_error(HEAD "f.rename_fields({'a': 'b' 'c': 'd'})\n"),
                        "flow.tap:2:27: expected ',' or '}' after a dict item, found string 'c'");
    assert_string_equal(parse_error(HEAD "f.rename_fields({'a': '$b'})\n"),
                        "flow.tap:2:18: rename \"a\" -> \"$b\": both must be field names "
                        "(non-empty, no '.', the new one not starting with '$')");
    assert_string_equal(parse_error(HEAD "f.include('a', 'a')\n"),
                        "flow.tap:2:16: column \"a\" named twice");
    assert_string_equal(parse_error(HEAD "f.rename_fields({'a': 'x', 'b': 'x'})\n"),
                        "flow.tap:2:28: two columns renamed to \"x\"");
    assert_string_equal(parse_error("f = Flow('x').filter('a = 1')\n"),
                        "flow.tap:1:15: filter before read_from: the root table comes first");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators_parse_and_print_back),
        cmocka_unit_test(test_operator_errors),
        cmocka_unit_test(test_add_fields_parse_and_print_back),
        cmocka_unit_test(test_guide_flow_file_parses_to_the_order_single_view),
        cmocka_unit_test(test_hash_ignores_layout_comments_and_quotes),
        cmocka_unit_test(test_hash_changes_with_any_field),
        cmocka_unit_test(test_chains_on_one_line_and_leading_dot_lines),
        cmocka_unit_test(test_positional_lookup_arguments),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_syntax_errors_name_line_column_and_expectation),
        cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_never_crashes_on_truncated_guide_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
