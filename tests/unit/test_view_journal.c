/* test_view_journal.c — the change journal (view/journal.c) and resuming a
 * view from saved state plus journal chunks.
 *
 * Encoding: every tf_value kind, with its edge values, survives a round
 * trip exactly; chunks are cut at change boundaries under the size limit;
 * every malformed chunk (bad magic, unknown kinds, out-of-range indexes,
 * overlong varints, trailing bytes, and the chunk cut at every offset) is
 * refused with a message naming the offset. Resume: a view loaded from
 * tf_view_save chunks taken mid-stream, then fed the journal chunks of the
 * changes after them, holds exactly the rows of the view that saw every
 * change, and computes exactly the same documents; so does one loaded from
 * version 1 chunks (rows saved as documents, before packed rows). */
#include "support.h"

#include "view.h"
#include "view_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- collecting chunks and decoded changes ---- */

typedef struct chunk_list {
    size_t count;
    uint8_t **data;
    size_t *len;
} chunk_list;

static bool collect_chunk(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    chunk_list *l = arg;
    l->data = realloc(l->data, (l->count + 1) * sizeof *l->data);
    l->len = realloc(l->len, (l->count + 1) * sizeof *l->len);
    l->data[l->count] = malloc(len);
    memcpy(l->data[l->count], data, len);
    l->len[l->count++] = len;
    return true;
}

static void chunk_list_free(chunk_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->data[i]);
    free(l->data);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* Decoded changes, values deep-copied (bytes into owned buffers). */
typedef struct decoded_change {
    char table[64];
    tf_view_change_kind kind;
    size_t columns;
    tf_value before[24], after[24];
    uint8_t *owned[32];
    size_t owned_count;
} decoded_change;

typedef struct decoded {
    size_t count;
    decoded_change changes[256];
} decoded;

static void copy_image(decoded_change *c, tf_value *dst, const tf_value *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
        switch (src[i].kind) {
        case TF_VAL_STRING:
        case TF_VAL_BYTES:
        case TF_VAL_JSON:
        case TF_VAL_GEOMETRY:
        case TF_VAL_VECTOR:
        case TF_VAL_JSON_DIFF: {
            uint8_t *copy = malloc(src[i].bytes.len + 1);
            memcpy(copy, src[i].bytes.ptr, src[i].bytes.len);
            c->owned[c->owned_count++] = copy;
            dst[i].bytes.ptr = copy;
            break;
        }
        default: break;
        }
    }
}

static bool collect_change(const char *table, tf_view_change_kind kind, const tf_value *before,
                           const tf_value *after, size_t column_count, void *arg, tf_error *err)
{
    (void)err;
    decoded *d = arg;
    assert_true(d->count < 256);
    assert_true(column_count <= 24);
    decoded_change *c = &d->changes[d->count++];
    memset(c, 0, sizeof *c);
    snprintf(c->table, sizeof c->table, "%s", table);
    c->kind = kind;
    c->columns = column_count;
    if (before)
        copy_image(c, c->before, before, column_count);
    if (after)
        copy_image(c, c->after, after, column_count);
    return true;
}

static void decoded_free(decoded *d)
{
    for (size_t i = 0; i < d->count; i++)
        for (size_t k = 0; k < d->changes[i].owned_count; k++)
            free(d->changes[i].owned[k]);
    d->count = 0;
}

/* ---- one value of every kind ---- */

static const uint8_t some_bytes[] = {0x00, 0xff, 0x10, 0x00, 0x7f};

