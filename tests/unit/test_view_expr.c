/* test_view_expr.c — the condition language of filter() / filter=: what it
 * parses, what it refuses (with the byte offset of the problem), how it
 * types comparisons, and SQL's three-valued answers on row values. */
#include "support.h"

#include "expr_internal.h"

#include <string.h>

/* orders(id INT UNSIGNED, status VARCHAR, price DECIMAL(10,2),
 * bought DATETIME(6), day DATE, ratio DOUBLE, kind ENUM('a','b'),
 * at TIME, doc JSON) */
static tf_str kind_members[] = {{"a", 1}, {"b", 1}};

static void make_columns(tf_column *c)
{
    memset(c, 0, 9 * sizeof *c);
    const char *names[] = {"id", "status", "price", "bought", "day", "ratio", "kind", "at", "doc"};
    const uint8_t types[] = {TF_TYPE_LONG,      TF_TYPE_VARCHAR, TF_TYPE_NEWDECIMAL,
                             TF_TYPE_DATETIME2, TF_TYPE_DATE,    TF_TYPE_DOUBLE,
                             TF_TYPE_ENUM,      TF_TYPE_TIME2,   TF_TYPE_JSON};
    for (int i = 0; i < 9; i++) {
        c[i].name.ptr = names[i];
        c[i].name.len = strlen(names[i]);
        c[i].type = types[i];
    }
    c[0].is_unsigned = true;
    c[2].meta = (10 << 8) | 2;
    c[3].meta = 6;
    c[6].enum_set_count = 2;
    c[6].enum_set_values = kind_members;
}

typedef struct row {
    tf_value v[9];
} row;

/* id 7, status 'shipped', price 19.90, bought 2018-03-05 10:20:30,
 * day 2018-03-05, ratio 0.5, kind 'b', at 01:02:03, doc NULL. */
static void make_row(row *r)
{
    memset(r, 0, sizeof *r);
    r->v[0].kind = TF_VAL_UINT;
    r->v[0].u = 7;
    r->v[1].kind = TF_VAL_STRING;
    r->v[1].bytes.ptr = (const uint8_t *)"shipped";
    r->v[1].bytes.len = 7;
    r->v[2].kind = TF_VAL_DECIMAL;
    strcpy(r->v[2].decimal.text, "19.90");
    r->v[3].kind = TF_VAL_DATETIME;
    r->v[3].temporal =
        (tf_temporal){.year = 2018, .month = 3, .day = 5, .hour = 10, .minute = 20, .second = 30};
    r->v[4].kind = TF_VAL_DATE;
    r->v[4].temporal = (tf_temporal){.year = 2018, .month = 3, .day = 5};
    r->v[5].kind = TF_VAL_DOUBLE;
    r->v[5].d = 0.5;
    r->v[6].kind = TF_VAL_ENUM;
    r->v[6].u = 2;
    r->v[7].kind = TF_VAL_TIME;
    r->v[7].temporal = (tf_temporal){.hour = 1, .minute = 2, .second = 3};
    r->v[8].kind = TF_VAL_NULL;
}

/* The condition's answer on row r: 1 TRUE (the row passes), 0 not. */
/* text parsed and bound to cols (make_columns) as a condition or, with
 * as_value, as a computed value; a parse or bind error fails the test. */
static view_expr *parse_bound(const char *text, tf_column *cols, bool as_value)
{
    make_columns(cols);
    char msg[256];
    size_t offset = 0;
    view_expr *e = view_expr_parse(text, strlen(text), &offset, msg, sizeof msg);
    if (!e)
        fail_msg("%s: parse error at %zu: %s", text, offset, msg);
    bool bound = as_value ? view_expr_bind_value(e, "orders", cols, 9, &offset, msg, sizeof msg)
                          : view_expr_bind(e, "orders", cols, 9, &offset, msg, sizeof msg);
    if (!bound)
        fail_msg("%s: bind error at %zu: %s", text, offset, msg);
    return e;
}

static int accepts(const char *text, const row *r)
{
    tf_column cols[9];
    view_expr *e = parse_bound(text, cols, false);
    bool ok = false;
    tf_error err = {0};
    assert_int_equal(view_expr_accepts(e, cols, r->v, &ok, &err), TF_OK);
    view_expr_destroy(e);
    return ok;
}

/* The error of text, parse or bind, as "offset: message". */
static const char *error_of(const char *text)
{
    static char out[300];
    tf_column cols[9];
    make_columns(cols);
    char msg[256];
    size_t offset = 0;
    view_expr *e = view_expr_parse(text, strlen(text), &offset, msg, sizeof msg);
    if (e && view_expr_bind(e, "orders", cols, 9, &offset, msg, sizeof msg))
        fail_msg("%s: no error", text);
    view_expr_destroy(e);
    snprintf(out, sizeof out, "%zu: %s", offset, msg);
    return out;
}

