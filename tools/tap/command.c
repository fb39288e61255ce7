/* command.c — what a line of the shell says.
 *
 * Two languages share the prompt: the flow language of the guide
 * (`orderFlow = Flow("...")`, `orderFlow.lookup(...)`), which view/ parses,
 * and shell commands of one line (`status NAME`, `use DATASOURCE`, ...).
 * A line whose first name is followed by '=', '.' or '(' is a flow
 * statement (so a flow may be called `status`); anything else is a
 * command. No I/O here: the unit tests drive it directly. */
#include "tap.h"
#include "view.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char tap_help_text[] =
    "Flows (the guide's language; statements continue over lines inside brackets or after '\\'):\n"
    "  f = Flow(\"NAME\")                          a new flow, bound to f\n"
    "  f.read_from(\"DATASOURCE.table\")           its root table\n"
    "  f.lookup(\"DATASOURCE.table\", path=\"p\", type=\"object\"|\"array\",\n"
    "           relation=[[\"parent_col\", \"child_col\"]])   embed matching rows at p\n"
    "  f.write_to(\"DATASOURCE.collection\")       the MongoDB collection it keeps\n"
    "  f.save()  f.start()  f.stop()  f.status()  (methods chain: f.save().start())\n"
    "Commands:\n"
    "  show flows                 saved flows and whether they run\n"
    "  start NAME / stop NAME     run a saved flow (tapflow-replica in the background) / stop it\n"
    "  reset NAME                 stop it; its next start rebuilds the documents (resnapshot)\n"
    "  status NAME                job current status is: STATE, qps is: N, total rows: N, delay "
    "is: Nms\n"
    "  stats NAME [--json]        inserts/updates/deletes per source table and target collection,\n"
    "                             snapshot, qps (now, average, max, last 5 min), lag\n"
    "  logs NAME [--follow] [--level error|warn|info] [--limit N]\n"
    "                             the last N (default 50) lines of the flow's log at that level\n"
    "                             or above; --follow prints new lines until Ctrl-C\n"
    "  monitor NAME               a view of the flow redrawn every second until a key is pressed\n"
    "  verify NAME [--counts | --sample N] [--repair]\n"
    "                             compare the wide table with the source while the flow runs;\n"
    "                             --repair rewrites what differs\n"
    "  use DATASOURCE             the datasource of show tables, desc, peek and count\n"
    "  show tables                tables (MySQL) or collections (MongoDB)\n"
    "  desc TABLE                 columns of a table, fields of a collection's first document\n"
    "  peek NAME [N]              the first N (default 5) rows or documents, as JSON\n"
    "  count NAME                 rows of a table, documents of a collection\n"
    "  datasource add NAME type=mysql host=H port=P user=U password_env=VAR database=DB\n"
    "  datasource add NAME type=mongodb uri=mongodb://H:P/ database=DB\n"
    "  datasource list            the datasources of the config file (no secrets)\n"
    "  datasource test NAME       connect and report the server and its settings\n"
    "  help                       this text\n"
    "  exit / quit                leave (running flows keep running)\n";

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

static bool is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

bool tap_input_is_flow(const char *text)
{
    const char *p = skip_space(text);
    if (*p == '.')
        return true; /* a chain continued: the flow parser says what is wrong */
    if (!is_name_start(*p))
        return false;
    while (is_name_char(*p))
        p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '=' || *p == '.' || *p == '(';
}

bool tap_input_complete(const char *text)
{
    if (!tap_input_is_flow(text))
        return true;
    return tf_flow_text_complete(text, strlen(text));
}

/* Splits a command line into words: blanks separate, '...' or "..."
 * group, '#' outside quotes ends the line, a final ';' is dropped. */
static bool split_words(const char *text, tap_command *out, char *err, size_t cap)
{
    const char *p = text;
    for (;;) {
        p = skip_space(p);
        if (!*p || *p == '#')
            break;
        if (*p == ';') {
            const char *rest = skip_space(p + 1);
            if (*rest && *rest != '#') {
                snprintf(err, cap, "one command per line (found text after ';')");
                return false;
            }
            break;
        }
        if (out->argc == TAP_MAX_ARGS) {
            snprintf(err, cap, "too many words (at most %d)", TAP_MAX_ARGS);
            return false;
        }
        char *word = malloc(strlen(p) + 1);
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '#') {
            if (*p == '"' || *p == '\'') {
                char quote = *p++;
                while (*p && *p != quote)
                    word[n++] = *p++;
                if (*p != quote) {
                    free(word);
                    snprintf(err, cap, "unterminated %c quote", quote);
                    return false;
                }
                p++;
            } else if (*p == ';') {
                break; /* ends the word; the loop above checks what follows */
            } else {
                word[n++] = *p++;
            }
        }
        word[n] = '\0';
        out->argv[out->argc++] = word;
    }
    return true;
}

/* ---- options of stats and logs ---- */

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value (borrowed), *i
 * moved past it; NULL with err when the value is missing. */
