/* dispatch.c — runs one parsed command of the shell. */
#include "daemon.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* The datasource `use` chose, for show tables / desc / peek / count;
 * "DATASOURCE.name" picks another one for one command. */
static const tfr_datasource *target_of(tap_session *s, const char *arg, const char **name,
                                       tf_error *err)
{
    if (!tap_config(s, err))
        return NULL;
    const char *dot = arg ? strchr(arg, '.') : NULL;
    char ds_name[256];
    *name = arg;
    if (dot && (size_t)(dot - arg) < sizeof ds_name) {
        memcpy(ds_name, arg, (size_t)(dot - arg));
        ds_name[dot - arg] = '\0';
        if (tfr_config_datasource(s->cfg, ds_name)) {
            *name = dot + 1;
            return tfr_config_datasource(s->cfg, ds_name);
        }
    }
    if (!s->current) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no datasource chosen: use DATASOURCE first (datasource list shows them)");
        return NULL;
    }
    const tfr_datasource *ds = tfr_config_datasource(s->cfg, s->current);
    if (!ds)
        tf_error_set(err, TF_ERR_CONFIG, 0, "datasource %.100s is no longer in %.200s", s->current,
                     s->cfg->file);
    return ds;
}

static bool inspect(tap_session *s, tap_inspect_what what, const char *arg, long limit,
                    tf_error *err)
{
    const char *name = NULL;
    const tfr_datasource *ds = target_of(s, arg, &name, err);
    if (!ds)
        return false;
    if (ds->type == TFR_DS_MYSQL)
        return tap_mysql_inspect(ds, what, name, limit, err);
    return tap_mongo_inspect(ds, what, name, limit, err);
}

static bool use(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_config(s, err))
        return false;
    const tfr_datasource *ds = tfr_config_datasource(s->cfg, name);
    if (!ds) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no datasource named %.100s in %.200s (datasource list shows them)", name,
                     s->cfg->file);
        return false;
    }
    bson_free(s->current);
    s->current = bson_strdup(name);
    printf("switched to datasource %s (%s, database %s)\n", name,
           ds->type == TFR_DS_MYSQL ? "mysql" : "mongodb", ds->database ? ds->database : "none");
    fflush(stdout);
    return true;
}

bool tap_dispatch(tap_session *s, const tap_command *cmd, const char *text, const char *file,
                  unsigned line, bool *exit_requested, tf_error *err)
{
    const char *arg = cmd->argc ? cmd->argv[0] : NULL;
    switch (cmd->kind) {
    case TAP_CMD_EMPTY: return true;
    case TAP_CMD_FLOW: return tap_flow_run(s, text, file, line, err);
    case TAP_CMD_STATUS: return tap_flow_status(s, arg, err);
    case TAP_CMD_START: return tap_flow_start(s, arg, err);
    case TAP_CMD_STOP: return tap_flow_stop(s, arg, err);
    case TAP_CMD_RESET: return tap_flow_reset(s, arg, err);
    case TAP_CMD_STATS: {
        bool json = false;
        char why[200];
        if (!tap_stats_options_parse(cmd, &json, why, sizeof why))
            return tf_error_set(err, TF_ERR_CONFIG, 0, "%s", why), false;
        return tap_flow_stats_show(s, arg, json, err);
    }
    case TAP_CMD_LOGS: {
        tap_logs_options opts;
        char why[200];
        if (!tap_logs_options_parse(cmd, &opts, why, sizeof why))
            return tf_error_set(err, TF_ERR_CONFIG, 0, "%s", why), false;
        return tap_flow_logs(s, arg, &opts, err);
    }
    case TAP_CMD_MONITOR: return tap_flow_monitor(s, arg, err);
    case TAP_CMD_VERIFY: return tap_flow_verify(s, arg, cmd->argv + 1, cmd->argc - 1, err);
    case TAP_CMD_SHOW_FLOWS: return tap_flow_list(s, err);
    case TAP_CMD_SHOW_TABLES: return inspect(s, TAP_SHOW_TABLES, NULL, 0, err);
    case TAP_CMD_USE: return use(s, arg, err);
    case TAP_CMD_DESC: return inspect(s, TAP_DESC, arg, 0, err);
    case TAP_CMD_PEEK:
        return inspect(s, TAP_PEEK, arg, cmd->argc > 1 ? strtol(cmd->argv[1], NULL, 10) : 5, err);
    case TAP_CMD_COUNT: return inspect(s, TAP_COUNT, arg, 0, err);
    case TAP_CMD_DATASOURCE_ADD: return tap_datasource_add(s, cmd, err);
    case TAP_CMD_DATASOURCE_LIST: return tap_datasource_list(s, err);
    case TAP_CMD_DATASOURCE_TEST: return tap_datasource_test(s, arg, err);
    case TAP_CMD_HELP:
        fputs(tap_help_text, stdout);
        fflush(stdout);
        return true;
    case TAP_CMD_EXIT: *exit_requested = true; return true;
    }
    return true;
}
