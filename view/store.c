/* store.c — where the state's rows, index buckets and hash slots live
 * when the flow has a state directory: a file there, mapped, so the state
 * may outgrow the memory the process keeps resident.
 *
 * The state is a web of pointers (a document build follows seven of
 * them), so it stays one: the allocations come from one mapping, reserved
 * once and extended by mapping more of the file behind it, and pointers
 * into it never move. A key-value store (LMDB, RocksDB) would turn each
 * pointer step into a tree search and each row into a copy.
 *
 * The process keeps about resident_limit bytes of the mapping in its page
 * tables: a thread of the store reads the resident size every 5 ms and,
 * past the limit, releases windows of the mapping in turn (MADV_DONTNEED
 * on a shared file mapping keeps the data, dirty pages included, in the
 * page cache). A thread, because pages come back on any touch, not only
 * on allocations: a flush of 100,000 documents reads gigabytes of state
 * without allocating any of it. It is a soft limit (what comes back
 * between two checks is over it); the hard one is the cgroup's
 * (MemoryMax= of the unit), which the kernel can keep by reclaiming these
 * pages instead of killing the process. The kernel then holds the cold part in the
 * page cache while memory allows, writes it to the file and reclaims it
 * when memory is short; a later touch maps it back (a minor fault, or a
 * read from disk). The file is unlinked at creation, gone with the
 * process, unless a clean stop keeps it (seal.c) for the next start on
 * this host; the state that survives anything else is the one saved in
 * the target.
 *
 * Frees are sized (the caller knows each allocation's size), so blocks
 * carry no header: sizes up to 4 KB in 16-byte classes, up to 1 MB in
 * powers of two, each class a free list threaded through its free blocks;
 * larger blocks (hash slot arrays, long bucket lists) are page runs whose
 * pages are punched out of the file when freed and reused first fit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, MADV_REMOVE, mkostemp */
#endif
#include "view_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define store_under_valgrind() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef store_under_valgrind
#define store_under_valgrind() false
#endif

#define STORE_PAGE 4096u
#define STORE_SMALL_MAX 4096u /* 16-byte classes up to here */
#define STORE_MEDIUM_MAX (1u << 20)
#define STORE_SMALL_CLASSES (STORE_SMALL_MAX / 16 + 1)
#define STORE_MEDIUM_CLASSES 21       /* by log2 of the size, 13..20 used */
#define STORE_GROW ((size_t)64 << 20) /* the file grows in these steps */
#define STORE_TRIM_WINDOW ((size_t)64 << 20)
#define STORE_TRIM_PERIOD_NS 5000000

typedef struct store_free_block {
    struct store_free_block *next;
} store_free_block;

/* Small and medium blocks (rows, buckets) bump up from the start of the
 * reservation, large ones (hash slot arrays) from its middle: the trimmer
 * releases the first region before it touches the second. Every lookup
 * probes a slot array at random, so a released one costs a fault per probe
 * until it is back; a row is touched only when its document is. Offsets
 * in the file are offsets in the reservation (the file is sparse). */
enum {
    STORE_LOW,
    STORE_HIGH,
    STORE_REGIONS
};

typedef struct store_region {
    size_t start;  /* offset of the region */
    size_t top;    /* end of what was handed out (read by the trimmer) */
    size_t mapped; /* end of the file mapped */
} store_region;

typedef struct store_run {
    size_t offset, size;
    struct store_run *next;
} store_run;

struct view_store {
    int fd;
    int statm_fd; /* /proc/self/statm */
    uint8_t *base;
    size_t reserved; /* address space held for the mapping */
    store_region regions[STORE_REGIONS];
    size_t live;                       /* bytes allocated now */
    size_t resident_limit;             /* 0: no limit, and no trimmer */
    size_t trim_cursor[STORE_REGIONS]; /* the trimmer's: next window to release */
    long shared_baseline;              /* pages of file mappings before ours */
    size_t released;                   /* bytes of windows released so far (atomic) */
    pthread_t trimmer;
    bool trimmer_running;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stopping;
    store_free_block *small[STORE_SMALL_CLASSES];
    store_free_block *medium[STORE_MEDIUM_CLASSES];
    store_run *runs; /* free page runs of large blocks */
    char *path;      /* the file's name when it has one (reopened or sealed) */
    bool sealed;     /* frees are ignored: the file must stay as sealed */
};

