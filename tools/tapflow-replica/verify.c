/* verify.c — `tapflow-replica verify`: is the wide table right?
 *
 * The documents the flow should hold are computed here from the source,
 * independently of the running daemon: a consistent snapshot of the flow's
 * tables (position G) fed to a pipeline of its own whose target is a map
 * in memory (the view in recompute mode: whole documents only), then the
 * binlog from G, so that the expected documents follow the source while
 * the comparison runs. The flow keeps streaming meanwhile.
 *
 * No false positives from changes in flight. Once the flow's checkpoint
 * has passed G, the target is compared with the map. A document that
 * differs is checked again in rounds: with C1 the flow's checkpoint before
 * reading the target's copy and C2 the first checkpoint written after the
 * read (or, when the flow is idle and caught up, the one it holds), the copy
 * reflects a position between C1 and C2 (checkpoints are written after the
 * documents they cover are acknowledged). If the source changed the
 * document's rows in that window, the round cannot tell and the document
 * is checked again; if not, the expected document is the same at every
 * position of the window, and a difference is real.
 *
 * Modes: counts (root rows against documents), full (every document, field
 * by field, BSON types and field order included), sample N (N random root
 * keys). --repair writes the expected document over each real difference
 * (and deletes strays), then checks those documents again. Exit status 0
 * when the table is right, 1 when anything differs, 2 on a bad option,
 * 3 when it could not verify (the flow does not run, a source error). */
#include "verify.h"
#include "daemon.h"
#include "pipeline.h"
#include "replica.h"
#include "sink.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define VERIFY_ROUNDS 12
#define VERIFY_REPORT_MAX 50 /* differences printed in full */

typedef enum verify_mode {
    MODE_FULL,
    MODE_COUNTS,
    MODE_SAMPLE
} verify_mode;

/* One expected document, by the _id the sink derives from its root key. */
typedef struct expected {
    uint8_t id[12];
    bson_t *filter; /* the root key */
    bson_t *doc;    /* {_id, ...} as the target holds it; NULL when deleted */
    uint64_t changed_seq;
    uint32_t seen; /* scan that saw it */
    bool in_use;
} expected;

typedef enum finding_kind {
    FIND_MISSING,
    FIND_EXTRA,
    FIND_DIFFERS
} finding_kind;

typedef struct finding {
    uint8_t id[12];
    finding_kind kind;
    bool confirmed;
    char *detail;
} finding;

typedef struct verifier {
    const tfr_config *cfg;
    const tf_flow_spec *spec;
    const tfr_datasource *src, *dst;
    struct event_base *base;
    tf_conn_options conn;
    char **tables;
    size_t table_count;
    tf_pipeline *pipeline;
    tf_sink *sink; /* checkpoints and repairs (documents addressed by _id as they are) */
    tf_admin *admin;
    tf_snapshot *snapshot;
    tf_replica *replica;
    bool snapshot_done;
    bool failed;
    tf_error err;
    char snapshot_gtid[4096];
    bool mysql;
    /* the map */
    expected *slots;
    size_t slot_cap, slot_used, present;
    uint64_t seq;     /* transactions applied since the snapshot */
    char **positions; /* positions[s - 1]: the position after transaction s */
    size_t position_cap;
    bool source_idle;                /* a heartbeat since the last transaction */
    tf_mariadb_gtid_pos mariadb_pos; /* the stream's position (MariaDB) */
    tf_gtid_set *mysql_pos;          /* (MySQL) */
    uint64_t acks;
    uint32_t scan;
    finding *findings;
    size_t finding_count, finding_cap;
} verifier;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail(verifier *v, const tf_error *err)
{
    if (!v->failed) {
        v->failed = true;
        v->err = *err;
    }
}

/* ---- the map of expected documents (open addressing on the _id) ---- */

static size_t slot_of(const verifier *v, const uint8_t id[12])
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 12; i++)
        h = (h ^ id[i]) * 1099511628211ull;
    size_t mask = v->slot_cap - 1;
    size_t i = (size_t)h & mask;
    while (v->slots[i].in_use && memcmp(v->slots[i].id, id, 12) != 0)
        i = (i + 1) & mask;
    return i;
}

static expected *find_expected(const verifier *v, const uint8_t id[12])
{
    if (!v->slot_cap)
        return NULL;
    expected *e = &v->slots[slot_of(v, id)];
    return e->in_use ? e : NULL;
}

static expected *put_expected(verifier *v, const uint8_t id[12])
{
    if ((v->slot_used + 1) * 4 > v->slot_cap * 3) {
        size_t old_cap = v->slot_cap;
        expected *old = v->slots;
        v->slot_cap = old_cap ? old_cap * 2 : 1024;
        v->slots = bson_malloc0(v->slot_cap * sizeof *v->slots);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].in_use)
                v->slots[slot_of(v, old[i].id)] = old[i];
        bson_free(old);
    }
    expected *e = &v->slots[slot_of(v, id)];
    if (!e->in_use) {
        e->in_use = true;
        memcpy(e->id, id, 12);
        v->slot_used++;
    }
    return e;
}

/* ---- the pipeline's target: the map ---- */