static size_t every_kind(tf_value *v)
{
    size_t n = 0;
    memset(v, 0, 24 * sizeof *v);
    v[n++].kind = TF_VAL_NULL;
    v[n++].kind = TF_VAL_ABSENT;
    v[n].kind = TF_VAL_INT, v[n++].i = INT64_MIN;
    v[n].kind = TF_VAL_INT, v[n++].i = -1;
    v[n].kind = TF_VAL_UINT, v[n++].u = UINT64_MAX;
    v[n].kind = TF_VAL_FLOAT, v[n++].f = -0.0f;
    v[n].kind = TF_VAL_DOUBLE, v[n++].d = 1.0 / 3.0;
    v[n].kind = TF_VAL_DECIMAL;
    snprintf(v[n].decimal.text, sizeof v[n].decimal.text, "-123.450");
    v[n].decimal.precision = 10, v[n++].decimal.scale = 3;
    v[n].kind = TF_VAL_STRING, v[n].bytes.ptr = (const uint8_t *)"", v[n++].bytes.len = 0;
    v[n].kind = TF_VAL_BYTES, v[n].bytes.ptr = some_bytes, v[n++].bytes.len = sizeof some_bytes;
    v[n].kind = TF_VAL_DATE;
    v[n++].temporal = (tf_temporal){.year = 0, .month = 0, .day = 0};
    v[n].kind = TF_VAL_DATETIME;
    v[n++].temporal = (tf_temporal){.year = 9999,
                                    .month = 12,
                                    .day = 31,
                                    .hour = 23,
                                    .minute = 59,
                                    .second = 59,
                                    .microsecond = 999999,
                                    .fsp = 6};
    v[n].kind = TF_VAL_TIMESTAMP;
    v[n].timestamp.seconds = -1, v[n].timestamp.microsecond = 5, v[n++].timestamp.fsp = 3;
    v[n].kind = TF_VAL_TIME;
    v[n++].temporal = (tf_temporal){
        .hour = 838, .minute = 59, .second = 58, .microsecond = 1, .negative = true, .fsp = 1};
    v[n].kind = TF_VAL_YEAR, v[n++].i = 2155;
    v[n].kind = TF_VAL_BIT, v[n].u = UINT64_MAX, v[n++].bit_width = 64;
    v[n].kind = TF_VAL_ENUM, v[n++].u = 3;
    v[n].kind = TF_VAL_SET, v[n++].u = 0x8000000000000001ull;
    v[n].kind = TF_VAL_JSON, v[n].bytes.ptr = some_bytes, v[n++].bytes.len = 2;
    v[n].kind = TF_VAL_GEOMETRY, v[n].bytes.ptr = some_bytes, v[n++].bytes.len = 5;
    v[n].kind = TF_VAL_VECTOR, v[n].bytes.ptr = some_bytes + 1, v[n++].bytes.len = 4;
    v[n].kind = TF_VAL_JSON_DIFF, v[n].bytes.ptr = some_bytes, v[n++].bytes.len = 1;
    return n;
}

static void assert_value_equal(const tf_value *a, const tf_value *b)
{
    assert_int_equal(a->kind, b->kind);
    switch (a->kind) {
    case TF_VAL_NULL:
    case TF_VAL_ABSENT: break;
    case TF_VAL_INT:
    case TF_VAL_YEAR: assert_true(a->i == b->i); break;
    case TF_VAL_UINT:
    case TF_VAL_ENUM:
    case TF_VAL_SET: assert_true(a->u == b->u); break;
    case TF_VAL_BIT:
        assert_true(a->u == b->u);
        assert_int_equal(a->bit_width, b->bit_width);
        break;
    case TF_VAL_FLOAT: assert_memory_equal(&a->f, &b->f, sizeof a->f); break;
    case TF_VAL_DOUBLE: assert_memory_equal(&a->d, &b->d, sizeof a->d); break;
    case TF_VAL_DECIMAL:
        assert_string_equal(a->decimal.text, b->decimal.text);
        assert_int_equal(a->decimal.precision, b->decimal.precision);
        assert_int_equal(a->decimal.scale, b->decimal.scale);
        break;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
    case TF_VAL_TIME:
        assert_int_equal(a->temporal.year, b->temporal.year);
        assert_int_equal(a->temporal.month, b->temporal.month);
        assert_int_equal(a->temporal.day, b->temporal.day);
        assert_int_equal(a->temporal.hour, b->temporal.hour);
        assert_int_equal(a->temporal.minute, b->temporal.minute);
        assert_int_equal(a->temporal.second, b->temporal.second);
        assert_int_equal(a->temporal.microsecond, b->temporal.microsecond);
        assert_int_equal(a->temporal.negative, b->temporal.negative);
        assert_int_equal(a->temporal.fsp, b->temporal.fsp);
        break;
    case TF_VAL_TIMESTAMP:
        assert_true(a->timestamp.seconds == b->timestamp.seconds);
        assert_int_equal(a->timestamp.microsecond, b->timestamp.microsecond);
        assert_int_equal(a->timestamp.fsp, b->timestamp.fsp);
        break;
    default:
        assert_int_equal(a->bytes.len, b->bytes.len);
        if (a->bytes.len)
            assert_memory_equal(a->bytes.ptr, b->bytes.ptr, a->bytes.len);
        break;
    }
}

/* A journal of three changes over every kind: insert, update, delete. */
static tf_view_journal *sample_journal(tf_value *values, size_t *n)
{
    *n = every_kind(values);
    tf_value reversed[24];
    for (size_t i = 0; i < *n; i++)
        reversed[i] = values[*n - 1 - i];
    tf_view_journal *j = tf_view_journal_new();
    tf_view_journal_add(j, "t_one", TF_VIEW_INSERT, NULL, values, *n);
    tf_view_journal_add(j, "t_two", TF_VIEW_UPDATE, values, reversed, *n);
    tf_view_journal_add(j, "t_one", TF_VIEW_DELETE, reversed, NULL, *n);
    return j;
}

static void save_one_chunk(const tf_view_journal *j, chunk_list *chunks)
{
    tf_error err = {0};
    if (tf_view_journal_save(j, 1 << 20, collect_chunk, chunks, &err) != TF_OK)
        fail_msg("%s", err.message);
    assert_int_equal(chunks->count, 1);
}

