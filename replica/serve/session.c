/* session.c — one downstream connection: handshake v10,
 * mysql_native_password against the server's accounts, commands (COM_QUERY,
 * COM_REGISTER_SLAVE, the dump commands, ping, quit), and the packets of
 * its answers. The dump itself is dump.c's. */
#include "serve_internal.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTPUT_LOW_WATER (256u << 10) /* the dump refills below this */

const char *serve_session_var(const serve_session *s, const char *name)
{
    for (size_t i = 0; i < s->var_count; i++)
        if (!strcmp(s->vars[i].name, name))
            return s->vars[i].value;
    return NULL;
}

bool serve_session_set_var(serve_session *s, const char *name, const char *value)
{
    serve_user_var *v = NULL;
    for (size_t i = 0; i < s->var_count; i++)
        if (!strcmp(s->vars[i].name, name))
            v = &s->vars[i];
    if (!v) {
        if (s->var_count == SERVE_MAX_VARS)
            return false;
        v = &s->vars[s->var_count++];
        v->name = strdup(name);
        v->value = NULL;
    }
    free(v->value);
    v->value = value ? strdup(value) : NULL;
    return true;
}

/* ---- sending ---- */

void serve_send_parts(serve_session *s, const uint8_t *head, size_t head_len, const uint8_t *body,
                      size_t body_len)
{
    size_t total = head_len + body_len;
    if (total < TF_PACKET_MAX_CHUNK && head_len <= 16) {
        /* One packet (the usual case: an event): header and head copied
         * once into the output, the body appended after them. */
        uint8_t prefix[TF_PACKET_HEADER_LEN + 16];
        prefix[0] = (uint8_t)total;
        prefix[1] = (uint8_t)(total >> 8);
        prefix[2] = (uint8_t)(total >> 16);
        prefix[3] = s->seq++;
        if (head_len)
            memcpy(prefix + TF_PACKET_HEADER_LEN, head, head_len);
        struct evbuffer *out = bufferevent_get_output(s->bev);
        evbuffer_add(out, prefix, TF_PACKET_HEADER_LEN + head_len);
        if (body_len)
            evbuffer_add(out, body, body_len);
        return;
    }
    size_t size = tf_packet_encoded_size(total);
    uint8_t *wire = malloc(size);
    size_t n = tf_packet_encode(head, head_len, body, body_len, s->seq, wire, size, &s->seq);
    bufferevent_write(s->bev, wire, n);
    free(wire);
}

void serve_send_payload(serve_session *s, const uint8_t *payload, size_t len)
{
    serve_send_parts(s, NULL, 0, payload, len);
}

void serve_send_ok(serve_session *s, uint64_t affected_rows, const char *info)
{
    tf_ok_packet ok = {.affected_rows = affected_rows,
                       .status_flags = TF_SERVER_STATUS_AUTOCOMMIT,
                       .info = {info, info ? strlen(info) : 0}};
    uint8_t buf[512];
    size_t n;
    if (tf_ok_encode(&ok, 0x00, s->caps, buf, sizeof buf, &n, NULL) == TF_OK)
        serve_send_payload(s, buf, n);
}

void serve_send_err(serve_session *s, uint16_t code, const char *sql_state, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    tf_err_packet pkt = {.code = code, .message = {message, strlen(message)}};
    snprintf(pkt.sql_state, sizeof pkt.sql_state, "%s", sql_state);
    uint8_t buf[600];
    size_t n;
    if (tf_err_encode(&pkt, buf, sizeof buf, &n, NULL) == TF_OK)
        serve_send_payload(s, buf, n);
    if (s->server->opt.verbose)
        serve_log(s->server, "%s: ERR %u: %s", s->peer, code, message);
}

void serve_send_eof(serve_session *s)
{
    uint8_t buf[32];
    size_t n;
    if (s->caps & TF_CLIENT_DEPRECATE_EOF) {
        tf_ok_packet ok = {.status_flags = TF_SERVER_STATUS_AUTOCOMMIT};
        tf_ok_encode(&ok, 0xfe, s->caps, buf, sizeof buf, &n, NULL);
    } else {
        tf_eof_packet eof = {.status_flags = TF_SERVER_STATUS_AUTOCOMMIT};
        tf_eof_encode(&eof, s->caps, buf, sizeof buf, &n, NULL);
    }
    serve_send_payload(s, buf, n);
}

