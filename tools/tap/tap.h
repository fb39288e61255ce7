/* tap.h — shared between the files of the tap shell only.
 *
 *   main.c        options, the read-run loop (interactive and script mode)
 *   line_input.c  libedit line editing and history
 *   command.c     what a line says: a shell command or a flow statement
 *   dispatch.c    runs a parsed command
 *   flow_shell.c  flow statements: messages, save/start/stop/status
 *   daemon_ctl.c  tapflow-replica processes: spawn, stop, status endpoint
 *   inspect_mysql.c / inspect_mongo.c   show tables, desc, peek, count
 *   datasource.c  datasource add / list / test
 *   json_pretty.c indented relaxed extended JSON
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
/* `show flows` */
bool tap_flow_list(tap_session *s, tf_error *err);
/* Saves/starts/stops/prints status of a saved flow by name. */
bool tap_flow_start(tap_session *s, const char *name, tf_error *err);
bool tap_flow_stop(tap_session *s, const char *name, tf_error *err);
/* `reset NAME`: stops the flow if it runs; its next start rebuilds the
 * documents from a new snapshot (--resnapshot) instead of resuming. */
bool tap_flow_reset(tap_session *s, const char *name, tf_error *err);
bool tap_flow_status(tap_session *s, const char *name, tf_error *err);

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
/* Marks the flow for a rebuild at its next spawn (HOME/run/NAME.rebuild,
 * removed once a daemon started with --resnapshot answers). */
bool tap_rebuild_mark(const char *home, const char *flow, tf_error *err);
/* SIGTERM, waits up to 60 s, removes the run file. *was_running false
 * when no daemon ran (run file removed if stale). */
bool tap_daemon_stop(const char *home, const char *flow, bool *was_running, tf_error *err);
/* GET /status of the running daemon; false when it does not run. */
bool tap_daemon_query(const char *home, const char *flow, tap_daemon_status *out);
/* The last line of HOME/logs/NAME.log that says "error", of the flow's
 * latest run only (empty if none). */
void tap_daemon_last_error(const char *home, const char *flow, char *out, size_t cap);
/* How the latest run of a flow that no longer runs ended ("tapflow-replica
 * (pid N) was killed by signal 9 (SIGKILL)", "... exited with code 1"), as
 * its supervisor recorded it; false (out empty) when unknown. */
bool tap_daemon_run_end(const char *home, const char *flow, char *out, size_t cap);

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
