/* server.c — a replication server: the listener, the accounts, the open
 * sessions, and the wake-up of idle dumps when the store commits. */
#include "serve_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void serve_log(const tf_serve *srv, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (srv->opt.log) {
        srv->opt.log(srv->opt.log_arg, message);
        return;
    }
    char stamp[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(stderr, "serve %s.%03ld: %s\n", stamp, ts.tv_nsec / 1000000, message);
}

/* The store committed: every dump waiting at its end goes on. */
static void store_committed(void *arg)
{
    tf_serve *srv = arg;
    serve_session *next;
    for (serve_session *s = srv->sessions; s; s = next) {
        next = s->next; /* a read error may close s */
        if (s->state == SESSION_DUMP && s->dump.idle)
            serve_dump_pump(s);
    }
}

tf_serve *tf_serve_new(struct event_base *base, tf_binlog_store *store, const tf_serve_options *opt,
                       tf_error *err)
{
    if (opt->account_count == 0) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "a replication server needs at least one account");
        return NULL;
    }
    tf_serve *srv = calloc(1, sizeof *srv);
    srv->opt = *opt;
    srv->base = base;
    srv->store = store;
    srv->accounts = calloc(opt->account_count, sizeof *srv->accounts);
    srv->password_stage2 = calloc(opt->account_count, sizeof *srv->password_stage2);
    for (size_t i = 0; i < opt->account_count; i++) {
        const char *password = opt->accounts[i].password ? opt->accounts[i].password : "";
        srv->accounts[i].user = strdup(opt->accounts[i].user ? opt->accounts[i].user : "");
        srv->accounts[i].password = strdup(password);
        tf_native_password_hash(password, strlen(password), srv->password_stage2[i]);
    }
    srv->opt.accounts = srv->accounts;
    snprintf(srv->server_version, sizeof srv->server_version, "%s",
             opt->server_version ? opt->server_version : "10.11.19-MariaDB-log");
    snprintf(srv->version_comment, sizeof srv->version_comment, "%s",
             opt->version_comment ? opt->version_comment : "tapflow");
    snprintf(srv->hostname, sizeof srv->hostname, "%s", opt->hostname ? opt->hostname : "tapflow");
    srv->opt.server_version = srv->server_version;
    srv->opt.version_comment = srv->version_comment;
    srv->opt.hostname = srv->hostname;
    serve_store_add_listener(store, store_committed, srv);
    return srv;
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
    serve_session_accept(arg, fd, host, port);
}

bool tf_serve_listen(tf_serve *srv, const char *addr, uint16_t port, uint16_t *bound_port,
                     tf_error *err)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "listen address '%s' is not an IPv4 address",
                            addr) == TF_OK;
    srv->listener = evconnlistener_new_bind(srv->base, accept_cb, srv,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                            (struct sockaddr *)&sin, sizeof sin);
    if (!srv->listener)
        return tf_error_set(err, TF_ERR_IO, 0, "cannot listen on %s:%u: %s", addr, (unsigned)port,
                            strerror(errno)) == TF_OK;
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&bound, &bound_len);
    srv->port = ntohs(bound.sin_port);
    if (bound_port)
        *bound_port = srv->port;
    return true;
}

void serve_session_unlink(tf_serve *srv, serve_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (srv->sessions == s)
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

void tf_serve_destroy(tf_serve *srv)
{
    if (!srv)
        return;
    while (srv->sessions)
        serve_session_free(srv->sessions);
    if (srv->listener)
        evconnlistener_free(srv->listener);
    serve_store_remove_listener(srv->store, srv);
    for (size_t i = 0; i < srv->opt.account_count; i++) {
        free((char *)srv->accounts[i].user);
        free((char *)srv->accounts[i].password);
    }
    free(srv->accounts);
    free(srv->password_stage2);
    free(srv);
}

void tf_serve_get_stats(const tf_serve *srv, tf_serve_stats *out)
{
    *out = srv->stats;
    out->sessions = 0;
    out->dumps = 0;
    for (const serve_session *s = srv->sessions; s; s = s->next) {
        out->sessions++;
        if (s->state == SESSION_DUMP)
            out->dumps++;
    }
}
