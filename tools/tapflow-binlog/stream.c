/* stream.c — tapflow-binlog --stream: tail a live server's binlog the way
 * `mysqlbinlog --read-from-remote-server --stop-never` does, printing the
 * same JSON lines as the file mode.
 *
 * The replica (replica/) registers with the server, asks for the binlog
 * and hands over complete transactions only; each event of a transaction is
 * printed with decode.c's printer, so a line is never printed for a
 * transaction that a cut connection then sends again. Events between
 * transactions (ROTATE, FORMAT_DESCRIPTION, GTID_LIST, ...) are printed as
 * they come (again after each reconnection, as the server resends them);
 * heartbeats are not printed (they are not in any binlog file). */
#include "decode.h"
#include "replica.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void stream_usage(FILE *f)
{
    fputs("usage: tapflow-binlog --stream [options]\n"
          "\n"
          "Connects to a MySQL or MariaDB server as a replica and prints its binlog as\n"
          "it is written, one JSON line per event or row change (the lines of the file\n"
          "mode, see tapflow-binlog --help), transaction by transaction: a transaction\n"
          "is printed once it is complete. Connection losses, server restarts and\n"
          "binlog rotations are followed: it reconnects (exponential backoff) and\n"
          "resumes after the last transaction printed, so nothing is lost or printed\n"
          "twice. Messages about the connection go to stderr.\n"
          "\n"
          "connection:\n"
          "  --host HOST            server name or address (default 127.0.0.1)\n"
          "  --port N               TCP port (default 3306)\n"
          "  --socket PATH          Unix socket instead of TCP\n"
          "  --user USER            account with REPLICATION SLAVE (or ALL) rights\n"
          "  --password-env VAR     read the password from environment variable VAR;\n"
          "                         without it the password is asked on the terminal\n"
          "                         (empty when there is none)\n"
          "  --ssl-mode MODE        disabled, preferred (default), required, verify-ca,\n"
          "                         verify-identity\n"
          "  --ssl-ca FILE          CA certificates (PEM) for verify-ca/verify-identity\n"
          "  --ssl-cert FILE        client certificate (PEM), --ssl-key FILE its key\n"
          "  --server-public-key-path FILE  RSA key for caching_sha2_password without TLS\n"
          "  --connect-timeout S    seconds to connect and set up (default 10)\n"
          "  --retry                retry when the first connection fails too (default:\n"
          "                         exit; later failures are always retried)\n"
          "\n"
          "replication:\n"
          "  --server-id N          our server_id (default 29793); must be unique among\n"
          "                         the server's replicas (SHOW SLAVE HOSTS shows it)\n"
          "  --report-host NAME     what SHOW SLAVE HOSTS shows as our host\n"
          "  --gtid POS             start after these transactions: MariaDB position\n"
          "                         (0-1-100,1-2-5) or MySQL GTID set (uuid:1-100)\n"
          "  --file F --position N  start in binlog F at offset N (default 4)\n"
          "                         (default start: the server's current position)\n"
          "  --heartbeat S          heartbeat period in seconds (default 5); silence for\n"
          "                         3 periods means a dead connection\n"
          "  --stop-never           wait for new events forever (the default)\n"
          "  --stop-at-end          stop once the server has sent everything it has\n"
          "  --stop-after-gtid GTID stop after the transaction with this GTID (0-1-42,\n"
          "                         uuid:42), as the file mode's option does\n"
          "\n"
          "output (as in the file mode): --events-only, --no-rows, --text-values,\n"
          "--summary (printed when the stream stops), --verify-only\n"
          "\n"
          "exit status: 0 stopped (SIGINT, SIGTERM, --stop-at-end, --stop-after-gtid),\n"
          "1 the server or the stream failed for good (wrong password, unknown host,\n"
          "TLS refused, purged position: the message says which), 2 usage or output\n"
          "error.\n",
          f);
}

typedef struct stream_ctx {
    tool_state st;
    struct event_base *base;
    tf_replica *replica;
    const char *stop_after_gtid; /* NULL: no such stop */
    int exit_code;
} stream_ctx;

static void flush_out(stream_ctx *s)
{
    out_flush(&s->st.out);
    fflush(stdout);
}

static bool on_transaction(tf_replica *r, const tf_replica_txn *txn, void *arg, tf_error *err)
{
    stream_ctx *s = arg;
    (void)r;
    /* Table maps are per transaction in a row binlog. */
    tf_table_maps_clear(s->st.maps);
    for (size_t i = 0; i < txn->event_count; i++) {
        const tf_replica_event *e = &txn->events[i];
        if (e->inner)
            continue; /* printed with their TRANSACTION_PAYLOAD */
        if (tool_decode_event(&s->st, e->log_file, &e->event, e->format, e->pos, e->next_pos) !=
            0) {
            tf_error_set(err, TF_ERR_PROTOCOL, 0, "transaction %s could not be printed (see above)",
                         txn->gtid[0] ? txn->gtid : "(anonymous)");
            s->exit_code = 1;
            return false;
        }
    }
    flush_out(s);
    if (s->st.out.failed) {
        tf_error_set(err, TF_ERR_IO, 0, "writing the output failed");
        s->exit_code = 2;
        return false;
    }
    /* The replica allows a stop from here: this transaction is complete. */
    if (s->stop_after_gtid != NULL && strcmp(txn->gtid, s->stop_after_gtid) == 0)
        tf_replica_stop(r);
    return true;
}

