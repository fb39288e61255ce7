/* session.c — one replica connection: handshake v10, mysql_native_password,
 * commands, and the binlog dump stream.
 *
 * The dump follows what MySQL's Binlog_sender and MariaDB's
 * mysql_binlog_send do: an artificial ROTATE (timestamp 0, log_pos 0,
 * LOG_EVENT_ARTIFICIAL_F) naming the file and position, the file's
 * FORMAT_DESCRIPTION (log_pos 0 when starting past it, "binlog in use"
 * cleared), then the events; at a file's end the next file (through its own
 * ROTATE, or an artificial one when the file has none); at the end of the
 * last file either EOF (BINLOG_DUMP_NON_BLOCK) or heartbeats while idle.
 * Skipped transactions (GTID modes) are not sent at all. Events we change or
 * make get a fresh CRC32 when the stream carries checksums. */
#include "primary.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define OUTPUT_HIGH_WATER (1u << 20) /* stop reading events above this */
#define OUTPUT_LOW_WATER (256u << 10)

typedef enum session_state {
    STATE_AUTH,        /* handshake sent, waiting for HandshakeResponse41 */
    STATE_AUTH_SWITCH, /* auth switch sent, waiting for the scramble */
    STATE_COMMAND,
    STATE_DUMP,
    STATE_CLOSING, /* flush the output, then close */
} session_state;

typedef struct dump_cursor {
    size_t file;
    size_t event; /* index of the next event in the file */
    bool mariadb_gtid_mode;
    tf_mariadb_gtid_pos state; /* MariaDB: what the replica has */
    tf_gtid_set *exclude;      /* MySQL: what the replica has */
    bool skipping;             /* inside a transaction the replica has */
    bool non_block;
    bool checksums;       /* the stream's events carry CRC32 */
    bool strip_checksums; /* the files have CRC32, the replica said
                                    @master_binlog_checksum='NONE' */
    bool idle;            /* at the end of the last file */
    uint64_t heartbeat_ns;
    struct event *heartbeat;
    uint8_t last_type; /* of the last event sent from the current file */
    uint64_t events_sent, transactions_skipped;
} dump_cursor;

struct tp_session {
    tp_server *server;
    struct bufferevent *bev;
    char peer[96]; /* host:port, for the log */
    char host[64]; /* host, for "Access denied for user 'u'@'host'" */
    uint32_t connection_id;
    session_state state;
    uint8_t nonce[TF_SCRAMBLE_LENGTH];
    uint64_t caps; /* negotiated */
    uint8_t seq;   /* sequence id of the next packet we send */
    char user[128];
    bool used_password;
    tp_user_var vars[TP_MAX_VARS];
    size_t var_count;
    uint32_t replica_server_id;
    dump_cursor dump;
};

