/* archive.c — the relay's binlog archive: local binlog files written as a
 * server writes its own, served through a tf_binlog_store.
 *
 * Each file is what MariaDB or MySQL would write: the magic, the upstream's
 * FORMAT_DESCRIPTION, the GTID state before the file (MariaDB GTID_LIST,
 * MySQL PREVIOUS_GTIDS), whole transactions, and a ROTATE naming the next
 * file once it passes the configured size. Events are the upstream's bytes
 * but for the header's next-position field, which names the offset in our
 * file (as every binlog writer must, so that file:position clients work),
 * and the CRC32 recomputed over it.
 *
 * Durability: a transaction is written with one pwrite; it is served only
 * once fdatasync says it is on disk (after each transaction, grouped when
 * several arrive in one loop turn, or every N ms). A downstream replica is
 * therefore never ahead of what a restarted relay holds.
 *
 * Recovery: on open every file is scanned (CRC32 checked) and indexed; the
 * last file is cut back to the end of its last complete transaction, so a
 * kill -9 in the middle of a write leaves nothing torn, and the upstream is
 * asked again for what was cut. */
#include "serve_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define DEFAULT_ROTATE_BYTES (256ull << 20)
/* fsync = transaction while the upstream never pauses: at least this often */
#define GROUP_COMMIT_MAX_BYTES (4u << 20)
#define GROUP_COMMIT_MAX_NS (50 * 1000 * 1000)

struct tf_archive {
    tf_archive_options opt;
    char *dir;
    char *base_name;
    struct event_base *base;
    tf_binlog_store *store;
    int fd;               /* the last file, for writing (the store has its own) */
    uint64_t end;         /* bytes written to it */
    uint64_t durable;     /* bytes known to be on disk */
    bool need_new_file;   /* the last file ends with its ROTATE */
    uint32_t next_number; /* of the next file */
    uint8_t *fde;         /* the upstream FORMAT_DESCRIPTION we write */
    size_t fde_len;
    tf_format fmt;             /* its format */
    uint32_t source_server_id; /* header server_id of events we make */
    struct event *sync_event;
    bool sync_scheduled;
    int64_t unsynced_since_ns; /* when the pending sync was scheduled */
    bool failed;               /* a write failed: nothing more is accepted */
    tf_archive_stats stats;
    uint8_t *buf; /* a transaction being written */
    size_t buf_cap;
    /* closed files waiting to be zstd-compressed, oldest first, and the one
     * being compressed a chunk per loop turn */
    char **to_compress;
    size_t to_compress_count;
    struct event *compress_event;
    struct {
        char *name;
        int in_fd, out_fd;
        uint64_t in_len, in_off;
        ZSTD_CCtx *cctx;
        uint8_t *in_buf, *out_buf;
    } job;
};

#define COMPRESS_CHUNK (4u << 20) /* bytes read per loop turn */

static void queue_compression(tf_archive *a, const char *name);

/* ---- small helpers ---- */

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool reserve(tf_archive *a, size_t need)
{
    if (need <= a->buf_cap)
        return true;
    size_t cap = a->buf_cap ? a->buf_cap : 1 << 16;
    while (cap < need)
        cap *= 2;
    uint8_t *grown = realloc(a->buf, cap);
    if (!grown)
        return false;
    a->buf = grown;
    a->buf_cap = cap;
    return true;
}

static char *path_of(const tf_archive *a, const char *name)
{
    size_t n = strlen(a->dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a->dir, name);
    return p;
}

/* Where a served file's bytes are on disk: NAME, or NAME.zst once
 * compressed. */
static char *disk_path_of(const tf_archive *a, const serve_file *f)
{
    return f->compressed ? strdup(f->zst_path) : path_of(a, f->name);
}