static void on_event(tf_replica *r, const tf_replica_event *e, void *arg)
{
    stream_ctx *s = arg;
    if (e->event.kind == TF_EVENT_HEARTBEAT)
        return;
    if (tool_decode_event(&s->st, e->log_file, &e->event, e->format, e->pos, e->next_pos) != 0) {
        s->exit_code = 1;
        tf_replica_stop(r);
        return;
    }
    flush_out(s);
}

static void on_log(tf_replica *r, const char *message, void *arg)
{
    (void)r;
    (void)arg;
    fprintf(stderr, "tapflow-binlog: %s\n", message);
}

static void on_stop(tf_replica *r, const tf_error *err, void *arg)
{
    stream_ctx *s = arg;
    (void)r;
    if (err != NULL) {
        flush_out(s);
        fprintf(stderr, "tapflow-binlog: %s\n", err->message);
        if (s->exit_code == 0)
            s->exit_code = 1;
    }
    event_base_loopexit(s->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    stream_ctx *s = arg;
    (void)what;
    fprintf(stderr, "tapflow-binlog: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tf_replica_stop(s->replica);
}

/* Reads a password from the terminal without echo; "" when there is none. */
static char *prompt_password(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return strdup("");
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    const char prompt[] = "Enter password: ";
    if (write(fd, prompt, sizeof prompt - 1) < 0) {
        /* nothing to do: the read below still works */
    }
    char buf[1024];
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t k = read(fd, &ch, 1);
        if (k <= 0 || ch == '\n' || ch == '\r')
            break;
        if (n + 1 < sizeof buf)
            buf[n++] = ch;
    }
    buf[n] = '\0';
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* ignore */
    }
    close(fd);
    char *pw = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return pw;
}

static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

