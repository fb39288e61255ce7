/* binlog_store.c — the binlog files a server serves, indexed event by
 * event as they are appended: where every event starts, which transactions
 * (GTIDs) they hold, and the GTID state at the start of each file (MariaDB
 * GTID_LIST, MySQL PREVIOUS_GTIDS). From that index it answers where a
 * replica must start, the way the real servers decide it. Bytes are in
 * memory (files loaded whole) or on disk (read back with pread). */
#include "serve_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

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

static const uint8_t binlog_magic[TF_BINLOG_MAGIC_LEN] = {0xfe, 0x62, 0x69, 0x6e};

tf_binlog_store *tf_binlog_store_new(void)
{
    tf_binlog_store *b = calloc(1, sizeof *b);
    tf_mariadb_gtid_pos_init(&b->binlog_pos);
    b->executed = tf_gtid_set_new();
    return b;
}

static void file_cleanup(serve_file *f)
{
    free(f->name);
    free(f->data);
    if (f->fd >= 0)
        close(f->fd);
    free(f->events);
    free(f->mariadb_gtids);
    free(f->mysql_gtids);
    tf_mariadb_gtid_pos_cleanup(&f->gtid_list);
    tf_gtid_set_destroy(f->previous_gtids);
    free(f->zst_path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

void tf_binlog_store_destroy(tf_binlog_store *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        file_cleanup(&b->files[i]);
    free(b->files);
    tf_gtid_set_destroy(b->executed);
    tf_mariadb_gtid_pos_cleanup(&b->binlog_pos);
    free(b);
}

void serve_store_add_listener(tf_binlog_store *b, serve_store_listener fn, void *arg)
{
    if (b->listener_count < sizeof b->listeners / sizeof b->listeners[0]) {
        b->listeners[b->listener_count] = fn;
        b->listener_args[b->listener_count++] = arg;
    }
}

void serve_store_remove_listener(tf_binlog_store *b, void *arg)
{
    for (size_t i = 0; i < b->listener_count; i++) {
        if (b->listener_args[i] != arg)
            continue;
        memmove(&b->listeners[i], &b->listeners[i + 1],
                (b->listener_count - i - 1) * sizeof b->listeners[0]);
        memmove(&b->listener_args[i], &b->listener_args[i + 1],
                (b->listener_count - i - 1) * sizeof b->listener_args[0]);
        b->listener_count--;
        return;
    }
}

bool tf_binlog_store_begin_file(tf_binlog_store *b, const char *name, int fd, tf_error *err)
{
    for (size_t i = 0; i < b->count; i++)
        if (!strcmp(b->files[i].name, name))
            return tf_error_set(err, TF_ERR_CONFIG, 0, "two binlog files are called %s", name) ==
                   TF_OK;
    tf_binlog_store_rollback(b);
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        serve_file *grown = realloc(b->files, cap * sizeof *grown);
        if (!grown)
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
        b->files = grown;
        b->cap = cap;
    }
    serve_file *f = &b->files[b->count++];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    f->fd = fd;
    tf_mariadb_gtid_pos_init(&f->gtid_list);
    f->previous_gtids = tf_gtid_set_new();
    f->len = f->pending_len = TF_BINLOG_MAGIC_LEN;
    if (fd < 0) {
        f->data_cap = 1 << 16;
        f->data = malloc(f->data_cap);
        memcpy(f->data, binlog_magic, TF_BINLOG_MAGIC_LEN);
    }
    return true;
}

static bool grow(void **p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *grown = realloc(*p, n * item);
    if (!grown)
        return false;
    *p = grown;
    *cap = n;
    return true;
}

static bool add_gtid(serve_file *f, serve_event *e, const tf_mariadb_gtid *mariadb,
                     const tf_gtid *mysql)
{
    size_t cap = f->gtid_cap;
    if (mariadb && !grow((void **)&f->mariadb_gtids, &cap, f->gtid_count + 1, sizeof *mariadb))
        return false;
    cap = f->gtid_cap;
    if (mysql && !grow((void **)&f->mysql_gtids, &cap, f->gtid_count + 1, sizeof *mysql))
        return false;
    f->gtid_cap = cap;
    if (mariadb)
        f->mariadb_gtids[f->gtid_count] = *mariadb;
    if (mysql)
        f->mysql_gtids[f->gtid_count] = *mysql;
    e->has_gtid = true;
    e->gtid = (uint32_t)f->gtid_count++;
    return true;
}

bool tf_binlog_store_append(tf_binlog_store *b, const uint8_t *event, size_t len, tf_error *err)
{
    if (b->count == 0)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "an event appended before any file") == TF_OK;
    serve_file *f = &b->files[b->count - 1];
    if (f->pending_len + len > UINT32_MAX)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s: an event at offset %llu ends past 4 GiB", f->name,
                            (unsigned long long)f->pending_len) == TF_OK;
    /* The first FDE gives the format the file's events are decoded with;
     * before it, only the FDE itself can be decoded (it names its own). */
    tf_format fallback;
    memset(&fallback, 0, sizeof fallback);
    tf_event ev;
    size_t consumed;
    if (tf_event_decode(event, len, f->has_fmt ? &f->fmt : &fallback, &ev, &consumed, err) !=
            TF_OK ||
        consumed != len) {
        if (consumed != len && err->message[0] == '\0')
            tf_error_set(err, TF_ERR_PROTOCOL, 0, "event of %zu bytes holds %zu", len, consumed);
        tf_error_prefix(err, "%s at %llu", f->name, (unsigned long long)f->pending_len);
        return false;
    }
    size_t total = f->event_count + f->pending_count;
    if (!grow((void **)&f->events, &f->event_cap, total + 1, sizeof *f->events))
        return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    serve_event *e = &f->events[total];
    memset(e, 0, sizeof *e);
    e->offset = (uint32_t)f->pending_len;
    e->size = (uint32_t)len;
    e->type = ev.header.type;
    switch (ev.kind) {
    case TF_EVENT_FORMAT_DESCRIPTION:
        b->source_server_id = ev.header.server_id;
        if (!f->has_fmt) {
            f->fmt = ev.format_description;
            f->has_fmt = true;
            if (b->count == 1)
                b->flavour = f->fmt.flavour;
        }
        break;
    case TF_EVENT_MARIADB_GTID_LIST:
        if (!f->has_gtid_list) {
            f->has_gtid_list = true;
            for (uint32_t i = 0; i < ev.mariadb_gtid_list.count; i++) {
                tf_mariadb_gtid g;
                tf_mariadb_gtid_list_get(&ev.mariadb_gtid_list, i, &g);
                tf_mariadb_gtid_pos_update(&f->gtid_list, &g);
            }
            if (b->count == 1)
                tf_mariadb_gtid_pos_copy(&b->binlog_pos, &f->gtid_list);
        }
        break;
    case TF_EVENT_PREVIOUS_GTIDS: {
        tf_gtid_set *set;
        if (tf_gtid_set_decode_binary(ev.previous_gtids.data, ev.previous_gtids.data_len, &set,
                                      err) != TF_OK) {
            tf_error_prefix(err, "%s PREVIOUS_GTIDS at %llu", f->name,
                            (unsigned long long)f->pending_len);
            return false;
        }
        tf_gtid_set_destroy(f->previous_gtids);
        f->previous_gtids = set;
        if (b->count == 1)
            tf_gtid_set_union(b->executed, set);
        break;
    }
    case TF_EVENT_MARIADB_GTID: {
        tf_mariadb_gtid g = {ev.mariadb_gtid.domain_id, ev.mariadb_gtid.server_id,
                             ev.mariadb_gtid.seq_no};
        e->starts_group = true;
        if (!add_gtid(f, e, &g, NULL))
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
        break;
    }
    case TF_EVENT_GTID:
        e->starts_group = true;
        if (ev.gtid.anonymous) {
            b->any_anonymous = true;
        } else {
            tf_gtid g;
            memset(&g, 0, sizeof g);
            memcpy(g.uuid, ev.gtid.sid, 16);
            tf_gtid_set_tag(&g, ev.gtid.tag, strlen(ev.gtid.tag), NULL);
            g.gno = (int64_t)ev.gtid.gno;
            b->any_gtid = true;
            if (!b->server_uuid[0])
                tf_gtid_uuid_format(ev.gtid.sid, b->server_uuid);
            if (!add_gtid(f, e, NULL, &g))
                return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
        }
        break;
    default: break;
    }
    if (f->fd < 0) {
        if (!grow((void **)&f->data, &f->data_cap, f->pending_len + len, 1))
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
        memcpy(f->data + f->pending_len, event, len);
    }
    f->pending_len += len;
    f->pending_count++;
    return true;
}

