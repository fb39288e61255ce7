/* session.c — what a real replica says before asking for the binlog.
 *
 * MariaDB (as a MariaDB 10.11 replica does it; see
 * tests/vectors/gtid/README.md for the captured sequence):
 *   SELECT @@global.server_id, ... gtid_binlog_pos, binlog_checksum
 *   SET @master_heartbeat_period= <ns>
 *   SET @master_binlog_checksum= @@global.binlog_checksum
 *   SELECT @master_binlog_checksum
 *   SET @mariadb_slave_capability=4          (MARIA_SLAVE_CAPABILITY_GTID)
 *   SHOW BINARY LOGS + SELECT BINLOG_GTID_POS(oldest, 4)   (purge check)
 *   SET @slave_connect_state='<pos>', @slave_gtid_strict_mode=0,
 *       @slave_gtid_ignore_duplicates=0
 *   COM_REGISTER_SLAVE, COM_BINLOG_DUMP (position 4, no file name)
 *
 * MySQL (what its IO thread sends, both spellings of the variables since
 * 8.0.26 renamed master_* to source_*):
 *   SELECT @@global.server_id, server_uuid, gtid_mode, binlog_checksum, ...
 *   SET @master_heartbeat_period / @source_heartbeat_period
 *   SET @master_binlog_checksum / @source_binlog_checksum
 *   SET @slave_uuid / @replica_uuid (the source kills an older dump
 *       thread of the same uuid: a reconnect never leaves a zombie)
 *   SELECT @@global.gtid_executed, @@global.gtid_purged (purge check)
 *   COM_REGISTER_SLAVE, COM_BINLOG_DUMP_GTID
 *
 * Without GTIDs: COM_BINLOG_DUMP with file and position (SHOW MASTER STATUS
 * gives "now"). */
#include "replica_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum step {
    ST_VARIABLES = 0,
    ST_HEARTBEAT,
    ST_HEARTBEAT_SOURCE,
    ST_CHECKSUM,
    ST_CHECKSUM_SOURCE,
    ST_CHECKSUM_READ,
    ST_CAPABILITY,
    ST_REPLICA_UUID,
    ST_REPLICA_UUID_NEW,
    ST_MASTER_STATUS,
    ST_BINARY_LOGS,
    ST_OLDEST_POS,
    ST_MYSQL_GTIDS,
    ST_CONNECT_STATE,
    ST_STRICT,
    ST_IGNORE_DUPLICATES,
    ST_DONE,
};

static bool is_mariadb(const tf_replica *r) { return r->server.flavour == TF_FLAVOUR_MARIADB; }

static void fail_session(tf_replica *r, tf_error *err, bool fatal) { replica_fail(r, err, fatal); }

/* Position from the options, once the flavour is known (first connect). */
static bool init_position(tf_replica *r, tf_error *err)
{
    if (r->opt.start == TF_REPLICA_START_FILE) {
        r->use_gtid = false;
        snprintf(r->file, sizeof r->file, "%s", r->opt.file);
        r->file_pos = r->opt.position ? r->opt.position : 4;
        return true;
    }
    if (r->opt.start != TF_REPLICA_START_GTID)
        return true; /* NOW: from the server's answers below */
    r->use_gtid = true;
    const char *text = r->opt.gtid ? r->opt.gtid : "";
    if (is_mariadb(r)) {
        if (tf_mariadb_gtid_pos_parse(text, strlen(text), &r->mariadb_pos, err) != TF_OK) {
            tf_error_prefix(err, "--gtid '%s' (a MariaDB position such as 0-1-100)", text);
            err->domain = TF_ERR_CONFIG;
            return false;
        }
        return true;
    }
    tf_gtid_set *set = NULL;
    if (tf_gtid_set_parse(text, strlen(text), &set, err) != TF_OK) {
        tf_error_prefix(err, "--gtid '%s' (a MySQL GTID set such as uuid:1-100)", text);
        err->domain = TF_ERR_CONFIG;
        return false;
    }
    tf_gtid_set_destroy(r->mysql_set);
    r->mysql_set = set;
    return true;
}