static void test_comparisons_of_every_class(void **state)
{
    (void)state;
    row r;
    make_row(&r);
    assert_true(accepts("id = 7", &r));
    assert_true(accepts("id == 7.0", &r));
    assert_true(accepts("id <> 8 AND id != 6", &r));
    assert_true(accepts("price = 19.9", &r));
    assert_true(accepts("price > 19.89 AND price < 19.91 AND price >= 19.900 AND price <= 20", &r));
    assert_false(accepts("price > 19.9", &r));
    assert_true(accepts("price > -1e3", &r));
    assert_true(accepts("ratio = 0.5 AND ratio < 1", &r));
    assert_true(accepts("status = 'shipped' AND status > 'abc' AND status < \"t\"", &r));
    assert_false(accepts("status = 'Shipped'", &r)); /* bytewise, as the view joins */
    assert_true(accepts("kind = 'b' AND kind <> 'a'", &r));
    assert_true(accepts("bought >= '2018-03-05' AND bought < '2018-03-05 10:20:31'", &r));
    assert_true(accepts("day = '2018-03-05' AND day < '2018-03-05 00:00:01'", &r));
    assert_true(accepts("day = '2018-03-05 00:00:00'", &r));
    assert_true(accepts("at = '01:02:03' AND at > '-00:00:01'", &r));
    assert_true(accepts("bought > day", &r));
    assert_true(accepts("id", &r)); /* a number as a condition: non-zero */
    assert_true(accepts("id = TRUE OR id > FALSE", &r));
}

static void test_in_like_is_null(void **state)
{
    (void)state;
    row r;
    make_row(&r);
    assert_true(accepts("status IN ('new', 'shipped')", &r));
    assert_false(accepts("status NOT IN ('new', 'shipped')", &r));
    assert_true(accepts("id in (1, 7)", &r));
    assert_true(accepts("status LIKE 'sh%'", &r));
    assert_true(accepts("status LIKE '_hipp_d'", &r));
    assert_true(accepts("status LIKE '%i%e%'", &r));
    assert_false(accepts("status LIKE 'ship'", &r));
    assert_true(accepts("status NOT LIKE 'x%'", &r));
    assert_true(accepts("doc IS NULL AND status IS NOT NULL", &r));
    r.v[1].bytes.ptr = (const uint8_t *)"50%_off";
    r.v[1].bytes.len = 7;
    assert_true(accepts("status LIKE '50\\\\%\\\\_off'", &r));
    assert_false(accepts("status LIKE '5\\\\%%'", &r));
}

static void test_null_is_unknown_as_in_a_where_clause(void **state)
{
    (void)state;
    row r;
    make_row(&r);
    r.v[2].kind = TF_VAL_NULL; /* price */
    assert_false(accepts("price = 1", &r));
    assert_false(accepts("price <> 1", &r));
    assert_false(accepts("NOT price = 1", &r));
    assert_false(accepts("NOT (price = 1 AND id = 7)", &r));
    assert_true(accepts("NOT (price = 1 AND id = 8)", &r)); /* unknown AND FALSE is FALSE */
    assert_true(accepts("price = 1 OR id = 7", &r));        /* unknown OR TRUE is TRUE */
    assert_false(accepts("id IN (1, NULL)", &r));
    assert_false(accepts("id NOT IN (1, NULL)", &r));
    assert_true(accepts("id IN (7, NULL)", &r));
    assert_false(accepts("id = NULL", &r));
    assert_false(accepts("price", &r));
}

static void test_syntax_errors_name_the_offset(void **state)
{
    (void)state;
    assert_string_equal(error_of("   "), "0: the condition is empty");
    assert_string_equal(error_of("id = "), "5: expected a column or a value, found the end of the "
                                           "condition");
    assert_string_equal(error_of("id = 7 status = 'x'"),
                        "7: expected AND, OR or the end of the condition, found 'status'");
    assert_string_equal(error_of("(id = 7"), "7: expected ')', found the end of the condition");
    assert_string_equal(error_of("status = 'open"),
                        "9: unterminated string (it needs a closing ')");
    assert_string_equal(error_of("id IN 1"), "6: expected '(' after IN, found '1'");
    assert_string_equal(error_of("id IN (status)"),
                        "7: IN takes a list of values (numbers, strings, NULL)");
    assert_string_equal(error_of("id IS 7"), "6: expected NULL or NOT NULL after IS, found '7'");
    assert_string_equal(error_of("id NOT 7"), "3: expected IN or LIKE after NOT, found 'NOT'");
    assert_string_equal(error_of("status LIKE x"),
                        "12: expected a quoted pattern after LIKE, found 'x'");
    assert_string_equal(error_of("id = 7 AND"), "10: expected a column or a value, found the end "
                                                "of the condition");
    assert_string_equal(error_of("id = 12abc"), "5: malformed number");
    assert_string_equal(error_of("id ; 1"), "3: expected AND, OR or the end of the condition, "
                                            "found ';'");
}

