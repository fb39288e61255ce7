/* tap.h — shared between the files of the tap shell only.
 *
 *   main.c        options, the read-run loop (interactive and script mode)
 *   line_input.c  libedit line editing and history
 *   command.c     what a line says: a shell command or a flow statement
 *   dispatch.c    runs a parsed command
 *   flow_shell.c  flow statements: messages, save/start/stop/status
 *   daemon_ctl.c  tapflow-replica processes: spawn, stop, status endpoint
 *   service.c     the same as the systemd unit tapflow-flow@NAME (package)
 *   inspect_mysql.c / inspect_mongo.c   show tables, desc, peek, count
 *   datasource.c  datasource add / list / test
 *   json_pretty.c indented relaxed extended JSON
 *   flow_stats.c  the daemon's /status as stats and monitor print it (no I/O)
 *   log_lines.c   a flow's log: levels, the last N lines, following it
 *   observe.c     stats, logs and monitor NAME
 */
#ifndef TAPFLOW_TAP_H
#define TAPFLOW_TAP_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- command.c: parsing (no I/O, unit-tested) ------------------------ */

typedef enum tap_cmd_kind {
    TAP_CMD_EMPTY = 0, /* blank line or comment */
    TAP_CMD_FLOW,      /* a statement of the flow language */
    TAP_CMD_STATUS,
    TAP_CMD_START,
    TAP_CMD_STOP,
    TAP_CMD_RESET,
    TAP_CMD_STATS,
    TAP_CMD_LOGS,
    TAP_CMD_MONITOR,
    TAP_CMD_VERIFY,
    TAP_CMD_SHOW_FLOWS,
    TAP_CMD_SHOW_TABLES,
    TAP_CMD_USE,
    TAP_CMD_DESC,
    TAP_CMD_PEEK,
    TAP_CMD_COUNT,
    TAP_CMD_DATASOURCE_ADD,
    TAP_CMD_DATASOURCE_LIST,
    TAP_CMD_DATASOURCE_TEST,
    TAP_CMD_HELP,
    TAP_CMD_EXIT,
} tap_cmd_kind;

#define TAP_MAX_ARGS 24

typedef struct tap_command {
    tap_cmd_kind kind;
    size_t argc;              /* words after the command's own words */
    char *argv[TAP_MAX_ARGS]; /* unquoted */
} tap_command;

/* Whether text (one or more lines) is a complete input: a shell command is
 * one line; a flow statement ends when no bracket is open and no line ends
 * in '\'. */
bool tap_input_complete(const char *text);
/* Whether text is (the start of) a flow statement rather than a command. */
bool tap_input_is_flow(const char *text);
/* Parses a complete input. false with a one-line message in err ("unknown
 * command 'x' (help lists the commands)", "usage: status NAME"). */
bool tap_command_parse(const char *text, tap_command *out, char *err, size_t cap);
void tap_command_cleanup(tap_command *cmd);
/* The commands and what they do, for help. */
extern const char tap_help_text[];

/* A line of a flow's log is ERROR when it says "error", WARN when it says
 * "warning", else INFO (the daemon's lines carry no level field; matched
 * without regard to case). */
typedef enum tap_log_level {
    TAP_LOG_INFO = 0,
    TAP_LOG_WARN,
    TAP_LOG_ERROR,
} tap_log_level;

#define TAP_LOGS_DEFAULT_LIMIT 50
#define TAP_LOGS_MAX_LIMIT 1000000

typedef struct tap_logs_options {
    bool follow;         /* --follow: then new lines until SIGINT */
    tap_log_level level; /* --level: the lines at this level or above */
    long limit;          /* --limit: the last N such lines */
} tap_logs_options;

/* "error", "warn"/"warning", "info" (any case); false for anything else. */
bool tap_log_level_parse(const char *text, tap_log_level *out);
/* The options of a parsed `logs NAME ...` (argv[0] is NAME); false with
 * a one-line message. */