void serve_send_resultset(serve_session *s, const char *const *names, size_t column_count,
                          const char *const *values, size_t row_count)
{
    uint8_t small[64];
    size_t n;
    tf_column_count_encode(column_count, true, s->caps, small, sizeof small, &n, NULL);
    serve_send_payload(s, small, n);
    uint8_t charset = s->server->opt.flavour == TF_FLAVOUR_MARIADB ? 45 : 255;
    for (size_t i = 0; i < column_count; i++) {
        tf_column_def col = {.name = {names[i], strlen(names[i])},
                             .charset = charset,
                             .column_length = 4096,
                             .type = 0xfd /* VAR_STRING */};
        uint8_t buf[1024];
        if (tf_column_def_encode(&col, s->caps, buf, sizeof buf, &n, NULL) == TF_OK)
            serve_send_payload(s, buf, n);
    }
    if (!(s->caps & TF_CLIENT_DEPRECATE_EOF)) {
        tf_eof_packet eof = {.status_flags = TF_SERVER_STATUS_AUTOCOMMIT};
        tf_eof_encode(&eof, s->caps, small, sizeof small, &n, NULL);
        serve_send_payload(s, small, n);
    }
    tf_str cells[64];
    for (size_t r = 0; r < row_count; r++) {
        for (size_t i = 0; i < column_count && i < 64; i++) {
            const char *v = values[r * column_count + i];
            cells[i] = (tf_str){v, v ? strlen(v) : 0};
        }
        size_t need;
        tf_text_row_encode(cells, NULL, column_count, NULL, 0, &need, NULL);
        uint8_t *row = malloc(need ? need : 1);
        tf_text_row_encode(cells, NULL, column_count, row, need, &n, NULL);
        serve_send_payload(s, row, n);
        free(row);
    }
    serve_send_eof(s);
}

/* ---- lifetime ---- */

void serve_session_free(serve_session *s)
{
    if (s->server->opt.verbose)
        serve_log(s->server, "%s: connection %u closed", s->peer, s->connection_id);
    if (s->state == SESSION_DUMP && s->server->opt.verbose)
        serve_log(s->server, "%s: dump finished: %llu events sent, %llu transactions skipped",
                  s->peer, (unsigned long long)s->dump.events_sent,
                  (unsigned long long)s->dump.transactions_skipped);
    serve_dump_cleanup(s);
    serve_session_unlink(s->server, s);
    for (size_t i = 0; i < s->var_count; i++) {
        free(s->vars[i].name);
        free(s->vars[i].value);
    }
    bufferevent_free(s->bev);
    free(s);
}

void serve_session_close_after_flush(serve_session *s)
{
    s->state = SESSION_CLOSING;
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        serve_session_free(s);
}

/* ---- authentication ---- */

static void send_handshake(serve_session *s)
{
    const tf_serve *c = s->server;
    tf_handshake hs;
    memset(&hs, 0, sizeof hs);
    bool mariadb = c->opt.flavour == TF_FLAVOUR_MARIADB;
    /* MariaDB prefixes "5.5.5-" so that old MySQL replicas, which read the
     * major version from the first digit, take a 10.x server for a 5.x one;
     * MariaDB's own clients and replicas strip it. */
    snprintf(hs.server_version, sizeof hs.server_version, "%s%s", mariadb ? "5.5.5-" : "",
             c->server_version);
    hs.connection_id = s->connection_id;
    /* The nonce: printable bytes, never NUL (clients read part 2 as a
     * NUL-terminated string), as servers make it. */
    RAND_bytes(s->nonce, sizeof s->nonce);
    for (size_t i = 0; i < sizeof s->nonce; i++)
        s->nonce[i] = (uint8_t)(0x21 + s->nonce[i] % 0x5e);
    memcpy(hs.auth_data, s->nonce, sizeof s->nonce);
    hs.auth_data_len = sizeof s->nonce;
    /* No SSL, no compression, no LOCAL INFILE, no multi statements, no
     * MySQL query attributes: what this server does not do. */
    hs.capabilities = TF_CLIENT_FOUND_ROWS | TF_CLIENT_LONG_FLAG | TF_CLIENT_CONNECT_WITH_DB |
                      TF_CLIENT_NO_SCHEMA | TF_CLIENT_ODBC | TF_CLIENT_IGNORE_SPACE |
                      TF_CLIENT_PROTOCOL_41 | TF_CLIENT_INTERACTIVE | TF_CLIENT_IGNORE_SIGPIPE |
                      TF_CLIENT_TRANSACTIONS | TF_CLIENT_RESERVED | TF_CLIENT_SECURE_CONNECTION |
                      TF_CLIENT_MULTI_RESULTS | TF_CLIENT_PS_MULTI_RESULTS | TF_CLIENT_PLUGIN_AUTH |
                      TF_CLIENT_CONNECT_ATTRS | TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
                      TF_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | TF_CLIENT_SESSION_TRACK |
                      TF_CLIENT_DEPRECATE_EOF | TF_CLIENT_REMEMBER_OPTIONS;
    if (!mariadb)
        hs.capabilities |= TF_CLIENT_LONG_PASSWORD;
    hs.charset = mariadb ? 45 : 255;
    hs.status_flags = TF_SERVER_STATUS_AUTOCOMMIT;
    snprintf(hs.auth_plugin, sizeof hs.auth_plugin, "mysql_native_password");
    s->caps = hs.capabilities;
    uint8_t buf[512];
    size_t n;
    tf_error err = {0};
    if (tf_handshake_v10_encode(&hs, buf, sizeof buf, &n, &err) != TF_OK) {
        serve_log(s->server, "handshake: %s", err.message);
        return;
    }
    s->seq = 0;
    serve_send_payload(s, buf, n);
}

