/* test_view_engine.c — the view engine on the guide's order single view:
 * Step 2's SQL sequence (the customer, the order and its item arrive
 * before the product and the seller) gives exactly the guide's document
 * shape and types; then one test per semantic rule of DESIGN.md ("Flow
 * semantics", "State and fan-out") and the definition errors. */
#include "support.h"

#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the six tables of the guide (Olist column names and types) ---- */

enum {
    T_ORDERS,
    T_CUSTOMERS,
    T_PAYMENTS,
    T_ITEMS,
    T_PRODUCTS,
    T_SELLERS,
    T_COUNT
};

typedef struct coldef {
    const char *name;
    uint8_t type;
    uint16_t meta;
    bool pk;
} coldef;

#define VARCHAR(n, pk)              \
    {                               \
        n, TF_TYPE_VARCHAR, 200, pk \
    }
#define INT(n, pk)             \
    {                          \
        n, TF_TYPE_LONG, 0, pk \
    }
#define DATETIME(n)                    \
    {                                  \
        n, TF_TYPE_DATETIME2, 0, false \
    }
#define DECIMAL(n)                                  \
    {                                               \
        n, TF_TYPE_NEWDECIMAL, (10 << 8) | 2, false \
    }

static const struct {
    const char *name;
    size_t count;
    coldef cols[9];
} schema[T_COUNT] = {
    [T_ORDERS] = {"ecom_orders",
                  8,
                  {VARCHAR("order_id", true), VARCHAR("customer_id", false),
                   VARCHAR("order_status", false), DATETIME("order_purchase_timestamp"),
                   DATETIME("order_approved_at"), DATETIME("order_delivered_carrier_date"),
                   DATETIME("order_delivered_customer_date"),
                   DATETIME("order_estimated_delivery_date")}},
    [T_CUSTOMERS] = {"ecom_customers",
                     5,
                     {VARCHAR("customer_id", true), VARCHAR("customer_unique_id", false),
                      VARCHAR("customer_zip_code_prefix", false), VARCHAR("customer_city", false),
                      VARCHAR("customer_state", false)}},
    [T_PAYMENTS] = {"ecom_order_payments",
                    5,
                    {VARCHAR("order_id", true), INT("payment_sequential", true),
                     VARCHAR("payment_type", false), INT("payment_installments", false),
                     DECIMAL("payment_value")}},
    [T_ITEMS] = {"ecom_order_items",
                 7,
                 {VARCHAR("order_id", true), INT("order_item_id", true),
                  VARCHAR("product_id", false), VARCHAR("seller_id", false),
                  DATETIME("shipping_limit_date"), DECIMAL("price"), DECIMAL("freight_value")}},
    [T_PRODUCTS] = {"ecom_products",
                    9,
                    {VARCHAR("product_id", true), VARCHAR("product_category_name", false),
                     INT("product_name_lenght", false), INT("product_description_lenght", false),
                     INT("product_photos_qty", false), INT("product_weight_g", false),
                     INT("product_length_cm", false), INT("product_height_cm", false),
                     INT("product_width_cm", false)}},
    [T_SELLERS] = {"ecom_sellers",
                   4,
                   {VARCHAR("seller_id", true), VARCHAR("seller_zip_code_prefix", false),
                    VARCHAR("seller_city", false), VARCHAR("seller_state", false)}},
};

static void columns_of(int t, tf_column *out)
{
    for (size_t i = 0; i < schema[t].count; i++) {
        const coldef *d = &schema[t].cols[i];
        memset(&out[i], 0, sizeof out[i]);
        out[i].type = d->type;
        out[i].meta = d->meta;
        out[i].is_primary_key = d->pk;
        out[i].nullable = !d->pk;
        out[i].charset = d->type == TF_TYPE_VARCHAR ? 45 : 63;
        out[i].name.ptr = d->name;
        out[i].name.len = strlen(d->name);
    }
}

typedef struct fixture {
    tf_flow_spec *spec;
    tf_view *view;
    tf_view_ops ops;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    tf_error err = {0};
    if (tf_flow_parse_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &f->spec, &err) !=
        TF_OK)
        fail_msg("%s", err.message);
    f->view = tf_view_new(f->spec);
    for (int t = 0; t < T_COUNT; t++) {
        tf_column cols[9];
        columns_of(t, cols);
        assert_false(tf_view_ready(f->view));
        if (tf_view_define_table(f->view, schema[t].name, cols, schema[t].count, NULL, 0, &err) !=
            TF_OK)
            fail_msg("%s", err.message);
    }
    assert_true(tf_view_ready(f->view));
    tf_view_ops_init(&f->ops);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_view_ops_cleanup(&f->ops);
    tf_view_destroy(f->view);
    tf_flow_spec_destroy(f->spec);
    free(f);
    return 0;
}

/* ---- rows written as text: "s:abc" string, "i:12" int, "d:199.99"
 * decimal, "t:2024-11-02 10:20:00" datetime, "" NULL ---- */

typedef struct row {
    tf_value v[9];
} row;

static row make_row(int t, const char *const *cells)
{
    row r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < schema[t].count; i++) {
        const char *c = cells[i];
        tf_value *v = &r.v[i];
        if (!c || !c[0]) {
            v->kind = TF_VAL_NULL;
        } else if (c[0] == 's') {
            v->kind = TF_VAL_STRING;
            v->bytes.ptr = (const uint8_t *)c + 2;
            v->bytes.len = strlen(c + 2);
        } else if (c[0] == 'i') {
            v->kind = TF_VAL_INT;
            v->i = atoll(c + 2);
        } else if (c[0] == 'd') {
            v->kind = TF_VAL_DECIMAL;
            snprintf(v->decimal.text, sizeof v->decimal.text, "%s", c + 2);
            v->decimal.precision = 10;
            v->decimal.scale = 2;
        } else if (c[0] == 't') {
            unsigned y, mo, d, h = 0, mi = 0, s = 0;
            assert_true(sscanf(c + 2, "%u-%u-%u %u:%u:%u", &y, &mo, &d, &h, &mi, &s) >= 3);
            v->kind = TF_VAL_DATETIME;
            v->temporal = (tf_temporal){.year = (int32_t)y,
                                        .month = (uint8_t)mo,
                                        .day = (uint8_t)d,
                                        .hour = h,
                                        .minute = (uint8_t)mi,
                                        .second = (uint8_t)s};
        } else {
            fail_msg("bad cell %s", c);
        }
    }
    return r;
}

