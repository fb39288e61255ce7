/* stream.c — the binlog stream after COM_BINLOG_DUMP: packets to events,
 * events to transactions, transactions to the callback.
 *
 * Each packet of the dump is 0x00 + one event (ERR 0xff: the server's
 * error; EOF 0xfe: end of the binlog with BINLOG_DUMP_NON_BLOCK). Events are
 * copied into a per-transaction arena whose blocks never move, decoded there
 * (tf_event points into them) and kept until the transaction is complete:
 *
 *   MariaDB  GTID (it is the BEGIN) ... XID | QUERY COMMIT
 *            GTID with FL_STANDALONE + one QUERY (DDL)
 *   MySQL    GTID / ANONYMOUS_GTID, QUERY BEGIN ... XID | QUERY COMMIT
 *            GTID + one QUERY without BEGIN (DDL)
 *            GTID + TRANSACTION_PAYLOAD (BEGIN ... XID inside, zstd)
 *
 * Only then is it handed over, so a connection lost mid-transaction loses
 * nothing: the partial one is dropped and the server sends it again from
 * the resume position. Events outside transactions (ROTATE, FDE,
 * GTID_LIST, ...) go to on_event at once.
 *
 * Table maps belong to the transaction that carries them (MySQL and MariaDB
 * write the TABLE_MAPs of every statement inside its transaction), so a
 * rows event is bound to its map when it arrives and a later map with the
 * same table_id cannot change what an earlier row meant. */
#include "replica_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARENA_BLOCK (64u * 1024u)
#define MAX_UNCOMPRESSED_PAYLOAD (1024u * 1024u * 1024u)

/* Server errors that reconnecting cannot cure. */
static bool server_error_is_fatal(uint32_t code)
{
    switch (code) {
    case 1236: /* ER_MASTER_FATAL_ERROR_READING_BINLOG: purged, unknown GTID */
    case 1789: /* ER_MASTER_HAS_PURGED_REQUIRED_GTIDS */
    case 1045: /* access denied */
    case 1044:
    case 1227: /* needs REPLICATION SLAVE */
    case 1142: return true;
    default: return false;
    }
}

/* ---- arena ------------------------------------------------------------------ */

static uint8_t *arena_alloc(tf_replica *r, size_t n)
{
    arena_block *b = r->arena;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (nb == NULL)
            return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        r->arena = nb;
        b = nb;
    }
    uint8_t *p = b->data + b->used;
    b->used += (n + 7) & ~(size_t)7;
    if (b->used > b->cap)
        b->used = b->cap;
    return p;
}

