/* dump.c — the binlog dump of one session.
 *
 * It follows what MySQL's Binlog_sender and MariaDB's mysql_binlog_send do:
 * an artificial ROTATE (timestamp 0, log_pos 0, LOG_EVENT_ARTIFICIAL_F)
 * naming the file and position, the file's FORMAT_DESCRIPTION (log_pos 0
 * when starting past it, "binlog in use" cleared), then the events; at a
 * file's end the next file (through its own ROTATE, or an artificial one
 * when the file has none); at the end of the last file either EOF
 * (BINLOG_DUMP_NON_BLOCK) or, while the store grows, what it commits, with
 * heartbeats while idle. Skipped transactions (GTID modes) are not sent at
 * all. Events we change or make get a fresh CRC32 when the stream carries
 * checksums. */
#include "serve_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUTPUT_HIGH_WATER (1u << 20) /* stop reading events above this */

/* ---- events we make ---- */

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sends one event as a replication packet: 0x00 + the event. */
static void send_event(serve_session *s, const uint8_t *event, size_t len)
{
    static const uint8_t ok_marker = 0x00;
    serve_send_parts(s, &ok_marker, 1, event, len);
    s->dump.events_sent++;
    s->server->stats.events_sent++;
    s->server->stats.bytes_sent += len;
    /* Anything sent restarts the idle clock of the heartbeat. */
    if (s->dump.heartbeat && s->dump.heartbeat_ns > 0) {
        struct timeval tv = {(time_t)(s->dump.heartbeat_ns / 1000000000u),
                             (suseconds_t)(s->dump.heartbeat_ns % 1000000000u / 1000u)};
        event_add(s->dump.heartbeat, &tv);
    }
}

/* Builds an event with a v4 header (and a CRC32 when the stream has
 * checksums) around body, and sends it. */
static void send_made_event(serve_session *s, uint8_t type, uint32_t log_pos, uint16_t flags,
                            const uint8_t *body, size_t body_len)
{
    size_t size = TF_EVENT_HEADER_LEN + body_len + (s->dump.checksums ? TF_EVENT_CHECKSUM_LEN : 0);
    uint8_t *ev = malloc(size);
    put_le(ev, 0, 4); /* timestamp 0: not a real event */
    ev[4] = type;
    put_le(ev + 5, s->server->opt.server_id, 4);
    put_le(ev + 9, size, 4);
    put_le(ev + 13, log_pos, 4);
    put_le(ev + 17, flags, 2);
    memcpy(ev + TF_EVENT_HEADER_LEN, body, body_len);
    if (s->dump.checksums)
        put_le(ev + size - 4, tf_crc32(ev, size - 4), 4);
    send_event(s, ev, size);
    free(ev);
}

static void send_artificial_rotate(serve_session *s, const char *file, uint64_t position)
{
    size_t name_len = strlen(file);
    uint8_t *body = malloc(8 + name_len);
    put_le(body, position, 8);
    memcpy(body + 8, file, name_len);
    send_made_event(s, TF_EV_ROTATE, 0, TF_EVENT_F_ARTIFICIAL, body, 8 + name_len);
    free(body);
}

static void send_heartbeat(serve_session *s)
{
    const serve_file *f = serve_dump_file(s);
    /* HEARTBEAT_LOG_EVENT: header log_pos = where the replica is, body = the
     * file name; every replica version reads this v1 form. */
    send_made_event(s, TF_EV_HEARTBEAT, (uint32_t)f->len, 0, (const uint8_t *)f->name,
                    strlen(f->name));
}

/* The file's FORMAT_DESCRIPTION with "binlog in use" cleared (the replica
 * would otherwise think we crashed and drop its temporary tables) and,
 * when the replica starts past it, log_pos 0 so that it does not move its
 * position to the FDE's end. */
