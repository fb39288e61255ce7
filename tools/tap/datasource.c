/* datasource.c — datasource add / list / test.
 *
 * add appends a [datasource NAME] section to the config file, then loads
 * the file again: a section the daemon would refuse is never left behind
 * (the previous file comes back). Passwords are never stored or shown:
 * only password_env, the name of the variable holding one. */
#include "daemon.h"
#include "replica.h"
#include "sink.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const allowed_keys[] = {"type",         "host", "port",     "socket", "user",
                                           "password_env", "tls",  "database", "uri"};

static bool key_allowed(const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof allowed_keys / sizeof allowed_keys[0]; i++)
        if (strlen(allowed_keys[i]) == len && strncmp(allowed_keys[i], key, len) == 0)
            return true;
    return false;
}

static char *read_whole(const char *path, bool *exists)
{
    FILE *f = fopen(path, "r");
    *exists = f != NULL;
    bson_string_t *s = bson_string_new("");
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0) {
            buf[n] = '\0';
            bson_string_append(s, buf);
        }
        fclose(f);
    }
    return bson_string_free(s, false);
}

static bool write_whole(const char *path, const char *text, tf_error *err)
{
    char *tmp = bson_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot write %.300s: %s", path,
                     strerror(errno));
        unlink(tmp);
    }
    bson_free(tmp);
    return ok;
}

/* mkdir -p of the file's directory (one level above ~ is enough: ~/.tapflow). */
static void make_parent(const char *path)
{
    char *dir = bson_strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0700);
    }
    bson_free(dir);
}

bool tap_datasource_add(tap_session *s, const tap_command *cmd, tf_error *err)
{
    const char *name = cmd->argv[0];
    for (const char *p = name; *p; p++)
        if (*p == ']' || *p == '[' || *p == '.' || *p == ' ') {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "datasource name \"%.100s\" may not hold '.', ' ', '[' or ']' (flows "
                         "write DATASOURCE.table)",
                         name);
            return false;
        }
    bson_string_t *section = bson_string_new("");
    bson_string_append_printf(section, "\n[datasource %s]\n", name);
    bool have_type = false;
    for (size_t i = 1; i < cmd->argc; i++) {
        const char *kv = cmd->argv[i];
        const char *eq = strchr(kv, '=');
        size_t key_len = eq ? (size_t)(eq - kv) : strlen(kv);
        if (key_len == 8 && strncmp(kv, "password", 8) == 0) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "passwords are not written to the config: put the password in an "
                         "environment variable and give password_env=VARIABLE");
            bson_string_free(section, true);
            return false;
        }
        if (!eq || !key_allowed(kv, key_len) || !eq[1] || strchr(eq, '\n')) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "expected key=value with key type, host, port, socket, user, "
                         "password_env, tls, database or uri; found \"%.*s\"",
                         (int)key_len, kv);
            bson_string_free(section, true);
            return false;
        }
        have_type = have_type || strncmp(kv, "type=", 5) == 0;
        bson_string_append_printf(section, "%.*s = %s\n", (int)key_len, kv, eq + 1);
    }
    if (!have_type) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "datasource add needs type=mysql or type=mongodb");
        bson_string_free(section, true);
        return false;
    }
    bool exists = false;
    char *before = read_whole(s->config_path, &exists);
    char *after = bson_strdup_printf("%s%s", before, section->str);
    bson_string_free(section, true);
    tfr_config probe;
    bool ok = false;
    if (exists && tfr_config_load(s->config_path, &probe, err)) {
        bool taken = tfr_config_datasource(&probe, name) != NULL;
        tfr_config_cleanup(&probe);
        if (taken) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "datasource %.100s already exists in %.200s", name,
                         s->config_path);
            goto done;
        }
    } else if (exists) {
        goto done; /* the file is already broken: err says where */
    }
    make_parent(s->config_path);
    if (!write_whole(s->config_path, after, err))
        goto done;
    if (!tfr_config_load(s->config_path, &probe, err)) {
        /* Put the old file back: the message names the line that failed. */
        tf_error tmp = {0};
        if (exists)
            write_whole(s->config_path, before, &tmp);
        else
            unlink(s->config_path);
        goto done;
    }
    tfr_config_cleanup(&probe);
    printf("datasource %s added to %s\n", name, s->config_path);
    fflush(stdout);
    ok = true;
done:
    bson_free(before);
    bson_free(after);
    return ok;
}

