/* config.c — the daemon's config file.
 *
 * INI-like, one setting per line, `#` or `;` starts a comment line:
 *
 *   [tapflow]
 *   server_id = 7401                  # our replica server_id (unique on the
 *                                     # source; default: derived from the
 *                                     # flow name, so flows started from one
 *                                     # config do not evict each other)
 *   status_listen = 127.0.0.1:7470    # loopback HTTP status endpoint
 *   batch_max_ops = 1000              # ops per bulk write
 *   batch_max_bytes = 8388608
 *   write_connections = 2             # large flushes written over this
 *                                     # many target connections at once
 *   write_plan = costs                # or off: each document by its cheapest
 *                                     # write shape, from the target's costs
 *   checkpoint_interval_ms = 1000     # checkpoint + view state at most this often
 *   resync_chunk_rows = 5000          # rows per read of a table re-sync
 *   root_key_index = unique           # or plain: a target collection sharded
 *                                     # on {_id: "hashed"} (README "Scaling out")
 *   decimal = auto | double | string  # DECIMAL on targets without Decimal128
 *   checkpoint_collection = tapflow_checkpoints
 *   home = /var/lib/tapflow           # tap's runtime dir (default: env
 *                                     # TAPFLOW_HOME, else ~/.tapflow)
 *   store = MongoDB_ECommerce         # mongodb datasource keeping the saved
 *                                     # flows (default: the first one)
 *   status_ports = 17300-17399        # ports tap gives the flows it starts
 *                                     # (default: any free port)
 *   state_dir = /var/lib/tapflow/state  # the view state in a file there
 *                                     # (default: in memory)
 *   state_memory_mb = 4096            # of it at most this much resident
 *
 *   [datasource MySQL_ECommerce]      # the names the flow file uses
 *   type = mysql                      # (MariaDB too)
 *   host = 127.0.0.1
 *   port = 3306
 *   socket = /path/mysqld.sock        # instead of host/port
 *   user = tapflow
 *   password_env = TAPFLOW_PASSWORD   # or password = ... (avoid)
 *   tls = preferred                   # disabled|preferred|required|verify-ca|...
 *   database = ecommerce
 *
 *   relay = Relay_ECommerce           # mysql: stream the binlog through this
 *                                     # [relay] (snapshots still read the server)
 *
 *   [relay Relay_ECommerce]           # tapflow-relay (see its --help)
 *   upstream = MySQL_ECommerce        # the mysql datasource it replicates from
 *   listen = 127.0.0.1:33080          # where replicas and flows connect
 *   archive = /var/lib/tapflow/relay  # folder of its binlog files
 *   server_id = 7480                  # ours on the upstream (default: derived)
 *   rotate_size = 256M                # new file past this size (K, M, G)
 *   fsync = transaction               # or every N ms, e.g. fsync = 100ms
 *   retention_size = 10G              # drop the oldest files past this (0 = keep)
 *   retention_age = 7d                # and those older than this (s, m, h, d)
 *   compress = zstd                   # closed files kept zstd-compressed
 *                                     # (default none)
 *   start = now                       # an empty archive starts at: now,
 *                                     # earliest, or a GTID position/set
 *   account = repl password_env=RELAY_PASSWORD   # downstream login (repeat;
 *                                     # default: the upstream's user/password)
 *
 *   [datasource MongoDB_ECommerce]
 *   type = mongodb
 *   uri = mongodb://127.0.0.1:27017/
 *   database = ecommerce
 *
 * Every error names the file and line. Without --config the file is env
 * TAPFLOW_CONFIG, else ~/.tapflow/tapflow.conf. */
#include "daemon.h"
#include "replica.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tfr_config_defaults(tfr_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->server_id = 0; /* derived per flow: tfr_flow_server_id */
    cfg->status_port = TFR_DEFAULT_STATUS_PORT;
    cfg->batch_max_ops = 1000;
    cfg->batch_max_bytes = 8u * 1024 * 1024;
    cfg->write_connections = TFR_DEFAULT_WRITE_CONNECTIONS;
    cfg->checkpoint_interval_ms = 1000;
    cfg->resync_chunk_rows = 5000;
}