/* Builds the statement of a step; "" skips the step. */
static void step_sql(tf_replica *r, int step, char *sql, size_t cap)
{
    bool maria = is_mariadb(r);
    uint64_t ns = (uint64_t)(r->opt.heartbeat_period * 1e9);
    sql[0] = '\0';
    switch (step) {
    case ST_VARIABLES:
        if (maria)
            snprintf(sql, cap,
                     "SELECT @@global.server_id, @@global.log_bin, @@global.binlog_format, "
                     "@@global.binlog_checksum, @@global.gtid_binlog_pos");
        else
            snprintf(sql, cap,
                     "SELECT @@global.server_id, @@global.log_bin, @@global.binlog_format, "
                     "@@global.binlog_checksum, @@global.gtid_mode, @@global.server_uuid");
        break;
    case ST_HEARTBEAT: snprintf(sql, cap, "SET @master_heartbeat_period= %" PRIu64, ns); break;
    case ST_HEARTBEAT_SOURCE:
        if (!maria)
            snprintf(sql, cap, "SET @source_heartbeat_period= %" PRIu64, ns);
        break;
    case ST_CHECKSUM:
        snprintf(sql, cap, "SET @master_binlog_checksum= @@global.binlog_checksum");
        break;
    case ST_CHECKSUM_SOURCE:
        if (!maria)
            snprintf(sql, cap, "SET @source_binlog_checksum= @@global.binlog_checksum");
        break;
    case ST_CHECKSUM_READ:
        snprintf(sql, cap,
                 maria ? "SELECT @master_binlog_checksum" : "SELECT @@global.binlog_checksum");
        break;
    case ST_CAPABILITY:
        if (maria)
            snprintf(sql, cap, "SET @mariadb_slave_capability=4");
        break;
    case ST_REPLICA_UUID:
    case ST_REPLICA_UUID_NEW:
        if (!maria) {
            /* A stable uuid per server_id: a reconnect replaces our own
             * previous dump thread, two replicas never collide. */
            snprintf(sql, cap, "SET @%s= '74617066-6c6f-4000-8000-%012" PRIx32 "'",
                     step == ST_REPLICA_UUID ? "slave_uuid" : "replica_uuid", r->opt.server_id);
        }
        break;
    case ST_MASTER_STATUS:
        if (!r->use_gtid && r->file[0] == '\0')
            snprintf(sql, cap, "SHOW MASTER STATUS");
        break;
    case ST_BINARY_LOGS:
        if (maria && r->use_gtid && r->mariadb_pos.count > 0)
            snprintf(sql, cap, "SHOW BINARY LOGS");
        break;
    case ST_OLDEST_POS:
        if (maria && r->use_gtid && r->oldest_binlog[0] != '\0') {
            char quoted[1100];
            size_t k = 0;
            for (const char *p = r->oldest_binlog; *p && k + 3 < sizeof quoted; p++) {
                if (*p == '\'' || *p == '\\')
                    quoted[k++] = '\\';
                quoted[k++] = *p;
            }
            quoted[k] = '\0';
            snprintf(sql, cap, "SELECT BINLOG_GTID_POS('%s', 4)", quoted);
        }
        break;
    case ST_MYSQL_GTIDS:
        if (!maria && r->use_gtid)
            snprintf(sql, cap, "SELECT @@global.gtid_executed, @@global.gtid_purged");
        break;
    case ST_CONNECT_STATE:
        if (maria && r->use_gtid) {
            char pos[4096];
            tf_mariadb_gtid_pos_format(&r->mariadb_pos, pos, sizeof pos);
            snprintf(sql, cap, "SET @slave_connect_state='%s'", pos);
        }
        break;
    case ST_STRICT:
        if (maria && r->use_gtid)
            snprintf(sql, cap, "SET @slave_gtid_strict_mode=0");
        break;
    case ST_IGNORE_DUPLICATES:
        if (maria && r->use_gtid)
            snprintf(sql, cap, "SET @slave_gtid_ignore_duplicates=0");
        break;
    default: break;
    }
}

static bool is_on(const char *v) { return v && (strcmp(v, "1") == 0 || strcasecmp(v, "ON") == 0); }

/* Names the transactions a MariaDB position misses compared with the state
 * at the start of the oldest binlog the server still has. */
