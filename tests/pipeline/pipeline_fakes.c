/* pipeline_fakes.c — see pipeline_fakes.h. */
#include "pipeline_fakes.h"

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tables ---- */

typedef struct fake_col {
    const char *name;
    uint8_t type;
    uint16_t meta;
    bool pk;
} fake_col;

static const struct {
    const char *name;
    size_t count;
    fake_col cols[4];
    size_t pk_count;
    uint32_t pk[2];
} fake_schema[FAKE_TABLES] = {
    [FAKE_ORDERS] = {"orders",
                     3,
                     {{"order_id", TF_TYPE_VARCHAR, 200, true},
                      {"customer_id", TF_TYPE_VARCHAR, 200, false},
                      {"total", TF_TYPE_NEWDECIMAL, (10 << 8) | 2, false}},
                     1,
                     {0}},
    [FAKE_CUSTOMERS] = {"customers",
                        2,
                        {{"customer_id", TF_TYPE_VARCHAR, 200, true},
                         {"name", TF_TYPE_VARCHAR, 200, false}},
                        1,
                        {0}},
    [FAKE_ITEMS] = {"items",
                    3,
                    {{"order_id", TF_TYPE_VARCHAR, 200, true},
                     {"item_id", TF_TYPE_LONG, 0, true},
                     {"sku", TF_TYPE_VARCHAR, 200, false}},
                    2,
                    {0, 1}},
};

static tf_table_map maps[2][FAKE_TABLES];
static tf_column columns[2][FAKE_TABLES][4];
static uint32_t pks[2][FAKE_TABLES][2];

const char *fake_table_name(int table) { return fake_schema[table].name; }

const tf_table_map *fake_table_map_in(int table, const char *db)
{
    int which = db ? 1 : 0;
    tf_table_map *m = &maps[which][table];
    const char *database = db ? db : "shop";
    m->table_id = (uint64_t)(100 + table + which * 10);
    m->database.ptr = database;
    m->database.len = strlen(database);
    m->table.ptr = fake_schema[table].name;
    m->table.len = strlen(fake_schema[table].name);
    m->column_count = (uint32_t)fake_schema[table].count;
    m->columns = columns[which][table];
    for (size_t i = 0; i < fake_schema[table].count; i++) {
        tf_column *c = &m->columns[i];
        memset(c, 0, sizeof *c);
        c->type = fake_schema[table].cols[i].type;
        c->meta = fake_schema[table].cols[i].meta;
        c->is_primary_key = fake_schema[table].cols[i].pk;
        c->nullable = !c->is_primary_key;
        c->charset = 45; /* utf8mb4_general_ci */
        c->name.ptr = fake_schema[table].cols[i].name;
        c->name.len = strlen(fake_schema[table].cols[i].name);
    }
    m->primary_key_count = (uint32_t)fake_schema[table].pk_count;
    m->primary_key = pks[which][table];
    for (size_t k = 0; k < fake_schema[table].pk_count; k++)
        m->primary_key[k] = fake_schema[table].pk[k];
    m->optional_metadata = ~0u;
    return m;
}

const tf_table_map *fake_table_map(int table) { return fake_table_map_in(table, NULL); }

tf_value fake_str(const char *s)
{
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)s;
    v.bytes.len = strlen(s);
    return v;
}

tf_value fake_int(int64_t i)
{
    tf_value v = {.kind = TF_VAL_INT};
    v.i = i;
    return v;
}

tf_value fake_dec(const char *text)
{
    tf_value v = {.kind = TF_VAL_DECIMAL};
    snprintf(v.decimal.text, sizeof v.decimal.text, "%s", text);
    v.decimal.precision = 10;
    v.decimal.scale = 2;
    return v;
}

tf_value fake_null(void)
{
    tf_value v = {.kind = TF_VAL_NULL};
    return v;
}

/* ---- source ---- */

static tf_status fake_next(void *arg, tf_pipeline_item *item, bool *done, tf_error *err)
{
    fake_txn *t = arg;
    *done = false;
    if (t->next < t->count) {
        *item = t->items[t->next++];
        return TF_OK;
    }
    if (t->fail_at_end)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "rows event: column 2 past end at offset 77");
    *done = true;
    return TF_OK;
}

void fake_txn_init(fake_txn *t, const char *gtid, const char *log_file, uint64_t end_pos)
{
    memset(t, 0, sizeof *t);
    t->txn.gtid = gtid;
    t->txn.log_file = log_file;
    t->txn.end_pos = end_pos;
    t->txn.commit_timestamp_us = 1700000000000000;
    t->txn.next = fake_next;
    t->txn.it = t;
}

