/* test_pipeline.c — the pipeline between a fake source and a fake target:
 * which changes reach the view, what the target is given and in which
 * order, checkpoints, timing and errors. */
#include "pipeline_fakes.h"

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void test_phase_names_are_the_status_words(void **state)
{
    (void)state;
    assert_string_equal(tf_pipeline_phase_name(TF_PIPELINE_STARTING), "starting");
    assert_string_equal(tf_pipeline_phase_name(TF_PIPELINE_SNAPSHOT), "snapshot");
    assert_string_equal(tf_pipeline_phase_name(TF_PIPELINE_RUNNING), "running");
    assert_string_equal(tf_pipeline_phase_name(TF_PIPELINE_STOPPED), "stopped");
    assert_string_equal(tf_pipeline_phase_name(TF_PIPELINE_ERROR), "error");
    assert_string_equal(tf_pipeline_phase_name((tf_pipeline_phase)42), "?");
}

static void test_snapshot_rows_become_inserts_then_checkpoint(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_SNAPSHOT);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    assert_true(tf_pipeline_snapshot_row(fx->p, "customers", c, &err));
    tf_value o[3];
    row3(o, "O1", "C1", "10.50");
    assert_true(tf_pipeline_snapshot_row(fx->p, "orders", o, &err));
    /* one root row: below snapshot_push_root_rows (2), nothing pushed yet */
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 0);
    row3(o, "O2", "C9", NULL);
    assert_true(tf_pipeline_snapshot_row(fx->p, "orders", o, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 2);
    long first = fake_target_find(&fx->target, FAKE_ADD, "insert", 0);
    assert_true(first >= 0);
    assert_non_null(strstr(fx->target.calls[first].text, "\"O1\""));
    assert_non_null(strstr(fx->target.calls[first].text, "\"name\" : \"Ann\""));
    tf_pipeline_position pos = {
        .gtid = "0-1-7", .binlog_file = "bin.000001", .binlog_pos = 900, .flavour = "mariadb"};
    tf_pipeline_set_position(fx->p, &pos);
    assert_true(tf_pipeline_snapshot_done(fx->p, 5000, &err));
    assert_int_equal(tf_pipeline_get_phase(fx->p), TF_PIPELINE_RUNNING);
    /* no change recorded for a delta: the snapshot's checkpoint saves all */
    assert_int_equal(fake_target_count(&fx->target, FAKE_RECORD), 0);
    long commit = fake_target_find(&fx->target, FAKE_COMMIT, NULL, 0);
    assert_true(commit > first);
    assert_string_equal(fx->target.calls[commit].text, "0-1-7 bin.000001:900 3 0");
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.snapshot_rows, 3);
    assert_int_equal(st.checkpoints, 1);
}

static void test_transaction_rows_reach_view_record_and_target(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-8", "bin.000001", 1200);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    tf_value o[3];
    row3(o, "O1", "C1", "10.50");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_WRITE, NULL, c);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_RECORD), 2);
    assert_int_equal(fake_target_find(&fx->target, FAKE_RECORD, "customers insert 2", 0), 0);
    assert_int_equal(fake_target_find(&fx->target, FAKE_RECORD, "orders insert 3", 0), 1);
    /* the document is written whole (upsert), never as a snapshot insert */
    long add = fake_target_find(&fx->target, FAKE_ADD, "replace", 0);
    assert_true(add >= 0);
    assert_non_null(strstr(fx->target.calls[add].text, "\"customer\" : { \"name\" : \"Ann\" }"));
    assert_int_equal(fake_target_find(&fx->target, FAKE_ADD, "insert", 0), -1);
    assert_true(tf_pipeline_dirty(fx->p));
    tf_pipeline_position at;
    tf_pipeline_get_position(fx->p, &at);
    assert_string_equal(at.binlog_file, "bin.000001");
    assert_int_equal(at.binlog_pos, 1200);
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.rows_total, 2);
    assert_int_equal(st.transactions, 1);
}

