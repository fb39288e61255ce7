/* tapflow-test-primary — a replication source made of binlog files.
 *
 * Plays a MySQL 8 or MariaDB 10.11 primary for the replica under test (or a
 * real MariaDB replica): handshake and mysql_native_password, the set-up
 * queries, COM_REGISTER_SLAVE, COM_BINLOG_DUMP (file/position and MariaDB
 * GTID mode) and COM_BINLOG_DUMP_GTID (MySQL), heartbeats. One libevent
 * loop, bufferevents. See usage() below. */
#include "primary.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
          "\n"
          "On start it prints one line \"listening on ADDR:PORT\" to stdout.\n",
          f);
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr,
                      int addr_len, void *arg)
{
    (void)listener;
    (void)addr_len;
    char host[64] = "?";
    unsigned port = 0;
    if (addr->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    tp_session_accept(arg, fd, host, port);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    tp_server *server = arg;
    tp_log("signal %d: stopping", (int)sig);
    event_base_loopbreak(server->base);
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
    tp_server server;
    memset(&server, 0, sizeof server);
    tp_config *c = &server.config;
    c->bind_address = "127.0.0.1";
    c->port = 33070;
    c->user = "tapflow";
    c->password = "tapflow-test";
    c->server_id = 1;
    c->heartbeat_ns = UINT64_C(1000000000);
    const char *flavour = NULL, *version = NULL;
    char **paths = calloc((size_t)argc, sizeof *paths);
    size_t path_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            c->verbose = true;
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
            c->bind_address = v;
        } else if (!strcmp(a, "--port") && parse_u64(v, 65535, &n)) {
            c->port = (uint16_t)n;
        } else if (!strcmp(a, "--user")) {
            c->user = v;
        } else if (!strcmp(a, "--password")) {
            c->password = v;
        } else if (!strcmp(a, "--server-id") && parse_u64(v, UINT32_MAX, &n)) {
            c->server_id = (uint32_t)n;
        } else if (!strcmp(a, "--heartbeat")) {
            char *end;
            double seconds = strtod(v, &end);
            if (*end || seconds < 0 || seconds > 4294967) {
                fprintf(stderr, "tapflow-test-primary: bad --heartbeat '%s'\n", v);
                return 2;
            }
            c->heartbeat_ns = (uint64_t)(seconds * 1e9);
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
    if (!tp_binlogs_load(&server.binlogs, paths, path_count, &err)) {
        fprintf(stderr, "tapflow-test-primary: %s\n", err.message);
        return 1;
    }
    free(paths);
    const tf_format *fmt = &server.binlogs.files[0].fmt;
    if (!flavour)
        c->flavour = fmt->flavour == TF_FLAVOUR_MARIADB ? TF_FLAVOUR_MARIADB : TF_FLAVOUR_MYSQL;
    else if (!strcmp(flavour, "mariadb"))
        c->flavour = TF_FLAVOUR_MARIADB;
    else if (!strcmp(flavour, "mysql"))
        c->flavour = TF_FLAVOUR_MYSQL;
    else {
        fprintf(stderr, "tapflow-test-primary: --flavor is mariadb or mysql, not '%s'\n", flavour);
        return 2;
    }
    /* The version the binlog's writer had, when it is of the same family. */
    if (version)
        snprintf(c->server_version, sizeof c->server_version, "%s", version);
    else if (fmt->flavour == c->flavour && fmt->server_version[0])
        snprintf(c->server_version, sizeof c->server_version, "%s", fmt->server_version);
    else
        snprintf(c->server_version, sizeof c->server_version, "%s",
                 c->flavour == TF_FLAVOUR_MARIADB ? "10.11.19-MariaDB-log" : "8.0.40");
    tf_native_password_hash(c->password, strlen(c->password), server.password_stage2);

    signal(SIGPIPE, SIG_IGN);
    server.base = event_base_new();
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(c->port);
    if (inet_pton(AF_INET, c->bind_address, &sin.sin_addr) != 1) {
        fprintf(stderr, "tapflow-test-primary: bad --bind address '%s'\n", c->bind_address);
        return 2;
    }
    struct evconnlistener *listener = evconnlistener_new_bind(
        server.base, accept_cb, &server, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
        (struct sockaddr *)&sin, sizeof sin);
    if (!listener) {
        fprintf(stderr, "tapflow-test-primary: cannot listen on %s:%u: %s\n", c->bind_address,
                (unsigned)c->port, strerror(errno));
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound, &bound_len);
    c->port = ntohs(bound.sin_port);
    struct event *sigint = evsignal_new(server.base, SIGINT, signal_cb, &server);
    struct event *sigterm = evsignal_new(server.base, SIGTERM, signal_cb, &server);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    tp_log("%s %s, server_id %" PRIu32 ", %zu file(s) from %s to %s, user '%s'",
           c->flavour == TF_FLAVOUR_MARIADB ? "MariaDB" : "MySQL", c->server_version, c->server_id,
           server.binlogs.count, server.binlogs.files[0].name,
           server.binlogs.files[server.binlogs.count - 1].name, c->user);
    printf("listening on %s:%u\n", c->bind_address, (unsigned)c->port);
    fflush(stdout);
    event_base_dispatch(server.base);
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(listener);
    event_base_free(server.base);
    tp_binlogs_cleanup(&server.binlogs);
    return 0;
}