/* Frees every block but one small one, kept for the next transaction. */
static void arena_reset(tf_replica *r)
{
    arena_block *keep = NULL;
    for (arena_block *b = r->arena; b != NULL;) {
        arena_block *next = b->next;
        if (keep == NULL && b->cap == ARENA_BLOCK) {
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    r->arena = keep;
}

/* ---- transaction bookkeeping -------------------------------------------------- */

static void clear_txn(tf_replica *r)
{
    for (size_t i = 0; i < r->map_count; i++)
        tf_table_map_destroy(r->maps[i]);
    r->map_count = 0;
    for (size_t i = 0; i < r->payload_count; i++) {
        tf_payload_iter_cleanup(r->payloads[i]);
        free(r->payloads[i]);
    }
    r->payload_count = 0;
    memset(&r->txn, 0, sizeof r->txn);
    r->txn.events = NULL;
    r->txn.event_count = 0;
    r->txn_open = false;
    r->txn_saw_begin = false;
    r->txn_standalone = false;
    r->txn_payload_done = false;
    arena_reset(r);
}

void replica_stream_reset(tf_replica *r)
{
    if (r->txn_open) {
        r->stats.partial_discarded++;
        replica_log(r,
                    "discarded the partial transaction %s (%zu events): it will be received "
                    "again",
                    r->txn.gtid[0] ? r->txn.gtid : "(anonymous)", r->txn.event_count);
    }
    clear_txn(r);
}

void replica_stream_cleanup(tf_replica *r)
{
    clear_txn(r);
    free(r->events);
    free(r->maps);
    free(r->payloads);
    free(r->arena);
    r->arena = NULL;
    r->events = NULL;
    r->maps = NULL;
    r->payloads = NULL;
}

static tf_replica_event *push_event(tf_replica *r, tf_error *err)
{
    if (r->txn.event_count == r->event_cap) {
        size_t cap = r->event_cap ? r->event_cap * 2 : 64;
        tf_replica_event *p = realloc(r->events, cap * sizeof *p);
        if (p == NULL) {
            tf_error_set(err, TF_ERR_IO, 0, "out of memory for a transaction of %zu events",
                         r->txn.event_count);
            return NULL;
        }
        r->events = p;
        r->event_cap = cap;
    }
    tf_replica_event *e = &r->events[r->txn.event_count++];
    memset(e, 0, sizeof *e);
    return e;
}

static const tf_table_map *find_map(const tf_replica *r, uint64_t table_id)
{
    for (size_t i = r->map_count; i > 0; i--)
        if (r->maps[i - 1]->table_id == table_id)
            return r->maps[i - 1];
    return NULL;
}

static bool add_map(tf_replica *r, const tf_event *ev, const tf_table_map **out, tf_error *err)
{
    if (r->map_count == r->map_cap) {
        size_t cap = r->map_cap ? r->map_cap * 2 : 16;
        tf_table_map **p = realloc(r->maps, cap * sizeof *p);
        if (p == NULL)
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory for table maps") == TF_OK;
        r->maps = p;
        r->map_cap = cap;
    }
    tf_table_map *map = NULL;
    if (tf_table_map_new(ev, &map, err) != TF_OK)
        return false;
    r->maps[r->map_count++] = map;
    *out = map;
    return true;
}

static bool statement_is(const tf_query_event *q, const char *word)
{
    size_t n = strlen(word);
    if (q->compressed || q->statement.len < n)
        return false;
    if (strncasecmp(q->statement.ptr, word, n) != 0)
        return false;
    return q->statement.len == n || q->statement.ptr[n] == ' ' || q->statement.ptr[n] == ';';
}

static void format_gtid(tf_replica *r, const tf_event *ev)
{
    tf_replica_txn *t = &r->txn;
    if (ev->kind == TF_EVENT_MARIADB_GTID) {
        t->has_gtid = true;
        t->mariadb_gtid.domain_id = ev->mariadb_gtid.domain_id;
        t->mariadb_gtid.server_id = ev->header.server_id;
        t->mariadb_gtid.seq_no = ev->mariadb_gtid.seq_no;
        tf_mariadb_gtid_format(&t->mariadb_gtid, t->gtid, sizeof t->gtid);
        return;
    }
    const tf_gtid_event *g = &ev->gtid;
    if (g->anonymous) {
        t->has_gtid = false;
        t->gtid[0] = '\0';
    } else {
        t->has_gtid = true;
        memcpy(t->mysql_gtid.uuid, g->sid, TF_GTID_UUID_LEN);
        snprintf(t->mysql_gtid.tag, sizeof t->mysql_gtid.tag, "%s", g->tag);
        t->mysql_gtid.gno = (int64_t)g->gno;
        tf_gtid_format(&t->mysql_gtid, t->gtid, sizeof t->gtid);
    }
    if (g->has_commit_timestamps)
        t->commit_timestamp_us = (int64_t)g->immediate_commit_timestamp;
}

static void open_txn(tf_replica *r, const tf_event *ev, const tf_replica_event *re)
{
    r->txn_open = true;
    r->txn.flavour = r->fmt.flavour;
    snprintf(r->txn_file, sizeof r->txn_file, "%s", r->cur_file);
    r->txn.log_file = r->txn_file;
    r->txn.start_pos = re->pos;
    if (ev->kind == TF_EVENT_GTID || ev->kind == TF_EVENT_MARIADB_GTID)
        format_gtid(r, ev);
    if (ev->kind == TF_EVENT_MARIADB_GTID) {
        /* MariaDB's GTID event is the BEGIN, except for a standalone DDL. */
        r->txn_standalone = (ev->mariadb_gtid.flags2 & TF_MARIADB_GTID_F_STANDALONE) != 0;
        r->txn_saw_begin = !r->txn_standalone;
    }
}

/* Already delivered before a reconnect? (The server resends from the
 * position we give it, so this only guards against a server that does
 * not honour it exactly.) */
static bool already_delivered(const tf_replica *r)
{
    const tf_replica_txn *t = &r->txn;
    if (!r->use_gtid || !t->has_gtid)
        return false;
    if (t->flavour == TF_FLAVOUR_MARIADB)
        return tf_mariadb_gtid_pos_contains(&r->mariadb_pos, &t->mariadb_gtid);
    return r->mysql_set != NULL && tf_gtid_set_contains(r->mysql_set, &t->mysql_gtid);
}

static bool deliver_txn(tf_replica *r, const tf_replica_event *last, tf_error *err)
{
    tf_replica_txn *t = &r->txn;
    t->events = r->events;
    t->end_pos = last->next_pos;
    if (t->commit_timestamp_us == 0)
        t->commit_timestamp_us = (int64_t)last->event.header.timestamp * 1000000;
    bool ok = true;
    if (already_delivered(r)) {
        r->stats.duplicates_skipped++;
    } else {
        r->txn_open = false; /* complete: a stop from the callback drops nothing */
        r->in_callback++;
        ok = r->opt.cb.on_transaction(r, t, r->opt.arg, err);
        r->in_callback--;
        r->stats.transactions++;
    }
    /* The resume position moves past it either way. */
    if (t->has_gtid) {
        if (t->flavour == TF_FLAVOUR_MARIADB) {
            tf_mariadb_gtid_pos_update(&r->mariadb_pos, &t->mariadb_gtid);
        } else {
            if (r->mysql_set == NULL)
                r->mysql_set = tf_gtid_set_new();
            tf_error ignored;
            if (r->mysql_set != NULL)
                tf_gtid_set_add(r->mysql_set, &t->mysql_gtid, &ignored);
        }
    }
    if (r->cur_file[0] != '\0' && last->next_pos != 0) {
        snprintf(r->file, sizeof r->file, "%s", r->cur_file);
        r->file_pos = last->next_pos;
    }
    clear_txn(r);
    return ok;
}

static void deliver_control(tf_replica *r, const tf_replica_event *re)
{
    if (r->opt.cb.on_event != NULL) {
        r->in_callback++;
        r->opt.cb.on_event(r, re, r->opt.arg);
        r->in_callback--;
    }
}

/* Adds one event (outer or inner) to the open transaction. Sets *ends when
 * it completes the transaction. */
static bool add_to_txn(tf_replica *r, tf_replica_event *re, bool *ends, tf_error *err)
{
    const tf_event *ev = &re->event;
    *ends = false;
    switch (ev->kind) {
    case TF_EVENT_TABLE_MAP: return add_map(r, ev, &re->table, err);
    case TF_EVENT_ROWS:
        re->table = find_map(r, ev->rows.table_id);
        if (re->table == NULL)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "rows event for table_id %" PRIu64
                                " without a TABLE_MAP earlier in its transaction",
                                ev->rows.table_id) == TF_OK;
        return true;
    case TF_EVENT_QUERY:
        if (statement_is(&ev->query, "BEGIN") || statement_is(&ev->query, "XA START")) {
            r->txn_saw_begin = true;
            return true;
        }
        if (!r->txn_saw_begin || r->txn_standalone) {
            r->txn.is_ddl = true; /* one statement, no BEGIN */
            *ends = true;
        } else if (statement_is(&ev->query, "COMMIT") || statement_is(&ev->query, "ROLLBACK")) {
            *ends = true;
        }
        return true;
    case TF_EVENT_XID: *ends = true; return true;
    case TF_EVENT_OTHER:
        if (ev->header.type == TF_EV_XA_PREPARE)
            *ends = true;
        return true;
    default: return true;
    }
}

static bool add_payload(tf_replica *r, const tf_replica_event *outer, bool *ends, tf_error *err)
{
    if (r->payload_count == r->payload_cap) {
        size_t cap = r->payload_cap ? r->payload_cap * 2 : 4;
        tf_payload_iter **p = realloc(r->payloads, cap * sizeof *p);
        if (p == NULL)
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
        r->payloads = p;
        r->payload_cap = cap;
    }
    tf_payload_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    if (tf_payload_iter_init(it, &outer->event, &r->fmt, MAX_UNCOMPRESSED_PAYLOAD, err) != TF_OK) {
        free(it);
        return false;
    }
    r->payloads[r->payload_count++] = it;
    uint64_t pos = outer->pos, next_pos = outer->next_pos;
    while (tf_payload_iter_has_next(it)) {
        size_t offset = it->pos;
        tf_event inner;
        if (tf_payload_iter_next(it, &inner, err) != TF_OK)
            return false;
        tf_replica_event *re = push_event(r, err);
        if (re == NULL)
            return false;
        re->event = inner;
        re->format = &it->inner_format;
        re->log_file = r->txn_file;
        re->pos = pos;
        re->next_pos = next_pos;
        re->inner = true;
        re->inner_offset = offset;
        bool inner_ends = false;
        if (!add_to_txn(r, re, &inner_ends, err))
            return false;
        if (inner_ends)
            *ends = true;
    }
    return true;
}

/* One event of the dump, its bytes copied into the arena. */
static bool handle_event(tf_replica *r, const uint8_t *bytes, size_t n, tf_error *err)
{
    tf_event ev;
    size_t consumed = 0;
    if (tf_event_decode(bytes, n, &r->fmt, &ev, &consumed, err) != TF_OK) {
        if (err->domain == TF_ERR_NONE)
            tf_error_set(err, TF_ERR_PROTOCOL, 0, "event of %zu bytes is incomplete", n);
        return false;
    }
    tf_replica_event local;
    memset(&local, 0, sizeof local);
    local.event = ev;
    local.format = &r->fmt;
    local.next_pos = ev.header.log_pos;
    local.pos =
        ev.header.log_pos >= ev.header.event_size ? ev.header.log_pos - ev.header.event_size : 0;
    local.log_file = r->cur_file;

    if (ev.kind == TF_EVENT_HEARTBEAT) {
        r->stats.heartbeats++;
        deliver_control(r, &local);
        if (!r->txn_open)
            arena_reset(r);
        return true;
    }
    r->stats.events++;
    r->stats.bytes += n;

    bool starts = ev.kind == TF_EVENT_GTID || ev.kind == TF_EVENT_MARIADB_GTID;
    bool boundary = ev.kind == TF_EVENT_ROTATE || ev.kind == TF_EVENT_FORMAT_DESCRIPTION;
    if (r->txn_open && (starts || boundary)) {
        /* The server never interleaves these with a transaction; a new
         * GTID means the last one was cut short at the source (a crash). */
        replica_log(r, "transaction %s ended without a COMMIT in the binlog: discarded",
                    r->txn.gtid[0] ? r->txn.gtid : "(anonymous)");
        replica_stream_reset(r);
    }
    if (!r->txn_open && !starts) {
        bool begin = ev.kind == TF_EVENT_QUERY && statement_is(&ev.query, "BEGIN");
        bool single = ev.kind == TF_EVENT_QUERY && !begin;
        if (!begin && !single) {
            if (ev.kind == TF_EVENT_FORMAT_DESCRIPTION) {
                tf_format fde = ev.format_description;
                r->fmt = fde;
            } else if (ev.kind == TF_EVENT_ROTATE) {
                size_t len = ev.rotate.next_file.len < sizeof r->cur_file - 1
                                 ? ev.rotate.next_file.len
                                 : sizeof r->cur_file - 1;
                memcpy(r->cur_file, ev.rotate.next_file.ptr, len);
                r->cur_file[len] = '\0';
                local.log_file = r->cur_file;
            }
            deliver_control(r, &local);
            arena_reset(r);
            return true;
        }
    }
    if (!r->txn_open) {
        /* Opened before push_event: the GTID may come only now. */
        r->txn_open = true;
        open_txn(r, &ev, &local);
    }
    tf_replica_event *re = push_event(r, err);
    if (re == NULL)
        return false;
    *re = local;
    re->log_file = r->txn_file;
    bool ends = false;
    if (ev.kind == TF_EVENT_TRANSACTION_PAYLOAD) {
        if (!add_payload(r, re, &ends, err))
            return false;
    } else if (!add_to_txn(r, re, &ends, err)) {
        return false;
    }
    /* The event just received ends it: its log_pos is where the next
     * transaction starts, its timestamp the commit's (for a payload, the
     * payload event's). */
    return ends ? deliver_txn(r, &local, err) : true;
}

/* "binlog dump from <position>: <the server's error>[; restart with
 * --resnapshot]". The position is what gets shortened first (to 60
 * characters, "..." saying so): MySQL ends its purge message (1236) with
 * the missing GTIDs, which a long position in front would otherwise push
 * out of the message. */
static void dump_error_message(const tf_replica *r, tf_error *err)
{
    char server[TF_ERROR_MESSAGE_MAX];
    memcpy(server, err->message, sizeof server);
    char pos[1024];
    replica_format_position(r, pos, sizeof pos);
    if (pos[0] == '\0')
        snprintf(pos, sizeof pos, "%s", "the start");
    const char *advice = err->code == 1236 && strstr(server, "--resnapshot") == NULL
                             ? "; restart with --resnapshot"
                             : "";
    static const char head[] = "binlog dump from ";
    const size_t budget = sizeof err->message - 1 - (sizeof head - 1) - 2 - strlen(advice);
    size_t server_len = strlen(server), pos_len = strlen(pos);
    size_t pos_room = server_len < budget ? budget - server_len : 0;
    if (pos_room < 60)
        pos_room = 60;
    if (pos_len > pos_room) {
        snprintf(pos + pos_room - 3, sizeof pos - (pos_room - 3), "%s", "...");
        pos_len = pos_room;
    }
    int server_room = (int)(budget - pos_len);
    /* both lengths given: gcc -O0 cannot see the budget above */
    snprintf(err->message, sizeof err->message, "%s%.*s: %.*s%s", head, (int)pos_len, pos,
             server_room, server, advice);
}

void replica_stream_packet(tf_replica *r, const uint8_t *payload, size_t len)
{
    tf_error err = {0};
    if (len == 0) {
        tf_error_set(&err, TF_ERR_PROTOCOL, 0, "empty packet in the binlog stream");
        replica_fail(r, &err, false);
        return;
    }
    if (payload[0] == 0xff) {
        tf_err_payload_to_error(payload, len, &err);
        dump_error_message(r, &err);
        replica_fail(r, &err, server_error_is_fatal(err.code));
        return;
    }
    if (payload[0] == 0xfe && len < 9) {
        /* EOF: with BINLOG_DUMP_NON_BLOCK, nothing more to send; without
         * it the server ended the dump itself (MariaDB does on shutdown). */
        if (r->opt.stop_at_end) {
            replica_stream_reset(r);
            replica_finish(r);
        } else {
            tf_error_set(&err, TF_ERR_IO, 0, "the server %s ended the binlog dump (shutting down?)",
                         tf_conn_peer(r->conn));
            replica_fail(r, &err, false);
        }
        return;
    }
    if (payload[0] != 0x00) {
        tf_error_set(&err, TF_ERR_PROTOCOL, 0,
                     "binlog stream packet starts with 0x%02x at offset 0 (expected 0x00 before "
                     "an event)",
                     payload[0]);
        replica_fail(r, &err, false);
        return;
    }
    replica_stream_started(r);
    size_t n = len - 1;
    uint8_t *copy = arena_alloc(r, n ? n : 1);
    if (copy == NULL) {
        tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a %zu-byte event", n);
        replica_fail(r, &err, true);
        return;
    }
    memcpy(copy, payload + 1, n);
    if (!handle_event(r, copy, n, &err)) {
        if (r->stopped || r->phase != PHASE_STREAMING)
            return; /* the callback stopped us */
        if (err.domain == TF_ERR_NONE)
            tf_error_set(&err, TF_ERR_PROTOCOL, 0, "cannot handle an event");
        char where[600];
        snprintf(where, sizeof where, "binlog %s", r->cur_file[0] ? r->cur_file : "(unknown file)");
        tf_error_prefix(&err, "%s", where);
        replica_fail(r, &err, true);
    }
}

size_t replica_format_position(const tf_replica *r, char *buf, size_t cap)
{
    if (!r->position_ready) {
        /* Not connected yet: the start the options ask for, so that a
         * position saved now resumes there (not from the beginning). */
        if (r->opt.start == TF_REPLICA_START_GTID)
            return (size_t)snprintf(buf, cap, "%s", r->opt.gtid ? r->opt.gtid : "");
        if (r->opt.start == TF_REPLICA_START_FILE && r->opt.file != NULL)
            return (size_t)snprintf(buf, cap, "%s:%" PRIu64, r->opt.file,
                                    r->opt.position ? r->opt.position : 4);
    }
    if (r->use_gtid) {
        if (r->server.flavour == TF_FLAVOUR_MYSQL) {
            if (r->mysql_set == NULL)
                return (size_t)snprintf(buf, cap, "%s", "");
            return tf_gtid_set_format(r->mysql_set, TF_GTID_TEXT_COMPACT, buf, cap);
        }
        return tf_mariadb_gtid_pos_format(&r->mariadb_pos, buf, cap);
    }
    if (r->file[0] == '\0')
        return (size_t)snprintf(buf, cap, "%s", "");
    return (size_t)snprintf(buf, cap, "%s:%" PRIu64, r->file, r->file_pos);
}

/* ---- row changes ------------------------------------------------------------ */

void tf_replica_rows_init(tf_replica_rows *it, const tf_replica_txn *txn)
{
    memset(it, 0, sizeof *it);
    it->txn = txn;
}

static bool ensure_values(tf_replica_rows *it, size_t n)
{
    if (n <= it->capacity)
        return true;
    tf_value *b = realloc(it->before, n * sizeof *b);
    if (b == NULL)
        return false;
    it->before = b;
    tf_value *a = realloc(it->after, n * sizeof *a);
    if (a == NULL)
        return false;
    it->after = a;
    it->capacity = n;
    return true;
}

tf_status tf_replica_rows_next(tf_replica_rows *it, tf_replica_row *row, bool *done, tf_error *err)
{
    *done = false;
    for (;;) {
        if (it->in_event && tf_rows_has_next(&it->cursor)) {
            const tf_table_map *map = it->event->table;
            if (!ensure_values(it, map->column_count ? map->column_count : 1))
                return tf_error_set(err, TF_ERR_IO, 0, "out of memory for row values");
            uint64_t index = it->cursor.row_index;
            if (tf_rows_next(&it->cursor, it->before, it->after, err) != TF_OK) {
                tf_error_prefix(err, "%s at %" PRIu64 ": row %" PRIu64 " of %s.%s",
                                it->event->log_file, it->event->pos, index + 1, map->database.ptr,
                                map->table.ptr);
                return TF_MALFORMED;
            }
            const tf_rows_event *rows = &it->event->event.rows;
            row->table = map;
            row->kind = rows->kind;
            row->before = rows->kind == TF_ROWS_WRITE ? NULL : it->before;
            row->after = rows->kind == TF_ROWS_DELETE ? NULL : it->after;
            row->before_full = rows->before_image_full;
            row->after_full = rows->after_image_full;
            row->event = it->event;
            row->row_index = index;
            return TF_OK;
        }
        if (it->in_event) {
            tf_rows_cleanup(&it->cursor);
            it->in_event = false;
        }
        if (it->next_event >= it->txn->event_count) {
            *done = true;
            return TF_OK;
        }
        const tf_replica_event *e = &it->txn->events[it->next_event++];
        if (e->event.kind != TF_EVENT_ROWS || e->table == NULL)
            continue;
        if (tf_rows_begin(&it->cursor, &e->event, e->table, err) != TF_OK)
            return TF_MALFORMED;
        it->event = e;
        it->in_event = true;
    }
}

void tf_replica_rows_cleanup(tf_replica_rows *it)
{
    if (it->in_event)
        tf_rows_cleanup(&it->cursor);
    free(it->before);
    free(it->after);
    memset(it, 0, sizeof *it);
}