static bool target_add(void *arg, tf_doc_op *op, tf_error *err)
{
    verifier *v = arg;
    bson_oid_t oid;
    bool ok = true;
    if (op->kind != TF_DOC_OP_REPLACE && op->kind != TF_DOC_OP_INSERT &&
        op->kind != TF_DOC_OP_DELETE) {
        ok = tf_error_set(err, TF_ERR_CONFIG, 0,
                          "verify: a partial document operation in recompute mode") == TF_OK;
    } else if (tf_sink_derive_id(op->filter, &oid, err)) {
        expected *e = put_expected(v, oid.bytes);
        if (!e->filter)
            e->filter = bson_copy(op->filter);
        if (e->doc) {
            bson_destroy(e->doc);
            e->doc = NULL;
            v->present--;
        }
        if (op->kind != TF_DOC_OP_DELETE) {
            /* As the sink writes it: the derived _id first. */
            e->doc = bson_new();
            BSON_APPEND_OID(e->doc, "_id", &oid);
            bson_iter_t it;
            if (bson_iter_init(&it, op->document))
                while (bson_iter_next(&it))
                    if (strcmp(bson_iter_key(&it), "_id") != 0)
                        bson_append_iter(e->doc, NULL, 0, &it);
            v->present++;
        }
        e->changed_seq = v->seq;
    } else {
        ok = false;
    }
    tf_doc_op_cleanup(op);
    return ok;
}

static bool target_submit(void *arg, bool *submitted, tf_error *err)
{
    (void)err;
    verifier *v = arg;
    *submitted = true;
    v->acks++;
    return true;
}

static uint64_t target_acknowledged(void *arg) { return ((verifier *)arg)->acks; }

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
                          const tf_value *before, const tf_value *after, size_t column_count)
{
    (void)arg;
    (void)table;
    (void)kind;
    (void)before;
    (void)after;
    (void)column_count;
}

static void target_rebase(void *arg) { (void)arg; }

static bool target_commit(void *arg, const tf_view *view, const bson_t *progress,
                          const tf_checkpoint *cp, tf_error *err)
{
    (void)view;
    (void)progress;
    (void)cp;
    (void)err;
    ((verifier *)arg)->acks++;
    return true;
}

/* ---- positions ---- */

/* Whether position have includes every transaction of target (MariaDB
 * positions per domain, MySQL GTID sets). */
static bool reached(bool mysql, const char *have, const char *target)
{
    if (!target || !*target)
        return true;
    if (!have)
        return false;
    if (mysql) {
        tf_gtid_set *h = NULL, *t = NULL;
        bool ok = tf_gtid_set_parse(have, strlen(have), &h, NULL) == TF_OK &&
                  tf_gtid_set_parse(target, strlen(target), &t, NULL) == TF_OK &&
                  tf_gtid_set_is_subset(t, h);
        tf_gtid_set_destroy(h);
        tf_gtid_set_destroy(t);
        return ok;
    }
    tf_mariadb_gtid_pos h, t;
    tf_mariadb_gtid_pos_init(&h);
    tf_mariadb_gtid_pos_init(&t);
    bool ok = tf_mariadb_gtid_pos_parse(have, strlen(have), &h, NULL) == TF_OK &&
              tf_mariadb_gtid_pos_parse(target, strlen(target), &t, NULL) == TF_OK;
    for (size_t i = 0; ok && i < t.count; i++) {
        const tf_mariadb_gtid *g = tf_mariadb_gtid_pos_find(&h, t.gtids[i].domain_id);
        ok = g && g->seq_no >= t.gtids[i].seq_no;
    }
    tf_mariadb_gtid_pos_cleanup(&h);
    tf_mariadb_gtid_pos_cleanup(&t);
    return ok;
}

static const char *engine_position(const verifier *v)
{
    return v->seq ? v->positions[v->seq - 1] : v->snapshot_gtid;
}

/* The number of transactions applied when the engine first held position
 * (0: the snapshot already did). */
static uint64_t seq_at(const verifier *v, const char *position)
{
    if (reached(v->mysql, v->snapshot_gtid, position))
        return 0;
    uint64_t lo = 1, hi = v->seq;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (reached(v->mysql, v->positions[mid - 1], position))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- the source ---- */

static bool on_transaction(tf_replica *r, const tf_replica_txn *txn, void *arg, tf_error *err)
{
    (void)r;
    verifier *v = arg;
    v->seq++;
    v->source_idle = false;
    if (!tf_pipeline_apply_replica_txn(v->pipeline, txn, err))
        return false;
    if (v->seq > v->position_cap) {
        v->position_cap = v->position_cap ? v->position_cap * 2 : 1024;
        v->positions = bson_realloc(v->positions, v->position_cap * sizeof *v->positions);
    }
    /* The position after it: the snapshot's plus every GTID since. */
    if (txn->has_gtid && v->mysql)
        tf_gtid_set_add(v->mysql_pos, &txn->mysql_gtid, NULL);
    else if (txn->has_gtid)
        tf_mariadb_gtid_pos_update(&v->mariadb_pos, &txn->mariadb_gtid);
    char *text = v->mysql ? tf_gtid_set_to_text(v->mysql_pos, TF_GTID_TEXT_COMPACT) : NULL;
    if (!v->mysql) {
        char buf[4096];
        tf_mariadb_gtid_pos_format(&v->mariadb_pos, buf, sizeof buf);
        text = bson_strdup(buf);
    } else {
        char *copy = bson_strdup(text ? text : "");
        free(text);
        text = copy;
    }
    v->positions[v->seq - 1] = text;
    /* A statement that needs a table read again (ALTER, statement-format
     * DML) is not followed here: what the view would need is a re-sync. */
    tf_pipeline_resync_stats rs;
    tf_pipeline_get_resync_stats(v->pipeline, &rs);
    if (rs.queued)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "verify: transaction %s changed a flow table in a way that needs a "
                            "re-read (ALTER or statement-format DML); verify again once the flow "
                            "has re-synced it",
                            txn->gtid) == TF_OK;
    return tf_pipeline_tick(v->pipeline, now_ms(), err);
}

static void on_replica_event(tf_replica *r, const tf_replica_event *ev, void *arg)
{
    (void)r;
    if (ev->event.kind == TF_EVENT_HEARTBEAT)
        ((verifier *)arg)->source_idle = true;
}