bool tap_logs_options_parse(const tap_command *cmd, tap_logs_options *out, char *err, size_t cap);
/* `stats NAME [--json]`. */
bool tap_stats_options_parse(const tap_command *cmd, bool *json, char *err, size_t cap);

/* ---- the session ------------------------------------------------------ */

struct tfr_config;
struct tf_flow_builder;

typedef struct tap_session {
    char *config_path;      /* --config, TAPFLOW_CONFIG or ~/.tapflow/tapflow.conf */
    struct tfr_config *cfg; /* loaded by tap_config, once per command */
    bool cfg_current;       /* cfg was loaded for the command being run */
    char *home;
    bool quiet;    /* -q: no "Flow updated/saved/started/stopped" lines */
    char *current; /* `use` datasource */
    struct tf_flow_builder *builder;
    char *exe_dir; /* where tap runs from, to find tapflow-replica */
} tap_session;

/* Loads the config file (again: it may have changed); false with err. */
bool tap_config(tap_session *s, tf_error *err);

/* ---- dispatch.c ---- */

/* Runs one parsed command; false with err. *exit_requested for exit/quit.
 * file/line: where the command is, for flow statements' positions. */
bool tap_dispatch(tap_session *s, const tap_command *cmd, const char *text, const char *file,
                  unsigned line, bool *exit_requested, tf_error *err);

/* ---- flow_shell.c ---- */

bool tap_flow_run(tap_session *s, const char *text, const char *file, unsigned line, tf_error *err);
/* Flow names become file names: letters, digits, '_', '-', '.' (not first),
 * at most 100; false with err otherwise. */
bool tap_flow_name_valid(const char *name, tf_error *err);
/* `show flows` */
bool tap_flow_list(tap_session *s, tf_error *err);
/* Saves/starts/stops/prints status of a saved flow by name. */
bool tap_flow_start(tap_session *s, const char *name, tf_error *err);
bool tap_flow_stop(tap_session *s, const char *name, tf_error *err);
/* `reset NAME`: stops the flow if it runs; its next start rebuilds the
 * documents from a new snapshot (--resnapshot) instead of resuming. */
bool tap_flow_reset(tap_session *s, const char *name, tf_error *err);
bool tap_flow_status(tap_session *s, const char *name, tf_error *err);
/* `verify NAME [--counts | --sample N] [--repair]`: tapflow-replica verify
 * on the saved flow (its output printed as it comes); false with err when
 * it finds differences (exit 1) or cannot verify. */
bool tap_flow_verify(tap_session *s, const char *name, char *const *options, size_t option_count,
                     tf_error *err);

/* ---- daemon_ctl.c ---- */

typedef struct tap_daemon_status {
    char state[32]; /* starting | snapshot | running | stopped | error */
    double qps;
    int64_t total_rows;
    int64_t delay_ms;
    char error[300]; /* the daemon's error, or its log's last error line */
} tap_daemon_status;

/* Whether the run file names a live tapflow-replica of this flow (stale
 * run files are removed). */
bool tap_daemon_running(const char *home, const char *flow, long *pid, uint16_t *port);
/* Spawns tapflow-replica on flow_file (detached), writes the run file and
 * waits until its status endpoint answers. */
bool tap_daemon_spawn(tap_session *s, const char *flow, const char *flow_file, tf_error *err);
/* Runs `tapflow-replica verify --flow HOME/flows/NAME.tap --config ...
 * options` in the foreground (output inherited); *exit_code its status. */
bool tap_daemon_verify(tap_session *s, const char *flow, const char *flow_text,
                       char *const *options, size_t option_count, int *exit_code, tf_error *err);
/* Marks the flow for a rebuild at its next spawn (HOME/run/NAME.rebuild,
 * removed once a daemon started with --resnapshot answers). */
bool tap_rebuild_mark(const char *home, const char *flow, tf_error *err);
/* SIGTERM, waits up to 60 s, removes the run file. *was_running false
 * when no daemon ran (run file removed if stale). */