uint32_t tfr_flow_server_id(const tfr_config *cfg, const char *flow)
{
    if (cfg->server_id)
        return cfg->server_id;
    /* FNV-1a of the name into 0x7A000000..0x7AFFFFFF: a range real
     * servers rarely use, and two flows collide with odds of 1 in 16M. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)flow; *p; p++)
        h = (h ^ *p) * 16777619u;
    return 0x7A000000u | (h & 0xFFFFFFu);
}

void tfr_config_cleanup(tfr_config *cfg)
{
    for (size_t i = 0; i < cfg->datasource_count; i++) {
        tfr_datasource *d = &cfg->datasources[i];
        bson_free(d->name);
        bson_free(d->host);
        bson_free(d->socket);
        bson_free(d->user);
        if (d->password)
            bson_zero_free(d->password, strlen(d->password));
        bson_free(d->password_env);
        bson_free(d->tls_mode);
        bson_free(d->database);
        bson_free(d->uri);
        bson_free(d->relay);
    }
    bson_free(cfg->datasources);
    for (size_t i = 0; i < cfg->relay_count; i++) {
        tfr_relay *r = &cfg->relays[i];
        bson_free(r->name);
        bson_free(r->upstream);
        bson_free(r->listen_host);
        bson_free(r->archive);
        bson_free(r->start);
        for (size_t j = 0; j < r->account_count; j++) {
            bson_free(r->accounts[j].user);
            if (r->accounts[j].password)
                bson_zero_free(r->accounts[j].password, strlen(r->accounts[j].password));
            bson_free(r->accounts[j].password_env);
        }
        bson_free(r->accounts);
    }
    bson_free(cfg->relays);
    bson_free(cfg->file);
    bson_free(cfg->status_host);
    bson_free(cfg->checkpoint_collection);
    bson_free(cfg->home);
    bson_free(cfg->state_dir);
    bson_free(cfg->store);
    memset(cfg, 0, sizeof *cfg);
}

const tfr_datasource *tfr_config_datasource(const tfr_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->datasource_count; i++)
        if (strcmp(cfg->datasources[i].name, name) == 0)
            return &cfg->datasources[i];
    return NULL;
}

bool tfr_datasource_conn(const tfr_config *cfg, const tfr_datasource *ds, tf_conn_options *out,
                         tf_error *err)
{
    memset(out, 0, sizeof *out);
    out->host = ds->host;
    out->port = ds->port;
    out->socket_path = ds->socket;
    out->user = ds->user;
    out->password = ds->password;
    if (!out->password && ds->password_env) {
        out->password = getenv(ds->password_env);
        if (!out->password) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "datasource %.100s: environment variable %.100s (its password_env) is "
                         "not set",
                         ds->name, ds->password_env);
            if (cfg)
                tf_error_prefix(err, "%.200s:%u", cfg->file, ds->password_env_line);
            return false;
        }
    }
    out->tls_mode = TF_TLS_PREFERRED;
    if (ds->tls_mode && !tf_tls_mode_parse(ds->tls_mode, &out->tls_mode)) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "datasource %.100s: tls must be disabled, preferred, required, verify-ca "
                     "or verify-identity",
                     ds->name);
        if (cfg)
            tf_error_prefix(err, "%.200s:%u", cfg->file, ds->line);
        return false;
    }
    return true;
}

const tfr_relay *tfr_config_relay(const tfr_config *cfg, const char *name)
{
    if (!name)
        return cfg->relay_count == 1 ? &cfg->relays[0] : NULL;
    for (size_t i = 0; i < cfg->relay_count; i++)
        if (strcmp(cfg->relays[i].name, name) == 0)
            return &cfg->relays[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    if (!*v || !isdigit((unsigned char)*v))
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n > max)
        return false;
    *out = n;
    return true;
}

/* "host:port" (IPv4 or name; port required). */
static bool parse_listen(const char *v, char **host, uint16_t *port)
{
    const char *colon = strrchr(v, ':');
    uint64_t p;
    if (!colon || colon == v || !parse_u64(colon + 1, 65535, &p) || p == 0)
        return false;
    bson_free(*host);
    *host = tf_strndup(v, (size_t)(colon - v));
    *port = (uint16_t)p;
    return true;
}

/* "512", "64K", "256M", "10G" (powers of 1024). */
static bool parse_size(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return false;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t unit = 1;
    if (*end == 'K' || *end == 'k')
        unit = 1024;
    else if (*end == 'M' || *end == 'm')
        unit = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        unit = 1024ull * 1024 * 1024;
    else if (*end == 'T' || *end == 't')
        unit = 1024ull * 1024 * 1024 * 1024;
    if (unit > 1)
        end++;
    if (errno || *end || n > UINT64_MAX / unit)
        return false;
    *out = n * unit;
    return true;
}

/* "90", "90s", "15m", "12h", "7d" in seconds. */
static bool parse_age(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return false;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t unit = 1;
    if (*end == 's')
        unit = 1;
    else if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    if (*end)
        end++;
    if (errno || *end || n > UINT64_MAX / unit)
        return false;
    *out = n * unit;
    return true;
}

#define FAIL(...)                                                                  \
    do {                                                                           \
        char msg_[400];                                                            \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                  \
        tf_error_set(err, TF_ERR_CONFIG, 0, "%.200s:%u: %s", path, line_no, msg_); \
        goto fail;                                                                 \
    } while (0)

static void set_string(char **field, const char *value)
{
    bson_free(*field);
    *field = bson_strdup(value);
}

bool tfr_config_load(const char *path, tfr_config *out, tf_error *err)
{
    tfr_config_defaults(out);
    out->file = bson_strdup(path);
    FILE *f = fopen(path, "r");
    unsigned line_no = 0;
    if (!f) {
        tf_error_set(err, TF_ERR_CONFIG, (uint32_t)errno, "%.200s: cannot open: %s", path,
                     strerror(errno));
        tfr_config_cleanup(out);
        return false;
    }
    enum {
        NONE,
        TAPFLOW,
        DATASOURCE,
        RELAY
    } section = NONE;
    tfr_datasource *ds = NULL;
    tfr_relay *relay = NULL;
    unsigned store_line = 0, state_memory_line = 0;
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        line_no++;
        if (!strchr(buf, '\n') && !feof(f))
            FAIL("line longer than %zu bytes", sizeof buf - 1);
        char *line = trim(buf);
        if (!*line || *line == '#' || *line == ';')
            continue;
        if (*line == '[') {
            char *close = strchr(line, ']');
            if (!close || *trim(close + 1))
                FAIL("expected a section header like [tapflow], [datasource NAME] or [relay "
                     "NAME]");
            *close = '\0';
            char *name = trim(line + 1);
            if (strcmp(name, "tapflow") == 0) {
                section = TAPFLOW;
                continue;
            }
            if (strncmp(name, "relay", 5) == 0 && isspace((unsigned char)name[5])) {
                char *relay_name = trim(name + 5);
                if (!*relay_name)
                    FAIL("[relay] needs a name, e.g. [relay Relay_ECommerce]");
                if (tfr_config_relay(out, relay_name))
                    FAIL("relay %.100s is defined twice", relay_name);
                out->relays =
                    bson_realloc(out->relays, (out->relay_count + 1) * sizeof *out->relays);
                relay = &out->relays[out->relay_count++];
                memset(relay, 0, sizeof *relay);
                relay->name = bson_strdup(relay_name);
                relay->line = line_no;
                relay->listen_port = TFR_DEFAULT_RELAY_PORT;
                section = RELAY;
                continue;
            }
            if (strncmp(name, "datasource", 10) != 0 || !isspace((unsigned char)name[10]))
                FAIL("unknown section [%.100s] (expected [tapflow], [datasource NAME] or [relay "
                     "NAME])",
                     name);
            char *ds_name = trim(name + 10);
            if (!*ds_name)
                FAIL("[datasource] needs a name, e.g. [datasource MySQL_ECommerce]");
            if (tfr_config_datasource(out, ds_name))
                FAIL("datasource %.100s is defined twice", ds_name);
            out->datasources = bson_realloc(out->datasources,
                                            (out->datasource_count + 1) * sizeof *out->datasources);
            ds = &out->datasources[out->datasource_count++];
            memset(ds, 0, sizeof *ds);
            ds->name = bson_strdup(ds_name);
            ds->line = line_no;
            section = DATASOURCE;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq)
            FAIL("expected 'key = value'");
        *eq = '\0';
        char *key = trim(line), *value = trim(eq + 1);
        if (section == NONE)
            FAIL("'%.100s' outside any section (start with [tapflow] or [datasource NAME])", key);
        uint64_t n;
        if (section == TAPFLOW) {
            if (strcmp(key, "server_id") == 0) {
                if (!parse_u64(value, UINT32_MAX, &n) || n == 0)
                    FAIL("server_id must be an integer from 1 to 4294967295");
                out->server_id = (uint32_t)n;
            } else if (strcmp(key, "status_listen") == 0) {
                if (!parse_listen(value, &out->status_host, &out->status_port))
                    FAIL("status_listen must be HOST:PORT, e.g. 127.0.0.1:7470");
            } else if (strcmp(key, "batch_max_ops") == 0) {
                if (!parse_u64(value, 100000, &n) || n == 0)
                    FAIL("batch_max_ops must be from 1 to 100000");
                out->batch_max_ops = (size_t)n;
            } else if (strcmp(key, "batch_max_bytes") == 0) {
                if (!parse_u64(value, 48u * 1024 * 1024, &n) || n < 1024)
                    FAIL("batch_max_bytes must be from 1024 to 50331648");
                out->batch_max_bytes = (size_t)n;
            } else if (strcmp(key, "write_connections") == 0) {
                if (!parse_u64(value, TFR_MAX_WRITE_CONNECTIONS, &n) || n == 0)
                    FAIL("write_connections must be from 1 to %d", TFR_MAX_WRITE_CONNECTIONS);
                out->write_connections = (size_t)n;
            } else if (strcmp(key, "checkpoint_interval_ms") == 0) {
                if (!parse_u64(value, 3600000, &n))
                    FAIL("checkpoint_interval_ms must be from 0 to 3600000");
                out->checkpoint_interval_ms = (int64_t)n;
            } else if (strcmp(key, "resync_chunk_rows") == 0) {
                if (!parse_u64(value, 1000000, &n) || n == 0)
                    FAIL("resync_chunk_rows must be from 1 to 1000000");
                out->resync_chunk_rows = (size_t)n;
            } else if (strcmp(key, "write_plan") == 0) {
                if (strcmp(value, "costs") == 0)
                    out->write_plan_off = false;
                else if (strcmp(value, "off") == 0)
                    out->write_plan_off = true;
                else
                    FAIL("write_plan must be costs or off");
            } else if (strcmp(key, "root_key_index") == 0) {
                if (strcmp(value, "unique") == 0)
                    out->root_key_index_plain = false;
                else if (strcmp(value, "plain") == 0)
                    out->root_key_index_plain = true;
                else
                    FAIL("root_key_index must be unique or plain");
            } else if (strcmp(key, "decimal") == 0) {
                if (strcmp(value, "auto") == 0)
                    out->decimal = TFR_DECIMAL_AUTO;
                else if (strcmp(value, "double") == 0)
                    out->decimal = TFR_DECIMAL_DOUBLE;
                else if (strcmp(value, "string") == 0)
                    out->decimal = TFR_DECIMAL_STRING;
                else
                    FAIL("decimal must be auto, double or string");
            } else if (strcmp(key, "checkpoint_collection") == 0) {
                if (!*value)
                    FAIL("checkpoint_collection is empty");
                set_string(&out->checkpoint_collection, value);
            } else if (strcmp(key, "home") == 0) {
                if (!*value)
                    FAIL("home is empty (name a directory)");
                set_string(&out->home, value);
            } else if (strcmp(key, "store") == 0) {
                if (!*value)
                    FAIL("store is empty (name a mongodb datasource)");
                set_string(&out->store, value);
                store_line = line_no;
            } else if (strcmp(key, "status_ports") == 0) {
                const char *dash = strchr(value, '-');
                char low_text[8] = "";
                uint64_t low, high;
                if (dash && (size_t)(dash - value) < sizeof low_text)
                    memcpy(low_text, value, (size_t)(dash - value));
                if (!dash || !parse_u64(low_text, 65535, &low) ||
                    !parse_u64(dash + 1, 65535, &high) || low == 0 || high < low)
                    FAIL("status_ports must be LOW-HIGH, e.g. 17300-17399");
                out->status_port_low = (uint16_t)low;
                out->status_port_high = (uint16_t)high;
            } else if (strcmp(key, "state_dir") == 0) {
                if (!*value)
                    FAIL("state_dir is empty (name a directory)");
                set_string(&out->state_dir, value);
            } else if (strcmp(key, "state_memory_mb") == 0) {
                if (!parse_u64(value, (uint64_t)1 << 30, &n) || n == 0)
                    FAIL("state_memory_mb must be from 1 to 1073741824");
                out->state_memory_mb = n;
                state_memory_line = line_no;
            } else {
                FAIL("unknown key '%.100s' in [tapflow]", key);
            }
            continue;
        }
        if (section == RELAY) {
            if (strcmp(key, "upstream") == 0) {
                set_string(&relay->upstream, value);
                relay->upstream_line = line_no;
            } else if (strcmp(key, "listen") == 0) {
                if (!parse_listen(value, &relay->listen_host, &relay->listen_port))
                    FAIL("listen must be HOST:PORT, e.g. 127.0.0.1:33080");
            } else if (strcmp(key, "archive") == 0) {
                if (!*value)
                    FAIL("archive is empty (name a folder)");
                set_string(&relay->archive, value);
            } else if (strcmp(key, "server_id") == 0) {
                if (!parse_u64(value, UINT32_MAX, &n) || n == 0)
                    FAIL("server_id must be an integer from 1 to 4294967295");
                relay->server_id = (uint32_t)n;
            } else if (strcmp(key, "rotate_size") == 0) {
                if (!parse_size(value, &n) || n < 4096 || n > (1ull << 32) - (1ull << 20))
                    FAIL("rotate_size must be from 4K to 4095M, e.g. 256M");
                relay->rotate_bytes = n;
            } else if (strcmp(key, "fsync") == 0) {
                size_t len = strlen(value);
                if (strcmp(value, "transaction") == 0) {
                    relay->fsync_interval_ms = 0;
                } else if (len > 2 && strcmp(value + len - 2, "ms") == 0) {
                    char ms[16] = "";
                    if (len - 2 < sizeof ms)
                        memcpy(ms, value, len - 2);
                    if (!parse_u64(ms, 60000, &n) || n == 0)
                        FAIL("fsync must be 'transaction' or from 1ms to 60000ms");
                    relay->fsync_interval_ms = (uint32_t)n;
                } else {
                    FAIL("fsync must be 'transaction' or an interval like 100ms");
                }
            } else if (strcmp(key, "retention_size") == 0) {
                if (!parse_size(value, &n))
                    FAIL("retention_size must be a size like 10G (0 = keep everything)");
                relay->retention_bytes = n;
            } else if (strcmp(key, "retention_age") == 0) {
                if (!parse_age(value, &n))
                    FAIL("retention_age must be an age like 7d, 12h, 30m (0 = keep everything)");
                relay->retention_seconds = n;
            } else if (strcmp(key, "compress") == 0) {
                if (strcmp(value, "zstd") == 0)
                    relay->compress = true;
                else if (strcmp(value, "none") == 0)
                    relay->compress = false;
                else
                    FAIL("compress must be zstd or none");
            } else if (strcmp(key, "start") == 0) {
                if (!*value)
                    FAIL("start is empty (now, earliest, or a GTID)");
                set_string(&relay->start, value);
            } else if (strcmp(key, "account") == 0) {
                char user[128], secret[512];
                int used = 0;
                if (sscanf(value, "%127s %511s%n", user, secret, &used) != 2 || value[used] ||
                    (strncmp(secret, "password=", 9) != 0 &&
                     strncmp(secret, "password_env=", 13) != 0))
                    FAIL("account must be 'USER password_env=VARIABLE' or 'USER password=SECRET'");
                relay->accounts = bson_realloc(relay->accounts, (relay->account_count + 1) *
                                                                    sizeof *relay->accounts);
                tfr_relay_account *acc = &relay->accounts[relay->account_count++];
                memset(acc, 0, sizeof *acc);
                acc->user = bson_strdup(user);
                acc->line = line_no;
                if (strncmp(secret, "password=", 9) == 0)
                    acc->password = bson_strdup(secret + 9);
                else if (!secret[13])
                    FAIL("account %.100s: password_env is empty", user);
                else
                    acc->password_env = bson_strdup(secret + 13);
                memset(secret, 0, sizeof secret);
            } else {
                FAIL("unknown key '%.100s' in [relay %.100s]", key, relay->name);
            }
            continue;
        }
        /* datasource */
        if (strcmp(key, "type") == 0) {
            if (strcmp(value, "mysql") == 0 || strcmp(value, "mariadb") == 0)
                ds->type = TFR_DS_MYSQL;
            else if (strcmp(value, "mongodb") == 0)
                ds->type = TFR_DS_MONGODB;
            else
                FAIL("type must be mysql, mariadb or mongodb");
        } else if (strcmp(key, "host") == 0) {
            set_string(&ds->host, value);
        } else if (strcmp(key, "port") == 0) {
            if (!parse_u64(value, 65535, &n) || n == 0)
                FAIL("port must be from 1 to 65535");
            ds->port = (uint16_t)n;
        } else if (strcmp(key, "socket") == 0) {
            set_string(&ds->socket, value);
        } else if (strcmp(key, "user") == 0) {
            set_string(&ds->user, value);
        } else if (strcmp(key, "password") == 0) {
            if (ds->password)
                bson_zero_free(ds->password, strlen(ds->password));
            ds->password = bson_strdup(value);
        } else if (strcmp(key, "password_env") == 0) {
            if (!*value)
                FAIL("password_env is empty (name an environment variable)");
            set_string(&ds->password_env, value);
            ds->password_env_line = line_no;
        } else if (strcmp(key, "tls") == 0) {
            set_string(&ds->tls_mode, value);
        } else if (strcmp(key, "database") == 0) {
            if (!*value)
                FAIL("database is empty");
            set_string(&ds->database, value);
        } else if (strcmp(key, "relay") == 0) {
            if (!*value)
                FAIL("relay is empty (name a [relay NAME] section)");
            set_string(&ds->relay, value);
            ds->relay_line = line_no;
        } else if (strcmp(key, "uri") == 0) {
            if (strncmp(value, "mongodb://", 10) != 0 && strncmp(value, "mongodb+srv://", 14) != 0)
                FAIL("uri must start with mongodb:// or mongodb+srv://");
            set_string(&ds->uri, value);
        } else {
            FAIL("unknown key '%.100s' in [datasource %.100s]", key, ds->name);
        }
    }
    fclose(f);
    f = NULL;
    for (size_t i = 0; i < out->datasource_count; i++) {
        ds = &out->datasources[i];
        line_no = ds->line;
        if (!ds->type)
            FAIL("datasource %.100s has no type (mysql or mongodb)", ds->name);
        bool relay_upstream = false;
        for (size_t j = 0; j < out->relay_count; j++)
            relay_upstream |= out->relays[j].upstream && !strcmp(out->relays[j].upstream, ds->name);
        /* A relay replicates the whole server: its upstream needs none. */
        if (!ds->database && !relay_upstream)
            FAIL("datasource %.100s has no database", ds->name);
        if (ds->type == TFR_DS_MYSQL && !ds->user)
            FAIL("datasource %.100s has no user", ds->name);
        if (ds->type == TFR_DS_MYSQL && !ds->host && !ds->socket)
            FAIL("datasource %.100s needs host (and port) or socket", ds->name);
        if (ds->type == TFR_DS_MONGODB && !ds->uri)
            FAIL("datasource %.100s has no uri", ds->name);
    }
    for (size_t i = 0; i < out->datasource_count; i++) {
        ds = &out->datasources[i];
        line_no = ds->relay_line;
        if (ds->relay && !tfr_config_relay(out, ds->relay))
            FAIL("datasource %.100s: relay %.100s is not a [relay] section of this file", ds->name,
                 ds->relay);
        if (ds->relay && ds->type != TFR_DS_MYSQL)
            FAIL("datasource %.100s: only a mysql datasource reads through a relay", ds->name);
    }
    for (size_t i = 0; i < out->relay_count; i++) {
        relay = &out->relays[i];
        line_no = relay->line;
        if (!relay->upstream)
            FAIL("relay %.100s has no upstream (name a mysql datasource)", relay->name);
        if (!relay->archive)
            FAIL("relay %.100s has no archive folder", relay->name);
        const tfr_datasource *up = tfr_config_datasource(out, relay->upstream);
        line_no = relay->upstream_line;
        if (!up || up->type != TFR_DS_MYSQL)
            FAIL("relay %.100s: upstream %.100s is not a mysql datasource of this file",
                 relay->name, relay->upstream);
        if (up->relay)
            FAIL("relay %.100s: upstream %.100s itself reads through a relay", relay->name,
                 relay->upstream);
        if (!relay->listen_host)
            relay->listen_host = bson_strdup("127.0.0.1");
    }
    if (out->store) {
        const tfr_datasource *store = tfr_config_datasource(out, out->store);
        line_no = store_line;
        if (!store || store->type != TFR_DS_MONGODB)
            FAIL("store names %.100s, which is not a mongodb datasource of this file", out->store);
    }
    if (out->state_memory_mb && !out->state_dir) {
        line_no = state_memory_line;
        FAIL("state_memory_mb limits the state kept in state_dir: set state_dir too");
    }
    if (!out->status_host)
        out->status_host = bson_strdup(TFR_DEFAULT_STATUS_HOST);
    return true;
fail:
    if (f)
        fclose(f);
    tfr_config_cleanup(out);
    return false;
}