static void on_replica_log(tf_replica *r, const char *message, void *arg)
{
    (void)r;
    (void)arg;
    fprintf(stderr, "tapflow-replica verify: source: %s\n", message);
}

static void on_replica_stop(tf_replica *r, const tf_error *err, void *arg)
{
    (void)r;
    if (err)
        fail(arg, err);
}

static void on_snapshot_position(tf_snapshot *s, const tf_snapshot_position *pos, void *arg)
{
    verifier *v = arg;
    tf_error err = {0};
    v->mysql = pos->flavour == TF_FLAVOUR_MYSQL;
    snprintf(v->snapshot_gtid, sizeof v->snapshot_gtid, "%s", pos->gtid ? pos->gtid : "");
    if (!pos->gtid) {
        tf_error_set(&err, TF_ERR_CONFIG, 0,
                     "verify needs a source with GTIDs (MySQL: gtid_mode=ON)");
        fail(v, &err);
        return;
    }
    if (v->mysql ? tf_gtid_set_parse(pos->gtid, strlen(pos->gtid), &v->mysql_pos, &err) != TF_OK
                 : tf_mariadb_gtid_pos_parse(pos->gtid, strlen(pos->gtid), &v->mariadb_pos, &err) !=
                       TF_OK) {
        fail(v, &err);
        return;
    }
    tf_pipeline_position at = {.gtid = pos->gtid ? pos->gtid : "",
                               .binlog_file = pos->file,
                               .binlog_pos = pos->pos,
                               .flavour = v->mysql ? "mysql" : "mariadb"};
    tf_pipeline_set_position(v->pipeline, &at);
    tf_view *view = tf_pipeline_view(v->pipeline);
    for (size_t i = 0; i < tf_snapshot_table_count(s); i++) {
        const tf_snapshot_table *t = tf_snapshot_get_table(s, i);
        uint32_t pk[64];
        size_t n = t->key_count < 64 ? t->key_count : 64;
        for (size_t k = 0; k < n; k++)
            pk[k] = t->key_columns[k];
        if (tf_view_define_table(view, t->name, t->columns, t->column_count, pk, n, &err) !=
            TF_OK) {
            fail(v, &err);
            return;
        }
    }
}

static bool on_snapshot_row(tf_snapshot *s, const tf_snapshot_table *table, const tf_value *values,
                            void *arg, tf_error *err)
{
    (void)s;
    verifier *v = arg;
    return !v->failed && tf_pipeline_snapshot_row(v->pipeline, table->name, values, err);
}

static void on_snapshot_done(tf_snapshot *s, const tf_error *serr, void *arg)
{
    (void)s;
    verifier *v = arg;
    tf_error err = {0};
    if (serr)
        fail(v, serr);
    else if (!tf_pipeline_snapshot_done(v->pipeline, now_ms(), &err))
        fail(v, &err);
    v->snapshot_done = true;
    event_base_loopbreak(v->base);
}

/* Runs the loop for ms (the stream goes on meanwhile). */
static void pump(verifier *v, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(v->base, &tv);
    event_base_dispatch(v->base);
}

/* ---- the target side ---- */

static bool read_checkpoint(verifier *v, char **gtid, tf_error *err)
{
    tf_checkpoint cp;
    bool found = false;
    if (!tf_sink_checkpoint_read(v->sink, &cp, &found, err))
        return false;
    *gtid = found && cp.gtid ? bson_strdup(cp.gtid) : NULL;
    if (found)
        tf_checkpoint_cleanup(&cp);
    if (!found)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "flow %s has no checkpoint in %s: start it before verifying",
                            v->spec->name, v->dst->database) == TF_OK;
    return true;
}

/* Until the flow's checkpoint includes position (false on timeout). */
static bool wait_flow(verifier *v, const char *position, int64_t deadline, tf_error *err)
{
    for (;;) {
        char *cp = NULL;
        if (!read_checkpoint(v, &cp, err))
            return false;
        bool ok = reached(v->mysql, cp, position);
        bson_free(cp);
        if (ok)
            return true;
        if (v->failed || now_ms() > deadline)
            return tf_error_set(err, TF_ERR_TARGET, 0,
                                "flow %s has not reached %s by the time limit: is it running "
                                "(tap status / tapflow-replica status)?",
                                v->spec->name, position) == TF_OK;
        pump(v, 100);
    }
}

/* Until the engine holds position. */
static bool wait_engine(verifier *v, const char *position, int64_t deadline, tf_error *err)
{
    while (!reached(v->mysql, engine_position(v), position)) {
        if (v->failed) {
            *err = v->err;
            return false;
        }
        if (now_ms() > deadline)
            return tf_error_set(err, TF_ERR_IO, 0,
                                "verify: the source stream did not reach %s in time",
                                position) == TF_OK;
        pump(v, 20);
    }
    return true;
}

/* "path: what" for the first differences between two documents. */
static void diff_values(bson_string_t *out, int *left, const char *path, bson_iter_t *want,
                        bson_iter_t *got);

