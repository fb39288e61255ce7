/* test_tap_flow_stats.c — what `tap stats`, `tap monitor` and `tap logs`
 * make of their input (tools/tap/flow_stats.c, tools/tap/log_lines.c):
 * the daemon's GET /status answer with and without its "stats" object,
 * the printed table and frame, `stats --json`, durations, log levels, the
 * last N lines and a log line still being written. Both files are compiled
 * in here: they need only libc and libbson. */
#include "support.h"

#include "../../tools/tap/flow_stats.c"
#include "../../tools/tap/log_lines.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2026-12-02 08:20:14.392Z and the flow's snapshot 81 ms .. 391 ms later. */
#define STARTED 1796199614392LL
#define STATUS_WITH_STATS                                                                       \
    "{\"flow\": \"Order_SingleView_Sync\", \"status\": \"running\", \"qps\": 12.5, "            \
    "\"total_rows\": 9, \"delay_ms\": 40, \"position\": \"0-1-19\", \"snapshot_rows\": 6, "     \
    "\"documents\": 2, \"resync\": {\"table\": null, \"queued\": 0, \"chunks\": 0, "            \
    "\"rows_read\": 0, \"rows_changed\": 0, \"completed\": 1}, "                                \
    "\"stats\": {\"started_ms\": 1796199614392, "                                               \
    "\"snapshot\": {\"started_ms\": 1796199614473, \"ended_ms\": 1796199614783, \"rows\": 6}, " \
    "\"input\": {\"ecom_orders\": {\"insert\": 2, \"update\": 1, \"delete\": 1}, "              \
    "\"ecom_order_items\": {\"insert\": 3, \"update\": 0, \"delete\": 0}}, "                    \
    "\"output\": {\"orderSingleView\": {\"insert\": 2, \"update\": 4, \"delete\": 1}}, "        \
    "\"qps\": {\"current\": 3.0, \"average\": 1.25, \"max\": 250.0, \"last_5m\": 0.5}, "        \
    "\"lag_ms\": 1532}}\n"

/* What fn printed, as a string (static buffer). */
static const char *printed(void (*fn)(FILE *out, const tap_flow_stats *st),
                           const tap_flow_stats *st)
{
    static char text[8192];
    FILE *f = fmemopen(text, sizeof text, "w");
    assert_non_null(f);
    fn(f, st);
    fclose(f);
    return text;
}

static void print_stats_at_30s(FILE *out, const tap_flow_stats *st)
{
    tap_flow_stats_print(out, "Order_SingleView_Sync", st, STARTED + 30000);
}

static void test_parse_status_with_stats(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300] = "";
    assert_true(tap_flow_stats_parse(STATUS_WITH_STATS, &st, err, sizeof err));
    assert_true(st.has_stats);
    assert_string_equal(st.state, "running");
    assert_string_equal(st.position, "0-1-19");
    assert_int_equal(st.started_ms, STARTED);
    assert_int_equal(st.snapshot_started_ms, 1796199614473LL);
    assert_int_equal(st.snapshot_ended_ms, 1796199614783LL);
    assert_int_equal(st.snapshot_rows, 6);
    assert_int_equal(st.input_count, 2);
    assert_string_equal(st.input[0].name, "ecom_orders");
    assert_int_equal(st.input[0].insert, 2);
    assert_int_equal(st.input[0].update, 1);
    assert_int_equal(st.input[0].delete_, 1);
    assert_string_equal(st.input[1].name, "ecom_order_items");
    assert_int_equal(st.input[1].insert, 3);
    assert_int_equal(st.output_count, 1);
    assert_string_equal(st.output[0].name, "orderSingleView");
    assert_int_equal(st.output[0].update, 4);
    assert_true(st.qps_current == 3.0); /* stats.qps.current, not the status' qps */
    assert_true(st.qps_average == 1.25);
    assert_true(st.qps_max == 250.0);
    assert_true(st.qps_last_5m == 0.5);
    assert_int_equal(st.lag_ms, 1532); /* stats.lag_ms, not delay_ms */
    assert_int_equal(st.resync_completed, 1);
    assert_string_equal(st.resync_table, "");
    tap_flow_stats_cleanup(&st);
}

