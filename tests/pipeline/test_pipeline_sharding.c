/* test_pipeline_sharding.c — every write the flow issues is legal and
 * targeted on a collection sharded on {_id: "hashed"}.
 *
 * On such a collection MongoDB routes a write by its shard key: an
 * insert must carry _id, a replace (upsert), an updateOne and a deleteOne
 * must name the document by _id alone, and no write may change a
 * document's _id (the shard key is immutable). The sink (id_from_root_key,
 * sink.h "Addressing by _id") turns each operation's filter, the root
 * key, into {_id: derive(root key)} and gives inserted and replacing
 * documents that _id first. So an operation stream is targeted when every
 * insert, replace, update and delete is addressed by exactly the root key,
 * its documents hold no _id of their own and the same root key as the
 * filter, and no update touches _id or the root key. updateMany (fan-out
 * with arrayFilters) is the one broadcast write, legal on a sharded
 * collection; it must not touch _id or the root key either.
 *
 * A random workload (inserts, updates and deletes of every table, root
 * primary keys changed, items and orders moved to other parents, rows
 * arriving before what they reference) runs through the pipeline in each
 * fan-out mode, and every operation it hands the target is checked. No
 * server: a sharded cluster cannot run here (README "Scaling out"). */
#include "pipeline_fakes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct capture {
    uint64_t acks;
    size_t by_kind[8];
    char problem[512]; /* the first illegal op, described */
} capture;

static void complain(capture *c, const char *fmt, ...)
{
    if (c->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->problem, sizeof c->problem, fmt, ap);
    va_end(ap);
}

/* The root key of FAKE_FLOW: orders.order_id. */
static bool is_root_key(const bson_t *filter)
{
    bson_iter_t it;
    return filter && bson_count_keys(filter) == 1 && bson_iter_init(&it, filter) &&
           bson_iter_next(&it) && !strcmp(bson_iter_key(&it), "order_id") &&
           BSON_ITER_HOLDS_UTF8(&it);
}

static bool same_root_key(const bson_t *filter, const bson_t *doc)
{
    bson_iter_t a, b;
    uint32_t la, lb;
    return bson_iter_init_find(&a, filter, "order_id") &&
           bson_iter_init_find(&b, doc, "order_id") && BSON_ITER_HOLDS_UTF8(&b) &&
           !strcmp(bson_iter_utf8(&a, &la), bson_iter_utf8(&b, &lb));
}

/* A $set / $unset path that would change the shard key or the root key
 * (or a parent of them). */
static const char *touches_key(const bson_t *paths)
{
    bson_iter_t it;
    if (!paths || !bson_iter_init(&it, paths))
        return NULL;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "_id") || !strncmp(k, "_id.", 4) || !strcmp(k, "order_id"))
            return k;
    }
    return NULL;
}

static bool target_add(void *arg, tf_doc_op *op, tf_error *err)
{
    (void)err;
    capture *c = arg;
    c->by_kind[op->kind]++;
    char *filter = op->filter ? bson_as_relaxed_extended_json(op->filter, NULL) : NULL;
    const char *key;
    bson_iter_t it;
    switch (op->kind) {
    case TF_DOC_OP_INSERT:
    case TF_DOC_OP_REPLACE:
        if (!is_root_key(op->filter))
            complain(c, "%s not addressed by the root key alone: %s",
                     op->kind == TF_DOC_OP_INSERT ? "insert" : "replace", filter);
        else if (bson_iter_init_find(&it, op->document, "_id"))
            complain(c, "a document with an _id of its own (%s)", filter);
        else if (!same_root_key(op->filter, op->document))
            complain(c, "a document whose root key is not its filter's (%s)", filter);
        break;
    case TF_DOC_OP_UPDATE:
        if (!is_root_key(op->filter))
            complain(c, "updateOne not addressed by the root key alone: %s", filter);
        else if ((key = touches_key(op->set)) || (key = touches_key(op->unset)))
            complain(c, "updateOne of %s changes '%s'", filter, key);
        break;
    case TF_DOC_OP_DELETE:
        if (!is_root_key(op->filter))
            complain(c, "deleteOne not addressed by the root key alone: %s", filter);
        break;
    case TF_DOC_OP_UPDATE_MANY:
        if ((key = touches_key(op->set)) || (key = touches_key(op->unset)))
            complain(c, "updateMany %s changes '%s'", filter, key);
        break;
    default: complain(c, "an operation of kind %d", (int)op->kind); break;
    }
    bson_free(filter);
    tf_doc_op_cleanup(op);
    return true;
}

static bool target_submit(void *arg, bool *submitted, tf_error *err)
{
    (void)err;
    ((capture *)arg)->acks++;
    *submitted = true;
    return true;
}

static uint64_t target_acknowledged(void *arg) { return ((capture *)arg)->acks; }

static bool target_wait(void *arg, tf_error *err)
{
    (void)arg;
    (void)err;
    return true;
}

static size_t target_pending(void *arg)
{
    (void)arg;
    return 0;
}

