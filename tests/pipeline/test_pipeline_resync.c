/* test_pipeline_resync.c — source events other than full row images, and
 * the per-table online re-sync, between a fake source and a fake target:
 * TRUNCATE, statement-format DML, ALTER TABLE and new TABLE_MAPs, DROP /
 * RENAME, partial images, read windows, chunks, checkpointed progress. */
#include "pipeline_fakes.h"

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef fake_fixture fixture;

static int setup(void **state)
{
    *state = fake_fixture_new(0, TF_PIPELINE_RUNNING);
    return 0;
}

static int setup_chunk2(void **state)
{
    *state = fake_fixture_new(2, TF_PIPELINE_RUNNING);
    return 0;
}

static int teardown(void **state)
{
    fake_fixture_destroy(*state);
    return 0;
}

static void customer(tf_value *v, const char *id, const char *name)
{
    v[0] = fake_str(id);
    v[1] = fake_str(name);
}

static void order(tf_value *v, const char *id, const char *cust)
{
    v[0] = fake_str(id);
    v[1] = fake_str(cust);
    v[2] = fake_dec("1.00");
}

static void item(tf_value *v, const char *order_id, int64_t n, const char *sku)
{
    v[0] = fake_str(order_id);
    v[1] = fake_int(n);
    v[2] = fake_str(sku);
}

/* Customers C1 (Ann), C2 (Bob), C3 (Cy); orders O1 (C1), O2 (C2), O3 (C3);
 * O1 has items 1 (pen) and 2 (ink). */
static void load(fixture *fx)
{
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, "0-1-1", "bin.000001", 100);
    tf_value c[2], o[3], i[3];
    const char *names[3][2] = {{"C1", "Ann"}, {"C2", "Bob"}, {"C3", "Cy"}};
    const char *orders[3][2] = {{"O1", "C1"}, {"O2", "C2"}, {"O3", "C3"}};
    for (int k = 0; k < 3; k++) {
        customer(c, names[k][0], names[k][1]);
        fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_WRITE, NULL, c);
        order(o, orders[k][0], orders[k][1]);
        fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    }
    item(i, "O1", 1, "pen");
    fake_txn_row(&t, fake_table_map(FAKE_ITEMS), TF_ROWS_WRITE, NULL, i);
    item(i, "O1", 2, "ink");
    fake_txn_row(&t, fake_table_map(FAKE_ITEMS), TF_ROWS_WRITE, NULL, i);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    fx->target.count = 0;
    fx->target.rebases = 0;
}

static bool statement(fixture *fx, const char *gtid, const char *db, const char *sql, tf_error *err)
{
    fake_txn t;
    fake_txn_init(&t, gtid, "bin.000001", 500);
    fake_txn_statement(&t, db, sql);
    return tf_pipeline_apply(fx->p, fake_txn_get(&t), err);
}

static void tick(fixture *fx)
{
    tf_error err = {0};
    fx->now += 10;
    assert_true(tf_pipeline_tick(fx->p, fx->now, &err));
}

static void answer_customers(fixture *fx, const char *const (*rows)[2], size_t n, bool exhausted)
{
    const tf_table_map *m = fake_table_map(FAKE_CUSTOMERS);
    uint32_t pk[1] = {0};
    tf_pipeline_resync_columns(fx->p, m->columns, m->column_count, pk, 1);
    for (size_t k = 0; k < n; k++) {
        tf_value c[2];
        customer(c, rows[k][0], rows[k][1]);
        tf_pipeline_resync_row(fx->p, c);
    }
    tf_error err = {0};
    assert_true(tf_pipeline_resync_done(fx->p, exhausted, NULL, fx->now, &err));
}

static size_t adds_with(const fixture *fx, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->target.count; i++)
        n += fx->target.calls[i].kind == FAKE_ADD && strstr(fx->target.calls[i].text, needle);
    return n;
}

/* ---- TRUNCATE ---- */

