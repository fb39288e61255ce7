/* connection.c — one client connection as a libevent state machine:
 *
 *   CONNECTING   TCP (name resolved by evdns) or Unix socket
 *   HANDSHAKE    the server's handshake v10 (sequence 0)
 *   TLS          SSLRequest sent in clear, then the TLS handshake through an
 *                OpenSSL filter bufferevent stacked on the socket one
 *   AUTH         HandshakeResponse41, then protocol/'s tf_auth state machine
 *                answers whatever the server sends (auth switch, fast/full
 *                caching_sha2, RSA key exchange, ed25519)
 *   READY        logical packets go to the owner's on_packet
 *
 * Packets are framed with protocol/'s tf_packet_scan straight out of the
 * bufferevent's input (no copy for a payload in one chunk) and checked for
 * their sequence id. Every bufferevent defers its callbacks, so nothing the
 * owner calls ever calls it back before returning; the owner may destroy the
 * connection from any of its callbacks (see busy/doomed). */
#include "replica_internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define CLIENT_MAX_PACKET (1u << 30) /* max_allowed_packet's ceiling */
#define CLIENT_CHARSET 45            /* utf8mb4_general_ci: MySQL and MariaDB */

typedef enum conn_state {
    C_CONNECTING,
    C_HANDSHAKE,
    C_TLS,
    C_AUTH,
    C_READY,
    C_CLOSED,
} conn_state;

struct tf_conn {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl_ctx;
    const tf_conn_options *opt;
    tf_conn_handlers h;
    void *arg;
    struct bufferevent *bev; /* top of the stack: the TLS filter when on */
    conn_state state;
    uint8_t expected_seq;
    tf_handshake hs;
    uint64_t caps;
    tf_auth auth;
    bool auth_started;
    bool tls;
    const uint8_t *pem; /* server public key (borrowed) */
    size_t pem_len;
    uint8_t *assembled; /* payloads of several chunks, made contiguous */
    size_t assembled_cap;
    double last_rx;
    char peer[300];
    int busy;
    bool doomed;
};

double tf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *state_doing(conn_state s)
{
    switch (s) {
    case C_CONNECTING: return "while connecting";
    case C_HANDSHAKE: return "before the handshake";
    case C_TLS: return "during the TLS handshake";
    case C_AUTH: return "during authentication";
    default: return "";
    }
}

/* Fails the connection once: closes it and tells the owner. */
static void conn_fail(tf_conn *c, const tf_error *err, bool fatal)
{
    if (c->state == C_CLOSED || c->doomed)
        return;
    c->state = C_CLOSED;
    if (c->bev != NULL)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    c->busy++;
    c->h.on_error(c, err, fatal, c->arg);
    c->busy--;
    if (c->doomed && c->busy == 0)
        tf_conn_destroy(c);
}

static bool send_packet(tf_conn *c, const uint8_t *payload, size_t len, uint8_t seq, tf_error *err)
{
    size_t wire = tf_packet_encoded_size(len);
    uint8_t small[512];
    uint8_t *buf = wire <= sizeof small ? small : malloc(wire);
    if (buf == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory for a %zu-byte packet", len);
        return false;
    }
    uint8_t next = 0;
    tf_packet_encode(NULL, 0, payload, len, seq, buf, wire, &next);
    int rc = bufferevent_write(c->bev, buf, wire);
    if (buf != small)
        free(buf);
    if (rc != 0) {
        tf_error_set(err, TF_ERR_IO, 0, "cannot queue %zu bytes to %s", wire, c->peer);
        return false;
    }
    c->expected_seq = next;
    return true;
}

bool tf_conn_send_command(tf_conn *c, const uint8_t *payload, size_t len, tf_error *err)
{
    if (c->state != C_READY) {
        tf_error_set(err, TF_ERR_IO, 0, "connection to %s is not ready for commands", c->peer);
        return false;
    }
    return send_packet(c, payload, len, 0, err);
}

