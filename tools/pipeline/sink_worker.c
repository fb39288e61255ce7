/* sink_worker.c — the sink's thread and its command queue (sink_worker.h). */
#include "sink_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum cmd_kind {
    CMD_WRITE = 0,
    CMD_STATE_WRITE,
    CMD_STATE_PUT,
    CMD_COMMIT,
    CMD_STATE_REMOVE,
} cmd_kind;

typedef struct worker_cmd {
    cmd_kind kind;
    bool ticket;
    bool ahead;       /* WRITE: may run before what was queued earlier */
    uint64_t number;  /* place in the queue, from 1 */
    uint64_t tickets; /* ticketed commands queued up to this one */
    tf_doc_op *ops;   /* WRITE */
    size_t op_count;
    bson_oid_t *ids;    /* WRITE: each op's document, once looked up */
    bool ids_known;     /* ids was looked up ... */
    bool ids_all;       /* ... and every op addresses one document */
    size_t *order;      /* a write run in chunks: its ops in writing order */
    size_t written;     /* ... and how many of them are written */
    int64_t generation; /* STATE_WRITE, STATE_REMOVE */
    char *chunk;        /* STATE_* */
    uint8_t *data;      /* STATE_WRITE, STATE_PUT */
    size_t len;
    tf_checkpoint cp; /* COMMIT: owned strings */
    size_t bytes;     /* what it holds, for the queue's bound */
    struct worker_cmd *next;
} worker_cmd;

typedef struct done_mark {
    uint64_t number, tickets; /* of a command (worker_cmd) */
} done_mark;

struct tf_sink_worker {
    tf_sink *sink;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a command was queued, or stop */
    pthread_cond_t done; /* a command finished, or the thread ended */
    worker_cmd *head, *tail;
    worker_cmd *current;     /* a long write between two of its chunks */
    uint64_t queued;         /* commands queued so far */
    uint64_t ticketed;       /* ticketed commands queued so far */
    uint64_t done_upto;      /* commands done, every one up to this number */
    uint64_t writes_done[2]; /* ticketed writes done in any order: [ahead] */
    done_mark *early;        /* commands done before an earlier one */
    size_t n_early, cap_early;
    size_t chunk_ops;    /* a long write's chunk: 4 ops per connection */
    size_t queued_bytes; /* queued + running */
    size_t pending_ops;  /* queued + running WRITE ops */
    bool running;        /* a command is being run */
    bool stopping, exited;
    bool failed;
    tf_error error;
    uint64_t acknowledged;
    tf_sink_stats stats;
    void (*on_done)(void *arg);
    void *arg;
};

static void cmd_free(worker_cmd *c)
{
    for (size_t i = 0; i < c->op_count; i++)
        tf_doc_op_cleanup(&c->ops[i]);
    bson_free(c->ops);
    bson_free(c->ids);
    bson_free(c->order);
    bson_free(c->chunk);
    bson_free(c->data);
    tf_checkpoint_cleanup(&c->cp);
    bson_free(c);
}

/* Adds ops[order[from..to)] (or ops[from..to) without an order) to the
 * sink and writes them. The sink takes each op's documents, on failure
 * too; what is not added stays in c for cmd_free. */
static bool write_ops(tf_sink *sink, worker_cmd *c, size_t from, size_t to, tf_error *err)
{
    for (size_t k = from; k < to; k++) {
        size_t i = c->order ? c->order[k] : k;
        tf_doc_op op = c->ops[i];
        memset(&c->ops[i], 0, sizeof c->ops[i]);
        if (!tf_sink_add(sink, &op, err))
            return false;
    }
    return tf_sink_flush(sink, err);
}

static bool run_cmd(tf_sink *sink, worker_cmd *c, tf_error *err)
{
    switch (c->kind) {
    case CMD_WRITE: return write_ops(sink, c, 0, c->op_count, err);
    case CMD_STATE_WRITE:
        return tf_sink_state_write(sink, c->generation, c->chunk, c->data, c->len, err);
    case CMD_STATE_PUT: return tf_sink_state_put(sink, c->chunk, c->data, c->len, err);
    case CMD_COMMIT: return tf_sink_commit(sink, &c->cp, err);
    case CMD_STATE_REMOVE: return tf_sink_state_remove(sink, c->generation, c->chunk, err);
    }
    return tf_error_set(err, TF_ERR_CONFIG, 0, "sink worker: unknown command"), false;
}