static void log_line(const tf_archive *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_line(const tf_archive *a, const char *fmt, ...)
{
    if (!a->opt.on_log)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    a->opt.on_log(a->opt.arg, message);
}

static bool fsync_dir(const tf_archive *a, tf_error *err)
{
    int fd = open(a->dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive %s: cannot sync the folder: %s",
                     a->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

/* Rewrites an event's next-position field to where it ends in our file,
 * and its CRC32 when the file has checksums. */
static void place_event(const tf_archive *a, uint8_t *ev, size_t len, uint64_t offset)
{
    put_le(ev + 13, (uint32_t)(offset + len), 4);
    if (a->fmt.checksum_alg == TF_CHECKSUM_CRC32 && len >= TF_EVENT_HEADER_LEN + 4)
        put_le(ev + len - 4, tf_crc32(ev, len - 4), 4);
}

/* Appends an event we make (header, body, CRC32) to a->buf at *used. */
static bool make_event(tf_archive *a, size_t *used, uint64_t offset, uint8_t type, uint16_t flags,
                       const uint8_t *body, size_t body_len)
{
    bool crc = a->fmt.checksum_alg == TF_CHECKSUM_CRC32;
    size_t len = TF_EVENT_HEADER_LEN + body_len + (crc ? 4 : 0);
    if (!reserve(a, *used + len))
        return false;
    uint8_t *ev = a->buf + *used;
    put_le(ev, (uint64_t)time(NULL), 4);
    ev[4] = type;
    put_le(ev + 5, a->source_server_id, 4);
    put_le(ev + 9, len, 4);
    put_le(ev + 17, flags, 2);
    memcpy(ev + TF_EVENT_HEADER_LEN, body, body_len);
    place_event(a, ev, len, offset);
    *used += len;
    return true;
}

/* ---- writing ---- */

/* pwrite all of buf at a->end; on failure the file is cut back to what it
 * held, so no torn bytes stay behind (disk full, I/O error). */
static bool write_at_end(tf_archive *a, const uint8_t *buf, size_t len, tf_error *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(a->fd, buf + done, len - done, (off_t)(a->end + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            const char *name = tf_binlog_store_file_name(a->store, a->store->count - 1);
            tf_error_set(err, TF_ERR_IO, (uint32_t)e,
                         "archive %s/%s: cannot write %zu bytes at offset %llu: %s", a->dir,
                         name ? name : "?", len, (unsigned long long)a->end, strerror(e));
            if (ftruncate(a->fd, (off_t)a->end) != 0) {
                /* The torn tail stays; recovery cuts it at the next start. */
            }
            a->failed = true;
            return false;
        }
        done += (size_t)n;
    }
    a->end += len;
    a->stats.bytes_written += len;
    return true;
}

static bool sync_now(tf_archive *a, tf_error *err)
{
    if (a->fd < 0 || a->durable == a->end)
        return true;
    int64_t t0 = now_ns();
    if (fdatasync(a->fd) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive %s: fdatasync failed: %s", a->dir,
                     strerror(errno));
        a->failed = true;
        return false;
    }
    int64_t took = now_ns() - t0;
    a->stats.syncs++;
    a->stats.sync_ns_total += (uint64_t)took;
    if ((uint64_t)took > a->stats.sync_ns_max)
        a->stats.sync_ns_max = (uint64_t)took;
    a->durable = a->end;
    return true;
}

/* Everything written is on disk: serve it. */
static bool sync_and_serve(tf_archive *a, tf_error *err)
{
    if (!sync_now(a, err))
        return false;
    tf_binlog_store_commit(a->store);
    return true;
}

static void report(tf_archive *a, const tf_error *err)
{
    if (a->opt.on_error)
        a->opt.on_error(a->opt.arg, err);
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tf_archive *a = arg;
    a->sync_scheduled = false;
    tf_error err = {0};
    if (!a->failed && !sync_and_serve(a, &err))
        report(a, &err);
}

/* The file header: magic, FDE, and the GTID state before the file. */
static bool start_file(tf_archive *a, tf_error *err)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%06u", a->base_name, a->next_number);
    char *path = path_of(a, name);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: cannot create %s: %s", path,
                     strerror(errno));
        free(path);
        a->failed = true;
        return false;
    }
    int store_fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (store_fd < 0 || !tf_binlog_store_begin_file(a->store, name, store_fd, err)) {
        if (store_fd >= 0)
            close(store_fd);
        close(fd);
        a->failed = true;
        return false;
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = fd;
    a->end = 0;
    a->durable = 0;
    a->next_number++;
    a->need_new_file = false;
    static const uint8_t magic[TF_BINLOG_MAGIC_LEN] = {0xfe, 0x62, 0x69, 0x6e};
    if (!write_at_end(a, magic, sizeof magic, err))
        return false;
    size_t used = 0;
    if (!reserve(a, a->fde_len))
        return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    memcpy(a->buf, a->fde, a->fde_len);
    /* A file we are writing is "in use" only while we write it; a reader
     * of the file after a crash must not take us for a crashed server. */
    uint16_t flags = (uint16_t)(a->buf[17] | a->buf[18] << 8);
    flags &= (uint16_t)~TF_EVENT_F_BINLOG_IN_USE;
    put_le(a->buf + 17, flags, 2);
    place_event(a, a->buf, a->fde_len, a->end);
    used = a->fde_len;
    tf_binlog_store *b = a->store;
    if (a->fmt.flavour == TF_FLAVOUR_MARIADB) {
        const tf_mariadb_gtid_pos *pos = &b->binlog_pos;
        size_t body_len = 4 + pos->count * 16;
        uint8_t *body = calloc(1, body_len);
        put_le(body, pos->count, 4);
        for (size_t i = 0; i < pos->count; i++) {
            put_le(body + 4 + i * 16, pos->gtids[i].domain_id, 4);
            put_le(body + 8 + i * 16, pos->gtids[i].server_id, 4);
            put_le(body + 12 + i * 16, pos->gtids[i].seq_no, 8);
        }
        bool ok = make_event(a, &used, a->end + used, TF_EV_MARIADB_GTID_LIST, 0, body, body_len);
        free(body);
        if (!ok)
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    } else {
        size_t body_len = tf_gtid_set_binary_length(b->executed);
        uint8_t *body = malloc(body_len);
        tf_gtid_set_encode_binary(b->executed, body, body_len);
        bool ok = make_event(a, &used, a->end + used, TF_EV_PREVIOUS_GTIDS, 0, body, body_len);
        free(body);
        if (!ok)
            return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    }
    uint64_t at = a->end;
    if (!write_at_end(a, a->buf, used, err))
        return false;
    for (size_t off = 0; off < used;) {
        size_t len = get_le32(a->buf + off + 9);
        if (!tf_binlog_store_append(b, a->buf + off, len, err)) {
            tf_error_prefix(err, "archive: header of %s at %llu", name,
                            (unsigned long long)(at + off));
            a->failed = true;
            return false;
        }
        off += len;
    }
    a->stats.files_created++;
    return sync_and_serve(a, err) && fsync_dir(a, err);
}

