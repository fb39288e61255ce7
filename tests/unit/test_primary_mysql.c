/* test_primary_mysql.c — the MySQL 8 path of tapflow-test-primary with the
 * real MySQL 8 binlogs of ../shared/fixtures: a tiny blocking client (built
 * on protocol/ only) logs in, registers, sends COM_BINLOG_DUMP_GTID with a
 * GTID set that covers the first transactions of a file, and must get
 * exactly the remaining transactions, byte for byte as the file holds them,
 * with valid checksums, then a heartbeat.
 *
 * The expected transactions are read from the same file with
 * tf_binlog_reader, independently of the server. Skips when the fixtures
 * folder or the tapflow-test-primary binary is absent. */
#include "support.h"

#include "protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TXNS 64

/* ---- the primary, a child process ---- */

typedef struct primary {
    pid_t pid;
    int port;
} primary;

static bool primary_binary(char *path, size_t cap)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    snprintf(path, cap, "%s/../tools/test-primary/tapflow-test-primary", self);
    return access(path, X_OK) == 0;
}

/* Starts the primary on an ephemeral port serving file; false (and a skip
 * message) when the fixture or the binary is missing. */
static bool primary_start(const char *fixture, primary *p)
{
    char file[1024], bin[1200];
    if (!tf_test_fixture(fixture, file, sizeof file))
        return false;
    if (!primary_binary(bin, sizeof bin)) {
        print_message("tapflow-test-primary is not built next to this test; skipping\n");
        return false;
    }
    int out[2];
    assert_int_equal(pipe(out), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        /* Dies with the test, even when a failed assertion skips
         * primary_stop. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], 1);
        close(out[0]);
        execl(bin, bin, "--port", "0", "--flavor", "mysql", "--heartbeat", "0.2", "--user", "repl",
              "--password", "s3cret", file, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t n = 0;
    while (n + 1 < sizeof line) {
        ssize_t got = read(out[0], line + n, 1);
        if (got <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || !colon)
        fail_msg("tapflow-test-primary did not start: '%s'", line);
    p->port = atoi(colon + 1);
    return true;
}

static void primary_stop(primary *p)
{
    kill(p->pid, SIGTERM);
    int status;
    waitpid(p->pid, &status, 0);
}

/* ---- a blocking client ---- */

typedef struct client {
    int fd;
    uint8_t seq;
    uint8_t *payload; /* last packet read */
    size_t len;
} client;

static void read_exact(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) != 1)
            fail_msg("no data from the primary within 5 s");
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            fail_msg("connection closed by the primary (%s)", r < 0 ? strerror(errno) : "EOF");
        got += (size_t)r;
    }
}

/* Reads one logical packet (assembling 16 MiB chunks). */
static void client_read(client *c)
{
    free(c->payload);
    c->payload = NULL;
    c->len = 0;
    for (;;) {
        uint8_t header[4];
        read_exact(c->fd, header, 4);
        size_t n = (size_t)header[0] | (size_t)header[1] << 8 | (size_t)header[2] << 16;
        assert_int_equal(header[3], c->seq);
        c->seq++;
        c->payload = realloc(c->payload, c->len + n + 1);
        read_exact(c->fd, c->payload + c->len, n);
        c->len += n;
        if (n < TF_PACKET_MAX_CHUNK)
            return;
    }
}

static void client_send(client *c, const uint8_t *payload, size_t len)
{
    size_t size = tf_packet_encoded_size(len);
    uint8_t *wire = malloc(size);
    size_t n = tf_packet_encode(payload, len, NULL, 0, c->seq, wire, size, &c->seq);
    assert_int_equal(write(c->fd, wire, n), (ssize_t)n);
    free(wire);
}

static void client_command(client *c, const uint8_t *payload, size_t len)
{
    c->seq = 0;
    client_send(c, payload, len);
}

/* Connects and authenticates; returns the auth action (DONE or FAILED)
 * with err filled on failure. */