static bool mariadb_check_purged(tf_replica *r, const char *oldest_text, tf_error *err)
{
    tf_mariadb_gtid_pos oldest;
    tf_mariadb_gtid_pos_init(&oldest);
    tf_error perr = {0};
    if (oldest_text == NULL ||
        tf_mariadb_gtid_pos_parse(oldest_text, strlen(oldest_text), &oldest, &perr) != TF_OK) {
        tf_mariadb_gtid_pos_cleanup(&oldest);
        return true; /* nothing to compare with: let the server decide */
    }
    char missing[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < oldest.count; i++) {
        const tf_mariadb_gtid *o = &oldest.gtids[i];
        const tf_mariadb_gtid *have = tf_mariadb_gtid_pos_find(&r->mariadb_pos, o->domain_id);
        uint64_t have_seq = have ? have->seq_no : 0;
        if (have_seq >= o->seq_no)
            continue;
        int n = snprintf(missing + used, sizeof missing - used,
                         "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64 "..%" PRIu32 "-%" PRIu32 "-%" PRIu64,
                         used ? ", " : "", o->domain_id, o->server_id, have_seq + 1, o->domain_id,
                         o->server_id, o->seq_no);
        if (n > 0 && (size_t)n < sizeof missing - used)
            used += (size_t)n;
    }
    tf_mariadb_gtid_pos_cleanup(&oldest);
    if (used == 0)
        return true;
    char pos[1024];
    tf_mariadb_gtid_pos_format(&r->mariadb_pos, pos, sizeof pos);
    tf_error_set(err, TF_ERR_SERVER, 1236,
                 "position %s is no longer on the server: its oldest binlog %s starts after %s, "
                 "so the transactions %s were purged; restart with --resnapshot",
                 pos, r->oldest_binlog, oldest_text, missing);
    return false;
}

static bool mysql_check_purged(tf_replica *r, const char *purged_text, tf_error *err)
{
    if (purged_text == NULL || purged_text[0] == '\0')
        return true;
    tf_gtid_set *missing = NULL;
    tf_error perr = {0};
    if (tf_gtid_set_parse(purged_text, strlen(purged_text), &missing, &perr) != TF_OK)
        return true;
    if (r->mysql_set != NULL)
        tf_gtid_set_subtract(missing, r->mysql_set);
    bool ok = tf_gtid_set_is_empty(missing);
    if (!ok) {
        char *m = tf_gtid_set_to_text(missing, TF_GTID_TEXT_COMPACT);
        char *have = r->mysql_set ? tf_gtid_set_to_text(r->mysql_set, TF_GTID_TEXT_COMPACT) : NULL;
        bool none = have == NULL || have[0] == '\0';
        tf_error_set(err, TF_ERR_SERVER, 1789,
                     "%s%s is no longer on the server: it has purged the transactions %s; "
                     "restart with --resnapshot",
                     none ? "the empty GTID set" : "GTID set ", none ? "" : have, m ? m : "?");
        free(m);
        free(have);
    }
    tf_gtid_set_destroy(missing);
    return ok;
}