static _Noreturn void store_fail(const char *what, int error)
{
    /* As bson_malloc does when memory runs out: the state cannot go on
     * without the block, and no row may be dropped in its place. */
    fprintf(stderr, "tapflow: the view state file: %s: %s\n", what, strerror(error));
    abort();
}

/* Resident pages of file mappings (the third field of /proc/self/statm),
 * read from an fd kept open: the trimmer asks every 5 ms, and opening the
 * file with stdio each time was most of its cost (under valgrind, enough
 * to starve the thread doing the work). */
static long shared_pages(int statm_fd)
{
    char buf[128];
    ssize_t n = statm_fd < 0 ? -1 : pread(statm_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = buf, *end;
    long v = -1;
    for (int field = 0; field < 3; field++) {
        v = strtol(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    return v;
}

static void *trimmer_main(void *arg);

/* Where reservations are tried first: the same address in every process
 * (above what ASan's shadow takes, far below the stacks and libraries),
 * so that a sealed state can be mapped back where its pointers point. */
#define STORE_HINT ((uintptr_t)0x200000000000ull)
#define STORE_HINTS 32

static void *reserve_at(void *want, size_t size)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_FIXED_NOREPLACE
    if (want)
        flags |= MAP_FIXED_NOREPLACE;
#endif
    void *p = mmap(want, size, PROT_NONE, flags, -1, 0);
    if (p == MAP_FAILED && want && errno == EINVAL) /* the flag unknown here */
        p = mmap(want, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (want && p != want) { /* an older kernel took it as a hint */
        munmap(p, size);
        return NULL;
    }
    return p;
}

/* Address space only (PROT_NONE, no memory): the file is mapped into it
 * as it grows, so the state keeps its addresses. */
static void *reserve(size_t *reserved)
{
    size_t size = (size_t)1 << 40;
    if (store_under_valgrind()) {
        /* Its origin tracking pays for every byte of address space
         * mapped, reserved or not: a test's state needs little. */
        *reserved = (size_t)1 << 30;
        return reserve_at(NULL, *reserved);
    }
    /* The same address as in the last process, where a kept state's
     * pointers point; else anywhere. */
    for (int k = 0; k < STORE_HINTS; k++) {
        void *at = reserve_at((void *)(STORE_HINT + (uintptr_t)k * size), size);
        if (at) {
            *reserved = size;
            return at;
        }
    }
    void *p = reserve_at(NULL, size);
    if (p) {
        *reserved = size;
        return p;
    }
    /* A bounded address space (a ulimit -v): half of the largest free
     * range, so that the next state (another view of this process) finds
     * room too. */
    for (size /= 2; size >= ((size_t)1 << 28); size /= 2) {
        p = reserve_at(NULL, size);
        if (!p)
            continue;
        if (size > (size_t)1 << 28) {
            munmap(p, size);
            size /= 2;
            p = reserve_at(NULL, size);
        }
        if (p)
            *reserved = size;
        return p;
    }
    return NULL;
}

static view_store *store_new(int fd, uint8_t *base, size_t reserved, size_t resident_limit)
{
    view_store *s = bson_malloc0(sizeof *s);
    s->fd = fd;
    s->base = base;
    s->reserved = reserved;
    s->regions[STORE_HIGH].start = s->regions[STORE_HIGH].top = s->regions[STORE_HIGH].mapped =
        reserved / 2;
    s->resident_limit = resident_limit;
    s->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    s->shared_baseline = shared_pages(s->statm_fd);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cond, &attr);
    pthread_condattr_destroy(&attr);
    return s;
}

/* With a limit, the thread keeping it; on failure s is closed. */
static bool start_trimmer(view_store *s, const char *where, tf_error *err)
{
    if (!s->resident_limit)
        return true;
    int rc = pthread_create(&s->trimmer, NULL, trimmer_main, s);
    if (rc) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "state directory %.200s: cannot start the "
                     "thread keeping the resident limit: %s",
                     where, strerror(rc));
        view_store_close(s);
        return false;
    }
    s->trimmer_running = true;
    return true;
}

