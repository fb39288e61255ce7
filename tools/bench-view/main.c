/* bench-view — the view engine alone, on one core, no target.
 *
 *   bench-view --tsv DIR --flow FILE [--changes N] [--seed N]
 *              [--fanout recompute|array-filters|positional]
 *              [--state-dir DIR [--state-memory-mb N]]
 *
 * DIR holds the six ecom_ tables as tools/datagen/datagen --tsv writes them.
 * Phase 1 (the snapshot's work): every row applied as an INSERT, the
 * orders last, flushed every 100,000 orders as the daemon's snapshot
 * pushes its documents (one REPLACE per order; all of them at once would
 * hold every document of a 10M-order set in memory). Phase 2: a mixed change stream, flushed
 * per source transaction as the daemon does, ops produced and discarded
 * (below). Phase 3 (a restart): the state saved in chunks as the daemon
 * saves it, then loaded into a fresh view; saved bytes and both times.
 * With --state-dir, first the restart of a clean stop on the same host:
 * the state file kept and mapped back into a new view (state_keep_s=,
 * state_reopen_s=), then 10,000 order updates on it (reopened_updates_*).
 *
 * Memory beside the view stays bounded, so that a 10M-order data set
 * (45M rows) fits: phase 1 streams each file a line at a time; phase 2
 * picks rows from a sample per table read before (all of a table's rows
 * up to 2M, so smaller data sets run exactly as when every row was kept;
 * beyond, every k-th row), printed as sample_rows= and sample_bytes=;
 * phase 3 writes the chunks to an unlinked file in $TMPDIR (else /tmp),
 * frees the view, and loads them back one at a time into a new one.
 * peak_rss_kb= is the process's peak (VmHWM).
 *
 * --state-dir keeps the views' state in a file there (tf_view_use_state_dir)
 * with at most --state-memory-mb of it resident; state_file_bytes= and
 * state_resident_bytes= then say how large the file grew and how much of
 * it the process held after phase 1.
 *
 * The change stream:
 *
 *   new order     customer + order + 1-n items + 1-n payments (one txn)
 *   status        UPDATE ecom_orders SET order_status
 *   payment       UPDATE ecom_order_payments SET payment_value
 *   customer      UPDATE ecom_customers SET customer_city (1 order)
 *   product       UPDATE ecom_products SET product_weight_g (fan-out: every
 *                 order holding it; products picked uniformly)
 *   seller        UPDATE ecom_sellers SET seller_city (fan-out)
 *
 * Items of new orders copy the product/seller of a random existing item, so
 * they follow the data set's popularity. Prints key=value lines (bench.py
 * reads them): rows, load time, RSS delta and the engine's estimate per
 * row, changes/s, ops per change, per kind; then the same as a table.
 *
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not wall
 * time: the machines this runs on are shared, and time the core spent on
 * other processes is not the engine's; per kind, they are estimated from
 * every 16th transaction of the kind. --fanout chooses the view's mode:
 * recompute (whole documents, the default), array-filters (SET /
 * SET_MANY partial updates) or positional (SETs, element paths by
 * position instead of SET_MANY).
 *
 * --digest hashes every op the change stream produces (kind, then filter,
 * doc, set, unset and array_filters, each as presence, length and bytes)
 * into one running 64-bit value printed as digest=: two builds whose
 * digests agree on a run emitted the same ops, byte for byte, in the same
 * order; op_bytes= is their size. The hashing is timed apart and left out of the figures. */
#include "view.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    T_ORDERS,
    T_ITEMS,
    T_PAYMENTS,
    T_CUSTOMERS,
    T_PRODUCTS,
    T_SELLERS,
    T_COUNT
};
enum {
    C_STR,
    C_INT,
    C_DT,
    C_DEC
};

typedef struct coldef {
    const char *name;
    int kind;
    bool pk;
} coldef;

typedef struct tabledef {
    const char *name;
    size_t count;
    coldef cols[8];
} tabledef;

static const tabledef schema[T_COUNT] = {
    [T_ORDERS] = {"ecom_orders",
                  8,
                  {{"order_id", C_STR, true},
                   {"customer_id", C_STR, false},
                   {"order_status", C_STR, false},
                   {"order_purchase_timestamp", C_DT, false},
                   {"order_approved_at", C_DT, false},
                   {"order_delivered_carrier_date", C_DT, false},
                   {"order_delivered_customer_date", C_DT, false},
                   {"order_estimated_delivery_date", C_DT, false}}},
    [T_ITEMS] = {"ecom_order_items",
                 7,
                 {{"order_id", C_STR, true},
                  {"order_item_id", C_INT, true},
                  {"product_id", C_STR, false},
                  {"seller_id", C_STR, false},
                  {"shipping_limit_date", C_DT, false},
                  {"price", C_DEC, false},
                  {"freight_value", C_DEC, false}}},
    [T_PAYMENTS] = {"ecom_order_payments",
                    5,
                    {{"order_id", C_STR, true},
                     {"payment_sequential", C_INT, true},
                     {"payment_type", C_STR, false},
                     {"payment_installments", C_INT, false},
                     {"payment_value", C_DEC, false}}},
    [T_CUSTOMERS] = {"ecom_customers",
                     5,
                     {{"customer_id", C_STR, true},
                      {"customer_unique_id", C_STR, false},
                      {"customer_zip_code_prefix", C_STR, false},
                      {"customer_city", C_STR, false},
                      {"customer_state", C_STR, false}}},
    [T_PRODUCTS] = {"ecom_products",
                    6,
                    {{"product_id", C_STR, true},
                     {"product_category_name", C_STR, false},
                     {"product_weight_g", C_INT, false},
                     {"product_length_cm", C_INT, false},
                     {"product_height_cm", C_INT, false},
                     {"product_width_cm", C_INT, false}}},
    [T_SELLERS] = {"ecom_sellers",
                   4,
                   {{"seller_id", C_STR, true},
                    {"seller_zip_code_prefix", C_STR, false},
                    {"seller_city", C_STR, false},
                    {"seller_state", C_STR, false}}},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall clock as perf record -k CLOCK_MONOTONIC stamps its samples. */
static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A figure of /proc/self/status in kB: "VmRSS:" now, "VmHWM:" the peak. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kb = atol(line + n);
    if (f)
        fclose(f);
    return kb;
}