#define ROW(t, ...) make_row(t, (const char *const[]){__VA_ARGS__})

static void apply(fixture *f, int t, tf_view_change_kind kind, const row *before, const row *after)
{
    tf_error err = {0};
    if (tf_view_apply(f->view, schema[t].name, kind, before ? before->v : NULL,
                      after ? after->v : NULL, &err) != TF_OK)
        fail_msg("%s", err.message);
}

static void insert(fixture *f, int t, row r) { apply(f, t, TF_VIEW_INSERT, NULL, &r); }
static void update(fixture *f, int t, row before, row after)
{
    apply(f, t, TF_VIEW_UPDATE, &before, &after);
}
static void delete_row(fixture *f, int t, row r) { apply(f, t, TF_VIEW_DELETE, &r, NULL); }

/* Flushes and returns the ops as text, one per line:
 * "replace {filter} {doc}" / "delete {filter}" (relaxed JSON). */
static char *flush(fixture *f)
{
    tf_view_ops_clear(&f->ops);
    tf_error err = {0};
    assert_int_equal(tf_view_flush(f->view, &f->ops, &err), TF_OK);
    bson_string_t *out = bson_string_new("");
    for (size_t i = 0; i < f->ops.count; i++) {
        char *d = tf_view_op_describe(&f->ops.ops[i]);
        bson_string_append_printf(out, "%s\n", d);
        bson_free(d);
    }
    return bson_string_free(out, false);
}

static void assert_flush(fixture *f, const char *expected)
{
    char *got = flush(f);
    assert_string_equal(got, expected);
    bson_free(got);
}

/* Rows of the guide's Step 2. */
#define CUSTOMER \
    ROW(T_CUSTOMERS, "s:CUST12345", "s:UNIQUE_CUST_00123", "s:10001", "s:New York", "s:NY")
#define ORDER(status, carrier)                                                   \
    ROW(T_ORDERS, "s:ORD789654", "s:CUST12345", status, "t:2024-11-02 10:20:00", \
        "t:2024-11-02 10:22:00", carrier, "", "t:2024-11-10")
#define ITEM(price, freight) \
    ROW(T_ITEMS, "s:ORD789654", "i:1", "s:PROD56789", "s:SELL34567", "t:2024-11-05", price, freight)
#define PRODUCT \
    ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1200", "i:20", "i:10", "i:8")
#define SELLER ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:Los Angeles", "s:CA")
#define PAYMENT(inst, value) ROW(T_PAYMENTS, "s:ORD789654", "i:1", "s:credit_card", inst, value)