bool tfr_config_resolve_passwords(tfr_config *cfg, tf_error *err)
{
    for (size_t i = 0; i < cfg->datasource_count; i++) {
        tfr_datasource *d = &cfg->datasources[i];
        if (!d->password_env)
            continue;
        const char *v = getenv(d->password_env);
        if (!v) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "%.200s:%u: password_env: environment variable %.100s is not set",
                         cfg->file, d->password_env_line, d->password_env);
            return false;
        }
        if (d->password)
            bson_zero_free(d->password, strlen(d->password));
        d->password = bson_strdup(v);
    }
    for (size_t i = 0; i < cfg->relay_count; i++) {
        for (size_t j = 0; j < cfg->relays[i].account_count; j++) {
            tfr_relay_account *a = &cfg->relays[i].accounts[j];
            if (!a->password_env)
                continue;
            const char *v = getenv(a->password_env);
            if (!v) {
                tf_error_set(err, TF_ERR_CONFIG, 0,
                             "%.200s:%u: account %.100s: environment variable %.100s is not set",
                             cfg->file, a->line, a->user, a->password_env);
                return false;
            }
            if (a->password)
                bson_zero_free(a->password, strlen(a->password));
            a->password = bson_strdup(v);
        }
    }
    return true;
}

/* ---- defaults shared with tap ---- */

