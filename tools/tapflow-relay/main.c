/* tapflow-relay — one replica connection to a MySQL/MariaDB primary, its
 * binlog archived in local files, served to any number of replicas, binlog
 * clients and flows (see usage() below and replica/serve/serve.h).
 *
 * Upstream it is a tf_replica resuming from what the archive holds; each
 * complete transaction goes to the archive, which serves it once it is on
 * disk. The server starts listening once the format is known (from the
 * archive at start, else from the upstream's first FORMAT_DESCRIPTION). */
#include "daemon.h"
#include "replica.h"
#include "serve.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct relay {
    const tfr_config *cfg;
    const tfr_relay *rc;
    const tfr_datasource *upstream;
    struct event_base *base;
    tf_binlog_store *store;
    tf_archive *archive;
    tf_replica *replica;
    tf_serve *server;
    struct event *status_timer;
    char start_gtid[4096];
    int exit_code;
    bool stopping;
    bool verbose;
    uint64_t last_transactions;
    const uint8_t **txn_events; /* the events of a transaction to archive */
    size_t *txn_lens;
    size_t txn_cap;
} relay;

static void usage(FILE *f)
{
    fputs("usage: tapflow-relay [--config FILE] [--relay NAME] [-v]\n"
          "\n"
          "Replicates from the [relay NAME] section's upstream datasource over one\n"
          "connection, keeps its binlog in local files (the archive folder), and serves\n"
          "it over the replication protocol at the listen address: MariaDB and MySQL\n"
          "replicas (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos), mariadb-binlog\n"
          "--read-from-remote-server --stop-never, and flows whose datasource says\n"
          "relay = NAME. A restart resumes after the last transaction in the archive;\n"
          "a torn tail left by a crash is cut back and fetched again.\n"
          "\n"
          "  --config FILE  datasources and the [relay] section (see\n"
          "                 tools/tapflow-replica/config.c); default: env TAPFLOW_CONFIG,\n"
          "                 else ~/.tapflow/tapflow.conf\n"
          "  --relay NAME   which [relay] section (needed when there are several)\n"
          "  -v, --verbose  log every downstream login, query and dump\n"
          "  --version      the release and the git revision\n"
          "\n"
          "SIGTERM or SIGINT: sync the archive, close, exit 0. Exit 1 on an error that\n"
          "retrying cannot fix (wrong password, the upstream purged what the archive\n"
          "needs, the archive cannot be written), 2 on a bad option or config.\n",
          f);
}

static void stop(relay *r, int code)
{
    if (r->stopping)
        return;
    r->stopping = true;
    r->exit_code = code;
    event_base_loopexit(r->base, NULL);
}

static void serve_log_line(void *arg, const char *message)
{
    (void)arg;
    tfr_log("downstream: %s", message);
}

/* The server, once the archive knows what it serves. */
static bool start_server(relay *r, tf_error *err)
{
    if (r->server)
        return true;
    const tf_format *fmt = tf_binlog_store_format(r->store);
    if (!fmt)
        return true;
    tf_serve_account fallback = {r->upstream->user, r->upstream->password};
    tf_serve_account *accounts =
        calloc(r->rc->account_count ? r->rc->account_count : 1, sizeof *accounts);
    size_t count = r->rc->account_count;
    for (size_t i = 0; i < count; i++)
        accounts[i] = (tf_serve_account){r->rc->accounts[i].user, r->rc->accounts[i].password};
    if (count == 0) {
        accounts[0] = fallback;
        count = 1;
    }
    tf_serve_options opt = {.accounts = accounts,
                            .account_count = count,
                            .server_id = tf_binlog_store_source_server_id(r->store),
                            .flavour = fmt->flavour == TF_FLAVOUR_MARIADB ? TF_FLAVOUR_MARIADB
                                                                          : TF_FLAVOUR_MYSQL,
                            .server_version = fmt->server_version,
                            .version_comment = "tapflow-relay",
                            .hostname = "tapflow-relay",
                            .heartbeat_ns = 0, /* as MariaDB: only when asked for */
                            .verbose = r->verbose,
                            .log = serve_log_line};
    r->server = tf_serve_new(r->base, r->store, &opt, err);
    free(accounts);
    uint16_t port = 0;
    if (!r->server ||
        !tf_serve_listen(r->server, r->rc->listen_host, r->rc->listen_port, &port, err))
        return false;
    tfr_log("serving %s %s binlogs on %s:%u (%zu file(s), up to %s)",
            opt.flavour == TF_FLAVOUR_MARIADB ? "MariaDB" : "MySQL", fmt->server_version,
            r->rc->listen_host, (unsigned)port, tf_binlog_store_file_count(r->store),
            tf_binlog_store_file_name(r->store, tf_binlog_store_file_count(r->store) - 1));
    return true;
}

/* ---- upstream ---- */