static void test_guide_step2_sequence_gives_the_guides_document(void **state)
{
    fixture *f = *state;
    /* INSERT customer: no order embeds it yet. */
    insert(f, T_CUSTOMERS, CUSTOMER);
    assert_flush(f, "");
    /* INSERT order: customer_info embedded, no payment, no item yet. */
    insert(f, T_ORDERS, ORDER("s:pending", ""));
    assert_flush(
        f,
        "replace { \"order_id\" : \"ORD789654\" } { \"order_id\" : \"ORD789654\", \"customer_id\" "
        ": \"CUST12345\", \"order_status\" : \"pending\", \"order_purchase_timestamp\" : { "
        "\"$date\" : \"2024-11-02T10:20:00Z\" }, \"order_approved_at\" : { \"$date\" : "
        "\"2024-11-02T10:22:00Z\" }, \"order_delivered_carrier_date\" : null, "
        "\"order_delivered_customer_date\" : null, \"order_estimated_delivery_date\" : { "
        "\"$date\" : \"2024-11-10T00:00:00Z\" }, \"customer_info\" : { \"customer_unique_id\" : "
        "\"UNIQUE_CUST_00123\", \"customer_zip_code_prefix\" : \"10001\", \"customer_city\" : "
        "\"New York\", \"customer_state\" : \"NY\" }, \"order_payments\" : [  ], \"order_items\" "
        ": [  ] }\n");
    /* INSERT item before its product and seller exist. */
    insert(f, T_ITEMS, ITEM("d:199.99", "d:15.00"));
    char *ops = flush(f);
    assert_non_null(strstr(ops, "\"order_items\" : [ { \"order_item_id\" : 1, \"product_id\" : "
                                "\"PROD56789\", \"seller_id\" : \"SELL34567\", "
                                "\"shipping_limit_date\" : { \"$date\" : "
                                "\"2024-11-05T00:00:00Z\" }, \"price\" : { \"$numberDecimal\" : "
                                "\"199.99\" }, \"freight_value\" : { \"$numberDecimal\" : "
                                "\"15.00\" } } ] }\n"));
    bson_free(ops);
    /* The product and the seller arrive: fan-out into the item. */
    insert(f, T_PRODUCTS, PRODUCT);
    ops = flush(f);
    assert_non_null(strstr(ops, "\"product\" : { \"product_category_name\" : \"electronics\", "
                                "\"product_name_lenght\" : null, "
                                "\"product_description_lenght\" : null, \"product_photos_qty\" "
                                ": null, \"product_weight_g\" : 1200, \"product_length_cm\" : 20, "
                                "\"product_height_cm\" : 10, \"product_width_cm\" : 8 } } ] }\n"));
    bson_free(ops);
    insert(f, T_SELLERS, SELLER);
    insert(f, T_PAYMENTS, PAYMENT("i:1", "d:199.99"));
    ops = flush(f);
    assert_int_equal(f->ops.count, 1); /* two changes, one document */
    bson_free(ops);
    /* The updates of Step 2. */
    update(f, T_ORDERS, ORDER("s:pending", ""), ORDER("s:shipped", "t:2024-11-02 18:00:00"));
    update(f, T_PAYMENTS, PAYMENT("i:1", "d:199.99"), PAYMENT("i:2", "d:220.00"));
    update(f, T_ITEMS, ITEM("d:199.99", "d:15.00"), ITEM("d:210.00", "d:18.00"));
    bson_free(flush(f));
    assert_int_equal(f->ops.count, 1);
    const tf_view_op *op = &f->ops.ops[0];
    assert_int_equal(op->kind, TF_VIEW_OP_REPLACE);
    /* Every field with its BSON type (canonical Extended JSON): strings,
     * dates (UTC), Decimal128 for DECIMAL, int32 for INT, null for NULL,
     * embedded object and arrays, relation columns of embedded rows
     * omitted, no _id (the target keeps its own). */
    char *doc = bson_as_canonical_extended_json(op->doc, NULL);
    assert_string_equal(
        doc,
        "{ \"order_id\" : \"ORD789654\", \"customer_id\" : \"CUST12345\", \"order_status\" : "
        "\"shipped\", \"order_purchase_timestamp\" : { \"$date\" : { \"$numberLong\" : "
        "\"1730542800000\" } }, \"order_approved_at\" : { \"$date\" : { \"$numberLong\" : "
        "\"1730542920000\" } }, \"order_delivered_carrier_date\" : { \"$date\" : { \"$numberLong\" "
        ": \"1730570400000\" } }, \"order_delivered_customer_date\" : null, "
        "\"order_estimated_delivery_date\" : { \"$date\" : { \"$numberLong\" : \"1731196800000\" "
        "} }, \"customer_info\" : { \"customer_unique_id\" : \"UNIQUE_CUST_00123\", "
        "\"customer_zip_code_prefix\" : \"10001\", \"customer_city\" : \"New York\", "
        "\"customer_state\" : \"NY\" }, \"order_payments\" : [ { \"payment_sequential\" : { "
        "\"$numberInt\" : \"1\" }, \"payment_type\" : \"credit_card\", \"payment_installments\" : "
        "{ \"$numberInt\" : \"2\" }, \"payment_value\" : { \"$numberDecimal\" : \"220.00\" } } ], "
        "\"order_items\" : [ { \"order_item_id\" : { \"$numberInt\" : \"1\" }, \"product_id\" : "
        "\"PROD56789\", \"seller_id\" : \"SELL34567\", \"shipping_limit_date\" : { \"$date\" : { "
        "\"$numberLong\" : \"1730764800000\" } }, \"price\" : { \"$numberDecimal\" : \"210.00\" }, "
        "\"freight_value\" : { \"$numberDecimal\" : \"18.00\" }, \"product\" : { "
        "\"product_category_name\" : \"electronics\", \"product_name_lenght\" : null, "
        "\"product_description_lenght\" : null, \"product_photos_qty\" : null, "
        "\"product_weight_g\" : { \"$numberInt\" : \"1200\" }, \"product_length_cm\" : { "
        "\"$numberInt\" : \"20\" }, \"product_height_cm\" : { \"$numberInt\" : \"10\" }, "
        "\"product_width_cm\" : { \"$numberInt\" : \"8\" } }, \"seller\" : { "
        "\"seller_zip_code_prefix\" : \"90001\", \"seller_city\" : \"Los Angeles\", "
        "\"seller_state\" : \"CA\" } } ] }");
    bson_free(doc);
    /* The guide's sample names these fields (values it shows included). */
    static const char *const guide_fields[] = {"order_id",
                                               "customer_id",
                                               "order_status",
                                               "order_purchase_timestamp",
                                               "order_approved_at",
                                               "order_delivered_carrier_date",
                                               "order_estimated_delivery_date",
                                               "order_payments.0.payment_type",
                                               "order_payments.0.payment_installments",
                                               "order_payments.0.payment_value",
                                               "order_payments.0.payment_sequential",
                                               "order_items.0.order_item_id",
                                               "order_items.0.price",
                                               "order_items.0.freight_value",
                                               "order_items.0.product_id",
                                               "order_items.0.shipping_limit_date",
                                               "order_items.0.seller",
                                               "order_items.0.product"};
    for (size_t i = 0; i < sizeof guide_fields / sizeof guide_fields[0]; i++) {
        bson_iter_t it, found;
        assert_true(bson_iter_init(&it, op->doc));
        if (!bson_iter_find_descendant(&it, guide_fields[i], &found))
            fail_msg("no %s", guide_fields[i]);
    }
    bson_iter_t it;
    assert_false(bson_iter_init_find(&it, op->doc, "_id"));
    assert_false(bson_iter_init_find(&it, op->doc, "order_payments.0.order_id"));
}

#define ORDER_OF(id, cust) \
    ROW(T_ORDERS, "s:" id, cust, "s:pending", "t:2024-11-02", "", "", "", "t:2024-11-10")
#define ITEM_OF(order, n, product) \
    ROW(T_ITEMS, "s:" order, "i:" n, product, "s:S1", "t:2024-11-05", "d:1.00", "d:0.00")
#define PRODUCT_OF(id, weight) ROW(T_PRODUCTS, "s:" id, "s:c", "", "", "", weight, "", "", "")