/* Ends the last file with a ROTATE to the next one, in the last file's own
 * format (its checksum setting), and serves it. */
static bool close_with_rotate(tf_archive *a, tf_error *err)
{
    char next[256];
    snprintf(next, sizeof next, "%s.%06u", a->base_name, a->next_number);
    size_t name_len = strlen(next);
    uint8_t body[8 + 256];
    put_le(body, TF_BINLOG_MAGIC_LEN, 8);
    memcpy(body + 8, next, name_len);
    size_t used = 0;
    if (!make_event(a, &used, a->end, TF_EV_ROTATE, 0, body, 8 + name_len))
        return tf_error_set(err, TF_ERR_IO, 0, "out of memory") == TF_OK;
    uint64_t at = a->end;
    if (!write_at_end(a, a->buf, used, err))
        return false;
    if (!tf_binlog_store_append(a->store, a->buf, used, err)) {
        /* Not indexed: not on disk either, and nothing more after it. */
        a->end = at;
        if (ftruncate(a->fd, (off_t)at) != 0) {
            /* recovery cuts it at the next start */
        }
        a->failed = true;
        return false;
    }
    if (!sync_and_serve(a, err))
        return false;
    a->need_new_file = true;
    char *closed = strdup(a->store->files[a->store->count - 1].name);
    tf_archive_enforce_retention(a);
    if (a->opt.compress)
        queue_compression(a, closed);
    free(closed);
    return true;
}

static bool rotate(tf_archive *a, tf_error *err)
{
    return close_with_rotate(a, err) && start_file(a, err);
}

static bool same_format(const tf_format *a, const tf_format *b)
{
    return a->flavour == b->flavour && a->checksum_alg == b->checksum_alg &&
           !strcmp(a->server_version, b->server_version) &&
           a->post_header_count == b->post_header_count &&
           !memcmp(a->post_header_len, b->post_header_len, sizeof a->post_header_len);
}

bool tf_archive_format(tf_archive *a, const uint8_t *fde, size_t len, tf_error *err)
{
    if (a->failed)
        return tf_error_set(err, TF_ERR_IO, 0, "archive %s: stopped after a write error", a->dir) ==
               TF_OK;
    tf_format fallback;
    memset(&fallback, 0, sizeof fallback);
    tf_event ev;
    size_t consumed;
    if (tf_event_decode(fde, len, &fallback, &ev, &consumed, err) != TF_OK ||
        ev.kind != TF_EVENT_FORMAT_DESCRIPTION) {
        tf_error_prefix(err, "archive: upstream FORMAT_DESCRIPTION");
        return false;
    }
    bool had = a->fde != NULL;
    bool changed = had && !same_format(&a->fmt, &ev.format_description);
    /* A server upgraded or with another checksum setting: its events go
     * to a file whose FDE describes them; the old file is closed in its
     * own format first. */
    if (changed && a->store->count > 0 && !a->need_new_file && !close_with_rotate(a, err))
        return false;
    uint8_t *copy = malloc(len);
    memcpy(copy, fde, len);
    free(a->fde);
    a->fde = copy;
    a->fde_len = len;
    a->fmt = ev.format_description;
    a->source_server_id = ev.header.server_id;
    if (a->store->count == 0 || a->need_new_file)
        return start_file(a, err);
    return true;
}