static void diff_docs(bson_string_t *out, int *left, const char *path, const uint8_t *wd,
                      uint32_t wl, const uint8_t *gd, uint32_t gl)
{
    bson_t w, g;
    if (!bson_init_static(&w, wd, wl) || !bson_init_static(&g, gd, gl))
        return;
    bson_iter_t wi, gi;
    bson_iter_init(&wi, &w);
    bson_iter_init(&gi, &g);
    bool wm = bson_iter_next(&wi), gm = bson_iter_next(&gi);
    while ((wm || gm) && *left > 0) {
        char sub[512];
        if (wm && gm && strcmp(bson_iter_key(&wi), bson_iter_key(&gi)) == 0) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", bson_iter_key(&wi));
            diff_values(out, left, sub, &wi, &gi);
            wm = bson_iter_next(&wi);
            gm = bson_iter_next(&gi);
            continue;
        }
        /* A field only one side has (or in another place). */
        bson_iter_t probe;
        if (wm && !(gm && bson_iter_init_find(&probe, &g, bson_iter_key(&wi)) &&
                    bson_iter_init_find(&probe, &w, bson_iter_key(&gi)))) {
            bool elsewhere = bson_iter_init_find(&probe, &g, bson_iter_key(&wi));
            bson_string_append_printf(out, "%s%s%s%s %s", out->len ? "; " : "", path,
                                      *path ? "." : "", bson_iter_key(&wi),
                                      elsewhere ? "out of order" : "missing");
            (*left)--;
            wm = bson_iter_next(&wi);
            continue;
        }
        if (gm) {
            bson_iter_t p2;
            bool expected_too = bson_iter_init_find(&p2, &w, bson_iter_key(&gi));
            bson_string_append_printf(out, "%s%s%s%s %s", out->len ? "; " : "", path,
                                      *path ? "." : "", bson_iter_key(&gi),
                                      expected_too ? "out of order" : "not expected");
            (*left)--;
            gm = bson_iter_next(&gi);
            continue;
        }
        wm = bson_iter_next(&wi);
    }
}

/* X of the relaxed JSON '{ "v" : X }', cut to 80 bytes, in place. */
static const char *value_text(char *json)
{
    if (!json)
        return "";
    const char *head = "{ \"v\" : ";
    size_t n = strlen(json), h = strlen(head);
    if (n >= h + 2 && !strncmp(json, head, h) && !strcmp(json + n - 2, " }")) {
        json[n - 2] = '\0';
        json += h;
    }
    if (strlen(json) > 80)
        strcpy(json + 77, "...");
    return json;
}

static void diff_values(bson_string_t *out, int *left, const char *path, bson_iter_t *want,
                        bson_iter_t *got)
{
    bson_type_t wt = bson_iter_type(want), gt = bson_iter_type(got);
    if (wt == gt && (wt == BSON_TYPE_DOCUMENT || wt == BSON_TYPE_ARRAY)) {
        const uint8_t *wd, *gd;
        uint32_t wl, gl;
        if (wt == BSON_TYPE_DOCUMENT) {
            bson_iter_document(want, &wl, &wd);
            bson_iter_document(got, &gl, &gd);
        } else {
            bson_iter_array(want, &wl, &wd);
            bson_iter_array(got, &gl, &gd);
        }
        if (wl != gl || memcmp(wd, gd, wl) != 0)
            diff_docs(out, left, path, wd, wl, gd, gl);
        return;
    }
    const bson_value_t *wv = bson_iter_value(want), *gv = bson_iter_value(got);
    bson_t a = BSON_INITIALIZER, b = BSON_INITIALIZER;
    bson_append_value(&a, "v", 1, wv);
    bson_append_value(&b, "v", 1, gv);
    bool same = bson_equal(&a, &b);
    if (!same) {
        char *ws = bson_as_relaxed_extended_json(&a, NULL);
        char *gs = bson_as_relaxed_extended_json(&b, NULL);
        bson_string_append_printf(out, "%s%s: expected %s %s, found %s %s", out->len ? "; " : "",
                                  path, tf_bson_type_name(wt), value_text(ws),
                                  tf_bson_type_name(gt), value_text(gs));
        (*left)--;
        bson_free(ws);
        bson_free(gs);
    }
    bson_destroy(&a);
    bson_destroy(&b);
}

static char *describe_diff(const bson_t *want, const bson_t *got)
{
    bson_string_t *out = bson_string_new("");
    int left = 5;
    diff_docs(out, &left, "", bson_get_data(want), want->len, bson_get_data(got), got->len);
    if (out->len == 0)
        bson_string_append(out, "differs (same fields)");
    return bson_string_free(out, false);
}

static void add_finding(verifier *v, const uint8_t id[12], finding_kind kind, char *detail)
{
    for (size_t i = 0; i < v->finding_count; i++) {
        if (!memcmp(v->findings[i].id, id, 12)) {
            bson_free(v->findings[i].detail);
            v->findings[i].kind = kind;
            v->findings[i].detail = detail;
            return;
        }
    }
    if (v->finding_count == v->finding_cap) {
        v->finding_cap = v->finding_cap ? v->finding_cap * 2 : 64;
        v->findings = bson_realloc(v->findings, v->finding_cap * sizeof *v->findings);
    }
    finding *f = &v->findings[v->finding_count++];
    memset(f, 0, sizeof *f);
    memcpy(f->id, id, 12);
    f->kind = kind;
    f->detail = detail;
}

/* Compares one target document with the map (NULL got: none has that _id);
 * returns whether they agree, with a finding recorded when not. */
static bool compare_one(verifier *v, const uint8_t id[12], const bson_t *got)
{
    expected *e = find_expected(v, id);
    if (e)
        e->seen = v->scan;
    if (!got && (!e || !e->doc))
        return true;
    if (!got) {
        add_finding(v, id, FIND_MISSING, NULL);
        return false;
    }
    if (!e || !e->doc) {
        char *json = bson_as_relaxed_extended_json(got, NULL);
        char *detail = bson_strdup_printf("%.200s", json ? json : "");
        bson_free(json);
        add_finding(v, id, FIND_EXTRA, detail);
        return false;
    }
    if (got->len == e->doc->len && !memcmp(bson_get_data(got), bson_get_data(e->doc), got->len))
        return true;
    add_finding(v, id, FIND_DIFFERS, describe_diff(e->doc, got));
    return false;
}