static void test_every_value_kind_round_trips(void **state)
{
    (void)state;
    tf_value values[24];
    size_t n;
    tf_view_journal *j = sample_journal(values, &n);
    assert_int_equal(n, 22); /* every kind, two of INT */
    assert_int_equal(tf_view_journal_changes(j), 3);
    chunk_list chunks = {0};
    save_one_chunk(j, &chunks);
    assert_int_equal(tf_view_journal_bytes(j) + 4 + 1 + 6 + 6 + 1, chunks.len[0]);
    static decoded d;
    tf_error err = {0};
    if (tf_view_journal_decode(chunks.data[0], chunks.len[0], collect_change, &d, &err) != TF_OK)
        fail_msg("%s", err.message);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.changes[0].table, "t_one");
    assert_string_equal(d.changes[1].table, "t_two");
    assert_string_equal(d.changes[2].table, "t_one");
    assert_int_equal(d.changes[0].kind, TF_VIEW_INSERT);
    assert_int_equal(d.changes[1].kind, TF_VIEW_UPDATE);
    assert_int_equal(d.changes[2].kind, TF_VIEW_DELETE);
    for (size_t c = 0; c < 3; c++)
        assert_int_equal(d.changes[c].columns, n);
    for (size_t i = 0; i < n; i++) {
        assert_value_equal(&values[i], &d.changes[0].after[i]);
        assert_value_equal(&values[i], &d.changes[1].before[i]);
        assert_value_equal(&values[n - 1 - i], &d.changes[1].after[i]);
        assert_value_equal(&values[n - 1 - i], &d.changes[2].before[i]);
    }
    assert_true(signbit(d.changes[0].after[5].f));
    decoded_free(&d);
    tf_view_journal_clear(j);
    assert_int_equal(tf_view_journal_changes(j), 0);
    assert_int_equal(tf_view_journal_bytes(j), 0);
    chunk_list none = {0};
    assert_int_equal(tf_view_journal_save(j, 1 << 20, collect_chunk, &none, &err), TF_OK);
    assert_int_equal(none.count, 0);
    chunk_list_free(&chunks);
    tf_view_journal_destroy(j);
}

static void test_chunks_cut_at_change_boundaries(void **state)
{
    (void)state;
    tf_view_journal *j = tf_view_journal_new();
    char text[32];
    for (int i = 0; i < 200; i++) {
        tf_value v[2] = {{.kind = TF_VAL_INT, .i = i}, {.kind = TF_VAL_STRING}};
        snprintf(text, sizeof text, "row %d", i);
        v[1].bytes.ptr = (const uint8_t *)text;
        v[1].bytes.len = strlen(text);
        tf_view_journal_add(j, i % 2 ? "odd" : "even", TF_VIEW_INSERT, NULL, v, 2);
    }
    chunk_list chunks = {0};
    tf_error err = {0};
    if (tf_view_journal_save(j, 300, collect_chunk, &chunks, &err) != TF_OK)
        fail_msg("%s", err.message);
    assert_true(chunks.count > 5);
    static decoded d;
    int next = 0;
    for (size_t c = 0; c < chunks.count; c++) {
        assert_true(chunks.len[c] < 300);
        if (tf_view_journal_decode(chunks.data[c], chunks.len[c], collect_change, &d, &err) !=
            TF_OK)
            fail_msg("chunk %zu: %s", c, err.message);
        for (size_t i = 0; i < d.count; i++, next++) {
            assert_string_equal(d.changes[i].table, next % 2 ? "odd" : "even");
            assert_true(d.changes[i].after[0].i == next);
        }
        decoded_free(&d);
    }
    assert_int_equal(next, 200);
    chunk_list_free(&chunks);

    /* One change larger than a chunk cannot be saved. */
    assert_int_equal(tf_view_journal_save(j, 20, collect_chunk, &chunks, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "does not fit in a 20-byte chunk"));
    assert_int_equal(chunks.count, 0);
    tf_view_journal_destroy(j);
}

static void assert_refused(const uint8_t *data, size_t len, const char *expected)
{
    tf_error err = {0};
    static decoded d;
    assert_int_equal(tf_view_journal_decode(data, len, collect_change, &d, &err), TF_MALFORMED);
    decoded_free(&d);
    assert_int_equal(err.domain, TF_ERR_PROTOCOL);
    if (!strstr(err.message, expected))
        fail_msg("expected \"%s\" in \"%s\"", expected, err.message);
}

static void test_truncated_chunks_are_refused_at_every_offset(void **state)
{
    (void)state;
    tf_value values[24];
    size_t n;
    tf_view_journal *j = sample_journal(values, &n);
    chunk_list chunks = {0};
    save_one_chunk(j, &chunks);
    for (size_t len = 0; len < chunks.len[0]; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact length: ASan sees any overread */
        memcpy(copy, chunks.data[0], len);
        assert_refused(copy, len, "change journal chunk: ");
        free(copy);
    }
    /* And one byte too many. */
    uint8_t *longer = malloc(chunks.len[0] + 1);
    memcpy(longer, chunks.data[0], chunks.len[0]);
    longer[chunks.len[0]] = 0;
    assert_refused(longer, chunks.len[0] + 1, "bytes after the last change at offset");
    free(longer);
    chunk_list_free(&chunks);
    tf_view_journal_destroy(j);
}