bool tf_archive_transaction(tf_archive *a, const uint8_t *const *events, const size_t *lens,
                            size_t count, tf_error *err)
{
    if (a->failed)
        return tf_error_set(err, TF_ERR_IO, 0, "archive %s: stopped after a write error", a->dir) ==
               TF_OK;
    if (!a->fde)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "archive: a transaction before any FORMAT_DESCRIPTION") == TF_OK;
    if (a->need_new_file && !start_file(a, err))
        return false;
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += lens[i];
    if (!reserve(a, total))
        return tf_error_set(err, TF_ERR_IO, 0, "out of memory for a %zu-byte transaction", total) ==
               TF_OK;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        if (lens[i] < TF_EVENT_HEADER_LEN || get_le32(events[i] + 9) != lens[i])
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "archive: event %zu of a transaction has a bad size", i) == TF_OK;
        memcpy(a->buf + used, events[i], lens[i]);
        place_event(a, a->buf + used, lens[i], a->end + used);
        used += lens[i];
    }
    uint64_t at = a->end;
    if (!write_at_end(a, a->buf, used, err))
        return false;
    for (size_t off = 0; off < used;) {
        size_t len = get_le32(a->buf + off + 9);
        if (!tf_binlog_store_append(a->store, a->buf + off, len, err)) {
            tf_error_prefix(err, "archive: transaction at %llu", (unsigned long long)at);
            /* Not indexed, not served: cut it from the file too. */
            tf_binlog_store_rollback(a->store);
            a->end = at;
            if (ftruncate(a->fd, (off_t)at) != 0)
                a->failed = true;
            return false;
        }
        off += len;
    }
    a->stats.transactions++;
    if (a->end >= (a->opt.rotate_bytes ? a->opt.rotate_bytes : DEFAULT_ROTATE_BYTES))
        return rotate(a, err);
    if (a->opt.fsync_interval_ms == 0) {
        /* Group commit: the sync event has the loop's lowest priority, so
         * it runs once the upstream socket has nothing more to read, with
         * one fdatasync for everything that arrived meanwhile. A stream
         * that never pauses still syncs every 4 MiB or 50 ms. */
        int64_t now = now_ns();
        if (!a->sync_scheduled) {
            a->sync_scheduled = true;
            a->unsynced_since_ns = now;
            event_active(a->sync_event, EV_TIMEOUT, 0);
        } else if (a->end - a->durable >= GROUP_COMMIT_MAX_BYTES ||
                   now - a->unsynced_since_ns >= GROUP_COMMIT_MAX_NS) {
            a->unsynced_since_ns = now;
            return sync_and_serve(a, err);
        }
    }
    return true;
}

bool tf_archive_flush(tf_archive *a, tf_error *err)
{
    if (a->failed)
        return true;
    return sync_and_serve(a, err);
}

/* ---- compression of closed files ---- */

static void compress_cb(evutil_socket_t fd, short what, void *arg);

static void queue_compression(tf_archive *a, const char *name)
{
    a->to_compress = realloc(a->to_compress, (a->to_compress_count + 1) * sizeof *a->to_compress);
    a->to_compress[a->to_compress_count++] = strdup(name);
    if (!a->compress_event)
        a->compress_event = event_new(a->base, -1, 0, compress_cb, a);
    if (!event_pending(a->compress_event, EV_TIMEOUT, NULL))
        event_active(a->compress_event, EV_TIMEOUT, 0);
}

static void job_end(tf_archive *a, bool keep_output)
{
    char *tmp = NULL;
    if (a->job.name) {
        size_t n = strlen(a->dir) + strlen(a->job.name) + 16;
        tmp = malloc(n);
        snprintf(tmp, n, "%s/%s.zst.tmp", a->dir, a->job.name);
    }
    if (a->job.in_fd >= 0)
        close(a->job.in_fd);
    if (a->job.out_fd >= 0)
        close(a->job.out_fd);
    if (tmp && !keep_output)
        unlink(tmp);
    free(tmp);
    ZSTD_freeCCtx(a->job.cctx);
    free(a->job.in_buf);
    free(a->job.out_buf);
    free(a->job.name);
    memset(&a->job, 0, sizeof a->job);
    a->job.in_fd = a->job.out_fd = -1;
}