static long rss_kb(void) { return status_kb("VmRSS:"); }

static void die(const char *what, const tf_error *err)
{
    fprintf(stderr, "bench-view: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static void parse_cell(int kind, char *cell, size_t len, tf_value *v)
{
    memset(v, 0, sizeof *v);
    if (len == 2 && cell[0] == '\\' && cell[1] == 'N') {
        v->kind = TF_VAL_NULL;
        return;
    }
    switch (kind) {
    case C_STR:
        v->kind = TF_VAL_STRING;
        v->bytes.ptr = (const uint8_t *)cell;
        v->bytes.len = len;
        break;
    case C_INT:
        v->kind = TF_VAL_INT;
        v->i = strtoll(cell, NULL, 10);
        break;
    case C_DEC:
        v->kind = TF_VAL_DECIMAL;
        snprintf(v->decimal.text, sizeof v->decimal.text, "%.*s", (int)len, cell);
        v->decimal.precision = 10;
        v->decimal.scale = 2;
        break;
    default: {
        /* sscanf would strlen the whole rest of the file on every call */
        char buf[32];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < 31 ? len : 31), cell);
        unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
        sscanf(buf, "%u-%u-%u %u:%u:%u", &y, &mo, &d, &h, &mi, &s);
        v->kind = TF_VAL_DATETIME;
        v->temporal = (tf_temporal){.year = (int32_t)y,
                                    .month = (uint8_t)mo,
                                    .day = (uint8_t)d,
                                    .hour = h,
                                    .minute = (uint8_t)mi,
                                    .second = (uint8_t)s};
    }
    }
}

/* One table's file, read a line at a time: nothing of it is kept but the
 * line being parsed (values point into it until the next read). */
typedef struct table_reader {
    FILE *file;
    char *line;
    size_t cap;
    char path[4096];
} table_reader;

static void reader_open(table_reader *r, const char *dir, int t)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s/%s.tsv", dir, schema[t].name);
    r->file = fopen(r->path, "rb");
    if (!r->file) {
        fprintf(stderr, "bench-view: cannot open %s: %s\n", r->path, strerror(errno));
        exit(1);
    }
    setvbuf(r->file, NULL, _IOFBF, 1u << 20);
}

/* Parses the next line into row (schema[t].count values); false at the end. */
static bool reader_next(table_reader *r, int t, tf_value *row)
{
    ssize_t n = getline(&r->line, &r->cap, r->file);
    if (n < 0) {
        if (ferror(r->file)) {
            fprintf(stderr, "bench-view: reading %s: %s\n", r->path, strerror(errno));
            exit(1);
        }
        return false;
    }
    char *eol = r->line + n;
    if (n > 0 && eol[-1] == '\n')
        *--eol = '\0';
    size_t ncols = schema[t].count;
    char *cell = r->line;
    for (size_t c = 0; c < ncols; c++) {
        char *end = c + 1 < ncols ? memchr(cell, '\t', (size_t)(eol - cell)) : eol;
        if (!end)
            end = eol;
        parse_cell(schema[t].cols[c].kind, cell, (size_t)(end - cell), &row[c]);
        cell = end < eol ? end + 1 : eol;
    }
    return true;
}

static void reader_close(table_reader *r)
{
    /* Read files leave the page cache: at 10M orders they are 4.6 GB that
     * would otherwise push a state kept in a file (--state-dir) to disk. */
    posix_fadvise(fileno(r->file), 0, 0, POSIX_FADV_DONTNEED);
    fclose(r->file);
    free(r->line);
}

static size_t count_lines(const char *dir, int t)
{
    table_reader r;
    reader_open(&r, dir, t);
    char block[1u << 16];
    size_t lines = 0, got;
    char last = '\n';
    while ((got = fread(block, 1, sizeof block, r.file)) > 0) {
        for (const char *p = block; (p = memchr(p, '\n', (size_t)(block + got - p))) != NULL; p++)
            lines++;
        last = block[got - 1];
    }
    reader_close(&r);
    return lines + (last != '\n'); /* reader_next reads a last line without one too */
}

/* The rows phase 2 picks from, per table: every row when the table has at
 * most SAMPLE_MAX (so that a run picks the same rows, and prints the same
 * digest, as when the whole file was kept), else every k-th row in file
 * order, k the smallest that keeps at most SAMPLE_MAX. A row is kept as
 * cells of 16 bytes (a tf_value takes 112: 7 GB for the samples of a
 * 10M-order data set) and its strings in an arena; sample_get rebuilds
 * the tf_values exactly as parse_cell made them. */
enum {
    SAMPLE_MAX = 2000000
};

