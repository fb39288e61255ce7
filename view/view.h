/* view.h — what the view layer offers.
 *
 * view/ turns source row changes into document operations. It knows no
 * sockets and no MongoDB: a flow spec (parsed from a flow file written in the
 * guide's Tap Shell language) says how tables join into one nested document
 * per root row; a tf_view keeps the source rows the flow needs, indexed on
 * the relation columns, and answers each row change with the documents it
 * changes, as data (tf_view_ops) for the sink to write.
 *
 * Sections:
 *   1. flow spec     the parsed flow file (flow_parse.c, flow_spec.c)
 *   2. document ops  what the view emits (doc_ops.c)
 *   3. view engine   tables, row changes, fan-out (state.c, engine.c)
 */
#ifndef TAPFLOW_VIEW_H
#define TAPFLOW_VIEW_H

#include "protocol.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * 1. flow spec
 * ====================================================================== */

typedef enum tf_lookup_type {
    TF_LOOKUP_OBJECT = 0, /* lowest-primary-key match as a sub-document */
    TF_LOOKUP_ARRAY = 1,  /* every match, ordered by primary key */
} tf_lookup_type;

/* Where a spec element was written, for messages about it. */
typedef struct tf_flow_pos {
    unsigned line, column; /* 1-based */
} tf_flow_pos;

/* One relation pair: parent_field is a column of the parent row, written
 * with the parent's path as prefix when the parent is a lookup
 * ("order_items.product_id"); child_column is a column of the lookup
 * table. */
typedef struct tf_flow_relation {
    char *parent_field;
    char *child_column;
    tf_flow_pos pos;
} tf_flow_relation;

/* A field named in include / exclude / fields= (name only) or in
 * rename_fields / rename= (name -> new_name). */
typedef struct tf_flow_field {
    char *name;     /* a column of the node's table */
    char *new_name; /* renames only, else NULL */
    tf_flow_pos pos;
} tf_flow_field;

/* What a node (the root or a lookup) keeps of its table's rows and how it
 * names their columns: TapFlow's filter / include / exclude /
 * rename_fields on the root, filter= / fields= / rename= on a lookup.
 * Everything empty (the guide's flows): every row, every column. */
typedef struct tf_flow_shape {
    /* A SQL-like condition over the row's source columns; rows for which
     * it is not TRUE have no document (root) or are not embedded
     * (lookup). NULL: every row. */
    char *filter;
    tf_flow_pos filter_pos; /* the string holding it */
    size_t include_count;   /* > 0: only these columns appear */
    tf_flow_field *include;
    size_t exclude_count; /* these columns do not appear */
    tf_flow_field *exclude;
    size_t rename_count; /* these columns appear under new names */
    tf_flow_field *renames;
} tf_flow_shape;

/* A computed field of add_fields([[name, type, expression]]): appended to
 * every root document after the root's columns, its value the expression
 * over the root row's columns converted to type ("String", "Int", "Long",
 * "Double", "Decimal", "Boolean", "Date"). */
typedef struct tf_flow_computed {
    char *name;
    char *type;
    char *expression;
    tf_flow_pos pos;            /* its [name, type, expression] list */
    tf_flow_pos expression_pos; /* the expression's string */
} tf_flow_computed;

typedef struct tf_flow_lookup {
    char *datasource; /* "MySQL_ECommerce" */
    char *table;      /* "ecom_customers" */
    char *path;       /* "customer_info", "order_items.product" */
    tf_lookup_type type;
    size_t relation_count;
    tf_flow_relation *relations;
    /* Index in lookups[] of the lookup whose path prefixes this one, or
     * -1 when the parent is the root (filled by validation). */
    long parent;
    tf_flow_pos pos;      /* the lookup( call */
    tf_flow_pos path_pos; /* its path argument */
    tf_flow_shape shape;  /* filter=, fields=, rename= */
} tf_flow_lookup;

