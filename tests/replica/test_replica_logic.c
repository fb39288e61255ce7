/* test_replica_logic.c — the parts of replica/ that need no server: the
 * reconnection backoff schedule and its jitter, and the resume position
 * text (tf_replica_position) for each kind of position. */
#include "replica.h"
#include "replica_internal.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* ---- backoff ------------------------------------------------------------------- */

/* Without jitter (random01 = 0) the delay is half the base: 0.1, 0.2,
 * 0.4, ... doubled per attempt until the cap. */
static void test_backoff_doubles_per_attempt(void **state)
{
    (void)state;
    static const double want[] = {0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 15, 15};
    for (unsigned attempt = 1; attempt <= 11; attempt++)
        assert_float_equal(replica_backoff_delay(0.1, 30, attempt, 0.0), want[attempt - 1], 1e-9);
}

/* The cap holds for any number of attempts (a server down for a day). */
static void test_backoff_is_capped_for_any_attempt(void **state)
{
    (void)state;
    unsigned attempts[] = {10, 11, 64, 1000, 1u << 20, 0xffffffffu};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        double lo = replica_backoff_delay(0.1, 30, attempts[i], 0.0);
        double hi = replica_backoff_delay(0.1, 30, attempts[i], 0.999999);
        assert_float_equal(lo, 15, 1e-9);
        assert_true(hi < 30 && hi > 29.99);
    }
}

/* Jitter scales the base by a factor in [0.5, 1): never longer than the
 * base, never shorter than half of it. */
static void test_backoff_jitter_stays_within_half_and_whole_base(void **state)
{
    (void)state;
    uint64_t rng = 42;
    for (unsigned attempt = 1; attempt <= 12; attempt++) {
        double base = replica_backoff_delay(0.25, 8, attempt, 0.0) * 2;
        for (int i = 0; i < 1000; i++) {
            double d = replica_backoff_delay(0.25, 8, attempt, replica_rand01(&rng));
            assert_true(d >= base / 2);
            assert_true(d < base);
        }
    }
    /* The first retry of a 0.1 s minimum comes after 0.05 to 0.1 s. */
    assert_float_equal(replica_backoff_delay(0.1, 30, 1, 0.5), 0.075, 1e-12);
}

/* The random numbers cover [0, 1) evenly enough for jitter: replicas that
 * lost the same server do not retry in lock step. */
static void test_rand01_is_spread_over_unit_interval(void **state)
{
    (void)state;
    uint64_t rng = 1;
    unsigned buckets[10] = {0};
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double x = replica_rand01(&rng);
        assert_true(x >= 0 && x < 1);
        buckets[(int)(x * 10)]++;
        if (x < lo)
            lo = x;
        if (x > hi)
            hi = x;
    }
    for (int b = 0; b < 10; b++)
        assert_true(buckets[b] > 9000 && buckets[b] < 11000);
    assert_true(lo < 0.001 && hi > 0.999);
    /* Two replicas seeded differently draw different delays. */
    uint64_t a = 1000, c = 1001;
    assert_true(replica_rand01(&a) != replica_rand01(&c));
}

/* A zero state (xorshift's fixed point) does not get stuck at zero. */
static void test_rand01_survives_zero_state(void **state)
{
    (void)state;
    uint64_t rng = 0;
    double first = replica_rand01(&rng);
    assert_true(rng != 0);
    assert_true(replica_rand01(&rng) != first);
}

/* ---- position text ------------------------------------------------------------------- */

typedef struct fixture {
    struct event_base *base;
    tf_replica *r;
} fixture;

static bool on_txn(tf_replica *r, const tf_replica_txn *t, void *arg, tf_error *err)
{
    (void)r;
    (void)t;
    (void)arg;
    (void)err;
    return true;
}

static int setup(void **state)
{
    static fixture f;
    f.base = event_base_new();
    tf_replica_options o;
    memset(&o, 0, sizeof o);
    o.conn.host = "127.0.0.1";
    o.conn.user = "u";
    o.cb.on_transaction = on_txn;
    tf_error err = {0};
    f.r = tf_replica_new(f.base, &o, &err);
    if (f.r == NULL)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tf_replica_destroy(f->r);
    event_base_free(f->base);
    return 0;
}