typedef struct scan_ctx {
    verifier *v;
    uint64_t documents, bad;
} scan_ctx;

static bool scan_doc(const bson_t *doc, void *arg)
{
    scan_ctx *c = arg;
    c->documents++;
    bson_iter_t it;
    uint8_t id[12] = {0};
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
        memcpy(id, bson_iter_oid(&it)->bytes, 12);
    else
        memset(id, 0xff, 12); /* no ObjectId _id: never one of ours */
    if (!compare_one(c->v, id, doc))
        c->bad++;
    return true;
}

typedef struct one_doc {
    bson_t *doc;
} one_doc;

static bool take_one(const bson_t *doc, void *arg)
{
    one_doc *o = arg;
    if (!o->doc)
        o->doc = bson_copy(doc);
    return false;
}

static bool read_target(verifier *v, const uint8_t id[12], bson_t **out, tf_error *err)
{
    bson_t filter = BSON_INITIALIZER;
    bson_oid_t oid;
    memcpy(oid.bytes, id, 12);
    BSON_APPEND_OID(&filter, "_id", &oid);
    one_doc o = {0};
    bool ok = tf_admin_find(v->admin, v->dst->database, v->spec->target_collection, &filter, 1,
                            take_one, &o, err);
    bson_destroy(&filter);
    *out = o.doc;
    return ok;
}

/* Whether the source's own position is no further than position (its
 * @@gtid_binlog_pos / @@gtid_executed): asked when no heartbeat said the
 * stream is idle. */
static bool take_text(void *arg, const tf_sync_column *columns, size_t column_count,
                      const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)columns;
    (void)err;
    char **out = arg;
    if (column_count > 0 && !nulls[0] && !*out)
        *out = tf_strndup(values[0].ptr, values[0].len);
    return true;
}

static bool source_at(verifier *v, const char *position)
{
    char *now = NULL;
    tf_error err = {0};
    bool ok = tf_sync_query(&v->conn,
                            v->mysql ? "SELECT @@GLOBAL.gtid_executed" : "SELECT @@gtid_binlog_pos",
                            5, take_text, &now, NULL, 0, &err) &&
              now && reached(v->mysql, position, now);
    bson_free(now);
    return ok;
}

/* Rounds of re-checks of the unconfirmed findings (see the top). */
static bool recheck(verifier *v, int64_t deadline, size_t *unsettled, tf_error *err)
{
    for (int round = 0; round < VERIFY_ROUNDS; round++) {
        size_t open = 0;
        for (size_t i = 0; i < v->finding_count; i++)
            open += !v->findings[i].confirmed;
        *unsettled = open;
        if (open == 0 || now_ms() > deadline)
            return true;
        char *c1 = NULL;
        if (!read_checkpoint(v, &c1, err))
            return false;
        bool ok = wait_engine(v, c1, deadline, err);
        uint64_t s1 = ok ? seq_at(v, c1) : 0;
        bson_free(c1);
        if (!ok)
            return false;
        bson_t **copies = bson_malloc0(v->finding_count * sizeof *copies);
        for (size_t i = 0; ok && i < v->finding_count; i++)
            if (!v->findings[i].confirmed)
                ok = read_target(v, v->findings[i].id, &copies[i], err);
        /* C2: the first checkpoint written after the reads, or, while the
         * flow and this stream are idle at the same position, that one. */
        char *after = NULL, *c2 = NULL;
        ok = ok && read_checkpoint(v, &after, err);
        while (ok && !c2) {
            char *cp = NULL;
            ok = read_checkpoint(v, &cp, err);
            if (!ok)
                break;
            if (cp && after && strcmp(cp, after) != 0) {
                c2 = cp;
            } else if (cp && !strcmp(cp, engine_position(v)) &&
                       (v->source_idle || source_at(v, cp))) {
                /* The flow and this stream hold everything the source has:
                 * nothing is in flight. */
                c2 = cp;
            } else {
                bson_free(cp);
                if (now_ms() > deadline)
                    break;
                pump(v, 50);
            }
        }
        ok = ok && c2 && wait_engine(v, c2, deadline, err);
        for (size_t i = 0; i < v->finding_count; i++) {
            finding *f = &v->findings[i];
            if (!ok || f->confirmed) {
                if (copies[i])
                    bson_destroy(copies[i]);
                continue;
            }
            expected *e = find_expected(v, f->id);
            bool untouched = !e || e->changed_seq <= s1;
            if (untouched) {
                if (compare_one(v, f->id, copies[i])) {
                    /* agreed: not a difference */
                    bson_free(f->detail);
                    *f = v->findings[--v->finding_count];
                    copies[i] = copies[v->finding_count];
                    copies[v->finding_count] = NULL;
                    i--;
                    continue;
                }
                v->findings[i].confirmed = true;
            }
            if (copies[i])
                bson_destroy(copies[i]);
        }
        bson_free(copies);
        bson_free(after);
        bson_free(c2);
        if (!ok && err->message[0])
            return false;
    }
    *unsettled = 0;
    for (size_t i = 0; i < v->finding_count; i++)
        *unsettled += !v->findings[i].confirmed;
    return true;
}

/* The expected documents written over the confirmed differences (strays
 * deleted), by _id. */
static bool repair(verifier *v, size_t *written, tf_error *err)
{
    *written = 0;
    for (size_t i = 0; i < v->finding_count; i++) {
        finding *f = &v->findings[i];
        if (!f->confirmed)
            continue;
        expected *e = find_expected(v, f->id);
        bson_t *key = bson_new();
        bson_oid_t oid;
        memcpy(oid.bytes, f->id, 12);
        BSON_APPEND_OID(key, "_id", &oid);
        tf_doc_op op = {0};
        if (e && e->doc)
            tf_doc_op_replace_steal(&op, key, bson_copy(e->doc));
        else
            tf_doc_op_delete_steal(&op, key);
        if (!tf_sink_add(v->sink, &op, err))
            return false;
        (*written)++;
        f->confirmed = false; /* checked again below */
    }
    return tf_sink_flush(v->sink, err);
}