typedef struct tf_flow_spec {
    char *file;              /* name used in messages */
    char *name;              /* Flow("Order_SingleView_Sync") */
    char *source_datasource; /* read_from("MySQL_ECommerce.ecom_orders") */
    char *source_table;
    size_t lookup_count;
    tf_flow_lookup *lookups; /* in the order the file declares them */
    char *target_datasource; /* write_to("MongoDB_ECommerce.orderSingleView") */
    char *target_collection;
    bool saved;             /* .save() was called: the file is meant to be kept */
    bool started;           /* .start() was called: the file asks to run the flow */
    tf_flow_pos pos;        /* the Flow( call */
    tf_flow_pos source_pos; /* read_from's argument */
    tf_flow_shape shape;    /* filter, include, exclude, rename_fields of the root */
    size_t computed_count;  /* add_fields of the root, in order */
    tf_flow_computed *computed;
} tf_flow_spec;

/* Parses and validates a flow file. `file` names it in messages, which read
 * "flow.tap:7:41: expected ',' or ')' after argument, found '='" (domain
 * TF_ERR_CONFIG). The language is the guide's Tap Shell subset: `name =
 * Flow("...")`, method calls read_from / lookup / write_to / save / start
 * and the operators filter / include / exclude / rename_fields / add_fields
 * (a filter's or computed field's expression is checked for syntax here,
 * for columns and types when the view's tables are defined) on the flow
 * (chained on one line, across lines with `\` or inside open brackets, or
 * with a continuation line starting with '.'), `;` or end of line between
 * statements, `#` comments. On TF_OK *out is a new spec. */
tf_status tf_flow_parse(const char *text, size_t len, const char *file, tf_flow_spec **out,
                        tf_error *err);
/* Reads the file at path and parses it (messages use path). */
tf_status tf_flow_parse_file(const char *path, tf_flow_spec **out, tf_error *err);
void tf_flow_spec_destroy(tf_flow_spec *spec);

#define TF_FLOW_HASH_HEX_LEN 64

/* SHA-256 (hex, NUL-terminated) of the spec's canonical form: name, source,
 * lookups in order with every field, target, and the operators when there
 * are any (a flow without them hashes as before they existed). Stable
 * across runs, versions and formatting of the file (comments, line breaks,
 * quotes), so a checkpoint can refuse to resume under a different flow.
 * save/start do not count. */
void tf_flow_spec_hash(const tf_flow_spec *spec, char out[TF_FLOW_HASH_HEX_LEN + 1]);

/* The canonical form hashed above, one element per line (for tools and
 * messages); free with bson_free. */
char *tf_flow_spec_canonical(const tf_flow_spec *spec);

/* ---- statement at a time, for an interactive shell (flow_parse.c) ----
 *
 * A shell reads the same language one statement at a time and acts on
 * each call as it comes. A tf_flow_builder holds the names bound so far
 * (`v = Flow("name")`; each Flow() is a new spec, as in Python; several
 * names may share one). */

/* False while text needs more lines: an open ( or [, or a trailing '\'.
 * Text with a lexical error counts as complete (running it reports it). */
bool tf_flow_text_complete(const char *text, size_t len);

typedef struct tf_flow_builder tf_flow_builder;

tf_flow_builder *tf_flow_builder_new(void);
void tf_flow_builder_destroy(tf_flow_builder *b);
/* The spec bound to variable (owned by the builder), or NULL. */
tf_flow_spec *tf_flow_builder_get(const tf_flow_builder *b, const char *variable);

/* Called for each method call: read_from, lookup and write_to after they
 * were applied to spec; save, start, stop and status (no arguments) are
 * only reported. Return false with err filled to stop the run. */
typedef bool (*tf_flow_call_fn)(void *arg, tf_flow_spec *spec, const char *method,
                                tf_flow_pos pos, tf_error *err);