int tool_stream_main(int argc, char **argv)
{
    tool_options topt;
    memset(&topt, 0, sizeof topt);
    tf_replica_options ro;
    memset(&ro, 0, sizeof ro);
    ro.conn.host = "127.0.0.1";
    ro.conn.port = 3306;
    ro.conn.tls_mode = TF_TLS_PREFERRED;
    const char *password_env = NULL;
    bool have_position = false;
    const char *stop_after_gtid = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            value = eq + 1;
            a = name;
        }
        static const char *const with_value[] = {
            "--host",
            "--port",
            "--socket",
            "--user",
            "--password-env",
            "--ssl-mode",
            "--ssl-ca",
            "--ssl-cert",
            "--ssl-key",
            "--server-public-key-path",
            "--connect-timeout",
            "--server-id",
            "--report-host",
            "--gtid",
            "--file",
            "--position",
            "--heartbeat",
            "--stop-after-gtid",
        };
        bool takes_value = false;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            if (strcmp(a, with_value[k]) == 0)
                takes_value = true;
        if (takes_value && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tapflow-binlog: %s needs a value\n", a);
                return 2;
            }
            value = argv[++i];
        }
        uint64_t n = 0;
        if (strcmp(a, "--stream") == 0 || strcmp(a, "--stop-never") == 0) {
            /* --stop-never is the default; accepted as mysqlbinlog spells it */
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            stream_usage(stdout);
            return 0;
        } else if (strcmp(a, "--host") == 0) {
            ro.conn.host = value;
        } else if (strcmp(a, "--port") == 0) {
            if (!parse_number(value, 65535, &n) || n == 0) {
                fprintf(stderr, "tapflow-binlog: --port: not a port: '%s'\n", value);
                return 2;
            }
            ro.conn.port = (uint16_t)n;
        } else if (strcmp(a, "--socket") == 0) {
            ro.conn.socket_path = value;
        } else if (strcmp(a, "--user") == 0) {
            ro.conn.user = value;
        } else if (strcmp(a, "--password-env") == 0) {
            password_env = value;
        } else if (strcmp(a, "--ssl-mode") == 0) {
            if (!tf_tls_mode_parse(value, &ro.conn.tls_mode)) {
                fprintf(stderr,
                        "tapflow-binlog: --ssl-mode: '%s' is not one of disabled, preferred, "
                        "required, verify-ca, verify-identity\n",
                        value);
                return 2;
            }
        } else if (strcmp(a, "--ssl-ca") == 0) {
            ro.conn.tls_ca_file = value;
        } else if (strcmp(a, "--ssl-cert") == 0) {
            ro.conn.tls_cert_file = value;
        } else if (strcmp(a, "--ssl-key") == 0) {
            ro.conn.tls_key_file = value;
        } else if (strcmp(a, "--server-public-key-path") == 0) {
            ro.conn.server_public_key_file = value;
        } else if (strcmp(a, "--connect-timeout") == 0) {
            if (!parse_seconds(value, &ro.conn.connect_timeout)) {
                fprintf(stderr,
                        "tapflow-binlog: --connect-timeout: not a number of seconds: '%s'\n",
                        value);
                return 2;
            }
        } else if (strcmp(a, "--heartbeat") == 0) {
            if (!parse_seconds(value, &ro.heartbeat_period)) {
                fprintf(stderr, "tapflow-binlog: --heartbeat: not a number of seconds: '%s'\n",
                        value);
                return 2;
            }
        } else if (strcmp(a, "--retry") == 0) {
            ro.retry_first_connect = true;
        } else if (strcmp(a, "--server-id") == 0) {
            if (!parse_number(value, UINT32_MAX, &n) || n == 0) {
                fprintf(stderr,
                        "tapflow-binlog: --server-id: not a server id (1..4294967295): '%s'\n",
                        value);
                return 2;
            }
            ro.server_id = (uint32_t)n;
        } else if (strcmp(a, "--report-host") == 0) {
            ro.report_host = value;
        } else if (strcmp(a, "--gtid") == 0) {
            ro.start = TF_REPLICA_START_GTID;
            ro.gtid = value;
        } else if (strcmp(a, "--file") == 0) {
            ro.start = TF_REPLICA_START_FILE;
            ro.file = value;
        } else if (strcmp(a, "--position") == 0) {
            if (!parse_number(value, UINT32_MAX, &n) || n < 4) {
                fprintf(stderr, "tapflow-binlog: --position: not a binlog offset: '%s'\n", value);
                return 2;
            }
            ro.position = n;
            have_position = true;
        } else if (strcmp(a, "--stop-at-end") == 0) {
            ro.stop_at_end = true;
        } else if (strcmp(a, "--stop-after-gtid") == 0) {
            stop_after_gtid = value;
        } else if (strcmp(a, "--summary") == 0) {
            topt.summary = true;
        } else if (strcmp(a, "--events-only") == 0) {
            topt.events_only = true;
        } else if (strcmp(a, "--no-rows") == 0) {
            topt.no_rows = true;
        } else if (strcmp(a, "--verify-only") == 0) {
            topt.verify_only = true;
        } else if (strcmp(a, "--text-values") == 0) {
            topt.text_values = true;
        } else {
            fprintf(stderr, "tapflow-binlog: --stream: unknown option %s (see --stream --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (ro.conn.user == NULL) {
        fprintf(stderr, "tapflow-binlog: --stream needs --user\n");
        return 2;
    }
    if (have_position && ro.start != TF_REPLICA_START_FILE) {
        fprintf(stderr, "tapflow-binlog: --position needs --file\n");
        return 2;
    }
    if (ro.gtid != NULL && ro.file != NULL) {
        fprintf(stderr, "tapflow-binlog: --gtid and --file exclude each other\n");
        return 2;
    }
    char *password = NULL;
    if (password_env != NULL) {
        const char *pw = getenv(password_env);
        if (pw == NULL) {
            fprintf(stderr, "tapflow-binlog: --password-env: %s is not set\n", password_env);
            return 2;
        }
        password = strdup(pw);
    } else {
        password = prompt_password();
    }
    if (password == NULL)
        return 2;
    ro.conn.password = password;

    signal(SIGPIPE, SIG_IGN);
    stream_ctx s;
    memset(&s, 0, sizeof s);
    s.stop_after_gtid = stop_after_gtid;
    int rc = 2;
    bool state_ok = tool_state_init(&s.st, &topt, stdout);
    s.base = event_base_new();
    if (s.base == NULL || !state_ok) {
        fprintf(stderr, "tapflow-binlog: out of memory\n");
        goto done;
    }
    ro.cb.on_transaction = on_transaction;
    ro.cb.on_event = on_event;
    ro.cb.on_log = on_log;
    ro.cb.on_stop = on_stop;
    ro.arg = &s;
    tf_error err = {0};
    s.replica = tf_replica_new(s.base, &ro, &err);
    if (s.replica == NULL) {
        fprintf(stderr, "tapflow-binlog: %s\n", err.message);
        goto done;
    }
    struct event *sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
    struct event *sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    if (!tf_replica_start(s.replica, &err)) {
        fprintf(stderr, "tapflow-binlog: %s\n", err.message);
    } else {
        event_base_dispatch(s.base);
        rc = s.exit_code;
    }
    if (rc == 0 && topt.summary)
        tool_print_summary(&s.st);
    flush_out(&s);
    if (s.st.out.failed && rc == 0) {
        fprintf(stderr, "tapflow-binlog: writing the output failed\n");
        rc = 2;
    }
    event_free(sigint);
    event_free(sigterm);
    tf_replica_destroy(s.replica);
done:
    tool_state_cleanup(&s.st);
    if (s.base)
        event_base_free(s.base);
    explicit_bzero(password, strlen(password));
    free(password);
    return rc;
}