bool tap_datasource_list(tap_session *s, tf_error *err)
{
    if (!tap_config(s, err))
        return false;
    if (s->cfg->datasource_count == 0)
        printf("no datasources in %s\n", s->cfg->file);
    for (size_t i = 0; i < s->cfg->datasource_count; i++) {
        const tfr_datasource *d = &s->cfg->datasources[i];
        if (d->type == TFR_DS_MONGODB) {
            char uri[512];
            tf_sink_redact_uri(d->uri, uri, sizeof uri);
            printf("%-24s mongodb  %s database=%s\n", d->name, uri, d->database);
        } else if (d->socket) {
            printf("%-24s mysql    %s database=%s user=%s%s%s\n", d->name, d->socket,
                   d->database ? d->database : "(none)", d->user,
                   d->password_env ? " password_env=" : "", d->password_env ? d->password_env : "");
        } else {
            printf("%-24s mysql    %s:%u database=%s user=%s%s%s\n", d->name, d->host,
                   d->port ? d->port : 3306, d->database ? d->database : "(none)", d->user,
                   d->password_env ? " password_env=" : "", d->password_env ? d->password_env : "");
        }
    }
    fflush(stdout);
    return true;
}

typedef struct probe_row {
    char cells[5][128];
    bool got;
} probe_row;

static bool take_probe(void *arg, const tf_sync_column *columns, size_t column_count,
                       const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)columns;
    (void)err;
    probe_row *r = arg;
    for (size_t i = 0; i < 5 && i < column_count; i++)
        snprintf(r->cells[i], sizeof r->cells[i], "%.*s", nulls[i] ? 4 : (int)values[i].len,
                 nulls[i] ? "NULL" : (const char *)values[i].ptr);
    r->got = true;
    return true;
}

/* The database name as an SQL string literal. */
static void append_literal(bson_string_t *sql, const char *text)
{
    bson_string_append_c(sql, '\'');
    for (const char *p = text; *p; p++) {
        if (*p == '\'' || *p == '\\')
            bson_string_append_c(sql, '\\');
        bson_string_append_c(sql, *p);
    }
    bson_string_append_c(sql, '\'');
}

static bool test_mysql(const tfr_datasource *d, tf_error *err)
{
    tf_conn_options conn;
    if (!tap_mysql_conn(d, &conn, err))
        return false;
    bson_string_t *sql =
        bson_string_new("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
                        "(SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ");
    /* A relay's upstream names no database. */
    const char *database = d->database ? d->database : "";
    append_literal(sql, database);
    bson_string_append(sql, "), (SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                            "TABLE_SCHEMA = ");
    append_literal(sql, database);
    bson_string_append(sql, ")");
    probe_row r = {0};
    char version[128];
    bool ok = tf_sync_query(&conn, sql->str, 0, take_probe, &r, version, sizeof version, err);
    bson_string_free(sql, true);
    if (!ok) {
        tf_error_prefix(err, "datasource %.100s", d->name);
        return false;
    }
    printf("datasource %s: ok, server %s, binlog %s, binlog_format %s, binlog_row_image %s\n",
           d->name, version, strcmp(r.cells[0], "1") == 0 ? "on" : "off", r.cells[1], r.cells[2]);
    if (d->database && strcmp(r.cells[3], "0") == 0)
        printf("warning: database %s does not exist\n", d->database);
    else if (d->database)
        printf("database %s: %s tables\n", d->database, r.cells[4]);
    if (strcmp(r.cells[0], "1") != 0 || strcmp(r.cells[1], "ROW") != 0 ||
        strcmp(r.cells[2], "FULL") != 0)
        printf("warning: flows need log_bin on, binlog_format=ROW and binlog_row_image=FULL\n");
    fflush(stdout);
    return true;
}

bool tap_datasource_test(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_config(s, err))
        return false;
    const tfr_datasource *d = tfr_config_datasource(s->cfg, name);
    if (!d) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no datasource named %.100s in %.200s (datasource list shows them)", name,
                     s->cfg->file);
        return false;
    }
    if (d->type == TFR_DS_MYSQL)
        return test_mysql(d, err);
    tf_admin *admin = tf_admin_open(d->uri, 5000, err);
    char version[128];
    bool ok = admin && tf_admin_ping(admin, version, sizeof version, err);
    tf_admin_destroy(admin);
    if (!ok) {
        tf_error_prefix(err, "datasource %.100s", d->name);
        return false;
    }
    printf("datasource %s: ok, MongoDB %s\n", d->name, version);
    fflush(stdout);
    return true;
}