/* Runs the complete statements of text; positions count from first_line
 * (0 = 1). Nothing is validated as a whole (use tf_flow_spec_check when
 * the flow is to be saved). TF_MALFORMED with err: a language error
 * (TF_ERR_CONFIG, "file:line:column: what") or the callback's error as it
 * wrote it; statements before the failing one keep their effect. */
tf_status tf_flow_builder_run(tf_flow_builder *b, const char *text, size_t len, const char *file,
                              unsigned first_line, tf_flow_call_fn fn, void *arg, tf_error *err);

/* Checks a spec as a whole, as tf_flow_parse does after parsing. */
tf_status tf_flow_spec_check(tf_flow_spec *spec, tf_error *err);

/* The spec in the language, one call per statement on `variable`, which
 * tf_flow_parse reads back into an equal spec (same hash); free with
 * bson_free. */
char *tf_flow_spec_to_text(const tf_flow_spec *spec, const char *variable);

/* ======================================================================
 * 2. document ops
 * ====================================================================== */

/* What the view asks the target to do. (Named tf_view_op, not tf_doc_op:
 * sink.h defines its own tf_doc_op, which a daemon fills from these —
 * REPLACE -> tf_doc_op_replace_steal(filter, doc), DELETE ->
 * tf_doc_op_delete_steal(filter) — so both headers can be included
 * together.) Documents are addressed by the root
 * table's primary key (the filter holds its columns, typed as in the
 * document), never by _id: the target keeps whatever _id it gave the
 * document. Each op is idempotent: applying a list twice gives the same
 * documents. */
typedef enum tf_view_op_kind {
    /* Replace the document matching filter by doc, inserting it when none
     * matches (upsert). doc has no _id. */
    TF_VIEW_OP_REPLACE = 0,
    /* Delete the document matching filter (none matching is fine). */
    TF_VIEW_OP_DELETE = 1,
    /* {$set: set, $unset: unset} on the one document matching filter (no
     * upsert: the document exists). set is {path: value, ...}, unset
     * {path: "", ...}; either may be NULL. Paths are lookups directly
     * under the root ("customer_info", "order_items": the whole array)
     * and the root row's own columns but its primary key (after an update
     * that kept every key); in TF_VIEW_FANOUT_POSITIONAL mode also an
     * object lookup in an element of a root-level array, by position
     * ("order_items.1.seller"), in a SET of its own. Only in the
     * ARRAY_FILTERS and POSITIONAL modes. */
    TF_VIEW_OP_SET = 2,
    /* updateMany(filter, {$set: set, $unset: unset}, {arrayFilters:
     * array_filters}): one object lookup under a root-level array, for
     * every document embedding the changed row. filter selects the
     * documents by the element's parent fields ({"order_items.seller_id":
     * X}), the path binds identifier "e" ("order_items.$[e].seller") and
     * array_filters is [{"e.seller_id": X}]. Exactly one of set / unset
     * (the lookup now matches nothing) is non-NULL. Only in
     * TF_VIEW_FANOUT_ARRAY_FILTERS mode. */
    TF_VIEW_OP_SET_MANY = 3,
} tf_view_op_kind;

typedef struct tf_view_op {
    tf_view_op_kind kind;
    bson_t *filter;        /* {root_pk_col: value, ...}; SET_MANY: see above */
    bson_t *doc;           /* REPLACE only, else NULL */
    bson_t *set;           /* SET, SET_MANY, else NULL */
    bson_t *unset;         /* SET, SET_MANY, else NULL */
    bson_t *array_filters; /* SET_MANY only, else NULL */
} tf_view_op;

typedef struct tf_view_ops {
    tf_view_op *ops;
    size_t count, cap;
} tf_view_ops;

void tf_view_ops_init(tf_view_ops *ops);
/* Destroys every op's documents; the list is empty and reusable. */
void tf_view_ops_clear(tf_view_ops *ops);
void tf_view_ops_cleanup(tf_view_ops *ops);
/* Appends an op taking ownership of filter and doc (doc NULL for DELETE). */
void tf_view_ops_push_steal(tf_view_ops *ops, tf_view_op_kind kind, bson_t *filter, bson_t *doc);
/* Appends a SET or SET_MANY taking ownership of its documents (NULL for
 * those it does not have). */
