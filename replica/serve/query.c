/* query.c — the answers a replica gets to the queries it sends while it
 * sets up: SET @user_var=... (kept on the session: heartbeat period,
 * checksum, @slave_connect_state, ...), SELECT of user and system
 * variables, UNIX_TIMESTAMP(), binlog_gtid_pos(), SHOW VARIABLES LIKE,
 * SHOW MASTER STATUS, SHOW BINARY LOGS, SHOW SLAVE HOSTS.
 *
 * This is not SQL: it is the handful of shapes real MySQL 8 and MariaDB
 * 10.11 replicas send (tests/vectors/gtid/README.md lists MariaDB's). Any
 * other SET is answered OK; any other statement gets an ERR and a log line,
 * so a replica asking for something new is visible in the test output. */
#include "serve_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define VALUE_MAX 1024

static const char *skip_space(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Case-insensitive prefix match of a keyword followed by a space or the end. */
static bool keyword(const char **p, const char *word)
{
    size_t n = strlen(word);
    if (strncasecmp(*p, word, n) != 0)
        return false;
    char next = (*p)[n];
    if (next && !isspace((unsigned char)next) && next != '(' && next != '\'')
        return false;
    *p = skip_space(*p + n);
    return true;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == ';'))
        s[--n] = '\0';
    size_t lead = (size_t)(skip_space(s) - s);
    memmove(s, s + lead, n - lead + 1);
}

/* Splits at commas outside quotes and parentheses, in place. */
static size_t split_top_level(char *s, char **parts, size_t max)
{
    size_t count = 0;
    int depth = 0;
    char quote = 0;
    parts[count++] = s;
    for (char *p = s; *p; p++) {
        if (quote) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == ',' && depth == 0 && count < max) {
            *p = '\0';
            parts[count++] = p + 1;
        }
    }
    for (size_t i = 0; i < count; i++)
        trim(parts[i]);
    return count;
}

/* 'text' or "text" into out (backslash escapes and doubled quotes undone);
 * false if s is not one whole string literal. */
static bool string_literal(const char *s, char *out, size_t cap)
{
    char quote = s[0];
    if (quote != '\'' && quote != '"')
        return false;
    size_t n = 0;
    const char *p = s + 1;
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == quote) {
            if (p[1] == quote)
                p++;
            else
                break;
        }
        if (n + 1 < cap)
            out[n++] = *p;
    }
    out[n] = '\0';
    return *p == quote && p[1] == '\0';
}