static void test_rows_of_other_databases_and_tables_are_ignored(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-9", "bin.000001", 1300);
    tf_value o[3];
    row3(o, "O1", "C1", "1.00");
    /* the same table name in another database */
    fake_txn_row(&t, fake_table_map_in(FAKE_ORDERS, "shop_archive"), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_RECORD), 0);
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 0);
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.rows_total, 0);
    assert_int_equal(st.transactions, 1); /* the position still moved */
    assert_true(tf_pipeline_dirty(fx->p));
}

static void test_update_of_lookup_row_fans_out_to_document(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-10", "bin.000001", 1400);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    tf_value o[3];
    row3(o, "O1", "C1", "2.00");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_WRITE, NULL, c);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    size_t before = fx->target.count;
    fake_txn_init(&t, "0-1-11", "bin.000001", 1500);
    tf_value c2[2] = {fake_str("C1"), fake_str("Bob")};
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_UPDATE, c, c2);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    long add = fake_target_find(&fx->target, FAKE_ADD, "Bob", before);
    assert_true(add >= 0);
    assert_non_null(strstr(fx->target.calls[add].text, "\"O1\""));
    assert_true(fake_target_find(&fx->target, FAKE_RECORD, "customers update 2", before) >= 0);
}

static void test_partial_json_update_is_an_error_naming_the_transaction(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, "uuid:42", "bin.000002", 100);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_PARTIAL_UPDATE, c, c);
    assert_false(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_string_equal(err.message,
                        "transaction uuid:42: partial JSON update of customers "
                        "(binlog_row_value_options=PARTIAL_JSON) cannot be applied to the view");
    assert_int_equal(fake_target_count(&fx->target, FAKE_RECORD), 0);
}

static void test_malformed_event_stops_without_counting_the_transaction(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, "0-1-12", "bin.000001", 1600);
    t.fail_at_end = true;
    assert_false(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_string_equal(err.message, "rows event: column 2 past end at offset 77");
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.transactions, 0);
    tf_pipeline_position at;
    tf_pipeline_get_position(fx->p, &at);
    assert_string_equal(at.binlog_file, "");
}

static void test_busy_target_gets_merged_documents_and_checkpoints_after_interval(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    assert_true(tf_pipeline_tick(fx->p, 10000, &err)); /* starts the interval */
    fake_txn t;
    fake_txn_init(&t, "0-1-13", "bin.000001", 1700);
    tf_value c[2] = {fake_str("C1"), fake_str("Ann")};
    tf_value o[3];
    row3(o, "O1", "C1", "3.00");
    fake_txn_row(&t, fake_table_map(FAKE_CUSTOMERS), TF_ROWS_WRITE, NULL, c);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    /* a free target gets the transaction's document at once */
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_SUBMIT), 1);
    /* while it is unacknowledged, three transactions change O1 and O2 */
    fx->target.hold = true;
    for (int i = 0; i < 3; i++) {
        char gtid[16], was[8], total[8];
        snprintf(gtid, sizeof gtid, "0-1-%d", 14 + i);
        snprintf(was, sizeof was, "%d.00", 3 + i);
        snprintf(total, sizeof total, "%d.00", 4 + i);
        fake_txn_init(&t, gtid, "bin.000001", (uint64_t)(1800 + i * 100));
        tf_value before[3], after[3], o2[3];
        row3(before, "O1", "C1", was);
        row3(after, "O1", "C1", total);
        row3(o2, "O2", "C1", total);
        fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_UPDATE, before, after);
        fake_txn_row(&t, fake_table_map(FAKE_ORDERS), i ? TF_ROWS_UPDATE : TF_ROWS_WRITE,
                     i ? o2 : NULL, o2);
        assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    }
    assert_true(tf_pipeline_tick(fx->p, 10100, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_SUBMIT), 1);
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 1);
    /* acknowledged: one submission, one operation per document, the last
     * state of each */
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, 10200, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_SUBMIT), 2);
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 3);
    long first = fake_target_find(&fx->target, FAKE_SUBMIT, NULL, 0);
    long o1 = fake_target_find(&fx->target, FAKE_ADD, "\"O1\"", (size_t)first);
    long o2 = fake_target_find(&fx->target, FAKE_ADD, "\"O2\"", (size_t)first);
    assert_true(o1 > 0 && o2 > 0);
    assert_non_null(strstr(fx->target.calls[o1].text, "6.00"));
    assert_non_null(strstr(fx->target.calls[o2].text, "6.00"));
    assert_int_equal(fake_target_count(&fx->target, FAKE_COMMIT), 0);
    /* the interval is over: checkpoint at the last transaction's position */
    assert_true(tf_pipeline_tick(fx->p, 11000, &err));
    long commit = fake_target_find(&fx->target, FAKE_COMMIT, NULL, 0);
    assert_true(commit >= 0);
    assert_string_equal(fx->target.calls[commit].text, " bin.000001:2000 8 4");
    assert_false(tf_pipeline_dirty(fx->p));
    /* nothing new: no further checkpoint */
    assert_true(tf_pipeline_tick(fx->p, 13000, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_COMMIT), 1);
}