static bool on_transaction(tf_replica *rep, const tf_replica_txn *txn, void *arg, tf_error *err)
{
    (void)rep;
    relay *r = arg;
    if (txn->event_count > r->txn_cap) {
        r->txn_cap = txn->event_count * 2;
        r->txn_events = realloc(r->txn_events, r->txn_cap * sizeof *r->txn_events);
        r->txn_lens = realloc(r->txn_lens, r->txn_cap * sizeof *r->txn_lens);
    }
    const uint8_t **ev = r->txn_events;
    size_t *len = r->txn_lens;
    size_t n = 0;
    for (size_t i = 0; i < txn->event_count; i++) {
        const tf_replica_event *e = &txn->events[i];
        if (e->inner)
            continue; /* inside a TRANSACTION_PAYLOAD, which is archived whole */
        ev[n] = e->event.body - TF_EVENT_HEADER_LEN;
        len[n++] = e->event.header.event_size;
    }
    return tf_archive_transaction(r->archive, ev, len, n, err);
}

static void on_event(tf_replica *rep, const tf_replica_event *e, void *arg)
{
    relay *r = arg;
    if (e->event.kind != TF_EVENT_FORMAT_DESCRIPTION || e->inner)
        return;
    tf_error err = {0};
    if (tf_binlog_store_file_count(r->store) == 0) {
        /* An empty archive starts where the upstream dump starts. */
        char pos[4096];
        tf_replica_position(rep, pos, sizeof pos);
        if (!tf_binlog_store_seed_gtid(r->store, e->event.format_description.flavour, pos, &err)) {
            tfr_log("cannot start the archive at '%s': %s", pos, err.message);
            stop(r, 1);
            return;
        }
    }
    if (!tf_archive_format(r->archive, e->event.body - TF_EVENT_HEADER_LEN,
                           e->event.header.event_size, &err) ||
        !start_server(r, &err)) {
        tfr_log("%s", err.message);
        stop(r, 1);
    }
}

static void on_replica_log(tf_replica *rep, const char *message, void *arg)
{
    (void)rep;
    (void)arg;
    tfr_log("upstream: %s", message);
}

static void on_stop(tf_replica *rep, const tf_error *err, void *arg)
{
    (void)rep;
    relay *r = arg;
    if (err) {
        tfr_log("upstream stopped: %s", err->message);
        stop(r, 1);
    }
}

static void on_archive_error(void *arg, const tf_error *err)
{
    relay *r = arg;
    tfr_log("%s", err->message);
    stop(r, 1);
}

static void on_archive_log(void *arg, const char *message)
{
    (void)arg;
    tfr_log("%s", message);
}