/* Keeps only the op kinds and filters of a flush: "delete A,replace B". */
static char *flush_keys(fixture *f)
{
    bson_free(flush(f));
    bson_string_t *out = bson_string_new("");
    for (size_t i = 0; i < f->ops.count; i++) {
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, f->ops.ops[i].filter, "order_id"));
        bson_string_append_printf(out, "%s%s %s", i ? "," : "",
                                  f->ops.ops[i].kind == TF_VIEW_OP_DELETE ? "delete" : "replace",
                                  bson_iter_utf8(&it, NULL));
    }
    return bson_string_free(out, false);
}

static void assert_keys(fixture *f, const char *expected)
{
    char *got = flush_keys(f);
    assert_string_equal(got, expected);
    bson_free(got);
}

static const bson_t *doc_of(fixture *f, const char *order_id)
{
    for (size_t i = 0; i < f->ops.count; i++) {
        bson_iter_t it;
        if (f->ops.ops[i].doc && bson_iter_init_find(&it, f->ops.ops[i].filter, "order_id") &&
            strcmp(bson_iter_utf8(&it, NULL), order_id) == 0)
            return f->ops.ops[i].doc;
    }
    fail_msg("no document for %s", order_id);
    return NULL;
}

static char *field_json(const bson_t *doc, const char *path)
{
    bson_iter_t it, found;
    assert_true(bson_iter_init(&it, doc));
    if (!bson_iter_find_descendant(&it, path, &found))
        return bson_strdup("absent");
    bson_t wrap = BSON_INITIALIZER;
    bson_append_iter(&wrap, "v", 1, &found);
    char *json = bson_as_relaxed_extended_json(&wrap, NULL);
    bson_destroy(&wrap);
    return json;
}

static void assert_field(fixture *f, const char *order_id, const char *path, const char *json)
{
    char *got = field_json(doc_of(f, order_id), path);
    assert_string_equal(got, json);
    bson_free(got);
}

static void test_fan_out_marks_exactly_the_orders_embedding_the_product(void **state)
{
    fixture *f = *state;
    insert(f, T_ORDERS, ORDER_OF("A", "s:C1"));
    insert(f, T_ORDERS, ORDER_OF("B", "s:C1"));
    insert(f, T_ORDERS, ORDER_OF("C", "s:C2"));
    insert(f, T_ITEMS, ITEM_OF("A", "1", "s:P1"));
    insert(f, T_ITEMS, ITEM_OF("A", "2", "s:P1"));
    insert(f, T_ITEMS, ITEM_OF("B", "1", "s:P1"));
    insert(f, T_ITEMS, ITEM_OF("C", "1", "s:P2"));
    assert_keys(f, "replace A,replace B,replace C");
    insert(f, T_PRODUCTS, PRODUCT_OF("P1", "i:5"));
    assert_keys(f, "replace A,replace B");
    assert_field(f, "A", "order_items.1.product.product_weight_g", "{ \"v\" : 5 }");
    update(f, T_PRODUCTS, PRODUCT_OF("P1", "i:5"), PRODUCT_OF("P1", "i:6"));
    assert_keys(f, "replace A,replace B");
    assert_field(f, "B", "order_items.0.product.product_weight_g", "{ \"v\" : 6 }");
    /* A customer change reaches both of its orders, not C. */
    insert(f, T_CUSTOMERS, ROW(T_CUSTOMERS, "s:C1", "s:u", "s:1", "s:x", "s:y"));
    assert_keys(f, "replace A,replace B");
    /* A product nobody references changes nothing. */
    insert(f, T_PRODUCTS, PRODUCT_OF("P9", "i:1"));
    assert_keys(f, "");
    /* Deleting the product removes the embedded object (absent field). */
    delete_row(f, T_PRODUCTS, PRODUCT_OF("P1", "i:6"));
    assert_keys(f, "replace A,replace B");
    assert_field(f, "A", "order_items.0.product", "absent");
}

static void test_child_reparent_moves_embedded_row(void **state)
{
    fixture *f = *state;
    insert(f, T_ORDERS, ORDER_OF("A", "s:C1"));
    insert(f, T_ORDERS, ORDER_OF("B", "s:C1"));
    insert(f, T_ITEMS, ITEM_OF("A", "7", "s:P1"));
    bson_free(flush(f));
    update(f, T_ITEMS, ITEM_OF("A", "7", "s:P1"), ITEM_OF("B", "7", "s:P1"));
    assert_keys(f, "replace A,replace B");
    assert_field(f, "A", "order_items", "{ \"v\" : [  ] }");
    assert_field(f, "B", "order_items.0.order_item_id", "{ \"v\" : 7 }");
}

static void test_root_key_change_deletes_old_document_first(void **state)
{
    fixture *f = *state;
    insert(f, T_ORDERS, ORDER_OF("A", "s:C1"));
    insert(f, T_ITEMS, ITEM_OF("B", "1", "s:P1"));
    bson_free(flush(f));
    /* A becomes B: B's items (waiting for their order) are embedded. */
    update(f, T_ORDERS, ORDER_OF("A", "s:C1"), ORDER_OF("B", "s:C1"));
    assert_keys(f, "delete A,replace B");
    assert_field(f, "B", "order_items.0.order_item_id", "{ \"v\" : 1 }");
    delete_row(f, T_ORDERS, ORDER_OF("B", "s:C1"));
    assert_keys(f, "delete B");
}

static void test_child_key_change_reorders_array(void **state)
{
    fixture *f = *state;
    insert(f, T_ORDERS, ORDER_OF("A", "s:C1"));
    insert(f, T_ITEMS, ITEM_OF("A", "2", "s:P2"));
    insert(f, T_ITEMS, ITEM_OF("A", "1", "s:P1"));
    bson_free(flush(f));
    assert_field(f, "A", "order_items.0.product_id", "{ \"v\" : \"P1\" }");
    update(f, T_ITEMS, ITEM_OF("A", "1", "s:P1"), ITEM_OF("A", "3", "s:P1"));
    assert_keys(f, "replace A");
    assert_field(f, "A", "order_items.0.product_id", "{ \"v\" : \"P2\" }");
    assert_field(f, "A", "order_items.1.order_item_id", "{ \"v\" : 3 }");
}