static int setup_ahead(void **state)
{
    fake_fixture *fx = calloc(1, sizeof *fx);
    fake_target_init(&fx->target);
    fx->target.ahead = true;
    fx->p = fake_pipeline_new_full(&fx->target, &fx->source, &fx->log, 0, &fx->spec);
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fx->now = 100000;
    *state = fx;
    return 0;
}

/* One transaction: order id's total from was to total (was NULL: insert). */
static void apply_total(fixture *fx, const char *gtid, const char *id, const char *was,
                        const char *total)
{
    tf_error err = {0};
    fake_txn t;
    fake_txn_init(&t, gtid, "bin.000001", 100);
    tf_value before[3], after[3];
    row3(before, id, "C1", was);
    row3(after, id, "C1", total);
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), was ? TF_ROWS_UPDATE : TF_ROWS_WRITE,
                 was ? before : NULL, after);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
}

/* While the target writes: a transaction of a few documents goes ahead of
 * what is queued at once; a larger one goes behind it as long as little is
 * queued; past that, or once a write waits over a second, changes wait
 * merged in the view. */
static void test_few_documents_go_ahead_while_the_target_writes(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    apply_total(fx, "0-1-50", "O1", NULL, "1.00"); /* a free target: at once */
    apply_total(fx, "0-1-51", "O2", NULL, "1.00");
    assert_int_equal(fake_target_count(&fx->target, FAKE_SUBMIT), 2);
    fx->target.hold = true;
    apply_total(fx, "0-1-52", "O1", "1.00", "2.00");
    long ahead = fake_target_find(&fx->target, FAKE_SUBMIT, "ahead 1", 0);
    assert_true(ahead >= 0);
    assert_non_null(strstr(fx->target.calls[ahead - 1].text, "2.00"));

    /* nine orders: behind what is queued, as long as little is */
    fake_txn t;
    fake_txn_init(&t, "0-1-53", "bin.000001", 200);
    static const char *const ids[] = {"O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O11"};
    for (int i = 0; i < 9; i++) {
        tf_value o[3];
        row3(o, ids[i], "C1", "1.00");
        fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    }
    size_t before = fx->target.count;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    long queued = fake_target_find(&fx->target, FAKE_SUBMIT, NULL, before);
    assert_true(queued >= 0);
    assert_string_equal(fx->target.calls[queued].text, "9");

    /* much queued: O1 twice and O2 wait merged, then go as one submission
     * once the target is free */
    fx->target.queued = 512;
    before = fx->target.count;
    apply_total(fx, "0-1-54", "O1", "2.00", "3.00");
    apply_total(fx, "0-1-55", "O1", "3.00", "4.00");
    apply_total(fx, "0-1-56", "O2", "1.00", "4.00");
    assert_true(tf_pipeline_tick(fx->p, fx->now, &err));
    assert_int_equal(fake_target_find(&fx->target, FAKE_SUBMIT, NULL, before), -1);
    fx->target.queued = 0;
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, fx->now, &err));
    long merged = fake_target_find(&fx->target, FAKE_SUBMIT, NULL, before);
    assert_true(merged >= 0);
    assert_string_equal(fx->target.calls[merged].text, "2");
    assert_int_equal(fake_target_count(&fx->target, FAKE_ADD), 2 + 1 + 9 + 2);
    long o1 = fake_target_find(&fx->target, FAKE_ADD, "\"O1\"", before);
    assert_non_null(strstr(fx->target.calls[o1].text, "4.00"));

    /* a write unwritten for over a second: behind, nothing goes ahead */
    fx->target.hold = true;
    apply_total(fx, "0-1-57", "O1", "4.00", "5.00");
    usleep(1100 * 1000);
    before = fx->target.count;
    apply_total(fx, "0-1-58", "O2", "4.00", "5.00");
    assert_int_equal(fake_target_find(&fx->target, FAKE_SUBMIT, NULL, before), -1);
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, fx->now, &err));
    long late = fake_target_find(&fx->target, FAKE_SUBMIT, NULL, before);
    assert_true(late >= 0);
    assert_string_equal(fx->target.calls[late].text, "1");
}

