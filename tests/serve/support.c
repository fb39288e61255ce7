#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- files ---- */

uint8_t *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

void file_write(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

void temp_dir_make(char *buf)
{
    strcpy(buf, "/tmp/tf-serve-test-XXXXXX");
    assert_non_null(mkdtemp(buf));
}

void temp_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

void dir_listing(const char *dir, const char *prefix, char *buf, size_t cap)
{
    char *names[64];
    size_t count = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && !strncmp(de->d_name, prefix, strlen(prefix)) && count < 64)
            names[count++] = strdup(de->d_name);
    closedir(d);
    qsort(names, count, sizeof *names, compare_names);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
        assert_true(used < cap);
    }
}

const char *fixture_path(const char *relative, char *buf, size_t cap)
{
    struct stat st;
    if (stat(TF_FIXTURES_DIR, &st) != 0) {
        print_message("fixtures folder %s is absent; skipping\n", TF_FIXTURES_DIR);
        return NULL;
    }
    snprintf(buf, cap, "%s/%s", TF_FIXTURES_DIR, relative);
    return buf;
}

/* ---- the source file, cut into transactions ---- */

static bool query_is(const tf_event *ev, const char *word)
{
    size_t n = strlen(word);
    return ev->kind == TF_EVENT_QUERY && ev->query.statement.len == n &&
           !strncasecmp(ev->query.statement.ptr, word, n);
}

/* The grouping is written here from the protocol, not copied from
 * archive.c, so that the test checks the archive against an independent
 * reading. Events outside transactions (FDE, GTID_LIST, PREVIOUS_GTIDS,
 * BINLOG_CHECKPOINT, ROTATE, STOP) are not the upstream's to send as a
 * transaction and are left out. */
void src_binlog_load(src_binlog *src, const char *path)
{
    memset(src, 0, sizeof *src);
    src->data = file_read(path, &src->len);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, src->data, src->len, &err), TF_OK);
    size_t cap = 256;
    src->events = calloc(cap, sizeof *src->events);
    src->txns = calloc(cap, sizeof *src->txns);
    bool in_txn = false;
    bool open = false; /* inside BEGIN (MySQL) or a non-standalone MariaDB GTID */
    size_t fde_at = SIZE_MAX, header_at = SIZE_MAX; /* events move as the array grows */
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &err) != TF_OK)
            fail_msg("%s: %s", path, err.message);
        if (src->event_count == cap) {
            cap *= 2;
            src->events = realloc(src->events, cap * sizeof *src->events);
            src->txns = realloc(src->txns, cap * sizeof *src->txns);
        }
        src_event *e = &src->events[src->event_count++];
        e->bytes = src->data + r.event_offset;
        e->len = ev.header.event_size;
        e->offset = r.event_offset;
        e->type = ev.header.type;
        if (ev.kind == TF_EVENT_FORMAT_DESCRIPTION) {
            fde_at = src->event_count - 1;
            src->flavour = ev.format_description.flavour;
            continue;
        }
        if (ev.kind == TF_EVENT_MARIADB_GTID_LIST) {
            tf_mariadb_gtid_pos pos;
            tf_mariadb_gtid_pos_init(&pos);
            for (uint32_t i = 0; i < ev.mariadb_gtid_list.count; i++) {
                tf_mariadb_gtid g;
                tf_mariadb_gtid_list_get(&ev.mariadb_gtid_list, i, &g);
                tf_mariadb_gtid_pos_update(&pos, &g);
            }
            tf_mariadb_gtid_pos_format(&pos, src->start_gtid, sizeof src->start_gtid);
            tf_mariadb_gtid_pos_cleanup(&pos);
            header_at = src->event_count - 1;
            continue;
        }
        if (ev.kind == TF_EVENT_PREVIOUS_GTIDS) {
            tf_gtid_set *set;
            assert_int_equal(tf_gtid_set_decode_binary(ev.previous_gtids.data,
                                                       ev.previous_gtids.data_len, &set, &err),
                             TF_OK);
            tf_gtid_set_format(set, TF_GTID_TEXT_COMPACT, src->start_gtid, sizeof src->start_gtid);
            tf_gtid_set_destroy(set);
            header_at = src->event_count - 1;
            continue;
        }
        if (ev.kind == TF_EVENT_MARIADB_GTID || ev.kind == TF_EVENT_GTID) {
            assert_false(in_txn);
            src_txn *t = &src->txns[src->txn_count++];
            memset(t, 0, sizeof *t);
            t->first = src->event_count - 1;
            if (ev.kind == TF_EVENT_MARIADB_GTID) {
                t->has_gtid = true;
                t->mariadb_gtid = (tf_mariadb_gtid){
                    ev.mariadb_gtid.domain_id, ev.mariadb_gtid.server_id, ev.mariadb_gtid.seq_no};
                open = !(ev.mariadb_gtid.flags2 & TF_MARIADB_GTID_F_STANDALONE);
            } else {
                open = false;
                if (!ev.gtid.anonymous) {
                    t->has_gtid = true;
                    memcpy(t->mysql_gtid.uuid, ev.gtid.sid, 16);
                    assert_int_equal(
                        tf_gtid_set_tag(&t->mysql_gtid, ev.gtid.tag, strlen(ev.gtid.tag), &err),
                        TF_OK);
                    t->mysql_gtid.gno = (int64_t)ev.gtid.gno;
                }
            }
            in_txn = true;
        }
        if (!in_txn)
            continue;
        src_txn *t = &src->txns[src->txn_count - 1];
        t->count = src->event_count - t->first;
        t->bytes += e->len;
        bool ends = false;
        if (ev.kind == TF_EVENT_XID || ev.kind == TF_EVENT_TRANSACTION_PAYLOAD)
            ends = true;
        else if (query_is(&ev, "BEGIN"))
            open = true;
        else if (ev.kind == TF_EVENT_QUERY)
            ends = !open || query_is(&ev, "COMMIT") || query_is(&ev, "ROLLBACK");
        if (ends)
            in_txn = false;
    }
    assert_false(in_txn);
    assert_true(fde_at != SIZE_MAX && header_at != SIZE_MAX);
    src->fde = &src->events[fde_at];
    src->gtid_header = &src->events[header_at];
}