static tf_auth_action client_connect(client *c, int port, const char *user, const char *password,
                                     tf_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof sin), 0);
    client_read(c);
    tf_handshake hs;
    assert_int_equal(tf_handshake_decode(c->payload, c->len, &hs, err), TF_OK);
    /* The version comes from the served file's FORMAT_DESCRIPTION. */
    assert_true(hs.server_version[0] == '8' || hs.server_version[0] == '9');
    assert_false(hs.is_mariadb);
    tf_auth auth;
    tf_auth_init(&auth, password, strlen(password), false);
    assert_int_equal(tf_auth_start(&auth, &hs, err), TF_OK);
    uint64_t caps = tf_handshake_negotiate(TF_CLIENT_PROTOCOL_41 | TF_CLIENT_SECURE_CONNECTION |
                                               TF_CLIENT_PLUGIN_AUTH | TF_CLIENT_LONG_PASSWORD |
                                               TF_CLIENT_TRANSACTIONS | TF_CLIENT_DEPRECATE_EOF,
                                           hs.capabilities);
    tf_handshake_response resp = {.capabilities = caps,
                                  .max_packet_size = 1 << 30,
                                  .charset = 255,
                                  .username = user,
                                  .auth_response = auth.response,
                                  .auth_response_len = auth.response_len,
                                  .auth_plugin = auth.plugin_name};
    uint8_t buf[512];
    size_t n;
    assert_int_equal(tf_handshake_response_encode(&resp, buf, sizeof buf, &n, err), TF_OK);
    client_send(c, buf, n);
    for (;;) {
        client_read(c);
        tf_auth_action a = tf_auth_step(&auth, c->payload, c->len, err);
        if (a == TF_AUTH_SEND) {
            client_send(c, auth.response, auth.response_len);
            continue;
        }
        if (a == TF_AUTH_READ)
            continue;
        tf_auth_cleanup(&auth);
        return a;
    }
}

static void client_query_ok(client *c, const char *query)
{
    uint8_t buf[256];
    uint8_t next;
    size_t n = tf_com_query_encode(query, strlen(query), buf, sizeof buf, &next);
    assert_true(n > 0);
    assert_int_equal(write(c->fd, buf, n), (ssize_t)n);
    c->seq = next;
    client_read(c);
    if (c->len > 0 && c->payload[0] == 0xff) {
        tf_error err = {0};
        tf_err_payload_to_error(c->payload, c->len, &err);
        fail_msg("%s: %s", query, err.message);
    }
    assert_int_equal(c->payload[0], 0x00);
}

static void client_close(client *c)
{
    free(c->payload);
    close(c->fd);
}

/* ---- transactions: from the file, and from the stream ---- */

typedef struct txn {
    int64_t gno; /* 0 for ANONYMOUS_GTID */
    size_t events;
    uint64_t rows;
} txn;

typedef struct txn_list {
    txn items[MAX_TXNS];
    size_t count;
} txn_list;

/* Adds ev to the list: a GTID starts a transaction; rows events count their
 * rows (decoded with the table maps seen). */