static void test_malformed_chunks_name_what_and_where(void **state)
{
    (void)state;
    /* magic, 1 table "t", 1 change: table 0, INSERT, 1 column, INT 1 */
    const uint8_t good[] = {'T', 'F', 'J', '1', 1, 1, 't', 1, 0, 0, 1, TF_VAL_INT, 2};
    static decoded d;
    tf_error err = {0};
    assert_int_equal(tf_view_journal_decode(good, sizeof good, collect_change, &d, &err), TF_OK);
    assert_int_equal(d.count, 1);
    assert_true(d.changes[0].after[0].i == 1);
    decoded_free(&d);
    uint8_t bad[sizeof good];

    memcpy(bad, good, sizeof good);
    bad[3] = '2';
    assert_refused(bad, sizeof bad, "does not start with \"TFJ1\"");

    memcpy(bad, good, sizeof good);
    bad[8] = 1; /* table index 1 of 1 table */
    assert_refused(bad, sizeof bad, "table index 1 over 0 at offset 8");

    memcpy(bad, good, sizeof good);
    bad[9] = 3; /* change kind */
    assert_refused(bad, sizeof bad, "unknown change kind at offset 9");

    memcpy(bad, good, sizeof good);
    bad[10] = 0; /* no columns */
    assert_refused(bad, sizeof bad, "row image without columns");

    memcpy(bad, good, sizeof good);
    bad[11] = 99; /* value kind */
    assert_refused(bad, sizeof bad, "unknown value kind at offset 11");

    memcpy(bad, good, sizeof good);
    bad[6] = 0; /* a NUL in the table name */
    assert_refused(bad, sizeof bad, "empty table name or one holding a NUL");

    /* A column count over MySQL's 4096 (two-byte varint 4097). */
    const uint8_t wide[] = {'T', 'F', 'J', '1', 1, 1, 't', 1, 0, 0, 0x81, 0x20, TF_VAL_NULL};
    assert_refused(wide, sizeof wide, "column count 4097 over 4096 at offset 10");

    /* An integer varint of eleven bytes. */
    const uint8_t overlong[] = {'T',  'F',  'J',  '1',        1,    1,    't',  1,
                                0,    0,    1,    TF_VAL_INT, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff,       0xff, 0xff, 0x01};
    assert_refused(overlong, sizeof overlong, "varint over 64 bits");

    /* A byte value longer than what is left. */
    const uint8_t past[] = {'T', 'F', 'J', '1', 1, 1, 't', 1, 0, 0, 1, TF_VAL_STRING, 9, 'a'};
    assert_refused(past, sizeof past, "truncated byte value at offset 13");

    /* A temporal sign that is not a boolean. */
    const uint8_t sign[] = {'T',         'F', 'J', '1', 1, 1, 't', 1, 0, 0, 1,
                            TF_VAL_TIME, 0,   0,   0,   1, 2, 3,   0, 7, 0};
    assert_refused(sign, sizeof sign, "temporal sign byte is neither 0 nor 1");
}

/* ---- resume: saved state + journal = the view that saw everything ---- */

enum {
    T_ORDERS,
    T_CUSTOMERS,
    T_PAYMENTS,
    T_ITEMS,
    T_PRODUCTS,
    T_SELLERS,
    T_COUNT
};

typedef struct table_def {
    const char *name;
    size_t count;
    const char *cols[9];
    char kinds[10]; /* s string, i int, d decimal, t datetime; upper case: pk */
} table_def;

static const table_def schema[T_COUNT] = {
    [T_ORDERS] = {"ecom_orders",
                  8,
                  {"order_id", "customer_id", "order_status", "order_purchase_timestamp",
                   "order_approved_at", "order_delivered_carrier_date",
                   "order_delivered_customer_date", "order_estimated_delivery_date"},
                  "Sssttttt"},
    [T_CUSTOMERS] = {"ecom_customers",
                     5,
                     {"customer_id", "customer_unique_id", "customer_zip_code_prefix",
                      "customer_city", "customer_state"},
                     "Sssss"},
    [T_PAYMENTS] = {"ecom_order_payments",
                    5,
                    {"order_id", "payment_sequential", "payment_type", "payment_installments",
                     "payment_value"},
                    "SIsid"},
    [T_ITEMS] = {"ecom_order_items",
                 7,
                 {"order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date",
                  "price", "freight_value"},
                 "SIsstdd"},
    [T_PRODUCTS] = {"ecom_products",
                    9,
                    {"product_id", "product_category_name", "product_name_lenght",
                     "product_description_lenght", "product_photos_qty", "product_weight_g",
                     "product_length_cm", "product_height_cm", "product_width_cm"},
                    "Ssiiiiiii"},
    [T_SELLERS] = {"ecom_sellers",
                   4,
                   {"seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"},
                   "Ssss"},
};

