/* test_tap_command.c — the tap shell's command parser (tools/tap/command.c):
 * each command with its arguments, flow statements told from commands,
 * when an input needs more lines, and the one-line messages for bad input.
 * command.c is compiled in here: it needs only libc and view/. */
#include "support.h"

#include "../../tools/tap/command.c"

#include <string.h>

static tap_command parse_ok(const char *text)
{
    tap_command cmd;
    char err[300] = "";
    if (!tap_command_parse(text, &cmd, err, sizeof err))
        fail_msg("unexpected error for '%s': %s", text, err);
    return cmd;
}

/* The message for text (static buffer). */
static const char *parse_error(const char *text)
{
    static char err[300];
    err[0] = '\0';
    tap_command cmd;
    assert_false(tap_command_parse(text, &cmd, err, sizeof err));
    assert_int_equal(cmd.argc, 0);
    assert_null(strchr(err, '\n')); /* one line */
    return err;
}

static void expect(const char *text, tap_cmd_kind kind, size_t argc, const char *arg0,
                   const char *arg1)
{
    tap_command cmd = parse_ok(text);
    assert_int_equal(cmd.kind, kind);
    assert_int_equal(cmd.argc, argc);
    if (arg0)
        assert_string_equal(cmd.argv[0], arg0);
    if (arg1)
        assert_string_equal(cmd.argv[1], arg1);
    tap_command_cleanup(&cmd);
}

static void test_each_command(void **state)
{
    (void)state;
    expect("status Order_SingleView_Sync", TAP_CMD_STATUS, 1, "Order_SingleView_Sync", NULL);
    expect("start Order_SingleView_Sync", TAP_CMD_START, 1, "Order_SingleView_Sync", NULL);
    expect("stop Order_SingleView_Sync", TAP_CMD_STOP, 1, "Order_SingleView_Sync", NULL);
    expect("show flows", TAP_CMD_SHOW_FLOWS, 0, NULL, NULL);
    expect("show tables", TAP_CMD_SHOW_TABLES, 0, NULL, NULL);
    expect("show collections", TAP_CMD_SHOW_TABLES, 0, NULL, NULL);
    expect("use MongoDB_ECommerce", TAP_CMD_USE, 1, "MongoDB_ECommerce", NULL);
    expect("desc ecom_orders", TAP_CMD_DESC, 1, "ecom_orders", NULL);
    expect("peek orderSingleView", TAP_CMD_PEEK, 1, "orderSingleView", NULL);
    expect("peek orderSingleView 3", TAP_CMD_PEEK, 2, "orderSingleView", "3");
    expect("count orderSingleView", TAP_CMD_COUNT, 1, "orderSingleView", NULL);
    expect("datasource add M type=mysql host=h", TAP_CMD_DATASOURCE_ADD, 3, "M", "type=mysql");
    expect("datasource list", TAP_CMD_DATASOURCE_LIST, 0, NULL, NULL);
    expect("datasource test M", TAP_CMD_DATASOURCE_TEST, 1, "M", NULL);
    expect("help", TAP_CMD_HELP, 0, NULL, NULL);
    expect("exit", TAP_CMD_EXIT, 0, NULL, NULL);
    expect("quit", TAP_CMD_EXIT, 0, NULL, NULL);
}

static void test_spelling_variants(void **state)
{
    (void)state;
    expect("  SHOW   FLOWS  ", TAP_CMD_SHOW_FLOWS, 0, NULL, NULL);
    expect("count orderSingleView;", TAP_CMD_COUNT, 1, "orderSingleView", NULL);
    expect("count orderSingleView ;", TAP_CMD_COUNT, 1, "orderSingleView", NULL);
    expect("count orderSingleView # how many", TAP_CMD_COUNT, 1, "orderSingleView", NULL);
    expect("count orderSingleView; # how many", TAP_CMD_COUNT, 1, "orderSingleView", NULL);
    expect("status 'My Flow'", TAP_CMD_STATUS, 1, "My Flow", NULL);
    expect("datasource add M uri=\"mongodb://h:1/?a=b c\"", TAP_CMD_DATASOURCE_ADD, 2, "M",
           "uri=mongodb://h:1/?a=b c");
    expect("", TAP_CMD_EMPTY, 0, NULL, NULL);
    expect("   ", TAP_CMD_EMPTY, 0, NULL, NULL);
    expect("# a comment", TAP_CMD_EMPTY, 0, NULL, NULL);
    expect(";", TAP_CMD_EMPTY, 0, NULL, NULL);
}