/* Reads a step's answer. false: err filled, *fatal says whether to stop. */
static bool step_result(tf_replica *r, int step, tf_error *err, bool *fatal)
{
    const tf_query *q = &r->query;
    const char *c0 = tf_query_cell(q, 0, 0);
    *fatal = true;
    switch (step) {
    case ST_VARIABLES: {
        r->server.server_id = c0 ? (uint32_t)strtoul(c0, NULL, 10) : 0;
        if (r->server.server_id == r->opt.server_id) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "the server's server_id is %" PRIu32 ", the same as ours: choose "
                         "another --server-id",
                         r->server.server_id);
            return false;
        }
        if (!is_on(tf_query_cell(q, 0, 1))) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "binary logging is off on %s (log_bin): there is no binlog to "
                         "stream",
                         tf_conn_peer(r->conn));
            return false;
        }
        const char *format = tf_query_cell(q, 0, 2);
        if (format && strcasecmp(format, "ROW") != 0)
            replica_log(r, "binlog_format is %s on the server: only row events carry row changes",
                        format);
        if (is_mariadb(r)) {
            r->server.gtid_mode = true;
            if (r->opt.start == TF_REPLICA_START_NOW && !r->streamed_once && !r->use_gtid &&
                r->file[0] == '\0') {
                const char *pos = tf_query_cell(q, 0, 4);
                r->use_gtid = true;
                if (tf_mariadb_gtid_pos_parse(pos ? pos : "", pos ? strlen(pos) : 0,
                                              &r->mariadb_pos, err) != TF_OK)
                    return false;
            }
        } else {
            const char *mode = tf_query_cell(q, 0, 4);
            r->server.gtid_mode = mode && strcasecmp(mode, "ON") == 0;
            const char *uuid = tf_query_cell(q, 0, 5);
            snprintf(r->server.server_uuid, sizeof r->server.server_uuid, "%s", uuid ? uuid : "");
            if (r->opt.start == TF_REPLICA_START_NOW && !r->streamed_once && !r->use_gtid &&
                r->file[0] == '\0' && r->server.gtid_mode)
                r->use_gtid = true; /* the set comes with ST_MYSQL_GTIDS */
            if (r->use_gtid && !r->server.gtid_mode) {
                tf_error_set(err, TF_ERR_CONFIG, 0,
                             "gtid_mode is %s on the server: start from a file and position "
                             "instead of a GTID set",
                             mode ? mode : "OFF");
                return false;
            }
        }
        return true;
    }
    case ST_CHECKSUM_READ:
        r->server.checksum =
            c0 && strcasecmp(c0, "CRC32") == 0 ? TF_CHECKSUM_CRC32 : TF_CHECKSUM_OFF;
        return true;
    case ST_MASTER_STATUS:
        if (c0 == NULL) {
            tf_error_set(err, TF_ERR_CONFIG, 0,
                         "SHOW MASTER STATUS is empty: binary logging is off");
            return false;
        }
        snprintf(r->file, sizeof r->file, "%s", c0);
        r->file_pos = strtoull(tf_query_cell(q, 0, 1) ? tf_query_cell(q, 0, 1) : "4", NULL, 10);
        return true;
    case ST_BINARY_LOGS:
        snprintf(r->oldest_binlog, sizeof r->oldest_binlog, "%s", c0 ? c0 : "");
        return true;
    case ST_OLDEST_POS: return mariadb_check_purged(r, c0, err);
    case ST_MYSQL_GTIDS:
        if (r->opt.start == TF_REPLICA_START_NOW && !r->streamed_once && r->mysql_set == NULL) {
            if (tf_gtid_set_parse(c0 ? c0 : "", c0 ? strlen(c0) : 0, &r->mysql_set, err) != TF_OK)
                return false;
        }
        return mysql_check_purged(r, tf_query_cell(q, 0, 1), err);
    default: return true;
    }
}

static void run_step(tf_replica *r);

static void step_done(tf_query *q, const tf_error *qerr, void *arg)
{
    tf_replica *r = arg;
    (void)q;
    tf_error err = {0};
    bool fatal = false;
    if (qerr != NULL) {
        err = *qerr;
        /* A set-up statement the server refuses (privileges, unknown
         * variable) will be refused again. */
        fail_session(r, &err, err.domain == TF_ERR_SERVER);
        return;
    }
    if (!step_result(r, r->session_step, &err, &fatal)) {
        fail_session(r, &err, fatal);
        return;
    }
    r->session_step++;
    run_step(r);
}

static void send_register(tf_replica *r)
{
    const char *host = r->opt.report_host ? r->opt.report_host : "";
    tf_register_slave args = {
        .server_id = r->opt.server_id,
        .hostname = {host, strlen(host)},
        .user = {"", 0},
        .password = {"", 0},
        .port = r->opt.report_port,
    };
    uint8_t buf[1024];
    size_t len = 0;
    tf_error err = {0};
    if (tf_com_register_slave_encode(&args, buf, sizeof buf, &len, &err) != TF_OK) {
        fail_session(r, &err, true);
        return;
    }
    r->phase = PHASE_REGISTER;
    if (!tf_conn_send_command(r->conn, buf, len, &err))
        fail_session(r, &err, false);
}