static void target_record(void *arg, const char *table, tf_view_change_kind kind,
                          const tf_value *before, const tf_value *after, size_t n)
{
    (void)arg;
    (void)table;
    (void)kind;
    (void)before;
    (void)after;
    (void)n;
}

static void target_rebase(void *arg) { (void)arg; }

static bool target_commit(void *arg, const tf_view *view, const bson_t *progress,
                          const tf_checkpoint *cp, tf_error *err)
{
    (void)view;
    (void)progress;
    (void)cp;
    (void)err;
    ((capture *)arg)->acks++;
    return true;
}

/* ---- the workload: a model of the three tables, every change valid ---- */

static const char *const order_ids[] = {"O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"};
static const char *const customer_ids[] = {"C1", "C2", "C3", "C4"};
static const char *const names[] = {"ana", "bo", "cy"};
static const char *const skus[] = {"S1", "S2", "S3"};

#define N_ORDERS 8
#define N_CUSTOMERS 4
#define N_ITEMS 3 /* item ids 1..3 per order */

typedef struct model {
    bool order[N_ORDERS];
    int order_customer[N_ORDERS];
    bool customer[N_CUSTOMERS];
    int customer_name[N_CUSTOMERS];
    bool item[N_ORDERS][N_ITEMS];
    int item_sku[N_ORDERS][N_ITEMS];
} model;

static void order_image(const model *m, int o, tf_value v[3])
{
    v[0] = fake_str(order_ids[o]);
    v[1] = fake_str(customer_ids[m->order_customer[o]]);
    v[2] = fake_dec("1.50");
}

static void customer_image(const model *m, int c, tf_value v[2])
{
    v[0] = fake_str(customer_ids[c]);
    v[1] = fake_str(names[m->customer_name[c]]);
}

static void item_image(const model *m, int o, int i, tf_value v[3])
{
    v[0] = fake_str(order_ids[o]);
    v[1] = fake_int(i + 1);
    v[2] = fake_str(skus[m->item_sku[o][i]]);
}

/* One random valid change into t (the model follows). */
static void random_change(model *m, fake_txn *t, unsigned *seed)
{
    int what = rand_r(seed) % 9;
    int o = rand_r(seed) % N_ORDERS, o2 = rand_r(seed) % N_ORDERS;
    int c = rand_r(seed) % N_CUSTOMERS, i = rand_r(seed) % N_ITEMS;
    tf_value b[3], a[3];
    const tf_table_map *orders = fake_table_map(FAKE_ORDERS);
    const tf_table_map *customers = fake_table_map(FAKE_CUSTOMERS);
    const tf_table_map *items = fake_table_map(FAKE_ITEMS);
    switch (what) {
    case 0: /* order inserted or deleted */
        if (!m->order[o]) {
            m->order[o] = true;
            m->order_customer[o] = c;
            order_image(m, o, a);
            fake_txn_row(t, orders, TF_ROWS_WRITE, NULL, a);
        } else {
            order_image(m, o, b);
            m->order[o] = false;
            fake_txn_row(t, orders, TF_ROWS_DELETE, b, NULL);
        }
        break;
    case 1: /* the root's primary key changes */
        if (m->order[o] && !m->order[o2]) {
            order_image(m, o, b);
            m->order[o] = false;
            m->order[o2] = true;
            m->order_customer[o2] = m->order_customer[o];
            order_image(m, o2, a);
            fake_txn_row(t, orders, TF_ROWS_UPDATE, b, a);
        }
        break;
    case 2: /* an order moves to another customer */
        if (m->order[o]) {
            order_image(m, o, b);
            m->order_customer[o] = c;
            order_image(m, o, a);
            fake_txn_row(t, orders, TF_ROWS_UPDATE, b, a);
        }
        break;
    case 3: /* customer inserted or deleted (fan-out to its orders) */
        if (!m->customer[c]) {
            m->customer[c] = true;
            m->customer_name[c] = rand_r(seed) % 3;
            customer_image(m, c, a);
            fake_txn_row(t, customers, TF_ROWS_WRITE, NULL, a);
        } else {
            customer_image(m, c, b);
            m->customer[c] = false;
            fake_txn_row(t, customers, TF_ROWS_DELETE, b, NULL);
        }
        break;
    case 4: /* customer renamed (a $set of the object lookup) */
        if (m->customer[c]) {
            customer_image(m, c, b);
            m->customer_name[c] = rand_r(seed) % 3;
            customer_image(m, c, a);
            fake_txn_row(t, customers, TF_ROWS_UPDATE, b, a);
        }
        break;
    case 5: /* item inserted or deleted */
        if (!m->item[o][i]) {
            m->item[o][i] = true;
            m->item_sku[o][i] = rand_r(seed) % 3;
            item_image(m, o, i, a);
            fake_txn_row(t, items, TF_ROWS_WRITE, NULL, a);
        } else {
            item_image(m, o, i, b);
            m->item[o][i] = false;
            fake_txn_row(t, items, TF_ROWS_DELETE, b, NULL);
        }
        break;
    case 6: /* an item moves to another order (re-parenting) */
        if (m->item[o][i] && !m->item[o2][i]) {
            item_image(m, o, i, b);
            m->item[o][i] = false;
            m->item[o2][i] = true;
            m->item_sku[o2][i] = m->item_sku[o][i];
            item_image(m, o2, i, a);
            fake_txn_row(t, items, TF_ROWS_UPDATE, b, a);
        }
        break;
    default: /* an item changes in place */
        if (m->item[o][i]) {
            item_image(m, o, i, b);
            m->item_sku[o][i] = (m->item_sku[o][i] + 1) % 3;
            item_image(m, o, i, a);
            fake_txn_row(t, items, TF_ROWS_UPDATE, b, a);
        }
        break;
    }
}