static void test_flow_statements(void **state)
{
    (void)state;
    expect("orderFlow = Flow(\"Order_SingleView_Sync\") \\", TAP_CMD_FLOW, 0, NULL, NULL);
    expect("orderFlow.save()", TAP_CMD_FLOW, 0, NULL, NULL);
    expect("orderFlow . start()", TAP_CMD_FLOW, 0, NULL, NULL);
    expect(".read_from(\"MySQL_ECommerce.ecom_orders\");", TAP_CMD_FLOW, 0, NULL, NULL);
    expect("Flow(\"x\").save()", TAP_CMD_FLOW, 0, NULL, NULL);
    /* A flow may be named like a command: '=', '.' or '(' decide. */
    expect("status = Flow(\"x\")", TAP_CMD_FLOW, 0, NULL, NULL);
    expect("status.start()", TAP_CMD_FLOW, 0, NULL, NULL);
    expect("status x", TAP_CMD_STATUS, 1, "x", NULL);
    assert_true(tap_input_is_flow("  f.lookup("));
    assert_false(tap_input_is_flow("show flows"));
    assert_false(tap_input_is_flow("# f.save()"));
}

static void test_continuation(void **state)
{
    (void)state;
    /* The guide's statements, line by line. */
    assert_false(tap_input_complete("orderFlow = Flow(\"Order_SingleView_Sync\") \\"));
    assert_true(tap_input_complete("orderFlow = Flow(\"Order_SingleView_Sync\") \\\n"
                                   ".read_from(\"MySQL_ECommerce.ecom_orders\"); # Set MySQL "
                                   "source table ecom_ordersAdd"));
    assert_false(tap_input_complete("orderFlow.lookup(\"MySQL_ECommerce.ecom_customers\","));
    assert_false(tap_input_complete("orderFlow.lookup(\"MySQL_ECommerce.ecom_customers\",\n"
                                    "path=\"customer_info\", # MongoDB embedding path"));
    assert_false(tap_input_complete("orderFlow.lookup(\"MySQL_ECommerce.ecom_customers\",\n"
                                    "path=\"customer_info\",\ntype=\"object\",\n"
                                    "relation=[[\"customer_id\","));
    assert_true(tap_input_complete("orderFlow.lookup(\"MySQL_ECommerce.ecom_customers\",\n"
                                   "path=\"customer_info\", # MongoDB embedding path\n"
                                   "type=\"object\", # Embed type as object\n"
                                   "relation=[[\"customer_id\", \"customer_id\"]]); # Join"));
    /* A backslash in a comment or a string continues nothing. */
    assert_true(tap_input_complete("f.save() # see \\"));
    assert_true(tap_input_complete("f.write_to(\"a\\\\\")"));
    /* A lexical error is complete: running it reports it. */
    assert_true(tap_input_complete("f.lookup(\"unterminated"));
    assert_true(tap_input_complete("f.lookup(@"));
    /* Commands are always one line. */
    assert_true(tap_input_complete("status x \\"));
    assert_true(tap_input_complete("count orders ("));
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_string_equal(parse_error("frobnicate now"),
                        "unknown command 'frobnicate' (help lists the commands)");
    assert_string_equal(parse_error("orderFlow"),
                        "unknown command 'orderFlow' (help lists the commands)");
    assert_string_equal(parse_error("status"), "usage: status NAME");
    assert_string_equal(parse_error("status a b"), "usage: status NAME");
    assert_string_equal(parse_error("start"), "usage: start NAME");
    assert_string_equal(parse_error("use"), "usage: use DATASOURCE");
    assert_string_equal(parse_error("count"), "usage: count COLLECTION_OR_TABLE");
    assert_string_equal(parse_error("show"), "usage: show flows | show tables | show collections");
    assert_string_equal(parse_error("show everything"),
                        "usage: show flows | show tables | show collections");
    assert_string_equal(parse_error("show flows now"), "usage: show flows");
    assert_string_equal(parse_error("datasource remove x"),
                        "usage: datasource add NAME type=mysql|mongodb key=value ... | "
                        "datasource list | datasource test NAME");
    assert_string_equal(parse_error("datasource add M"),
                        "usage: datasource add NAME type=mysql|mongodb key=value ...");
    assert_string_equal(parse_error("peek x 0"),
                        "peek: N must be a number from 1 to 1000, found '0'");
    assert_string_equal(parse_error("peek x lots"),
                        "peek: N must be a number from 1 to 1000, found 'lots'");
    assert_string_equal(parse_error("status 'x"), "unterminated ' quote");
    assert_string_equal(parse_error("status x; count y"),
                        "one command per line (found text after ';')");
    assert_string_equal(parse_error("exit now"), "usage: exit");
}

static tap_logs_options logs_options(const char *text)
{
    tap_command cmd = parse_ok(text);
    assert_int_equal(cmd.kind, TAP_CMD_LOGS);
    tap_logs_options opts;
    char err[300] = "";
    if (!tap_logs_options_parse(&cmd, &opts, err, sizeof err))
        fail_msg("unexpected error for '%s': %s", text, err);
    tap_command_cleanup(&cmd);
    return opts;
}