void tf_binlog_store_commit(tf_binlog_store *b)
{
    if (b->count == 0)
        return;
    serve_file *f = &b->files[b->count - 1];
    if (f->pending_count == 0)
        return;
    for (size_t i = f->event_count; i < f->event_count + f->pending_count; i++) {
        const serve_event *e = &f->events[i];
        const tf_mariadb_gtid *mg = serve_event_mariadb_gtid(f, e);
        const tf_gtid *g = serve_event_mysql_gtid(f, e);
        if (mg)
            tf_mariadb_gtid_pos_update(&b->binlog_pos, mg);
        if (g)
            tf_gtid_set_add(b->executed, g, NULL);
    }
    b->events_total += f->pending_count;
    f->event_count += f->pending_count;
    f->pending_count = 0;
    f->len = f->pending_len;
    if (!b->server_uuid[0] && tf_gtid_set_source_count(b->executed) > 0) {
        tf_gtid_source_view v;
        tf_gtid_set_source_at(b->executed, 0, &v);
        tf_gtid_uuid_format(v.uuid, b->server_uuid);
    }
    for (size_t i = 0; i < b->listener_count; i++)
        b->listeners[i](b->listener_args[i]);
}

void tf_binlog_store_rollback(tf_binlog_store *b)
{
    if (b->count == 0)
        return;
    serve_file *f = &b->files[b->count - 1];
    /* GTIDs of the dropped events go too (they were the last ones added). */
    size_t gtids = f->gtid_count;
    for (size_t i = f->event_count; i < f->event_count + f->pending_count; i++)
        if (f->events[i].has_gtid && f->events[i].gtid < gtids)
            gtids = f->events[i].gtid;
    f->gtid_count = gtids;
    f->pending_count = 0;
    f->pending_len = f->len;
}