static void finish_auth(serve_session *s, const uint8_t *response, size_t response_len)
{
    const tf_serve *c = s->server;
    s->used_password = response_len > 0;
    bool ok = false;
    for (size_t i = 0; i < c->opt.account_count && !ok; i++) {
        const tf_serve_account *a = &c->accounts[i];
        ok = !strcmp(s->user, a->user) &&
             tf_native_password_check(a->password[0] ? c->password_stage2[i] : NULL, s->nonce,
                                      sizeof s->nonce, response, response_len);
    }
    if (!ok) {
        s->server->stats.logins_refused++;
        serve_send_err(s, 1045, "28000", "Access denied for user '%s'@'%s' (using password: %s)",
                       s->user, s->host, s->used_password ? "YES" : "NO");
        serve_log(s->server, "%s: access denied for user '%s'", s->peer, s->user);
        serve_session_close_after_flush(s);
        return;
    }
    serve_send_ok(s, 0, NULL);
    s->state = SESSION_COMMAND;
    if (c->opt.verbose)
        serve_log(s->server, "%s: user '%s' authenticated (connection %u)", s->peer, s->user,
                  s->connection_id);
}

static void handle_auth_response(serve_session *s, const uint8_t *payload, size_t len)
{
    tf_handshake_response_view resp;
    tf_error err = {0};
    if (tf_handshake_response_decode(payload, len, &resp, &err) != TF_OK) {
        serve_send_err(s, 1043, "08S01", "Bad handshake");
        serve_log(s->server, "%s: bad handshake response: %s", s->peer, err.message);
        serve_session_close_after_flush(s);
        return;
    }
    if (resp.is_ssl_request) {
        serve_send_err(s, 1043, "08S01", "Bad handshake: this server does not offer TLS");
        serve_session_close_after_flush(s);
        return;
    }
    /* Keep what both sides can do; MariaDB's extended bits only when the
     * client sent them (bit 0 clear). */
    s->caps &= resp.capabilities;
    snprintf(s->user, sizeof s->user, "%s", resp.username ? resp.username : "");
    if (resp.auth_plugin && strcmp(resp.auth_plugin, "mysql_native_password") != 0) {
        /* A MySQL 8 client starts with caching_sha2_password: ask it to
         * switch, with the same nonce. */
        uint8_t data[TF_SCRAMBLE_LENGTH + 1];
        memcpy(data, s->nonce, TF_SCRAMBLE_LENGTH);
        data[TF_SCRAMBLE_LENGTH] = 0;
        uint8_t buf[128];
        size_t n;
        tf_auth_switch_encode("mysql_native_password", data, sizeof data, buf, sizeof buf, &n,
                              NULL);
        serve_send_payload(s, buf, n);
        s->state = SESSION_AUTH_SWITCH;
        return;
    }
    finish_auth(s, resp.auth_response, resp.auth_response_len);
}

/* ---- commands ---- */