static void test_null_relation_column_joins_nothing(void **state)
{
    fixture *f = *state;
    insert(f, T_ORDERS, ORDER_OF("A", ""));
    bson_free(flush(f));
    assert_field(f, "A", "customer_info", "absent");
    insert(f, T_ITEMS, ITEM_OF("A", "1", ""));
    insert(f, T_PRODUCTS, PRODUCT_OF("P1", "i:1"));
    bson_free(flush(f));
    assert_field(f, "A", "order_items.0.product_id", "{ \"v\" : null }");
    assert_field(f, "A", "order_items.0.product", "absent");
}

static void test_replayed_changes_give_the_same_documents(void **state)
{
    fixture *f = *state;
    row order = ORDER_OF("A", "s:C1");
    row item = ITEM_OF("A", "1", "s:P1");
    insert(f, T_ORDERS, order);
    insert(f, T_ITEMS, item);
    char *first = flush(f);
    /* Resuming from a checkpoint replays what was applied. */
    insert(f, T_ORDERS, order);
    insert(f, T_ITEMS, item);
    char *second = flush(f);
    assert_string_equal(first, second);
    delete_row(f, T_ITEMS, item);
    delete_row(f, T_ITEMS, item);   /* unknown row: nothing */
    update(f, T_ITEMS, item, item); /* unknown before: inserts */
    char *third = flush(f);
    assert_string_equal(first, third);
    bson_free(first);
    bson_free(second);
    bson_free(third);
}