void src_binlog_cleanup(src_binlog *src)
{
    free(src->data);
    free(src->events);
    free(src->txns);
    memset(src, 0, sizeof *src);
}

void src_gtid_after(const src_binlog *src, size_t n, char *buf, size_t cap)
{
    tf_error err = {0};
    if (src->flavour == TF_FLAVOUR_MARIADB) {
        tf_mariadb_gtid_pos pos;
        tf_mariadb_gtid_pos_init(&pos);
        assert_int_equal(
            tf_mariadb_gtid_pos_parse(src->start_gtid, strlen(src->start_gtid), &pos, &err), TF_OK);
        for (size_t i = 0; i < n; i++)
            if (src->txns[i].has_gtid)
                tf_mariadb_gtid_pos_update(&pos, &src->txns[i].mariadb_gtid);
        tf_mariadb_gtid_pos_format(&pos, buf, cap);
        tf_mariadb_gtid_pos_cleanup(&pos);
        return;
    }
    tf_gtid_set *set;
    assert_int_equal(tf_gtid_set_parse(src->start_gtid, strlen(src->start_gtid), &set, &err),
                     TF_OK);
    for (size_t i = 0; i < n; i++)
        if (src->txns[i].has_gtid)
            assert_int_equal(tf_gtid_set_add(set, &src->txns[i].mysql_gtid, &err), TF_OK);
    tf_gtid_set_format(set, TF_GTID_TEXT_COMPACT, buf, cap);
    tf_gtid_set_destroy(set);
}

/* ---- archive files ---- */