bool tf_binlog_store_purge_first(tf_binlog_store *b)
{
    if (b->count < 2 || b->files[0].readers > 0)
        return false;
    /* What the new first file's header says came before it becomes the
     * start of what we hold. */
    file_cleanup(&b->files[0]);
    memmove(&b->files[0], &b->files[1], (b->count - 1) * sizeof *b->files);
    b->count--;
    b->base++;
    return true;
}

size_t tf_binlog_store_file_count(const tf_binlog_store *b) { return b->count; }

const char *tf_binlog_store_file_name(const tf_binlog_store *b, size_t index)
{
    return index < b->count ? b->files[index].name : NULL;
}

uint64_t tf_binlog_store_file_size(const tf_binlog_store *b, size_t index)
{
    return index < b->count ? b->files[index].len : 0;
}

tf_flavour tf_binlog_store_flavour(const tf_binlog_store *b) { return b->flavour; }

const tf_format *tf_binlog_store_format(const tf_binlog_store *b)
{
    return b->count && b->files[b->count - 1].has_fmt ? &b->files[b->count - 1].fmt : NULL;
}

void tf_binlog_store_gtid_text(const tf_binlog_store *b, char *buf, size_t cap)
{
    if (b->flavour == TF_FLAVOUR_MARIADB)
        tf_mariadb_gtid_pos_format(&b->binlog_pos, buf, cap);
    else
        tf_gtid_set_format(b->executed, TF_GTID_TEXT_COMPACT, buf, cap);
}

uint64_t tf_binlog_store_event_count(const tf_binlog_store *b) { return b->events_total; }

uint32_t tf_binlog_store_source_server_id(const tf_binlog_store *b) { return b->source_server_id; }

