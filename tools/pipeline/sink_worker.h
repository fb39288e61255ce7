/* sink_worker.h — a tf_sink driven from a thread of its own.
 *
 * mongo-c-driver calls block, and the sink retries with backoff: on the
 * event loop a slow target would stop the source being read (heartbeats
 * missed, a healthy connection declared dead) and the status going stale.
 * The worker takes commands in order from a queue and runs them against
 * the sink; the loop thread only queues and polls. Once a worker runs, the
 * loop thread may call the sink itself only while tf_sink_worker_wait says
 * nothing is queued (and it submits nothing meanwhile).
 *
 * Every command runs after the ones queued before it (but for writes
 * queued ahead of their turn, below), so a checkpoint is written only
 * after the documents and state chunks queued ahead of it.
 * The first failure is kept: later commands are dropped, and every call
 * after it returns false with that error (the daemon stops; the stored
 * checkpoint stays consistent, see state_store.h).
 *
 * Commands queued with a ticket count, once done, in
 * tf_sink_worker_acknowledged: the pipeline's way of knowing which of its
 * submissions are written. */
#ifndef TAPFLOW_SINK_WORKER_H
#define TAPFLOW_SINK_WORKER_H

#include "sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_sink_worker tf_sink_worker;

/* Starts a thread writing through sink (which must outlive the worker).
 * on_done (may be NULL) runs on the worker's thread after each command,
 * and after a failure: it must only wake the loop. */
tf_sink_worker *tf_sink_worker_start(tf_sink *sink, void (*on_done)(void *arg), void *arg,
                                     tf_error *err);
/* Asks the thread to stop after its current command, dropping what is
 * queued, and waits at most timeout_ms for it. True when it stopped and the
 * worker is freed; false when the thread is still inside a target call (a
 * hung server): the worker and its sink are then left to the process's
 * exit. NULL is fine. */
bool tf_sink_worker_stop(tf_sink_worker *w, int64_t timeout_ms);

/* Queues the write of n operations (the worker owns ops, an array of
 * bson_malloc, and their documents, from the call on, failed or not). */
bool tf_sink_worker_write(tf_sink_worker *w, tf_doc_op *ops, size_t n, bool ticket, tf_error *err);
/* Queues the write of n operations, with a ticket, to run ahead of its
 * turn: before the commands queued earlier (between two chunks of a long
 * write, too) as soon as none of the writes it would pass touches its
 * documents. Each document's ops still reach the target in queue order;
 * a checkpoint queued before it still follows every write queued before
 * the checkpoint. For a few documents (a long write is run in chunks of
 * 4 ops per connection, so such a write waits for one chunk at most). */
bool tf_sink_worker_write_ahead(tf_sink_worker *w, tf_doc_op *ops, size_t n, tf_error *err);
/* Queues a generation chunk (tf_sink_state_write); data is copied. */
bool tf_sink_worker_state_write(tf_sink_worker *w, int64_t generation, const char *chunk,
                                const uint8_t *data, size_t len, tf_error *err);
/* Queues a slotted chunk for the next checkpoint (tf_sink_state_put);
 * data is copied. */
bool tf_sink_worker_state_put(tf_sink_worker *w, const char *chunk, const uint8_t *data, size_t len,
                              tf_error *err);
/* Queues the checkpoint (tf_sink_commit; cp is copied), always with a
 * ticket. */
bool tf_sink_worker_commit(tf_sink_worker *w, const tf_checkpoint *cp, tf_error *err);
/* Queues the removal of a generation chunk (tf_sink_state_remove). */
bool tf_sink_worker_state_remove(tf_sink_worker *w, int64_t generation, const char *chunk,
                                 tf_error *err);

/* Blocks until at most max_queued_bytes of commands wait (0: until the
 * worker is idle with nothing queued); false with the failure, if any. */
bool tf_sink_worker_wait(tf_sink_worker *w, size_t max_queued_bytes, tf_error *err);
/* False, with the failure in *err, once a command has failed. */
bool tf_sink_worker_ok(tf_sink_worker *w, tf_error *err);

/* Ticketed commands done so far, each with every command queued before
 * it (a write ahead of its turn counts once those are done too). */
uint64_t tf_sink_worker_acknowledged(tf_sink_worker *w);
/* Ticketed writes done so far in any order: those queued ahead of their
 * turn (ahead), or the others. */
uint64_t tf_sink_worker_writes_done(tf_sink_worker *w, bool ahead);
/* Operations queued or being written. */
size_t tf_sink_worker_pending_ops(tf_sink_worker *w);
/* Bytes of commands queued or being run. */
size_t tf_sink_worker_queued_bytes(tf_sink_worker *w);
/* The sink's counters as of the last command done. */
void tf_sink_worker_get_stats(tf_sink_worker *w, tf_sink_stats *out);

#endif