static void test_print_stats(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300];
    assert_true(tap_flow_stats_parse(STATUS_WITH_STATS, &st, err, sizeof err));
    assert_string_equal(printed(print_stats_at_30s, &st),
                        "flow Order_SingleView_Sync: running, position 0-1-19\n"
                        "  started     2026-12-02 08:20:14Z (up 30.0 s)\n"
                        "  snapshot    2026-12-02 08:20:14Z .. 08:20:14Z (310 ms), 6 rows\n"
                        "  qps         now 3.0, average 1.2, max 250.0, last 5 min 0.5\n"
                        "  lag         1.5 s\n"
                        "  re-sync     none running; 0 queued, 1 done\n"
                        "\n"
                        "  input (source table)       insert       update       delete\n"
                        "  ecom_orders                     2            1            1\n"
                        "  ecom_order_items                3            0            0\n"
                        "  (total)                         5            1            1\n"
                        "\n"
                        "  output (collection)        insert       update       delete\n"
                        "  orderSingleView                 2            4            1\n");
    tap_flow_stats_cleanup(&st);
}

static void test_snapshot_running_and_resync(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300];
    assert_true(tap_flow_stats_parse(
        "{\"status\": \"snapshot\", \"position\": \"\", \"resync\": {\"table\": \"ecom_sellers\", "
        "\"queued\": 2, \"chunks\": 3, \"rows_read\": 1200, \"rows_changed\": 10, \"completed\": "
        "0}, \"stats\": {\"started_ms\": 1796199614392, \"snapshot\": {\"started_ms\": "
        "1796199614392, \"ended_ms\": null, \"rows\": 4500}, \"input\": {}, \"output\": {}, "
        "\"qps\": {\"current\": 0, \"average\": 0, \"max\": 0, \"last_5m\": 0}, \"lag_ms\": 0}}",
        &st, err, sizeof err));
    assert_int_equal(st.snapshot_ended_ms, 0);
    assert_string_equal(
        printed(print_stats_at_30s, &st),
        "flow Order_SingleView_Sync: snapshot\n"
        "  started     2026-12-02 08:20:14Z (up 30.0 s)\n"
        "  snapshot    running since 2026-12-02 08:20:14Z (30.0 s), 4500 rows read\n"
        "  qps         now 0.0, average 0.0, max 0.0, last 5 min 0.0\n"
        "  lag         0 ms\n"
        "  re-sync     ecom_sellers: 3 chunks, 1200 rows read, 10 documents "
        "changed; 2 queued, 0 done\n"
        "\n"
        "  input (source table)       insert       update       delete\n"
        "  no source row read yet\n"
        "\n"
        "  output (collection)        insert       update       delete\n"
        "  no document written yet\n");
    tap_flow_stats_cleanup(&st);
}

/* A daemon without "stats" (older than it) still shows its figures. */
static void test_status_without_stats(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300];
    assert_true(
        tap_flow_stats_parse("{\"flow\": \"F\", \"status\": \"running\", \"qps\": 12.5, "
                             "\"total_rows\": 9, \"delay_ms\": 40, \"position\": \"0-1-3\", "
                             "\"documents\": 2, \"error\": \"sink: write failed\"}",
                             &st, err, sizeof err));
    assert_false(st.has_stats);
    assert_true(st.qps_current == 12.5);
    assert_int_equal(st.lag_ms, 40);
    assert_string_equal(printed(print_stats_at_30s, &st),
                        "flow Order_SingleView_Sync: running, position 0-1-3\n"
                        "  qps         now 12.5\n"
                        "  lag         40 ms\n"
                        "  rows        9 applied, 2 documents written\n"
                        "  re-sync     none\n"
                        "  (this tapflow-replica reports no per-table stats: rebuild it)\n"
                        "  error       sink: write failed\n");
    tap_flow_stats_cleanup(&st);
    tap_flow_stats_init(&st);
    assert_true(tap_flow_stats_parse("{}", &st, err, sizeof err));
    assert_string_equal(st.state, "starting");
    assert_string_equal(printed(print_stats_at_30s, &st),
                        "flow Order_SingleView_Sync: starting\n"
                        "  (no figures yet: the daemon's status endpoint does not answer yet)\n");
    tap_flow_stats_cleanup(&st);
}