static const serve_file *find_file(const tf_archive *a, const char *name)
{
    for (size_t i = 0; i < a->store->count; i++)
        if (!strcmp(a->store->files[i].name, name))
            return &a->store->files[i];
    return NULL;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Takes the next queued file; false when there is none to do. */
static bool job_begin(tf_archive *a)
{
    while (a->to_compress_count > 0) {
        char *name = a->to_compress[0];
        memmove(a->to_compress, a->to_compress + 1,
                (a->to_compress_count - 1) * sizeof *a->to_compress);
        a->to_compress_count--;
        const serve_file *f = find_file(a, name);
        if (!f || f->compressed || a->store->count == 0 ||
            f == &a->store->files[a->store->count - 1]) {
            free(name); /* purged, done, or still written */
            continue;
        }
        char *in_path = path_of(a, name);
        size_t n = strlen(a->dir) + strlen(name) + 16;
        char *tmp = malloc(n);
        snprintf(tmp, n, "%s/%s.zst.tmp", a->dir, name);
        a->job.name = name;
        a->job.in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
        a->job.out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        a->job.in_len = f->len;
        a->job.cctx = ZSTD_createCCtx();
        a->job.in_buf = malloc(COMPRESS_CHUNK);
        a->job.out_buf = malloc(ZSTD_CStreamOutSize());
        bool ok = a->job.in_fd >= 0 && a->job.out_fd >= 0 && a->job.cctx;
        if (ok) {
            ZSTD_CCtx_setParameter(a->job.cctx, ZSTD_c_compressionLevel, 3);
            ZSTD_CCtx_setParameter(a->job.cctx, ZSTD_c_checksumFlag, 1);
            ZSTD_CCtx_setPledgedSrcSize(a->job.cctx, f->len);
        } else {
            log_line(a, "archive: cannot compress %s: %s", in_path, strerror(errno));
            job_end(a, false);
        }
        free(in_path);
        free(tmp);
        if (ok)
            return true;
    }
    return false;
}

/* One chunk: read, compress, write; at the end sync, rename, switch the
 * store to the compressed file and remove the plain one. */
static bool job_step(tf_archive *a, bool *done)
{
    size_t out_cap = ZSTD_CStreamOutSize();
    size_t want = a->job.in_len - a->job.in_off < COMPRESS_CHUNK
                      ? (size_t)(a->job.in_len - a->job.in_off)
                      : COMPRESS_CHUNK;
    ssize_t got = want ? pread(a->job.in_fd, a->job.in_buf, want, (off_t)a->job.in_off) : 0;
    if (got < 0 || (size_t)got != want)
        return false;
    a->job.in_off += want;
    bool last = a->job.in_off == a->job.in_len;
    ZSTD_inBuffer in = {a->job.in_buf, want, 0};
    for (;;) {
        ZSTD_outBuffer out = {a->job.out_buf, out_cap, 0};
        size_t left =
            ZSTD_compressStream2(a->job.cctx, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left) || !write_all(a->job.out_fd, a->job.out_buf, out.pos))
            return false;
        if (last ? left == 0 : in.pos == in.size)
            break;
    }
    *done = last;
    if (!last)
        return true;
    size_t n = strlen(a->dir) + strlen(a->job.name) + 16;
    char *tmp = malloc(n), *zst = malloc(n);
    snprintf(tmp, n, "%s/%s.zst.tmp", a->dir, a->job.name);
    snprintf(zst, n, "%s/%s.zst", a->dir, a->job.name);
    tf_error err = {0};
    if (!find_file(a, a->job.name)) {
        /* Retention dropped it meanwhile. */
        free(tmp);
        free(zst);
        return true;
    }
    bool ok = fdatasync(a->job.out_fd) == 0 && rename(tmp, zst) == 0 && fsync_dir(a, &err);
    if (ok) {
        struct stat st;
        uint64_t packed = fstat(a->job.out_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        serve_store_file_compressed(a->store, a->job.name, zst);
        char *plain = path_of(a, a->job.name);
        unlink(plain);
        free(plain);
        a->stats.files_compressed++;
        a->stats.compressed_bytes_in += a->job.in_len;
        a->stats.compressed_bytes_out += packed;
    }
    free(tmp);
    free(zst);
    return ok;
}

static void compress_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tf_archive *a = arg;
    if (!a->job.name && !job_begin(a))
        return;
    bool done = false;
    if (!job_step(a, &done)) {
        log_line(a, "archive: compressing %s failed (%s); it stays uncompressed", a->job.name,
                 strerror(errno));
        job_end(a, false);
    } else if (done) {
        job_end(a, true);
    }
    if (a->job.name || a->to_compress_count > 0)
        event_active(a->compress_event, EV_TIMEOUT, 0);
}

/* ---- retention ---- */