static bool number_literal(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E')
        p++;
    return *p == '\0';
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static const char *gtid_mode(const tf_binlog_store *b)
{
    if (!b->any_gtid)
        return "OFF";
    return b->any_anonymous ? "ON_PERMISSIVE" : "ON";
}

/* A system variable's value as this server reports it; NULL when we do not
 * know the variable (the caller answers "Unknown system variable"). */
static const char *system_variable(serve_session *s, const char *name, char *buf, size_t cap)
{
    tf_serve *srv = s->server;
    const tf_binlog_store *b = srv->store;
    bool mariadb = srv->opt.flavour == TF_FLAVOUR_MARIADB;
    if (!strcmp(name, "server_id")) {
        snprintf(buf, cap, "%" PRIu32, srv->opt.server_id);
        return buf;
    }
    if (!strcmp(name, "server_uuid") && !mariadb)
        return b->server_uuid;
    if (!strcmp(name, "gtid_mode") && !mariadb)
        return gtid_mode(b);
    if (!strcmp(name, "enforce_gtid_consistency") && !mariadb)
        return b->any_gtid ? "ON" : "OFF";
    if (!strcmp(name, "binlog_checksum"))
        return b->count && b->files[b->count - 1].fmt.checksum_alg == TF_CHECKSUM_CRC32 ? "CRC32"
                                                                                        : "NONE";
    if (!strcmp(name, "version"))
        return srv->server_version;
    if (!strcmp(name, "version_comment"))
        return srv->version_comment;
    if (!strcmp(name, "collation_server"))
        return mariadb ? "utf8mb4_general_ci" : "utf8mb4_0900_ai_ci";
    if (!strcmp(name, "character_set_server"))
        return "utf8mb4";
    if (!strcmp(name, "time_zone"))
        return "SYSTEM";
    if (!strcmp(name, "system_time_zone"))
        return "UTC";
    if (!strcmp(name, "log_bin"))
        return mariadb ? "ON" : "1";
    if (!strcmp(name, "binlog_format"))
        return "ROW";
    if (!strcmp(name, "binlog_row_image") || !strcmp(name, "binlog_row_metadata"))
        return "FULL";
    if (!strcmp(name, "max_allowed_packet"))
        return "1073741824";
    if (!strcmp(name, "port")) {
        snprintf(buf, cap, "%u", (unsigned)srv->port);
        return buf;
    }
    if (!strcmp(name, "hostname"))
        return srv->hostname;
    if (!strcmp(name, "read_only") || !strcmp(name, "log_slave_updates"))
        return "0";
    if (mariadb) {
        if (!strcmp(name, "gtid_domain_id") || !strcmp(name, "gtid_strict_mode"))
            return "0";
        if (!strcmp(name, "gtid_binlog_pos") || !strcmp(name, "gtid_current_pos") ||
            !strcmp(name, "gtid_binlog_state")) {
            tf_mariadb_gtid_pos_format(&b->binlog_pos, buf, cap);
            return buf;
        }
    } else {
        if (!strcmp(name, "gtid_executed") || !strcmp(name, "gtid_purged")) {
            const tf_gtid_set *set = !strcmp(name, "gtid_executed") || b->count == 0
                                         ? b->executed
                                         : b->files[0].previous_gtids;
            tf_gtid_set_format(set, TF_GTID_TEXT_MYSQL, buf, cap);
            return buf;
        }
    }
    return NULL;
}

/* Names of variables SHOW VARIABLES knows, for LIKE patterns. */
static const char *const known_variables[] = {"server_id",
                                              "server_uuid",
                                              "gtid_mode",
                                              "enforce_gtid_consistency",
                                              "binlog_checksum",
                                              "version",
                                              "version_comment",
                                              "collation_server",
                                              "character_set_server",
                                              "time_zone",
                                              "system_time_zone",
                                              "log_bin",
                                              "binlog_format",
                                              "binlog_row_image",
                                              "binlog_row_metadata",
                                              "max_allowed_packet",
                                              "port",
                                              "hostname",
                                              "read_only",
                                              "log_slave_updates",
                                              "gtid_domain_id",
                                              "gtid_strict_mode",
                                              "gtid_binlog_pos",
                                              "gtid_current_pos",
                                              "gtid_binlog_state",
                                              "gtid_executed",
                                              "gtid_purged"};

/* SQL LIKE, case-insensitive (variable names), with % and _. */
static bool like(const char *s, const char *pattern)
{
    if (!*pattern)
        return !*s;
    if (*pattern == '%') {
        for (const char *t = s;; t++) {
            if (like(t, pattern + 1))
                return true;
            if (!*t)
                return false;
        }
    }
    if (!*s)
        return false;
    if (*pattern == '\\' && pattern[1])
        pattern++;
    else if (*pattern == '_')
        return like(s + 1, pattern + 1);
    return tolower((unsigned char)*s) == tolower((unsigned char)*pattern) &&
           like(s + 1, pattern + 1);
}

/* @@[global.|session.|local.]name → the name, lowercased. */
static bool system_variable_name(const char *expr, char *name, size_t cap)
{
    if (strncmp(expr, "@@", 2) != 0)
        return false;
    const char *p = expr + 2;
    if (!strncasecmp(p, "global.", 7))
        p += 7;
    else if (!strncasecmp(p, "session.", 8))
        p += 8;
    else if (!strncasecmp(p, "local.", 6))
        p += 6;
    snprintf(name, cap, "%s", p);
    lower(name);
    for (const char *q = name; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '_')
            return false;
    return true;
}

typedef enum eval_result {
    EVAL_VALUE,
    EVAL_NULL,
    EVAL_UNKNOWN,
    EVAL_ERROR
} eval_result;

/* Evaluates one select item or SET right-hand side. */
static eval_result evaluate(serve_session *s, const char *expr, char *out, size_t cap)
{
    char name[128];
    if (system_variable_name(expr, name, sizeof name)) {
        const char *v = system_variable(s, name, out, cap);
        if (!v) {
            serve_send_err(s, 1193, "HY000", "Unknown system variable '%s'", name);
            return EVAL_ERROR;
        }
        if (v != out)
            snprintf(out, cap, "%s", v);
        return EVAL_VALUE;
    }
    if (expr[0] == '@') {
        snprintf(name, sizeof name, "%s", expr + 1);
        if (name[0] == '`') { /* @`name` */
            memmove(name, name + 1, strlen(name));
            char *tick = strchr(name, '`');
            if (tick)
                *tick = '\0';
        }
        lower(name);
        const char *v = serve_session_var(s, name);
        if (!v)
            return EVAL_NULL;
        snprintf(out, cap, "%s", v);
        return EVAL_VALUE;
    }
    if (string_literal(expr, out, cap))
        return EVAL_VALUE;
    if (number_literal(expr)) {
        snprintf(out, cap, "%s", expr);
        return EVAL_VALUE;
    }
    if (!strcasecmp(expr, "NULL"))
        return EVAL_NULL;
    if (!strcasecmp(expr, "UNIX_TIMESTAMP()")) {
        snprintf(out, cap, "%lld", (long long)time(NULL));
        return EVAL_VALUE;
    }
    if (!strcasecmp(expr, "VERSION()")) {
        snprintf(out, cap, "%s", s->server->server_version);
        return EVAL_VALUE;
    }
    if (!strncasecmp(expr, "binlog_gtid_pos(", 16)) {
        /* binlog_gtid_pos('file', position) */
        char args[512];
        snprintf(args, sizeof args, "%s", expr + 16);
        char *close = strrchr(args, ')');
        if (!close)
            return EVAL_UNKNOWN;
        *close = '\0';
        char *parts[2];
        if (split_top_level(args, parts, 2) != 2)
            return EVAL_UNKNOWN;
        char file[256];
        if (!string_literal(parts[0], file, sizeof file) || !number_literal(parts[1]))
            return EVAL_UNKNOWN;
        const tf_binlog_store *b = s->server->store;
        long index = serve_store_find(b, file, strlen(file));
        uint64_t offset = strtoull(parts[1], NULL, 10);
        if (index < 0 || offset > b->files[index].len)
            return EVAL_NULL;
        serve_store_gtid_pos_at(b, (size_t)index, (size_t)offset, out, cap);
        return EVAL_VALUE;
    }
    return EVAL_UNKNOWN;
}

static void answer_set(serve_session *s, char *assignments)
{
    char *parts[16];
    size_t n = split_top_level(assignments, parts, 16);
    for (size_t i = 0; i < n; i++) {
        char *p = parts[i];
        if (p[0] != '@' || p[1] == '@')
            continue; /* SET NAMES, SET SESSION x, SET @@x: nothing to keep */
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        char *value_text = eq + 1;
        if (eq > p && eq[-1] == ':')
            eq--;
        *eq = '\0';
        char name[128];
        snprintf(name, sizeof name, "%s", p + 1);
        trim(name);
        lower(name);
        trim(value_text);
        char value[VALUE_MAX];
        eval_result r = evaluate(s, value_text, value, sizeof value);
        if (r == EVAL_ERROR)
            return; /* the ERR is sent */
        if (r == EVAL_UNKNOWN)
            snprintf(value, sizeof value, "%s", value_text);
        serve_session_set_var(s, name, r == EVAL_NULL ? NULL : value);
    }
    serve_send_ok(s, 0, NULL);
}

static void answer_select(serve_session *s, char *items_text, const char *query)
{
    char *items[16];
    size_t n = split_top_level(items_text, items, 16);
    char values[16][VALUE_MAX];
    const char *row[16];
    const char *names[16];
    for (size_t i = 0; i < n; i++) {
        eval_result r = evaluate(s, items[i], values[i], sizeof values[i]);
        if (r == EVAL_ERROR)
            return;
        if (r == EVAL_UNKNOWN) {
            serve_log(s->server, "unknown query, answered with an error: %s", query);
            serve_send_err(s, 1235, "42000", "%s does not answer '%.200s' (item '%.100s')",
                           s->server->version_comment, query, items[i]);
            return;
        }
        names[i] = items[i];
        row[i] = r == EVAL_NULL ? NULL : values[i];
    }
    serve_send_resultset(s, names, n, row, 1);
}

static void answer_show_variables(serve_session *s, const char *pattern)
{
    static const char *const names[] = {"Variable_name", "Value"};
    size_t count = sizeof known_variables / sizeof known_variables[0];
    char(*values)[VALUE_MAX] = calloc(count, VALUE_MAX);
    const char **rows = calloc(count * 2, sizeof *rows);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (!like(known_variables[i], pattern))
            continue;
        const char *v = system_variable(s, known_variables[i], values[n], VALUE_MAX);
        if (!v)
            continue;
        rows[2 * n] = known_variables[i];
        rows[2 * n + 1] = v;
        n++;
    }
    serve_send_resultset(s, names, 2, rows, n);
    free(rows);
    free(values);
}