/* ---- handshake, TLS, auth ---------------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static bool send_handshake_response(tf_conn *c, uint8_t seq, tf_error *err)
{
    static const tf_connect_attr attrs[] = {
        {"_client_name", "tapflow"},
        {"_client_version", "0.1"},
        {"program_name", "tapflow"},
    };
    tf_handshake_response resp = {
        .capabilities = c->caps,
        .max_packet_size = CLIENT_MAX_PACKET,
        .charset = CLIENT_CHARSET,
        .username = c->opt->user ? c->opt->user : "",
        .auth_response = c->auth.response,
        .auth_response_len = c->auth.response_len,
        .auth_plugin = c->auth.plugin_name,
        .attrs = (c->caps & TF_CLIENT_CONNECT_ATTRS) ? attrs : NULL,
        .attr_count = (c->caps & TF_CLIENT_CONNECT_ATTRS) ? sizeof attrs / sizeof attrs[0] : 0,
    };
    uint8_t buf[2048];
    size_t written = 0;
    if (tf_handshake_response_encode(&resp, buf, sizeof buf, &written, err) != TF_OK)
        return false;
    bool ok = send_packet(c, buf, written, seq, err);
    OPENSSL_cleanse(buf, sizeof buf);
    return ok;
}

static bool host_is_address(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    return evutil_inet_pton(AF_INET, host, &a4) == 1 || evutil_inet_pton(AF_INET6, host, &a6) == 1;
}

static bool start_tls(tf_conn *c, tf_error *err)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    if (ssl == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "TLS: SSL_new failed");
        return false;
    }
    const char *host = c->opt->host;
    if (c->opt->socket_path == NULL && host != NULL) {
        if (!host_is_address(host))
            SSL_set_tlsext_host_name(ssl, host);
        if (c->opt->tls_mode == TF_TLS_VERIFY_IDENTITY) {
            X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            int ok = host_is_address(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                                           : X509_VERIFY_PARAM_set1_host(param, host, 0);
            if (!ok) {
                SSL_free(ssl);
                tf_error_set(err, TF_ERR_CONFIG, 0, "TLS: cannot check the identity '%s'", host);
                return false;
            }
        }
    }
    struct bufferevent *tls =
        bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (tls == NULL) {
        SSL_free(ssl);
        tf_error_set(err, TF_ERR_IO, 0, "TLS: cannot create the TLS bufferevent");
        return false;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    bufferevent_set_max_single_read(tls, TF_CONN_MAX_SINGLE_READ);
    c->bev = tls;
    c->state = C_TLS;
    bufferevent_setcb(tls, read_cb, NULL, event_cb, c);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
    return true;
}

static void on_handshake(tf_conn *c, const uint8_t *payload, size_t len)
{
    tf_error err = {0};
    if (tf_handshake_decode(payload, len, &c->hs, &err) != TF_OK) {
        tf_error_prefix(&err, "%s", c->peer);
        /* "Too many connections" or "host blocked": may pass; bytes that are
         * not a handshake at all will not. */
        conn_fail(c, &err, err.domain != TF_ERR_SERVER);
        return;
    }
    tf_tls_mode mode = c->opt->tls_mode;
    bool server_tls = (c->hs.capabilities & TF_CLIENT_SSL) != 0;
    bool want_tls = mode != TF_TLS_DISABLED && c->ssl_ctx != NULL;
    if (want_tls && !server_tls) {
        if (mode != TF_TLS_PREFERRED) {
            tf_error_set(&err, TF_ERR_CONFIG, 0,
                         "TLS mode %s: the server %s does not offer TLS (it is not configured "
                         "with a certificate; use --ssl-mode=preferred or disabled to connect "
                         "without encryption)",
                         tf_tls_mode_name(mode), c->peer);
            conn_fail(c, &err, true);
            return;
        }
        want_tls = false;
    }
    uint64_t wants = TF_CLIENT_LONG_PASSWORD | TF_CLIENT_LONG_FLAG | TF_CLIENT_PROTOCOL_41 |
                     TF_CLIENT_TRANSACTIONS | TF_CLIENT_SECURE_CONNECTION | TF_CLIENT_PLUGIN_AUTH |
                     TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | TF_CLIENT_CONNECT_ATTRS |
                     TF_CLIENT_DEPRECATE_EOF | TF_CLIENT_MULTI_RESULTS;
    if (want_tls)
        wants |= TF_CLIENT_SSL;
    c->caps = tf_handshake_negotiate(wants, c->hs.capabilities);
    if (!(c->caps & TF_CLIENT_PROTOCOL_41)) {
        tf_error_set(&err, TF_ERR_UNSUPPORTED, 0, "%s: the server does not speak protocol 4.1",
                     c->peer);
        conn_fail(c, &err, true);
        return;
    }
    bool secure = want_tls || c->opt->socket_path != NULL;
    const char *pw = c->opt->password ? c->opt->password : "";
    tf_auth_init(&c->auth, pw, strlen(pw), secure);
    c->auth_started = true;
    if (c->pem != NULL)
        tf_auth_set_server_public_key(&c->auth, c->pem, c->pem_len);
    if (tf_auth_start(&c->auth, &c->hs, &err) != TF_OK) {
        tf_error_prefix(&err, "%s", c->peer);
        conn_fail(c, &err, true);
        return;
    }
    if (want_tls) {
        uint8_t req[64];
        size_t n = 0;
        if (tf_ssl_request_encode(c->caps, CLIENT_MAX_PACKET, CLIENT_CHARSET, req, sizeof req, &n,
                                  &err) != TF_OK ||
            !send_packet(c, req, n, c->expected_seq, &err) || !start_tls(c, &err)) {
            conn_fail(c, &err, true);
            return;
        }
        c->tls = true;
        return; /* the response follows once TLS is up (event_cb) */
    }
    c->state = C_AUTH;
    if (!send_handshake_response(c, c->expected_seq, &err))
        conn_fail(c, &err, false);
}