typedef struct cell {
    union {
        const char *str; /* TF_VAL_STRING: len bytes (arena or static) */
        int64_t i;       /* TF_VAL_INT; TF_VAL_DECIMAL: hundredths (scale 2) */
        uint64_t when;   /* TF_VAL_DATETIME: year, month, day, h, m, s packed */
    };
    uint32_t len;
    uint8_t kind; /* tf_value_kind */
} cell;

typedef struct arena_block {
    struct arena_block *next;
    size_t used;
    char data[];
} arena_block;

typedef struct table_sample {
    size_t count; /* rows kept */
    size_t ncols;
    cell *cells; /* count * ncols */
    arena_block *strings;
    size_t bytes; /* cells and arena */
} table_sample;

enum {
    ARENA_BLOCK = 1u << 20
};

static const char *arena_copy(table_sample *s, const uint8_t *p, size_t len)
{
    arena_block *b = s->strings;
    if (!b || b->used + len > ARENA_BLOCK) {
        b = malloc(sizeof *b + ARENA_BLOCK);
        if (!b) {
            fprintf(stderr, "bench-view: out of memory for the sample\n");
            exit(1);
        }
        b->next = s->strings;
        b->used = 0;
        s->strings = b;
        s->bytes += sizeof *b + ARENA_BLOCK;
    }
    char *out = b->data + b->used;
    memcpy(out, p, len);
    b->used += len;
    return out;
}

/* Decimal text of DECIMAL(10,2) as hundredths, "12.30" -> 1230 (the text
 * datagen writes and phase 2 makes: digits, a point, two digits). */
static bool decimal_cents(const char *text, int64_t *out)
{
    char *end;
    long long units = strtoll(text, &end, 10);
    if (end == text || units < 0 || end[0] != '.' || end[1] < '0' || end[1] > '9' || end[2] < '0' ||
        end[2] > '9' || end[3] != '\0')
        return false;
    *out = (int64_t)units * 100 + (end[1] - '0') * 10 + (end[2] - '0');
    return true;
}

static void cents_text(int64_t cents, char *out, size_t size)
{
    snprintf(out, size, "%" PRId64 ".%02d", cents / 100, (int)(cents % 100));
}

/* Stores v in c; strings are referenced, not copied. */
static void cell_set(cell *c, const tf_value *v)
{
    memset(c, 0, sizeof *c);
    c->kind = (uint8_t)v->kind;
    switch (v->kind) {
    case TF_VAL_STRING:
        c->str = (const char *)v->bytes.ptr;
        c->len = (uint32_t)v->bytes.len;
        break;
    case TF_VAL_INT: c->i = v->i; break;
    case TF_VAL_DECIMAL: {
        char again[TF_DECIMAL_TEXT_MAX];
        bool ok = decimal_cents(v->decimal.text, &c->i);
        if (ok)
            cents_text(c->i, again, sizeof again);
        if (!ok || strcmp(again, v->decimal.text) != 0) {
            fprintf(stderr, "bench-view: decimal %s is not of the form 123.45\n", v->decimal.text);
            exit(1);
        }
        break;
    }
    case TF_VAL_DATETIME: {
        const tf_temporal *tm = &v->temporal;
        c->when = (uint64_t)(uint32_t)tm->year << 40 | (uint64_t)tm->month << 32 |
                  (uint64_t)tm->day << 24 | (uint64_t)(tm->hour & 0xff) << 16 |
                  (uint64_t)tm->minute << 8 | tm->second;
        break;
    }
    default: break;
    }
}

/* The tf_value parse_cell makes of the cell's text. */
static void cell_get(const cell *c, tf_value *v)
{
    memset(v, 0, sizeof *v);
    v->kind = (tf_value_kind)c->kind;
    switch (v->kind) {
    case TF_VAL_STRING:
        v->bytes.ptr = (const uint8_t *)c->str;
        v->bytes.len = c->len;
        break;
    case TF_VAL_INT: v->i = c->i; break;
    case TF_VAL_DECIMAL:
        cents_text(c->i, v->decimal.text, sizeof v->decimal.text);
        v->decimal.precision = 10;
        v->decimal.scale = 2;
        break;
    case TF_VAL_DATETIME:
        v->temporal = (tf_temporal){.year = (int32_t)(c->when >> 40),
                                    .month = (uint8_t)(c->when >> 32),
                                    .day = (uint8_t)(c->when >> 24),
                                    .hour = (uint8_t)(c->when >> 16),
                                    .minute = (uint8_t)(c->when >> 8),
                                    .second = (uint8_t)c->when};
        break;
    default: break;
    }
}

static void sample_get(const table_sample *s, size_t r, tf_value *row)
{
    for (size_t c = 0; c < s->ncols; c++)
        cell_get(&s->cells[r * s->ncols + c], &row[c]);
}

/* Row r becomes row: its strings must outlive the sample (arena or static). */
static void sample_set(table_sample *s, size_t r, const tf_value *row)
{
    for (size_t c = 0; c < s->ncols; c++)
        cell_set(&s->cells[r * s->ncols + c], &row[c]);
}

