/* tapflow-test-primary — a replication source made of binlog files.
 *
 * Plays a MySQL 8 or MariaDB 10.11 primary for the replica under test (or a
 * real MariaDB replica): handshake and mysql_native_password, the set-up
 * queries, COM_REGISTER_SLAVE, COM_BINLOG_DUMP (file/position and MariaDB
 * GTID mode) and COM_BINLOG_DUMP_GTID (MySQL), heartbeats. One libevent
 * loop, bufferevents. See usage() below. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static void usage(FILE *f)
{
    fputs("usage: tapflow-test-primary [options] (--binlog-dir DIR | BINLOG_FILE...)\n"
          "\n"
          "Serves binlog files to replicas as a MySQL 8 or MariaDB 10.11 primary would:\n"
          "COM_BINLOG_DUMP from a file and position, MariaDB GTID mode\n"
          "(@slave_connect_state), COM_BINLOG_DUMP_GTID with a MySQL GTID set, rotation\n"
          "to the next file, heartbeats while idle, EOF for BINLOG_DUMP_NON_BLOCK.\n"
          "Files are served in the order given; a directory gives its NAME.NNNNNN files\n"
          "in name order.\n"
          "\n"
          "options:\n"
          "  --binlog-dir DIR     serve the binlog files in DIR\n"
          "  --flavor F           mariadb or mysql (default: from the first file's\n"
          "                       FORMAT_DESCRIPTION)\n"
          "  --server-version V   version to announce (default: the first file's FDE,\n"
          "                       else 10.11.19-MariaDB-log / 8.0.40)\n"
          "  --bind ADDR          listen address (default 127.0.0.1)\n"
          "  --port N             listen port (default 33070; 0 = any, printed)\n"
          "  --user U             account replicas log in with (default tapflow)\n"
          "  --password P         its password (default tapflow-test; '' = none)\n"
          "  --server-id N        @@server_id (default 1)\n"
          "  --heartbeat SECONDS  heartbeat period when the replica asks for none\n"
          "                       (default 1; 0 = none)\n"
          "  -v, --verbose        log every query, login and dump\n"
          "  -h, --help           this text\n"
          "  --version            the release and the git revision\n"
          "\n"
          "On start it prints one line \"listening on ADDR:PORT\" to stdout.\n",
          f);
}

static void log_line(void *arg, const char *message)
{
    (void)arg;
    char stamp[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(stderr, "tapflow-test-primary %s.%03ld: %s\n", stamp, ts.tv_nsec / 1000000, message);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    char message[64];
    snprintf(message, sizeof message, "signal %d: stopping", (int)sig);
    log_line(NULL, message);
    event_base_loopbreak(arg);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tapflow-test-primary %s\n", tf_version());
        return 0;
    }
    const char *bind_address = "127.0.0.1", *user = "tapflow", *password = "tapflow-test";
    uint64_t port = 33070, server_id = 1;
    uint64_t heartbeat_ns = UINT64_C(1000000000);
    bool verbose = false;
    const char *flavour = NULL, *version = NULL;
    char **paths = calloc((size_t)argc, sizeof *paths);
    size_t path_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
            continue;
        } else if (a[0] != '-') {
            paths[path_count++] = argv[i];
            continue;
        }
        if (!v) {
            fprintf(stderr, "tapflow-test-primary: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--binlog-dir")) {
            paths[path_count++] = argv[i];
        } else if (!strcmp(a, "--flavor") || !strcmp(a, "--flavour")) {
            flavour = v;
        } else if (!strcmp(a, "--server-version")) {
            version = v;
        } else if (!strcmp(a, "--bind")) {
            bind_address = v;
        } else if (!strcmp(a, "--port") && parse_u64(v, 65535, &port)) {
        } else if (!strcmp(a, "--user")) {
            user = v;
        } else if (!strcmp(a, "--password")) {
            password = v;
        } else if (!strcmp(a, "--server-id") && parse_u64(v, UINT32_MAX, &server_id)) {
        } else if (!strcmp(a, "--heartbeat")) {
            char *end;
            double seconds = strtod(v, &end);
            if (*end || seconds < 0 || seconds > 4294967) {
                fprintf(stderr, "tapflow-test-primary: bad --heartbeat '%s'\n", v);
                return 2;
            }
            heartbeat_ns = (uint64_t)(seconds * 1e9);
        } else {
            fprintf(stderr, "tapflow-test-primary: bad option %s %s (see --help)\n", a, v);
            return 2;
        }
    }
    if (path_count == 0) {
        usage(stderr);
        return 2;
    }
    tf_error err = {0};
    tf_binlog_store *store = tf_binlog_store_new();
    if (!tf_binlog_store_load_files(store, paths, path_count, &err)) {
        fprintf(stderr, "tapflow-test-primary: %s\n", err.message);
        return 1;
    }
    free(paths);
    const tf_format *fmt = tf_binlog_store_format(store);
    tf_serve_options opt = {.server_id = (uint32_t)server_id,
                            .heartbeat_ns = heartbeat_ns,
                            .verbose = verbose,
                            .version_comment = "tapflow test primary",
                            .hostname = "tapflow-test-primary",
                            .log = log_line};
    if (!flavour)
        opt.flavour = fmt->flavour == TF_FLAVOUR_MARIADB ? TF_FLAVOUR_MARIADB : TF_FLAVOUR_MYSQL;
    else if (!strcmp(flavour, "mariadb"))
        opt.flavour = TF_FLAVOUR_MARIADB;
    else if (!strcmp(flavour, "mysql"))
        opt.flavour = TF_FLAVOUR_MYSQL;
    else {
        fprintf(stderr, "tapflow-test-primary: --flavor is mariadb or mysql, not '%s'\n", flavour);
        return 2;
    }
    /* The version the binlog's writer had, when it is of the same family. */
    char server_version[64];
    if (version)
        snprintf(server_version, sizeof server_version, "%s", version);
    else if (fmt->flavour == opt.flavour && fmt->server_version[0])
        snprintf(server_version, sizeof server_version, "%s", fmt->server_version);
    else
        snprintf(server_version, sizeof server_version, "%s",
                 opt.flavour == TF_FLAVOUR_MARIADB ? "10.11.19-MariaDB-log" : "8.0.40");
    opt.server_version = server_version;
    tf_serve_account account = {user, password};
    opt.accounts = &account;
    opt.account_count = 1;

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    tf_serve *srv = tf_serve_new(base, store, &opt, &err);
    uint16_t bound = 0;
    if (!srv || !tf_serve_listen(srv, bind_address, (uint16_t)port, &bound, &err)) {
        fprintf(stderr, "tapflow-test-primary: %s\n", err.message);
        return err.domain == TF_ERR_CONFIG ? 2 : 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, signal_cb, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    size_t files = tf_binlog_store_file_count(store);
    char line[512];
    snprintf(
        line, sizeof line, "%s %s, server_id %" PRIu64 ", %zu file(s) from %s to %s, user '%s'",
        opt.flavour == TF_FLAVOUR_MARIADB ? "MariaDB" : "MySQL", server_version, server_id, files,
        tf_binlog_store_file_name(store, 0), tf_binlog_store_file_name(store, files - 1), user);
    log_line(NULL, line);
    printf("listening on %s:%u\n", bind_address, (unsigned)bound);
    fflush(stdout);
    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    tf_serve_destroy(srv);
    event_base_free(base);
    tf_binlog_store_destroy(store);
    return 0;
}