static void test_partial_row_image_is_refused(void **state)
{
    fixture *f = *state;
    row r = ORDER_OF("A", "s:C1");
    r.v[2].kind = TF_VAL_ABSENT;
    tf_error err = {0};
    assert_int_equal(tf_view_apply(f->view, "ecom_orders", TF_VIEW_INSERT, NULL, r.v, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "table ecom_orders: column order_status is missing from the "
                                     "row image (the view needs binlog_row_image=FULL)");
    /* Tables outside the flow are ignored. */
    assert_int_equal(tf_view_apply(f->view, "other", TF_VIEW_INSERT, NULL, r.v, &err), TF_OK);
    assert_false(tf_view_uses_table(f->view, "other"));
    assert_true(tf_view_uses_table(f->view, "ecom_sellers"));
}

/* ---- definition errors ---- */

static const char *define_error(const char *flow, int bad_table, const char *rename_from,
                                const char *rename_to, uint8_t retype)
{
    static tf_error err;
    memset(&err, 0, sizeof err);
    tf_flow_spec *spec = NULL;
    assert_int_equal(tf_flow_parse(flow, strlen(flow), "f.tap", &spec, &err), TF_OK);
    tf_view *view = tf_view_new(spec);
    tf_status st = TF_OK;
    for (int t = 0; t < T_COUNT && st == TF_OK; t++) {
        if (!tf_view_uses_table(view, schema[t].name))
            continue;
        tf_column cols[9];
        columns_of(t, cols);
        for (size_t i = 0; t == bad_table && i < schema[t].count; i++) {
            if (strcmp(schema[t].cols[i].name, rename_from) == 0) {
                if (rename_to) {
                    cols[i].name.ptr = rename_to;
                    cols[i].name.len = strlen(rename_to);
                }
                if (retype) {
                    cols[i].type = retype;
                    cols[i].is_primary_key = false;
                }
            }
        }
        st = tf_view_define_table(view, schema[t].name, cols, schema[t].count, NULL, 0, &err);
    }
    assert_int_equal(st, TF_MALFORMED);
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
    return err.message;
}

#define FLOW_HEAD "f = Flow('x').read_from('S.ecom_orders').write_to('T.c')\n"

static void test_definition_errors_name_the_flow_line(void **state)
{
    (void)state;
    assert_string_equal(define_error(FLOW_HEAD
                                     "f.lookup('S.ecom_customers', path='c', type='object', "
                                     "relation=[['customer_id', 'customer_idd']])\n",
                                     -1, "", NULL, 0),
                        "f.tap:2:65: relation of path \"c\": table ecom_customers has no column "
                        "\"customer_idd\"");
    assert_string_equal(
        define_error(FLOW_HEAD "f.lookup('S.ecom_order_items', path='items', type='array', "
                               "relation=[['order_id', 'order_id']])\n",
                     T_ITEMS, "order_id", NULL, TF_TYPE_LONG),
        "f.tap:2:70: relation of path \"items\": ecom_orders.order_id (VARCHAR) and "
        "ecom_order_items.order_id (LONG) are not comparable the way the view joins them");
    assert_string_equal(
        define_error(FLOW_HEAD "f.lookup('S.ecom_customers', path='customer_id', type='object', "
                               "relation=[['customer_id', 'customer_id']])\n",
                     -1, "", NULL, 0),
        "f.tap:2:35: path \"customer_id\": field \"customer_id\" is already a column of "
        "ecom_orders");
    assert_string_equal(define_error(FLOW_HEAD, T_ORDERS, "order_id", NULL, TF_TYPE_VARCHAR),
                        "table ecom_orders has no primary key: the view addresses its rows by it "
                        "(add one, or give binlog_row_metadata=FULL so the binlog names it)");
}

static void test_change_before_every_table_is_defined(void **state)
{
    (void)state;
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    assert_int_equal(
        tf_flow_parse_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &spec, &err),
        TF_OK);
    tf_view *view = tf_view_new(spec);
    tf_column cols[9];
    columns_of(T_ORDERS, cols);
    assert_int_equal(tf_view_define_table(view, "ecom_orders", cols, 8, NULL, 0, &err), TF_OK);
    /* Same definition again (every TABLE_MAP repeats it): fine. */
    assert_int_equal(tf_view_define_table(view, "ecom_orders", cols, 8, NULL, 0, &err), TF_OK);
    row r = ORDER_OF("A", "s:C1");
    assert_int_equal(tf_view_apply(view, "ecom_orders", TF_VIEW_INSERT, NULL, r.v, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "change of ecom_orders before table ecom_customers of flow "
                                     "Order_SingleView_Sync was defined");
    assert_int_equal(tf_view_define_table(view, "nope", cols, 8, NULL, 0, &err), TF_MALFORMED);
    assert_string_equal(err.message, "table nope is not read by flow Order_SingleView_Sync");
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

/* The guide's order with one item, its product, seller and payment,
 * written by a flush. */
static void insert_guide_order(fixture *f)
{
    insert(f, T_CUSTOMERS, CUSTOMER);
    insert(f, T_ORDERS, ORDER("s:pending", ""));
    insert(f, T_ITEMS, ITEM("d:199.99", "d:15.00"));
    insert(f, T_PRODUCTS, PRODUCT);
    insert(f, T_SELLERS, SELLER);
    insert(f, T_PAYMENTS, PAYMENT("i:1", "d:199.99"));
    bson_free(flush(f));
}

/* ARRAY_FILTERS mode on the guide's document: the exact commands for a
 * product change, a seller change (one updateMany each, whatever the
 * number of orders), a customer change and a payment change ($set of one
 * root-level lookup), a seller that disappears ($unset), and the order's
 * own columns ($set of them). */
static void test_array_filters_mode_guide_changes_give_exact_commands(void **state)
{
    fixture *f = *state;
    insert_guide_order(f);
    tf_error err = {0};
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_ARRAY_FILTERS, &err), TF_OK);

    update(f, T_PRODUCTS, PRODUCT,
           ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1300", "i:20", "i:10",
               "i:8"));
    assert_flush(f, "set-many { \"order_items.product_id\" : \"PROD56789\" } { \"$set\" : { "
                    "\"order_items.$[e].product\" : { \"product_category_name\" : "
                    "\"electronics\", \"product_name_lenght\" : null, "
                    "\"product_description_lenght\" : null, \"product_photos_qty\" : null, "
                    "\"product_weight_g\" : 1300, \"product_length_cm\" : 20, "
                    "\"product_height_cm\" : 10, \"product_width_cm\" : 8 } }, \"$unset\" : "
                    "{ } } [ { \"e.product_id\" : \"PROD56789\" } ]\n");
    /* The exact BSON: types included (int32 weight, strings). */
    const tf_view_op *op = &f->ops.ops[0];
    assert_int_equal(op->kind, TF_VIEW_OP_SET_MANY);
    assert_null(op->doc);
    assert_null(op->unset);
    char *json = bson_as_canonical_extended_json(op->set, NULL);
    assert_string_equal(json, "{ \"order_items.$[e].product\" : { \"product_category_name\" : "
                              "\"electronics\", \"product_name_lenght\" : null, "
                              "\"product_description_lenght\" : null, \"product_photos_qty\" : "
                              "null, \"product_weight_g\" : { \"$numberInt\" : \"1300\" }, "
                              "\"product_length_cm\" : { \"$numberInt\" : \"20\" }, "
                              "\"product_height_cm\" : { \"$numberInt\" : \"10\" }, "
                              "\"product_width_cm\" : { \"$numberInt\" : \"8\" } } }");
    bson_free(json);
    bson_iter_t it, child;
    assert_true(bson_iter_init(&it, op->array_filters));
    assert_true(bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "0");
    assert_true(BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &child));
    assert_true(bson_iter_next(&child));
    assert_string_equal(bson_iter_key(&child), "e.product_id");
    assert_string_equal(bson_iter_utf8(&child, NULL), "PROD56789");
    assert_false(bson_iter_next(&child));
    assert_false(bson_iter_next(&it));

    update(f, T_SELLERS, SELLER, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    assert_flush(f, "set-many { \"order_items.seller_id\" : \"SELL34567\" } { \"$set\" : { "
                    "\"order_items.$[e].seller\" : { \"seller_zip_code_prefix\" : \"90001\", "
                    "\"seller_city\" : \"San Diego\", \"seller_state\" : \"CA\" } }, "
                    "\"$unset\" : { } } [ { \"e.seller_id\" : \"SELL34567\" } ]\n");

    update(f, T_CUSTOMERS, CUSTOMER,
           ROW(T_CUSTOMERS, "s:CUST12345", "s:UNIQUE_CUST_00123", "s:10002", "s:New York", "s:NY"));
    update(f, T_PAYMENTS, PAYMENT("i:1", "d:199.99"), PAYMENT("i:2", "d:220.00"));
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { \"customer_info\" : { "
                    "\"customer_unique_id\" : \"UNIQUE_CUST_00123\", "
                    "\"customer_zip_code_prefix\" : \"10002\", \"customer_city\" : \"New "
                    "York\", \"customer_state\" : \"NY\" }, \"order_payments\" : [ { "
                    "\"payment_sequential\" : 1, \"payment_type\" : \"credit_card\", "
                    "\"payment_installments\" : 2, \"payment_value\" : { \"$numberDecimal\" "
                    ": \"220.00\" } } ] }, \"$unset\" : { } }\n");

    /* The seller goes: $unset of the element's field. */
    delete_row(f, T_SELLERS, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    assert_flush(f, "set-many { \"order_items.seller_id\" : \"SELL34567\" } { \"$set\" : { }, "
                    "\"$unset\" : { \"order_items.$[e].seller\" : \"\" } } [ { "
                    "\"e.seller_id\" : \"SELL34567\" } ]\n");
    /* It comes back: a $set would append the field after "product"'s
     * siblings in a different place than a recompute, so the order is
     * replaced whole. */
    insert(f, T_SELLERS, SELLER);
    assert_keys(f, "replace ORD789654");
    /* The root row's own columns changed, every key kept: $set of its
     * columns but the primary key. */
    update(f, T_ORDERS, ORDER("s:pending", ""), ORDER("s:shipped", "t:2024-11-02 18:00:00"));
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { \"customer_id\" : "
                    "\"CUST12345\", \"order_status\" : \"shipped\", "
                    "\"order_purchase_timestamp\" : { \"$date\" : \"2024-11-02T10:20:00Z\" }, "
                    "\"order_approved_at\" : { \"$date\" : \"2024-11-02T10:22:00Z\" }, "
                    "\"order_delivered_carrier_date\" : { \"$date\" : "
                    "\"2024-11-02T18:00:00Z\" }, \"order_delivered_customer_date\" : null, "
                    "\"order_estimated_delivery_date\" : { \"$date\" : "
                    "\"2024-11-10T00:00:00Z\" } }, \"$unset\" : { } }\n");
    /* A new customer for the order: its embedded customer changes too,
     * the whole document. */
    update(f, T_ORDERS, ORDER("s:shipped", "t:2024-11-02 18:00:00"),
           ROW(T_ORDERS, "s:ORD789654", "s:CUST99", "s:shipped", "t:2024-11-02 10:20:00",
               "t:2024-11-02 10:22:00", "t:2024-11-02 18:00:00", "", "t:2024-11-10"));
    assert_keys(f, "replace ORD789654");
    update(f, T_ORDERS,
           ROW(T_ORDERS, "s:ORD789654", "s:CUST99", "s:shipped", "t:2024-11-02 10:20:00",
               "t:2024-11-02 10:22:00", "t:2024-11-02 18:00:00", "", "t:2024-11-10"),
           ORDER("s:shipped", "t:2024-11-02 18:00:00"));
    bson_free(flush(f));
    /* The mode is only changed between flushes. */
    update(f, T_ORDERS, ORDER("s:shipped", "t:2024-11-02 18:00:00"), ORDER("s:pending", ""));
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_RECOMPUTE, &err), TF_MALFORMED);
    assert_string_equal(err.message, "flow Order_SingleView_Sync: fan-out mode changed with "
                                     "documents pending (flush first)");
}