static void test_truncate_empties_embedded_array_at_that_point(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-2", "shop", "TRUNCATE TABLE items", &err));
    assert_int_equal(adds_with(fx, "\"items\" : [  ]"), 1); /* O1 only */
    assert_int_equal(adds_with(fx, "pen"), 0);
    assert_int_equal(fx->target.rebases, 1);
    assert_non_null(strstr(fx->log.text, "TRUNCATE of shop.items: 2 rows left the view"));
    /* the rows are gone: a later change does not bring them back */
    tick(fx);
    assert_int_equal(fx->source.reads, 0);
}

static void test_truncate_of_other_database_or_table_changes_nothing(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-2", "shop", "TRUNCATE `archive`.`items`", &err));
    assert_true(statement(fx, "0-1-3", "shop", "truncate table audit_log", &err));
    assert_true(statement(fx, "0-1-4", "archive", "TRUNCATE items", &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 0);
    assert_int_equal(fx->target.rebases, 0);
    tick(fx);
    assert_int_equal(fx->source.reads, 0);
}

/* ---- DROP / RENAME ---- */

static void test_drop_of_flow_table_stops_naming_it(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-2", "shop", "DROP TABLE IF EXISTS tmp1, audit", &err));
    assert_false(statement(fx, "0-1-3", "shop",
                           "DROP TABLE IF EXISTS `customers` /* generated by server */", &err));
    assert_string_equal(err.message,
                        "transaction 0-1-3: DROP TABLE of shop.customers, a table of flow Orders: "
                        "the flow cannot follow (its documents would lose that table's data); "
                        "restore the table and restart with --resnapshot, or change the flow");
}

static void test_rename_away_stops_rename_onto_resyncs(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-2", "shop", "RENAME TABLE customers_new TO customers", &err));
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    assert_string_equal(fx->source.table, "customers");
    assert_false(
        statement(fx, "0-1-3", "other", "RENAME TABLE shop.orders TO shop.orders_old", &err));
    assert_non_null(strstr(err.message, "RENAME TABLE of shop.orders, a table of flow Orders"));
    assert_false(statement(fx, "0-1-4", "shop", "ALTER TABLE items RENAME TO items2", &err));
    assert_non_null(strstr(err.message, "ALTER TABLE ... RENAME of shop.items"));
}

static void test_drop_database_of_flow_stops(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    assert_true(statement(fx, "0-1-2", "", "DROP DATABASE scratch", &err));
    assert_false(statement(fx, "0-1-3", "", "DROP SCHEMA IF EXISTS `shop`", &err));
    assert_non_null(strstr(err.message, "DROP DATABASE shop, the database of flow Orders"));
}

/* ---- statement-format DML: a re-sync ---- */

static void test_statement_dml_resyncs_table_with_warning(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-7", "shop",
                          "UPDATE customers SET name='Zed' WHERE customer_id='C2'", &err));
    assert_non_null(strstr(fx->log.text,
                           "warning: transaction 0-1-7: statement-format change of shop.customers "
                           "(\"UPDATE customers SET name='Zed' WHERE customer_id='C2'\")"));
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    assert_false(fx->source.key_read);
    assert_string_equal(fx->source.after, "");
    assert_int_equal(fx->source.max_rows, 5000);
    /* the source says C2 is Zed and C3 is gone */
    const char *const rows[][2] = {{"C1", "Ann"}, {"C2", "Zed"}};
    answer_customers(fx, rows, 2, true);
    /* only O2 (Zed) and O3 (customer gone) are written */
    assert_int_equal(adds_with(fx, "Zed"), 1);
    assert_int_equal(adds_with(fx, "\"O1\""), 0);
    assert_int_equal(adds_with(fx, "\"O3\""), 1);
    assert_non_null(strstr(fx->log.text, "re-sync of shop.customers done: 2 rows read in 1 reads, "
                                         "1 changed, 1 deleted"));
    assert_int_equal(fx->target.rebases, 1);
    tf_pipeline_resync_stats st;
    tf_pipeline_get_resync_stats(fx->p, &st);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.queued, 0);
    /* the change reached the state delta */
    assert_true(fake_target_find(&fx->target, FAKE_RECORD, "customers insert 2", 0) >= 0);
}