static void on_auth_packet(tf_conn *c, const uint8_t *payload, size_t len)
{
    tf_error err = {0};
    switch (tf_auth_step(&c->auth, payload, len, &err)) {
    case TF_AUTH_SEND:
        if (!send_packet(c, c->auth.response, c->auth.response_len, c->expected_seq, &err))
            conn_fail(c, &err, false);
        return;
    case TF_AUTH_READ: return;
    case TF_AUTH_DONE:
        tf_auth_cleanup(&c->auth);
        c->auth_started = false;
        c->state = C_READY;
        c->h.on_ready(c, c->arg);
        return;
    case TF_AUTH_FAILED:
        tf_error_prefix(&err, "%s: user '%s'", c->peer, c->opt->user ? c->opt->user : "");
        /* Access denied and refused plugins do not get better by retrying. */
        conn_fail(c, &err, true);
        return;
    }
}

/* ---- bufferevent callbacks ------------------------------------------------------ */

static void deliver(tf_conn *c, const uint8_t *payload, size_t len)
{
    switch (c->state) {
    case C_HANDSHAKE: on_handshake(c, payload, len); break;
    case C_AUTH: on_auth_packet(c, payload, len); break;
    case C_READY: c->h.on_packet(c, payload, len, c->arg); break;
    default: {
        tf_error err;
        tf_error_set(&err, TF_ERR_PROTOCOL, 0, "%s: unexpected packet %s", c->peer,
                     state_doing(c->state));
        conn_fail(c, &err, false);
    }
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    tf_conn *c = arg;
    (void)bev;
    c->last_rx = tf_now();
    c->busy++;
    size_t need = TF_PACKET_HEADER_LEN;
    while (!c->doomed && c->state != C_CLOSED) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t avail = evbuffer_get_length(in);
        if (avail < need)
            break;
        const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)need);
        tf_packet_span span;
        tf_error err = {0};
        tf_status st = tf_packet_scan(buf, need, c->expected_seq, &span, &err);
        if (st == TF_NEED_MORE) {
            need = span.wire_len;
            continue;
        }
        if (st != TF_OK) {
            tf_error_prefix(&err, "%s", c->peer);
            conn_fail(c, &err, false);
            break;
        }
        const uint8_t *payload = span.payload;
        /* The handshake may start TLS: the filter then reads what is left
         * in this input buffer, so the handshake must be out of it first. */
        bool copy_out = span.chunks > 1 || c->state == C_HANDSHAKE;
        if (copy_out) {
            if (span.payload_len > c->assembled_cap) {
                uint8_t *p = realloc(c->assembled, span.payload_len);
                if (p == NULL) {
                    tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a %zu-byte packet",
                                 span.payload_len);
                    conn_fail(c, &err, true);
                    break;
                }
                c->assembled = p;
                c->assembled_cap = span.payload_len;
            }
            tf_packet_assemble(buf, &span, c->assembled);
            payload = c->assembled;
            evbuffer_drain(in, span.wire_len);
        }
        c->expected_seq = span.next_seq;
        deliver(c, payload, span.payload_len);
        if (c->doomed || c->state == C_CLOSED)
            break;
        if (!copy_out)
            evbuffer_drain(in, span.wire_len);
        need = TF_PACKET_HEADER_LEN;
    }
    c->busy--;
    if (c->doomed && c->busy == 0)
        tf_conn_destroy(c);
}