static void answer_master_status(serve_session *s)
{
    tf_serve *srv = s->server;
    const tf_binlog_store *b = srv->store;
    if (b->count == 0) {
        serve_send_resultset(s, NULL, 0, NULL, 0);
        return;
    }
    const serve_file *last = &b->files[b->count - 1];
    char position[32], executed[VALUE_MAX];
    snprintf(position, sizeof position, "%llu", (unsigned long long)last->len);
    if (srv->opt.flavour == TF_FLAVOUR_MARIADB) {
        static const char *const names[] = {"File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"};
        const char *row[] = {last->name, position, "", ""};
        serve_send_resultset(s, names, 4, row, 1);
    } else {
        static const char *const names[] = {"File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB",
                                            "Executed_Gtid_Set"};
        tf_gtid_set_format(b->executed, TF_GTID_TEXT_MYSQL, executed, sizeof executed);
        const char *row[] = {last->name, position, "", "", executed};
        serve_send_resultset(s, names, 5, row, 1);
    }
}

static void answer_binary_logs(serve_session *s)
{
    tf_serve *srv = s->server;
    const tf_binlog_store *b = srv->store;
    size_t count = b->count;
    bool mysql = srv->opt.flavour != TF_FLAVOUR_MARIADB;
    size_t columns = mysql ? 3 : 2;
    static const char *const names[] = {"Log_name", "File_size", "Encrypted"};
    char(*sizes)[32] = calloc(count, 32);
    const char **rows = calloc(count * columns, sizeof *rows);
    for (size_t i = 0; i < count; i++) {
        snprintf(sizes[i], 32, "%llu", (unsigned long long)b->files[i].len);
        rows[i * columns] = b->files[i].name;
        rows[i * columns + 1] = sizes[i];
        if (mysql)
            rows[i * columns + 2] = "No";
    }
    serve_send_resultset(s, names, columns, rows, count);
    free(rows);
    free(sizes);
}