static void test_stream_change_during_read_wins(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    tf_pipeline_resync_start(fx->p, "customers", false, "test");
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    /* while the read is in flight the stream renames C1 and deletes C2 */
    fake_txn t;
    fake_txn_init(&t, "0-1-8", "bin.000001", 700);
    tf_value before[2], after[2];
    customer(before, "C1", "Ann");
    customer(after, "C1", "Anna");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_UPDATE, before, after);
    customer(before, "C2", "Bob");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_DELETE, before, NULL);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    size_t mark = fx->target.count;
    /* the read saw both before the stream's changes */
    const char *const rows[][2] = {{"C1", "Ann"}, {"C2", "Bob"}, {"C3", "Cy"}};
    answer_customers(fx, rows, 3, true);
    /* nothing goes back: the stream's rows are kept */
    for (size_t i = mark; i < fx->target.count; i++)
        assert_null(strstr(fx->target.calls[i].text, "Ann\""));
    assert_int_equal(tf_view_table_row_count(tf_pipeline_view(fx->p), "customers"), 2);
    assert_non_null(strstr(fx->log.text, "0 changed, 0 deleted"));
}

static void test_statement_during_read_drops_its_answer(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    tf_pipeline_resync_start(fx->p, "customers", false, "test");
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    assert_true(statement(fx, "0-1-9", "shop", "DELETE FROM customers", &err));
    assert_int_equal(fx->source.cancels, 1);
    /* a late answer (a source that could not cancel) is ignored */
    const char *const rows[][2] = {{"C1", "Old"}};
    answer_customers(fx, rows, 1, true);
    assert_int_equal(adds_with(fx, "Old"), 0);
    /* read again from the start */
    tick(fx);
    assert_int_equal(fx->source.reads, 2);
    answer_customers(fx, rows, 0, true);
    /* every customer is gone: every order loses its embedded customer */
    assert_int_equal(adds_with(fx, "\"O1\""), 1);
    assert_int_equal(adds_with(fx, "\"O3\""), 1);
    assert_int_equal(tf_view_table_row_count(tf_pipeline_view(fx->p), "customers"), 0);
}

static void test_failed_read_is_retried_after_a_second(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    tf_pipeline_resync_start(fx->p, "customers", false, "test");
    fx->source.refuse = true;
    tick(fx);
    assert_int_equal(fx->source.reads, 0);
    assert_non_null(strstr(fx->log.text, "cannot read: connection refused; retrying in 1000 ms"));
    tick(fx);
    assert_int_equal(fx->source.reads, 0);
    fx->now += 1000;
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    tf_error rerr = {0};
    tf_error_set(&rerr, TF_ERR_IO, 0, "lost connection");
    assert_true(tf_pipeline_resync_done(fx->p, false, &rerr, fx->now, &err));
    assert_non_null(strstr(fx->log.text, "read failed: lost connection"));
    fx->now += 1001;
    tick(fx);
    assert_int_equal(fx->source.reads, 2);
}

/* ---- chunks, progress, resume ---- */