void arc_file_load(arc_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->data = file_read(path, &f->len);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, f->data, f->len, &err), TF_OK);
    size_t cap = 16;
    f->events = malloc(cap * sizeof *f->events);
    bool crc = false;
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &err) != TF_OK)
            fail_msg("%s: %s", path, err.message);
        if (f->event_count == cap)
            f->events = realloc(f->events, (cap *= 2) * sizeof *f->events);
        arc_event *e = &f->events[f->event_count++];
        e->offset = r.event_offset;
        e->len = ev.header.event_size;
        e->header = ev.header;
        if (ev.kind == TF_EVENT_FORMAT_DESCRIPTION)
            f->crc = crc = ev.format_description.checksum_alg == TF_CHECKSUM_CRC32;
        /* Every event names where it ends in this file. */
        assert_int_equal(ev.header.log_pos, e->offset + e->len);
        if (crc) {
            const uint8_t *p = f->data + e->offset;
            uint32_t want = (uint32_t)crc32(0, p, (uInt)(e->len - 4));
            assert_int_equal(le32(p + e->len - 4), want);
        }
    }
    assert_int_equal(r.pos, f->len);
}

void arc_file_cleanup(arc_file *f)
{
    free(f->data);
    free(f->events);
    memset(f, 0, sizeof *f);
}

void arc_file_header_gtid(const arc_file *f, char *buf, size_t cap)
{
    assert_true(f->event_count >= 2);
    assert_int_equal(f->events[0].header.type, TF_EV_FORMAT_DESCRIPTION);
    const arc_event *e = &f->events[1];
    const uint8_t *p = f->data + e->offset;
    const uint8_t *body = p + TF_EVENT_HEADER_LEN;
    size_t body_len = e->len - TF_EVENT_HEADER_LEN - (f->crc ? 4 : 0);
    if (e->header.type == TF_EV_MARIADB_GTID_LIST) {
        uint32_t count = le32(body) & 0x0fffffff;
        assert_int_equal(body_len, 4 + (size_t)count * 16);
        tf_mariadb_gtid_pos pos;
        tf_mariadb_gtid_pos_init(&pos);
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *g = body + 4 + i * 16;
            tf_mariadb_gtid gtid = {le32(g), le32(g + 4),
                                    le32(g + 8) | (uint64_t)le32(g + 12) << 32};
            tf_mariadb_gtid_pos_update(&pos, &gtid);
        }
        tf_mariadb_gtid_pos_format(&pos, buf, cap);
        tf_mariadb_gtid_pos_cleanup(&pos);
        return;
    }
    assert_int_equal(e->header.type, TF_EV_PREVIOUS_GTIDS);
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_decode_binary(body, body_len, &set, &err), TF_OK);
    tf_gtid_set_format(set, TF_GTID_TEXT_COMPACT, buf, cap);
    tf_gtid_set_destroy(set);
}

void arc_format(tf_archive *a, const src_binlog *src)
{
    tf_error err = {0};
    if (!tf_archive_format(a, src->fde->bytes, src->fde->len, &err))
        fail_msg("tf_archive_format: %s", err.message);
}

void arc_feed(tf_archive *a, const src_binlog *src, size_t from, size_t to)
{
    for (size_t t = from; t < to; t++) {
        const src_txn *txn = &src->txns[t];
        const uint8_t *events[64];
        size_t lens[64];
        assert_true(txn->count <= 64);
        for (size_t i = 0; i < txn->count; i++) {
            events[i] = src->events[txn->first + i].bytes;
            lens[i] = src->events[txn->first + i].len;
        }
        tf_error err = {0};
        if (!tf_archive_transaction(a, events, lens, txn->count, &err))
            fail_msg("tf_archive_transaction %zu: %s", t, err.message);
    }
}

void assert_txn_archived(const arc_file *f, size_t first, const src_binlog *src, size_t t)
{
    const src_txn *txn = &src->txns[t];
    assert_true(first + txn->count <= f->event_count);
    for (size_t i = 0; i < txn->count; i++) {
        const arc_event *e = &f->events[first + i];
        const src_event *s = &src->events[txn->first + i];
        const uint8_t *p = f->data + e->offset;
        assert_int_equal(e->len, s->len);
        assert_memory_equal(p, s->bytes, 13);
        assert_memory_equal(p + 17, s->bytes + 17, s->len - 17 - 4);
        assert_int_equal(le32(p + 13), e->offset + e->len);
    }
}