static void test_malformed_status(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300] = "";
    assert_false(tap_flow_stats_parse("<html>", &st, err, sizeof err));
    assert_non_null(strstr(err, "the status endpoint answered no JSON object"));
    assert_null(strchr(err, '\n'));
    tap_flow_stats_cleanup(&st);
    assert_null(tap_flow_stats_json("F", "{\"status\": ", err, sizeof err));
}

static void frame_running(FILE *out, const tap_flow_stats *st)
{
    tap_monitor_frame(out, "F", st, true, STARTED + 1000, true);
}

static void frame_not_running(FILE *out, const tap_flow_stats *st)
{
    tap_monitor_frame(out, "F", st, false, STARTED, false);
}

static void test_monitor_frame(void **state)
{
    (void)state;
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char err[300];
    assert_true(tap_flow_stats_parse(STATUS_WITH_STATS, &st, err, sizeof err));
    const char *frame = printed(frame_running, &st);
    assert_true(strncmp(frame,
                        "tap monitor: flow F    2026-12-02 08:20:15Z    (press any key to leave)\n"
                        "\n"
                        "  state       running\n"
                        "  position    0-1-19\n"
                        "  started     2026-12-02 08:20:14Z (up 1.0 s)\n",
                        strlen("tap monitor: flow F    2026-12-02 08:20:15Z    (press any key to "
                               "leave)\n\n  state       running\n  position    0-1-19\n"
                               "  started     2026-12-02 08:20:14Z (up 1.0 s)\n")) == 0);
    assert_non_null(
        strstr(frame, "  qps         now 3.0, average 1.2, max 250.0, last 5 min 0.5\n"));
    assert_non_null(
        strstr(frame, "  orderSingleView                 2            4            1\n"));
    assert_string_equal(printed(frame_not_running, &st),
                        "tap monitor: flow F    2026-12-02 08:20:14Z\n"
                        "\n"
                        "  state       not running (start F runs it)\n");
    tap_flow_stats_cleanup(&st);
}

static void test_stats_json(void **state)
{
    (void)state;
    char err[300];
    char *json = tap_flow_stats_json("Order_SingleView_Sync", STATUS_WITH_STATS, err, sizeof err);
    assert_non_null(json);
    bson_t doc;
    bson_error_t error;
    assert_true(bson_init_from_json(&doc, json, -1, &error));
    bson_iter_t it;
    /* flow, state and position first, then the fields of "stats" */
    const char *keys[] = {"flow",  "state",  "position", "started_ms", "snapshot",
                          "input", "output", "qps",      "lag_ms",     "resync"};
    assert_true(bson_iter_init(&it, &doc));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_true(bson_iter_next(&it));
        assert_string_equal(bson_iter_key(&it), keys[i]);
    }
    assert_false(bson_iter_next(&it));
    assert_true(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "state", &it));
    assert_string_equal(bson_iter_utf8(&it, NULL), "running");
    assert_true(bson_iter_init(&it, &doc) &&
                bson_iter_find_descendant(&it, "input.ecom_orders.delete", &it));
    assert_int_equal(bson_iter_as_int64(&it), 1);
    assert_true(bson_iter_init(&it, &doc) && bson_iter_find_descendant(&it, "qps.max", &it));
    assert_true(bson_iter_as_double(&it) == 250.0);
    bson_destroy(&doc);
    bson_free(json);
}