void fake_txn_row(fake_txn *t, const tf_table_map *map, tf_rows_kind kind, const tf_value *before,
                  const tf_value *after)
{
    assert_true(t->count < FAKE_MAX_ITEMS);
    size_t n = t->count++;
    tf_pipeline_item *it = &t->items[n];
    memset(it, 0, sizeof *it);
    it->kind = TF_PIPELINE_ITEM_ROW;
    it->table = map;
    it->rows_kind = kind;
    it->before_full = it->after_full = true;
    if (before) {
        memcpy(t->images[n][0], before, map->column_count * sizeof *before);
        it->before = t->images[n][0];
    }
    if (after) {
        memcpy(t->images[n][1], after, map->column_count * sizeof *after);
        it->after = t->images[n][1];
    }
}

void fake_txn_statement(fake_txn *t, const char *database, const char *sql)
{
    assert_true(t->count < FAKE_MAX_ITEMS);
    tf_pipeline_item *it = &t->items[t->count++];
    memset(it, 0, sizeof *it);
    it->kind = TF_PIPELINE_ITEM_STATEMENT;
    it->database.ptr = database;
    it->database.len = strlen(database);
    it->sql.ptr = sql;
    it->sql.len = strlen(sql);
}

const tf_pipeline_txn *fake_txn_get(fake_txn *t)
{
    t->next = 0;
    return &t->txn;
}

/* ---- target ---- */

