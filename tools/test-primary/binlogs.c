/* binlogs.c — the binlog files the test primary serves, read whole at start
 * and indexed once: where every event starts, which transactions (GTIDs)
 * they hold, and the GTID state at the start of each file (MariaDB
 * GTID_LIST, MySQL PREVIOUS_GTIDS). From that index it answers where a
 * replica must start, the way the real servers decide it. */
#include "primary.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool read_whole_file(const char *path, uint8_t **data, size_t *len, tf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tf_error_set(err, TF_ERR_IO, 0, "cannot open binlog %s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                tf_error_set(err, TF_ERR_IO, 0, "out of memory reading %s", path);
                return false;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        tf_error_set(err, TF_ERR_IO, 0, "cannot read binlog %s", path);
        return false;
    }
    *data = buf;
    *len = n;
    return true;
}

/* NAME.NNNNNN starting with the binlog magic: what servers call binlog
 * files (the .index is not one, nor Aria's aria_log.00000001). */
static bool looks_like_binlog(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t magic[TF_BINLOG_MAGIC_LEN];
    FILE *f = fopen(path, "rb");
    bool is_binlog = f && fread(magic, 1, sizeof magic, f) == sizeof magic &&
                     tf_binlog_check_magic(magic, sizeof magic, NULL) == TF_OK;
    if (f)
        fclose(f);
    if (!is_binlog)
        return false;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || !dot[1])
        return false;
    for (const char *p = dot + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Indexes one file's events and its GTID state. */
static bool index_file(tp_binlogs *b, tp_binlog *f, tf_error *err)
{
    tf_binlog_reader r;
    if (tf_binlog_reader_init(&r, f->data, f->len, err) != TF_OK) {
        tf_error_prefix(err, "%s", f->name);
        return false;
    }
    size_t cap = 64;
    f->events = malloc(cap * sizeof *f->events);
    tf_mariadb_gtid_pos_init(&f->gtid_list);
    f->previous_gtids = tf_gtid_set_new();
    bool seen_fde = false;
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        tf_status st = tf_binlog_reader_next(&r, &ev, err);
        if (st != TF_OK) {
            tf_error_prefix(err, "%s", f->name);
            return false;
        }
        if (f->event_count == cap) {
            cap *= 2;
            f->events = realloc(f->events, cap * sizeof *f->events);
        }
        tp_event *e = &f->events[f->event_count++];
        memset(e, 0, sizeof *e);
        e->offset = (uint32_t)r.event_offset;
        e->size = ev.header.event_size;
        e->type = ev.header.type;
        switch (ev.kind) {
        case TF_EVENT_FORMAT_DESCRIPTION:
            if (!seen_fde)
                f->fmt = ev.format_description;
            seen_fde = true;
            break;
        case TF_EVENT_MARIADB_GTID_LIST:
            if (!f->has_gtid_list) {
                f->has_gtid_list = true;
                for (uint32_t i = 0; i < ev.mariadb_gtid_list.count; i++) {
                    tf_mariadb_gtid g;
                    tf_mariadb_gtid_list_get(&ev.mariadb_gtid_list, i, &g);
                    tf_mariadb_gtid_pos_update(&f->gtid_list, &g);
                }
            }
            break;
        case TF_EVENT_PREVIOUS_GTIDS: {
            tf_gtid_set *set;
            if (tf_gtid_set_decode_binary(ev.previous_gtids.data, ev.previous_gtids.data_len, &set,
                                          err) != TF_OK) {
                tf_error_prefix(err, "%s PREVIOUS_GTIDS at %u", f->name, e->offset);
                return false;
            }
            tf_gtid_set_destroy(f->previous_gtids);
            f->previous_gtids = set;
            break;
        }
        case TF_EVENT_MARIADB_GTID:
            e->starts_group = true;
            e->has_mariadb_gtid = true;
            e->mariadb_gtid.domain_id = ev.mariadb_gtid.domain_id;
            e->mariadb_gtid.server_id = ev.mariadb_gtid.server_id;
            e->mariadb_gtid.seq_no = ev.mariadb_gtid.seq_no;
            break;
        case TF_EVENT_GTID:
            e->starts_group = true;
            if (ev.gtid.anonymous) {
                b->any_anonymous = true;
            } else {
                b->any_gtid = true;
                e->has_mysql_gtid = true;
                memcpy(e->mysql_gtid.uuid, ev.gtid.sid, 16);
                tf_gtid_set_tag(&e->mysql_gtid, ev.gtid.tag, strlen(ev.gtid.tag), NULL);
                e->mysql_gtid.gno = (int64_t)ev.gtid.gno;
                if (!b->server_uuid[0])
                    tf_gtid_uuid_format(ev.gtid.sid, b->server_uuid);
            }
            break;
        default: break;
        }
    }
    if (!seen_fde)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "%s has no FORMAT_DESCRIPTION event",
                            f->name) == TF_OK;
    return true;
}