static char kind_of(int t, size_t c) { return schema[t].kinds[c]; }

static void define_tables(tf_view *view)
{
    tf_error err = {0};
    for (int t = 0; t < T_COUNT; t++) {
        tf_column cols[9];
        for (size_t i = 0; i < schema[t].count; i++) {
            char k = kind_of(t, i);
            memset(&cols[i], 0, sizeof cols[i]);
            cols[i].is_primary_key = k >= 'A' && k <= 'Z';
            cols[i].nullable = !cols[i].is_primary_key;
            switch (k | 0x20) {
            case 's': cols[i].type = TF_TYPE_VARCHAR, cols[i].meta = 200; break;
            case 'i': cols[i].type = TF_TYPE_LONG; break;
            case 'd': cols[i].type = TF_TYPE_NEWDECIMAL, cols[i].meta = (10 << 8) | 2; break;
            default: cols[i].type = TF_TYPE_DATETIME2; break;
            }
            cols[i].charset = cols[i].type == TF_TYPE_VARCHAR ? 45 : 63;
            cols[i].name.ptr = schema[t].cols[i];
            cols[i].name.len = strlen(schema[t].cols[i]);
        }
        if (tf_view_define_table(view, schema[t].name, cols, schema[t].count, NULL, 0, &err) !=
            TF_OK)
            fail_msg("%s", err.message);
    }
}

/* A model row: its values, with the text of string cells kept beside. */
typedef struct model_row {
    bool present;
    tf_value v[9];
    char text[9][24];
} model_row;

#define KEYS 24 /* rows per table the generator addresses */

typedef struct model {
    model_row rows[T_COUNT][KEYS];
    uint64_t rng;
} model;

static unsigned rnd(model *m, unsigned below)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (unsigned)(m->rng % below);
}

static void set_string(model_row *r, size_t c, const char *prefix, unsigned n)
{
    snprintf(r->text[c], sizeof r->text[c], "%s%u", prefix, n);
    r->v[c].kind = TF_VAL_STRING;
    r->v[c].bytes.ptr = (const uint8_t *)r->text[c];
    r->v[c].bytes.len = strlen(r->text[c]);
}

/* Key k of table t, and random other cells; references point into small
 * pools so that joins, fan-out and re-parenting happen often. */
static void fill_row(model *m, int t, unsigned k, model_row *r)
{
    memset(r, 0, sizeof *r);
    r->present = true;
    for (size_t c = 0; c < schema[t].count; c++) {
        const char *col = schema[t].cols[c];
        char kind = kind_of(t, c);
        tf_value *v = &r->v[c];
        if (kind != 'S' && kind != 'I' && rnd(m, 10) == 0) {
            v->kind = TF_VAL_NULL;
        } else if (kind == 'S') {
            /* payments and items: order key k / 3, sequence k % 3 */
            unsigned key = t == T_PAYMENTS || t == T_ITEMS ? k / 3 : k;
            set_string(r, c,
                       t == T_CUSTOMERS  ? "C"
                       : t == T_PRODUCTS ? "P"
                       : t == T_SELLERS  ? "S"
                                         : "O",
                       key);
        } else if (kind == 'I') {
            v->kind = TF_VAL_INT, v->i = (int64_t)(k % 3) + 1;
        } else if (strcmp(col, "customer_id") == 0) {
            set_string(r, c, "C", rnd(m, KEYS));
        } else if (strcmp(col, "product_id") == 0) {
            set_string(r, c, "P", rnd(m, KEYS));
        } else if (strcmp(col, "seller_id") == 0) {
            set_string(r, c, "S", rnd(m, KEYS));
        } else if (kind == 's') {
            set_string(r, c, "x", rnd(m, 1000));
        } else if (kind == 'i') {
            v->kind = TF_VAL_INT, v->i = (int64_t)rnd(m, 100000) - 500;
        } else if (kind == 'd') {
            v->kind = TF_VAL_DECIMAL;
            snprintf(v->decimal.text, sizeof v->decimal.text, "%u.%02u", rnd(m, 1000), rnd(m, 100));
            v->decimal.precision = 10, v->decimal.scale = 2;
        } else {
            v->kind = TF_VAL_DATETIME;
            v->temporal = (tf_temporal){.year = 2017 + (int32_t)rnd(m, 3),
                                        .month = (uint8_t)(1 + rnd(m, 12)),
                                        .day = (uint8_t)(1 + rnd(m, 28)),
                                        .hour = rnd(m, 24),
                                        .second = (uint8_t)rnd(m, 60)};
        }
    }
}