/* Reads table t's file once and keeps its sample; returns the file's rows. */
static size_t sample_table(const char *dir, int t, table_sample *s)
{
    size_t lines = count_lines(dir, t);
    size_t every = lines > SAMPLE_MAX ? (lines + SAMPLE_MAX - 1) / SAMPLE_MAX : 1;
    memset(s, 0, sizeof *s);
    s->ncols = schema[t].count;
    s->cells = calloc((lines + every - 1) / every * s->ncols + 1, sizeof *s->cells);
    if (!s->cells) {
        fprintf(stderr, "bench-view: out of memory for the sample of %s\n", schema[t].name);
        exit(1);
    }
    s->bytes += ((lines + every - 1) / every * s->ncols + 1) * sizeof *s->cells;
    table_reader r;
    reader_open(&r, dir, t);
    tf_value row[8];
    size_t n = 0;
    for (; reader_next(&r, t, row); n++) {
        if (n % every != 0 || s->count * every >= lines)
            continue;
        for (size_t c = 0; c < s->ncols; c++)
            if (row[c].kind == TF_VAL_STRING)
                row[c].bytes.ptr =
                    (const uint8_t *)arena_copy(s, row[c].bytes.ptr, row[c].bytes.len);
        sample_set(s, s->count++, row);
    }
    reader_close(&r);
    return n;
}

static void sample_free(table_sample *s)
{
    while (s->strings) {
        arena_block *next = s->strings->next;
        free(s->strings);
        s->strings = next;
    }
    free(s->cells);
}

/* xorshift64*: deterministic, fast. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static size_t pick(uint64_t *s, size_t n) { return (size_t)(rnd(s) % n); }

typedef struct bench {
    tf_view *view;
    tf_view_ops ops;
    uint64_t ops_total;
    uint64_t changes;
    bool digest_on;
    uint64_t digest;
    uint64_t digest_bytes; /* BSON bytes of the ops hashed */
    double digest_s;       /* CPU time spent hashing, left out of the figures */
} bench;

/* A running hash of bytes, 8 at a time: not cryptographic, only meant to
 * differ when two op streams do. */
static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t len)
{
    h = (h ^ len) * 0x9E3779B97F4A7C15ULL;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = ((h ^ w) << 29 | (h ^ w) >> 35) * 0xFF51AFD7ED558CCDULL;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h = ((h ^ tail) << 29 | (h ^ tail) >> 35) * 0xC4CEB9FE1A85EC53ULL;
    return h;
}

static uint64_t hash_doc(bench *b, uint64_t h, const bson_t *doc)
{
    if (!doc)
        return hash_bytes(h, (const uint8_t *)"", 0) ^ 1;
    b->digest_bytes += doc->len;
    return hash_bytes(h, bson_get_data(doc), doc->len);
}

static void digest_ops(bench *b)
{
    double t0 = now_s();
    for (size_t i = 0; i < b->ops.count; i++) {
        const tf_view_op *op = &b->ops.ops[i];
        uint8_t kind = (uint8_t)op->kind;
        b->digest = hash_bytes(b->digest, &kind, 1);
        b->digest = hash_doc(b, b->digest, op->filter);
        b->digest = hash_doc(b, b->digest, op->doc);
        b->digest = hash_doc(b, b->digest, op->set);
        b->digest = hash_doc(b, b->digest, op->unset);
        b->digest = hash_doc(b, b->digest, op->array_filters);
    }
    b->digest_s += now_s() - t0;
}

static void apply(bench *b, int t, tf_view_change_kind kind, const tf_value *before,
                  const tf_value *after)
{
    tf_error err = {0};
    if (tf_view_apply(b->view, schema[t].name, kind, before, after, &err) != TF_OK)
        die("apply", &err);
    b->changes++;
}

static void flush(bench *b)
{
    tf_error err = {0};
    if (tf_view_flush(b->view, &b->ops, &err) != TF_OK)
        die("flush", &err);
    b->ops_total += b->ops.count;
    if (b->digest_on)
        digest_ops(b);
    tf_view_ops_clear(&b->ops);
}

static tf_value str_value(const char *s)
{
    tf_value v;
    memset(&v, 0, sizeof v);
    v.kind = TF_VAL_STRING;
    v.bytes.ptr = (const uint8_t *)s;
    v.bytes.len = strlen(s);
    return v;
}

enum {
    K_NEW,
    K_STATUS,
    K_PAYMENT,
    K_CUSTOMER,
    K_PRODUCT,
    K_SELLER,
    K_KINDS
};
static const char *const kind_names[K_KINDS] = {"new_order", "status",  "payment",
                                                "customer",  "product", "seller"};
/* Transactions per 100. */
static const unsigned kind_weights[K_KINDS] = {30, 35, 12, 10, 8, 5};

static const char *const statuses[] = {"approved", "invoiced",  "processing",
                                       "shipped",  "delivered", "canceled"};
static const char *const cities[] = {"sao paulo", "rio de janeiro", "curitiba",
                                     "campinas",  "salvador",       "recife"};

static const char *const fanout_names[] = {"recompute", "array-filters", "positional"};

/* The saved state's chunks, written to an unlinked temporary file (in
 * $TMPDIR, else /tmp) as a length (8 bytes, host order) then the bytes:
 * at 10M orders they are ~10 GB, more than memory holds beside the view. */
typedef struct saved_state {
    FILE *file;
    size_t count, bytes;
} saved_state;

static void saved_open(saved_state *s)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-view-state-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0 || unlink(path) != 0 || !(s->file = fdopen(fd, "w+b"))) {
        fprintf(stderr, "bench-view: temporary file %s for the saved state: %s\n", path,
                strerror(errno));
        exit(1);
    }
    setvbuf(s->file, NULL, _IOFBF, 1u << 20);
}

static bool keep_chunk(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    saved_state *s = arg;
    uint64_t n = len;
    if (fwrite(&n, sizeof n, 1, s->file) != 1 || fwrite(data, 1, len, s->file) != len) {
        tf_error_set(err, TF_ERR_IO, errno, "writing chunk %zu of the saved state: %s", s->count,
                     strerror(errno));
        return false;
    }
    s->count++;
    s->bytes += len;
    return true;
}