static void test_chunks_continue_after_last_key_and_progress_is_checkpointed(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    tf_pipeline_resync_start(fx->p, "customers", false, "test");
    tick(fx);
    assert_int_equal(fx->source.max_rows, 2);
    const char *const first[][2] = {{"C1", "Ann"}, {"C2", "Bob"}};
    answer_customers(fx, first, 2, false);
    /* checkpoint: the queue with the last key goes with it */
    assert_true(tf_pipeline_checkpoint(fx->p, fx->now, &err));
    char *json = bson_as_relaxed_extended_json(fx->target.progress, NULL);
    assert_non_null(strstr(json, "\"table\" : \"customers\", \"kind\" : \"table\""));
    assert_non_null(strstr(json, "\"after\""));
    bson_free(json);
    tick(fx);
    assert_int_equal(fx->source.reads, 2);
    assert_string_equal(fx->source.after, "C2");

    /* a restarted flow: same state, the stored queue */
    fixture *f2 = fake_fixture_new(2, TF_PIPELINE_RUNNING);
    load(f2);
    assert_true(tf_pipeline_resync_restore(f2->p, fx->target.progress, &err));
    assert_non_null(strstr(f2->log.text, "continues from the checkpoint after its last completed"));
    tick(f2);
    assert_int_equal(f2->source.reads, 1);
    assert_string_equal(f2->source.after, "C2");
    /* the last chunk: nothing after C2 */
    answer_customers(f2, NULL, 0, true);
    /* resumed: rows not read in this run are read by key before any delete */
    tick(f2);
    assert_int_equal(f2->source.reads, 2);
    assert_true(f2->source.key_read);
    assert_int_equal(f2->source.key_rows, 3);
    const char *const exist[][2] = {{"C1", "Ann"}, {"C2", "Bob"}};
    answer_customers(f2, exist, 2, true);
    assert_int_equal(tf_view_table_row_count(tf_pipeline_view(f2->p), "customers"), 2);
    assert_non_null(strstr(f2->log.text, "1 deleted"));
    fake_fixture_destroy(f2);
}

/* ---- ALTER TABLE and new column lists ---- */

static void test_alter_forces_every_document_to_be_rewritten(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    assert_true(statement(fx, "0-1-10", "shop",
                          "ALTER TABLE `shop`.`customers` ADD COLUMN note INT NULL", &err));
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    /* the read sees the new column list */
    tf_column cols[3];
    memcpy(cols, fake_table_map(FAKE_CUSTOMERS)->columns, 2 * sizeof *cols);
    memset(&cols[2], 0, sizeof cols[2]);
    cols[2].type = TF_TYPE_LONG;
    cols[2].nullable = true;
    cols[2].name.ptr = "note";
    cols[2].name.len = 4;
    uint32_t pk[1] = {0};
    tf_pipeline_resync_columns(fx->p, cols, 3, pk, 1);
    const char *ids[3][2] = {{"C1", "Ann"}, {"C2", "Bob"}, {"C3", "Cy"}};
    for (int k = 0; k < 3; k++) {
        tf_value v[3] = {fake_str(ids[k][0]), fake_str(ids[k][1]), fake_null()};
        tf_pipeline_resync_row(fx->p, v);
    }
    assert_true(tf_pipeline_resync_done(fx->p, true, NULL, fx->now, &err));
    /* every order shows the new (NULL) field although no value changed */
    assert_int_equal(adds_with(fx, "\"note\" : null"), 3);
    /* each whole document after a marking update (FerretDB skips a
     * replacement equal by value) */
    assert_int_equal(
        adds_with(fx, "update { \"order_id\" : \"O1\" } set={ \"_tapflow_rewrite\" : true }"), 1);
    assert_int_equal(adds_with(fx, "_tapflow_rewrite"), 3);
    assert_true(fx->target.rebases >= 1);
}

static void test_table_map_with_new_columns_is_followed(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    /* an ALTER we did not see as a statement: the next TABLE_MAP tells */
    tf_table_map m = *fake_table_map(FAKE_CUSTOMERS);
    tf_column cols[3];
    memcpy(cols, m.columns, 2 * sizeof *cols);
    memset(&cols[2], 0, sizeof cols[2]);
    cols[2].type = TF_TYPE_LONG;
    cols[2].name.ptr = "rating";
    cols[2].name.len = 6;
    m.columns = cols;
    m.column_count = 3;
    fake_txn t;
    fake_txn_init(&t, "0-1-11", "bin.000001", 900);
    tf_value before[3] = {fake_str("C1"), fake_str("Ann"), fake_int(5)};
    tf_value after[3] = {fake_str("C1"), fake_str("Ann"), fake_int(4)};
    fake_txn_row(&t, &m, TF_ROWS_UPDATE, before, after);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(adds_with(fx, "\"rating\" : 4"), 1);
    assert_non_null(strstr(fx->log.text, "table shop.customers has a new column list (3 columns)"));
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    assert_string_equal(fx->source.table, "customers");
}