static void send_format_description(serve_session *s, const serve_file *f, const uint8_t *bytes,
                                    const serve_event *e, bool zero_log_pos)
{
    uint8_t *ev = malloc(e->size);
    memcpy(ev, bytes, e->size);
    uint16_t flags = (uint16_t)(ev[17] | ev[18] << 8);
    flags &= (uint16_t)~TF_EVENT_F_BINLOG_IN_USE;
    put_le(ev + 17, flags, 2);
    if (zero_log_pos)
        put_le(ev + 13, 0, 4);
    size_t size = e->size;
    if (f->fmt.checksum_alg == TF_CHECKSUM_CRC32) {
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

static bool replica_has(const serve_dump *d, const serve_file *f, const serve_event *e)
{
    const tf_mariadb_gtid *mariadb = serve_event_mariadb_gtid(f, e);
    const tf_gtid *mysql = serve_event_mysql_gtid(f, e);
    if (mariadb && d->mariadb_gtid_mode)
        return tf_mariadb_gtid_pos_contains(&d->state, mariadb);
    if (mysql && d->exclude)
        return tf_gtid_set_contains(d->exclude, mysql);
    return false;
}

static void dump_finish(serve_session *s)
{
    if (s->server->opt.verbose)
        serve_log(s->server, "%s: dump finished: %llu events sent, %llu transactions skipped",
                  s->peer, (unsigned long long)s->dump.events_sent,
                  (unsigned long long)s->dump.transactions_skipped);
}

static const char *replica_checksum(const serve_session *s)
{
    const char *v = serve_session_var(s, "master_binlog_checksum");
    return v ? v : serve_session_var(s, "source_binlog_checksum");
}

/* The events of a file carry its own algorithm, and the replica gets them
 * as they are. */
static void set_stream_checksums(serve_session *s, const serve_file *f)
{
    s->dump.checksums = f->fmt.checksum_alg == TF_CHECKSUM_CRC32;
}

/* Moves the dump to file (an absolute number), keeping the store's count of
 * who reads which file right (retention never drops a file being read). */
static void enter_file(serve_session *s, size_t file)
{
    tf_binlog_store *b = s->server->store;
    serve_dump *d = &s->dump;
    if (d->reading && d->file >= b->base && d->file - b->base < b->count)
        serve_file_leave(&b->files[d->file - b->base]);
    d->file = file;
    d->reading = true;
    d->window.len = 0;
    b->files[file - b->base].readers++;
}

void serve_dump_cleanup(serve_session *s)
{
    tf_binlog_store *b = s->server->store;
    serve_dump *d = &s->dump;
    if (d->reading && d->file >= b->base && d->file - b->base < b->count)
        serve_file_leave(&b->files[d->file - b->base]);
    d->reading = false;
    if (d->heartbeat)
        event_free(d->heartbeat);
    d->heartbeat = NULL;
    tf_mariadb_gtid_pos_cleanup(&d->state);
    tf_gtid_set_destroy(d->exclude);
    d->exclude = NULL;
    free(d->window.buf);
    memset(&d->window, 0, sizeof d->window);
}

/* A read error on an archive file ends the session: the replica
 * reconnects and starts over from what it has. */
static void dump_read_failed(serve_session *s, const tf_error *err)
{
    serve_log(s->server, "%s: dump stopped: %s", s->peer, err->message);
    serve_send_err(s, 1236, "HY000", "Error reading the relay's binlog: %s", err->message);
    serve_session_close_after_flush(s);
}

void serve_dump_pump(serve_session *s)
{
    serve_dump *d = &s->dump;
    tf_binlog_store *b = s->server->store;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    bool was_idle = d->idle;
    d->idle = false;
    while (s->state == SESSION_DUMP && evbuffer_get_length(out) < OUTPUT_HIGH_WATER) {
        serve_file *f = serve_dump_file(s);
        if (d->event < f->event_count) {
            const serve_event *e = &f->events[d->event++];
            if (e->starts_group) {
                d->skipping = replica_has(d, f, e);
                if (d->skipping)
                    d->transactions_skipped++;
            } else if (event_ends_groups(e->type)) {
                d->skipping = false;
            }
            if (d->skipping)
                continue;
            tf_error err = {0};
            const uint8_t *bytes = serve_file_event_bytes(f, e, &d->window, &err);
            if (!bytes) {
                dump_read_failed(s, &err);
                return;
            }
            if (e->type == TF_EV_FORMAT_DESCRIPTION)
                send_format_description(s, f, bytes, e, false);
            else
                send_event(s, bytes, e->size);
            d->last_type = e->type;
            continue;
        }
        if (d->file + 1 < b->base + b->count) {
            /* A closed file ends with its ROTATE; one that does not (the
             * server crashed, or a fixture) gets an artificial one. */
            if (d->last_type != TF_EV_ROTATE)
                send_artificial_rotate(s, b->files[d->file + 1 - b->base].name,
                                       TF_BINLOG_MAGIC_LEN);
            enter_file(s, d->file + 1);
            d->event = 0;
            d->skipping = false;
            d->last_type = 0;
            set_stream_checksums(s, serve_dump_file(s));
            continue;
        }
        if (d->non_block) {
            /* BINLOG_DUMP_NON_BLOCK: EOF at the end, as mysqlbinlog expects
             * without --stop-never. */
            serve_send_eof(s);
            dump_finish(s);
            s->state = SESSION_COMMAND;
            return;
        }
        /* At the end of what the store holds: heartbeats until it commits
         * more (serve_dump_pump is called again then). */
        d->idle = true;
        if (s->server->opt.verbose && !was_idle)
            serve_log(s->server,
                      "%s: at the end of %s (%llu bytes); %llu events sent, %llu transactions "
                      "skipped; idle",
                      s->peer, f->name, (unsigned long long)f->len,
                      (unsigned long long)d->events_sent,
                      (unsigned long long)d->transactions_skipped);
        return;
    }
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    serve_session *s = arg;
    if (s->state != SESSION_DUMP)
        return;
    /* The timer restarts with every event sent, so it only fires after a
     * whole period without one. */
    if (s->dump.idle)
        send_heartbeat(s);
}

static uint64_t requested_heartbeat_ns(const serve_session *s)
{
    const char *v = serve_session_var(s, "master_heartbeat_period");
    if (!v)
        v = serve_session_var(s, "source_heartbeat_period");
    uint64_t ns = v ? strtoull(v, NULL, 10) : 0;
    return ns ? ns : s->server->opt.heartbeat_ns;
}

void serve_dump_start(serve_session *s, const uint8_t *payload, size_t len)
{
    tf_binlog_dump_request req;
    tf_error err = {0};
    if (tf_binlog_dump_request_decode(payload, len, &req, &err) != TF_OK) {
        serve_send_err(s, 1236, "HY000", "%s", err.message);
        return;
    }
    tf_binlog_store *b = s->server->store;
    serve_dump *d = &s->dump;
    serve_dump_cleanup(s);
    memset(d, 0, sizeof *d);
    tf_mariadb_gtid_pos_init(&d->state);
    if (b->count == 0 || !b->files[0].has_fmt) {
        /* A relay that has not heard from its upstream yet. */
        serve_send_err(s, 1236, "HY000", "Binary log is not open");
        return;
    }
    d->non_block = req.flags & TF_BINLOG_DUMP_NON_BLOCK;
    s->replica_server_id = req.server_id;
    size_t file = 0;
    uint64_t position = TF_BINLOG_MAGIC_LEN;
    const char *connect_state = serve_session_var(s, "slave_connect_state");
    if (req.command == TF_COM_BINLOG_DUMP_GTID) {
        tf_gtid_set *set;
        if (tf_gtid_set_decode_binary(req.gtid_data, req.gtid_data_len, &set, &err) != TF_OK) {
            serve_send_err(s, 1236, "HY000", "COM_BINLOG_DUMP_GTID: %s", err.message);
            return;
        }
        d->exclude = set;
        if (!serve_store_mysql_start(b, set, &file, &err)) {
            serve_send_err(s, (uint16_t)err.code, "HY000", "%s", err.message);
            return;
        }
        char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
        serve_log(s->server,
                  "%s: COM_BINLOG_DUMP_GTID server_id %u flags 0x%x, replica has '%s': from %s",
                  s->peer, req.server_id, req.flags, text ? text : "", b->files[file].name);
        free(text);
    } else if (connect_state && s->server->opt.flavour == TF_FLAVOUR_MARIADB) {
        /* MariaDB GTID mode: @slave_connect_state decides; the file and
         * position in the command are ignored, as the real server does. */
        if (tf_mariadb_gtid_pos_parse(connect_state, strlen(connect_state), &d->state, &err) !=
            TF_OK) {
            serve_send_err(s, 1236, "HY000", "@slave_connect_state: %s", err.message);
            return;
        }
        d->mariadb_gtid_mode = true;
        if (!serve_store_mariadb_start(b, &d->state, &file, &err)) {
            serve_send_err(s, (uint16_t)err.code, "HY000", "%s", err.message);
            return;
        }
        serve_log(s->server,
                  "%s: COM_BINLOG_DUMP in GTID mode server_id %u, @slave_connect_state='%s': "
                  "from %s",
                  s->peer, req.server_id, connect_state, b->files[file].name);
    } else {
        if (req.file_name.len > 0) {
            long found = serve_store_find(b, req.file_name.ptr, req.file_name.len);
            if (found < 0) {
                serve_send_err(s, 1236, "HY000",
                               "Could not find first log file name in binary log index file");
                return;
            }
            file = (size_t)found;
        }
        position = req.position < TF_BINLOG_MAGIC_LEN ? TF_BINLOG_MAGIC_LEN : req.position;
        const serve_file *f = &b->files[file];
        if (position > f->len) {
            serve_send_err(s, 1236, "HY000",
                           "Client requested master to start replication from position > file "
                           "size");
            return;
        }
        if (position < f->len && serve_file_event_at(f, position) < 0 &&
            position != TF_BINLOG_MAGIC_LEN) {
            serve_send_err(s, 1236, "HY000",
                           "Client requested master to start replication from impossible "
                           "position; the first event '%s' at %llu, the last event read from "
                           "'%s' at 4, the last byte read from '%s' at 4.",
                           f->name, (unsigned long long)position, f->name, f->name);
            return;
        }
        serve_log(s->server, "%s: COM_BINLOG_DUMP server_id %u flags 0x%x from %s:%llu", s->peer,
                  req.server_id, req.flags, f->name, (unsigned long long)position);
    }
    serve_file *f = &b->files[file];
    set_stream_checksums(s, f);
    if (d->checksums && !replica_checksum(s)) {
        serve_send_err(s, 1236, "HY000",
                       "Slave can not handle replication events with the checksum that master "
                       "is configured to log; the first event '%s' at %llu, the last event read "
                       "from '%s' at 4, the last byte read from '%s' at 4.",
                       f->name, (unsigned long long)position, f->name, f->name);
        return;
    }
    s->state = SESSION_DUMP;
    s->server->stats.dumps_started++;
    enter_file(s, b->base + file);
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
        tf_error err = {0};
        const uint8_t *bytes = serve_file_event_bytes(f, &f->events[fde], &d->window, &err);
        if (!bytes) {
            dump_read_failed(s, &err);
            return;
        }
        send_format_description(s, f, bytes, &f->events[fde], position > TF_BINLOG_MAGIC_LEN);
        d->last_type = TF_EV_FORMAT_DESCRIPTION;
    }
    if (position > TF_BINLOG_MAGIC_LEN) {
        long at = serve_file_event_at(f, position);
        d->event = at < 0 ? f->event_count : (size_t)at;
    } else {
        d->event = fde + 1;
    }
    serve_dump_pump(s);
}