/* ---- writes ahead of their turn ----
 *
 * A write queued with tf_sink_worker_write_ahead (a few documents, the
 * pipeline's small transactions) runs before the commands queued ahead of
 * it, and between two chunks of a long write, when none of those writes
 * touches its documents: each document's ops still reach the target in
 * queue order, and a checkpoint still comes after every write queued
 * before it. A change committed behind a fan-out of hundreds of documents
 * is then visible in one chunk's time instead of the fan-out's. */

/* c's documents (ids_all: every op addresses one, by its root key). */
static void cmd_ids(worker_cmd *c)
{
    if (c->ids_known)
        return;
    c->ids_known = true;
    c->ids_all = c->kind == CMD_WRITE;
    if (!c->ids_all || !c->op_count)
        return;
    c->ids = bson_malloc(c->op_count * sizeof *c->ids);
    for (size_t i = 0; i < c->op_count && c->ids_all; i++) {
        tf_error ignored = {0};
        c->ids_all = c->ops[i].kind != TF_DOC_OP_UPDATE_MANY && c->ops[i].filter &&
                     tf_sink_derive_id(c->ops[i].filter, &c->ids[i], &ignored);
    }
}

/* Whether a's documents are none of b's ops from its k-th on (in b's
 * writing order); a's ids are known and all. */
static bool disjoint(worker_cmd *a, worker_cmd *b, size_t k)
{
    if (b->kind != CMD_WRITE)
        return true;
    cmd_ids(b);
    if (!b->ids_all)
        return false;
    for (; k < b->op_count; k++) {
        const bson_oid_t *id = &b->ids[b->order ? b->order[k] : k];
        for (size_t i = 0; i < a->op_count; i++)
            if (memcmp(id, &a->ids[i], sizeof *id) == 0)
                return false;
    }
    return true;
}

/* A queued write ahead of its turn that may run now (taken out of the
 * queue), or NULL. Under w->mu. */
static worker_cmd *take_ahead(tf_sink_worker *w)
{
    if (!w->current && (!w->head || w->head->ahead))
        return NULL; /* nothing to pass */
    worker_cmd *prev = NULL;
    int looked = 0;
    for (worker_cmd *q = w->head; q && looked < 64; prev = q, q = q->next, looked++) {
        if (!q->ahead)
            continue;
        cmd_ids(q);
        bool free_to_go = q->ids_all;
        if (free_to_go && w->current)
            free_to_go = disjoint(q, w->current, w->current->written);
        for (worker_cmd *p = w->head; free_to_go && p != q; p = p->next)
            free_to_go = disjoint(q, p, 0);
        if (!free_to_go)
            continue;
        if (prev)
            prev->next = q->next;
        else
            w->head = q->next;
        if (w->tail == q)
            w->tail = prev;
        q->next = NULL;
        return q;
    }
    return NULL;
}

/* A write long enough to be run in chunks, with the order they take: each
 * chunk 4 ops of each connection's documents, each document's ops in
 * their order (the sink splits a chunk by the same connection_of). Writes
 * with inserts (a snapshot's, a re-sync's) run whole: their speed is the
 * rebuild's. */
static bool plan_chunks(tf_sink_worker *w, worker_cmd *c)
{
    if (c->kind != CMD_WRITE || c->op_count <= w->chunk_ops)
        return false;
    for (size_t i = 0; i < c->op_count; i++)
        if (c->ops[i].kind == TF_DOC_OP_INSERT)
            return false;
    cmd_ids(c);
    if (!c->ids_all)
        return false;
    size_t lanes = tf_sink_connections(w->sink);
    size_t *lane = bson_malloc(c->op_count * sizeof *lane);
    size_t *left = bson_malloc0(lanes * sizeof *left);
    size_t *next = bson_malloc0(lanes * sizeof *next); /* per lane: next op to look at */
    for (size_t i = 0; i < c->op_count; i++) {
        lane[i] = tf_sink_connection_of(&c->ids[i], lanes);
        left[lane[i]]++;
    }
    c->order = bson_malloc(c->op_count * sizeof *c->order);
    size_t n = 0, per_lane = w->chunk_ops / lanes;
    while (n < c->op_count)
        for (size_t l = 0; l < lanes; l++)
            for (size_t taken = 0; taken < per_lane && left[l]; next[l]++)
                if (lane[next[l]] == l) {
                    c->order[n++] = next[l];
                    left[l]--;
                    taken++;
                }
    bson_free(lane);
    bson_free(left);
    bson_free(next);
    return true;
}