void tp_log(const char *fmt, ...)
{
    char stamp[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    fprintf(stderr, "tapflow-test-primary %s.%03ld: ", stamp, ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

tp_server *tp_session_server(tp_session *s) { return s->server; }

tp_user_var *tp_session_vars(tp_session *s, size_t *count)
{
    *count = s->var_count;
    return s->vars;
}

const char *tp_session_var(const tp_session *s, const char *name)
{
    for (size_t i = 0; i < s->var_count; i++)
        if (!strcmp(s->vars[i].name, name))
            return s->vars[i].value;
    return NULL;
}

bool tp_session_set_var(tp_session *s, const char *name, const char *value)
{
    tp_user_var *v = NULL;
    for (size_t i = 0; i < s->var_count; i++)
        if (!strcmp(s->vars[i].name, name))
            v = &s->vars[i];
    if (!v) {
        if (s->var_count == TP_MAX_VARS)
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

static void send_parts(tp_session *s, const uint8_t *head, size_t head_len, const uint8_t *body,
                       size_t body_len)
{
    size_t size = tf_packet_encoded_size(head_len + body_len);
    uint8_t *wire = malloc(size);
    size_t n = tf_packet_encode(head, head_len, body, body_len, s->seq, wire, size, &s->seq);
    bufferevent_write(s->bev, wire, n);
    free(wire);
}

void tp_send_payload(tp_session *s, const uint8_t *payload, size_t len)
{
    send_parts(s, payload, len, NULL, 0);
}

void tp_send_ok(tp_session *s, uint64_t affected_rows, const char *info)
{
    tf_ok_packet ok = {.affected_rows = affected_rows,
                       .status_flags = TF_SERVER_STATUS_AUTOCOMMIT,
                       .info = {info, info ? strlen(info) : 0}};
    uint8_t buf[512];
    size_t n;
    if (tf_ok_encode(&ok, 0x00, s->caps, buf, sizeof buf, &n, NULL) == TF_OK)
        tp_send_payload(s, buf, n);
}

void tp_send_err(tp_session *s, uint16_t code, const char *sql_state, const char *fmt, ...)
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
        tp_send_payload(s, buf, n);
    if (s->server->config.verbose)
        tp_log("%s: ERR %u: %s", s->peer, code, message);
}

static void send_end_of_rows(tp_session *s)
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
    tp_send_payload(s, buf, n);
}

void tp_send_resultset(tp_session *s, const char *const *names, size_t column_count,
                       const char *const *values, size_t row_count)
{
    uint8_t small[64];
    size_t n;
    tf_column_count_encode(column_count, true, s->caps, small, sizeof small, &n, NULL);
    tp_send_payload(s, small, n);
    uint8_t charset = s->server->config.flavour == TF_FLAVOUR_MARIADB ? 45 : 255;
    for (size_t i = 0; i < column_count; i++) {
        tf_column_def col = {.name = {names[i], strlen(names[i])},
                             .charset = charset,
                             .column_length = 4096,
                             .type = 0xfd /* VAR_STRING */};
        uint8_t buf[1024];
        if (tf_column_def_encode(&col, s->caps, buf, sizeof buf, &n, NULL) == TF_OK)
            tp_send_payload(s, buf, n);
    }
    if (!(s->caps & TF_CLIENT_DEPRECATE_EOF)) {
        tf_eof_packet eof = {.status_flags = TF_SERVER_STATUS_AUTOCOMMIT};
        tf_eof_encode(&eof, s->caps, small, sizeof small, &n, NULL);
        tp_send_payload(s, small, n);
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
        tp_send_payload(s, row, n);
        free(row);
    }
    send_end_of_rows(s);
}

/* ---- lifetime ---- */

static void session_free(tp_session *s)
{
    if (s->server->config.verbose)
        tp_log("%s: connection %u closed", s->peer, s->connection_id);
    if (s->dump.heartbeat)
        event_free(s->dump.heartbeat);
    tf_mariadb_gtid_pos_cleanup(&s->dump.state);
    tf_gtid_set_destroy(s->dump.exclude);
    for (size_t i = 0; i < s->var_count; i++) {
        free(s->vars[i].name);
        free(s->vars[i].value);
    }
    bufferevent_free(s->bev);
    free(s);
}

static void close_after_flush(tp_session *s)
{
    s->state = STATE_CLOSING;
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        session_free(s);
}

/* ---- events we make ---- */

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sends one event as a replication packet: 0x00 + the event. */
static void send_event(tp_session *s, const uint8_t *event, size_t len)
{
    static const uint8_t ok_marker = 0x00;
    send_parts(s, &ok_marker, 1, event, len);
    s->dump.events_sent++;
    /* Anything sent restarts the idle clock of the heartbeat. */
    if (s->dump.heartbeat && s->dump.heartbeat_ns > 0) {
        struct timeval tv = {(time_t)(s->dump.heartbeat_ns / 1000000000u),
                             (suseconds_t)(s->dump.heartbeat_ns % 1000000000u / 1000u)};
        event_add(s->dump.heartbeat, &tv);
    }
}

/* Builds an event with a v4 header (and a CRC32 when the stream has
 * checksums) around body, and sends it. */
static void send_made_event(tp_session *s, uint8_t type, uint32_t log_pos, uint16_t flags,
                            const uint8_t *body, size_t body_len)
{
    size_t size = TF_EVENT_HEADER_LEN + body_len + (s->dump.checksums ? TF_EVENT_CHECKSUM_LEN : 0);
    uint8_t *ev = malloc(size);
    put_le(ev, 0, 4); /* timestamp 0: not a real event */
    ev[4] = type;
    put_le(ev + 5, s->server->config.server_id, 4);
    put_le(ev + 9, size, 4);
    put_le(ev + 13, log_pos, 4);
    put_le(ev + 17, flags, 2);
    memcpy(ev + TF_EVENT_HEADER_LEN, body, body_len);
    if (s->dump.checksums)
        put_le(ev + size - 4, tf_crc32(ev, size - 4), 4);
    send_event(s, ev, size);
    free(ev);
}

static void send_artificial_rotate(tp_session *s, const char *file, uint64_t position)
{
    size_t name_len = strlen(file);
    uint8_t *body = malloc(8 + name_len);
    put_le(body, position, 8);
    memcpy(body + 8, file, name_len);
    send_made_event(s, TF_EV_ROTATE, 0, TF_EVENT_F_ARTIFICIAL, body, 8 + name_len);
    free(body);
}

static void send_heartbeat(tp_session *s)
{
    const tp_binlog *f = &s->server->binlogs.files[s->dump.file];
    /* HEARTBEAT_LOG_EVENT: header log_pos = where the replica is, body = the
     * file name; every replica version reads this v1 form. */
    send_made_event(s, TF_EV_HEARTBEAT, (uint32_t)f->len, 0, (const uint8_t *)f->name,
                    strlen(f->name));
}

/* An event of a file as it is, or without its CRC32 for a replica that
 * asked for none (as mariadb-binlog does). */
static void send_file_event(tp_session *s, const uint8_t *event, size_t size)
{
    if (!s->dump.strip_checksums) {
        send_event(s, event, size);
        return;
    }
    uint8_t *ev = malloc(size);
    memcpy(ev, event, size);
    put_le(ev + 9, size - TF_EVENT_CHECKSUM_LEN, 4);
    send_event(s, ev, size - TF_EVENT_CHECKSUM_LEN);
    free(ev);
}

/* The file's FORMAT_DESCRIPTION with "binlog in use" cleared (the replica
 * would otherwise think we crashed and drop its temporary tables) and,
 * when the replica starts past it, log_pos 0 so that it does not move its
 * position to the FDE's end. */
static void send_format_description(tp_session *s, const tp_binlog *f, const tp_event *e,
                                    bool zero_log_pos)
{
    uint8_t *ev = malloc(e->size);
    memcpy(ev, f->data + e->offset, e->size);
    uint16_t flags = (uint16_t)(ev[17] | ev[18] << 8);
    flags &= (uint16_t)~TF_EVENT_F_BINLOG_IN_USE;
    put_le(ev + 17, flags, 2);
    if (zero_log_pos)
        put_le(ev + 13, 0, 4);
    size_t size = e->size;
    if (f->fmt.checksum_alg == TF_CHECKSUM_CRC32 && s->dump.strip_checksums) {
        /* The algorithm byte ends the body: say OFF, drop the CRC32. */
        size -= TF_EVENT_CHECKSUM_LEN;
        ev[size - 1] = TF_CHECKSUM_OFF;
        put_le(ev + 9, size, 4);
    } else if (f->fmt.checksum_alg == TF_CHECKSUM_CRC32) {
        put_le(ev + size - 4, tf_crc32(ev, size - 4), 4);
    }
    send_event(s, ev, size);
    free(ev);
}

/* ---- the dump ---- */

static bool event_ends_groups(uint8_t type)
{
    switch (type) {
    case TF_EV_FORMAT_DESCRIPTION:
    case TF_EV_ROTATE:
    case TF_EV_STOP:
    case TF_EV_PREVIOUS_GTIDS:
    case TF_EV_MARIADB_GTID_LIST:
    case TF_EV_MARIADB_BINLOG_CHECKPOINT: return true;
    default: return false;
    }
}

static bool replica_has(const dump_cursor *d, const tp_event *e)
{
    if (e->has_mariadb_gtid && d->mariadb_gtid_mode)
        return tf_mariadb_gtid_pos_contains(&d->state, &e->mariadb_gtid);
    if (e->has_mysql_gtid && d->exclude)
        return tf_gtid_set_contains(d->exclude, &e->mysql_gtid);
    return false;
}

static void dump_finish(tp_session *s)
{
    if (s->server->config.verbose)
        tp_log("%s: dump finished: %llu events sent, %llu transactions skipped", s->peer,
               (unsigned long long)s->dump.events_sent,
               (unsigned long long)s->dump.transactions_skipped);
}

static const char *replica_checksum(const tp_session *s)
{
    const char *v = tp_session_var(s, "master_binlog_checksum");
    return v ? v : tp_session_var(s, "source_binlog_checksum");
}

static void set_stream_checksums(tp_session *s, const tp_binlog *f)
{
    const char *wanted = replica_checksum(s);
    bool file_crc = f->fmt.checksum_alg == TF_CHECKSUM_CRC32;
    (void)wanted;
    s->dump.strip_checksums = false;
    s->dump.checksums = file_crc;
}

/* Sends events while the output has room; called again when it drains. */
static void dump_pump(tp_session *s)
{
    dump_cursor *d = &s->dump;
    const tp_binlogs *b = &s->server->binlogs;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    while (s->state == STATE_DUMP && !d->idle && evbuffer_get_length(out) < OUTPUT_HIGH_WATER) {
        const tp_binlog *f = &b->files[d->file];
        if (d->event < f->event_count) {
            const tp_event *e = &f->events[d->event++];
            if (e->starts_group) {
                d->skipping = replica_has(d, e);
                if (d->skipping)
                    d->transactions_skipped++;
            } else if (event_ends_groups(e->type)) {
                d->skipping = false;
            }
            if (d->skipping)
                continue;
            if (e->type == TF_EV_FORMAT_DESCRIPTION)
                send_format_description(s, f, e, false);
            else
                send_file_event(s, f->data + e->offset, e->size);
            d->last_type = e->type;
            continue;
        }
        if (d->file + 1 < b->count) {
            /* A closed file ends with its ROTATE; one that does not (the
             * server crashed, or a fixture) gets an artificial one. */
            if (d->last_type != TF_EV_ROTATE)
                send_artificial_rotate(s, b->files[d->file + 1].name, TF_BINLOG_MAGIC_LEN);
            d->file++;
            d->event = 0;
            d->skipping = false;
            d->last_type = 0;
            set_stream_checksums(s, &b->files[d->file]);
            continue;
        }
        if (d->non_block) {
            /* BINLOG_DUMP_NON_BLOCK: EOF at the end, as mysqlbinlog expects
             * without --stop-never. */
            tf_eof_packet eof = {.status_flags = TF_SERVER_STATUS_AUTOCOMMIT};
            uint8_t buf[16];
            size_t n;
            tf_eof_encode(&eof, s->caps, buf, sizeof buf, &n, NULL);
            tp_send_payload(s, buf, n);
            dump_finish(s);
            s->state = STATE_COMMAND;
            return;
        }
        d->idle = true;
        if (s->server->config.verbose)
            tp_log("%s: at the end of %s (%zu bytes); %llu events sent, %llu transactions "
                   "skipped; idle",
                   s->peer, f->name, f->len, (unsigned long long)d->events_sent,
                   (unsigned long long)d->transactions_skipped);
    }
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tp_session *s = arg;
    if (s->state != STATE_DUMP)
        return;
    /* The timer restarts with every event sent, so it only fires after a
     * whole period without one. */
    if (s->dump.idle)
        send_heartbeat(s);
}

static uint64_t requested_heartbeat_ns(const tp_session *s)
{
    const char *v = tp_session_var(s, "master_heartbeat_period");
    if (!v)
        v = tp_session_var(s, "source_heartbeat_period");
    uint64_t ns = v ? strtoull(v, NULL, 10) : 0;
    return ns ? ns : s->server->config.heartbeat_ns;
}

static void start_dump(tp_session *s, const uint8_t *payload, size_t len)
{
    tf_binlog_dump_request req;
    tf_error err = {0};
    if (tf_binlog_dump_request_decode(payload, len, &req, &err) != TF_OK) {
        tp_send_err(s, 1236, "HY000", "%s", err.message);
        return;
    }
    const tp_binlogs *b = &s->server->binlogs;
    dump_cursor *d = &s->dump;
    tf_mariadb_gtid_pos_cleanup(&d->state);
    tf_gtid_set_destroy(d->exclude);
    struct event *heartbeat = d->heartbeat;
    memset(d, 0, sizeof *d);
    d->heartbeat = heartbeat;
    tf_mariadb_gtid_pos_init(&d->state);
    d->non_block = req.flags & TF_BINLOG_DUMP_NON_BLOCK;
    s->replica_server_id = req.server_id;
    size_t file = 0;
    uint64_t position = TF_BINLOG_MAGIC_LEN;
    const char *connect_state = tp_session_var(s, "slave_connect_state");
    if (req.command == TF_COM_BINLOG_DUMP_GTID) {
        tf_gtid_set *set;
        if (tf_gtid_set_decode_binary(req.gtid_data, req.gtid_data_len, &set, &err) != TF_OK) {
            tp_send_err(s, 1236, "HY000", "COM_BINLOG_DUMP_GTID: %s", err.message);
            return;
        }
        d->exclude = set;
        if (!tp_binlogs_mysql_start(b, set, &file, &err)) {
            tp_send_err(s, (uint16_t)err.code, "HY000", "%s", err.message);
            return;
        }
        char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
        tp_log("%s: COM_BINLOG_DUMP_GTID server_id %u flags 0x%x, replica has '%s': from %s",
               s->peer, req.server_id, req.flags, text ? text : "", b->files[file].name);
        free(text);
    } else if (connect_state && tp_session_server(s)->config.flavour == TF_FLAVOUR_MARIADB) {
        /* MariaDB GTID mode: @slave_connect_state decides; the file and
         * position in the command are ignored, as the real server does. */
        if (tf_mariadb_gtid_pos_parse(connect_state, strlen(connect_state), &d->state, &err) !=
            TF_OK) {
            tp_send_err(s, 1236, "HY000", "@slave_connect_state: %s", err.message);
            return;
        }
        d->mariadb_gtid_mode = true;
        if (!tp_binlogs_mariadb_start(b, &d->state, &file, &err)) {
            tp_send_err(s, (uint16_t)err.code, "HY000", "%s", err.message);
            return;
        }
        tp_log("%s: COM_BINLOG_DUMP in GTID mode server_id %u, @slave_connect_state='%s': "
               "from %s",
               s->peer, req.server_id, connect_state, b->files[file].name);
    } else {
        if (req.file_name.len > 0) {
            long found = tp_binlogs_find(b, req.file_name.ptr, req.file_name.len);
            if (found < 0) {
                tp_send_err(s, 1236, "HY000",
                            "Could not find first log file name in binary log index file");
                return;
            }
            file = (size_t)found;
        }
        position = req.position < TF_BINLOG_MAGIC_LEN ? TF_BINLOG_MAGIC_LEN : req.position;
        const tp_binlog *f = &b->files[file];
        if (position > f->len) {
            tp_send_err(s, 1236, "HY000",
                        "Client requested master to start replication from position > file "
                        "size");
            return;
        }
        if (position < f->len && tp_binlog_event_at(f, position) < 0 &&
            position != TF_BINLOG_MAGIC_LEN) {
            tp_send_err(s, 1236, "HY000",
                        "Client requested master to start replication from impossible "
                        "position; the first event '%s' at %llu, the last event read from "
                        "'%s' at 4, the last byte read from '%s' at 4.",
                        f->name, (unsigned long long)position, f->name, f->name);
            return;
        }
        tp_log("%s: COM_BINLOG_DUMP server_id %u flags 0x%x from %s:%llu", s->peer, req.server_id,
               req.flags, f->name, (unsigned long long)position);
    }
    const tp_binlog *f = &b->files[file];
    set_stream_checksums(s, f);
    if (d->checksums && !replica_checksum(s)) {
        tp_send_err(s, 1236, "HY000",
                    "Slave can not handle replication events with the checksum that master "
                    "is configured to log; the first event '%s' at %llu, the last event read "
                    "from '%s' at 4, the last byte read from '%s' at 4.",
                    f->name, (unsigned long long)position, f->name, f->name);
        return;
    }
    s->state = STATE_DUMP;
    d->file = file;
    d->heartbeat_ns = requested_heartbeat_ns(s);
    if (!d->heartbeat)
        d->heartbeat = evtimer_new(s->server->base, heartbeat_cb, s);
    /* The ROTATE comes before any FDE, so the replica reads it with the
     * algorithm it announced: a CRC32 only if it said CRC32. */
    const char *wanted = replica_checksum(s);
    d->checksums = wanted && !strcasecmp(wanted, "CRC32");
    send_artificial_rotate(s, f->name, position);
    set_stream_checksums(s, f);
    /* The FDE first, wherever the replica starts. */
    size_t fde = 0;
    while (fde < f->event_count && f->events[fde].type != TF_EV_FORMAT_DESCRIPTION)
        fde++;
    if (fde < f->event_count) {
        send_format_description(s, f, &f->events[fde], position > TF_BINLOG_MAGIC_LEN);
        d->last_type = TF_EV_FORMAT_DESCRIPTION;
    }
    if (position > TF_BINLOG_MAGIC_LEN) {
        long at = tp_binlog_event_at(f, position);
        d->event = at < 0 ? f->event_count : (size_t)at;
    } else {
        d->event = fde + 1;
    }
    dump_pump(s);
}

/* ---- authentication ---- */

static void send_handshake(tp_session *s)
{
    const tp_config *c = &s->server->config;
    tf_handshake hs;
    memset(&hs, 0, sizeof hs);
    bool mariadb = c->flavour == TF_FLAVOUR_MARIADB;
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
        tp_log("handshake: %s", err.message);
        return;
    }
    s->seq = 0;
    tp_send_payload(s, buf, n);
}

static void finish_auth(tp_session *s, const uint8_t *response, size_t response_len)
{
    const tp_config *c = &s->server->config;
    s->used_password = response_len > 0;
    bool user_ok = !strcmp(s->user, c->user);
    bool password_ok = tf_native_password_check(c->password[0] ? s->server->password_stage2 : NULL,
                                                s->nonce, sizeof s->nonce, response, response_len);
    if (!user_ok || !password_ok) {
        tp_send_err(s, 1045, "28000", "Access denied for user '%s'@'%s' (using password: %s)",
                    s->user, s->host, s->used_password ? "YES" : "NO");
        tp_log("%s: access denied for user '%s'", s->peer, s->user);
        close_after_flush(s);
        return;
    }
    tp_send_ok(s, 0, NULL);
    s->state = STATE_COMMAND;
    if (c->verbose)
        tp_log("%s: user '%s' authenticated (connection %u)", s->peer, s->user, s->connection_id);
}

static void handle_auth_response(tp_session *s, const uint8_t *payload, size_t len)
{
    tf_handshake_response_view resp;
    tf_error err = {0};
    if (tf_handshake_response_decode(payload, len, &resp, &err) != TF_OK) {
        tp_send_err(s, 1043, "08S01", "Bad handshake");
        tp_log("%s: bad handshake response: %s", s->peer, err.message);
        close_after_flush(s);
        return;
    }
    if (resp.is_ssl_request) {
        tp_send_err(s, 1043, "08S01", "Bad handshake: this server does not offer TLS");
        close_after_flush(s);
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
        tp_send_payload(s, buf, n);
        s->state = STATE_AUTH_SWITCH;
        return;
    }
    finish_auth(s, resp.auth_response, resp.auth_response_len);
}

/* ---- commands ---- */

static void handle_command(tp_session *s, const uint8_t *payload, size_t len)
{
    if (len == 0) {
        tp_send_err(s, 1047, "08S01", "Unknown command");
        return;
    }
    switch (payload[0]) {
    case TF_COM_QUIT: session_free(s); return;
    case TF_COM_PING:
    case TF_COM_INIT_DB: tp_send_ok(s, 0, NULL); return;
    case TF_COM_QUERY: tp_query_answer(s, (const char *)payload + 1, len - 1); return;
    case TF_COM_REGISTER_SLAVE: {
        tf_register_slave_request req;
        tf_error err = {0};
        if (tf_register_slave_request_decode(payload, len, &req, &err) != TF_OK) {
            tp_send_err(s, 1047, "08S01", "%s", err.message);
            return;
        }
        s->replica_server_id = req.server_id;
        tp_log("%s: COM_REGISTER_SLAVE server_id %u host '%.*s' port %u", s->peer, req.server_id,
               (int)req.hostname.len, req.hostname.ptr ? req.hostname.ptr : "", req.port);
        tp_send_ok(s, 0, NULL);
        return;
    }
    case TF_COM_BINLOG_DUMP:
    case TF_COM_BINLOG_DUMP_GTID: start_dump(s, payload, len); return;
    default:
        tp_log("%s: unknown command 0x%02x", s->peer, payload[0]);
        tp_send_err(s, 1047, "08S01", "Unknown command");
        return;
    }
}

/* ---- libevent callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    tp_session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        if (s->state == STATE_CLOSING) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        uint8_t header[TF_PACKET_HEADER_LEN];
        if (evbuffer_copyout(in, header, sizeof header) < (ev_ssize_t)sizeof header)
            return;
        size_t len = (size_t)header[0] | (size_t)header[1] << 8 | (size_t)header[2] << 16;
        if (len == TF_PACKET_MAX_CHUNK) {
            tp_log("%s: a command of 16 MiB or more; closing", s->peer);
            session_free(s);
            return;
        }
        if (evbuffer_get_length(in) < TF_PACKET_HEADER_LEN + len)
            return;
        evbuffer_drain(in, TF_PACKET_HEADER_LEN);
        uint8_t *payload = malloc(len ? len : 1);
        evbuffer_remove(in, payload, len);
        s->seq = (uint8_t)(header[3] + 1);
        session_state state = s->state;
        switch (state) {
        case STATE_AUTH: handle_auth_response(s, payload, len); break;
        case STATE_AUTH_SWITCH: finish_auth(s, payload, len); break;
        case STATE_COMMAND:
            handle_command(s, payload, len); /* may free s (COM_QUIT) */
            if (len > 0 && payload[0] == TF_COM_QUIT) {
                free(payload);
                return;
            }
            break;
        case STATE_DUMP:
            /* A replica says nothing while it is dumped to (MariaDB's
             * semi-sync replies aside); a COM_QUIT ends the session. */
            if (len > 0 && payload[0] == TF_COM_QUIT) {
                free(payload);
                session_free(s);
                return;
            }
            break;
        case STATE_CLOSING: break;
        }
        free(payload);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    tp_session *s = arg;
    if (s->state == STATE_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
            session_free(s);
        return;
    }
    if (s->state == STATE_DUMP)
        dump_pump(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    tp_session *s = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (s->state == STATE_DUMP)
            dump_finish(s);
        session_free(s);
    }
}

void tp_session_accept(tp_server *server, evutil_socket_t fd, const char *host, unsigned port)
{
    char peer[96];
    snprintf(peer, sizeof peer, "%s:%u", host, port);
    tp_session *s = calloc(1, sizeof *s);
    s->server = server;
    s->connection_id = ++server->next_connection_id;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    snprintf(s->host, sizeof s->host, "%s", host);
    tf_mariadb_gtid_pos_init(&s->dump.state);
    s->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, OUTPUT_LOW_WATER, 0);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    if (server->config.verbose)
        tp_log("%s: connection %u", peer, s->connection_id);
    s->state = STATE_AUTH;
    send_handshake(s);
}