view_store *view_store_open(const char *dir, size_t resident_limit, tf_error *err)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* No O_TMPFILE on this file system: a named file, unlinked at once. */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/tapflow-state-XXXXXX", dir) >= (int)sizeof path) {
            tf_error_set(err, TF_ERR_CONFIG, 0, "state directory path too long");
            return NULL;
        }
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "state directory %.200s: cannot create a file: %s", dir,
                     strerror(errno));
        return NULL;
    }
    size_t reserved;
    void *base = reserve(&reserved);
    if (!base) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "state directory %.200s: cannot reserve address "
                     "space for the state: %s",
                     dir, strerror(errno));
        close(fd);
        return NULL;
    }
    view_store *s = store_new(fd, base, reserved, resident_limit);
    return start_trimmer(s, dir, err) ? s : NULL;
}

void view_store_close(view_store *s)
{
    if (!s)
        return;
    if (s->trimmer_running) {
        pthread_mutex_lock(&s->stop_lock);
        s->stopping = true;
        pthread_cond_signal(&s->stop_cond);
        pthread_mutex_unlock(&s->stop_lock);
        pthread_join(s->trimmer, NULL);
    }
    pthread_cond_destroy(&s->stop_cond);
    pthread_mutex_destroy(&s->stop_lock);
    munmap(s->base, s->reserved);
    close(s->fd);
    if (s->statm_fd >= 0)
        close(s->statm_fd);
    /* A kept state that was used and not sealed again is stale. */
    if (s->path && !s->sealed)
        unlink(s->path);
    bson_free(s->path);
    for (store_run *r = s->runs; r;) {
        store_run *next = r->next;
        bson_free(r);
        r = next;
    }
    bson_free(s);
}

/* Maps more of the file until region r is mapped up to `need`. The
 * blocks are allocated on disk (fallocate), so a full disk is an error
 * here rather than a SIGBUS on the first write to a page. */
static void map_more(view_store *s, store_region *r, size_t need)
{
    size_t end = r == &s->regions[STORE_LOW] ? s->regions[STORE_HIGH].start : s->reserved;
    while (r->mapped < need) {
        if (r->mapped + STORE_GROW > end)
            store_fail("the reserved address space is used up", ENOMEM);
        int rc = posix_fallocate(s->fd, (off_t)r->mapped, (off_t)STORE_GROW);
        if (rc == EOPNOTSUPP || rc == EINVAL)
            rc = ftruncate(s->fd, (off_t)(r->mapped + STORE_GROW)) ? errno : 0;
        if (rc)
            store_fail("growing it", rc);
        void *p = mmap(s->base + r->mapped, STORE_GROW, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_FIXED, s->fd, (off_t)r->mapped);
        if (p == MAP_FAILED)
            store_fail("mapping it", errno);
        /* No fault-around: a touched row maps its page, not 64 KB. */
        madvise(p, STORE_GROW, MADV_RANDOM);
        r->mapped += STORE_GROW;
    }
}

static void *bump(view_store *s, int region, size_t size, size_t align)
{
    store_region *r = &s->regions[region];
    size_t at = (r->top + align - 1) & ~(align - 1);
    if (at + size > r->mapped)
        map_more(s, r, at + size);
    /* Released after the mapping exists: the trimmer reads it. */
    __atomic_store_n(&r->top, at + size, __ATOMIC_RELEASE);
    return s->base + at;
}

static unsigned log2_ceil(size_t size)
{
    unsigned k = 0;
    while (((size_t)1 << k) < size)
        k++;
    return k;
}