bool tp_binlogs_load(tp_binlogs *b, char **paths, size_t path_count, tf_error *err)
{
    memset(b, 0, sizeof *b);
    tf_mariadb_gtid_pos_init(&b->binlog_pos);
    /* Expand directories into their binlog files, in name order. */
    size_t cap = 16, count = 0;
    char **files = malloc(cap * sizeof *files);
    for (size_t i = 0; i < path_count; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            tf_error_set(err, TF_ERR_IO, 0, "cannot open %s: %s", paths[i], strerror(errno));
            return false;
        }
        size_t first = count;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(paths[i]);
            struct dirent *de;
            while (d && (de = readdir(d))) {
                if (!looks_like_binlog(paths[i], de->d_name))
                    continue;
                if (count == cap)
                    files = realloc(files, (cap *= 2) * sizeof *files);
                size_t n = strlen(paths[i]) + strlen(de->d_name) + 2;
                files[count] = malloc(n);
                snprintf(files[count++], n, "%s/%s", paths[i], de->d_name);
            }
            if (d)
                closedir(d);
            qsort(files + first, count - first, sizeof *files, compare_names);
        } else {
            if (count == cap)
                files = realloc(files, (cap *= 2) * sizeof *files);
            files[count++] = strdup(paths[i]);
        }
    }
    bool ok = count > 0;
    if (!ok)
        tf_error_set(err, TF_ERR_CONFIG, 0, "no binlog files to serve");
    b->files = calloc(count ? count : 1, sizeof *b->files);
    for (size_t i = 0; ok && i < count; i++) {
        tp_binlog *f = &b->files[b->count++];
        const char *slash = strrchr(files[i], '/');
        f->name = strdup(slash ? slash + 1 : files[i]);
        ok = read_whole_file(files[i], &f->data, &f->len, err) && index_file(b, f, err);
    }
    for (size_t i = 0; i < count; i++)
        free(files[i]);
    free(files);
    if (!ok)
        return false;
    for (size_t i = 1; i < b->count; i++)
        if (!strcmp(b->files[i].name, b->files[i - 1].name))
            return tf_error_set(err, TF_ERR_CONFIG, 0, "two files are called %s",
                                b->files[i].name) == TF_OK;
    b->flavour = b->files[0].fmt.flavour;
    /* What the server has executed: the first file's state plus every
     * transaction in the files. */
    b->executed = tf_gtid_set_copy(b->files[0].previous_gtids);
    tf_mariadb_gtid_pos_copy(&b->binlog_pos, &b->files[0].gtid_list);
    for (size_t i = 0; i < b->count; i++) {
        const tp_binlog *f = &b->files[i];
        for (size_t j = 0; j < f->event_count; j++) {
            if (f->events[j].has_mysql_gtid)
                tf_gtid_set_add(b->executed, &f->events[j].mysql_gtid, NULL);
            if (f->events[j].has_mariadb_gtid)
                tf_mariadb_gtid_pos_update(&b->binlog_pos, &f->events[j].mariadb_gtid);
        }
    }
    if (!b->server_uuid[0] && tf_gtid_set_source_count(b->executed) > 0) {
        tf_gtid_source_view v;
        tf_gtid_set_source_at(b->executed, 0, &v);
        tf_gtid_uuid_format(v.uuid, b->server_uuid);
    }
    return true;
}