static void run_mode(tf_view_fanout mode, capture *c)
{
    tf_error err = {0};
    tf_flow_spec *spec = NULL;
    const char *text = FAKE_FLOW;
    assert_int_equal(tf_flow_parse(text, strlen(text), "fake.tap", &spec, &err), TF_OK);
    char hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(spec, hash);
    tf_pipeline_options opt = {.spec = spec,
                               .spec_hash = hash,
                               .database = "shop",
                               .target = {.add = target_add,
                                          .submit = target_submit,
                                          .acknowledged = target_acknowledged,
                                          .wait = target_wait,
                                          .pending = target_pending,
                                          .record = target_record,
                                          .rebase = target_rebase,
                                          .commit = target_commit,
                                          .arg = c},
                               .snapshot_push_root_rows = 2};
    tf_pipeline *p = tf_pipeline_new(&opt);
    tf_view *view = tf_pipeline_view(p);
    for (int t = 0; t < FAKE_TABLES; t++)
        assert_int_equal(tf_view_define_table_map(view, fake_table_map(t), &err), TF_OK);
    assert_int_equal(tf_view_set_fanout(view, mode, &err), TF_OK);
    /* A snapshot of two orders (inserts), then the stream. */
    tf_pipeline_set_phase(p, TF_PIPELINE_SNAPSHOT);
    model m;
    memset(&m, 0, sizeof m);
    tf_value v[3];
    for (int o = 0; o < 2; o++) {
        m.order[o] = true;
        order_image(&m, o, v);
        assert_true(tf_pipeline_snapshot_row(p, "orders", v, &err));
    }
    tf_pipeline_position at = {.gtid = "0-1-1", .flavour = "mariadb"};
    tf_pipeline_set_position(p, &at);
    assert_true(tf_pipeline_snapshot_done(p, 1, &err));
    tf_pipeline_set_phase(p, TF_PIPELINE_RUNNING);
    unsigned seed = 20261202u + (unsigned)mode;
    for (int n = 0; n < 3000 && !c->problem[0]; n++) {
        fake_txn t;
        char gtid[32];
        snprintf(gtid, sizeof gtid, "0-1-%d", n + 2);
        fake_txn_init(&t, gtid, "bin.000001", (uint64_t)(1000 + n));
        int changes = 1 + rand_r(&seed) % 4;
        for (int k = 0; k < changes; k++)
            random_change(&m, &t, &seed);
        if (!tf_pipeline_apply(p, fake_txn_get(&t), &err))
            fail_msg("transaction %d: %s", n, err.message);
        assert_true(tf_pipeline_tick(p, 10 + n, &err));
    }
    assert_true(tf_pipeline_checkpoint(p, 100000, &err));
    tf_pipeline_destroy(p);
    tf_flow_spec_destroy(spec);
}

static void check_mode(tf_view_fanout mode, const char *name)
{
    capture c;
    memset(&c, 0, sizeof c);
    run_mode(mode, &c);
    if (c.problem[0])
        fail_msg("%s mode: %s", name, c.problem);
    /* The workload reached every write the mode sends. */
    assert_true(c.by_kind[TF_DOC_OP_INSERT] > 0);
    assert_true(c.by_kind[TF_DOC_OP_REPLACE] > 0);
    assert_true(c.by_kind[TF_DOC_OP_DELETE] > 0);
    if (mode != TF_VIEW_FANOUT_RECOMPUTE)
        assert_true(c.by_kind[TF_DOC_OP_UPDATE] > 0);
}

static void test_recompute_writes_are_targeted_by_id(void **state)
{
    (void)state;
    check_mode(TF_VIEW_FANOUT_RECOMPUTE, "recompute");
}

static void test_positional_writes_are_targeted_by_id(void **state)
{
    (void)state;
    check_mode(TF_VIEW_FANOUT_POSITIONAL, "positional");
}

static void test_array_filters_writes_are_targeted_by_id(void **state)
{
    (void)state;
    check_mode(TF_VIEW_FANOUT_ARRAY_FILTERS, "array-filters");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recompute_writes_are_targeted_by_id),
        cmocka_unit_test(test_positional_writes_are_targeted_by_id),
        cmocka_unit_test(test_array_filters_writes_are_targeted_by_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
