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
    tf_doc_op *ops; /* WRITE */
    size_t op_count;
    int64_t generation; /* STATE_WRITE, STATE_REMOVE */
    char *chunk;        /* STATE_* */
    uint8_t *data;      /* STATE_WRITE, STATE_PUT */
    size_t len;
    tf_checkpoint cp; /* COMMIT: owned strings */
    size_t bytes;     /* what it holds, for the queue's bound */
    struct worker_cmd *next;
} worker_cmd;

struct tf_sink_worker {
    tf_sink *sink;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a command was queued, or stop */
    pthread_cond_t done; /* a command finished, or the thread ended */
    worker_cmd *head, *tail;
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
    bson_free(c->chunk);
    bson_free(c->data);
    tf_checkpoint_cleanup(&c->cp);
    bson_free(c);
}

static bool run_cmd(tf_sink *sink, worker_cmd *c, tf_error *err)
{
    switch (c->kind) {
    case CMD_WRITE:
        for (size_t i = 0; i < c->op_count; i++) {
            /* tf_sink_add takes the op's documents, on failure too */
            tf_doc_op op = c->ops[i];
            memset(&c->ops[i], 0, sizeof c->ops[i]);
            if (!tf_sink_add(sink, &op, err)) {
                for (size_t k = i + 1; k < c->op_count; k++)
                    tf_doc_op_cleanup(&c->ops[k]);
                c->op_count = 0;
                return false;
            }
        }
        c->op_count = 0;
        return tf_sink_flush(sink, err);
    case CMD_STATE_WRITE:
        return tf_sink_state_write(sink, c->generation, c->chunk, c->data, c->len, err);
    case CMD_STATE_PUT: return tf_sink_state_put(sink, c->chunk, c->data, c->len, err);
    case CMD_COMMIT: return tf_sink_commit(sink, &c->cp, err);
    case CMD_STATE_REMOVE: return tf_sink_state_remove(sink, c->generation, c->chunk, err);
    }
    return tf_error_set(err, TF_ERR_CONFIG, 0, "sink worker: unknown command"), false;
}

static void *worker_main(void *arg)
{
    tf_sink_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stopping)
            break;
        worker_cmd *c = w->head;
        w->head = c->next;
        if (!w->head)
            w->tail = NULL;
        w->running = true;
        pthread_mutex_unlock(&w->mu);

        tf_error err = {0};
        size_t ops = c->kind == CMD_WRITE ? c->op_count : 0;
        bool ok = run_cmd(w->sink, c, &err);
        tf_sink_stats stats;
        tf_sink_get_stats(w->sink, &stats);

        pthread_mutex_lock(&w->mu);
        w->running = false;
        w->stats = stats;
        w->queued_bytes -= c->bytes;
        w->pending_ops -= ops;
        if (ok && c->ticket)
            w->acknowledged++;
        cmd_free(c);
        if (!ok && !w->failed) {
            w->failed = true;
            w->error = err;
            /* what was queued after it must not be written */
            while (w->head) {
                worker_cmd *rest = w->head;
                w->head = rest->next;
                cmd_free(rest);
            }
            w->tail = NULL;
            w->queued_bytes = 0;
            w->pending_ops = 0;
        }
        pthread_cond_broadcast(&w->done);
        pthread_mutex_unlock(&w->mu);
        if (w->on_done)
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
    while (w->head) {
        worker_cmd *c = w->head;
        w->head = c->next;
        cmd_free(c);
    }
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

bool tf_sink_worker_write(tf_sink_worker *w, tf_doc_op *ops, size_t n, bool ticket, tf_error *err)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += tf_doc_op_size(&ops[i]);
    worker_cmd *c = cmd_new(CMD_WRITE, bytes);
    c->ops = ops;
    c->op_count = n;
    c->ticket = ticket;
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
           (max_queued_bytes ? w->queued_bytes > max_queued_bytes : w->head || w->running))
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