static void print_findings(const verifier *v)
{
    size_t printed = 0;
    for (size_t i = 0; i < v->finding_count && printed < VERIFY_REPORT_MAX; i++) {
        const finding *f = &v->findings[i];
        if (!f->confirmed)
            continue;
        expected *e = find_expected(v, f->id);
        char *key = e && e->filter ? bson_as_relaxed_extended_json(e->filter, NULL) : NULL;
        bson_oid_t oid;
        memcpy(oid.bytes, f->id, 12);
        char hex[25];
        bson_oid_to_string(&oid, hex);
        const char *kind = f->kind == FIND_MISSING ? "missing"
                           : f->kind == FIND_EXTRA ? "extra"
                                                   : "differs";
        printf("%-8s %s _id %s%s%s\n", kind, key ? key : "", hex, f->detail ? ": " : "",
               f->detail ? f->detail : "");
        bson_free(key);
        printed++;
    }
}

/* --counts: SELECT COUNT(*) of the root table against the collection's
 * count, in rounds half a second apart until a round sees them equal (no
 * snapshot, no stream: counts move while changes are in flight, so a
 * round where both sides agree is the answer; a busy source may need
 * several). */
static bool take_count(void *arg, const tf_sync_column *columns, size_t column_count,
                       const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)columns;
    (void)err;
    if (column_count > 0 && !nulls[0])
        *(int64_t *)arg = strtoll(values[0].ptr, NULL, 10);
    return true;
}

/* COUNT(*) counts every root row, but a flow with a root filter keeps
 * only the rows it passes, with tapflow's comparisons (the server's
 * collation may disagree): no count of the source is then the number of
 * documents. */
static bool counts_comparable(const tf_flow_spec *spec, tf_error *err)
{
    if (!spec->shape.filter)
        return true;
    tf_error_set(err, TF_ERR_CONFIG, 0,
                 "flow %.100s filters its root rows (%.150s:%u): --counts would compare every "
                 "row of %.100s with the documents; use verify without --counts, or --sample N",
                 spec->name, spec->file, spec->shape.filter_pos.line, spec->source_table);
    return false;
}

static int verify_counts(verifier *v, int64_t deadline, int64_t t0)
{
    tf_error err = {0};
    char *sql = bson_strdup_printf("SELECT COUNT(*) FROM `%s`.`%s`", v->src->database,
                                   v->spec->source_table);
    int64_t source = -1, target = -1;
    bool agree = false;
    for (int round = 0; round < VERIFY_ROUNDS && !agree && now_ms() < deadline; round++) {
        if (round > 0) {
            struct timespec half = {0, 500 * 1000 * 1000};
            nanosleep(&half, NULL);
        }
        if (!tf_sync_query(&v->conn, sql, 0, take_count, &source, NULL, 0, &err) ||
            !tf_admin_count_all(v->admin, v->dst->database, v->spec->target_collection, &target,
                                &err)) {
            fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
            bson_free(sql);
            return 3;
        }
        agree = source == target;
    }
    bson_free(sql);
    printf("verify %s: counts: %" PRId64 " documents in %s.%s, %" PRId64 " rows in %s.%s: %s "
           "(%.1f s)\n",
           v->spec->name, target, v->dst->database, v->spec->target_collection, source,
           v->src->database, v->spec->source_table, agree ? "equal" : "DIFFERENT",
           (double)(now_ms() - t0) / 1000.0);
    return agree ? 0 : 1;
}

/* ---- set-up ---- */

static bool setup(verifier *v, tf_error *err)
{
    v->src = tfr_config_datasource(v->cfg, v->spec->source_datasource);
    v->dst = tfr_config_datasource(v->cfg, v->spec->target_datasource);
    if (!v->src || v->src->type != TFR_DS_MYSQL || !v->src->database)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s: datasource %s (read_from) is not a mysql datasource with a "
                            "database in %s",
                            v->spec->file, v->spec->source_datasource, v->cfg->file) == TF_OK;
    if (!v->dst || v->dst->type != TFR_DS_MONGODB)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s: datasource %s (write_to) is not a mongodb datasource in %s",
                            v->spec->file, v->spec->target_datasource, v->cfg->file) == TF_OK;
    if (!tfr_datasource_conn(v->cfg, v->src, &v->conn, err))
        return false;
    v->tables = tf_pipeline_flow_tables(v->spec, v->src->database, &v->table_count);
    /* The target: its checkpoint, its Decimal128 support (the flow's
     * documents follow it), its documents as they are (no _id derived). */
    tf_sink_options so;
    tf_sink_options_init(&so);
    so.uri = v->dst->uri;
    so.database = v->dst->database;
    so.collection = v->spec->target_collection;
    so.flow = v->spec->name;
    if (v->cfg->checkpoint_collection)
        so.checkpoint_collection = v->cfg->checkpoint_collection;
    so.fanout = TF_FANOUT_FORCE_RECOMPUTE;
    so.id_from_root_key = false;
    v->sink = tf_sink_open(&so, err);
    if (!v->sink)
        return false;
    v->admin = tf_admin_open(v->dst->uri, 5000, err);
    if (!v->admin)
        return false;
    tf_pipeline_options po = {0};
    char hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(v->spec, hash);
    po.spec = v->spec;
    po.spec_hash = hash;
    po.database = v->src->database;
    po.target = (tf_pipeline_target){.add = target_add,
                                     .submit = target_submit,
                                     .acknowledged = target_acknowledged,
                                     .wait = target_wait,
                                     .pending = target_pending,
                                     .record = target_record,
                                     .rebase = target_rebase,
                                     .commit = target_commit,
                                     .arg = v};
    v->pipeline = tf_pipeline_new(&po);
    bool supported = tf_sink_supports_decimal128(v->sink);
    tf_pipeline_set_decimal(v->pipeline, v->cfg->decimal == TFR_DECIMAL_STRING
                                             ? TF_PIPELINE_DECIMAL_STRING
                                         : v->cfg->decimal == TFR_DECIMAL_DOUBLE || !supported
                                             ? TF_PIPELINE_DECIMAL_DOUBLE
                                             : TF_PIPELINE_DECIMAL_KEEP);
    return tf_view_set_fanout(tf_pipeline_view(v->pipeline), TF_VIEW_FANOUT_RECOMPUTE, err) ==
           TF_OK;
}