static const char *option_value(const tap_command *cmd, size_t *i, const char *name, char *err,
                                size_t cap)
{
    const char *word = cmd->argv[*i];
    size_t n = strlen(name);
    if (word[n] == '=')
        return word + n + 1;
    if (*i + 1 >= cmd->argc) {
        snprintf(err, cap, "%s needs a value", name);
        return NULL;
    }
    return cmd->argv[++*i];
}

static bool is_option(const char *word, const char *name)
{
    size_t n = strlen(name);
    return strncmp(word, name, n) == 0 && (word[n] == '\0' || word[n] == '=');
}

bool tap_log_level_parse(const char *text, tap_log_level *out)
{
    if (strcasecmp(text, "error") == 0)
        *out = TAP_LOG_ERROR;
    else if (strcasecmp(text, "warn") == 0 || strcasecmp(text, "warning") == 0)
        *out = TAP_LOG_WARN;
    else if (strcasecmp(text, "info") == 0)
        *out = TAP_LOG_INFO;
    else
        return false;
    return true;
}

bool tap_logs_options_parse(const tap_command *cmd, tap_logs_options *out, char *err, size_t cap)
{
    *out = (tap_logs_options){.level = TAP_LOG_INFO, .limit = TAP_LOGS_DEFAULT_LIMIT};
    for (size_t i = 1; i < cmd->argc; i++) {
        const char *word = cmd->argv[i];
        if (strcmp(word, "--follow") == 0 || strcmp(word, "-f") == 0) {
            out->follow = true;
        } else if (is_option(word, "--level")) {
            const char *v = option_value(cmd, &i, "--level", err, cap);
            if (!v)
                return false;
            if (!tap_log_level_parse(v, &out->level)) {
                snprintf(err, cap, "logs: --level is error, warn or info, found '%.30s'", v);
                return false;
            }
        } else if (is_option(word, "--limit")) {
            const char *v = option_value(cmd, &i, "--limit", err, cap);
            if (!v)
                return false;
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || end == v || n < 1 || n > TAP_LOGS_MAX_LIMIT) {
                snprintf(err, cap, "logs: --limit is a number from 1 to %d, found '%.30s'",
                         TAP_LOGS_MAX_LIMIT, v);
                return false;
            }
            out->limit = n;
        } else {
            snprintf(err, cap,
                     "logs: unknown option '%.40s' (usage: logs NAME [--follow] [--level "
                     "error|warn|info] [--limit N])",
                     word);
            return false;
        }
    }
    return true;
}

bool tap_stats_options_parse(const tap_command *cmd, bool *json, char *err, size_t cap)
{
    *json = false;
    for (size_t i = 1; i < cmd->argc; i++) {
        if (strcmp(cmd->argv[i], "--json") != 0) {
            snprintf(err, cap, "stats: unknown option '%.40s' (usage: stats NAME [--json])",
                     cmd->argv[i]);
            return false;
        }
        *json = true;
    }
    return true;
}

static bool check_logs(const tap_command *cmd, char *err, size_t cap)
{
    tap_logs_options ignored;
    return tap_logs_options_parse(cmd, &ignored, err, cap);
}

static bool check_stats(const tap_command *cmd, char *err, size_t cap)
{
    bool ignored;
    return tap_stats_options_parse(cmd, &ignored, err, cap);
}

static bool check_verify(const tap_command *cmd, char *err, size_t cap)
{
    for (size_t i = 1; i < cmd->argc; i++) {
        const char *a = cmd->argv[i];
        if (!strcmp(a, "--counts") || !strcmp(a, "--repair"))
            continue;
        if (!strcmp(a, "--sample") && i + 1 < cmd->argc) {
            char *end;
            long n = strtol(cmd->argv[++i], &end, 10);
            if (!*end && end != cmd->argv[i] && n >= 1)
                continue;
            snprintf(err, cap, "verify: --sample needs a count of 1 or more, found '%.30s'",
                     cmd->argv[i]);
            return false;
        }
        snprintf(err, cap,
                 "verify: unknown option '%.40s' (usage: verify NAME [--counts | --sample N] "
                 "[--repair])",
                 a);
        return false;
    }
    return true;
}

static bool check_peek(const tap_command *cmd, char *err, size_t cap)
{
    if (cmd->argc < 2)
        return true;
    char *end;
    long n = strtol(cmd->argv[1], &end, 10);
    if (*end || end == cmd->argv[1] || n < 1 || n > 1000) {
        snprintf(err, cap, "peek: N must be a number from 1 to 1000, found '%.30s'", cmd->argv[1]);
        return false;
    }
    return true;
}

/* A command of the shell. A new one is a line here, a case in dispatch.c
 * and a line of tap_help_text; check, when set, refuses bad arguments at
 * parse time (so a script stops on them before running anything). */
typedef struct command_def {
    const char *word1, *word2; /* word2 NULL: a one-word command */
    tap_cmd_kind kind;
    size_t min_args, max_args; /* after the command's words */
    const char *usage;
    bool (*check)(const tap_command *cmd, char *err, size_t cap);
} command_def;