/* Loads the chunks of s into view one by one, in the order they were saved. */
static void load_saved(saved_state *s, tf_view *view)
{
    if (fflush(s->file) != 0 || fseek(s->file, 0, SEEK_SET) != 0) {
        fprintf(stderr, "bench-view: rewinding the saved state: %s\n", strerror(errno));
        exit(1);
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (size_t c = 0; c < s->count; c++) {
        uint64_t len;
        if (fread(&len, sizeof len, 1, s->file) != 1) {
            fprintf(stderr, "bench-view: saved state: chunk %zu missing\n", c);
            exit(1);
        }
        if (len > cap) {
            free(buf);
            cap = len;
            buf = malloc(cap);
            if (!buf) {
                fprintf(stderr, "bench-view: out of memory for a chunk of %" PRIu64 " bytes\n",
                        len);
                exit(1);
            }
        }
        if (fread(buf, 1, len, s->file) != len) {
            fprintf(stderr, "bench-view: saved state: chunk %zu short\n", c);
            exit(1);
        }
        tf_error err = {0};
        if (tf_view_load_chunk(view, buf, len, &err) != TF_OK)
            die("load", &err);
    }
    free(buf);
}

/* The mode named by --fanout's argument (indexes are tf_view_fanout). */
static bool fanout_named(const char *name, tf_view_fanout *out)
{
    for (size_t i = 0; i < sizeof fanout_names / sizeof *fanout_names; i++)
        if (strcmp(name, fanout_names[i]) == 0) {
            *out = (tf_view_fanout)i;
            return true;
        }
    return false;
}

static tf_view *new_view(const tf_flow_spec *spec, const char *state_dir, size_t state_memory)
{
    tf_view *view = tf_view_new(spec);
    tf_error err = {0};
    if (state_dir && tf_view_use_state_dir(view, state_dir, state_memory, &err) != TF_OK)
        die("state dir", &err);
    return view;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-view --tsv DIR --flow FILE [--changes N] [--seed N] "
                    "[--fanout recompute|array-filters|positional] [--digest] "
                    "[--state-dir DIR [--state-memory-mb N]]\n");
    return 2;
}

/* With --state-dir, a clean stop and start on the same host: the state
 * kept (tf_view_seal_state: synced, its maps written beside it), the view
 * destroyed, a new one mapping the kept state back; then order status
 * updates on it, each building its document from pages that come back on
 * first touch. b->view is the new view afterwards. */