/* Copies a model row so that its string values point at the copy. */
static void copy_row(model_row *dst, const model_row *src)
{
    *dst = *src;
    for (size_t c = 0; c < 9; c++)
        if (dst->v[c].kind == TF_VAL_STRING)
            dst->v[c].bytes.ptr = (const uint8_t *)dst->text[c];
}

static void model_copy(model *dst, const model *src)
{
    dst->rng = src->rng;
    for (int t = 0; t < T_COUNT; t++)
        for (unsigned k = 0; k < KEYS; k++)
            copy_row(&dst->rows[t][k], &src->rows[t][k]);
}

static void apply_both(tf_view *view, tf_view_journal *journal, int t, tf_view_change_kind kind,
                       const model_row *before, const model_row *after)
{
    tf_error err = {0};
    const tf_value *b = before ? before->v : NULL, *a = after ? after->v : NULL;
    if (tf_view_apply(view, schema[t].name, kind, b, a, &err) != TF_OK)
        fail_msg("%s", err.message);
    if (journal)
        tf_view_journal_add(journal, schema[t].name, kind, b, a, schema[t].count);
}

/* One random change: insert a missing key, or update (sometimes moving the
 * row to another key) or delete a held one. */
static void random_change(model *m, tf_view *view, tf_view_journal *journal)
{
    int t = (int)rnd(m, T_COUNT);
    unsigned k = rnd(m, KEYS);
    model_row *held = &m->rows[t][k];
    model_row next;
    if (!held->present) {
        fill_row(m, t, k, &next);
        apply_both(view, journal, t, TF_VIEW_INSERT, NULL, &next);
        copy_row(held, &next);
        return;
    }
    unsigned what = rnd(m, 10);
    if (what < 3) {
        apply_both(view, journal, t, TF_VIEW_DELETE, held, NULL);
        held->present = false;
        return;
    }
    unsigned to = what == 3 ? rnd(m, KEYS) : k;
    if (to != k && m->rows[t][to].present)
        to = k;
    fill_row(m, t, to, &next);
    apply_both(view, journal, t, TF_VIEW_UPDATE, held, &next);
    held->present = false;
    copy_row(&m->rows[t][to], &next);
}

static tf_view *new_view(const tf_flow_spec *spec, bool define)
{
    tf_view *view = tf_view_new(spec);
    if (define)
        define_tables(view);
    return view;
}

static void flush_discard(tf_view *view)
{
    tf_view_ops ops;
    tf_view_ops_init(&ops);
    tf_error err = {0};
    if (tf_view_flush(view, &ops, &err) != TF_OK)
        fail_msg("%s", err.message);
    tf_view_ops_cleanup(&ops);
}

/* Every row of a saved state as "table|pk|doc|keys" hex lines, sorted: the
 * state itself, independent of hash order. */
typedef struct row_lines {
    size_t count;
    char **lines;
} row_lines;

static int compare_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool save_rows(const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    row_lines *out = arg;
    bson_t chunk;
    bson_iter_t it, rows;
    assert_true(bson_init_static(&chunk, data, len));
    assert_true(bson_iter_init_find(&it, &chunk, "table"));
    const char *table = bson_iter_utf8(&it, NULL);
    assert_true(bson_iter_init_find(&it, &chunk, "rows") && bson_iter_recurse(&it, &rows));
    while (bson_iter_next(&rows)) {
        bson_t row;
        uint32_t row_len;
        const uint8_t *row_data;
        bson_iter_document(&rows, &row_len, &row_data);
        assert_true(bson_init_static(&row, row_data, row_len));
        char *json = bson_as_canonical_extended_json(&row, NULL);
        out->lines = realloc(out->lines, (out->count + 1) * sizeof *out->lines);
        out->lines[out->count++] = bson_strdup_printf("%s|%s", table, json);
        bson_free(json);
    }
    return true;
}

static row_lines state_of(const tf_view *view)
{
    row_lines out = {0};
    tf_error err = {0};
    if (tf_view_save(view, 1 << 20, save_rows, &out, &err) != TF_OK)
        fail_msg("%s", err.message);
    qsort(out.lines, out.count, sizeof *out.lines, compare_lines);
    return out;
}

static void row_lines_free(row_lines *l)
{
    for (size_t i = 0; i < l->count; i++)
        bson_free(l->lines[i]);
    free(l->lines);
}

/* The documents of every held order, through a no-op update of each root
 * row (which marks its document), as "op" text lines in flush order. */