static void describe_tls_error(tf_conn *c, tf_error *err)
{
    char detail[256] = "";
    unsigned long e;
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
        if (detail[0] == '\0')
            ERR_error_string_n(e, detail, sizeof detail);
    }
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK)
        tf_error_set(err, TF_ERR_IO, 0, "TLS handshake with %s failed: certificate: %s", c->peer,
                     X509_verify_cert_error_string(verify));
    else if (detail[0])
        tf_error_set(err, TF_ERR_IO, 0, "TLS handshake with %s failed: %s", c->peer, detail);
    else
        tf_error_set(err, TF_ERR_IO, 0, "TLS handshake with %s failed: %s", c->peer,
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    tf_conn *c = arg;
    (void)bev;
    tf_error err = {0};
    if (what & BEV_EVENT_CONNECTED) {
        if (c->state == C_CONNECTING) {
            evutil_socket_t fd = bufferevent_getfd(c->bev);
            if (c->opt->socket_path == NULL) {
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            }
            c->state = C_HANDSHAKE;
            c->expected_seq = 0;
            c->last_rx = tf_now();
        } else if (c->state == C_TLS) {
            c->state = C_AUTH;
            c->busy++;
            if (!send_handshake_response(c, c->expected_seq, &err))
                conn_fail(c, &err, false);
            c->busy--;
            if (c->doomed && c->busy == 0)
                tf_conn_destroy(c);
        }
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int dns_err = bufferevent_socket_get_dns_error(c->bev);
        bool fatal = false;
        if (c->state == C_CONNECTING && dns_err != 0) {
            tf_error_set(&err, TF_ERR_IO, 0, "cannot resolve host '%s': %s", c->opt->host,
                         evutil_gai_strerror(dns_err));
        } else if (c->state == C_TLS) {
            describe_tls_error(c, &err);
            fatal = true; /* an untrusted certificate stays untrusted */
        } else if (c->state == C_CONNECTING) {
            tf_error_set(&err, TF_ERR_IO, 0, "cannot connect to %s: %s", c->peer,
                         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        } else {
            tf_error_set(&err, TF_ERR_IO, 0, "connection to %s lost %s: %s", c->peer,
                         state_doing(c->state),
                         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        }
        conn_fail(c, &err, fatal);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        tf_error_set(&err, TF_ERR_IO, 0, "the server %s closed the connection%s%s", c->peer,
                     c->state == C_READY ? "" : " ", state_doing(c->state));
        conn_fail(c, &err, false);
    }
}

/* ---- life cycle ------------------------------------------------------------------ */

tf_conn *tf_conn_new(struct event_base *base, struct evdns_base *dns, SSL_CTX *ssl_ctx,
                     const uint8_t *pem, size_t pem_len, const tf_conn_options *opt,
                     const tf_conn_handlers *h, void *arg)
{
    tf_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->base = base;
    c->dns = dns;
    c->ssl_ctx = ssl_ctx;
    c->opt = opt;
    c->h = *h;
    c->arg = arg;
    c->state = C_CONNECTING;
    if (opt->socket_path != NULL)
        snprintf(c->peer, sizeof c->peer, "%s", opt->socket_path);
    else
        snprintf(c->peer, sizeof c->peer, "%s:%u", opt->host ? opt->host : "localhost",
                 opt->port ? opt->port : 3306);
    c->pem = pem;
    c->pem_len = pem_len;
    return c;
}

void tf_conn_start(tf_conn *c)
{
    tf_error err = {0};
    c->last_rx = tf_now();
    c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (c->bev == NULL) {
        tf_error_set(&err, TF_ERR_IO, 0, "cannot create a socket for %s", c->peer);
        conn_fail(c, &err, false);
        return;
    }
    /* libevent reads a few KiB per loop turn by default: a stream catching
     * up would cost a turn (and, in the relay, an fdatasync) per few
     * events. */
    bufferevent_set_max_single_read(c->bev, TF_CONN_MAX_SINGLE_READ);
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (c->opt->socket_path != NULL) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        if (strlen(c->opt->socket_path) >= sizeof sun.sun_path) {
            tf_error_set(&err, TF_ERR_CONFIG, 0, "socket path too long: %s", c->opt->socket_path);
            conn_fail(c, &err, true);
            return;
        }
        strcpy(sun.sun_path, c->opt->socket_path);
        /* Errors (ENOENT, ECONNREFUSED) arrive through event_cb. */
        bufferevent_socket_connect(c->bev, (struct sockaddr *)&sun, sizeof sun);
        return;
    }
    const char *host = c->opt->host ? c->opt->host : "localhost";
    bufferevent_socket_connect_hostname(c->bev, c->dns, AF_UNSPEC, host,
                                        c->opt->port ? c->opt->port : 3306);
}

void tf_conn_destroy(tf_conn *c)
{
    if (c == NULL)
        return;
    if (c->busy > 0) {
        c->doomed = true;
        if (c->bev != NULL)
            bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->auth_started)
        tf_auth_cleanup(&c->auth);
    free(c->assembled);
    free(c);
}

const tf_handshake *tf_conn_handshake(const tf_conn *c) { return &c->hs; }
uint64_t tf_conn_capabilities(const tf_conn *c) { return c->caps; }
bool tf_conn_is_tls(const tf_conn *c) { return c->tls; }
double tf_conn_last_receive(const tf_conn *c) { return c->last_rx; }
const char *tf_conn_peer(const tf_conn *c) { return c->peer; }

/* ---- TLS modes ---------------------------------------------------------------------- */

static const struct {
    tf_tls_mode mode;
    const char *name;
} tls_modes[] = {
    {TF_TLS_DISABLED, "disabled"},
    {TF_TLS_PREFERRED, "preferred"},
    {TF_TLS_REQUIRED, "required"},
    {TF_TLS_VERIFY_CA, "verify-ca"},
    {TF_TLS_VERIFY_IDENTITY, "verify-identity"},
};

bool tf_tls_mode_parse(const char *text, tf_tls_mode *out)
{
    for (size_t i = 0; i < sizeof tls_modes / sizeof tls_modes[0]; i++) {
        const char *n = tls_modes[i].name;
        size_t k = 0;
        /* MySQL spells them DISABLED, VERIFY_CA: any case, '_' for '-'. */
        for (; n[k] && text[k]; k++) {
            char a = text[k] == '_' ? '-' : text[k];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (a != n[k])
                break;
        }
        if (n[k] == '\0' && text[k] == '\0') {
            *out = tls_modes[i].mode;
            return true;
        }
    }
    return false;
}

const char *tf_tls_mode_name(tf_tls_mode mode)
{
    for (size_t i = 0; i < sizeof tls_modes / sizeof tls_modes[0]; i++)
        if (tls_modes[i].mode == mode)
            return tls_modes[i].name;
    return "unknown";
}
