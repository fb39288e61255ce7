/* test_pipeline_stats.c — the pipeline's counters behind /status "stats"
 * and /metrics: row changes per flow table and kind, and the duration of
 * checkpoints from submission to acknowledgment. */
#include "pipeline_fakes.h"

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

typedef fake_fixture fixture;

static int setup(void **state)
{
    *state = fake_fixture_new(0, TF_PIPELINE_STARTING);
    return 0;
}

static int teardown(void **state)
{
    fake_fixture_destroy(*state);
    return 0;
}

static void row3(tf_value *v, const char *a, const char *b, const char *c)
{
    v[0] = fake_str(a);
    v[1] = fake_str(b);
    v[2] = c ? fake_dec(c) : fake_null();
}

/* The counts of table (inserts, updates, deletes), asserted present. */
static tf_pipeline_table_stats table_counts(const tf_pipeline *p, const char *table)
{
    tf_pipeline_table_stats t[8];
    size_t n = tf_pipeline_get_table_stats(p, t, 8);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].table, table) == 0)
            return t[i];
    fail_msg("no counts for table %s", table);
    return t[0];
}

static void test_every_flow_table_is_listed_source_first_with_zeros(void **state)
{
    fixture *fx = *state;
    tf_pipeline_table_stats t[8];
    assert_int_equal(tf_pipeline_get_table_stats(fx->p, t, 8), 3);
    assert_string_equal(t[0].table, "orders");
    assert_string_equal(t[1].table, "customers");
    assert_string_equal(t[2].table, "items");
    for (size_t i = 0; i < 3; i++)
        assert_true(t[i].inserts == 0 && t[i].updates == 0 && t[i].deletes == 0);
    /* a short buffer gets what fits and the count of all */
    assert_int_equal(tf_pipeline_get_table_stats(fx->p, t, 1), 3);
    assert_int_equal(tf_pipeline_get_table_stats(fx->p, NULL, 0), 3);
}

static void test_snapshot_rows_count_as_inserts_stream_rows_by_kind(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_SNAPSHOT);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    assert_true(tf_pipeline_snapshot_row(fx->p, "customers", c, &err));
    tf_value o[3], o2[3];
    row3(o, "O1", "C1", "10.50");
    assert_true(tf_pipeline_snapshot_row(fx->p, "orders", o, &err));
    assert_true(tf_pipeline_snapshot_done(fx->p, 1000, &err));
    assert_int_equal(table_counts(fx->p, "orders").inserts, 1);
    assert_int_equal(table_counts(fx->p, "customers").inserts, 1);

    fake_txn t;
    fake_txn_init(&t, "0-1-8", "bin.000001", 1200);
    row3(o2, "O1", "C1", "11.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_UPDATE, o, o2);
    tf_value c2[2] = {fake_str("C1"), fake_str("Bea")};
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_UPDATE, c, c2);
    tf_value o3[3];
    row3(o3, "O2", "C1", NULL);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o3);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_DELETE, o2, NULL);
    /* the same table in another database counts nowhere */
    fake_txn_row(&t, fake_table_map_in(FAKE_ORDERS, "shop_archive"), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));

    tf_pipeline_table_stats orders = table_counts(fx->p, "orders");
    assert_int_equal(orders.inserts, 2);
    assert_int_equal(orders.updates, 1);
    assert_int_equal(orders.deletes, 1);
    tf_pipeline_table_stats customers = table_counts(fx->p, "customers");
    assert_int_equal(customers.inserts, 1);
    assert_int_equal(customers.updates, 1);
    assert_int_equal(customers.deletes, 0);
    tf_pipeline_table_stats items = table_counts(fx->p, "items");
    assert_int_equal(items.inserts + items.updates + items.deletes, 0);
    /* the per-table counts add up to rows_total (no restart carried over) */
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.rows_total, 2 + 4);
}