static void test_checkpoint_waits_for_the_last_one(void **state)
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
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    /* the target holds the checkpoint: no second one while it is unwritten */
    fx->target.hold = true;
    assert_true(tf_pipeline_tick(fx->p, 11000, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_COMMIT), 1);
    fake_txn_init(&t, "0-1-31", "bin.000001", 200);
    row3(o, "O2", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_true(tf_pipeline_tick(fx->p, 12500, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_COMMIT), 1);
    assert_true(tf_pipeline_dirty(fx->p));
    assert_int_equal(fake_target_count(&fx->target, FAKE_SUBMIT), 1); /* O1 only: O2 waits */
    /* a wait releases it; the next tick writes the checkpoint, O2 with it */
    assert_true(tf_pipeline_wait(fx->p, 12600, &err));
    assert_int_equal(fx->target.waits, 1);
    assert_true(tf_pipeline_tick(fx->p, 12700, &err));
    assert_int_equal(fake_target_count(&fx->target, FAKE_COMMIT), 2);
    assert_true(fake_target_find(&fx->target, FAKE_ADD, "\"O2\"", 0) >= 0);
    assert_false(tf_pipeline_dirty(fx->p));
}

static void test_tick_does_nothing_unless_running(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    fx->target.pending = 3;
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_SNAPSHOT);
    assert_true(tf_pipeline_tick(fx->p, 99999, &err));
    assert_int_equal(fx->target.count, 0);
}

static void test_failed_checkpoint_keeps_the_pipeline_dirty(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-14", "bin.000001", 1800);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    fx->target.fail_commit = true;
    assert_false(tf_pipeline_checkpoint(fx->p, 20000, &err));
    assert_string_equal(err.message, "checkpoint write failed");
    assert_true(tf_pipeline_dirty(fx->p));
    assert_true(tf_pipeline_checkpoint(fx->p, 20001, &err));
    assert_false(tf_pipeline_dirty(fx->p));
}

static void test_target_refusing_a_document_fails_the_transaction(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    fx->target.fail_add = true;
    fake_txn t;
    fake_txn_init(&t, "0-1-15", "bin.000001", 1900);
    tf_value o[3];
    row3(o, "O7", "C1", "3.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_false(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    assert_string_equal(err.message, "target refused the write");
}

static void test_decimal_double_mode_rewrites_documents(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_decimal(fx->p, TF_PIPELINE_DECIMAL_DOUBLE);
    fake_txn t;
    fake_txn_init(&t, "0-1-16", "bin.000001", 2000);
    tf_value o[3];
    row3(o, "O1", "C1", "10.25");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    long add = fake_target_find(&fx->target, FAKE_ADD, "replace", 0);
    assert_true(add >= 0);
    assert_non_null(strstr(fx->target.calls[add].text, "\"total\" : 10.25"));
    assert_null(strstr(fx->target.calls[add].text, "numberDecimal"));

    tf_pipeline_set_decimal(fx->p, TF_PIPELINE_DECIMAL_STRING);
    fake_txn_init(&t, "0-1-17", "bin.000001", 2100);
    tf_value o2[3];
    row3(o2, "O2", "C1", "7.10");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o2);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    add = fake_target_find(&fx->target, FAKE_ADD, "\"O2\"", 0);
    assert_true(add >= 0);
    assert_non_null(strstr(fx->target.calls[add].text, "\"total\" : \"7.10\""));
}