bool tap_daemon_stop(const char *home, const char *flow, bool *was_running, tf_error *err);
/* GET /status of the running daemon; false when it does not run. */
bool tap_daemon_query(const char *home, const char *flow, tap_daemon_status *out);
/* The body of GET /status (bson_free) in *body, NULL when the running
 * daemon does not answer yet; false when it does not run. */
bool tap_daemon_status_body(const char *home, const char *flow, char **body);
/* HOME/logs/NAME.log (bson_free). */
char *tap_daemon_log_path(const char *home, const char *flow);
/* The last line of HOME/logs/NAME.log that says "error", of the flow's
 * latest run only (empty if none). */
void tap_daemon_last_error(const char *home, const char *flow, char *out, size_t cap);
/* How the latest run of a flow that no longer runs ended ("tapflow-replica
 * (pid N) was killed by signal 9 (SIGKILL)", "... exited with code 1"), as
 * its supervisor recorded it; false (out empty) when unknown. */
bool tap_daemon_run_end(const char *home, const char *flow, char *out, size_t cap);

/* Whether something listens on 127.0.0.1:port (a daemon's status endpoint). */
bool tap_port_answers(uint16_t port);

/* ---- service.c: flows as systemd units (used by daemon_ctl.c) ---- */

/* Whether flows of home run as tapflow-flow@NAME.service: env
 * TAPFLOW_SERVICE_MODE=systemd|detached, else the unit is installed, systemd
 * runs the machine and home is the services' (/var/lib/tapflow). */
bool tap_service_mode(const char *home);
/* Whether the unit runs (its MainPID in *pid, the status port of
 * HOME/run/NAME.env in *port). */
bool tap_service_running(const char *home, const char *flow, long *pid, uint16_t *port);
/* Writes HOME/run/NAME.env (port; --resnapshot when rebuild, until the
 * daemon answers) and starts the unit; waits until the status endpoint
 * answers, then writes the run file (its port, for tapflow-replica status).
 * The flow file is written by the caller. */
bool tap_service_start(tap_session *s, const char *flow, uint16_t port, bool rebuild,
                       tf_error *err);
/* Whether the unit of a flow that does not run ended with an error: waiting
 * to restart, or given up ("failed"); why says which. */
bool tap_service_ended_badly(const char *flow, char *why, size_t cap);
/* systemctl stop (SIGTERM: the daemon writes its checkpoint first); the
 * run file is removed. */
bool tap_service_stop(const char *home, const char *flow, bool *was_running, tf_error *err);
/* `logs NAME` from the unit's journal (journalctl), same filters. */
bool tap_service_logs(const char *flow, const tap_logs_options *opts, tf_error *err);

/* ---- inspect_mysql.c / inspect_mongo.c ---- */

struct tfr_datasource;
typedef enum tap_inspect_what {
    TAP_SHOW_TABLES,
    TAP_DESC,
    TAP_PEEK,
    TAP_COUNT
} tap_inspect_what;

bool tap_mysql_inspect(const struct tfr_datasource *ds, tap_inspect_what what, const char *name,
                       long limit, tf_error *err);
bool tap_mongo_inspect(const struct tfr_datasource *ds, tap_inspect_what what, const char *name,
                       long limit, tf_error *err);
/* Fills conn (strings borrowed from ds, password from password_env). */
struct tf_conn_options;
bool tap_mysql_conn(const struct tfr_datasource *ds, struct tf_conn_options *conn, tf_error *err);

/* ---- datasource.c ---- */

bool tap_datasource_add(tap_session *s, const tap_command *cmd, tf_error *err);
bool tap_datasource_list(tap_session *s, tf_error *err);
bool tap_datasource_test(tap_session *s, const char *name, tf_error *err);

/* ---- flow_stats.c ---- */

/* Inserts, updates and deletes of one source table or target collection. */
typedef struct tap_op_counts {
    char *name;
    int64_t insert, update, delete_;
} tap_op_counts;