static void test_new_column_list_without_relation_column_stops(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    tf_table_map m = *fake_table_map(FAKE_ORDERS);
    tf_column cols[3];
    memcpy(cols, m.columns, 3 * sizeof *cols);
    cols[1].name.ptr = "client_id"; /* customer_id renamed */
    cols[1].name.len = 9;
    m.columns = cols;
    fake_txn t;
    fake_txn_init(&t, "0-1-12", "bin.000001", 950);
    tf_value o[3] = {fake_str("O9"), fake_str("C1"), fake_dec("2.00")};
    fake_txn_row(&t, &m, TF_ROWS_WRITE, NULL, o);
    assert_false(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_string_equal(err.message,
                        "transaction 0-1-12: table orders: column customer_id was dropped or "
                        "renamed, but lookup \"customer\" (fake.tap:2) joins on it: flow Orders "
                        "cannot follow; change the flow or the table");
}

/* ---- partial row images ---- */

static void test_partial_image_is_re_read_by_key(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, "0-1-13", "bin.000001", 1000);
    tf_value before[2] = {fake_str("C2"), {.kind = TF_VAL_ABSENT}};
    tf_value after[2] = {{.kind = TF_VAL_ABSENT}, fake_str("Bobby")};
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_UPDATE, before, after);
    t.items[0].before_full = t.items[0].after_full = false;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(adds_with(fx, "Bobby"), 0); /* not applied as it came */
    tick(fx);
    assert_int_equal(fx->source.reads, 1);
    assert_true(fx->source.key_read);
    assert_int_equal(fx->source.key_rows, 1);
    assert_string_equal(fx->source.first_key, "C2");
    const char *const rows[][2] = {{"C2", "Bobby"}};
    answer_customers(fx, rows, 1, true);
    assert_int_equal(adds_with(fx, "Bobby"), 1);
    tf_pipeline_resync_stats st;
    tf_pipeline_get_resync_stats(fx->p, &st);
    assert_int_equal(st.queued, 0);
}

static void test_partial_delete_of_a_gone_row_deletes_it(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, "0-1-14", "bin.000001", 1100);
    tf_value before[3] = {fake_str("O3"), {.kind = TF_VAL_ABSENT}, {.kind = TF_VAL_ABSENT}};
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_DELETE, before, NULL);
    t.items[0].before_full = false;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    tick(fx);
    assert_true(fx->source.key_read);
    assert_string_equal(fx->source.table, "orders");
    const tf_table_map *m = fake_table_map(FAKE_ORDERS);
    uint32_t pk[1] = {0};
    tf_pipeline_resync_columns(fx->p, m->columns, m->column_count, pk, 1);
    assert_true(tf_pipeline_resync_done(fx->p, true, NULL, fx->now, &err));
    assert_int_equal(adds_with(fx, "delete { \"order_id\" : \"O3\" }"), 1);
}