/* c is done: counts it, in queue order. Under w->mu. */
static void cmd_done(tf_sink_worker *w, const worker_cmd *c)
{
    if (c->ticket && c->kind == CMD_WRITE)
        w->writes_done[c->ahead]++;
    if (c->number != w->done_upto + 1) {
        if (w->n_early == w->cap_early) {
            w->cap_early = w->cap_early ? 2 * w->cap_early : 8;
            w->early = bson_realloc(w->early, w->cap_early * sizeof *w->early);
        }
        w->early[w->n_early++] = (done_mark){c->number, c->tickets};
        return;
    }
    w->done_upto = c->number;
    w->acknowledged = c->tickets;
    for (size_t i = 0; i < w->n_early;) {
        if (w->early[i].number != w->done_upto + 1) {
            i++;
            continue;
        }
        w->done_upto = w->early[i].number;
        w->acknowledged = w->early[i].tickets;
        w->early[i] = w->early[--w->n_early];
        i = 0;
    }
}

static void drop_queued(tf_sink_worker *w)
{
    while (w->head) {
        worker_cmd *rest = w->head;
        w->head = rest->next;
        cmd_free(rest);
    }
    w->tail = NULL;
    if (w->current) {
        cmd_free(w->current);
        w->current = NULL;
    }
}

static void *worker_main(void *arg)
{
    tf_sink_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->current && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stopping)
            break;
        /* what runs next: a write ahead of its turn, else the long
         * write's next chunk, else the queue's first command */
        worker_cmd *c = take_ahead(w);
        bool chunk = false, first = false;
        if (!c && w->current) {
            c = w->current;
            chunk = true;
        } else if (!c) {
            c = w->head;
            w->head = c->next;
            if (!w->head)
                w->tail = NULL;
            c->next = NULL;
            first = true;
        }
        w->running = true;
        pthread_mutex_unlock(&w->mu);

        /* out of the queue, c is this thread's alone: planned unlocked */
        if (first && plan_chunks(w, c))
            chunk = true;
        tf_error err = {0};
        size_t from = c->written;
        size_t to = chunk && from + w->chunk_ops < c->op_count ? from + w->chunk_ops : c->op_count;
        bool ok = chunk ? write_ops(w->sink, c, from, to, &err) : run_cmd(w->sink, c, &err);
        bool whole = !chunk || to == c->op_count;
        tf_sink_stats stats;
        tf_sink_get_stats(w->sink, &stats);

        pthread_mutex_lock(&w->mu);
        w->running = false;
        w->stats = stats;
        size_t ops = c->kind == CMD_WRITE ? to - from : 0;
        c->written = to;
        w->pending_ops -= ops;
        if (!whole)
            w->current = c;
        else {
            if (c == w->current)
                w->current = NULL;
            w->queued_bytes -= c->bytes;
            if (ok)
                cmd_done(w, c);
            cmd_free(c);
        }
        if (!ok && !w->failed) {
            w->failed = true;
            w->error = err;
            /* what was queued after it must not be written */
            drop_queued(w);
            w->queued_bytes = 0;
            w->pending_ops = 0;
        }
        pthread_cond_broadcast(&w->done);
        pthread_mutex_unlock(&w->mu);
        if (w->on_done && whole)
            w->on_done(w->arg);
        pthread_mutex_lock(&w->mu);
    }
    w->exited = true;
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

tf_sink_worker *tf_sink_worker_start(tf_sink *sink, void (*on_done)(void *arg), void *arg,
                                     tf_error *err)
{
    tf_sink_worker *w = bson_malloc0(sizeof *w);
    w->sink = sink;
    w->on_done = on_done;
    w->arg = arg;
    w->chunk_ops = 4 * tf_sink_connections(sink);
    tf_sink_get_stats(sink, &w->stats);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        tf_error_set(err, TF_ERR_IO, 0, "starting the target's writer thread: %s", strerror(rc));
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
        bson_free(w);
        return NULL;
    }
    return w;
}

bool tf_sink_worker_stop(tf_sink_worker *w, int64_t timeout_ms)
{
    if (!w)
        return true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work);
    int rc = 0;
    while (!w->exited && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->done, &w->mu, &until);
    bool exited = w->exited;
    pthread_mutex_unlock(&w->mu);
    if (!exited) {
        pthread_detach(w->thread);
        return false;
    }
    pthread_join(w->thread, NULL);
    drop_queued(w);
    bson_free(w->early);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    bson_free(w);
    return true;
}

/* Queues c (taken, failed or not). */
static bool enqueue(tf_sink_worker *w, worker_cmd *c, tf_error *err)
{
    pthread_mutex_lock(&w->mu);
    if (w->failed) {
        *err = w->error;
        pthread_mutex_unlock(&w->mu);
        cmd_free(c);
        return false;
    }
    c->number = ++w->queued;
    c->tickets = w->ticketed += c->ticket;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->queued_bytes += c->bytes;
    if (c->kind == CMD_WRITE)
        w->pending_ops += c->op_count;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return true;
}

