/* statements.c — QUERY events of the stream, acted on for the flow's
 * tables (pipeline.h, tf_pipeline_apply). The statement is classified by
 * protocol/ (tf_statement_classify); only what it names matters: a table
 * is the flow's when its database (the statement's qualifier, else the
 * event's current database) is the flow's and the view reads it. */
#include "pipeline_internal.h"

#include <stdio.h>
#include <string.h>

/* A statement's table as "db.table" parts, NUL-terminated. */
static void table_names(const tf_pipeline_item *item, tf_str db, tf_str table, char *dbuf,
                        size_t dcap, char *tbuf, size_t tcap)
{
    if (db.len == 0)
        db = item->database;
    snprintf(dbuf, dcap, "%.*s", (int)db.len, db.ptr ? db.ptr : "");
    snprintf(tbuf, tcap, "%.*s", (int)table.len, table.ptr ? table.ptr : "");
}

static bool is_flow_table(const tf_pipeline *p, const char *db, const char *table)
{
    return strcmp(db, p->database) == 0 && tf_view_uses_table(p->view, table);
}

/* The statement for messages: one line, at most 200 bytes. */
static void statement_excerpt(const tf_pipeline_item *item, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < item->sql.len && n + 4 < cap && n < 200; i++) {
        char c = item->sql.ptr[i];
        out[n++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    if (item->sql.len > n && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
}

static const char *kind_word(tf_statement_kind kind)
{
    switch (kind) {
    case TF_STMT_DROP_TABLE: return "DROP TABLE";
    case TF_STMT_RENAME_TABLE: return "RENAME TABLE";
    case TF_STMT_ALTER_TABLE: return "ALTER TABLE ... RENAME";
    default: return "statement";
    }
}

static bool stop_for(tf_pipeline *p, const tf_pipeline_txn *txn, const tf_statement *st,
                     const char *table, tf_error *err)
{
    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                        "transaction %s: %s of %s.%s, a table of flow %s: the flow cannot follow "
                        "(its documents would lose that table's data); restore the table and "
                        "restart with --resnapshot, or change the flow",
                        txn->gtid, kind_word(st->kind), p->database, table, p->spec->name),
           false;
}

/* Every flow table (a statement whose tables are not known). */
static void resync_all(tf_pipeline *p, bool force)
{
    resync_table_hit(p, p->spec->source_table, true, force);
    for (size_t i = 0; i < p->spec->lookup_count; i++)
        resync_table_hit(p, p->spec->lookups[i].table, true, force);
}

bool pipeline_statement(tf_pipeline *p, const tf_pipeline_txn *txn, const tf_pipeline_item *item,
                        tf_error *err)
{
    tf_statement st;
    tf_statement_classify(item->sql.ptr, item->sql.len, &st);
    if (st.temporary)
        return true; /* a session's own table, never a flow table's data */
    char excerpt[256];
    switch (st.kind) {
    case TF_STMT_DROP_DATABASE: {
        char db[256];
        snprintf(db, sizeof db, "%.*s", (int)st.database.len, st.database.ptr);
        if (strcmp(db, p->database) == 0)
            return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                                "transaction %s: DROP DATABASE %s, the database of flow %s: the "
                                "flow cannot follow; restore it and restart with --resnapshot",
                                txn->gtid, db, p->spec->name),
                   false;
        return true;
    }
    case TF_STMT_DML:
    case TF_STMT_TRUNCATE:
    case TF_STMT_ALTER_TABLE:
    case TF_STMT_RENAME_TABLE:
    case TF_STMT_DROP_TABLE:
    case TF_STMT_CREATE_TABLE: break;
    default: return true; /* BEGIN, COMMIT, SET, GRANT, indexes, ...: no row changes */
    }
    if (st.kind == TF_STMT_DML && (st.tables_unknown || st.tables_truncated)) {
        /* Statement-format DML whose tables we could not name: every
         * table of the flow is re-read, unless it plainly ran elsewhere. */
        if (item->database.len && (item->database.len != strlen(p->database) ||
                                   memcmp(item->database.ptr, p->database, item->database.len)))
            return true;
        statement_excerpt(item, excerpt, sizeof excerpt);
        pipeline_log(p,
                     "warning: transaction %s: statement-format change of tables not named "
                     "(\"%s\"): re-syncing every table of flow %s",
                     txn->gtid, excerpt, p->spec->name);
        resync_all(p, false);
        return true;
    }
    for (size_t i = 0; i < st.table_count; i++) {
        char db[256], table[256];
        table_names(item, st.tables[i].database, st.tables[i].table, db, sizeof db, table,
                    sizeof table);
        bool ours = is_flow_table(p, db, table);
        if (st.kind == TF_STMT_RENAME_TABLE || st.kind == TF_STMT_ALTER_TABLE) {
            /* a table renamed onto a flow table's name replaces it */
            char to_db[256], to_table[256];
            table_names(item, st.tables[i].rename_to_database, st.tables[i].rename_to_table, to_db,
                        sizeof to_db, to_table, sizeof to_table);
            if (st.tables[i].rename_to_table.len) {
                if (ours)
                    return stop_for(p, txn, &st, table, err);
                if (is_flow_table(p, to_db, to_table)) {
                    resync_table_hit(p, to_table, true, true);
                    pipeline_log(p,
                                 "transaction %s: %s.%s renamed to %s.%s, a flow table: "
                                 "re-syncing it",
                                 txn->gtid, db, table, to_db, to_table);
                }
                continue;
            }
        }
        if (!ours)
            continue;
        statement_excerpt(item, excerpt, sizeof excerpt);
        switch (st.kind) {
        case TF_STMT_TRUNCATE: {
            size_t n = tf_view_truncate(p->view, table);
            p->target.rebase(p->target.arg);
            resync_table_hit(p, table, false, false);
            pipeline_log(p, "transaction %s: TRUNCATE of %s.%s: %zu rows left the view", txn->gtid,
                         db, table, n);
            break;
        }
        case TF_STMT_DML:
            pipeline_log(p,
                         "warning: transaction %s: statement-format change of %s.%s (\"%s\"): "
                         "re-syncing the table (set binlog_format=ROW on the source to avoid it)",
                         txn->gtid, db, table, excerpt);
            resync_table_hit(p, table, true, false);
            break;
        case TF_STMT_ALTER_TABLE:
            pipeline_log(p, "transaction %s: %s: re-syncing %s.%s with its new columns", txn->gtid,
                         excerpt, db, table);
            resync_table_hit(p, table, true, true);
            break;
        case TF_STMT_CREATE_TABLE:
            /* CREATE OR REPLACE, or a table created again under a flow
             * table's name: read it all again. */
            pipeline_log(p, "transaction %s: %s.%s created again (\"%s\"): re-syncing it",
                         txn->gtid, db, table, excerpt);
            resync_table_hit(p, table, true, true);
            break;
        case TF_STMT_DROP_TABLE:
        case TF_STMT_RENAME_TABLE:
        default: return stop_for(p, txn, &st, table, err);
        }
    }
    return true;
}