/* POSITIONAL mode on the guide's document with a second item of the same
 * seller (whose product is unknown): a seller or product change is one
 * $set per order of the element paths that embed it, by position in the
 * array; a seller that goes is $unset there; an order recomputed or whose
 * array is $set whole in the same flush gets no positional SET. */
#define ITEM2                                                                                   \
    ROW(T_ITEMS, "s:ORD789654", "i:2", "s:PROD00002", "s:SELL34567", "t:2024-11-05", "d:10.00", \
        "d:1.00")
/* The op kinds of a flush, in order: "set-many,set,replace". */
static char *flush_kinds(fixture *f)
{
    bson_free(flush(f));
    bson_string_t *out = bson_string_new("");
    for (size_t i = 0; i < f->ops.count; i++) {
        tf_view_op_kind k = f->ops.ops[i].kind;
        bson_string_append_printf(out, "%s%s", i ? "," : "",
                                  k == TF_VIEW_OP_SET_MANY ? "set-many"
                                  : k == TF_VIEW_OP_SET    ? "set"
                                  : k == TF_VIEW_OP_DELETE ? "delete"
                                                           : "replace");
    }
    return bson_string_free(out, false);
}

static void assert_kinds(fixture *f, const char *expected)
{
    char *got = flush_kinds(f);
    assert_string_equal(got, expected);
    bson_free(got);
}

/* The write costs choose each document's shape: a SET dearer than the
 * REPLACE of its document gives the REPLACE (the document the recompute
 * gives), and a SET_MANY dearer than the SETs of the documents it reaches
 * gives those SETs; the document's size counts too. */
static void test_write_costs_choose_each_documents_shape(void **state)
{
    fixture *f = *state;
    insert_guide_order(f);
    tf_error err = {0};
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_ARRAY_FILTERS, &err), TF_OK);
    row weights[3] = {
        ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1200", "i:20", "i:10",
            "i:8"),
        ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1300", "i:20", "i:10",
            "i:8"),
        ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1400", "i:20", "i:10",
            "i:8"),
    };
    /* No costs: as before. */
    update(f, T_PRODUCTS, weights[0], weights[1]);
    assert_kinds(f, "set-many");
    /* One document: its SET costs 1, the updateMany 1 + 1 per document. */
    tf_view_write_costs costs = {
        .replace = 10, .update = 1, .update_many = 1, .update_many_doc = 1};
    tf_view_set_write_costs(f->view, &costs);
    update(f, T_PRODUCTS, weights[1], weights[2]);
    assert_kinds(f, "set");
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, f->ops.ops[0].set, "order_items.0.product"));
    /* A replace cheaper than any SET: the document whole, equal to the
     * recompute's. */
    costs = (tf_view_write_costs){.replace = 1, .update = 5, .update_many = 100};
    tf_view_set_write_costs(f->view, &costs);
    update(f, T_PRODUCTS, weights[2], weights[1]);
    assert_kinds(f, "replace");
    bson_t *planned = bson_copy(f->ops.ops[0].doc);
    tf_view_set_write_costs(f->view, NULL);
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_RECOMPUTE, &err), TF_OK);
    update(f, T_PRODUCTS, weights[1], weights[0]);
    update(f, T_PRODUCTS, weights[0], weights[1]);
    assert_kinds(f, "replace");
    assert_true(bson_equal(planned, f->ops.ops[0].doc));
    bson_destroy(planned);
    /* The same base cost, with each KB of a replaced document dear: the
     * SET is the cheaper. */
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_POSITIONAL, &err), TF_OK);
    costs = (tf_view_write_costs){.replace = 1, .replace_per_kb = 100, .update = 1.5};
    tf_view_set_write_costs(f->view, &costs);
    update(f, T_SELLERS, SELLER, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    assert_kinds(f, "set");
    /* A change of the order's own columns: the same rule. */
    costs = (tf_view_write_costs){.replace = 1, .update = 5};
    tf_view_set_write_costs(f->view, &costs);
    update(f, T_ORDERS, ORDER("s:pending", ""), ORDER("s:shipped", ""));
    assert_kinds(f, "replace");
    tf_view_stats st;
    tf_view_get_stats(f->view, &st);
    /* The product's key went positional twice (the second time its SET
     * was then replaced). */
    assert_int_equal(st.planned_replaces, 2);
    assert_int_equal(st.planned_positional_keys, 2);
}