void tf_view_ops_push_update_steal(tf_view_ops *ops, tf_view_op_kind kind, bson_t *filter,
                                   bson_t *set, bson_t *unset, bson_t *array_filters);
/* "replace {"order_id": "A"} {...}" style text ("set {...} {$set: ...}",
 * "set-many {...} {$set: ...} [...]"), for tools and test messages;
 * free with bson_free. */
char *tf_view_op_describe(const tf_view_op *op);

/* ======================================================================
 * 3. view engine
 * ====================================================================== */

/* How the view compares: relation values join when they are equal as
 * values (integers of any width and signedness, DATE with DATETIME at
 * midnight, DECIMALs of any scale); NULL joins nothing, as in SQL. Strings
 * compare and order bytewise: case-insensitive collations and PAD SPACE
 * (which SQL would apply) are not applied yet, and DECIMAL primary keys
 * order textually. */
typedef struct tf_view tf_view;

typedef enum tf_view_change_kind {
    TF_VIEW_INSERT = 0, /* after only */
    TF_VIEW_UPDATE = 1, /* before and after */
    TF_VIEW_DELETE = 2, /* before only */
} tf_view_change_kind;

/* A view for spec (which must outlive it). Tables are then defined with
 * tf_view_define_table before any change is applied. */
tf_view *tf_view_new(const tf_flow_spec *spec);
void tf_view_destroy(tf_view *view);

/* Keeps the state (rows, indexes) in a file created in dir (unlinked, gone
 * with the process unless kept by tf_view_seal_state) instead of the heap, with at most
 * resident_limit bytes of it resident (0: no limit): the rest stays in
 * the page cache while memory allows, on disk when it does not. Before
 * the state has rows. */
tf_status tf_view_use_state_dir(tf_view *view, const char *dir, size_t resident_limit,
                                tf_error *err);

/* A clean stop keeps the state file for the next start on this host, so
 * that it maps the state back instead of loading it from the target
 * (seconds instead of minutes at tens of millions of rows).
 *
 * tf_view_seal_state (a view with a state directory, every document
 * flushed) syncs the file and leaves it in the directory as NAME.state
 * with NAME.seal beside it: the maps, the allocator, the tables'
 * definitions, the spec's hash and `tag`, the caller's name for what the
 * state matches (its checkpoint). Afterwards the view may only be
 * destroyed. name: letters, digits, '_', '-', '.' (not first). */
tf_status tf_view_seal_state(tf_view *view, const char *name, const char *tag, tf_error *err);
/* On a view with a state directory and no table defined yet: when NAME.seal
 * is there with this spec's hash and `tag`, maps the state back at its
 * address and defines the tables from it (*reopened true). Otherwise
 * *reopened is false and the view unchanged, err saying why a seal that
 * was there was not used (message empty when there was none). A seal is
 * used at most once: it is removed when read, and a leftover NAME.state
 * without one (a crash while it was in use) is removed. TF_MALFORMED only
 * when the view cannot go on (its store could not be recreated). */
tf_status tf_view_reopen_state(tf_view *view, const char *name, const char *tag, bool *reopened,
                               tf_error *err);

/* Whether the flow reads this table (root or lookup). Changes of other
 * tables are ignored by tf_view_apply. */
bool tf_view_uses_table(const tf_view *view, const char *table);

/* Defines a table of the flow: its columns (copied; names required) with
 * is_primary_key set on the primary key columns, and the primary key in
 * key order (column indexes; NULL = the is_primary_key columns in column
 * order). Defining a table again with the same columns is a no-op; with
 * other columns while rows are held it is an error (DDL handling comes
 * later). When the last table of the flow is defined, relation columns are
 * resolved: unknown columns, relations between columns of different kinds
 * (number vs string vs ...) and lookup paths that collide with a column of
 * the parent row are errors naming the flow file line. */
