/* replica_txn.c — a transaction of replica/ as a tf_pipeline_txn: its row
 * changes (tf_replica_rows) in binlog order, then its QUERY events. */
#include "pipeline.h"
#include "replica.h"

#include <stdlib.h>

/* QUERY_COMPRESSED statements are inflated up to this size. */
#define MAX_STATEMENT_BYTES (64u << 20)

typedef struct replica_txn_it {
    const tf_replica_txn *txn;
    tf_replica_rows rows;
    bool rows_done;
    size_t next_event; /* statements: the next event to look at */
    uint8_t *inflated; /* the last QUERY_COMPRESSED statement */
} replica_txn_it;

static tf_status next_item(void *arg, tf_pipeline_item *item, bool *done, tf_error *err)
{
    replica_txn_it *it = arg;
    *done = false;
    memset(item, 0, sizeof *item);
    if (!it->rows_done) {
        tf_replica_row row;
        bool end = false;
        if (tf_replica_rows_next(&it->rows, &row, &end, err) != TF_OK)
            return TF_MALFORMED;
        if (!end) {
            item->kind = TF_PIPELINE_ITEM_ROW;
            item->table = row.table;
            item->rows_kind = row.kind;
            item->before = row.before;
            item->after = row.after;
            item->before_full = row.before_full;
            item->after_full = row.after_full;
            return TF_OK;
        }
        it->rows_done = true;
    }
    free(it->inflated);
    it->inflated = NULL;
    while (it->next_event < it->txn->event_count) {
        const tf_replica_event *ev = &it->txn->events[it->next_event++];
        if (ev->event.kind != TF_EVENT_QUERY)
            continue;
        const tf_query_event *q = &ev->event.query;
        item->kind = TF_PIPELINE_ITEM_STATEMENT;
        item->database = q->database;
        item->sql = q->statement;
        if (q->compressed) {
            size_t len = 0;
            if (tf_query_uncompress(q, MAX_STATEMENT_BYTES, &it->inflated, &len, err) != TF_OK) {
                tf_error_prefix(err, "transaction %s: QUERY_COMPRESSED at %s:%" PRIu64,
                                it->txn->gtid, ev->log_file ? ev->log_file : "?", ev->pos);
                return TF_MALFORMED;
            }
            item->sql.ptr = (const char *)it->inflated;
            item->sql.len = len;
        }
        return TF_OK;
    }
    *done = true;
    return TF_OK;
}

bool tf_pipeline_apply_replica_txn(tf_pipeline *p, const tf_replica_txn *txn, tf_error *err)
{
    replica_txn_it it = {.txn = txn};
    tf_replica_rows_init(&it.rows, txn);
    tf_pipeline_txn ptxn = {
        .gtid = txn->gtid,
        .commit_timestamp_us = txn->commit_timestamp_us,
        .log_file = txn->log_file,
        .end_pos = txn->end_pos,
        .next = next_item,
        .it = &it,
    };
    bool ok = tf_pipeline_apply(p, &ptxn, err);
    tf_replica_rows_cleanup(&it.rows);
    free(it.inflated);
    return ok;
}