static void send_dump(tf_replica *r)
{
    tf_error err = {0};
    uint16_t flags = r->opt.stop_at_end ? TF_BINLOG_DUMP_NON_BLOCK : 0;
    if (is_mariadb(r) && r->opt.send_annotate_rows)
        flags |= TF_BINLOG_SEND_ANNOTATE_ROWS_EVENT;
    size_t len = 0;
    uint8_t small[1024];
    uint8_t *buf = small;
    size_t cap = sizeof small;
    tf_status st;
    if (!is_mariadb(r) && r->use_gtid) {
        tf_binlog_dump_gtid args = {
            .flags = (uint16_t)(flags | TF_BINLOG_THROUGH_GTID),
            .server_id = r->opt.server_id,
            .file_name = {"", 0},
            .position = 4,
            .gtids = r->mysql_set,
        };
        st = tf_com_binlog_dump_gtid_encode(&args, NULL, 0, &len, &err);
        if (st == TF_NEED_MORE) {
            cap = len;
            buf = cap <= sizeof small ? small : malloc(cap);
            st = buf ? tf_com_binlog_dump_gtid_encode(&args, buf, cap, &len, &err) : TF_MALFORMED;
        }
    } else {
        /* MariaDB in GTID mode starts from @slave_connect_state: position 4
         * and no file, as its own replica does on a first connect. */
        bool by_gtid = r->use_gtid;
        tf_binlog_dump args = {
            .position = by_gtid ? 4 : (uint32_t)r->file_pos,
            .flags = flags,
            .server_id = r->opt.server_id,
            .file_name = by_gtid ? (tf_str){"", 0} : (tf_str){r->file, strlen(r->file)},
        };
        st = tf_com_binlog_dump_encode(&args, buf, cap, &len, &err);
    }
    if (st != TF_OK) {
        if (buf != small)
            free(buf);
        if (err.message[0] == '\0')
            tf_error_set(&err, TF_ERR_IO, 0, "cannot encode the binlog dump command");
        fail_session(r, &err, true);
        return;
    }
    replica_stream_reset(r);
    tf_format_init(&r->fmt,
                   r->server.checksum == TF_CHECKSUM_CRC32 ? TF_CHECKSUM_CRC32 : TF_CHECKSUM_OFF);
    snprintf(r->cur_file, sizeof r->cur_file, "%s", r->use_gtid ? "" : r->file);
    r->phase = PHASE_STREAMING;
    bool ok = tf_conn_send_command(r->conn, buf, len, &err);
    if (buf != small)
        free(buf);
    if (!ok)
        fail_session(r, &err, false);
}

static void run_step(tf_replica *r)
{
    char sql[8192];
    while (r->session_step < ST_DONE) {
        step_sql(r, r->session_step, sql, sizeof sql);
        if (sql[0] != '\0')
            break;
        r->session_step++;
    }
    if (r->session_step >= ST_DONE) {
        send_register(r);
        return;
    }
    tf_error err = {0};
    if (!tf_query_send(&r->query, r->conn, sql, step_done, r, &err))
        fail_session(r, &err, false);
}

void replica_session_begin(tf_replica *r)
{
    const tf_handshake *hs = tf_conn_handshake(r->conn);
    r->server.flavour = hs->is_mariadb ? TF_FLAVOUR_MARIADB : TF_FLAVOUR_MYSQL;
    snprintf(r->server.version, sizeof r->server.version, "%s", tf_handshake_version(hs));
    r->server.connection_id = hs->connection_id;
    r->server.tls = tf_conn_is_tls(r->conn);
    r->phase = PHASE_SESSION;
    r->session_step = ST_VARIABLES;
    r->oldest_binlog[0] = '\0';
    tf_error err = {0};
    if (!r->streamed_once && r->stats.connects == 0 && !r->position_ready) {
        if (!init_position(r, &err)) {
            fail_session(r, &err, true);
            return;
        }
        r->position_ready = true;
    }
    run_step(r);
}

void replica_session_packet(tf_replica *r, const uint8_t *payload, size_t len)
{
    if (r->phase == PHASE_SESSION) {
        tf_query_feed(&r->query, payload, len);
        return;
    }
    /* PHASE_REGISTER: OK or ERR. */
    tf_error err = {0};
    tf_packet_kind kind = tf_response_classify(payload, len);
    if (kind == TF_PACKET_OK) {
        send_dump(r);
        return;
    }
    if (kind == TF_PACKET_ERR)
        tf_err_payload_to_error(payload, len, &err);
    else
        tf_error_set(&err, TF_ERR_PROTOCOL, 0, "unexpected answer to COM_REGISTER_SLAVE");
    tf_error_prefix(&err, "COM_REGISTER_SLAVE");
    fail_session(r, &err, err.domain == TF_ERR_SERVER);
}