static void test_positional_mode_guide_changes_give_exact_commands(void **state)
{
    fixture *f = *state;
    insert(f, T_CUSTOMERS, CUSTOMER);
    insert(f, T_ORDERS, ORDER("s:pending", ""));
    insert(f, T_ITEMS, ITEM2);
    insert(f, T_ITEMS, ITEM("d:199.99", "d:15.00"));
    insert(f, T_PRODUCTS, PRODUCT);
    insert(f, T_SELLERS, SELLER);
    insert(f, T_PAYMENTS, PAYMENT("i:1", "d:199.99"));
    bson_free(flush(f));
    tf_error err = {0};
    assert_int_equal(tf_view_set_fanout(f->view, TF_VIEW_FANOUT_POSITIONAL, &err), TF_OK);

    update(f, T_PRODUCTS, PRODUCT,
           ROW(T_PRODUCTS, "s:PROD56789", "s:electronics", "", "", "", "i:1300", "i:20", "i:10",
               "i:8"));
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { "
                    "\"order_items.0.product\" : { \"product_category_name\" : "
                    "\"electronics\", \"product_name_lenght\" : null, "
                    "\"product_description_lenght\" : null, \"product_photos_qty\" : null, "
                    "\"product_weight_g\" : 1300, \"product_length_cm\" : 20, "
                    "\"product_height_cm\" : 10, \"product_width_cm\" : 8 } }, \"$unset\" : "
                    "{ } }\n");
    const tf_view_op *op = &f->ops.ops[0];
    assert_int_equal(op->kind, TF_VIEW_OP_SET);
    assert_null(op->doc);
    assert_null(op->unset);
    assert_null(op->array_filters);
    update(f, T_SELLERS, SELLER, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { "
                    "\"order_items.0.seller\" : { \"seller_zip_code_prefix\" : \"90001\", "
                    "\"seller_city\" : \"San Diego\", \"seller_state\" : \"CA\" }, "
                    "\"order_items.1.seller\" : { \"seller_zip_code_prefix\" : \"90001\", "
                    "\"seller_city\" : \"San Diego\", \"seller_state\" : \"CA\" } }, "
                    "\"$unset\" : { } }\n");
    delete_row(f, T_SELLERS, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { }, \"$unset\" : { "
                    "\"order_items.0.seller\" : \"\", \"order_items.1.seller\" : \"\" } }\n");
    assert_null(f->ops.ops[0].set);
    /* It comes back: a $set would append the field, so the order is
     * replaced whole. */
    insert(f, T_SELLERS, SELLER);
    assert_keys(f, "replace ORD789654");
    update(f, T_SELLERS, SELLER, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"));
    delete_row(f, T_ITEMS, ITEM2);
    /* The array changes too: its $set carries the new seller, and no
     * element path may be set in the same flush. */
    assert_flush(f, "set { \"order_id\" : \"ORD789654\" } { \"$set\" : { \"order_items\" : [ { "
                    "\"order_item_id\" : 1, \"product_id\" : \"PROD56789\", \"seller_id\" : "
                    "\"SELL34567\", \"shipping_limit_date\" : { \"$date\" : "
                    "\"2024-11-05T00:00:00Z\" }, \"price\" : { \"$numberDecimal\" : "
                    "\"199.99\" }, \"freight_value\" : { \"$numberDecimal\" : \"15.00\" }, "
                    "\"product\" : { \"product_category_name\" : \"electronics\", "
                    "\"product_name_lenght\" : null, \"product_description_lenght\" : null, "
                    "\"product_photos_qty\" : null, \"product_weight_g\" : 1300, "
                    "\"product_length_cm\" : 20, \"product_height_cm\" : 10, "
                    "\"product_width_cm\" : 8 }, \"seller\" : { \"seller_zip_code_prefix\" "
                    ": \"90001\", \"seller_city\" : \"San Diego\", \"seller_state\" : \"CA\" } "
                    "} ] }, \"$unset\" : { } }\n");
    /* A seller change while the order is recomputed: the replace only. */
    update(f, T_SELLERS, ROW(T_SELLERS, "s:SELL34567", "s:90001", "s:San Diego", "s:CA"), SELLER);
    update(f, T_ORDERS, ORDER("s:pending", ""),
           ROW(T_ORDERS, "s:ORD789654", "s:CUST99", "s:pending", "t:2024-11-02 10:20:00",
               "t:2024-11-02 10:22:00", "", "", "t:2024-11-10"));
    assert_keys(f, "replace ORD789654");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_guide_step2_sequence_gives_the_guides_document),
        T(test_fan_out_marks_exactly_the_orders_embedding_the_product),
        T(test_child_reparent_moves_embedded_row),
        T(test_root_key_change_deletes_old_document_first),
        T(test_child_key_change_reorders_array),
        T(test_null_relation_column_joins_nothing),
        T(test_replayed_changes_give_the_same_documents),
        T(test_partial_row_image_is_refused),
        T(test_array_filters_mode_guide_changes_give_exact_commands),
        T(test_positional_mode_guide_changes_give_exact_commands),
        T(test_write_costs_choose_each_documents_shape),
        cmocka_unit_test(test_definition_errors_name_the_flow_line),
        cmocka_unit_test(test_change_before_every_table_is_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
