/* test_sink_worker.c — the sink's writer thread (tools/pipeline/sink_worker.h)
 * against a live MongoDB-wire server: commands run in order on the thread
 * (documents, state chunks, then the checkpoint), tickets count what is
 * done, the loop side is woken after each command, and a failure is kept:
 * what was queued after it is never written (no checkpoint runs ahead of
 * its documents) and every later call reports it. Skips when
 * TAPFLOW_MONGO_URI is not set. */
#include "sink.h"
#include "sink_fixture.h"
#include "sink_worker.h"

#include <mongoc/mongoc.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first */
#include <setjmp.h>

#include <cmocka.h>

typedef struct fixture {
    sink_live_db live;
    char uri[320];
} fixture;

static int group_setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof fx);
    if (!sink_live_db_open(&fx.live, "tf_sink_worker"))
        return -1;
    if (fx.live.client != NULL)
        sink_live_db_uri(&fx.live, fx.uri, sizeof fx.uri);
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    sink_live_db_close(&fx->live);
    return 0;
}

static const char *const order_key[] = {"order_id"};

static tf_sink *open_sink(fixture *fx, const char *collection, const char *flow)
{
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = fx->uri;
    o.collection = collection;
    o.flow = flow;
    o.root_key_fields = order_key;
    o.n_root_key_fields = 1;
    o.fanout = TF_FANOUT_FORCE_RECOMPUTE;
    o.max_retries = 0;
    tf_error err = {0};
    tf_sink *sink = tf_sink_open(&o, &err);
    if (!sink)
        fail_msg("tf_sink_open: %s", err.message);
    return sink;
}

static int64_t count(fixture *fx, const char *collection)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_error_t error;
    bson_t all = BSON_INITIALIZER;
    int64_t n = mongoc_collection_count_documents(c, &all, NULL, NULL, NULL, &error);
    mongoc_collection_destroy(c);
    return n;
}

/* n inserts of orders first.. (bson_malloc'ed, for the worker to take) */
static tf_doc_op *inserts(int first, size_t n)
{
    tf_doc_op *ops = bson_malloc(n * sizeof *ops);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "O%d", first + (int)i);
        tf_doc_op_insert_steal(&ops[i], BCON_NEW("order_id", id),
                               BCON_NEW("order_id", id, "total", BCON_INT32((int)i)));
    }
    return ops;
}

static int wakeups;

static void on_done(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
}

static void test_commands_run_in_order_and_tickets_count_them(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "ordered", "ordered_flow");
    tf_error err = {0};
    tf_sink_worker *w = tf_sink_worker_start(sink, on_done, NULL, &err);
    assert_non_null(w);
    static const uint8_t chunk[] = {1, 2, 3, 4};
    tf_checkpoint cp = {.gtid = "0-1-9",
                        .flavour = "mariadb",
                        .binlog_file = "b.000001",
                        .binlog_position = 4,
                        .spec_hash = "h",
                        .rows = 12,
                        .transactions = 3};
    assert_true(tf_sink_worker_write(w, inserts(0, 1200), 1200, true, &err));
    assert_true(tf_sink_worker_write(w, inserts(2000, 5), 5, false, &err));
    assert_true(tf_sink_worker_state_write(w, 1, "base.0", chunk, sizeof chunk, &err));
    assert_true(tf_sink_worker_state_put(w, "state.meta", chunk, 2, &err));
    assert_true(tf_sink_worker_commit(w, &cp, &err));
    assert_true(tf_sink_worker_state_remove(w, 1, "base.0", &err));
    assert_true(tf_sink_worker_wait(w, 0, &err));

    assert_int_equal(tf_sink_worker_acknowledged(w), 2); /* the first write and the commit */
    assert_int_equal(tf_sink_worker_pending_ops(w), 0);
    assert_int_equal(tf_sink_worker_queued_bytes(w), 0);
    tf_sink_stats st;
    tf_sink_worker_get_stats(w, &st);
    assert_int_equal(st.ops_written, 1205);
    assert_int_equal(st.checkpoints, 1);
    assert_true(tf_sink_worker_stop(w, 5000));
    /* one wake-up per command (the last may follow the wait: counted once
     * the thread is joined) */
    assert_int_equal(__atomic_load_n(&wakeups, __ATOMIC_SEQ_CST), 6);

    /* idle again: the loop's thread may use the sink itself */
    assert_int_equal(count(fx, "ordered"), 1205);
    tf_checkpoint read;
    bool found = false;
    assert_true(tf_sink_checkpoint_read(sink, &read, &found, &err));
    assert_true(found);
    assert_string_equal(read.gtid, "0-1-9");
    assert_int_equal(read.rows, 12);
    tf_checkpoint_cleanup(&read);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_true(tf_sink_state_get(sink, "state.meta", &data, &len, &found, &err));
    assert_true(found);
    assert_int_equal(len, 2);
    free(data);
    /* removed after the checkpoint */
    assert_true(tf_sink_state_read(sink, 1, "base.0", &data, &len, &found, &err));
    assert_false(found);
    tf_sink_destroy(sink);
}