static void test_checkpoint_duration_runs_from_submission_to_acknowledgment(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    assert_true(tf_pipeline_tick(fx->p, 10000, &err));
    fake_txn t;
    tf_value o[3];
    fake_txn_init(&t, "0-1-30", "bin.000001", 100);
    row3(o, "O1", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    fx->target.hold = true;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_true(tf_pipeline_checkpoint(fx->p, 11000, &err));
    assert_true(tf_pipeline_tick(fx->p, 11500, &err));
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    /* not acknowledged yet: no duration, no age */
    assert_int_equal(st.checkpoint_latency.total, 0);
    assert_int_equal(st.checkpoint_acked_ms, 0);
    assert_true(tf_pipeline_wait(fx->p, 11800, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.checkpoint_latency.total, 1);
    assert_int_equal(st.checkpoint_acked_ms, 11800);
    assert_true(st.checkpoint_latency.sum_seconds > 0.799 &&
                st.checkpoint_latency.sum_seconds < 0.801);
    /* 0.8 s: in the bucket (0.5, 1] */
    size_t bucket = 0;
    while (tf_sink_latency_bounds[bucket] < 0.8)
        bucket++;
    assert_true(tf_sink_latency_bounds[bucket] == 1.0);
    assert_int_equal(st.checkpoint_latency.count[bucket], 1);
    /* once acknowledged, later ticks add nothing */
    assert_true(tf_pipeline_tick(fx->p, 11900, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.checkpoint_latency.total, 1);
}

/* A source busy with other tables sends no heartbeat: a transaction that
 * changes nothing of the flow tells as well that the documents are
 * current (delay: its own age when read), not the last change's delay. */
static void test_delay_follows_transactions_of_other_tables(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-20", "bin.000001", 3000);
    t.txn.commit_timestamp_us = (int64_t)1000000 * 1000;
    tf_value o[3];
    row3(o, "O1", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    fx->target.hold = true;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, 1000000 + 900, &err));
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 900);
    /* another database's transaction, read 30 ms after its commit */
    fake_txn_init(&t, "0-1-21", "bin.000001", 3100);
    t.txn.commit_timestamp_us = (int64_t)1005000 * 1000;
    fake_txn_row(&t, fake_table_map_in(FAKE_ORDERS, "shop_archive"), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_true(tf_pipeline_tick(fx->p, 1005000 + 30, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 30);
    /* ... but not while a change of the flow waits for the target */
    fake_txn_init(&t, "0-1-22", "bin.000001", 3200);
    t.txn.commit_timestamp_us = (int64_t)1006000 * 1000;
    row3(o, "O2", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    fx->target.hold = true;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    fake_txn_init(&t, "0-1-23", "bin.000001", 3300);
    t.txn.commit_timestamp_us = (int64_t)1007000 * 1000;
    fake_txn_row(&t, fake_table_map_in(FAKE_ORDERS, "shop_archive"), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_true(tf_pipeline_tick(fx->p, 1007000 + 10, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 1010);
}

static void test_latency_histogram_buckets_are_upper_bounds(void **state)
{
    (void)state;
    tf_latency_histogram h = {0};
    tf_latency_histogram_add(&h, 0.001); /* on a bound: that bucket */
    tf_latency_histogram_add(&h, 0.0011);
    tf_latency_histogram_add(&h, 0.0);
    tf_latency_histogram_add(&h, 1e6); /* past the last bound: +Inf */
    assert_int_equal(h.count[0], 2);
    assert_int_equal(h.count[1], 1);
    assert_int_equal(h.count[TF_SINK_LATENCY_BUCKETS], 1);
    assert_int_equal(h.total, 4);
    for (size_t i = 1; i < TF_SINK_LATENCY_BUCKETS; i++)
        assert_true(tf_sink_latency_bounds[i] > tf_sink_latency_bounds[i - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_flow_table_is_listed_source_first_with_zeros,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_rows_count_as_inserts_stream_rows_by_kind,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_checkpoint_duration_runs_from_submission_to_acknowledgment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_follows_transactions_of_other_tables, setup,
                                        teardown),
        cmocka_unit_test(test_latency_histogram_buckets_are_upper_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