static bool run_source(verifier *v, tf_error *err)
{
    tf_snapshot_options so = {0};
    so.conn = v->conn;
    so.tables = (const char *const *)v->tables;
    so.table_count = v->table_count;
    so.chunk_rows = 5000;
    so.cb.on_position = on_snapshot_position;
    so.cb.on_row = on_snapshot_row;
    so.cb.on_done = on_snapshot_done;
    so.arg = v;
    v->snapshot = tf_snapshot_new(v->base, &so, err);
    if (!v->snapshot || !tf_snapshot_start(v->snapshot, err))
        return false;
    while (!v->snapshot_done)
        event_base_dispatch(v->base);
    if (v->failed) {
        *err = v->err;
        return false;
    }
    tf_replica_options ro = {0};
    ro.conn = v->conn;
    const tfr_relay *relay = v->src->relay ? tfr_config_relay(v->cfg, v->src->relay) : NULL;
    if (relay) {
        ro.conn.host = relay->listen_host;
        ro.conn.port = relay->listen_port;
        ro.conn.socket_path = NULL;
    }
    ro.server_id = tfr_flow_server_id(v->cfg, v->spec->name) ^ 0x00800000u; /* not the flow's */
    ro.report_host = "tapflow-verify";
    tf_snapshot_replica_start(tf_snapshot_get_position(v->snapshot), &ro);
    ro.heartbeat_period = 0.5;
    ro.cb.on_transaction = on_transaction;
    ro.cb.on_event = on_replica_event;
    ro.cb.on_log = on_replica_log;
    ro.cb.on_stop = on_replica_stop;
    ro.arg = v;
    v->replica = tf_replica_new(v->base, &ro, err);
    return v->replica && tf_replica_start(v->replica, err);
}

static void cleanup(verifier *v)
{
    if (v->replica)
        tf_replica_destroy(v->replica);
    if (v->snapshot)
        tf_snapshot_destroy(v->snapshot);
    if (v->pipeline)
        tf_pipeline_destroy(v->pipeline);
    if (v->sink)
        tf_sink_destroy(v->sink);
    if (v->admin)
        tf_admin_destroy(v->admin);
    for (size_t i = 0; i < v->slot_cap; i++) {
        if (v->slots[i].filter)
            bson_destroy(v->slots[i].filter);
        if (v->slots[i].doc)
            bson_destroy(v->slots[i].doc);
    }
    bson_free(v->slots);
    tf_mariadb_gtid_pos_cleanup(&v->mariadb_pos);
    tf_gtid_set_destroy(v->mysql_pos);
    for (size_t i = 0; i < v->seq; i++)
        bson_free(v->positions[i]);
    bson_free(v->positions);
    for (size_t i = 0; i < v->finding_count; i++)
        bson_free(v->findings[i].detail);
    bson_free(v->findings);
    for (size_t i = 0; i < v->table_count; i++)
        bson_free(v->tables[i]);
    bson_free(v->tables);
    if (v->base)
        event_base_free(v->base);
}

static void usage(FILE *f)
{
    fputs("usage: tapflow-replica verify --flow FILE [--config FILE] [--counts | --sample N]\n"
          "                              [--repair] [--timeout SECONDS]\n"
          "\n"
          "Compares the flow's MongoDB documents with the documents its source tables\n"
          "give now, while the flow keeps streaming: a consistent read of the source, the\n"
          "binlog after it, and differences checked again once the flow has passed the\n"
          "changes in flight (no false positives from them). Full by default: every\n"
          "document field by field, BSON types and field order included.\n"
          "\n"
          "  --counts      only the number of documents against the root table's rows\n"
          "                (COUNT(*) and the collection's count, until a round agrees)\n"
          "  --sample N    N random root keys instead of every document\n"
          "  --repair      write the expected document over each difference (strays\n"
          "                deleted), then check those documents again\n"
          "  --timeout S   give up waiting for the flow after S seconds (default 300)\n"
          "\n"
          "Prints each missing, extra or differing document (with the differing paths)\n"
          "and a summary line. Exit 0: the wide table is right (with --repair: once\n"
          "repaired); 1: something differs;\n"
          "2: bad option; 3: could not verify (the flow is not running, source error).\n",
          f);
}