void tp_binlogs_cleanup(tp_binlogs *b)
{
    for (size_t i = 0; i < b->count; i++) {
        tp_binlog *f = &b->files[i];
        free(f->name);
        free(f->data);
        free(f->events);
        tf_mariadb_gtid_pos_cleanup(&f->gtid_list);
        tf_gtid_set_destroy(f->previous_gtids);
    }
    free(b->files);
    tf_gtid_set_destroy(b->executed);
    tf_mariadb_gtid_pos_cleanup(&b->binlog_pos);
    memset(b, 0, sizeof *b);
}

long tp_binlogs_find(const tp_binlogs *b, const char *name, size_t len)
{
    for (size_t i = 0; i < b->count; i++)
        if (strlen(b->files[i].name) == len && !memcmp(b->files[i].name, name, len))
            return (long)i;
    return -1;
}

long tp_binlog_event_at(const tp_binlog *f, size_t offset)
{
    size_t lo = 0, hi = f->event_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->events[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->event_count && f->events[lo].offset == offset ? (long)lo : -1;
}

bool tp_binlogs_gtid_pos_at(const tp_binlogs *b, size_t file, size_t offset, char *out, size_t cap)
{
    if (file >= b->count)
        return false;
    const tp_binlog *f = &b->files[file];
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    tf_mariadb_gtid_pos_copy(&pos, &f->gtid_list);
    for (size_t j = 0; j < f->event_count && f->events[j].offset < offset; j++)
        if (f->events[j].has_mariadb_gtid)
            tf_mariadb_gtid_pos_update(&pos, &f->events[j].mariadb_gtid);
    tf_mariadb_gtid_pos_format(&pos, out, cap);
    tf_mariadb_gtid_pos_cleanup(&pos);
    return true;
}

/* Is (domain, server, seq) a transaction these binlogs hold or held? */
static bool mariadb_gtid_known(const tp_binlogs *b, const tf_mariadb_gtid *g, bool *higher)
{
    bool found = false;
    *higher = false;
    for (size_t i = 0; i < b->count; i++) {
        const tp_binlog *f = &b->files[i];
        for (size_t j = 0; j < f->gtid_list.count; j++) {
            const tf_mariadb_gtid *h = &f->gtid_list.gtids[j];
            if (h->domain_id == g->domain_id && h->seq_no == g->seq_no &&
                h->server_id == g->server_id)
                found = true;
        }
        for (size_t j = 0; j < f->event_count; j++) {
            const tp_event *e = &f->events[j];
            if (!e->has_mariadb_gtid || e->mariadb_gtid.domain_id != g->domain_id)
                continue;
            if (e->mariadb_gtid.seq_no == g->seq_no && e->mariadb_gtid.server_id == g->server_id)
                found = true;
            if (e->mariadb_gtid.seq_no > g->seq_no)
                *higher = true;
        }
    }
    return found;
}

/* MariaDB (sql_repl.cc, gtid_find_binlog_file + check_slave_start_position):
 * a file can be the start when the replica already has everything its
 * GTID_LIST says came before it; the newest such file is taken. Every GTID
 * the replica names must be one the binlogs know. */
bool tp_binlogs_mariadb_start(const tp_binlogs *b, const tf_mariadb_gtid_pos *state, size_t *file,
                              tf_error *err)
{
    for (size_t i = 0; i < state->count; i++) {
        const tf_mariadb_gtid *g = &state->gtids[i];
        bool higher;
        if (mariadb_gtid_known(b, g, &higher))
            continue;
        if (higher) {
            tf_error_set(err, TF_ERR_SERVER, 1236,
                         "Error: connecting slave requested to start from GTID %u-%u-%llu, "
                         "which is not in the master's binlog. Since the master's binlog "
                         "contains GTIDs with higher sequence numbers, it probably means that "
                         "the slave has diverged due to executing extra erroneous transactions",
                         g->domain_id, g->server_id, (unsigned long long)g->seq_no);
            return false;
        }
        /* Past everything we have: MariaDB refuses too (gtid_strict_mode
         * aside), the replica would wait forever for a hole. */
        tf_error_set(err, TF_ERR_SERVER, 1236,
                     "Error: connecting slave requested to start from GTID %u-%u-%llu, which "
                     "is not in the master's binlog",
                     g->domain_id, g->server_id, (unsigned long long)g->seq_no);
        return false;
    }
    for (size_t i = b->count; i-- > 0;) {
        const tp_binlog *f = &b->files[i];
        if (!f->has_gtid_list && i > 0)
            continue;
        bool covered = true;
        for (size_t j = 0; j < f->gtid_list.count && covered; j++) {
            const tf_mariadb_gtid *listed = &f->gtid_list.gtids[j];
            const tf_mariadb_gtid *have = tf_mariadb_gtid_pos_find(state, listed->domain_id);
            if (!have || have->seq_no < listed->seq_no)
                covered = false;
        }
        if (covered) {
            *file = i;
            return true;
        }
    }
    tf_error_set(err, TF_ERR_SERVER, 1236,
                 "Could not find GTID state requested by slave in any binlog files. Probably "
                 "the slave state is too old and required binlog files have been purged.");
    return false;
}

/* MySQL (Binlog_sender::check_start_file): the newest file whose
 * PREVIOUS_GTIDS the replica has; none if the first file's is not
 * covered (purged). */
bool tp_binlogs_mysql_start(const tp_binlogs *b, const tf_gtid_set *gtids, size_t *file,
                            tf_error *err)
{
    char *sent = tf_gtid_set_to_text(gtids, TF_GTID_TEXT_COMPACT);
    /* A replica with transactions of our uuid we never wrote has diverged. */
    if (b->server_uuid[0]) {
        tf_gtid_set *extra = tf_gtid_set_copy(gtids);
        tf_gtid_set_subtract(extra, b->executed);
        uint8_t uuid[16];
        tf_gtid_uuid_parse(b->server_uuid, strlen(b->server_uuid), uuid, NULL);
        bool diverged = false;
        for (size_t i = 0; i < tf_gtid_set_source_count(extra); i++) {
            tf_gtid_source_view v;
            tf_gtid_set_source_at(extra, i, &v);
            if (!memcmp(v.uuid, uuid, 16))
                diverged = true;
        }
        tf_gtid_set_destroy(extra);
        if (diverged) {
            tf_error_set(err, TF_ERR_SERVER, 1236,
                         "Slave has more GTIDs than the master has, using the master's "
                         "SERVER_UUID. This may indicate that the end of the binary log was "
                         "truncated or that the last binary log file was lost, e.g., after a "
                         "power or disk failure when sync_binlog != 1. The master may or may "
                         "not have rolled back transactions that were already replicated to "
                         "the slave. Suggest to replicate any transactions that master has "
                         "rolled back from slave to master, and/or commit empty transactions "
                         "on master to account for transactions that have been committed on "
                         "master but are not included in GTID_EXECUTED.");
            free(sent);
            return false;
        }
    }
    for (size_t i = b->count; i-- > 0;) {
        if (tf_gtid_set_is_subset(b->files[i].previous_gtids, gtids)) {
            *file = i;
            free(sent);
            return true;
        }
    }
    tf_gtid_set *missing = tf_gtid_set_copy(b->files[0].previous_gtids);
    tf_gtid_set_subtract(missing, gtids);
    char *missing_text = tf_gtid_set_to_text(missing, TF_GTID_TEXT_COMPACT);
    tf_error_set(err, TF_ERR_SERVER, 1236,
                 "Cannot replicate because the source purged required binary logs. Replicate "
                 "the missing transactions from elsewhere, or provision a new replica from "
                 "backup. Consider increasing the source's binary log expiration period. The "
                 "GTID set sent by the replica is '%.100s', and the missing transactions are "
                 "'%.100s'",
                 sent ? sent : "", missing_text ? missing_text : "");
    free(missing_text);
    tf_gtid_set_destroy(missing);
    free(sent);
    return false;
}