static void account_event(txn_list *list, tf_table_maps *maps, const tf_event *ev)
{
    tf_error err = {0};
    if (ev->kind == TF_EVENT_GTID) {
        assert_true(list->count < MAX_TXNS);
        list->items[list->count++] = (txn){.gno = (int64_t)ev->gtid.gno};
        return;
    }
    if (list->count == 0 || ev->kind == TF_EVENT_ROTATE || ev->kind == TF_EVENT_HEARTBEAT ||
        ev->kind == TF_EVENT_FORMAT_DESCRIPTION || ev->kind == TF_EVENT_PREVIOUS_GTIDS ||
        ev->kind == TF_EVENT_STOP)
        return;
    txn *t = &list->items[list->count - 1];
    t->events++;
    if (ev->kind == TF_EVENT_TABLE_MAP)
        assert_int_equal(tf_table_maps_add_event(maps, ev, &err), TF_OK);
    if (ev->kind == TF_EVENT_ROWS) {
        const tf_table_map *map;
        assert_int_equal(tf_table_maps_find(maps, ev, &map, &err), TF_OK);
        tf_rows_cursor cur;
        assert_int_equal(tf_rows_begin(&cur, ev, map, &err), TF_OK);
        tf_value *before = calloc(map->column_count, sizeof *before);
        tf_value *after = calloc(map->column_count, sizeof *after);
        while (tf_rows_has_next(&cur)) {
            if (tf_rows_next(&cur, before, after, &err) != TF_OK)
                fail_msg("rows: %s", err.message);
            t->rows++;
        }
        tf_rows_cleanup(&cur);
        free(before);
        free(after);
    }
}

static uint8_t *file_transactions(const char *fixture, txn_list *list, size_t *file_len)
{
    char path[1024];
    tf_test_fixture(fixture, path, sizeof path);
    uint8_t *data = tf_test_read_file(path, file_len);
    assert_non_null(data);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, data, *file_len, &err), TF_OK);
    tf_table_maps *maps = tf_table_maps_new();
    list->count = 0;
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
        account_event(list, maps, &ev);
    }
    tf_table_maps_destroy(maps);
    return data;
}

/* Dumps with COM_BINLOG_DUMP_GTID (gtids as text) until a heartbeat comes;
 * every event must decode with its CRC32 verified and, unless made by the
 * server (artificial ROTATE, FDE, heartbeat), be byte for byte the file's
 * event at log_pos - size. Returns the server's ERR (code) or 0. */
static uint16_t dump_gtid(const primary *p, const char *fixture, const char *gtids, txn_list *got,
                          tf_error *server_err)
{
    size_t file_len;
    txn_list unused;
    uint8_t *file = file_transactions(fixture, &unused, &file_len);
    const char *name = strrchr(fixture, '/') ? strrchr(fixture, '/') + 1 : fixture;
    client c;
    tf_error err = {0};
    assert_int_equal(client_connect(&c, p->port, "repl", "s3cret", &err), TF_AUTH_DONE);
    client_query_ok(&c, "SET @master_heartbeat_period= 200000000");
    client_query_ok(&c, "SET @master_binlog_checksum= @@global.binlog_checksum");
    uint8_t buf[1024];
    size_t n;
    tf_register_slave reg = {.server_id = 77, .hostname = {"tf-test", 7}, .port = 3306};
    assert_int_equal(tf_com_register_slave_encode(&reg, buf, sizeof buf, &n, &err), TF_OK);
    client_command(&c, buf, n);
    client_read(&c);
    assert_int_equal(c.payload[0], 0x00);
    tf_gtid_set *set;
    assert_int_equal(tf_gtid_set_parse(gtids, strlen(gtids), &set, &err), TF_OK);
    tf_binlog_dump_gtid dump = {.flags = TF_BINLOG_THROUGH_GTID,
                                .server_id = 77,
                                .file_name = {"", 0},
                                .position = 4,
                                .gtids = set};
    assert_int_equal(tf_com_binlog_dump_gtid_encode(&dump, buf, sizeof buf, &n, &err), TF_OK);
    tf_gtid_set_destroy(set);
    client_command(&c, buf, n);

    tf_format fmt;
    tf_format_init(&fmt, TF_CHECKSUM_CRC32); /* we said CRC32 */
    tf_table_maps *maps = tf_table_maps_new();
    got->count = 0;
    size_t index = 0;
    bool heartbeat = false;
    uint16_t code = 0;
    while (!heartbeat) {
        client_read(&c);
        if (c.payload[0] == 0xff) {
            tf_err_payload_to_error(c.payload, c.len, server_err);
            code = (uint16_t)server_err->code;
            break;
        }
        assert_int_equal(c.payload[0], 0x00);
        const uint8_t *event = c.payload + 1;
        size_t len = c.len - 1;
        tf_event ev;
        size_t consumed;
        if (tf_event_decode(event, len, &fmt, &ev, &consumed, &err) != TF_OK)
            fail_msg("event %zu: %s", index, err.message);
        assert_int_equal(consumed, len);
        assert_true(ev.has_checksum);
        if (index == 0) {
            /* The artificial ROTATE: timestamp 0, log_pos 0, the file. */
            assert_int_equal(ev.kind, TF_EVENT_ROTATE);
            assert_int_equal(ev.header.flags, TF_EVENT_F_ARTIFICIAL);
            assert_int_equal(ev.header.timestamp, 0);
            assert_int_equal(ev.header.log_pos, 0);
            assert_int_equal(ev.rotate.position, 4);
            assert_int_equal(ev.rotate.next_file.len, strlen(name));
            assert_memory_equal(ev.rotate.next_file.ptr, name, strlen(name));
        } else if (index == 1) {
            assert_int_equal(ev.kind, TF_EVENT_FORMAT_DESCRIPTION);
            fmt = ev.format_description;
        } else if (ev.kind == TF_EVENT_HEARTBEAT) {
            assert_int_equal(ev.heartbeat.log_file.len, strlen(name));
            assert_memory_equal(ev.heartbeat.log_file.ptr, name, strlen(name));
            assert_int_equal(ev.header.log_pos, file_len);
            heartbeat = true;
        } else {
            size_t at = ev.header.log_pos - ev.header.event_size;
            assert_true(ev.header.log_pos <= file_len);
            assert_memory_equal(event, file + at, len);
            account_event(got, maps, &ev);
        }
        index++;
    }
    tf_table_maps_destroy(maps);
    client_close(&c);
    free(file);
    return code;
}