static void test_failure_is_kept_and_nothing_after_it_is_written(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "failing", "failing_flow");
    tf_error err = {0};
    tf_sink_worker *w = tf_sink_worker_start(sink, NULL, NULL, &err);
    assert_non_null(w);
    tf_checkpoint cp = {.gtid = "0-1-10",
                        .flavour = "mariadb",
                        .binlog_file = "b.000001",
                        .binlog_position = 4,
                        .spec_hash = "h"};
    assert_true(tf_sink_worker_write(w, inserts(0, 3), 3, true, &err));
    /* O1 again: the unique _id refuses the insert */
    assert_true(tf_sink_worker_write(w, inserts(1, 1), 1, true, &err));
    tf_error queued = {0};
    bool accepted = tf_sink_worker_write(w, inserts(50, 2), 2, true, &queued) &&
                    tf_sink_worker_commit(w, &cp, &queued);
    assert_false(tf_sink_worker_wait(w, 0, &err));
    assert_non_null(strstr(err.message, "duplicate key"));
    if (!accepted) /* the failure came first: refused with it */
        assert_string_equal(queued.message, err.message);
    /* kept: every later call says it, and nothing more is written */
    tf_error again = {0};
    assert_false(tf_sink_worker_ok(w, &again));
    assert_string_equal(again.message, err.message);
    memset(&again, 0, sizeof again);
    assert_false(tf_sink_worker_write(w, inserts(60, 1), 1, true, &again));
    assert_string_equal(again.message, err.message);
    assert_int_equal(tf_sink_worker_acknowledged(w), 1);
    assert_int_equal(tf_sink_worker_pending_ops(w), 0);
    assert_true(tf_sink_worker_stop(w, 5000));
    assert_int_equal(count(fx, "failing"), 3);
    tf_checkpoint read;
    bool found = true;
    assert_true(tf_sink_checkpoint_read(sink, &read, &found, &err));
    assert_false(found);
    tf_sink_destroy(sink);
}

/* n $set {v: value} of orders first.. */
static tf_doc_op *updates(int first, size_t n, int value)
{
    tf_doc_op *ops = bson_malloc(n * sizeof *ops);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "O%d", first + (int)i);
        tf_doc_op_update_steal(&ops[i], BCON_NEW("order_id", id), BCON_NEW("v", BCON_INT32(value)),
                               NULL);
    }
    return ops;
}

static tf_doc_op *replace_one(const char *id, int value)
{
    tf_doc_op *op = bson_malloc(sizeof *op);
    tf_doc_op_replace_steal(op, BCON_NEW("order_id", id),
                            BCON_NEW("order_id", id, "v", BCON_INT32(value)));
    return op;
}

static int32_t field_v(fixture *fx, const char *collection, const char *id)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_t *filter = BCON_NEW("order_id", id);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    int32_t v = -1;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "v"))
        v = bson_iter_int32(&it);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return v;
}

static tf_sink_worker *ahead_worker;
static int done_ahead_of_turn; /* wake-ups that saw more finished than acknowledged */