/* The replicas that sent COM_REGISTER_SLAVE and are still connected, as
 * SHOW SLAVE HOSTS (SHOW REPLICAS) lists them. */
static void answer_replica_hosts(serve_session *s, bool mysql_replicas)
{
    tf_serve *srv = s->server;
    bool mysql = srv->opt.flavour != TF_FLAVOUR_MARIADB;
    static const char *const mariadb_names[] = {"Server_id", "Host", "Port", "Master_id"};
    static const char *const mysql_names[] = {"Server_id", "Host", "Port", "Master_id",
                                              "Slave_UUID"};
    static const char *const mysql_replica_names[] = {"Server_id", "Host", "Port", "Source_id",
                                                      "Replica_UUID"};
    size_t columns = mysql ? 5 : 4;
    size_t count = 0;
    for (const serve_session *t = srv->sessions; t; t = t->next)
        count += t->registered;
    char(*numbers)[3][16] = calloc(count ? count : 1, sizeof *numbers);
    const char **rows = calloc((count ? count : 1) * columns, sizeof *rows);
    size_t n = 0;
    for (const serve_session *t = srv->sessions; t; t = t->next) {
        if (!t->registered)
            continue;
        snprintf(numbers[n][0], 16, "%" PRIu32, t->replica_server_id);
        snprintf(numbers[n][1], 16, "%u", (unsigned)t->report_port);
        snprintf(numbers[n][2], 16, "%" PRIu32, srv->opt.server_id);
        const char **row = rows + n * columns;
        row[0] = numbers[n][0];
        row[1] = t->report_host;
        row[2] = numbers[n][1];
        row[3] = numbers[n][2];
        if (mysql) {
            const char *uuid = serve_session_var(t, "replica_uuid");
            row[4] = uuid ? uuid : serve_session_var(t, "slave_uuid");
            if (!row[4])
                row[4] = "";
        }
        n++;
    }
    serve_send_resultset(
        s, mysql ? (mysql_replicas ? mysql_replica_names : mysql_names) : mariadb_names, columns,
        rows, n);
    free(rows);
    free(numbers);
}