/* The file's transactions whose gno is not in [1, covered]. */
static void expect_after(const txn_list *all, int64_t covered, txn_list *want)
{
    want->count = 0;
    for (size_t i = 0; i < all->count; i++)
        if (all->items[i].gno == 0 || all->items[i].gno > covered)
            want->items[want->count++] = all->items[i];
}

static void assert_same_transactions(const txn_list *got, const txn_list *want)
{
    assert_int_equal(got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        assert_int_equal(got->items[i].gno, want->items[i].gno);
        assert_int_equal(got->items[i].events, want->items[i].events);
        assert_int_equal(got->items[i].rows, want->items[i].rows);
    }
}

static void check_resume(const char *fixture, const char *uuid, int64_t covered, size_t want_count)
{
    primary p;
    if (!primary_start(fixture, &p)) {
        skip();
        return;
    }
    size_t len;
    txn_list all, want, got;
    free(file_transactions(fixture, &all, &len));
    expect_after(&all, covered, &want);
    char gtids[128];
    if (covered > 0)
        snprintf(gtids, sizeof gtids, "%s:1-%lld", uuid, (long long)covered);
    else
        gtids[0] = '\0';
    tf_error err = {0};
    uint16_t code = dump_gtid(&p, fixture, gtids, &got, &err);
    primary_stop(&p);
    if (code)
        fail_msg("server error %u: %s", code, err.message);
    assert_same_transactions(&got, &want);
    assert_int_equal(got.count, want_count);
}

#define ENUM_SET "rust_mysql_common/mysql-enum-string-set.000001"
#define INVISIBLE "rust_mysql_common/binlog-invisible-columns.000001"

/* GTIDs 1-2 (the DDL) covered: 3 (insert), 4 (update), 5 (delete) come. */
static void test_dump_gtid_skips_covered_transactions(void **state)
{
    (void)state;
    check_resume(ENUM_SET, "93e95066-a2f4-11ec-9b69-9657f0ae95e2", 2, 3);
}