static void on_done_ahead(void *arg)
{
    (void)arg;
    if (tf_sink_worker_writes_done(ahead_worker, true) +
            tf_sink_worker_writes_done(ahead_worker, false) >
        tf_sink_worker_acknowledged(ahead_worker))
        __atomic_add_fetch(&done_ahead_of_turn, 1, __ATOMIC_SEQ_CST);
}

/* A long write runs in chunks; a write ahead of its turn on other documents
 * passes it and the checkpoint queued after it; one on a document the long
 * write has still to write waits for it (its value is the last). */
static void test_write_ahead_passes_a_long_write_but_not_its_documents(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "ahead", "ahead_flow");
    tf_error err = {0};
    tf_sink_worker *w = tf_sink_worker_start(sink, on_done_ahead, NULL, &err);
    assert_non_null(w);
    ahead_worker = w;
    assert_true(tf_sink_worker_write(w, inserts(0, 400), 400, true, &err));
    assert_true(tf_sink_worker_wait(w, 0, &err));
    assert_int_equal(done_ahead_of_turn, 0); /* in order so far */

    tf_checkpoint cp = {.gtid = "0-1-11",
                        .flavour = "mariadb",
                        .binlog_file = "b.000001",
                        .binlog_position = 4,
                        .spec_hash = "h"};
    assert_true(tf_sink_worker_write(w, updates(0, 400, 1), 400, true, &err));
    assert_true(tf_sink_worker_commit(w, &cp, &err));
    assert_true(tf_sink_worker_write_ahead(w, replace_one("O1000", 7), 1, &err));
    assert_true(tf_sink_worker_write_ahead(w, replace_one("O399", 2), 1, &err));
    assert_true(tf_sink_worker_wait(w, 0, &err));

    assert_true(__atomic_load_n(&done_ahead_of_turn, __ATOMIC_SEQ_CST) > 0);
    assert_int_equal(tf_sink_worker_acknowledged(w), 5);
    assert_int_equal(tf_sink_worker_writes_done(w, false), 2);
    assert_int_equal(tf_sink_worker_writes_done(w, true), 2);
    assert_int_equal(tf_sink_worker_pending_ops(w), 0);
    assert_int_equal(tf_sink_worker_queued_bytes(w), 0);
    assert_true(tf_sink_worker_stop(w, 5000));
    assert_int_equal(count(fx, "ahead"), 401);
    assert_int_equal(field_v(fx, "ahead", "O0"), 1);
    assert_int_equal(field_v(fx, "ahead", "O398"), 1);
    assert_int_equal(field_v(fx, "ahead", "O399"), 2); /* after the long write's $set */
    assert_int_equal(field_v(fx, "ahead", "O1000"), 7);
    tf_checkpoint read;
    bool found = false;
    assert_true(tf_sink_checkpoint_read(sink, &read, &found, &err));
    assert_true(found);
    assert_string_equal(read.gtid, "0-1-11");
    tf_checkpoint_cleanup(&read);
    tf_sink_destroy(sink);
}

static void test_wait_for_room_returns_below_the_bound(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "bounded", "bounded_flow");
    tf_error err = {0};
    tf_sink_worker *w = tf_sink_worker_start(sink, NULL, NULL, &err);
    assert_non_null(w);
    static uint8_t big[1 << 20];
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "base.%d", i);
        assert_true(tf_sink_worker_state_write(w, 2, name, big, sizeof big, &err));
        assert_true(tf_sink_worker_wait(w, (size_t)3 << 20, &err));
        assert_true(tf_sink_worker_queued_bytes(w) <= (size_t)3 << 20);
    }
    assert_true(tf_sink_worker_wait(w, 0, &err));
    assert_int_equal(tf_sink_worker_queued_bytes(w), 0);
    assert_true(tf_sink_worker_stop(w, 5000));
    tf_sink_destroy(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_run_in_order_and_tickets_count_them),
        cmocka_unit_test(test_failure_is_kept_and_nothing_after_it_is_written),
        cmocka_unit_test(test_write_ahead_passes_a_long_write_but_not_its_documents),
        cmocka_unit_test(test_wait_for_room_returns_below_the_bound),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
