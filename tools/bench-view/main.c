/* bench-view — the view engine alone, on one core, no target.
 *
 *   bench-view --tsv DIR --flow FILE [--changes N] [--seed N]
 *              [--fanout recompute|array-filters|positional]
 *
 * DIR holds the six ecom_ tables as tools/datagen/datagen --tsv writes them.
 * Phase 1 (the snapshot's work): every row applied as an INSERT, then one
 * flush (one REPLACE per order). Phase 2: a mixed change stream, flushed
 * per source transaction as the daemon does, ops produced and discarded
 * (below). Phase 3 (a restart): the state saved in chunks as the daemon
 * saves it, then loaded into a fresh view; saved bytes and both times.
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

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* One table's rows: values point into the file's bytes (kept loaded). */
typedef struct table_rows {
    char *text;
    size_t count;
    tf_value *values; /* count * schema.count */
} table_rows;

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

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

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

static void load_table(const char *dir, int t, table_rows *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tsv", dir, schema[t].name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench-view: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->text = malloc((size_t)size + 1);
    if (fread(out->text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "bench-view: short read of %s\n", path);
        exit(1);
    }
    fclose(f);
    out->text[size] = '\0';
    size_t lines = 0;
    for (long i = 0; i < size; i++)
        lines += out->text[i] == '\n';
    size_t ncols = schema[t].count;
    out->values = calloc(lines * ncols + 1, sizeof *out->values);
    out->count = 0;
    char *p = out->text;
    while (*p) {
        char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        tf_value *row = &out->values[out->count * ncols];
        char *cell = p;
        for (size_t c = 0; c < ncols; c++) {
            char *end = c + 1 < ncols ? memchr(cell, '\t', (size_t)(eol - cell)) : eol;
            if (!end)
                end = eol;
            parse_cell(schema[t].cols[c].kind, cell, (size_t)(end - cell), &row[c]);
            cell = end < eol ? end + 1 : eol;
        }
        out->count++;
        p = *eol ? eol + 1 : eol;
    }
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

/* The saved state's chunks, kept in memory. */
typedef struct saved_state {
    size_t count, bytes;
    uint8_t **data;
    size_t *len;
} saved_state;

static bool keep_chunk(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    saved_state *s = arg;
    s->data = realloc(s->data, (s->count + 1) * sizeof *s->data);
    s->len = realloc(s->len, (s->count + 1) * sizeof *s->len);
    s->data[s->count] = malloc(len);
    if (!s->data || !s->len || !s->data[s->count])
        return false;
    memcpy(s->data[s->count], data, len);
    s->len[s->count++] = len;
    s->bytes += len;
    return true;
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

static int usage(void)
{
    fprintf(stderr, "usage: bench-view --tsv DIR --flow FILE [--changes N] [--seed N] "
                    "[--fanout recompute|array-filters|positional] [--digest]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *flow = NULL;
    uint64_t target_changes = 1000000, seed = 42;
    tf_view_fanout fanout = TF_VIEW_FANOUT_RECOMPUTE;
    bool digest = false;
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
        else
            return usage();
    }
    if (!dir || !flow)
        return usage();
    tf_error err = {0};
    tf_flow_spec *spec;
    if (tf_flow_parse_file(flow, &spec, &err) != TF_OK)
        die("flow", &err);
    table_rows rows[T_COUNT];
    size_t total_rows = 0;
    for (int t = 0; t < T_COUNT; t++) {
        load_table(dir, t, &rows[t]);
        total_rows += rows[t].count;
    }
    long rss0 = rss_kb();
    bench b = {0};
    b.view = tf_view_new(spec);
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

    /* Phase 1: the snapshot's rows, then every document once. */
    double t0 = now_s();
    for (int t = 0; t < T_COUNT; t++)
        for (size_t r = 0; r < rows[t].count; r++)
            apply(&b, t, TF_VIEW_INSERT, NULL, &rows[t].values[r * schema[t].count]);
    double t1 = now_s();
    flush(&b);
    double t2 = now_s();
    long rss1 = rss_kb();
    tf_view_stats st;
    tf_view_get_stats(b.view, &st);
    printf("rows=%zu\n", total_rows);
    uint64_t load_docs = b.ops_total;
    printf("load_apply_s=%.3f\nload_flush_s=%.3f\nload_docs=%" PRIu64 "\n", t1 - t0, t2 - t1,
           load_docs);
    printf("load_rows_per_s=%.0f\n", (double)total_rows / (t2 - t0));
    double rss_per_row = (double)(rss1 - rss0) * 1024.0 / (double)total_rows;
    double engine_per_row = (double)st.memory_bytes / (double)st.row_count;
    printf("rss_delta_bytes_per_row=%.0f\n", rss_per_row);
    printf("engine_bytes_per_row=%.0f\n", engine_per_row);
    printf("state_rows=%zu\n", st.row_count);

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
    const size_t no = schema[T_ORDERS].count, ni = schema[T_ITEMS].count,
                 np = schema[T_PAYMENTS].count, nc = schema[T_CUSTOMERS].count,
                 npr = schema[T_PRODUCTS].count, ns = schema[T_SELLERS].count;
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
            memcpy(cust, &rows[T_CUSTOMERS].values[pick(&rs, rows[T_CUSTOMERS].count) * nc],
                   sizeof cust);
            cust[0] = str_value(cid);
            apply(&b, T_CUSTOMERS, TF_VIEW_INSERT, NULL, cust);
            memcpy(ord, &rows[T_ORDERS].values[pick(&rs, rows[T_ORDERS].count) * no], sizeof ord);
            ord[0] = str_value(oid);
            ord[1] = str_value(cid);
            ord[2] = str_value("created");
            apply(&b, T_ORDERS, TF_VIEW_INSERT, NULL, ord);
            unsigned items = 1 + (rnd(&rs) % 100 < 10) + (rnd(&rs) % 100 < 3);
            for (unsigned i = 1; i <= items; i++) {
                tf_value it[7];
                memcpy(it, &rows[T_ITEMS].values[pick(&rs, rows[T_ITEMS].count) * ni], sizeof it);
                it[0] = str_value(oid);
                it[1].kind = TF_VAL_INT;
                it[1].i = i;
                apply(&b, T_ITEMS, TF_VIEW_INSERT, NULL, it);
            }
            unsigned pays = 1 + (rnd(&rs) % 100 < 4);
            for (unsigned i = 1; i <= pays; i++) {
                tf_value p[5];
                memcpy(p, &rows[T_PAYMENTS].values[pick(&rs, rows[T_PAYMENTS].count) * np],
                       sizeof p);
                p[0] = str_value(oid);
                p[1].kind = TF_VAL_INT;
                p[1].i = i;
                apply(&b, T_PAYMENTS, TF_VIEW_INSERT, NULL, p);
            }
            break;
        }
        case K_STATUS: {
            tf_value *row = &rows[T_ORDERS].values[pick(&rs, rows[T_ORDERS].count) * no];
            tf_value after[8];
            memcpy(after, row, sizeof after);
            after[2] = str_value(statuses[pick(&rs, 6)]);
            apply(&b, T_ORDERS, TF_VIEW_UPDATE, row, after);
            row[2] = after[2]; /* static strings: stays valid */
            break;
        }
        case K_PAYMENT: {
            tf_value *row = &rows[T_PAYMENTS].values[pick(&rs, rows[T_PAYMENTS].count) * np];
            tf_value after[5];
            memcpy(after, row, sizeof after);
            snprintf(after[4].decimal.text, sizeof after[4].decimal.text, "%u.%02u",
                     (unsigned)pick(&rs, 500), (unsigned)pick(&rs, 100));
            after[3].kind = TF_VAL_INT;
            after[3].i = 1 + (int64_t)pick(&rs, 10);
            apply(&b, T_PAYMENTS, TF_VIEW_UPDATE, row, after);
            memcpy(row, after, sizeof after);
            break;
        }
        case K_CUSTOMER: {
            tf_value *row = &rows[T_CUSTOMERS].values[pick(&rs, rows[T_CUSTOMERS].count) * nc];
            tf_value after[5];
            memcpy(after, row, sizeof after);
            after[3] = str_value(cities[pick(&rs, 6)]);
            apply(&b, T_CUSTOMERS, TF_VIEW_UPDATE, row, after);
            row[3] = after[3];
            break;
        }
        case K_PRODUCT: {
            tf_value *row = &rows[T_PRODUCTS].values[pick(&rs, rows[T_PRODUCTS].count) * npr];
            tf_value after[6];
            memcpy(after, row, sizeof after);
            after[2].kind = TF_VAL_INT;
            after[2].i = 100 + (int64_t)pick(&rs, 5000);
            apply(&b, T_PRODUCTS, TF_VIEW_UPDATE, row, after);
            row[2] = after[2];
            break;
        }
        default: {
            tf_value *row = &rows[T_SELLERS].values[pick(&rs, rows[T_SELLERS].count) * ns];
            tf_value after[4];
            memcpy(after, row, sizeof after);
            after[2] = str_value(cities[pick(&rs, 6)]);
            apply(&b, T_SELLERS, TF_VIEW_UPDATE, row, after);
            row[2] = after[2];
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

    /* Phase 3: resume. The state saved as the daemon saves it (chunks
     * under 16 MB), then loaded into a fresh view of the same flow. */
    saved_state saved = {0};
    double save0 = now_s();
    if (tf_view_save(b.view, 16u << 20, keep_chunk, &saved, &err) != TF_OK)
        die("save", &err);
    double save1 = now_s();
    tf_view *resumed = tf_view_new(spec);
    double load0 = now_s();
    for (size_t c = 0; c < saved.count; c++)
        if (tf_view_load_chunk(resumed, saved.data[c], saved.len[c], &err) != TF_OK)
            die("load", &err);
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
    for (size_t c = 0; c < saved.count; c++)
        free(saved.data[c]);
    free(saved.data);
    free(saved.len);
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
    for (int t = 0; t < T_COUNT; t++) {
        free(rows[t].text);
        free(rows[t].values);
    }
    return 0;
}