tf_status tf_view_define_table(tf_view *view, const char *table, const tf_column *columns,
                               size_t column_count, const uint32_t *primary_key,
                               size_t primary_key_count, tf_error *err);
/* Same from a decoded TABLE_MAP (needs binlog_row_metadata=FULL names and
 * primary key). */
tf_status tf_view_define_table_map(tf_view *view, const tf_table_map *map, tf_error *err);

/* True once every table of the flow is defined and relations resolved. */
bool tf_view_ready(const tf_view *view);

/* Applies one source row change: before (UPDATE, DELETE) and after
 * (INSERT, UPDATE) are column_count values of the table as defined
 * (copied; they may borrow from an event buffer). Replays are tolerated so
 * that resuming from a checkpoint is exact: an INSERT of a held primary key
 * replaces the row, a DELETE of an unknown row does nothing, an UPDATE
 * whose before row is unknown inserts the after row. A row the table's
 * filter (the flow's filter / filter=) does not pass is absent: an INSERT
 * of one changes nothing (but replaces a held row of its key), an UPDATE
 * to one deletes the held row. A value TF_VAL_ABSENT (partial row image)
 * is an error. The documents the change affects are remembered until
 * tf_view_flush. */
tf_status tf_view_apply(tf_view *view, const char *table, tf_view_change_kind kind,
                        const tf_value *before, const tf_value *after, tf_error *err);

/* How a change to a lookup row reaches the documents embedding it. */
typedef enum tf_view_fanout {
    /* Every affected document is recomputed and replaced whole (REPLACE,
     * DELETE only): what servers without arrayFilters need (FerretDB). */
    TF_VIEW_FANOUT_RECOMPUTE = 0,
    /* Partial updates where they are exactly right: a lookup directly
     * under the root is $set (or $unset) on each affected document (SET),
     * so are the root row's columns when an update keeps its keys;
     * an object lookup under a root-level array is one updateMany with
     * arrayFilters for all documents (SET_MANY) when the element holds
     * its parent fields. Everything else, and any change that makes an
     * object lookup appear where it matched nothing (a $set would append
     * the field after its siblings), recomputes the document. The final
     * documents equal recompute mode's, field order included. */
    TF_VIEW_FANOUT_ARRAY_FILTERS = 1,
    /* ARRAY_FILTERS without arrayFilters, for servers that lack them
     * (FerretDB): the same SETs and recomputes, but an object lookup under
     * a root-level array reaches each document embedding the changed row
     * by a SET of numeric element paths ("order_items.2.seller", $unset
     * "order_items.0.product"), positions taken from the state at flush
     * time (the array is ordered by primary key). No SET_MANY. */
    TF_VIEW_FANOUT_POSITIONAL = 2,
} tf_view_fanout;

/* Chooses the fan-out mode (default RECOMPUTE). Only while nothing is
 * pending (before changes, or right after a flush): TF_ERR_CONFIG
 * otherwise. */
tf_status tf_view_set_fanout(tf_view *view, tf_view_fanout mode, tf_error *err);
tf_view_fanout tf_view_get_fanout(const tf_view *view);

/* What one write of each shape costs the target (the sink measures them
 * in milliseconds; any unit will do), for the flush to choose how each
 * document is written. A REPLACE and a SET cost a base and a slope per KB
 * of the document (a target may rewrite the whole document either way:
 * FerretDB does). With costs set, the flush writes:
 *   - a recorded key of ARRAY_FILTERS mode as positional SETs of the
 *     documents embedding it (as POSITIONAL mode would) when those cost
 *     less than one SET_MANY reaching the same documents (of doc_kb each);
 *   - a document whose SET would cost more than its REPLACE, whole.
 * Both choices give the same final documents: every value comes from the
 * state at flush time. update_many 0 means SET_MANY is never replaced
 * (unmeasured); every cost 0 (the default) plans nothing. */