static const char *user_home(void)
{
    const char *h = getenv("HOME");
    return h && *h ? h : "/root";
}

const char *tfr_config_default_path(char *buf, size_t cap)
{
    const char *env = getenv("TAPFLOW_CONFIG");
    if (env && *env)
        snprintf(buf, cap, "%s", env);
    else
        snprintf(buf, cap, "%s/.tapflow/tapflow.conf", user_home());
    return buf;
}

char *tfr_config_home(const tfr_config *cfg)
{
    if (cfg && cfg->home)
        return bson_strdup(cfg->home);
    const char *env = getenv("TAPFLOW_HOME");
    if (env && *env)
        return bson_strdup(env);
    return bson_strdup_printf("%s/.tapflow", user_home());
}

const tfr_datasource *tfr_config_store(const tfr_config *cfg, tf_error *err)
{
    if (cfg->store)
        return tfr_config_datasource(cfg, cfg->store); /* checked at load */
    for (size_t i = 0; i < cfg->datasource_count; i++)
        if (cfg->datasources[i].type == TFR_DS_MONGODB)
            return &cfg->datasources[i];
    tf_error_set(err, TF_ERR_CONFIG, 0,
                 "%.200s: no mongodb datasource to keep the flows in (add one, or name it with "
                 "store = NAME in [tapflow])",
                 cfg->file ? cfg->file : "config");
    return NULL;
}