static void handle_command(serve_session *s, const uint8_t *payload, size_t len)
{
    if (len == 0) {
        serve_send_err(s, 1047, "08S01", "Unknown command");
        return;
    }
    switch (payload[0]) {
    case TF_COM_QUIT: serve_session_free(s); return;
    case TF_COM_PING:
    case TF_COM_INIT_DB: serve_send_ok(s, 0, NULL); return;
    case TF_COM_QUERY: serve_query_answer(s, (const char *)payload + 1, len - 1); return;
    case TF_COM_REGISTER_SLAVE: {
        tf_register_slave_request req;
        tf_error err = {0};
        if (tf_register_slave_request_decode(payload, len, &req, &err) != TF_OK) {
            serve_send_err(s, 1047, "08S01", "%s", err.message);
            return;
        }
        s->replica_server_id = req.server_id;
        s->registered = true;
        snprintf(s->report_host, sizeof s->report_host, "%.*s", (int)req.hostname.len,
                 req.hostname.ptr ? req.hostname.ptr : "");
        s->report_port = req.port;
        serve_log(s->server, "%s: COM_REGISTER_SLAVE server_id %u host '%.*s' port %u", s->peer,
                  req.server_id, (int)req.hostname.len, req.hostname.ptr ? req.hostname.ptr : "",
                  req.port);
        serve_send_ok(s, 0, NULL);
        return;
    }
    case TF_COM_BINLOG_DUMP:
    case TF_COM_BINLOG_DUMP_GTID: serve_dump_start(s, payload, len); return;
    default:
        serve_log(s->server, "%s: unknown command 0x%02x", s->peer, payload[0]);
        serve_send_err(s, 1047, "08S01", "Unknown command");
        return;
    }
}

/* ---- libevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    serve_session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (s->state == SESSION_CLOSING) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        uint8_t header[TF_PACKET_HEADER_LEN];
        if (evbuffer_copyout(in, header, sizeof header) < (ev_ssize_t)sizeof header)
            return;
        size_t len = (size_t)header[0] | (size_t)header[1] << 8 | (size_t)header[2] << 16;
        if (len == TF_PACKET_MAX_CHUNK) {
            serve_log(s->server, "%s: a command of 16 MiB or more; closing", s->peer);
            serve_session_free(s);
            return;
        }
        if (evbuffer_get_length(in) < TF_PACKET_HEADER_LEN + len)
            return;
        evbuffer_drain(in, TF_PACKET_HEADER_LEN);
        uint8_t *payload = malloc(len ? len : 1);
        evbuffer_remove(in, payload, len);
        s->seq = (uint8_t)(header[3] + 1);
        serve_session_state state = s->state;
        switch (state) {
        case SESSION_AUTH: handle_auth_response(s, payload, len); break;
        case SESSION_AUTH_SWITCH: finish_auth(s, payload, len); break;
        case SESSION_COMMAND:
            handle_command(s, payload, len); /* may free s (COM_QUIT) */
            if (len > 0 && payload[0] == TF_COM_QUIT) {
                free(payload);
                return;
            }
            break;
        case SESSION_DUMP:
            /* A replica says nothing while it is dumped to (MariaDB's
             * semi-sync replies aside); a COM_QUIT ends the session. */
            if (len > 0 && payload[0] == TF_COM_QUIT) {
                free(payload);
                serve_session_free(s);
                return;
            }
            break;
        case SESSION_CLOSING: break;
        }
        free(payload);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    serve_session *s = arg;
    if (s->state == SESSION_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
            serve_session_free(s);
        return;
    }
    if (s->state == SESSION_DUMP)
        serve_dump_pump(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    serve_session *s = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        serve_session_free(s);
    }
}

void serve_session_accept(tf_serve *server, evutil_socket_t fd, const char *host, unsigned port)
{
    char peer[96];
    snprintf(peer, sizeof peer, "%s:%u", host, port);
    serve_session *s = calloc(1, sizeof *s);
    s->server = server;
    s->connection_id = ++server->next_connection_id;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    snprintf(s->host, sizeof s->host, "%s", host);
    tf_mariadb_gtid_pos_init(&s->dump.state);
    s->next = server->sessions;
    if (server->sessions)
        server->sessions->prev = s;
    server->sessions = s;
    server->stats.connections++;
    s->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW_WATER, 0);
    /* A dump queues up to 1 MiB; libevent would write it a few KiB per
     * loop turn. */
    bufferevent_set_max_single_write(s->bev, 1u << 20);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    if (server->opt.verbose)
        serve_log(s->server, "%s: connection %u", peer, s->connection_id);
    s->state = SESSION_AUTH;
    send_handshake(s);
}