typedef struct tf_view_write_costs {
    double replace, replace_per_kb; /* one REPLACE */
    double update, update_per_kb;   /* one SET of one document */
    double update_many;             /* one SET_MANY, before the documents it changes */
    double update_many_doc;         /* each document a SET_MANY changes */
    double doc_kb;                  /* a typical document's size, for SET_MANY's choice */
} tf_view_write_costs;

/* Sets the costs the next flushes plan with (NULL: none). */
void tf_view_set_write_costs(tf_view *view, const tf_view_write_costs *costs);

/* Appends to ops the operations that bring every document changed since
 * the last flush to its state: in ARRAY_FILTERS mode SET_MANY first
 * (ordered by lookup and key), in POSITIONAL mode the positional SETs
 * first (one per document, ordered by root key; none for a document that
 * is deleted or recomputed in this flush, nor for a path under an array
 * this flush $sets whole), then, as in every mode, deletes of the
 * documents whose root row is gone, then one REPLACE (the document
 * recomputed whole) or SET per remaining document, ordered by root key.
 * Every value is computed from the state at flush time, so the ops may be
 * applied in this order any number of times. Call at transaction
 * boundaries (or batch ends). */
tf_status tf_view_flush(tf_view *view, tf_view_ops *ops, tf_error *err);

/* Forgets the documents changed since the last flush without computing
 * them: for a view rebuilt from persisted state and replayed changes whose
 * documents the target already holds. */
void tf_view_discard_pending(tf_view *view);

typedef struct tf_view_stats {
    size_t table_count;
    size_t row_count;     /* source rows held, every table */
    size_t pending_count; /* documents waiting for tf_view_flush */
    size_t memory_bytes;  /* rows, keys and indexes, approximate */
    /* With a state directory (else 0): the state file's size, how much of
     * it the process holds resident, and how much it released to keep
     * under the limit (in all: pages left to the page cache). */
    size_t state_file_bytes;
    size_t state_resident_bytes;
    size_t state_released_bytes;
    /* What the write costs changed, over every flush: documents written
     * whole because that cost less than their SET, and recorded keys
     * written as positional SETs because those cost less than a SET_MANY. */
    uint64_t planned_replaces;
    uint64_t planned_positional_keys;
} tf_view_stats;

void tf_view_get_stats(const tf_view *view, tf_view_stats *out);
/* What the next tf_view_flush writes: the documents changed through their
 * own rows, and the changed lookup rows whose documents it will visit
 * (each may reach many). */
void tf_view_pending(const tf_view *view, size_t *documents, size_t *fanouts);

/* ---- table changes and re-sync (table_change.c) ----
 *
 * What the source does to a table besides row changes, and the per-table
 * re-sync that re-reads rows while changes keep streaming. Keys are the
 * view's encoding of a row's primary key (equal SQL values, equal bytes). */

/* Whether table is defined with exactly these columns (names, types,
 * metadata, charsets, members). */
bool tf_view_table_matches(const tf_view *view, const char *table, const tf_column *columns,
                           size_t column_count);
/* ALTER TABLE: the table's column list changes while rows are held. Each
 * row keeps the values of the columns whose names remain, in the new
 * order; new columns are NULL until a re-sync brings their values. No
 * document is marked (re-sync the table with force to rewrite them).
 * Errors, with nothing changed: the primary key changed; a column the
 * flow joins on is gone ("table T: column C was dropped or renamed, but
 * lookup \"P\" (file:line) joins on it ..."); a new column takes an
 * embedded field's name. Resolving relations again may fail (a relation
 * column retyped to another kind of value): TF_MALFORMED, the view is then
 * not ready. A table without rows is simply defined again. */
tf_status tf_view_redefine_table(tf_view *view, const char *table, const tf_column *columns,
                                 size_t column_count, const uint32_t *primary_key,
                                 size_t primary_key_count, tf_error *err);