void serve_query_answer(serve_session *s, const char *query, size_t len)
{
    char *text = malloc(len + 1);
    memcpy(text, query, len);
    text[len] = '\0';
    trim(text);
    if (s->server->opt.verbose)
        serve_log(s->server, "query: %s", text);
    char *copy = strdup(text);
    const char *p = copy;
    char pattern[256];
    if (keyword(&p, "SET")) {
        /* SET [SESSION|GLOBAL] ... : only @user_var assignments are kept. */
        answer_set(s, copy + (p - copy));
    } else if (keyword(&p, "SELECT")) {
        answer_select(s, copy + (p - copy), text);
    } else if (keyword(&p, "SHOW")) {
        (void)(keyword(&p, "GLOBAL") || keyword(&p, "SESSION"));
        if (keyword(&p, "VARIABLES")) {
            if (keyword(&p, "LIKE") && string_literal(p, pattern, sizeof pattern))
                answer_show_variables(s, pattern);
            else
                answer_show_variables(s, "%");
        } else if ((keyword(&p, "SLAVE") || keyword(&p, "REPLICA")) && keyword(&p, "HOSTS")) {
            answer_replica_hosts(s, false);
        } else if (keyword(&p, "REPLICAS")) {
            answer_replica_hosts(s, true);
        } else if (keyword(&p, "MASTER") || keyword(&p, "BINARY")) {
            if (keyword(&p, "STATUS") || (keyword(&p, "LOG") && keyword(&p, "STATUS")))
                answer_master_status(s);
            else if (keyword(&p, "LOGS"))
                answer_binary_logs(s);
            else
                goto unknown;
        } else {
            goto unknown;
        }
    } else {
        goto unknown;
    }
    free(copy);
    free(text);
    return;
unknown:
    serve_log(s->server, "unknown query, answered with an error: %s", text);
    serve_send_err(s, 1235, "42000", "%s does not answer '%.300s'", s->server->version_comment,
                   text);
    free(copy);
    free(text);
}