bool tf_binlog_store_seed_gtid(tf_binlog_store *b, tf_flavour flavour, const char *text,
                               tf_error *err)
{
    if (b->count > 0)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "the store already holds files") == TF_OK;
    b->flavour = flavour;
    if (flavour == TF_FLAVOUR_MARIADB) {
        tf_mariadb_gtid_pos_cleanup(&b->binlog_pos);
        tf_mariadb_gtid_pos_init(&b->binlog_pos);
        return tf_mariadb_gtid_pos_parse(text, strlen(text), &b->binlog_pos, err) == TF_OK;
    }
    tf_gtid_set *set;
    if (tf_gtid_set_parse(text, strlen(text), &set, err) != TF_OK)
        return false;
    tf_gtid_set_destroy(b->executed);
    b->executed = set;
    return true;
}

/* The whole of a compressed file, back in memory. */
static bool load_compressed(serve_file *f, tf_error *err)
{
    uint8_t *packed;
    size_t packed_len;
    if (!read_whole_file(f->zst_path, &packed, &packed_len, err))
        return false;
    unsigned long long size = ZSTD_getFrameContentSize(packed, packed_len);
    bool ok = size == f->len;
    uint8_t *data = ok ? malloc(size ? size : 1) : NULL;
    if (ok) {
        size_t got = ZSTD_decompress(data, size, packed, packed_len);
        ok = !ZSTD_isError(got) && got == size;
    }
    free(packed);
    if (!ok) {
        free(data);
        tf_error_set(err, TF_ERR_IO, 0,
                     "%s does not decompress to the %llu bytes of %s it was made from", f->zst_path,
                     (unsigned long long)f->len, f->name);
        return false;
    }
    f->data = data;
    f->data_cap = size;
    return true;
}

void serve_file_leave(serve_file *f)
{
    if (f->readers > 0)
        f->readers--;
    if (f->readers == 0 && f->compressed) {
        free(f->data);
        f->data = NULL;
        f->data_cap = 0;
    }
}

bool serve_store_file_compressed(tf_binlog_store *b, const char *name, const char *zst_path)
{
    for (size_t i = 0; i < b->count; i++) {
        serve_file *f = &b->files[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        if (f->readers == 0) {
            free(f->data);
            f->data = NULL;
            f->data_cap = 0;
        }
        f->compressed = true;
        free(f->zst_path);
        f->zst_path = strdup(zst_path);
        return true;
    }
    return false;
}

const uint8_t *serve_file_event_bytes(serve_file *f, const serve_event *e, serve_window *w,
                                      tf_error *err)
{
    if (f->compressed && !f->data && !load_compressed(f, err))
        return NULL;
    if (f->fd < 0)
        return f->data + e->offset;
    if (w->len > 0 && e->offset >= w->off && e->offset + e->size <= w->off + w->len)
        return w->buf + (e->offset - w->off);
    /* Committed bytes only: they never change once served. */
    size_t want = e->size;
    if (f->len - e->offset > want)
        want = f->len - e->offset < SERVE_WINDOW_BYTES ? (size_t)(f->len - e->offset)
                                                       : SERVE_WINDOW_BYTES;
    if (want < e->size)
        want = e->size;
    if (!grow((void **)&w->buf, &w->cap, want, 1)) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return NULL;
    }
    w->len = 0;
    size_t done = 0;
    while (done < want) {
        ssize_t n = pread(f->fd, w->buf + done, want - done, (off_t)(e->offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (done >= e->size)
                break; /* the event is there; the rest of the window is not needed */
            tf_error_set(err, TF_ERR_IO, 0, "cannot read %s at %llu: %s", f->name,
                         (unsigned long long)(e->offset + done),
                         n == 0 ? "file ends early" : strerror(errno));
            return NULL;
        }
        done += (size_t)n;
    }
    w->off = e->offset;
    w->len = done;
    return w->buf;
}

/* One whole file into the store, in memory. */
static bool load_file(tf_binlog_store *b, const char *path, tf_error *err)
{
    uint8_t *data;
    size_t len;
    if (!read_whole_file(path, &data, &len, err))
        return false;
    const char *slash = strrchr(path, '/');
    tf_binlog_reader r;
    bool ok = tf_binlog_reader_init(&r, data, len, err) == TF_OK &&
              tf_binlog_store_begin_file(b, slash ? slash + 1 : path, -1, err);
    if (!ok)
        tf_error_prefix(err, "%s", path);
    while (ok && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, err) != TF_OK) {
            tf_error_prefix(err, "%s", path);
            ok = false;
            break;
        }
        ok = tf_binlog_store_append(b, data + r.event_offset, ev.header.event_size, err);
    }
    free(data);
    if (ok && !b->files[b->count - 1].has_fmt)
        ok = tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "%s has no FORMAT_DESCRIPTION event", path) ==
             TF_OK;
    if (ok)
        tf_binlog_store_commit(b);
    return ok;
}