static worker_cmd *cmd_new(cmd_kind kind, size_t bytes)
{
    worker_cmd *c = bson_malloc0(sizeof *c);
    c->kind = kind;
    c->bytes = bytes + sizeof *c;
    return c;
}

static worker_cmd *write_cmd(tf_doc_op *ops, size_t n, bool ticket)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += tf_doc_op_size(&ops[i]);
    worker_cmd *c = cmd_new(CMD_WRITE, bytes);
    c->ops = ops;
    c->op_count = n;
    c->ticket = ticket;
    return c;
}

bool tf_sink_worker_write(tf_sink_worker *w, tf_doc_op *ops, size_t n, bool ticket, tf_error *err)
{
    return enqueue(w, write_cmd(ops, n, ticket), err);
}

bool tf_sink_worker_write_ahead(tf_sink_worker *w, tf_doc_op *ops, size_t n, tf_error *err)
{
    worker_cmd *c = write_cmd(ops, n, true);
    c->ahead = true;
    return enqueue(w, c, err);
}

static worker_cmd *chunk_cmd(cmd_kind kind, int64_t generation, const char *chunk,
                             const uint8_t *data, size_t len)
{
    worker_cmd *c = cmd_new(kind, len);
    c->generation = generation;
    c->chunk = bson_strdup(chunk);
    if (data) {
        c->data = bson_malloc(len ? len : 1);
        memcpy(c->data, data, len);
        c->len = len;
    }
    return c;
}

bool tf_sink_worker_state_write(tf_sink_worker *w, int64_t generation, const char *chunk,
                                const uint8_t *data, size_t len, tf_error *err)
{
    return enqueue(w, chunk_cmd(CMD_STATE_WRITE, generation, chunk, data, len), err);
}

bool tf_sink_worker_state_put(tf_sink_worker *w, const char *chunk, const uint8_t *data, size_t len,
                              tf_error *err)
{
    return enqueue(w, chunk_cmd(CMD_STATE_PUT, 0, chunk, data, len), err);
}

bool tf_sink_worker_state_remove(tf_sink_worker *w, int64_t generation, const char *chunk,
                                 tf_error *err)
{
    return enqueue(w, chunk_cmd(CMD_STATE_REMOVE, generation, chunk, NULL, 0), err);
}

static char *dup_or_null(const char *s) { return s ? bson_strdup(s) : NULL; }

bool tf_sink_worker_commit(tf_sink_worker *w, const tf_checkpoint *cp, tf_error *err)
{
    worker_cmd *c = cmd_new(CMD_COMMIT, 0);
    c->ticket = true;
    c->cp = *cp;
    c->cp.gtid = dup_or_null(cp->gtid);
    c->cp.flavour = dup_or_null(cp->flavour);
    c->cp.server_uuid = dup_or_null(cp->server_uuid);
    c->cp.binlog_file = dup_or_null(cp->binlog_file);
    c->cp.spec_hash = dup_or_null(cp->spec_hash);
    c->cp.version = dup_or_null(cp->version);
    return enqueue(w, c, err);
}

bool tf_sink_worker_wait(tf_sink_worker *w, size_t max_queued_bytes, tf_error *err)
{
    pthread_mutex_lock(&w->mu);
    while (!w->failed && !w->exited &&
           (max_queued_bytes ? w->queued_bytes > max_queued_bytes
                             : w->head || w->current || w->running))
        pthread_cond_wait(&w->done, &w->mu);
    bool ok = !w->failed;
    if (!ok)
        *err = w->error;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

bool tf_sink_worker_ok(tf_sink_worker *w, tf_error *err)
{
    pthread_mutex_lock(&w->mu);
    bool ok = !w->failed;
    if (!ok)
        *err = w->error;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

uint64_t tf_sink_worker_acknowledged(tf_sink_worker *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->acknowledged;
    pthread_mutex_unlock(&w->mu);
    return n;
}

uint64_t tf_sink_worker_writes_done(tf_sink_worker *w, bool ahead)
{
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->writes_done[ahead];
    pthread_mutex_unlock(&w->mu);
    return n;
}

size_t tf_sink_worker_pending_ops(tf_sink_worker *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->pending_ops;
    pthread_mutex_unlock(&w->mu);
    return n;
}

size_t tf_sink_worker_queued_bytes(tf_sink_worker *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->queued_bytes;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void tf_sink_worker_get_stats(tf_sink_worker *w, tf_sink_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