static fake_call *push_call(fake_target *f, fake_call_kind kind)
{
    if (f->count == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->calls = realloc(f->calls, f->cap * sizeof *f->calls);
    }
    fake_call *c = &f->calls[f->count++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

static void append_json(char *out, size_t cap, const char *label, const bson_t *doc)
{
    if (!doc)
        return;
    char *json = bson_as_relaxed_extended_json(doc, NULL);
    size_t len = strlen(out);
    snprintf(out + len, cap - len, " %s%s", label, json);
    bson_free(json);
}

static bool fake_add(void *arg, tf_doc_op *op, tf_error *err)
{
    fake_target *f = arg;
    if (f->fail_add) {
        tf_doc_op_cleanup(op);
        return tf_error_set(err, TF_ERR_SERVER, 0, "target refused the write"), false;
    }
    fake_call *c = push_call(f, FAKE_ADD);
    const char *name = "?";
    switch (op->kind) {
    case TF_DOC_OP_REPLACE: name = "replace"; break;
    case TF_DOC_OP_UPDATE: name = "update"; break;
    case TF_DOC_OP_UPDATE_MANY: name = "update_many"; break;
    case TF_DOC_OP_DELETE: name = "delete"; break;
    case TF_DOC_OP_INSERT: name = "insert"; break;
    default: break;
    }
    snprintf(c->text, sizeof c->text, "%s", name);
    append_json(c->text, sizeof c->text, "", op->filter);
    append_json(c->text, sizeof c->text, "doc=", op->document);
    append_json(c->text, sizeof c->text, "set=", op->set);
    append_json(c->text, sizeof c->text, "unset=", op->unset);
    tf_doc_op_cleanup(op);
    f->pending++;
    return true;
}

static bool submit_as(fake_target *f, bool ahead, bool *submitted)
{
    *submitted = f->pending > 0;
    if (!*submitted)
        return true;
    fake_call *c = push_call(f, FAKE_SUBMIT);
    snprintf(c->text, sizeof c->text, "%s%zu", ahead ? "ahead " : "", f->pending);
    f->pending = 0;
    f->submissions++;
    f->sent[ahead]++;
    return true;
}

static bool fake_submit(void *arg, bool *submitted, tf_error *err)
{
    (void)err;
    return submit_as(arg, false, submitted);
}

static bool fake_submit_ahead(void *arg, bool *submitted, tf_error *err)
{
    (void)err;
    return submit_as(arg, true, submitted);
}

static uint64_t fake_writes_done(void *arg, bool ahead)
{
    fake_target *f = arg;
    if (!f->hold)
        f->done[ahead] = f->sent[ahead];
    return f->done[ahead];
}

static uint64_t fake_acknowledged(void *arg)
{
    fake_target *f = arg;
    if (!f->hold)
        f->acked = f->submissions;
    return f->acked;
}

static bool fake_wait(void *arg, tf_error *err)
{
    fake_target *f = arg;
    (void)err;
    f->waits++;
    f->acked = f->submissions;
    f->done[0] = f->sent[0];
    f->done[1] = f->sent[1];
    return true;
}

static size_t fake_pending(void *arg)
{
    fake_target *f = arg;
    return f->pending + f->queued;
}

static void fake_record(void *arg, const char *table, tf_view_change_kind kind,
                        const tf_value *before, const tf_value *after, size_t column_count)
{
    fake_target *f = arg;
    (void)before;
    (void)after;
    fake_call *c = push_call(f, FAKE_RECORD);
    static const char *const kinds[] = {"insert", "update", "delete"};
    snprintf(c->text, sizeof c->text, "%s %s %zu", table, kinds[kind], column_count);
}

static void fake_rebase(void *arg)
{
    fake_target *f = arg;
    f->rebases++;
}

static bool fake_commit(void *arg, const tf_view *view, const bson_t *progress,
                        const tf_checkpoint *cp, tf_error *err)
{
    fake_target *f = arg;
    (void)view;
    bson_destroy(f->progress);
    f->progress = bson_copy(progress);
    if (f->fail_commit) {
        f->fail_commit = false;
        return tf_error_set(err, TF_ERR_SERVER, 0, "checkpoint write failed"), false;
    }
    fake_call *c = push_call(f, FAKE_COMMIT);
    snprintf(c->text, sizeof c->text, "%s %s:%llu %llu %llu", cp->gtid, cp->binlog_file,
             (unsigned long long)cp->binlog_position, (unsigned long long)cp->rows,
             (unsigned long long)cp->transactions);
    f->pending = 0;
    f->submissions++;
    return true;
}

void fake_target_init(fake_target *f)
{
    memset(f, 0, sizeof *f);
    f->progress = bson_new();
}

void fake_target_cleanup(fake_target *f)
{
    free(f->calls);
    bson_destroy(f->progress);
}

tf_pipeline_target fake_target_iface(fake_target *f)
{
    tf_pipeline_target t = {
        .add = fake_add,
        .submit = fake_submit,
        .acknowledged = fake_acknowledged,
        .wait = fake_wait,
        .pending = fake_pending,
        .record = fake_record,
        .rebase = fake_rebase,
        .commit = fake_commit,
        .submit_ahead = f->ahead ? fake_submit_ahead : NULL,
        .writes_done = f->ahead ? fake_writes_done : NULL,
        .arg = f,
    };
    return t;
}

long fake_target_find(const fake_target *f, fake_call_kind kind, const char *needle, size_t from)
{
    for (size_t i = from; i < f->count; i++)
        if (f->calls[i].kind == kind && (!needle || strstr(f->calls[i].text, needle)))
            return (long)i;
    return -1;
}

size_t fake_target_count(const fake_target *f, fake_call_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++)
        n += f->calls[i].kind == kind;
    return n;
}

static void copy_first(char *out, size_t cap, const tf_value *v)
{
    out[0] = 0;
    if (v && (v->kind == TF_VAL_STRING || v->kind == TF_VAL_BYTES))
        snprintf(out, cap, "%.*s", (int)v->bytes.len, (const char *)v->bytes.ptr);
    else if (v && v->kind == TF_VAL_INT)
        snprintf(out, cap, "%lld", (long long)v->i);
}

static bool fake_read(void *arg, const tf_pipeline_read *req, tf_error *err)
{
    fake_source *s = arg;
    if (s->refuse) {
        s->refuse = false;
        return tf_error_set(err, TF_ERR_IO, 0, "connection refused"), false;
    }
    s->reads++;
    snprintf(s->table, sizeof s->table, "%s", req->table);
    s->key_read = req->keys != NULL;
    s->key_rows = req->key_rows;
    s->max_rows = req->max_rows;
    copy_first(s->first_key, sizeof s->first_key, req->keys);
    copy_first(s->after, sizeof s->after, req->after);
    return true;
}

static void fake_cancel(void *arg)
{
    fake_source *s = arg;
    s->cancels++;
}

tf_pipeline_source fake_source_iface(fake_source *s)
{
    tf_pipeline_source src = {fake_read, fake_cancel, s};
    return src;
}

static void fake_log_line(void *arg, const char *message)
{
    fake_log *l = arg;
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s\n", message);
}

tf_pipeline *fake_pipeline_new_full(fake_target *f, fake_source *src, fake_log *log,
                                    size_t chunk_rows, tf_flow_spec **spec)
{
    tf_error err = {0};
    const char *text = FAKE_FLOW;
    assert_int_equal(tf_flow_parse(text, strlen(text), "fake.tap", spec, &err), TF_OK);
    char hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(*spec, hash);
    tf_pipeline_options opt = {
        .spec = *spec,
        .spec_hash = hash,
        .database = "shop",
        .target = fake_target_iface(f),
        .checkpoint_interval_ms = 1000,
        .snapshot_push_root_rows = 2,
        .resync_chunk_rows = chunk_rows,
        .log = log ? fake_log_line : NULL,
        .log_arg = log,
    };
    if (src)
        opt.source = fake_source_iface(src);
    tf_pipeline *p = tf_pipeline_new(&opt);
    for (int t = 0; t < FAKE_TABLES; t++)
        assert_int_equal(tf_view_define_table_map(tf_pipeline_view(p), fake_table_map(t), &err),
                         TF_OK);
    return p;
}

fake_fixture *fake_fixture_new(size_t chunk_rows, tf_pipeline_phase phase)
{
    fake_fixture *fx = calloc(1, sizeof *fx);
    fake_target_init(&fx->target);
    fx->p = fake_pipeline_new_full(&fx->target, &fx->source, &fx->log, chunk_rows, &fx->spec);
    tf_pipeline_set_phase(fx->p, phase);
    fx->now = 100000;
    return fx;
}

void fake_fixture_destroy(fake_fixture *fx)
{
    tf_pipeline_destroy(fx->p);
    tf_flow_spec_destroy(fx->spec);
    fake_target_cleanup(&fx->target);
    free(fx);
}