static void *alloc_large(view_store *s, size_t size)
{
    size = (size + STORE_PAGE - 1) & ~(size_t)(STORE_PAGE - 1);
    for (store_run **at = &s->runs; *at; at = &(*at)->next) {
        store_run *r = *at;
        if (r->size < size)
            continue;
        void *p = s->base + r->offset;
        r->offset += size;
        r->size -= size;
        if (!r->size) {
            *at = r->next;
            bson_free(r);
        }
        return p;
    }
    return bump(s, STORE_HIGH, size, STORE_PAGE);
}

void *view_store_alloc(view_store *s, size_t size)
{
    if (!s)
        return bson_malloc(size);
    if (!size)
        size = 1;
    void *p;
    if (size <= STORE_SMALL_MAX) {
        size_t c = (size + 15) / 16;
        if (s->small[c]) {
            p = s->small[c];
            s->small[c] = s->small[c]->next;
        } else {
            p = bump(s, STORE_LOW, c * 16, 16);
        }
        s->live += c * 16;
    } else if (size <= STORE_MEDIUM_MAX) {
        unsigned k = log2_ceil(size);
        if (s->medium[k]) {
            p = s->medium[k];
            s->medium[k] = s->medium[k]->next;
        } else {
            p = bump(s, STORE_LOW, (size_t)1 << k, 16);
        }
        s->live += (size_t)1 << k;
    } else {
        p = alloc_large(s, size);
        s->live += (size + STORE_PAGE - 1) & ~(size_t)(STORE_PAGE - 1);
    }
    return p;
}

void *view_store_alloc_zeroed(view_store *s, size_t size)
{
    if (!s)
        return bson_malloc0(size);
    void *p = view_store_alloc(s, size);
    /* Large runs are fresh or punched pages: zero already, and left
     * unwritten so they take no memory until used. */
    if (size <= STORE_MEDIUM_MAX)
        memset(p, 0, size);
    return p;
}

void view_store_free(view_store *s, void *p, size_t size)
{
    if (!s) {
        bson_free(p);
        return;
    }
    if (!p || s->sealed)
        return;
    if (!size)
        size = 1;
    store_free_block *b = p;
    if (size <= STORE_SMALL_MAX) {
        size_t c = (size + 15) / 16;
        b->next = s->small[c];
        s->small[c] = b;
        s->live -= c * 16;
    } else if (size <= STORE_MEDIUM_MAX) {
        unsigned k = log2_ceil(size);
        b->next = s->medium[k];
        s->medium[k] = b;
        s->live -= (size_t)1 << k;
    } else {
        size = (size + STORE_PAGE - 1) & ~(size_t)(STORE_PAGE - 1);
        /* The pages leave the file and memory; the range reads as zeros
         * when reused. */
        if (madvise(p, size, MADV_REMOVE) != 0)
            store_fail("releasing a block", errno);
        store_run *r = bson_malloc(sizeof *r);
        r->offset = (size_t)((uint8_t *)p - s->base);
        r->size = size;
        r->next = s->runs;
        s->runs = r;
        s->live -= size;
    }
}

void *view_store_realloc(view_store *s, void *p, size_t old_size, size_t new_size)
{
    if (!s)
        return bson_realloc(p, new_size);
    void *q = view_store_alloc(s, new_size);
    if (p)
        memcpy(q, p, old_size < new_size ? old_size : new_size);
    view_store_free(s, p, old_size);
    return q;
}

size_t view_store_resident(const view_store *s)
{
    long pages = shared_pages(s->statm_fd);
    if (pages < 0 || pages < s->shared_baseline)
        return 0;
    return (size_t)(pages - s->shared_baseline) * (size_t)sysconf(_SC_PAGESIZE);
}

/* Releases windows of a region in address order from where its last
 * release stopped, until the resident size is at most goal or the region
 * was swept once; returns the resident size. */