/* START_NOW, not connected: nothing is known yet. */
static void test_position_is_empty_before_anything(void **state)
{
    fixture *f = *state;
    char buf[64] = "x";
    assert_int_equal(tf_replica_position(f->r, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

/* Before the first connection the position is the start asked for: a
 * position saved then must not mean "from the beginning". */
static void test_position_before_connecting_is_the_start_asked(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    tf_replica_options o;
    memset(&o, 0, sizeof o);
    o.conn.host = "127.0.0.1";
    o.cb.on_transaction = on_txn;
    o.start = TF_REPLICA_START_GTID;
    o.gtid = "93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-3";
    tf_error err = {0};
    tf_replica *r = tf_replica_new(base, &o, &err);
    assert_non_null(r);
    char buf[128];
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), 40);
    assert_string_equal(buf, "93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-3");
    tf_replica_destroy(r);
    o.start = TF_REPLICA_START_FILE;
    o.file = "mariadb-bin.000007";
    o.position = 0; /* = 4 */
    r = tf_replica_new(base, &o, &err);
    assert_non_null(r);
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), 20);
    assert_string_equal(buf, "mariadb-bin.000007:4");
    tf_replica_destroy(r);
    event_base_free(base);
}

static void test_position_mariadb_is_gtid_binlog_pos_form(void **state)
{
    fixture *f = *state;
    tf_replica *r = f->r;
    r->position_ready = true;
    r->use_gtid = true;
    r->server.flavour = TF_FLAVOUR_MARIADB;
    static const char text[] = "1-2-5,0-1-100";
    tf_error err = {0};
    assert_int_equal(tf_mariadb_gtid_pos_parse(text, strlen(text), &r->mariadb_pos, &err), TF_OK);
    char buf[64];
    /* Ascending domains, as @@gtid_binlog_pos prints it and
     * @slave_connect_state takes it. */
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), 13);
    assert_string_equal(buf, "0-1-100,1-2-5");
    /* snprintf-style: the full length, a cut but terminated text. */
    char small[6];
    assert_int_equal(tf_replica_position(r, small, sizeof small), 13);
    assert_string_equal(small, "0-1-1");
}

static void test_position_mysql_is_compact_gtid_set(void **state)
{
    fixture *f = *state;
    tf_replica *r = f->r;
    r->position_ready = true;
    r->use_gtid = true;
    r->server.flavour = TF_FLAVOUR_MYSQL;
    char buf[256];
    /* No set yet (START_NOW before the first answer): empty. */
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    static const char text[] = "97C7AF02-4C50-11EC-ACD8-681842034964:1-3:5,\n"
                               "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2";
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, strlen(text), &r->mysql_set, &err), TF_OK);
    static const char want[] = "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2,"
                               "97c7af02-4c50-11ec-acd8-681842034964:1-3:5";
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), strlen(want));
    assert_string_equal(buf, want);
}

static void test_position_without_gtid_is_file_colon_offset(void **state)
{
    fixture *f = *state;
    tf_replica *r = f->r;
    r->position_ready = true;
    r->use_gtid = false;
    snprintf(r->file, sizeof r->file, "%s", "binlog.000042");
    r->file_pos = 4294967300u; /* past 4 GiB: 64-bit offsets */
    char buf[64];
    assert_int_equal(tf_replica_position(r, buf, sizeof buf), 24);
    assert_string_equal(buf, "binlog.000042:4294967300");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_per_attempt),
        cmocka_unit_test(test_backoff_is_capped_for_any_attempt),
        cmocka_unit_test(test_backoff_jitter_stays_within_half_and_whole_base),
        cmocka_unit_test(test_rand01_is_spread_over_unit_interval),
        cmocka_unit_test(test_rand01_survives_zero_state),
        cmocka_unit_test_setup_teardown(test_position_is_empty_before_anything, setup, teardown),
        cmocka_unit_test(test_position_before_connecting_is_the_start_asked),
        cmocka_unit_test_setup_teardown(test_position_mariadb_is_gtid_binlog_pos_form, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_position_mysql_is_compact_gtid_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position_without_gtid_is_file_colon_offset, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