bool tfr_config_override_status_listen(tfr_config *cfg, const char *listen, tf_error *err)
{
    if (!listen)
        return true;
    if (!parse_listen(listen, &cfg->status_host, &cfg->status_port)) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "--status-listen must be HOST:PORT, e.g. 127.0.0.1:7470 (found %.100s)",
                     listen);
        return false;
    }
    return true;
}

/* ---- run files ---- */

char *tfr_run_file_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/run/%s.json", home, flow);
}

bool tfr_run_file_read(const char *home, const char *flow, tfr_run_file *out, bool *found,
                       tf_error *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    char *path = tfr_run_file_path(home, flow);
    FILE *f = fopen(path, "r");
    if (!f) {
        bool missing = errno == ENOENT;
        if (!missing)
            tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "%.300s: cannot open: %s", path,
                         strerror(errno));
        bson_free(path);
        return missing;
    }
    char text[512];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    bson_t doc;
    bson_error_t error;
    bson_iter_t it;
    bool ok = bson_init_from_json(&doc, text, (ssize_t)n, &error);
    if (ok) {
        ok = bson_iter_init_find(&it, &doc, "pid") && BSON_ITER_HOLDS_NUMBER(&it) &&
             bson_iter_as_int64(&it) > 0;
        out->pid = ok ? (long)bson_iter_as_int64(&it) : 0;
        ok = ok && bson_iter_init_find(&it, &doc, "status_port") && BSON_ITER_HOLDS_NUMBER(&it) &&
             bson_iter_as_int64(&it) > 0 && bson_iter_as_int64(&it) <= 65535;
        out->status_port = ok ? (uint16_t)bson_iter_as_int64(&it) : 0;
        if (ok && bson_iter_init_find(&it, &doc, "started") && BSON_ITER_HOLDS_NUMBER(&it))
            out->started_ms = bson_iter_as_int64(&it);
        bson_destroy(&doc);
    }
    if (!ok)
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "%.300s: not a run file ({\"pid\": N, \"status_port\": N, \"started\": ms}); "
                     "remove it if no flow runs",
                     path);
    bson_free(path);
    *found = ok;
    return ok;
}

bool tfr_run_file_write(const char *home, const char *flow, const tfr_run_file *rf, tf_error *err)
{
    char *dir = bson_strdup_printf("%s/run", home);
    mkdir(home, 0700);
    mkdir(dir, 0700);
    char *path = tfr_run_file_path(home, flow);
    char *tmp = bson_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "{\"pid\": %ld, \"status_port\": %u, \"started\": %lld}\n", rf->pid,
                           rf->status_port, (long long)rf->started_ms) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "%.300s: cannot write: %s", path,
                     strerror(errno));
        unlink(tmp);
    }
    bson_free(tmp);
    bson_free(path);
    bson_free(dir);
    return ok;
}