static size_t release(view_store *s, int region, size_t resident, size_t goal)
{
    const store_region *r = &s->regions[region];
    size_t top = __atomic_load_n(&r->top, __ATOMIC_ACQUIRE);
    size_t *cursor = &s->trim_cursor[region];
    for (size_t swept = 0; resident > goal && swept < top - r->start; swept += STORE_TRIM_WINDOW) {
        if (*cursor < r->start || *cursor >= top)
            *cursor = r->start;
        size_t len = top - *cursor < STORE_TRIM_WINDOW ? top - *cursor : STORE_TRIM_WINDOW;
        len = (len + STORE_PAGE - 1) & ~(size_t)(STORE_PAGE - 1);
        /* The engine may touch or free these pages meanwhile: a released
         * page is faulted back with its data; a punched one reads zero
         * either way. */
        if (madvise(s->base + *cursor, len, MADV_DONTNEED) != 0)
            store_fail("releasing resident pages", errno);
        *cursor += len;
        __atomic_fetch_add(&s->released, len, __ATOMIC_RELAXED);
        resident = view_store_resident(s);
    }
    return resident;
}

/* Past the limit: down to three quarters of it (room for what comes back
 * before the next check), rows and buckets first, the hash slot arrays
 * only when those are not enough. */
static void trim(view_store *s)
{
    size_t resident = view_store_resident(s);
    if (resident <= s->resident_limit)
        return;
    size_t goal = s->resident_limit / 4 * 3;
    resident = release(s, STORE_LOW, resident, goal);
    release(s, STORE_HIGH, resident, goal);
}

static void *trimmer_main(void *arg)
{
    view_store *s = arg;
    pthread_mutex_lock(&s->stop_lock);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += STORE_TRIM_PERIOD_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->stop_lock);
        trim(s);
        pthread_mutex_lock(&s->stop_lock);
    }
    pthread_mutex_unlock(&s->stop_lock);
    return NULL;
}

void view_store_get_stats(const view_store *s, view_store_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->file_bytes = s->regions[STORE_LOW].mapped +
                      (s->regions[STORE_HIGH].mapped - s->regions[STORE_HIGH].start);
    out->live_bytes = s->live;
    out->resident_bytes = view_store_resident(s);
    out->released_bytes = __atomic_load_n(&s->released, __ATOMIC_RELAXED);
}

size_t view_store_resident_limit(const view_store *s) { return s ? s->resident_limit : 0; }

uint8_t *view_store_base(const view_store *s) { return s->base; }

bool view_store_holds(const view_store *s, const void *p, size_t len)
{
    uintptr_t at = (uintptr_t)p, base = (uintptr_t)s->base;
    if (at < base || len > s->reserved)
        return false;
    size_t off = at - base;
    for (int i = 0; i < STORE_REGIONS; i++) {
        const store_region *r = &s->regions[i];
        if (off >= r->start && off <= r->top && len <= r->top - off)
            return true;
    }
    return false;
}

/* ---- sealing ---- */

static void append_region(bson_t *doc, const char *key, const store_region *r)
{
    bson_t a;
    bson_append_array_begin(doc, key, -1, &a);
    BSON_APPEND_INT64(&a, "0", (int64_t)r->start);
    BSON_APPEND_INT64(&a, "1", (int64_t)r->top);
    BSON_APPEND_INT64(&a, "2", (int64_t)r->mapped);
    bson_append_array_end(doc, &a);
}

static void append_lists(bson_t *doc, const char *key, const view_store *s,
                         store_free_block *const *heads, size_t count)
{
    bson_t a;
    char k[16];
    const char *kp;
    bson_append_array_begin(doc, key, -1, &a);
    for (size_t i = 0; i < count; i++) {
        bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
        bson_append_int64(&a, kp, -1, heads[i] ? (int64_t)((uint8_t *)heads[i] - s->base) : -1);
    }
    bson_append_array_end(doc, &a);
}