int tfr_verify_command(int argc, char **argv)
{
    const char *flow_file = NULL, *config = NULL;
    verify_mode mode = MODE_FULL;
    uint64_t sample = 0;
    bool do_repair = false;
    double timeout_s = 300;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--flow") && next) {
            flow_file = argv[++i];
        } else if (!strcmp(a, "--config") && next) {
            config = argv[++i];
        } else if (!strcmp(a, "--counts")) {
            mode = MODE_COUNTS;
        } else if (!strcmp(a, "--sample") && next) {
            errno = 0;
            sample = strtoull(next, &end, 10);
            if (errno || *end || sample == 0 || next[0] == '-') {
                fprintf(stderr, "tapflow-replica verify: --sample needs a count of 1 or more\n");
                return 2;
            }
            mode = MODE_SAMPLE;
            i++;
        } else if (!strcmp(a, "--repair")) {
            do_repair = true;
        } else if (!strcmp(a, "--timeout") && next) {
            timeout_s = strtod(next, &end);
            if (*end || timeout_s <= 0) {
                fprintf(stderr, "tapflow-replica verify: --timeout needs seconds\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tapflow-replica verify: unknown or incomplete option %s\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!flow_file) {
        fprintf(stderr, "tapflow-replica verify: --flow is required\n\n");
        usage(stderr);
        return 2;
    }
    char default_path[4096];
    if (!config)
        config = tfr_config_default_path(default_path, sizeof default_path);
    tfr_config cfg;
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    if (!tfr_config_load(config, &cfg, &err)) {
        fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
        return 2;
    }
    if (!tfr_config_resolve_passwords(&cfg, &err) ||
        tf_flow_parse_file(flow_file, &spec, &err) != TF_OK ||
        (mode == MODE_COUNTS && !counts_comparable(spec, &err))) {
        fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
        tf_flow_spec_destroy(spec);
        tfr_config_cleanup(&cfg);
        return 2;
    }
    tf_admin_quiet_driver_log();
    verifier v = {.cfg = &cfg, .spec = spec};
    tf_mariadb_gtid_pos_init(&v.mariadb_pos);
    v.base = event_base_new();
    int64_t t0 = now_ms();
    int64_t deadline = t0 + (int64_t)(timeout_s * 1000);
    int rc = 3;
    if (!setup(&v, &err) || (mode != MODE_COUNTS && !run_source(&v, &err))) {
        fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
        goto done;
    }
    if (mode != MODE_COUNTS && !wait_flow(&v, v.snapshot_gtid, deadline, &err)) {
        fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
        goto done;
    }
    size_t unsettled = 0, repaired = 0;
    uint64_t checked = 0, target_docs = 0;
    if (mode == MODE_COUNTS) {
        rc = verify_counts(&v, deadline, t0);
        goto done;
    }
    v.scan++;
    if (mode == MODE_FULL) {
        scan_ctx c = {.v = &v};
        if (!tf_admin_find(v.admin, v.dst->database, spec->target_collection, NULL, 0, scan_doc, &c,
                           &err)) {
            fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
            goto done;
        }
        target_docs = c.documents;
        for (size_t i = 0; i < v.slot_cap; i++)
            if (v.slots[i].in_use && v.slots[i].doc && v.slots[i].seen != v.scan)
                compare_one(&v, v.slots[i].id, NULL);
        checked = v.present > target_docs ? v.present : target_docs;
    } else {
        /* sample: N distinct present keys, at random */
        srand((unsigned)(t0 ^ (int64_t)getpid()));
        size_t want = sample < v.present ? (size_t)sample : v.present;
        for (size_t got = 0, tries = 0; got < want && tries < want * 50; tries++) {
            size_t i = ((size_t)rand() * (size_t)RAND_MAX + (size_t)rand()) % v.slot_cap;
            expected *e = &v.slots[i];
            if (!e->in_use || !e->doc || e->seen == v.scan)
                continue;
            e->seen = v.scan;
            bson_t *doc = NULL;
            if (!read_target(&v, e->id, &doc, &err)) {
                fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
                goto done;
            }
            compare_one(&v, e->id, doc);
            if (doc)
                bson_destroy(doc);
            got++;
        }
        checked = want;
    }
    size_t first_findings = v.finding_count;
    if (!recheck(&v, deadline, &unsettled, &err)) {
        fprintf(stderr, "tapflow-replica verify: %s\n", err.message);
        goto done;
    }
    print_findings(&v);
    size_t agreed = first_findings - v.finding_count;
    size_t counts[3] = {0};
    for (size_t i = 0; i < v.finding_count; i++)
        if (v.findings[i].confirmed)
            counts[v.findings[i].kind]++;
    size_t bad = counts[0] + counts[1] + counts[2];
    if (do_repair && bad > 0) {
        if (!repair(&v, &repaired, &err) || !recheck(&v, deadline, &unsettled, &err)) {
            fprintf(stderr, "tapflow-replica verify: repair: %s\n", err.message);
            goto done;
        }
        size_t still = 0;
        for (size_t i = 0; i < v.finding_count; i++)
            still += v.findings[i].confirmed;
        printf("repaired %zu document(s); checked again: %zu still differ%s\n", repaired, still,
               still ? "" : " (the wide table is right now)");
        print_findings(&v);
        if (still == 0)
            bad = 0;
    }
    printf("verify %s: %s, %" PRIu64 " documents checked at source position %s and after: %zu "
           "missing, %zu extra, %zu differing%s; %zu looked different while changes were in "
           "flight and agreed on a second look%s (%.1f s)\n",
           spec->name, mode == MODE_FULL ? "full" : "sample", checked, v.snapshot_gtid, counts[0],
           counts[1], counts[2], do_repair && repaired ? " (before repair)" : "", agreed,
           unsettled ? "; some kept changing and could not be checked" : "",
           (double)(now_ms() - t0) / 1000.0);
    if (unsettled)
        printf("unsettled: %zu document(s) changed in every round; run verify again when the "
               "source is quieter\n",
               unsettled);
    rc = bad ? 1 : 0;
done:
    cleanup(&v);
    tf_flow_spec_destroy(spec);
    tfr_config_cleanup(&cfg);
    return rc;
}