static void test_large_read_goes_out_in_slices_with_the_stream_in_between(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    /* 250 customers, one order each */
    char ids[250][8], names[250][8];
    fake_txn t;
    fake_txn_init(&t, "0-1-1", "bin.000001", 100);
    for (int k = 0; k < 250; k++) {
        snprintf(ids[k], sizeof ids[k], "C%03d", k);
        snprintf(names[k], sizeof names[k], "n%03d", k);
    }
    for (int b = 0; b < 250; b += 25) {
        fake_txn_init(&t, "0-1-1", "bin.000001", 100);
        for (int k = b; k < b + 25; k++) {
            tf_value c[2], o[3];
            customer(c, ids[k], names[k]);
            fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_WRITE, NULL, c);
            order(o, ids[k], ids[k]); /* order id = customer id */
            fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
        }
        assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    }
    fx->target.count = fx->target.pending = 0;
    tf_pipeline_resync_start(fx->p, "customers", false, "test");
    tick(fx);
    /* every customer renamed in the source */
    const tf_table_map *m = fake_table_map(FAKE_CUSTOMERS);
    uint32_t pk[1] = {0};
    tf_pipeline_resync_columns(fx->p, m->columns, m->column_count, pk, 1);
    for (int k = 0; k < 250; k++) {
        tf_value c[2];
        customer(c, ids[k], "new");
        tf_pipeline_resync_row(fx->p, c);
    }
    assert_true(tf_pipeline_resync_done(fx->p, true, NULL, fx->now, &err));
    size_t first = fake_target_count(&fx->target, FAKE_ADD);
    assert_int_equal(first, 200); /* one slice */
    /* the target has not written it: no second slice yet */
    tick(fx);
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 200);
    /* meanwhile the stream renames C249, not applied yet from the read */
    fake_txn_init(&t, "0-1-2", "bin.000001", 200);
    tf_value before[2], after[2];
    customer(before, "C249", "n249");
    customer(after, "C249", "streamed");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_UPDATE, before, after);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(adds_with(fx, "streamed"), 1);
    /* written: the rest of the read, without C249's older row */
    fx->target.pending = 0;
    tick(fx);
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 250);
    size_t c249_new = 0, c248_new = 0;
    for (size_t i = 0; i < fx->target.count; i++) {
        const char *text = fx->target.calls[i].text;
        bool renamed = strstr(text, "\"name\" : \"new\"") != NULL;
        c249_new += renamed && strstr(text, "\"C249\"");
        c248_new += renamed && strstr(text, "\"C248\"");
    }
    assert_int_equal(c249_new, 0);
    assert_int_equal(c248_new, 1);
    assert_non_null(strstr(fx->log.text, "250 rows read in 1 reads, 249 changed, 0 deleted"));
}

static void test_rewrite_all_replaces_every_document_whole(void **state)
{
    fixture *fx = *state;
    load(fx);
    tf_pipeline_rewrite_all(fx->p, "test");
    tick(fx);
    assert_int_equal(fx->source.reads, 0); /* nothing is read */
    assert_int_equal(adds_with(fx, "replace { \"order_id\" : \"O"), 3);
    assert_int_equal(adds_with(fx, "_tapflow_rewrite"), 3);
    assert_non_null(strstr(fx->log.text, "rewrite of the documents of flow Orders done: 3 "
                                         "documents"));
    tf_pipeline_resync_stats st;
    tf_pipeline_get_resync_stats(fx->p, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.completed, 1);
    /* the checkpoint says which flow the documents are of */
    tf_error err = {0};
    assert_true(tf_pipeline_checkpoint(fx->p, fx->now, &err));
    char *flow = tf_pipeline_progress_flow(fx->target.progress);
    assert_non_null(flow);
    assert_non_null(strstr(flow, "Flow(\"Orders\")"));
    bson_free(flow);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_truncate_empties_embedded_array_at_that_point),
        T(test_truncate_of_other_database_or_table_changes_nothing),
        T(test_drop_of_flow_table_stops_naming_it),
        T(test_rename_away_stops_rename_onto_resyncs),
        T(test_drop_database_of_flow_stops),
        T(test_statement_dml_resyncs_table_with_warning),
        T(test_stream_change_during_read_wins),
        T(test_statement_during_read_drops_its_answer),
        T(test_failed_read_is_retried_after_a_second),
        cmocka_unit_test_setup_teardown(
            test_chunks_continue_after_last_key_and_progress_is_checkpointed, setup_chunk2,
            teardown),
        T(test_alter_forces_every_document_to_be_rewritten),
        T(test_table_map_with_new_columns_is_followed),
        T(test_new_column_list_without_relation_column_stops),
        T(test_partial_image_is_re_read_by_key),
        T(test_partial_delete_of_a_gone_row_deletes_it),
        T(test_rewrite_all_replaces_every_document_whole),
        T(test_large_read_goes_out_in_slices_with_the_stream_in_between),
    };
    return cmocka_run_group_tests_name("pipeline re-sync", tests, NULL, NULL);
}