void tf_archive_enforce_retention(tf_archive *a)
{
    tf_binlog_store *b = a->store;
    if (!a->opt.retention_bytes && !a->opt.retention_seconds)
        return;
    time_t now = time(NULL);
    for (;;) {
        if (b->count < 2)
            return;
        uint64_t total = 0;
        struct stat st;
        for (size_t i = 0; i < b->count; i++) {
            char *p = disk_path_of(a, &b->files[i]);
            total += stat(p, &st) == 0 ? (uint64_t)st.st_size : b->files[i].len;
            free(p);
        }
        char *path = disk_path_of(a, &b->files[0]);
        bool old = a->opt.retention_seconds && stat(path, &st) == 0 &&
                   (uint64_t)(now - st.st_mtime) > a->opt.retention_seconds;
        bool big = a->opt.retention_bytes && total > a->opt.retention_bytes;
        if ((!old && !big) || !tf_binlog_store_purge_first(b)) {
            free(path);
            return;
        }
        unlink(path);
        free(path);
        a->stats.files_purged++;
    }
}

/* ---- recovery ---- */

/* Where complete transactions end, from the events alone (what
 * replica/stream.c decides while streaming). */
typedef struct group_tracker {
    bool in_group;
    bool standalone; /* MariaDB GTID with FL_STANDALONE: one statement */
    bool saw_begin;
} group_tracker;

static bool statement_is(const tf_query_event *q, const char *word)
{
    size_t n = strlen(word);
    return q->statement.len >= n && !strncasecmp(q->statement.ptr, word, n) &&
           (q->statement.len == n || q->statement.ptr[n] == ' ' || q->statement.ptr[n] == ';');
}

/* True when ev ends a group (or stands outside any). */
static bool group_step(group_tracker *g, const tf_event *ev)
{
    switch (ev->kind) {
    case TF_EVENT_MARIADB_GTID:
        g->in_group = true;
        g->standalone = (ev->mariadb_gtid.flags2 & TF_MARIADB_GTID_F_STANDALONE) != 0;
        g->saw_begin = !g->standalone;
        return false;
    case TF_EVENT_GTID:
        g->in_group = true;
        g->standalone = false;
        g->saw_begin = false;
        return false;
    case TF_EVENT_XID:
    case TF_EVENT_TRANSACTION_PAYLOAD: /* MySQL: the whole transaction inside */
        g->in_group = false;
        return true;
    case TF_EVENT_QUERY:
        if (!g->in_group)
            return true;
        if (statement_is(&ev->query, "BEGIN") || statement_is(&ev->query, "XA START")) {
            g->saw_begin = true;
            return false;
        }
        if (!g->saw_begin || g->standalone || statement_is(&ev->query, "COMMIT") ||
            statement_is(&ev->query, "ROLLBACK") || statement_is(&ev->query, "XA END")) {
            g->in_group = false;
            return true;
        }
        return false;
    default: return !g->in_group;
    }
}

/* Indexes one file of the archive into the store in one pass, serving
 * each complete transaction as it is found; for the last file, cuts a
 * torn tail (a file without a whole header was never served: it goes). */