static void test_logs_options(void **state)
{
    (void)state;
    tap_logs_options o = logs_options("logs Order_SingleView_Sync");
    assert_false(o.follow);
    assert_int_equal(o.level, TAP_LOG_INFO);
    assert_int_equal(o.limit, TAP_LOGS_DEFAULT_LIMIT);
    o = logs_options("logs F --follow --level error --limit 20");
    assert_true(o.follow);
    assert_int_equal(o.level, TAP_LOG_ERROR);
    assert_int_equal(o.limit, 20);
    o = logs_options("logs F --limit=3 --level=WARNING -f");
    assert_true(o.follow);
    assert_int_equal(o.level, TAP_LOG_WARN);
    assert_int_equal(o.limit, 3);
    o = logs_options("logs F --level warn");
    assert_int_equal(o.level, TAP_LOG_WARN);
    o = logs_options("logs F --level info --limit 1000000");
    assert_int_equal(o.level, TAP_LOG_INFO);
    assert_int_equal(o.limit, 1000000);
    expect("logs F --follow", TAP_CMD_LOGS, 2, "F", "--follow");

    assert_string_equal(parse_error("logs"),
                        "usage: logs NAME [--follow] [--level error|warn|info] [--limit N]");
    assert_string_equal(parse_error("logs F --level"), "--level needs a value");
    assert_string_equal(parse_error("logs F --level debug"),
                        "logs: --level is error, warn or info, found 'debug'");
    assert_string_equal(parse_error("logs F --limit 0"),
                        "logs: --limit is a number from 1 to 1000000, found '0'");
    assert_string_equal(parse_error("logs F --limit 5x"),
                        "logs: --limit is a number from 1 to 1000000, found '5x'");
    assert_string_equal(parse_error("logs F --limit=-2"),
                        "logs: --limit is a number from 1 to 1000000, found '-2'");
    assert_string_equal(parse_error("logs F --tail 5"),
                        "logs: unknown option '--tail' (usage: logs NAME [--follow] [--level "
                        "error|warn|info] [--limit N])");
    assert_string_equal(parse_error("logs F --levels error"),
                        "logs: unknown option '--levels' (usage: logs NAME [--follow] [--level "
                        "error|warn|info] [--limit N])");
}

static void test_stats_and_monitor(void **state)
{
    (void)state;
    expect("stats Order_SingleView_Sync", TAP_CMD_STATS, 1, "Order_SingleView_Sync", NULL);
    expect("STATS F --json", TAP_CMD_STATS, 2, "F", "--json");
    expect("monitor Order_SingleView_Sync", TAP_CMD_MONITOR, 1, "Order_SingleView_Sync", NULL);
    tap_command cmd = parse_ok("stats F --json");
    bool json = false;
    char err[200];
    assert_true(tap_stats_options_parse(&cmd, &json, err, sizeof err));
    assert_true(json);
    tap_command_cleanup(&cmd);
    assert_string_equal(parse_error("stats"), "usage: stats NAME [--json]");
    assert_string_equal(parse_error("stats F --yaml"),
                        "stats: unknown option '--yaml' (usage: stats NAME [--json])");
    assert_string_equal(parse_error("monitor"), "usage: monitor NAME");
    assert_string_equal(parse_error("monitor F G"), "usage: monitor NAME");
}

static void test_log_level_names(void **state)
{
    (void)state;
    tap_log_level l = TAP_LOG_INFO;
    assert_true(tap_log_level_parse("Error", &l));
    assert_int_equal(l, TAP_LOG_ERROR);
    assert_true(tap_log_level_parse("warning", &l));
    assert_int_equal(l, TAP_LOG_WARN);
    assert_true(tap_log_level_parse("INFO", &l));
    assert_int_equal(l, TAP_LOG_INFO);
    assert_false(tap_log_level_parse("debug", &l));
    assert_false(tap_log_level_parse("", &l));
}

static void test_help_names_every_command(void **state)
{
    (void)state;
    const char *names[] = {"show flows",
                           "start NAME",
                           "stop NAME",
                           "status NAME",
                           "stats NAME",
                           "logs NAME",
                           "--follow",
                           "--level",
                           "--limit",
                           "monitor NAME",
                           "use",
                           "show tables",
                           "desc",
                           "peek",
                           "count",
                           "datasource add",
                           "datasource list",
                           "datasource test",
                           "help",
                           "exit"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(tap_help_text, names[i]))
            fail_msg("help does not mention %s", names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_command),
        cmocka_unit_test(test_spelling_variants),
        cmocka_unit_test(test_flow_statements),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_logs_options),
        cmocka_unit_test(test_stats_and_monitor),
        cmocka_unit_test(test_log_level_names),
        cmocka_unit_test(test_help_names_every_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