static void test_delay_is_zero_once_idle_source_is_caught_up(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fx->target.hold = true;
    fake_txn t;
    fake_txn_init(&t, "0-1-20", "bin.000001", 3000);
    t.txn.commit_timestamp_us = 1000000 * 1000; /* committed at 1,000,000 ms */
    tf_value o[3];
    row3(o, "O1", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    /* a heartbeat while the document is not yet acknowledged: no change */
    tf_pipeline_source_idle(fx->p);
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, 1000000 + 350, &err)); /* written: acknowledged */
    tf_pipeline_stats st;
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 0); /* caught up: nothing left to deliver */
    /* a new change, acknowledged late, then no heartbeat yet: its delay */
    fake_txn_init(&t, "0-1-21", "bin.000001", 3100);
    t.txn.commit_timestamp_us = 2000000 * 1000;
    row3(o, "O2", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    fx->target.hold = true;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, 2000000 + 420, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 420);
    /* the source is idle and everything is acknowledged: 0, not 420 frozen */
    tf_pipeline_source_idle(fx->p);
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 0);
}

static void test_delay_grows_while_the_target_holds_a_change(void **state)
{
    fixture *fx = *state;
    tf_error err = {0};
    tf_pipeline_set_phase(fx->p, TF_PIPELINE_RUNNING);
    fake_txn t;
    fake_txn_init(&t, "0-1-40", "bin.000001", 4000);
    t.txn.commit_timestamp_us = (int64_t)5000000 * 1000;
    tf_value o[3];
    row3(o, "O1", "C1", "1.00");
    fake_txn_row(&t, fake_table_map(FAKE_ORDERS), TF_ROWS_WRITE, NULL, o);
    fx->target.hold = true;
    assert_true(tf_pipeline_apply(fx->p, fake_txn_get(&t), &err));
    tf_pipeline_stats st;
    assert_true(tf_pipeline_tick(fx->p, 5000000 + 3000, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 3000);
    /* a heartbeat does not hide it */
    tf_pipeline_source_idle(fx->p);
    assert_true(tf_pipeline_tick(fx->p, 5000000 + 6000, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 6000);
    /* written at last, the source idle since: caught up */
    fx->target.hold = false;
    assert_true(tf_pipeline_tick(fx->p, 5000000 + 6100, &err));
    tf_pipeline_get_stats(fx->p, &st);
    assert_int_equal(st.delay_ms, 0);
}

static void test_fail_keeps_the_error_for_status(void **state)
{
    fixture *fx = *state;
    assert_null(tf_pipeline_error(fx->p));
    tf_error err = {0};
    tf_error_set(&err, TF_ERR_CONFIG, 0, "table shop.customers was dropped");
    tf_pipeline_fail(fx->p, &err);
    assert_int_equal(tf_pipeline_get_phase(fx->p), TF_PIPELINE_ERROR);
    assert_string_equal(tf_pipeline_error(fx->p), "table shop.customers was dropped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_names_are_the_status_words),
        cmocka_unit_test_setup_teardown(test_snapshot_rows_become_inserts_then_checkpoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transaction_rows_reach_view_record_and_target, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rows_of_other_databases_and_tables_are_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_update_of_lookup_row_fans_out_to_document, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_json_update_is_an_error_naming_the_transaction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_event_stops_without_counting_the_transaction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_waits_for_the_last_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_few_documents_go_ahead_while_the_target_writes,
                                        setup_ahead, teardown),
        cmocka_unit_test_setup_teardown(test_delay_grows_while_the_target_holds_a_change, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_busy_target_gets_merged_documents_and_checkpoints_after_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_does_nothing_unless_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_checkpoint_keeps_the_pipeline_dirty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_target_refusing_a_document_fails_the_transaction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_decimal_double_mode_rewrites_documents, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delay_is_zero_once_idle_source_is_caught_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fail_keeps_the_error_for_status, setup, teardown),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