static bool start_upstream(relay *r, tf_error *err)
{
    const tfr_datasource *ds = r->upstream;
    tf_replica_options ro = {0};
    if (!tfr_datasource_conn(r->cfg, ds, &ro.conn, err))
        return false;
    ro.server_id = r->rc->server_id ? r->rc->server_id : tfr_flow_server_id(r->cfg, r->rc->name);
    ro.report_host = "tapflow-relay";
    ro.report_port = r->rc->listen_port;
    ro.retry_first_connect = tf_binlog_store_file_count(r->store) > 0;
    ro.send_annotate_rows = true;
    ro.cb.on_transaction = on_transaction;
    ro.cb.on_event = on_event;
    ro.cb.on_log = on_replica_log;
    ro.cb.on_stop = on_stop;
    ro.arg = r;
    const char *start = r->rc->start ? r->rc->start : "now";
    if (tf_binlog_store_file_count(r->store) > 0) {
        /* Resume after the last transaction the archive holds. */
        tf_binlog_store_gtid_text(r->store, r->start_gtid, sizeof r->start_gtid);
        ro.start = TF_REPLICA_START_GTID;
        ro.gtid = r->start_gtid;
    } else if (!strcmp(start, "now")) {
        ro.start = TF_REPLICA_START_NOW;
    } else if (!strcmp(start, "earliest")) {
        ro.start = TF_REPLICA_START_GTID;
        ro.gtid = "";
    } else {
        ro.start = TF_REPLICA_START_GTID;
        ro.gtid = start;
    }
    r->replica = tf_replica_new(r->base, &ro, err);
    if (!r->replica)
        return false;
    tfr_log("replicating from %s (%s:%u) as server_id %" PRIu32 ", from %s", ds->name,
            ds->socket ? ds->socket : ds->host, (unsigned)(ds->port ? ds->port : 3306),
            ro.server_id,
            ro.start == TF_REPLICA_START_NOW ? "its current position"
            : ro.gtid[0]                     ? ro.gtid
                                             : "its earliest binlog");
    return tf_replica_start(r->replica, err);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    relay *r = arg;
    const tf_archive_stats *as = tf_archive_get_stats(r->archive);
    if (as->transactions == r->last_transactions && !r->verbose)
        return;
    r->last_transactions = as->transactions;
    tf_serve_stats ss = {0};
    if (r->server)
        tf_serve_get_stats(r->server, &ss);
    char gtid[256];
    tf_binlog_store_gtid_text(r->store, gtid, sizeof gtid);
    tfr_log("archived %" PRIu64 " transactions (%" PRIu64 " bytes, %" PRIu64
            " syncs), %zu file(s), at %s; %zu downstream session(s), %zu dumping",
            as->transactions, as->bytes_written, as->syncs, tf_binlog_store_file_count(r->store),
            gtid, ss.sessions, ss.dumps);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    tfr_log("signal %d: stopping", (int)sig);
    stop(arg, 0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tapflow-relay %s\n", tf_version());
        return 0;
    }
    const char *config_path = NULL, *relay_name = NULL;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(a, "--relay") && i + 1 < argc) {
            relay_name = argv[++i];
        } else {
            fprintf(stderr, "tapflow-relay: bad option '%s' (see --help)\n", a);
            return 2;
        }
    }
    char default_path[4096];
    if (!config_path)
        config_path = tfr_config_default_path(default_path, sizeof default_path);
    tfr_config cfg;
    tf_error err = {0};
    if (!tfr_config_load(config_path, &cfg, &err)) {
        fprintf(stderr, "tapflow-relay: %s\n", err.message);
        return 2;
    }
    relay r = {.cfg = &cfg, .verbose = verbose};
    r.rc = tfr_config_relay(&cfg, relay_name);
    if (!r.rc) {
        if (relay_name)
            fprintf(stderr, "tapflow-relay: %s has no [relay %s] section\n", config_path,
                    relay_name);
        else
            fprintf(stderr,
                    "tapflow-relay: %s has %zu [relay] sections: name one with --relay NAME\n",
                    config_path, cfg.relay_count);
        tfr_config_cleanup(&cfg);
        return 2;
    }
    if (!tfr_config_resolve_passwords(&cfg, &err)) {
        fprintf(stderr, "tapflow-relay: %s\n", err.message);
        tfr_config_cleanup(&cfg);
        return 2;
    }
    r.upstream = tfr_config_datasource(&cfg, r.rc->upstream);
    signal(SIGPIPE, SIG_IGN);
    r.base = event_base_new();
    /* Three priorities, events default to the middle one: the archive's
     * group-commit sync takes the lowest, so it waits for the upstream's
     * pending reads. */
    event_base_priority_init(r.base, 3);
    r.store = tf_binlog_store_new();
    tf_archive_options ao = {.dir = r.rc->archive,
                             .rotate_bytes = r.rc->rotate_bytes,
                             .fsync_interval_ms = r.rc->fsync_interval_ms,
                             .retention_bytes = r.rc->retention_bytes,
                             .retention_seconds = r.rc->retention_seconds,
                             .compress = r.rc->compress,
                             .on_error = on_archive_error,
                             .on_log = on_archive_log,
                             .arg = &r};
    r.archive = tf_archive_open(r.base, &ao, r.store, &err);
    int code = 1;
    if (!r.archive) {
        tfr_log("%s", err.message);
        goto done;
    }
    {
        const tf_archive_stats *as = tf_archive_get_stats(r.archive);
        char gtid[256];
        tf_binlog_store_gtid_text(r.store, gtid, sizeof gtid);
        if (as->recovered_files)
            tfr_log("archive %s: %" PRIu64 " file(s), up to %s%s", r.rc->archive,
                    as->recovered_files, gtid[0] ? gtid : "(nothing yet)",
                    as->recovered_cut_bytes ? "; a torn tail was cut" : "");
        else
            tfr_log("archive %s: empty", r.rc->archive);
    }
    tf_archive_enforce_retention(r.archive);
    if (!start_server(&r, &err) || !start_upstream(&r, &err)) {
        tfr_log("%s", err.message);
        code = err.domain == TF_ERR_CONFIG ? 2 : 1;
        goto done;
    }
    struct event *sigint = evsignal_new(r.base, SIGINT, signal_cb, &r);
    struct event *sigterm = evsignal_new(r.base, SIGTERM, signal_cb, &r);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    r.status_timer = event_new(r.base, -1, EV_PERSIST, status_cb, &r);
    struct timeval ten = {10, 0};
    event_add(r.status_timer, &ten);
    event_base_dispatch(r.base);
    code = r.exit_code;
    event_free(sigint);
    event_free(sigterm);
    event_free(r.status_timer);
done:
    if (r.replica)
        tf_replica_destroy(r.replica);
    tf_serve_destroy(r.server);
    tf_archive_close(r.archive);
    tf_binlog_store_destroy(r.store);
    if (r.base)
        event_base_free(r.base);
    free(r.txn_events);
    free(r.txn_lens);
    tfr_config_cleanup(&cfg);
    return code;
}