tf_status tf_view_redefine_table_map(tf_view *view, const tf_table_map *map, tf_error *err);
/* TRUNCATE: every held row of table leaves the view (its documents are
 * marked as for deletes). Returns how many. */
size_t tf_view_truncate(tf_view *view, const char *table);
/* Calls fn for each held row of table with its key and its document
 * (borrowed during the call); stops at fn's first false (TF_MALFORMED).
 * The view must not change meanwhile. */
typedef bool (*tf_view_row_fn)(void *arg, const uint8_t *key, size_t key_len, const bson_t *doc);
tf_status tf_view_foreach_row(const tf_view *view, const char *table, tf_view_row_fn fn,
                              void *arg);
size_t tf_view_table_row_count(const tf_view *view, const char *table);
/* The table's definition (borrowed until it changes) and its primary key
 * column count; 0 when the table is unknown or not defined. Any out
 * pointer may be NULL. */
size_t tf_view_table_key(const tf_view *view, const char *table, const tf_column **columns,
                         size_t *column_count, const uint32_t **primary_key);
/* The key of a row of table given as values (column_count values); a new
 * buffer (bson_free). False when the table is unknown or the key holds a
 * NULL. */
bool tf_view_encode_key(const tf_view *view, const char *table, const tf_value *values,
                        uint8_t **key, size_t *len);
/* Deletes the held row with this key (its documents marked); false when
 * none is held. */
bool tf_view_delete_key(tf_view *view, const char *table, const uint8_t *key, size_t len);
/* Marks the documents the held row with this key reaches, as a change of
 * it would (false when none is held). */
bool tf_view_mark_key(tf_view *view, const char *table, const uint8_t *key, size_t len);
/* A row as a re-sync read it: applied as an insert (replacing the held row
 * of its key) unless the held row is identical, or the filter refuses it
 * and no row of its key is held, and force is false; *changed says
 * whether it was applied. */
tf_status tf_view_resync_row(tf_view *view, const char *table, const tf_value *values, bool force,
                             bool *changed, tf_error *err);

/* ---- flow edits (flow_edit.c) ----
 *
 * A saved flow whose lookups changed continues from its state without a
 * full rebuild: held rows carry over for the tables whose join indexes the
 * new flow already had, the others are read again. */
typedef struct tf_flow_edit {
    bool rebuild;     /* the name, root table or target changed: only a rebuild */
    char reason[128]; /* "its root table (read_from) changed" */
    size_t keep_count;
    char **keep; /* tables whose held rows carry over (tf_view_adopt_table) */
    size_t reread_count;
    char **reread; /* tables new to the flow, or needing a join index they lacked */
} tf_flow_edit;

void tf_flow_edit_plan(const tf_flow_spec *old_spec, const tf_flow_spec *new_spec,
                       tf_flow_edit *out);
void tf_flow_edit_cleanup(tf_flow_edit *edit);
/* Copies the held rows of table from `from` (a view of the old spec) into
 * `to` (the new spec's view, table not yet defined there): the table is
 * defined in `to` with from's columns and each row keeps its document and
 * the keys of every join index `to` has on it. No document is marked. An
 * index `to` has and `from` had not is TF_ERR_CONFIG (plan first). */
tf_status tf_view_adopt_table(tf_view *to, const tf_view *from, const char *table, tf_error *err);

/* ---- persisted state (persist.c) ----
 *
 * The held rows of every table, with their definitions, as a series of
 * self-contained BSON chunks (each under max_chunk bytes; every table gives
 * at least one), so that a restarted daemon resumes without re-reading the
 * source. A chunk is {v: 2, table, columns: [...], pk: [...], slots,
 * rows: [{p: binary key, d: binary packed values, k: [binary key | null
 * per index slot]}]} (version 1 chunks, whose d is the row's document,
 * load too). Chunks are only meaningful to a view of the same flow
 * spec (same tables, lookups and hence index slots): compare spec hashes
 * first. */