static char *documents_of(tf_view *view, const model *m)
{
    for (unsigned k = 0; k < KEYS; k++)
        if (m->rows[T_ORDERS][k].present)
            apply_both(view, NULL, T_ORDERS, TF_VIEW_UPDATE, &m->rows[T_ORDERS][k],
                       &m->rows[T_ORDERS][k]);
    tf_view_ops ops;
    tf_view_ops_init(&ops);
    tf_error err = {0};
    if (tf_view_flush(view, &ops, &err) != TF_OK)
        fail_msg("%s", err.message);
    char *all = bson_strdup("");
    for (size_t i = 0; i < ops.count; i++) {
        char *op = tf_view_op_describe(&ops.ops[i]);
        char *json = ops.ops[i].doc ? bson_as_canonical_extended_json(ops.ops[i].doc, NULL)
                                    : bson_strdup("-");
        char *next = bson_strdup_printf("%s%s %s\n", all, op, json);
        bson_free(all);
        bson_free(op);
        bson_free(json);
        all = next;
    }
    tf_view_ops_cleanup(&ops);
    return all;
}

/* The chunk as version 1 wrote it: each row's values as its document (d)
 * instead of packed bytes, v: 1. */
static void to_version_1(uint8_t **data, size_t *len)
{
    bson_t chunk, out = BSON_INITIALIZER;
    assert_true(bson_init_static(&chunk, *data, *len));
    bson_iter_t it, cols;
    assert_true(bson_iter_init_find(&it, &chunk, "columns") && bson_iter_recurse(&it, &cols));
    tf_column columns[64];
    size_t n = 0;
    while (bson_iter_next(&cols)) {
        bson_iter_t col;
        assert_true(bson_iter_recurse(&cols, &col) && bson_iter_find(&col, "n"));
        uint32_t name_len;
        memset(&columns[n], 0, sizeof columns[n]);
        columns[n].name.ptr = bson_iter_utf8(&col, &name_len);
        columns[n++].name.len = name_len;
    }
    bson_iter_init(&it, &chunk);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "v") == 0) {
            BSON_APPEND_INT32(&out, "v", 1);
        } else if (strcmp(key, "rows") == 0) {
            bson_t rows_out, row_out;
            bson_iter_t rows;
            assert_true(bson_iter_recurse(&it, &rows));
            bson_append_array_begin(&out, "rows", -1, &rows_out);
            while (bson_iter_next(&rows)) {
                bson_iter_t field;
                assert_true(bson_iter_recurse(&rows, &field));
                bson_append_document_begin(&rows_out, bson_iter_key(&rows), -1, &row_out);
                while (bson_iter_next(&field)) {
                    if (strcmp(bson_iter_key(&field), "d") != 0) {
                        bson_append_iter(&row_out, NULL, 0, &field);
                        continue;
                    }
                    uint32_t packed_len;
                    const uint8_t *packed;
                    bson_iter_binary(&field, NULL, &packed_len, &packed);
                    view_buf doc = {0};
                    view_unpack_doc(&doc, packed, packed_len, columns, n);
                    bson_t d;
                    assert_true(bson_init_static(&d, doc.ptr, doc.len));
                    bson_append_document(&row_out, "d", 1, &d);
                    view_buf_cleanup(&doc);
                }
                bson_append_document_end(&rows_out, &row_out);
            }
            bson_append_array_end(&out, &rows_out);
        } else {
            bson_append_iter(&out, NULL, 0, &it);
        }
    }
    free(*data);
    *len = out.len;
    *data = malloc(out.len);
    memcpy(*data, bson_get_data(&out), out.len);
    bson_destroy(&out);
}