static void test_type_errors_name_the_column(void **state)
{
    (void)state;
    assert_string_equal(error_of("day = 20180305"),
                        "4: type mismatch: comparing DATE column day with the number 20180305");
    assert_string_equal(error_of("status > 3"),
                        "7: type mismatch: comparing VARCHAR column status with the number 3");
    assert_string_equal(error_of("id = 'seven'"),
                        "3: type mismatch: comparing LONG column id with the string 'seven'");
    assert_string_equal(error_of("bought < '2018-13-01'"),
                        "9: '2018-13-01' is not a date ('YYYY-MM-DD') or datetime ('YYYY-MM-DD "
                        "hh:mm:ss') for DATETIME2 column bought");
    assert_string_equal(error_of("customer = 1"), "0: unknown column \"customer\" of table orders");
    assert_string_equal(error_of("doc = 'x'"),
                        "4: cannot compare JSON column doc with the string 'x' (such a column can "
                        "only be tested with IS [NOT] NULL)");
    assert_string_equal(error_of("id LIKE '7%'"), "3: LIKE matches strings, not LONG column id");
    assert_string_equal(error_of("status"),
                        "0: VARCHAR column status is not a condition (compare it: = != < <= > "
                        ">=, IN, LIKE, IS NULL)");
    assert_string_equal(error_of("id IN (1, 'x')"),
                        "10: type mismatch: comparing LONG column id with the string 'x'");
    assert_string_equal(error_of("(id = 1) = 1"),
                        "9: type mismatch: comparing a condition with the number 1");
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    char text[400];
    memset(text, '(', 300);
    strcpy(text + 300, "id = 1");
    const char *e = error_of(text);
    assert_non_null(strstr(e, "parentheses nest deeper than 64"));
    char nots[700] = "";
    for (int i = 0; i < 100; i++)
        strcat(nots, "NOT ");
    strcat(nots, "id = 1");
    assert_non_null(strstr(error_of(nots), "NOT nests deeper than 64"));
}