static bool recover_file(tf_archive *a, const char *name, bool last, tf_error *err)
{
    char *path = path_of(a, name);
    int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: cannot open %s: %s", path,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        free(path);
        return false;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: cannot map %s: %s", path,
                         strerror(errno));
            close(fd);
            free(path);
            return false;
        }
        madvise(map, size, MADV_SEQUENTIAL);
    }
    /* The header: FORMAT_DESCRIPTION and GTID_LIST / PREVIOUS_GTIDS. */
    tf_error scan_err = {0};
    tf_binlog_reader r;
    size_t header_events = 0;
    bool readable =
        size >= TF_BINLOG_MAGIC_LEN && tf_binlog_reader_init(&r, map, size, &scan_err) == TF_OK;
    while (readable && header_events < 2 && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &scan_err) != TF_OK)
            break;
        if (ev.kind == TF_EVENT_FORMAT_DESCRIPTION || ev.kind == TF_EVENT_MARIADB_GTID_LIST ||
            ev.kind == TF_EVENT_PREVIOUS_GTIDS)
            header_events++;
    }
    bool ok = true;
    if (header_events < 2) {
        if (last) {
            /* Crashed while creating it: nothing in it was served. */
            unlink(path);
            a->stats.recovered_cut_bytes += size;
        } else {
            ok = tf_error_set(err, TF_ERR_PROTOCOL, 0,
                              "archive: %s is damaged (no complete header); it is not the last "
                              "file, so it cannot be cut back: move it away to continue",
                              path) == TF_OK;
        }
        if (map)
            munmap(map, size);
        close(fd);
        free(path);
        return ok;
    }
    int store_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (store_fd < 0 || !tf_binlog_store_begin_file(a->store, name, store_fd, err)) {
        if (store_fd >= 0)
            close(store_fd);
        munmap(map, size);
        close(fd);
        free(path);
        return false;
    }
    uint64_t good = 0; /* end of the last complete group */
    bool ends_with_rotate = false;
    group_tracker g = {0};
    tf_binlog_reader_init(&r, map, size, &scan_err);
    while (ok && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &scan_err) != TF_OK)
            break; /* torn or damaged from here */
        ok = tf_binlog_store_append(a->store, map + r.event_offset, ev.header.event_size, err);
        if (ok && ev.kind == TF_EVENT_FORMAT_DESCRIPTION && !a->fde) {
            a->fde = malloc(ev.header.event_size);
            memcpy(a->fde, map + r.event_offset, ev.header.event_size);
            a->fde_len = ev.header.event_size;
            a->fmt = ev.format_description;
            a->source_server_id = ev.header.server_id;
        }
        if (ok && group_step(&g, &ev)) {
            tf_binlog_store_commit(a->store);
            good = r.pos;
            ends_with_rotate = ev.kind == TF_EVENT_ROTATE;
        }
    }
    tf_binlog_store_rollback(a->store);
    if (!ok) {
        tf_error_prefix(err, "archive: %s", path);
    } else if (good < size && !last) {
        ok =
            tf_error_set(err, TF_ERR_PROTOCOL, 0,
                         "archive: %s is damaged at offset %llu (%s); it is not the last "
                         "file, so it cannot be cut back",
                         path, (unsigned long long)good,
                         scan_err.message[0] ? scan_err.message : "a partial transaction") == TF_OK;
    } else if (good < size) {
        if (ftruncate(fd, (off_t)good) != 0 || fdatasync(fd) != 0)
            ok = tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: cannot cut %s to %llu: %s",
                              path, (unsigned long long)good, strerror(errno)) == TF_OK;
        else
            a->stats.recovered_cut_bytes += size - good;
    }
    munmap(map, size);
    free(path);
    if (!ok) {
        close(fd);
        return false;
    }
    if (last) {
        a->fd = fd;
        a->end = a->durable = good;
        a->need_new_file = ends_with_rotate;
    } else {
        close(fd);
    }
    a->stats.recovered_files++;
    return true;
}

/* A closed file kept compressed: decompressed to scan and index it (it
 * must be whole), then served from the .zst. */