bool tf_binlog_store_load_files(tf_binlog_store *b, char **paths, size_t path_count, tf_error *err)
{
    /* Expand directories into their binlog files, in name order. */
    size_t cap = 16, count = 0;
    char **files = malloc(cap * sizeof *files);
    bool ok = true;
    for (size_t i = 0; ok && i < path_count; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            tf_error_set(err, TF_ERR_IO, 0, "cannot open %s: %s", paths[i], strerror(errno));
            ok = false;
            break;
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
    if (ok && count == 0)
        ok = tf_error_set(err, TF_ERR_CONFIG, 0, "no binlog files to serve") == TF_OK;
    for (size_t i = 0; ok && i < count; i++)
        ok = load_file(b, files[i], err);
    for (size_t i = 0; i < count; i++)
        free(files[i]);
    free(files);
    return ok;
}

long serve_store_find(const tf_binlog_store *b, const char *name, size_t len)
{
    for (size_t i = 0; i < b->count; i++)
        if (strlen(b->files[i].name) == len && !memcmp(b->files[i].name, name, len))
            return (long)i;
    return -1;
}

long serve_file_event_at(const serve_file *f, uint64_t offset)
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

bool serve_store_gtid_pos_at(const tf_binlog_store *b, size_t file, uint64_t offset, char *out,
                             size_t cap)
{
    if (file >= b->count)
        return false;
    const serve_file *f = &b->files[file];
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    tf_mariadb_gtid_pos_copy(&pos, &f->gtid_list);
    for (size_t j = 0; j < f->event_count && f->events[j].offset < offset; j++)
        if (serve_event_mariadb_gtid(f, &f->events[j]))
            tf_mariadb_gtid_pos_update(&pos, serve_event_mariadb_gtid(f, &f->events[j]));
    tf_mariadb_gtid_pos_format(&pos, out, cap);
    tf_mariadb_gtid_pos_cleanup(&pos);
    return true;
}

/* Is (domain, server, seq) a transaction these binlogs hold or held? */
static bool mariadb_gtid_known(const tf_binlog_store *b, const tf_mariadb_gtid *g, bool *higher)
{
    bool found = false;
    *higher = false;
    for (size_t i = 0; i < b->count; i++) {
        const serve_file *f = &b->files[i];
        for (size_t j = 0; j < f->gtid_list.count; j++) {
            const tf_mariadb_gtid *h = &f->gtid_list.gtids[j];
            if (h->domain_id == g->domain_id && h->seq_no == g->seq_no &&
                h->server_id == g->server_id)
                found = true;
        }
        for (size_t j = 0; j < f->event_count; j++) {
            const tf_mariadb_gtid *h = serve_event_mariadb_gtid(f, &f->events[j]);
            if (!h || h->domain_id != g->domain_id)
                continue;
            if (h->seq_no == g->seq_no && h->server_id == g->server_id)
                found = true;
            if (h->seq_no > g->seq_no)
                *higher = true;
        }
    }
    return found;
}

/* MariaDB (sql_repl.cc, gtid_find_binlog_file + check_slave_start_position):
 * a file can be the start when the replica already has everything its
 * GTID_LIST says came before it; the newest such file is taken. Every GTID
 * the replica names must be one the binlogs know. */
bool serve_store_mariadb_start(const tf_binlog_store *b, const tf_mariadb_gtid_pos *state,
                               size_t *file, tf_error *err)
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
        const serve_file *f = &b->files[i];
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
bool serve_store_mysql_start(const tf_binlog_store *b, const tf_gtid_set *gtids, size_t *file,
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