static void test_absent_column_is_an_error(void **state)
{
    (void)state;
    tf_column cols[9];
    make_columns(cols);
    row r;
    make_row(&r);
    r.v[1].kind = TF_VAL_ABSENT;
    char msg[256];
    size_t offset;
    view_expr *e = view_expr_parse("status = 'x'", 12, &offset, msg, sizeof msg);
    assert_true(view_expr_bind(e, "orders", cols, 9, &offset, msg, sizeof msg));
    bool ok = true;
    tf_error err = {0};
    assert_int_equal(view_expr_accepts(e, cols, r.v, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message, "column status, which a filter reads, is missing from the "
                                     "row image (the view needs binlog_row_image=FULL)");
    view_expr_destroy(e);
}

static void test_position_in_the_flow_file(void **state)
{
    (void)state;
    tf_flow_pos at = {3, 10}; /* the opening quote */
    tf_flow_pos p = view_expr_pos(at, "id = 'é' AND x", 13);
    assert_int_equal(p.line, 3);
    assert_int_equal(p.column, 10 + 1 + 12); /* 'é' is one character */
}

/* The value of text on row r as "kind:text" ("exact:19.9", "double:0.25",
 * "string:ab", "null"), computed from the values and, again, from the
 * row's document (the two must agree). */
static const char *value_of(const char *text, const row *r)
{
    static char out[600];
    tf_column cols[9];
    view_expr *e = parse_bound(text, cols, true);
    bson_t doc = BSON_INITIALIZER;
    tf_error err = {0};
    for (int i = 0; i < 9; i++)
        assert_int_equal(tf_value_append_bson(&doc, cols[i].name.ptr, cols[i].name.len, &r->v[i],
                                              &cols[i], &err),
                         TF_OK);
    char texts[2][600];
    for (int from_doc = 0; from_doc < 2; from_doc++) {
        view_scalar v;
        assert_int_equal(view_expr_value(e, cols, from_doc ? NULL : r->v,
                                         from_doc ? bson_get_data(&doc) : NULL, doc.len, &v, &err),
                         TF_OK);
        char *t = texts[from_doc];
        switch (v.kind) {
        case VIEW_SCALAR_NULL: snprintf(t, 600, "null"); break;
        case VIEW_SCALAR_EXACT: snprintf(t, 600, "exact:%s", v.text); break;
        case VIEW_SCALAR_DOUBLE: snprintf(t, 600, "double:%g", v.d); break;
        case VIEW_SCALAR_STRING: snprintf(t, 600, "string:%.*s", (int)v.len, v.bytes); break;
        case VIEW_SCALAR_INSTANT: snprintf(t, 600, "instant:%lld", (long long)v.us); break;
        case VIEW_SCALAR_TIME: snprintf(t, 600, "time:%lld", (long long)v.us); break;
        }
    }
    /* The document holds milliseconds and DECIMAL as Decimal128: the
     * expressions below stay within what both agree on. */
    assert_string_equal(texts[0], texts[1]);
    snprintf(out, sizeof out, "%s", texts[0]);
    bson_destroy(&doc);
    view_expr_destroy(e);
    return out;
}

static void test_values_arithmetic_functions_case(void **state)
{
    (void)state;
    row r;
    make_row(&r);
    assert_string_equal(value_of("id * 3 + 1", &r), "exact:22");
    assert_string_equal(value_of("id - 10", &r), "exact:-3");
    assert_string_equal(value_of("-id % 4", &r), "exact:-3");
    assert_string_equal(value_of("id / 2", &r), "double:3.5");
    assert_string_equal(value_of("id / 0", &r), "null");
    assert_string_equal(value_of("id % 0", &r), "null");
    assert_string_equal(value_of("price * 2", &r), "double:39.8");
    assert_string_equal(value_of("9223372036854775807 + id", &r), "double:9.22337e+18");
    assert_string_equal(value_of("doc IS NULL", &r), "exact:1");
    assert_string_equal(value_of("CONCAT(status, '/', id, '/', price)", &r),
                        "string:shipped/7/19.9");
    assert_string_equal(value_of("CONCAT(day, ' ', bought)", &r),
                        "string:2018-03-05 2018-03-05 10:20:30");
    assert_string_equal(value_of("concat(kind, at)", &r), "string:b01:02:03");
    assert_string_equal(value_of("CONCAT(status, NULL)", &r), "null");
    assert_string_equal(value_of("YEAR(bought) * 100 + MONTH(bought)", &r), "exact:201803");
    assert_string_equal(value_of("DAY(day) + HOUR(bought) + MINUTE(bought) + SECOND(bought)", &r),
                        "exact:65");
    assert_string_equal(value_of("IF(price > 10, 'high', 'low')", &r), "string:high");
    assert_string_equal(value_of("IF(id = NULL, 1, 2)", &r), "exact:2"); /* unknown: else */
    assert_string_equal(value_of("CASE WHEN id > 10 THEN 'big' WHEN id > 5 THEN 'mid' ELSE "
                                 "'small' END",
                                 &r),
                        "string:mid");
    assert_string_equal(value_of("CASE WHEN id > 10 THEN 1 END", &r), "null");
    assert_string_equal(value_of("bought", &r), "instant:1520245230000000");
}

static void test_value_type_errors(void **state)
{
    (void)state;
    assert_string_equal(error_of("status + 1 > 2"),
                        "0: arithmetic takes numbers, not VARCHAR column status");
    assert_string_equal(error_of("YEAR(status) = 2018"),
                        "5: YEAR takes a date or datetime, not VARCHAR column status");
    assert_string_equal(error_of("IF(id > 1, 'a', 2) = 'a'"),
                        "16: IF gives a string in one branch and the number 2 in another");
    assert_string_equal(error_of("CONCAT(doc) = 'x'"),
                        "7: CONCAT takes numbers, strings, dates and times, not JSON column doc");
    assert_string_equal(error_of("LOWER(status) = 'x'"),
                        "0: unknown function 'LOWER' (known: CONCAT, IF, YEAR, MONTH, DAY, HOUR, "
                        "MINUTE, SECOND)");
    assert_string_equal(error_of("IF(id, 1) = 1"), "0: IF takes 3 arguments, not 2");
    assert_string_equal(error_of("CASE id WHEN 1 THEN 2 END = 2"),
                        "5: expected WHEN after CASE, found 'id'");
    assert_string_equal(error_of("id * 2 + 'x' = 1"),
                        "9: arithmetic takes numbers, not the string 'x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comparisons_of_every_class),
        cmocka_unit_test(test_in_like_is_null),
        cmocka_unit_test(test_null_is_unknown_as_in_a_where_clause),
        cmocka_unit_test(test_syntax_errors_name_the_offset),
        cmocka_unit_test(test_type_errors_name_the_column),
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_absent_column_is_an_error),
        cmocka_unit_test(test_position_in_the_flow_file),
        cmocka_unit_test(test_values_arithmetic_functions_case),
        cmocka_unit_test(test_value_type_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
