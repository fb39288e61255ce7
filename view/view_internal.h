/* view_internal.h — shared between the files of view/ only. */
#ifndef TAPFLOW_VIEW_INTERNAL_H
#define TAPFLOW_VIEW_INTERNAL_H

#include "view.h"

/* Checks a parsed spec as a whole (flow_spec.c): the root and target are
 * given, lookups read the flow's source, paths are well formed and unique,
 * every dotted path has a lookup as parent (fills lookup.parent), relation
 * parent fields carry their parent's path as prefix. Messages name the
 * flow file line and column. */
tf_status tf_flow_spec_validate(tf_flow_spec *spec, tf_error *err);

/* ---- growable byte buffer (key.c) ---- */

typedef struct view_buf {
    uint8_t *ptr;
    size_t len, cap;
} view_buf;

void view_buf_append(view_buf *b, const void *data, size_t len);
void view_buf_cleanup(view_buf *b);

/* Appends an encoding of v under which equal SQL values (as the view joins
 * them) have equal bytes and memcmp orders integers, strings (bytewise),
 * dates and times as the source orders them. Integers of any width and
 * signedness share one encoding, so do DATE and DATETIME. Returns false for
 * NULL (and ABSENT): a key holding NULL matches nothing, as in SQL. */
bool view_key_append_value(view_buf *b, const tf_value *v);

/* Which comparison family a column type belongs to: relation columns of
 * different families never join. */
typedef enum view_key_family {
    VIEW_KEY_INTEGER,
    VIEW_KEY_FLOAT,
    VIEW_KEY_DECIMAL,
    VIEW_KEY_STRING,
    VIEW_KEY_TEMPORAL,
    VIEW_KEY_TIMESTAMP,
    VIEW_KEY_TIME,
    VIEW_KEY_OTHER,
} view_key_family;

view_key_family view_key_family_of(const tf_column *col);

/* ---- bytes -> pointer hash map (hash.c) ---- */

typedef struct view_map_entry {
    struct view_map_entry *next;
    uint64_t hash;
    void *value;
    size_t key_len;
    uint8_t key[];
} view_map_entry;

typedef struct view_map {
    view_map_entry **buckets;
    size_t bucket_count, count;
} view_map;

void view_map_init(view_map *m);
/* Frees the entries, not the values. */
void view_map_cleanup(view_map *m);
void *view_map_get(const view_map *m, const uint8_t *key, size_t len);
/* The value slot for key, created (holding NULL) when absent. */
void **view_map_upsert(view_map *m, const uint8_t *key, size_t len);
/* Removes key; returns its value (NULL when absent). */
void *view_map_remove(view_map *m, const uint8_t *key, size_t len);
/* Iteration: start with *it = NULL and bucket = 0; returns the next entry
 * or NULL. The map must not change during iteration. */
view_map_entry *view_map_next(const view_map *m, size_t *bucket, view_map_entry *it);

/* ---- source rows and their indexes (state.c) ---- */

/* A row as the view keeps it: the typed BSON of every column (the
 * embedded form is a copy of it minus the relation columns), its encoded
 * primary key and one encoded key per index slot of its table (len 0 when
 * the key holds a NULL: such a row joins nothing through that slot). */
typedef struct view_row_key {
    uint8_t *ptr;
    size_t len;
    size_t position; /* in its index bucket, for O(1) removal */
} view_row_key;

typedef struct view_row {
    view_buf pk;
    /* The BSON bytes, not a bson_t: bson_t wants 128-byte alignment that a
     * row inside a malloc'd block does not have (and bytes are smaller). */
    uint8_t *doc;
    uint32_t doc_len;
    view_row_key keys[]; /* table->slot_count */
} view_row;

typedef struct view_bucket {
    view_row **rows;
    size_t count, cap;
} view_bucket;

/* An index over some columns of a table: key -> view_bucket of rows. The
 * columns are known by name from the flow until the table is defined. */
typedef struct view_slot {
    size_t column_count;
    char **column_names;
    uint32_t *columns; /* resolved indexes */
    view_map index;
} view_slot;

typedef struct view_table {
    char *name;
    bool defined;
    size_t column_count;
    tf_column *columns; /* names and enum/set members owned */
    size_t pk_count;
    uint32_t *pk;
    view_map rows; /* encoded pk -> view_row */
    size_t slot_count;
    view_slot *slots;
    size_t key_bytes; /* memory accounting */
} view_table;

view_table *view_table_new(const char *name);
void view_table_destroy(view_table *t);
/* The slot indexing these columns (by name, in this order), added when
 * new. Only before rows exist. */
size_t view_table_slot(view_table *t, char **names, size_t count);
/* Copies the definition; see tf_view_define_table. */
tf_status view_table_define(view_table *t, const tf_column *columns, size_t column_count,
                            const uint32_t *primary_key, size_t primary_key_count, tf_error *err);
/* Column index by name, -1 when none. */
long view_table_column(const view_table *t, const char *name);
/* Resolves slot column names to indexes (after view_table_define; names
 * are known to exist). */
void view_table_resolve_slots(view_table *t);

/* Builds a row from values (typed BSON, keys); NULL with err on a value the
 * type mapping refuses or a NULL primary key column. */
view_row *view_row_build(const view_table *t, const tf_value *values, tf_error *err);
void view_row_destroy(const view_table *t, view_row *row);
/* Encodes the primary key of values into out (false: a NULL in it). */
bool view_table_encode_pk(const view_table *t, const tf_value *values, view_buf *out);
view_row *view_table_find(const view_table *t, const uint8_t *pk, size_t pk_len);
/* Puts row in the table and its indexes (no row with its pk may be held). */
void view_table_insert(view_table *t, view_row *row);
/* Takes row out of the table and its indexes (not destroyed). */
void view_table_remove(view_table *t, view_row *row);
/* The rows of slot whose key is (key, len); NULL when none. */
const view_bucket *view_table_matches(const view_table *t, size_t slot, const uint8_t *key,
                                      size_t len);
/* Points doc (static, read-only) at the row's BSON. */
void view_row_doc(const view_row *row, bson_t *doc);
/* {pk column: value, ...} of a row, taken from its document. */
bson_t *view_row_filter(const view_table *t, const view_row *row);
/* memcmp order of encoded primary keys (shorter first on a common prefix). */
int view_row_pk_compare(const view_row *a, const view_row *b);

/* ---- the view's tables, for persist.c (engine.c) ---- */

size_t view_table_count(const tf_view *view);
view_table *view_table_at(const tf_view *view, size_t index);
view_table *view_table_by_name(const tf_view *view, const char *name);

#endif