/* version_1: the base is loaded as an earlier release saved it. */
static void resume_after(uint64_t seed, int before_save, int after_save, size_t max_chunk,
                         bool version_1)
{
    tf_error err = {0};
    tf_flow_spec *spec;
    if (tf_flow_parse_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &spec, &err) !=
        TF_OK)
        fail_msg("%s", err.message);
    static model m;
    memset(&m, 0, sizeof m);
    m.rng = seed;
    tf_view *live = new_view(spec, true);
    tf_view_journal *journal = tf_view_journal_new();
    for (int i = 0; i < before_save; i++)
        random_change(&m, live, journal);
    flush_discard(live);
    /* The base: the whole state; the journal restarts from it. */
    chunk_list base = {0};
    if (tf_view_save(live, max_chunk, collect_chunk, &base, &err) != TF_OK)
        fail_msg("%s", err.message);
    for (size_t i = 0; i < base.count; i++) {
        assert_true(base.len[i] < max_chunk);
        if (version_1)
            to_version_1(&base.data[i], &base.len[i]);
    }
    tf_view_journal_clear(journal);
    /* Deltas: the journal saved every few changes, as checkpoints do. */
    chunk_list deltas = {0};
    for (int i = 0; i < after_save; i++) {
        random_change(&m, live, journal);
        if (i % 7 == 6 || i == after_save - 1) {
            flush_discard(live);
            if (tf_view_journal_save(journal, max_chunk, collect_chunk, &deltas, &err) != TF_OK)
                fail_msg("%s", err.message);
            tf_view_journal_clear(journal);
        }
    }
    assert_true(deltas.count > (size_t)after_save / 7);

    tf_view *resumed = new_view(spec, false);
    for (size_t i = 0; i < base.count; i++)
        if (tf_view_load_chunk(resumed, base.data[i], base.len[i], &err) != TF_OK)
            fail_msg("base chunk %zu: %s", i, err.message);
    for (size_t i = 0; i < deltas.count; i++)
        if (tf_view_journal_apply(resumed, deltas.data[i], deltas.len[i], &err) != TF_OK)
            fail_msg("delta chunk %zu: %s", i, err.message);
    tf_view_stats stats;
    tf_view_get_stats(resumed, &stats);
    assert_true(stats.pending_count > 0);
    tf_view_discard_pending(resumed);
    tf_view_get_stats(resumed, &stats);
    assert_int_equal(stats.pending_count, 0);

    row_lines want = state_of(live), got = state_of(resumed);
    assert_true(want.count > 20);
    assert_int_equal(want.count, got.count);
    for (size_t i = 0; i < want.count; i++)
        assert_string_equal(want.lines[i], got.lines[i]);
    row_lines_free(&want);
    row_lines_free(&got);

    char *want_docs = documents_of(live, &m), *got_docs = documents_of(resumed, &m);
    assert_true(strlen(want_docs) > 100);
    assert_string_equal(want_docs, got_docs);
    bson_free(want_docs);
    bson_free(got_docs);

    /* And both keep going the same way. */
    tf_view_journal *unused = tf_view_journal_new();
    static model copy;
    model_copy(&copy, &m);
    for (int i = 0; i < 200; i++) {
        random_change(&m, live, NULL);
        random_change(&copy, resumed, unused);
    }
    want_docs = documents_of(live, &m);
    got_docs = documents_of(resumed, &copy);
    assert_string_equal(want_docs, got_docs);
    bson_free(want_docs);
    bson_free(got_docs);

    tf_view_journal_destroy(unused);
    tf_view_journal_destroy(journal);
    chunk_list_free(&base);
    chunk_list_free(&deltas);
    tf_view_destroy(live);
    tf_view_destroy(resumed);
    tf_flow_spec_destroy(spec);
}

static void test_resume_from_base_and_deltas_equals_live_view(void **state)
{
    (void)state;
    resume_after(0x9e3779b97f4a7c15ull, 400, 600, 1 << 20, false);
}

/* A state saved by the release before packed rows (rows as documents)
 * loads into the same view. */
static void test_resume_from_version_1_base(void **state)
{
    (void)state;
    resume_after(0x2545f4914f6cdd1dull, 300, 300, 1 << 20, true);
}

static void test_resume_with_small_chunks(void **state)
{
    (void)state;
    /* Base and deltas cut into many chunks of a few rows each. */
    resume_after(42, 300, 300, 4096, false);
}

static void test_resume_from_empty_base(void **state)
{
    (void)state;
    resume_after(7, 0, 500, 1 << 20, false);
}

static void test_apply_refuses_foreign_changes(void **state)
{
    (void)state;
    tf_error err = {0};
    tf_flow_spec *spec;
    if (tf_flow_parse_file(TF_VECTORS_DIR "/flows/guide_order_single_view.tap", &spec, &err) !=
        TF_OK)
        fail_msg("%s", err.message);
    tf_view *view = new_view(spec, true);
    tf_view_journal *j = tf_view_journal_new();
    tf_value one = {.kind = TF_VAL_INT, .i = 1};
    tf_view_journal_add(j, "ecom_orders", TF_VIEW_INSERT, NULL, &one, 1);
    chunk_list chunks = {0};
    save_one_chunk(j, &chunks);
    assert_int_equal(tf_view_journal_apply(view, chunks.data[0], chunks.len[0], &err),
                     TF_MALFORMED);
    assert_non_null(strstr(err.message, "a change of ecom_orders has 1 columns, the table 8"));
    chunk_list_free(&chunks);
    tf_view_journal_clear(j);
    tf_view_journal_add(j, "other_table", TF_VIEW_INSERT, NULL, &one, 1);
    save_one_chunk(j, &chunks);
    assert_int_equal(tf_view_journal_apply(view, chunks.data[0], chunks.len[0], &err),
                     TF_MALFORMED);
    assert_non_null(strstr(err.message, "table other_table is not defined in the view"));
    chunk_list_free(&chunks);
    tf_view_journal_destroy(j);
    tf_view_destroy(view);
    tf_flow_spec_destroy(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value_kind_round_trips),
        cmocka_unit_test(test_chunks_cut_at_change_boundaries),
        cmocka_unit_test(test_truncated_chunks_are_refused_at_every_offset),
        cmocka_unit_test(test_malformed_chunks_name_what_and_where),
        cmocka_unit_test(test_resume_from_base_and_deltas_equals_live_view),
        cmocka_unit_test(test_resume_with_small_chunks),
        cmocka_unit_test(test_resume_from_version_1_base),
        cmocka_unit_test(test_resume_from_empty_base),
        cmocka_unit_test(test_apply_refuses_foreign_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