static void test_durations(void **state)
{
    (void)state;
    char buf[40];
    const struct {
        int64_t ms;
        const char *text;
    } cases[] = {{-5, "0 ms"},        {0, "0 ms"},          {999, "999 ms"},
                 {1000, "1.0 s"},     {4249, "4.2 s"},      {59999, "60.0 s"},
                 {60000, "1m 00s"},   {185000, "3m 05s"},   {3600000, "1h 00m"},
                 {7800000, "2h 10m"}, {86400000, "1d 00h"}, {273600000, "3d 04h"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tap_format_duration(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(tap_log_level_of("2026-12-02T08:20:14.744Z tapflow-replica: error: source: "
                                      "binlog mysql-bin.000042 was purged"),
                     TAP_LOG_ERROR);
    assert_int_equal(tap_log_level_of("2026-12-02T08:20:14Z tap: error: cannot run x"),
                     TAP_LOG_ERROR);
    assert_int_equal(tap_log_level_of("mongoc: ERROR: connection refused"), TAP_LOG_ERROR);
    assert_int_equal(tap_log_level_of("tapflow-replica: warning: table t has no primary key"),
                     TAP_LOG_WARN);
    assert_int_equal(tap_log_level_of("a warning about an error"), TAP_LOG_ERROR);
    assert_int_equal(tap_log_level_of("tapflow-replica: snapshot done: 6 rows"), TAP_LOG_INFO);
    assert_int_equal(tap_log_level_of(""), TAP_LOG_INFO);
    assert_string_equal(tap_log_level_name(TAP_LOG_WARN), "warn");
}

static void test_line_ring_keeps_the_last(void **state)
{
    (void)state;
    tap_line_ring r;
    tap_line_ring_init(&r, 3);
    tap_line_ring_push(&r, "a");
    tap_line_ring_push(&r, "b");
    assert_int_equal(r.count, 2);
    assert_string_equal(tap_line_ring_get(&r, 0), "a");
    assert_string_equal(tap_line_ring_get(&r, 1), "b");
    tap_line_ring_push(&r, "c");
    tap_line_ring_push(&r, "d");
    tap_line_ring_push(&r, "e");
    assert_int_equal(r.count, 3);
    assert_string_equal(tap_line_ring_get(&r, 0), "c");
    assert_string_equal(tap_line_ring_get(&r, 1), "d");
    assert_string_equal(tap_line_ring_get(&r, 2), "e");
    tap_line_ring_cleanup(&r);
    tap_line_ring_init(&r, 1);
    tap_line_ring_push(&r, "x");
    tap_line_ring_push(&r, "y");
    assert_int_equal(r.count, 1);
    assert_string_equal(tap_line_ring_get(&r, 0), "y");
    tap_line_ring_cleanup(&r);
}

static void collect(void *arg, const char *line) { tap_line_ring_push(arg, line); }

/* Complete lines at the level asked for; a last line still being written
 * waits for its newline. */
static void test_log_scan(void **state)
{
    (void)state;
    char path[] = "/tmp/test_tap_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    FILE *writer = fopen(path, "a"), *f = fopen(path, "r");
    assert_non_null(writer);
    assert_non_null(f);
    fputs("one info\r\ntapflow-replica: warning: two\ntapflow-replica: error: three\n"
          "four (an error still being wri",
          writer);
    fflush(writer);
    rewind(f);
    tap_line_ring r;
    tap_line_ring_init(&r, 10);
    tap_log_scan(f, TAP_LOG_INFO, collect, &r);
    assert_int_equal(r.count, 3);
    assert_string_equal(tap_line_ring_get(&r, 0), "one info");
    assert_string_equal(tap_line_ring_get(&r, 2), "tapflow-replica: error: three");
    fputs("tten)\n", writer); /* the writer ends the line */
    fflush(writer);
    clearerr(f);
    tap_log_scan(f, TAP_LOG_ERROR, collect, &r);
    assert_int_equal(r.count, 4);
    assert_string_equal(tap_line_ring_get(&r, 3), "four (an error still being written)");
    tap_line_ring_cleanup(&r);
    rewind(f);
    tap_line_ring_init(&r, 10);
    tap_log_scan(f, TAP_LOG_WARN, collect, &r);
    assert_int_equal(r.count, 3);
    assert_string_equal(tap_line_ring_get(&r, 0), "tapflow-replica: warning: two");
    tap_line_ring_cleanup(&r);
    fclose(f);
    fclose(writer);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_status_with_stats),
        cmocka_unit_test(test_print_stats),
        cmocka_unit_test(test_snapshot_running_and_resync),
        cmocka_unit_test(test_status_without_stats),
        cmocka_unit_test(test_malformed_status),
        cmocka_unit_test(test_monitor_frame),
        cmocka_unit_test(test_stats_json),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_line_ring_keeps_the_last),
        cmocka_unit_test(test_log_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