static void keep_and_reopen(bench *b, const tf_flow_spec *spec, const char *state_dir,
                            size_t state_memory, tf_view_fanout fanout,
                            const tf_view_stats *before, table_sample *orders)
{
    tf_error err = {0};
    double k0 = now_s();
    if (tf_view_seal_state(b->view, "bench-view", "bench", &err) != TF_OK)
        die("keep the state", &err);
    double k1 = now_s();
    tf_view_destroy(b->view);
    double k2 = now_s();
    b->view = new_view(spec, state_dir, state_memory);
    bool reopened = false;
    if (tf_view_reopen_state(b->view, "bench-view", "bench", &reopened, &err) != TF_OK ||
        !reopened)
        die("reopen the kept state", &err);
    double k3 = now_s();
    if (tf_view_set_fanout(b->view, fanout, &err) != TF_OK)
        die("fanout", &err);
    tf_view_stats st;
    tf_view_get_stats(b->view, &st);
    if (st.row_count != before->row_count) {
        fprintf(stderr, "bench-view: the kept state holds %zu rows of %zu\n", st.row_count,
                before->row_count);
        exit(1);
    }
    enum { UPDATES = 10000 };
    static const char *const statuses[] = {"delivered", "shipped", "canceled", "invoiced"};
    uint64_t rs = 0x5EEDull;
    bool digest_on = b->digest_on;
    b->digest_on = false;
    uint64_t ops0 = b->ops_total;
    double u0 = now_s();
    for (int i = 0; i < UPDATES; i++) {
        size_t r = pick(&rs, orders->count);
        tf_value row[8], after[8];
        sample_get(orders, r, row);
        memcpy(after, row, sizeof after);
        after[2] = str_value(statuses[pick(&rs, 4)]);
        apply(b, T_ORDERS, TF_VIEW_UPDATE, row, after);
        sample_set(orders, r, after);
        flush(b);
    }
    double u1 = now_s();
    b->digest_on = digest_on;
    printf("state_keep_s=%.3f\nstate_teardown_s=%.3f\nstate_reopen_s=%.3f\n", k1 - k0, k2 - k1,
           k3 - k2);
    printf("reopened_updates=%d\nreopened_updates_s=%.3f\nreopened_updates_per_s=%.0f\n"
           "reopened_ops=%" PRIu64 "\n",
           UPDATES, u1 - u0, UPDATES / (u1 - u0), b->ops_total - ops0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *flow = NULL;
    uint64_t target_changes = 1000000, seed = 42;
    tf_view_fanout fanout = TF_VIEW_FANOUT_RECOMPUTE;
    bool digest = false;
    const char *state_dir = NULL;
    size_t state_memory = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tsv") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--flow") == 0 && i + 1 < argc)
            flow = argv[++i];
        else if (strcmp(argv[i], "--changes") == 0 && i + 1 < argc)
            target_changes = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--fanout") == 0 && i + 1 < argc &&
                 fanout_named(argv[i + 1], &fanout))
            i++;
        else if (strcmp(argv[i], "--digest") == 0)
            digest = true;
        else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
            state_dir = argv[++i];
        else if (strcmp(argv[i], "--state-memory-mb") == 0 && i + 1 < argc)
            state_memory = (size_t)strtoull(argv[++i], NULL, 10) << 20;
        else
            return usage();
    }
    if (!dir || !flow)
        return usage();
    tf_error err = {0};
    tf_flow_spec *spec;
    if (tf_flow_parse_file(flow, &spec, &err) != TF_OK)
        die("flow", &err);
    /* The files are read twice: once here for the samples phase 2 picks
     * from, then streamed through phase 1. The samples are allocated
     * before rss0 is read, so the RSS delta of phase 1 is the view's (and
     * a line buffer's), not theirs. */
    table_sample rows[T_COUNT];
    size_t file_rows[T_COUNT], sample_rows = 0, sample_bytes = 0;
    for (int t = 0; t < T_COUNT; t++) {
        file_rows[t] = sample_table(dir, t, &rows[t]);
        sample_rows += rows[t].count;
        sample_bytes += rows[t].bytes;
    }
    printf("sample_rows=%zu\nsample_bytes=%zu\n", sample_rows, sample_bytes);
    fflush(stdout);
    long rss0 = rss_kb();
    bench b = {0};
    b.view = new_view(spec, state_dir, state_memory);
    tf_view_ops_init(&b.ops);
    for (int t = 0; t < T_COUNT; t++) {
        tf_column cols[8];
        memset(cols, 0, sizeof cols);
        for (size_t c = 0; c < schema[t].count; c++) {
            const coldef *d = &schema[t].cols[c];
            cols[c].type = d->kind == C_STR   ? TF_TYPE_VARCHAR
                           : d->kind == C_INT ? TF_TYPE_LONG
                           : d->kind == C_DEC ? TF_TYPE_NEWDECIMAL
                                              : TF_TYPE_DATETIME2;
            cols[c].meta = d->kind == C_STR ? 128 : d->kind == C_DEC ? (10 << 8) | 2 : 0;
            cols[c].is_primary_key = d->pk;
            cols[c].nullable = !d->pk;
            cols[c].charset = d->kind == C_STR ? 45 : 63;
            cols[c].name.ptr = d->name;
            cols[c].name.len = strlen(d->name);
        }
        if (tf_view_define_table(b.view, schema[t].name, cols, schema[t].count, NULL, 0, &err) !=
            TF_OK)
            die("define", &err);
    }

    /* Phase 1: the snapshot's rows, then every document once. The orders
     * come last: a document is pending only from its order's insert on,
     * so flushing every PUSH_ORDERS of them writes each once. */
    enum {
        PUSH_ORDERS = 100000
    };
    static const int load_order[T_COUNT] = {T_ITEMS,    T_PAYMENTS, T_CUSTOMERS,
                                            T_PRODUCTS, T_SELLERS,  T_ORDERS};
    size_t total_rows = 0;
    double t0 = now_s(), pushes_s = 0;
    for (int k = 0; k < T_COUNT; k++) {
        int t = load_order[k];
        table_reader r;
        reader_open(&r, dir, t);
        tf_value row[8];
        size_t n = 0;
        for (; reader_next(&r, t, row); n++) {
            apply(&b, t, TF_VIEW_INSERT, NULL, row);
            if (t == T_ORDERS && n % PUSH_ORDERS == PUSH_ORDERS - 1) {
                double p0 = now_s();
                flush(&b);
                pushes_s += now_s() - p0;
            }
        }
        reader_close(&r);
        if (n != file_rows[t]) {
            fprintf(stderr, "bench-view: %s changed while read (%zu rows, then %zu)\n",
                    schema[t].name, file_rows[t], n);
            return 1;
        }
        total_rows += n;
    }
    double t1 = now_s();
    flush(&b);
    double t2 = now_s();
    long rss1 = rss_kb();
    tf_view_stats st;
    tf_view_get_stats(b.view, &st);
    printf("rows=%zu\n", total_rows);
    uint64_t load_docs = b.ops_total;
    printf("load_apply_s=%.3f\nload_flush_s=%.3f\nload_docs=%" PRIu64 "\n", t1 - t0 - pushes_s,
           t2 - t1 + pushes_s, load_docs);
    if (state_dir)
        printf("state_file_bytes=%zu\nstate_file_bytes_per_row=%.0f\nstate_resident_bytes=%zu\n"
               "state_released_bytes=%zu\n",
               st.state_file_bytes, (double)st.state_file_bytes / (double)st.row_count,
               st.state_resident_bytes, st.state_released_bytes);
    printf("load_rows_per_s=%.0f\n", (double)total_rows / (t2 - t0));
    double rss_per_row = (double)(rss1 - rss0) * 1024.0 / (double)total_rows;
    double engine_per_row = (double)st.memory_bytes / (double)st.row_count;
    printf("rss_delta_bytes_per_row=%.0f\n", rss_per_row);
    printf("engine_bytes_per_row=%.0f\n", engine_per_row);
    printf("state_rows=%zu\n", st.row_count);
    fflush(stdout); /* a long run's first figures, while phase 2 runs */

    /* Phase 2: the mixed change stream. */
    if (tf_view_set_fanout(b.view, fanout, &err) != TF_OK)
        die("fanout", &err);
    uint64_t rs = seed * 0x9E3779B97F4A7C15ULL + 1;
    uint64_t kind_changes[K_KINDS] = {0}, kind_ops[K_KINDS] = {0}, kind_txns[K_KINDS] = {0};
    /* Per kind, every KIND_SAMPLE-th transaction is timed and the kind's
     * time estimated from those; the whole stream is timed once. Reading
     * the thread's CPU clock is a system call (0.3-0.5 us, more under
     * load): around every transaction it cost as much as the engine's
     * own work on the small ones. */
    enum {
        KIND_SAMPLE = 16
    };
    double kind_time[K_KINDS] = {0}, kind_sampled_time[K_KINDS] = {0};
    uint64_t kind_sampled[K_KINDS] = {0};
    uint64_t new_orders = 0;
    b.ops_total = 0;
    b.changes = 0;
    b.digest_on = digest;
    unsigned weight_total = 0;
    for (int k = 0; k < K_KINDS; k++)
        weight_total += kind_weights[k];
    double start = now_s(), stream_clock = monotonic_s();
    while (b.changes < target_changes) {
        unsigned w = (unsigned)(rnd(&rs) % weight_total);
        int k = 0;
        while (w >= kind_weights[k])
            w -= kind_weights[k++];
        uint64_t c0 = b.changes, o0 = b.ops_total;
        bool timed = kind_txns[k] % KIND_SAMPLE == 0;
        double k0 = timed ? now_s() : 0.0;
        switch (k) {
        case K_NEW: {
            char oid[40], cid[40];
            snprintf(oid, sizeof oid, "bench%027" PRIu64, new_orders);
            snprintf(cid, sizeof cid, "benchc%026" PRIu64, new_orders);
            new_orders++;
            tf_value cust[5], ord[8];
            sample_get(&rows[T_CUSTOMERS], pick(&rs, rows[T_CUSTOMERS].count), cust);
            cust[0] = str_value(cid);
            apply(&b, T_CUSTOMERS, TF_VIEW_INSERT, NULL, cust);
            sample_get(&rows[T_ORDERS], pick(&rs, rows[T_ORDERS].count), ord);
            ord[0] = str_value(oid);
            ord[1] = str_value(cid);
            ord[2] = str_value("created");
            apply(&b, T_ORDERS, TF_VIEW_INSERT, NULL, ord);
            unsigned items = 1 + (rnd(&rs) % 100 < 10) + (rnd(&rs) % 100 < 3);
            for (unsigned i = 1; i <= items; i++) {
                tf_value it[7];
                sample_get(&rows[T_ITEMS], pick(&rs, rows[T_ITEMS].count), it);
                it[0] = str_value(oid);
                it[1].kind = TF_VAL_INT;
                it[1].i = i;
                apply(&b, T_ITEMS, TF_VIEW_INSERT, NULL, it);
            }
            unsigned pays = 1 + (rnd(&rs) % 100 < 4);
            for (unsigned i = 1; i <= pays; i++) {
                tf_value p[5];
                sample_get(&rows[T_PAYMENTS], pick(&rs, rows[T_PAYMENTS].count), p);
                p[0] = str_value(oid);
                p[1].kind = TF_VAL_INT;
                p[1].i = i;
                apply(&b, T_PAYMENTS, TF_VIEW_INSERT, NULL, p);
            }
            break;
        }
        /* The updates write the after row back into the sample: its new
         * strings are static, so they stay valid. */
        case K_STATUS: {
            size_t r = pick(&rs, rows[T_ORDERS].count);
            tf_value row[8], after[8];
            sample_get(&rows[T_ORDERS], r, row);
            memcpy(after, row, sizeof after);
            after[2] = str_value(statuses[pick(&rs, 6)]);
            apply(&b, T_ORDERS, TF_VIEW_UPDATE, row, after);
            sample_set(&rows[T_ORDERS], r, after);
            break;
        }
        case K_PAYMENT: {
            size_t r = pick(&rs, rows[T_PAYMENTS].count);
            tf_value row[5], after[5];
            sample_get(&rows[T_PAYMENTS], r, row);
            memcpy(after, row, sizeof after);
            snprintf(after[4].decimal.text, sizeof after[4].decimal.text, "%u.%02u",
                     (unsigned)pick(&rs, 500), (unsigned)pick(&rs, 100));
            after[3].kind = TF_VAL_INT;
            after[3].i = 1 + (int64_t)pick(&rs, 10);
            apply(&b, T_PAYMENTS, TF_VIEW_UPDATE, row, after);
            sample_set(&rows[T_PAYMENTS], r, after);
            break;
        }
        case K_CUSTOMER: {
            size_t r = pick(&rs, rows[T_CUSTOMERS].count);
            tf_value row[5], after[5];
            sample_get(&rows[T_CUSTOMERS], r, row);
            memcpy(after, row, sizeof after);
            after[3] = str_value(cities[pick(&rs, 6)]);
            apply(&b, T_CUSTOMERS, TF_VIEW_UPDATE, row, after);
            sample_set(&rows[T_CUSTOMERS], r, after);
            break;
        }
        case K_PRODUCT: {
            size_t r = pick(&rs, rows[T_PRODUCTS].count);
            tf_value row[6], after[6];
            sample_get(&rows[T_PRODUCTS], r, row);
            memcpy(after, row, sizeof after);
            after[2].kind = TF_VAL_INT;
            after[2].i = 100 + (int64_t)pick(&rs, 5000);
            apply(&b, T_PRODUCTS, TF_VIEW_UPDATE, row, after);
            sample_set(&rows[T_PRODUCTS], r, after);
            break;
        }
        default: {
            size_t r = pick(&rs, rows[T_SELLERS].count);
            tf_value row[4], after[4];
            sample_get(&rows[T_SELLERS], r, row);
            memcpy(after, row, sizeof after);
            after[2] = str_value(cities[pick(&rs, 6)]);
            apply(&b, T_SELLERS, TF_VIEW_UPDATE, row, after);
            sample_set(&rows[T_SELLERS], r, after);
            break;
        }
        }
        double d0 = b.digest_s;
        flush(&b); /* one source transaction */
        if (timed) {
            kind_sampled_time[k] += now_s() - k0 - (b.digest_s - d0);
            kind_sampled[k]++;
        }
        kind_txns[k]++;
        kind_changes[k] += b.changes - c0;
        kind_ops[k] += b.ops_total - o0;
    }
    double elapsed = now_s() - start - b.digest_s;
    for (int k = 0; k < K_KINDS; k++)
        kind_time[k] = kind_sampled[k]
                           ? kind_sampled_time[k] * (double)kind_txns[k] / (double)kind_sampled[k]
                           : 0.0;
    /* For perf report --time START,END: the change stream alone. */
    printf("stream_monotonic=%.6f,%.6f\n", stream_clock, monotonic_s());
    tf_view_get_stats(b.view, &st);
    printf("changes=%" PRIu64 "\nchanges_s=%.3f\nchanges_per_s=%.0f\n", b.changes, elapsed,
           (double)b.changes / elapsed);
    printf("ops=%" PRIu64 "\nops_per_change=%.3f\nops_per_s=%.0f\n", b.ops_total,
           (double)b.ops_total / (double)b.changes, (double)b.ops_total / elapsed);
    for (int k = 0; k < K_KINDS; k++)
        printf("kind_%s=txns:%" PRIu64 " changes:%" PRIu64 " ops:%" PRIu64
               " s:%.3f changes_per_s:%.0f\n",
               kind_names[k], kind_txns[k], kind_changes[k], kind_ops[k], kind_time[k],
               kind_time[k] > 0 ? (double)kind_changes[k] / kind_time[k] : 0.0);
    printf("final_rss_kb=%ld\nfinal_engine_bytes=%zu\n", rss_kb(), st.memory_bytes);
    fflush(stdout);

    /* Phase 3: resume. The state saved as the daemon saves it (chunks
     * under 16 MB), then loaded into a fresh view of the same flow. */
    saved_state saved = {0};
    saved_open(&saved);
    double save0 = now_s();
    if (tf_view_save(b.view, 16u << 20, keep_chunk, &saved, &err) != TF_OK)
        die("save", &err);
    double save1 = now_s();
    if (state_dir)
        keep_and_reopen(&b, spec, state_dir, state_memory, fanout, &st, &rows[T_ORDERS]);
    /* The saved view goes before the new one loads, as in a restart: the
     * two together would double the memory of a large state. */
    tf_view_destroy(b.view);
    b.view = NULL;
    tf_view *resumed = new_view(spec, state_dir, state_memory);
    double load0 = now_s();
    load_saved(&saved, resumed);
    double load1 = now_s();
    tf_view_stats resumed_st;
    tf_view_get_stats(resumed, &resumed_st);
    if (resumed_st.row_count != st.row_count) {
        fprintf(stderr, "bench-view: resumed %zu rows of %zu\n", resumed_st.row_count,
                st.row_count);
        return 1;
    }
    printf("state_saved_bytes=%zu\nstate_saved_bytes_per_row=%.0f\n", saved.bytes,
           (double)saved.bytes / (double)st.row_count);
    printf("state_save_s=%.3f\nstate_load_s=%.3f\n", save1 - save0, load1 - load0);
    tf_view_destroy(resumed);
    fclose(saved.file);
    printf("peak_rss_kb=%ld\n", status_kb("VmHWM:"));
    printf("fanout=%s\n", fanout_names[fanout]);
    if (digest)
        printf("digest=%016" PRIx64 "\nop_bytes=%" PRIu64 "\n", b.digest, b.digest_bytes);

    printf("\nview engine alone, one core (thread CPU time), fan-out mode %s\n",
           fanout_names[fanout]);
    printf("  %-10s %9s %9s %9s %8s %12s\n", "part", "txns", "changes", "ops", "cpu s",
           "changes/s");
    for (int k = 0; k < K_KINDS; k++)
        printf("  %-10s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8.3f %12.0f\n", kind_names[k],
               kind_txns[k], kind_changes[k], kind_ops[k], kind_time[k],
               kind_time[k] > 0 ? (double)kind_changes[k] / kind_time[k] : 0.0);
    printf("  %-10s %9s %9" PRIu64 " %9" PRIu64 " %8.3f %12.0f\n", "all", "", b.changes,
           b.ops_total, elapsed, (double)b.changes / elapsed);
    printf("  initial build: %zu rows applied and %" PRIu64 " documents in %.3f s (%.0f rows/s)\n",
           total_rows, load_docs, t2 - t0, (double)total_rows / (t2 - t0));
    printf("  state memory per source row: %.0f bytes (engine estimate), %.0f bytes (RSS delta)\n",
           engine_per_row, rss_per_row);
    printf("  resume: state saved in %.3f s (%.0f bytes per row), loaded in %.3f s\n",
           save1 - save0, (double)saved.bytes / (double)st.row_count, load1 - load0);
    tf_view_ops_cleanup(&b.ops);
    tf_view_destroy(b.view);
    tf_flow_spec_destroy(spec);
    for (int t = 0; t < T_COUNT; t++)
        sample_free(&rows[t]);
    return 0;
}