static bool recover_compressed(tf_archive *a, const char *name, bool last, tf_error *err)
{
    size_t n = strlen(a->dir) + strlen(name) + 8;
    char *zst = malloc(n);
    snprintf(zst, n, "%s/%s.zst", a->dir, name);
    int fd = open(zst, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t *packed = NULL, *data = NULL;
    unsigned long long size = 0;
    bool ok = fd >= 0 && fstat(fd, &st) == 0;
    if (ok) {
        packed = malloc(st.st_size ? (size_t)st.st_size : 1);
        ok = read(fd, packed, (size_t)st.st_size) == st.st_size;
    }
    if (ok) {
        size = ZSTD_getFrameContentSize(packed, (size_t)st.st_size);
        ok = size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN &&
             size < (1ull << 32);
        data = ok ? malloc(size ? size : 1) : NULL;
        ok = ok && ZSTD_decompress(data, size, packed, (size_t)st.st_size) == size;
    }
    if (fd >= 0)
        close(fd);
    free(packed);
    tf_binlog_reader r;
    bool ends_with_rotate = false;
    group_tracker g = {0};
    uint64_t good = 0;
    if (ok)
        ok = tf_binlog_reader_init(&r, data, size, err) == TF_OK &&
             tf_binlog_store_begin_file(a->store, name, -1, err);
    while (ok && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        ok = tf_binlog_reader_next(&r, &ev, err) == TF_OK &&
             tf_binlog_store_append(a->store, data + r.event_offset, ev.header.event_size, err);
        if (ok && group_step(&g, &ev)) {
            good = r.pos;
            ends_with_rotate = ev.kind == TF_EVENT_ROTATE;
        }
    }
    if (ok && good != size)
        ok = tf_error_set(err, TF_ERR_PROTOCOL, 0, "a partial transaction at its end") == TF_OK;
    if (ok) {
        tf_binlog_store_commit(a->store);
        serve_store_file_compressed(a->store, name, zst);
        a->stats.recovered_files++;
        if (last)
            a->need_new_file = ends_with_rotate;
    } else {
        if (!err->message[0])
            tf_error_set(err, TF_ERR_IO, 0, "it does not decompress");
        tf_error_prefix(err, "archive: %s is damaged", zst);
    }
    free(data);
    free(zst);
    return ok;
}

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

tf_archive *tf_archive_open(struct event_base *base, const tf_archive_options *opt,
                            tf_binlog_store *store, tf_error *err)
{
    if (!opt->dir || !*opt->dir) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "archive: no folder given");
        return NULL;
    }
    if (mkdir(opt->dir, 0750) != 0 && errno != EEXIST) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: cannot create folder %s: %s",
                     opt->dir, strerror(errno));
        return NULL;
    }
    if (access(opt->dir, W_OK | X_OK) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "archive: folder %s is not writable: %s",
                     opt->dir, strerror(errno));
        return NULL;
    }
    tf_archive *a = calloc(1, sizeof *a);
    a->opt = *opt;
    a->dir = strdup(opt->dir);
    a->base_name = strdup(opt->base_name && *opt->base_name ? opt->base_name : "relay-bin");
    a->base = base;
    a->store = store;
    a->fd = -1;
    a->job.in_fd = a->job.out_fd = -1;
    a->next_number = 1;
    a->sync_event = event_new(base, -1, 0, sync_cb, a);
    /* Below everything else (see tf_archive_transaction). */
    int priorities = event_base_get_npriorities(base);
    if (priorities > 1)
        event_priority_set(a->sync_event, priorities - 1);
    DIR *d = opendir(a->dir);
    size_t count = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    size_t prefix = strlen(a->base_name);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *n = de->d_name;
        if (strncmp(n, a->base_name, prefix) != 0 || n[prefix] != '.' ||
            strspn(n + prefix + 1, "0123456789") != 6)
            continue;
        const char *tail = n + prefix + 7;
        if (!strcmp(tail, ".zst.tmp")) {
            /* compression cut short: the plain file is still there */
            char *p = path_of(a, n);
            unlink(p);
            free(p);
            continue;
        }
        if (*tail && strcmp(tail, ".zst") != 0)
            continue;
        if (count == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        names[count++] = strdup(n);
    }
    if (d)
        closedir(d);
    qsort(names, count, sizeof *names, compare_names);
    /* NAME and NAME.zst both there (stopped between the rename and the
     * unlink): the plain one is whole, the .zst goes. */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (i + 1 < count && strlen(names[i + 1]) == prefix + 11 &&
            !strncmp(names[i], names[i + 1], prefix + 7) && strlen(names[i]) == prefix + 7) {
            char *p = path_of(a, names[i + 1]);
            unlink(p);
            free(p);
            free(names[i + 1]);
            names[i + 1] = names[i];
            continue;
        }
        names[kept++] = names[i];
    }
    count = kept;
    bool ok = true;
    for (size_t i = 0; ok && i < count; i++) {
        bool last = i + 1 == count;
        if (strlen(names[i]) == prefix + 11) {
            names[i][prefix + 7] = '\0';
            ok = recover_compressed(a, names[i], last, err);
        } else {
            ok = recover_file(a, names[i], last, err);
            if (ok && !last && opt->compress)
                queue_compression(a, names[i]);
        }
        unsigned long number = strtoul(names[i] + prefix + 1, NULL, 10);
        if (number + 1 > a->next_number)
            a->next_number = (uint32_t)(number + 1);
    }
    /* A removed torn last file: its number is free again (only the last
     * file can be removed, so an empty store means the first one was). */
    if (ok && count > 0) {
        const char *last = store->count > 0 ? store->files[store->count - 1].name : NULL;
        a->next_number = last ? (uint32_t)strtoul(last + prefix + 1, NULL, 10) + 1
                              : (uint32_t)strtoul(names[0] + prefix + 1, NULL, 10);
        if (a->fd < 0 && last)
            a->need_new_file = true; /* the last file was removed or compressed */
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (!ok) {
        tf_archive_close(a);
        return NULL;
    }
    if (opt->fsync_interval_ms > 0) {
        event_free(a->sync_event);
        a->sync_event = event_new(base, -1, EV_PERSIST, sync_cb, a);
        struct timeval tv = {opt->fsync_interval_ms / 1000, (opt->fsync_interval_ms % 1000) * 1000};
        event_add(a->sync_event, &tv);
    }
    return a;
}

void tf_archive_close(tf_archive *a)
{
    if (!a)
        return;
    tf_error err = {0};
    if (!a->failed && a->fd >= 0)
        sync_and_serve(a, &err);
    if (a->sync_event)
        event_free(a->sync_event);
    if (a->job.name)
        job_end(a, false); /* the next start queues the file again */
    if (a->compress_event)
        event_free(a->compress_event);
    for (size_t i = 0; i < a->to_compress_count; i++)
        free(a->to_compress[i]);
    free(a->to_compress);
    if (a->fd >= 0)
        close(a->fd);
    free(a->fde);
    free(a->buf);
    free(a->dir);
    free(a->base_name);
    free(a);
}

const tf_archive_stats *tf_archive_get_stats(const tf_archive *a) { return &a->stats; }

bool tf_archive_has_format(const tf_archive *a) { return a->fde != NULL; }