/* What GET /status says, with its "stats" object (tap_flow_stats_parse). */
typedef struct tap_flow_stats {
    char state[32];
    char position[256];
    char error[300];
    bool has_stats; /* the daemon answers "stats" (an older one does not) */
    int64_t started_ms;
    int64_t snapshot_started_ms, snapshot_ended_ms; /* 0: not (yet) */
    int64_t snapshot_rows;
    tap_op_counts *input, *output; /* per source table / target collection */
    size_t input_count, output_count;
    double qps_current, qps_average, qps_max, qps_last_5m;
    bool lag_known;
    int64_t lag_ms; /* stats.lag_ms, else the status' delay_ms */
    /* the rest of /status */
    int64_t delay_ms, total_rows, snapshot_rows_read, documents;
    char resync_table[200]; /* empty: no table re-syncs now */
    int64_t resync_queued, resync_chunks, resync_rows_read, resync_rows_changed, resync_completed;
} tap_flow_stats;

void tap_flow_stats_init(tap_flow_stats *st);
void tap_flow_stats_cleanup(tap_flow_stats *st);
/* Fills st (initialised) from a /status body; false with err when it is no
 * JSON object. Unknown fields are skipped, missing ones stay 0. */
bool tap_flow_stats_parse(const char *json, tap_flow_stats *st, char *err, size_t cap);
/* `stats NAME --json`: {"flow", "state", "position", ["error"], the fields of
 * "stats" as the daemon wrote them, "resync"} (bson_free), NULL with err. */
char *tap_flow_stats_json(const char *flow, const char *status_json, char *err, size_t cap);
/* "332 ms", "4.2 s", "3m 05s", "2h 10m", "3d 04h". */
void tap_format_duration(int64_t ms, char *out, size_t cap);
/* `stats NAME`: a block of "  label  value" lines and two tables of counts. */
void tap_flow_stats_print(FILE *out, const char *flow, const tap_flow_stats *st, int64_t now_ms);
/* One frame of `monitor NAME` (running false: the flow does not run). */
void tap_monitor_frame(FILE *out, const char *flow, const tap_flow_stats *st, bool running,
                       int64_t now_ms, bool interactive);

/* ---- log_lines.c ---- */

/* The level of a log line (see tap_log_level). */
tap_log_level tap_log_level_of(const char *line);
const char *tap_log_level_name(tap_log_level level);

/* The last `limit` lines pushed: a ring that keeps copies. */
typedef struct tap_line_ring {
    char **lines;
    size_t cap, count, next;
} tap_line_ring;

void tap_line_ring_init(tap_line_ring *r, size_t cap);
void tap_line_ring_push(tap_line_ring *r, const char *line);
/* The i-th oldest line kept (i < count). */
const char *tap_line_ring_get(const tap_line_ring *r, size_t i);
void tap_line_ring_cleanup(tap_line_ring *r);

/* Reads complete lines from f (from where it is) and calls fn with each
 * one at `level` or above; a last line without its newline is left
 * unread (f is moved back to its start) for a writer still writing it. */
void tap_log_scan(FILE *f, tap_log_level level, void (*fn)(void *arg, const char *line), void *arg);

/* ---- observe.c ---- */

bool tap_flow_stats_show(tap_session *s, const char *name, bool json, tf_error *err);
bool tap_flow_logs(tap_session *s, const char *name, const tap_logs_options *opts, tf_error *err);
bool tap_flow_monitor(tap_session *s, const char *name, tf_error *err);

/* ---- json_pretty.c ---- */

/* Writes relaxed extended JSON indented by two spaces per level, with
 * extended JSON wrappers ({"$oid": ...}, {"$date": ...}) on one line. */
void tap_json_pretty(const char *json, FILE *out);

/* ---- line_input.c ---- */

typedef struct tap_line_input tap_line_input;

/* Interactive line reading with libedit; history in HOME/history. */
tap_line_input *tap_line_input_open(const char *home);
/* A line without its newline (free()), NULL at end of input. */
char *tap_line_input_read(tap_line_input *li, const char *prompt);
/* Adds a complete input to the history (skipped when it may hold a secret). */
void tap_line_input_remember(tap_line_input *li, const char *text);
void tap_line_input_close(tap_line_input *li);

#endif