bool view_store_seal(view_store *s, const char *path, bson_t *doc, tf_error *err)
{
    /* The data reach the disk before the seal naming them is written. */
    if (fsync(s->fd) != 0)
        return tf_error_set(err, TF_ERR_IO, errno, "syncing the view state file: %s",
                            strerror(errno)),
               false;
    if (!s->path || strcmp(s->path, path) != 0) {
        if (s->path) {
            if (rename(s->path, path) != 0)
                return tf_error_set(err, TF_ERR_IO, errno,
                                    "renaming the view state file to "
                                    "%.200s: %s",
                                    path, strerror(errno)),
                       false;
        } else {
            /* An O_TMPFILE file gets its name; one unlinked at creation
             * (no O_TMPFILE on this file system) cannot. */
            char proc[64];
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
            unlink(path); /* a crashed run's */
            if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
                return tf_error_set(err, TF_ERR_IO, errno,
                                    "naming the view state file "
                                    "%.200s: %s",
                                    path, strerror(errno)),
                       false;
        }
        bson_free(s->path);
        s->path = bson_strdup(path);
    }
    BSON_APPEND_INT64(doc, "base", (int64_t)(uintptr_t)s->base);
    BSON_APPEND_INT64(doc, "reserved", (int64_t)s->reserved);
    append_region(doc, "low", &s->regions[STORE_LOW]);
    append_region(doc, "high", &s->regions[STORE_HIGH]);
    BSON_APPEND_INT64(doc, "live", (int64_t)s->live);
    append_lists(doc, "small", s, s->small, STORE_SMALL_CLASSES);
    append_lists(doc, "medium", s, s->medium, STORE_MEDIUM_CLASSES);
    bson_t runs, run;
    char k[16];
    const char *kp;
    uint32_t n = 0;
    bson_append_array_begin(doc, "runs", -1, &runs);
    for (const store_run *r = s->runs; r; r = r->next) {
        bson_uint32_to_string(n++, &kp, k, sizeof k);
        bson_append_array_begin(&runs, kp, -1, &run);
        BSON_APPEND_INT64(&run, "0", (int64_t)r->offset);
        BSON_APPEND_INT64(&run, "1", (int64_t)r->size);
        bson_append_array_end(&runs, &run);
    }
    bson_append_array_end(doc, &runs);
    s->sealed = true;
    return true;
}

static bool get_int(const bson_t *doc, const char *key, size_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_INT64(&it) ||
        bson_iter_int64(&it) < 0)
        return false;
    *out = (size_t)bson_iter_int64(&it);
    return true;
}

/* count int64 values of an array; -1 (NULL in a free list) read as SIZE_MAX. */
static bool get_ints(const bson_t *doc, const char *key, size_t *out, size_t count)
{
    bson_iter_t it, a;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &a))
        return false;
    size_t n = 0;
    while (bson_iter_next(&a)) {
        if (n == count || !BSON_ITER_HOLDS_INT64(&a) || bson_iter_int64(&a) < -1)
            return false;
        int64_t v = bson_iter_int64(&a);
        out[n++] = v < 0 ? SIZE_MAX : (size_t)v;
    }
    return n == count;
}

static view_store *reopen_fail(tf_error *err, const char *what)
{
    tf_error_set(err, TF_ERR_CONFIG, 0, "%s", what);
    return NULL;
}