tf_archive *arc_open(struct event_base *base, tf_binlog_store *store, const char *dir,
                     uint64_t rotate_bytes, uint64_t retention_bytes)
{
    tf_archive_options opt;
    memset(&opt, 0, sizeof opt);
    opt.dir = dir;
    opt.rotate_bytes = rotate_bytes;
    opt.retention_bytes = retention_bytes;
    tf_error err = {0};
    tf_archive *a = tf_archive_open(base, &opt, store, &err);
    if (!a)
        fail_msg("tf_archive_open %s: %s", dir, err.message);
    return a;
}

const char *store_gtid(const tf_binlog_store *store, char *buf, size_t cap)
{
    tf_binlog_store_gtid_text(store, buf, cap);
    return buf;
}

void store_listing(const tf_binlog_store *store, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tf_binlog_store_file_count(store); i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? " " : "",
                                 tf_binlog_store_file_name(store, i));
        assert_true(used < cap);
    }
}

/* ---- whole checks ---- */

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

size_t check_archive_round_trip(const src_binlog *src)
{
    char dir[64], path[256], gtid[1024], want[1024], names[256];
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, src->flavour, src->start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 0, 0);
    assert_false(tf_archive_has_format(a));
    arc_format(a, src);
    assert_true(tf_archive_has_format(a));
    /* The header is written, synced and served at once. */
    assert_int_equal(tf_binlog_store_file_count(store), 1);
    assert_string_equal(tf_binlog_store_file_name(store, 0), "relay-bin.000001");
    size_t header_len = (size_t)tf_binlog_store_file_size(store, 0);
    assert_int_equal(header_len, 4 + src->fde->len + src->gtid_header->len);
    assert_int_equal(tf_binlog_store_event_count(store), 2);

    arc_feed(a, src, 0, src->txn_count);
    size_t total = header_len;
    size_t events = 2;
    for (size_t t = 0; t < src->txn_count; t++) {
        total += src->txns[t].bytes;
        events += src->txns[t].count;
    }
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    /* Written, not yet synced: not served (unless the group commit's
     * time cap passed while feeding, as under valgrind). */
    assert_int_equal(file_size(path), total);
    const tf_archive_stats *st = tf_archive_get_stats(a);
    bool synced_early = st->syncs > 1;
    if (!synced_early) {
        assert_int_equal(tf_binlog_store_file_size(store, 0), header_len);
        assert_string_equal(store_gtid(store, gtid, sizeof gtid), src->start_gtid);
    }
    assert_int_not_equal(event_base_loop(base, EVLOOP_NONBLOCK), -1);
    /* One fdatasync for all the transactions that arrived together. */
    if (!synced_early)
        assert_int_equal(st->syncs, 2);
    assert_int_equal(st->transactions, src->txn_count);
    assert_int_equal(st->files_created, 1);
    assert_int_equal(st->bytes_written, total);
    assert_int_equal(tf_binlog_store_file_size(store, 0), total);
    assert_int_equal(tf_binlog_store_event_count(store), events);
    src_gtid_after(src, src->txn_count, want, sizeof want);
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), want);
    tf_archive_close(a);

    arc_file f;
    arc_file_load(&f, path);
    assert_int_equal(f.len, total);
    assert_int_equal(f.event_count, events);
    /* The upstream's FDE, but for log_pos, the "in use" flag, the CRC. */
    const uint8_t *fde = f.data + 4;
    assert_int_equal(f.events[0].len, src->fde->len);
    assert_memory_equal(fde, src->fde->bytes, 13);
    assert_int_equal(le16(fde + 17), le16(src->fde->bytes + 17) & ~TF_EVENT_F_BINLOG_IN_USE);
    assert_memory_equal(fde + 19, src->fde->bytes + 19, src->fde->len - 19 - 4);
    /* The GTID header says the seed, in the bytes the server wrote. */
    const arc_event *h = &f.events[1];
    assert_int_equal(h->header.type, src->gtid_header->type);
    assert_int_equal(h->header.server_id, le32(src->fde->bytes + 5));
    assert_int_equal(h->len, src->gtid_header->len);
    assert_memory_equal(f.data + h->offset + 19, src->gtid_header->bytes + 19, h->len - 19 - 4);
    arc_file_header_gtid(&f, gtid, sizeof gtid);
    assert_string_equal(gtid, src->start_gtid);
    size_t at = 2;
    for (size_t t = 0; t < src->txn_count; t++) {
        assert_txn_archived(&f, at, src, t);
        at += src->txns[t].count;
    }
    arc_file_cleanup(&f);

    /* Reopened with a fresh store: the same files and state. */
    tf_binlog_store *again = tf_binlog_store_new();
    a = arc_open(base, again, dir, 0, 0);
    assert_true(tf_archive_has_format(a));
    store_listing(again, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001");
    assert_int_equal(tf_binlog_store_file_size(again, 0), total);
    assert_int_equal(tf_binlog_store_event_count(again), events);
    assert_int_equal(tf_binlog_store_flavour(again), src->flavour);
    assert_string_equal(store_gtid(again, gtid, sizeof gtid), want);
    assert_int_equal(tf_archive_get_stats(a)->recovered_files, 1);
    assert_int_equal(tf_archive_get_stats(a)->recovered_cut_bytes, 0);
    tf_archive_close(a);
    tf_binlog_store_destroy(again);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    return total;
}