/* Resume in the middle of a file, after a row transaction. */
static void test_dump_gtid_resumes_mid_file(void **state)
{
    (void)state;
    char path[1024];
    if (!tf_test_fixture(INVISIBLE, path, sizeof path)) {
        skip();
        return;
    }
    size_t len;
    txn_list all;
    free(file_transactions(INVISIBLE, &all, &len));
    assert_int_equal(all.count, 5);
    /* The uuid of the file's GTIDs, read from the file. */
    uint8_t *data = tf_test_read_file(path, &len);
    tf_binlog_reader r;
    tf_error err = {0};
    tf_binlog_reader_init(&r, data, len, &err);
    char uuid[TF_GTID_UUID_TEXT_LEN + 1] = "";
    while (!uuid[0] && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
        if (ev.kind == TF_EVENT_GTID)
            tf_gtid_uuid_format(ev.gtid.sid, uuid);
    }
    free(data);
    assert_true(all.items[2].rows + all.items[3].rows + all.items[4].rows > 0);
    check_resume(INVISIBLE, uuid, 3, 2);
}

/* Everything covered: nothing but the heartbeat. */
static void test_dump_gtid_all_covered_sends_only_heartbeat(void **state)
{
    (void)state;
    check_resume(ENUM_SET, "93e95066-a2f4-11ec-9b69-9657f0ae95e2", 5, 0);
}

/* ANONYMOUS_GTID transactions are served whatever the set (the files were
 * written with gtid_mode OFF). */
static void test_dump_gtid_serves_anonymous_transactions(void **state)
{
    (void)state;
    check_resume("rust_mysql_common/json.binlog.000001", "", 0, 8);
}

static void test_dump_gtid_serves_bigger_anonymous_file(void **state)
{
    (void)state;
    check_resume("mysql-cdc-rs/02_query_bigger/binlog.000733", "", 0, 11);
}

/* A file whose PREVIOUS_GTIDS the replica lacks: purged, ERR 1236 naming
 * the missing GTIDs. */
static void test_dump_gtid_purged_is_error_1236(void **state)
{
    (void)state;
    static const char fixture[] = "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001";
    primary p;
    if (!primary_start(fixture, &p)) {
        skip();
        return;
    }
    txn_list got;
    tf_error err = {0};
    uint16_t code = dump_gtid(&p, fixture, "", &got, &err);
    primary_stop(&p);
    assert_int_equal(code, 1236);
    assert_string_equal(err.message,
                        "server error 1236 (HY000): Cannot replicate because the source purged "
                        "required binary logs. Replicate the missing transactions from "
                        "elsewhere, or provision a new replica from backup. Consider increasing "
                        "the source's binary log expiration period. The GTID set sent by the "
                        "replica is '', and the missing transactions are "
                        "'55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2'");
}

static void test_wrong_password_is_1045(void **state)
{
    (void)state;
    primary p;
    if (!primary_start(ENUM_SET, &p)) {
        skip();
        return;
    }
    client c;
    tf_error err = {0};
    assert_int_equal(client_connect(&c, p.port, "repl", "not-it", &err), TF_AUTH_FAILED);
    assert_int_equal(err.domain, TF_ERR_SERVER);
    assert_int_equal(err.code, 1045);
    assert_string_equal(err.message, "server error 1045 (28000): Access denied for user "
                                     "'repl'@'127.0.0.1' (using password: YES)");
    client_close(&c);
    primary_stop(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_gtid_skips_covered_transactions),
        cmocka_unit_test(test_dump_gtid_resumes_mid_file),
        cmocka_unit_test(test_dump_gtid_all_covered_sends_only_heartbeat),
        cmocka_unit_test(test_dump_gtid_serves_anonymous_transactions),
        cmocka_unit_test(test_dump_gtid_serves_bigger_anonymous_file),
        cmocka_unit_test(test_dump_gtid_purged_is_error_1236),
        cmocka_unit_test(test_wrong_password_is_1045),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