view_store *view_store_reopen(const char *path, const bson_t *doc, size_t resident_limit,
                              tf_error *err)
{
    size_t base, reserved, live, low[3], high[3];
    size_t small[STORE_SMALL_CLASSES], medium[STORE_MEDIUM_CLASSES];
    if (!get_int(doc, "base", &base) || !get_int(doc, "reserved", &reserved) ||
        !get_int(doc, "live", &live) || !get_ints(doc, "low", low, 3) ||
        !get_ints(doc, "high", high, 3) || !get_ints(doc, "small", small, STORE_SMALL_CLASSES) ||
        !get_ints(doc, "medium", medium, STORE_MEDIUM_CLASSES))
        return reopen_fail(err, "the seal's allocator fields are missing or malformed");
    bool regions_ok = reserved >= ((size_t)1 << 28) && reserved <= ((size_t)1 << 40) &&
                      (reserved & (reserved - 1)) == 0 && base % STORE_PAGE == 0 && low[0] == 0 &&
                      low[1] <= low[2] && low[2] <= high[0] && high[0] == reserved / 2 &&
                      high[0] <= high[1] && high[1] <= high[2] && high[2] <= reserved &&
                      low[2] % STORE_GROW == 0 && (high[2] - high[0]) % STORE_GROW == 0;
    for (size_t i = 0; regions_ok && i < STORE_SMALL_CLASSES; i++)
        regions_ok = small[i] == SIZE_MAX || (small[i] % 16 == 0 && small[i] < low[1]);
    for (size_t i = 0; regions_ok && i < STORE_MEDIUM_CLASSES; i++)
        regions_ok = medium[i] == SIZE_MAX || (medium[i] % 16 == 0 && medium[i] < low[1]);
    if (!regions_ok)
        return reopen_fail(err, "the seal's allocator fields are out of range");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        tf_error_set(err, TF_ERR_CONFIG, errno, "%.200s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    size_t need = high[2] > high[0] ? high[2] : low[2];
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < need) {
        close(fd);
        return reopen_fail(err, "the state file is shorter than its seal says");
    }
    uint8_t *b = reserve_at((void *)(uintptr_t)base, reserved);
    if (!b) {
        close(fd);
        return reopen_fail(err, "the address range it was kept at is taken in this process");
    }
    bool mapped =
        (low[2] == 0 ||
         mmap(b, low[2], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED) &&
        (high[2] == high[0] || mmap(b + high[0], high[2] - high[0], PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_FIXED, fd, (off_t)high[0]) != MAP_FAILED);
    if (!mapped) {
        tf_error_set(err, TF_ERR_CONFIG, errno, "mapping %.200s: %s", path, strerror(errno));
        munmap(b, reserved);
        close(fd);
        return NULL;
    }
    if (low[2])
        madvise(b, low[2], MADV_RANDOM);
    if (high[2] > high[0])
        madvise(b + high[0], high[2] - high[0], MADV_RANDOM);
    view_store *s = store_new(fd, b, reserved, resident_limit);
    s->regions[STORE_LOW] = (store_region){low[0], low[1], low[2]};
    s->regions[STORE_HIGH] = (store_region){high[0], high[1], high[2]};
    s->live = live;
    for (size_t i = 0; i < STORE_SMALL_CLASSES; i++)
        s->small[i] = small[i] == SIZE_MAX ? NULL : (store_free_block *)(void *)(b + small[i]);
    for (size_t i = 0; i < STORE_MEDIUM_CLASSES; i++)
        s->medium[i] = medium[i] == SIZE_MAX ? NULL : (store_free_block *)(void *)(b + medium[i]);
    s->path = bson_strdup(path);
    bson_iter_t it, runs, run;
    bool runs_ok = bson_iter_init_find(&it, doc, "runs") && BSON_ITER_HOLDS_ARRAY(&it) &&
                   bson_iter_recurse(&it, &runs);
    store_run **tail = &s->runs;
    while (runs_ok && bson_iter_next(&runs)) {
        size_t r[2];
        runs_ok = BSON_ITER_HOLDS_ARRAY(&runs) && bson_iter_recurse(&runs, &run);
        size_t n = 0;
        while (runs_ok && bson_iter_next(&run) && n < 2) {
            runs_ok = BSON_ITER_HOLDS_INT64(&run) && bson_iter_int64(&run) >= 0;
            if (runs_ok)
                r[n++] = (size_t)bson_iter_int64(&run);
        }
        runs_ok = runs_ok && n == 2 && r[0] % STORE_PAGE == 0 && r[1] % STORE_PAGE == 0 &&
                  r[0] >= high[0] && r[0] <= high[1] && r[1] <= high[1] - r[0];
        if (runs_ok) {
            store_run *one_run = bson_malloc0(sizeof *one_run);
            one_run->offset = r[0];
            one_run->size = r[1];
            *tail = one_run;
            tail = &one_run->next;
        }
    }
    if (!runs_ok) {
        view_store_close(s);
        return reopen_fail(err, "the seal's free page runs are malformed");
    }
    return start_trimmer(s, path, err) ? s : NULL;
}