typedef bool (*tf_view_chunk_fn)(const uint8_t *data, size_t len, void *arg, tf_error *err);

/* Calls fn once per chunk, in order; stops at fn's first false. Pending
 * (unflushed) documents are not saved: flush first. */
tf_status tf_view_save(const tf_view *view, size_t max_chunk, tf_view_chunk_fn fn, void *arg,
                       tf_error *err);
/* Loads one chunk into a view of the same spec (defining its table from
 * the chunk); after every chunk tf_view_ready is true. Malformed or
 * foreign chunks are TF_MALFORMED with err. */
tf_status tf_view_load_chunk(tf_view *view, const uint8_t *data, size_t len, tf_error *err);

/* ---- change journal (journal.c) ----
 *
 * The source row changes applied since the state was last saved, so that a
 * checkpoint persists what changed (a delta) rather than the whole state:
 * loading the saved chunks and then applying the journal chunks written
 * after them, in order, gives the same rows as the view that recorded them.
 *
 * A journal chunk is self-contained binary: "TFJ1", varint table count and
 * names (varint length + bytes), varint change count, then per change a
 * varint table index, a kind byte (tf_view_change_kind) and the before
 * (UPDATE, DELETE) and after (INSERT, UPDATE) images, each a varint column
 * count and one typed value per column (a tf_value_kind byte and its
 * payload: zigzag varints for signed integers, varints for unsigned ones,
 * little-endian IEEE floats, length-prefixed bytes and decimal text,
 * temporal fields one by one). Nothing may follow the last change. */
typedef struct tf_view_journal tf_view_journal;

tf_view_journal *tf_view_journal_new(void);
void tf_view_journal_destroy(tf_view_journal *journal);
/* Records one change as tf_view_apply takes it, with column_count values
 * per image (copied). */
void tf_view_journal_add(tf_view_journal *journal, const char *table, tf_view_change_kind kind,
                         const tf_value *before, const tf_value *after, size_t column_count);
size_t tf_view_journal_changes(const tf_view_journal *journal);
/* Encoded size of the recorded changes. */
size_t tf_view_journal_bytes(const tf_view_journal *journal);
/* Forgets every recorded change (after they were saved, or made part of a
 * full save). */
void tf_view_journal_clear(tf_view_journal *journal);
/* Calls fn once per chunk, in order (none when the journal is empty), each
 * under max_chunk bytes; a change is never split across chunks, so one
 * change larger than a chunk is TF_MALFORMED (TF_ERR_UNSUPPORTED). Stops
 * at fn's first false. */
tf_status tf_view_journal_save(const tf_view_journal *journal, size_t max_chunk,
                               tf_view_chunk_fn fn, void *arg, tf_error *err);

/* One decoded change; the values borrow from the chunk and from a scratch
 * array valid during the call. Return false with err filled to stop. */
typedef bool (*tf_view_change_fn)(const char *table, tf_view_change_kind kind,
                                  const tf_value *before, const tf_value *after,
                                  size_t column_count, void *arg, tf_error *err);
/* Decodes a journal chunk, calling fn per change in order (fn NULL: only
 * validates). Changes are delivered as they are decoded, so on a malformed
 * chunk those before the bad byte were delivered. TF_MALFORMED with err
 * (TF_ERR_PROTOCOL) naming what is wrong and the byte offset. */
tf_status tf_view_journal_decode(const uint8_t *data, size_t len, tf_view_change_fn fn,
                                 void *arg, tf_error *err);
/* Validates the whole chunk, then applies its changes with tf_view_apply
 * (each image must have its table's column count). The documents they
 * touch become pending: tf_view_discard_pending when the target already
 * holds them. */
tf_status tf_view_journal_apply(tf_view *view, const uint8_t *data, size_t len, tf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TAPFLOW_VIEW_H */