static const command_def commands[] = {
    {"status", NULL, TAP_CMD_STATUS, 1, 1, "status NAME", NULL},
    {"start", NULL, TAP_CMD_START, 1, 1, "start NAME", NULL},
    {"stop", NULL, TAP_CMD_STOP, 1, 1, "stop NAME", NULL},
    {"reset", NULL, TAP_CMD_RESET, 1, 1, "reset NAME", NULL},
    {"stats", NULL, TAP_CMD_STATS, 1, 2, "stats NAME [--json]", check_stats},
    {"logs", NULL, TAP_CMD_LOGS, 1, 7, "logs NAME [--follow] [--level error|warn|info] [--limit N]",
     check_logs},
    {"monitor", NULL, TAP_CMD_MONITOR, 1, 1, "monitor NAME", NULL},
    {"verify", NULL, TAP_CMD_VERIFY, 1, 5, "verify NAME [--counts | --sample N] [--repair]",
     check_verify},
    {"show", "flows", TAP_CMD_SHOW_FLOWS, 0, 0, "show flows", NULL},
    {"show", "tables", TAP_CMD_SHOW_TABLES, 0, 0, "show tables", NULL},
    {"show", "collections", TAP_CMD_SHOW_TABLES, 0, 0, "show collections", NULL},
    {"use", NULL, TAP_CMD_USE, 1, 1, "use DATASOURCE", NULL},
    {"desc", NULL, TAP_CMD_DESC, 1, 1, "desc TABLE", NULL},
    {"peek", NULL, TAP_CMD_PEEK, 1, 2, "peek COLLECTION_OR_TABLE [N]", check_peek},
    {"count", NULL, TAP_CMD_COUNT, 1, 1, "count COLLECTION_OR_TABLE", NULL},
    {"datasource", "add", TAP_CMD_DATASOURCE_ADD, 2, TAP_MAX_ARGS - 2,
     "datasource add NAME type=mysql|mongodb key=value ...", NULL},
    {"datasource", "list", TAP_CMD_DATASOURCE_LIST, 0, 0, "datasource list", NULL},
    {"datasource", "test", TAP_CMD_DATASOURCE_TEST, 1, 1, "datasource test NAME", NULL},
    {"help", NULL, TAP_CMD_HELP, 0, 1, "help", NULL},
    {"exit", NULL, TAP_CMD_EXIT, 0, 0, "exit", NULL},
    {"quit", NULL, TAP_CMD_EXIT, 0, 0, "quit", NULL},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

/* "show flows | show tables | show collections" for a first word. */
static void usages_of(const char *word1, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcasecmp(commands[i].word1, word1) == 0)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " | " : "",
                     commands[i].usage);
}

static void drop_words(tap_command *cmd, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cmd->argv[i]);
    memmove(cmd->argv, cmd->argv + n, (cmd->argc - n) * sizeof cmd->argv[0]);
    cmd->argc -= n;
}

bool tap_command_parse(const char *text, tap_command *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *p = skip_space(text);
    if (!*p || *p == '#') {
        out->kind = TAP_CMD_EMPTY;
        return true;
    }
    if (tap_input_is_flow(p)) {
        out->kind = TAP_CMD_FLOW;
        return true;
    }
    if (!split_words(p, out, err, cap)) {
        tap_command_cleanup(out);
        return false;
    }
    if (out->argc == 0) {
        out->kind = TAP_CMD_EMPTY;
        return true;
    }
    const char *w1 = out->argv[0];
    const char *w2 = out->argc > 1 ? out->argv[1] : "";
    const command_def *def = NULL;
    bool known_first = false;
    for (size_t i = 0; i < COMMAND_COUNT && !def; i++) {
        if (strcasecmp(commands[i].word1, w1) != 0)
            continue;
        known_first = true;
        if (!commands[i].word2 || strcasecmp(commands[i].word2, w2) == 0)
            def = &commands[i];
    }
    if (!def) {
        if (known_first) {
            char usages[300];
            usages_of(w1, usages, sizeof usages);
            snprintf(err, cap, "usage: %s", usages);
        } else {
            snprintf(err, cap, "unknown command '%.60s' (help lists the commands)", w1);
        }
        tap_command_cleanup(out);
        return false;
    }
    drop_words(out, def->word2 ? 2 : 1);
    if (out->argc < def->min_args || out->argc > def->max_args) {
        snprintf(err, cap, "usage: %s", def->usage);
        tap_command_cleanup(out);
        return false;
    }
    out->kind = def->kind;
    if (def->check && !def->check(out, err, cap)) {
        tap_command_cleanup(out);
        return false;
    }
    return true;
}

void tap_command_cleanup(tap_command *cmd)
{
    for (size_t i = 0; i < cmd->argc; i++)
        free(cmd->argv[i]);
    memset(cmd, 0, sizeof *cmd);
}