void check_archive_torn_tail_every_offset(const src_binlog *src)
{
    size_t n = src->txn_count;
    assert_true(n >= 2);
    char dir[64], cut_dir[64], path[256], gtid[1024], want[1024];
    temp_dir_make(dir);
    temp_dir_make(cut_dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, src->flavour, src->start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 0, 0);
    arc_format(a, src);
    arc_feed(a, src, 0, n);
    tf_archive_close(a);
    tf_binlog_store_destroy(store);
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    size_t whole_len;
    uint8_t *whole = file_read(path, &whole_len);

    /* boundary[k]: where transaction k starts (k = n: the end). */
    size_t *boundary = calloc(n + 1, sizeof *boundary);
    boundary[0] = whole_len;
    for (size_t t = 0; t < n; t++)
        boundary[0] -= src->txns[t].bytes;
    for (size_t t = 0; t < n; t++)
        boundary[t + 1] = boundary[t] + src->txns[t].bytes;
    assert_int_equal(boundary[n], whole_len);

    snprintf(path, sizeof path, "%s/relay-bin.000001", cut_dir);
    for (size_t len = boundary[n - 2]; len <= whole_len; len++) {
        size_t k = n;
        while (boundary[k] > len)
            k--;
        file_write(path, whole, len);
        store = tf_binlog_store_new();
        a = arc_open(base, store, cut_dir, 0, 0);
        src_gtid_after(src, k, want, sizeof want);
        assert_string_equal(store_gtid(store, gtid, sizeof gtid), want);
        assert_int_equal(file_size(path), boundary[k]);
        assert_int_equal(tf_binlog_store_file_size(store, 0), boundary[k]);
        assert_int_equal(tf_archive_get_stats(a)->recovered_cut_bytes, len - boundary[k]);
        if (k < n) {
            /* The upstream is asked again for what was cut. */
            arc_format(a, src);
            arc_feed(a, src, k, k + 1);
            assert_true(tf_archive_flush(a, &err));
            src_gtid_after(src, k + 1, want, sizeof want);
            assert_string_equal(store_gtid(store, gtid, sizeof gtid), want);
            assert_int_equal(tf_binlog_store_file_size(store, 0), boundary[k + 1]);
        }
        tf_archive_close(a);
        tf_binlog_store_destroy(store);
        size_t end = boundary[k < n ? k + 1 : n];
        arc_file f;
        arc_file_load(&f, path);
        assert_int_equal(f.len, end);
        assert_memory_equal(f.data, whole, end);
        arc_file_cleanup(&f);
    }
    free(boundary);
    free(whole);
    event_base_free(base);
    temp_dir_remove(dir);
    temp_dir_remove(cut_dir);
}
