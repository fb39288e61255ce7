/* view_internal.h — shared between the files of view/ only. */
#ifndef TAPFLOW_VIEW_INTERNAL_H
#define TAPFLOW_VIEW_INTERNAL_H

#include "view.h"

#include <stddef.h>

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
/* Room for len more bytes (b->len unchanged): where they go. */
uint8_t *view_buf_reserve(view_buf *b, size_t len);

/* The longest varint: 64 bits in 7-bit groups. */
#define VIEW_VARINT_MAX 10
/* Appends v in 7-bit groups, least significant first (LEB128). */
void view_buf_put_varint(view_buf *b, uint64_t v);
/* Signed integers as varints: small magnitudes stay short either way. */
static inline uint64_t view_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t view_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
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

/* ---- the state's memory (store.c) ----
 *
 * Rows, index buckets and the state's hash slots come from a store: with
 * none (NULL) from the heap, else from a file in the flow's state
 * directory, mapped, with the resident part kept under a limit by a
 * thread of the store. Frees give the size allocated. */
typedef struct view_store view_store;

/* resident_limit 0: no limit (the kernel alone decides what stays). */
view_store *view_store_open(const char *dir, size_t resident_limit, tf_error *err);
void view_store_close(view_store *s);
void *view_store_alloc(view_store *s, size_t size);
void *view_store_alloc_zeroed(view_store *s, size_t size);
void view_store_free(view_store *s, void *p, size_t size);
void *view_store_realloc(view_store *s, void *p, size_t old_size, size_t new_size);
typedef struct view_store_stats {
    size_t file_bytes;     /* of the file, mapped */
    size_t live_bytes;     /* allocated now */
    size_t resident_bytes; /* held in the process's memory */
    size_t released_bytes; /* address range released by trims, in all */
} view_store_stats;

/* All zero for the heap (s NULL). */
void view_store_get_stats(const view_store *s, view_store_stats *out);

/* Keeping the state across a clean stop (seal.c says how it is used).
 * view_store_seal syncs the file, leaves it at path (linking it there when
 * it has no name yet) and appends to doc (a document open for writing)
 * what the allocator knows: its address, regions, free lists, as offsets.
 * From then on frees are ignored (the view is torn down around a file
 * that must stay as sealed): only view_store_close may follow. */
bool view_store_seal(view_store *s, const char *path, bson_t *doc, tf_error *err);
/* Maps the file at path back at the address it was sealed at, with the
 * allocator doc describes; NULL with err saying why when it cannot (the
 * address is taken in this process, the file is not the one described,
 * doc is malformed). The file keeps its name while the state lives. */
view_store *view_store_reopen(const char *path, const bson_t *doc, size_t resident_limit,
                              tf_error *err);
size_t view_store_resident_limit(const view_store *s);
/* Whether [p, p + len) lies in memory the store handed out (for checking
 * a seal's offsets). */
bool view_store_holds(const view_store *s, const void *p, size_t len);
uint8_t *view_store_base(const view_store *s);

/* ---- bytes -> pointer hash map (hash.c) ---- */

/* A slot of the map. The key bytes are not copied: they are the value's
 * own, at the map's key_offset from it (a row's primary key, a bucket's
 * key), and must stay unchanged while the entry exists. value NULL: the
 * slot is empty. */
typedef struct view_map_entry {
    void *value;
    uint32_t hash;
    uint32_t key_len;
} view_map_entry;

typedef struct view_map {
    view_map_entry *entries;
    size_t capacity, count;
    size_t key_offset;
    uint64_t seed;      /* of its hash (hash.c says why) */
    view_store *store;  /* of its slots; NULL: the heap */
} view_map;

/* key_offset: where each value holds its key bytes. */
void view_map_init(view_map *m, size_t key_offset);
static inline const uint8_t *view_map_key(const view_map *m, const view_map_entry *e)
{
    return (const uint8_t *)e->value + m->key_offset;
}
/* Frees the slots, not the values nor the keys. */
void view_map_cleanup(view_map *m);
/* Room for count entries without growing (a load that knows its size
 * skips the rehash of every doubling). */
void view_map_reserve(view_map *m, size_t count);
/* Empties the map (values and keys are the caller's). */
void view_map_clear(view_map *m);
void *view_map_get(const view_map *m, const uint8_t *key, size_t len);
/* Asks the cache for key's home slot (a lookup of it soon). */
void view_map_prefetch(const view_map *m, const uint8_t *key, size_t len);
/* The entry for key, created when absent (*created, which may be NULL,
 * says which): the caller then sets its value at once, a value holding
 * equal key bytes at key_offset. The entry is valid until the map next
 * changes. */
view_map_entry *view_map_upsert(view_map *m, const uint8_t *key, size_t len, bool *created);
/* Removes key; returns its value (NULL when absent). */
void *view_map_remove(view_map *m, const uint8_t *key, size_t len);
/* Iteration: start with *it = NULL and bucket = 0; returns the next entry
 * or NULL. The map must not change during iteration. */
view_map_entry *view_map_next(const view_map *m, size_t *bucket, view_map_entry *it);

/* ---- bump allocator for per-flush records (arena.c) ---- */

typedef struct view_arena_block view_arena_block;

typedef struct view_arena {
    view_arena_block *head;
} view_arena;

/* size bytes, 8-aligned, valid until view_arena_reset. */
void *view_arena_alloc(view_arena *a, size_t size);
/* Frees everything allocated (keeps one block for reuse). */
void view_arena_reset(view_arena *a);
void view_arena_cleanup(view_arena *a);

/* ---- raw BSON: walking and writing element bytes (raw_bson.c) ----
 *
 * Documents are built by appending element bytes to a view_buf rather
 * than through bson_append_*: a row's fields are copied as runs of bytes,
 * sub-documents are length-patched in place, and nothing is allocated per
 * field. Inputs are documents libbson built or validated. */

/* One element of a document. */
typedef struct view_raw_element {
    const uint8_t *start; /* type byte */
    size_t len;           /* whole element */
    uint8_t type;
    const char *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} view_raw_element;

/* Iteration: *pos starts at 0; false at the end or on malformed bytes. */
bool view_raw_next(const uint8_t *doc, size_t doc_len, size_t *pos, view_raw_element *out);
/* Appends type, key and its NUL. */
void view_raw_key(view_buf *b, uint8_t type, const char *key, size_t key_len);
/* Opens a document or array value: returns where its length goes. */
size_t view_raw_open(view_buf *b);
/* Closes what view_raw_open opened at `at`. */
void view_raw_close(view_buf *b, size_t at);
/* Appends the array index key "0", "1", ... with type. */
void view_raw_index_key(view_buf *b, uint8_t type, size_t index);
/* ---- packed row values (row_pack.c) ----
 *
 * A held row keeps its column values packed (see row_pack.c), not as the
 * BSON document they came as; these turn one into the other. */

/* Appends the packed form of doc, a row document with one element per
 * column in column order; false (nothing appended) when it has another
 * number of elements or is malformed. */
bool view_pack_doc(view_buf *out, const uint8_t *doc, size_t doc_len, size_t column_count);
/* Whether packed (from outside: a saved state) is column_count whole
 * values. Unpacking trusts bytes view_pack_doc wrote or this accepted. */
bool view_pack_check(const uint8_t *packed, size_t len, size_t column_count);
/* Appends the row's BSON elements, named by columns or, where renamed
 * (may be NULL) has a name, by it, leaving out those whose omit[i] is
 * true (omit may be NULL) and, with skip_pk, the primary key columns. */
void view_unpack_elements(view_buf *out, const uint8_t *packed, size_t len,
                          const tf_column *columns, size_t column_count, const bool *omit,
                          const char *const *renamed, bool skip_pk);
/* Appends the row's whole BSON document. */
void view_unpack_doc(view_buf *out, const uint8_t *packed, size_t len, const tf_column *columns,
                     size_t column_count);
/* Column index's element, written into scratch (emptied first) as a
 * one-element document; out points into scratch. */
bool view_unpack_element(view_buf *scratch, const uint8_t *packed, size_t len,
                         const tf_column *columns, size_t column_count, size_t index,
                         view_raw_element *out);

/* ---- source rows and their indexes (state.c) ---- */

/* A row as the view keeps it, in one allocation (lengths, primary key,
 * values, then its keys 8-aligned): every column's value packed (row_pack.c; unpacked, it is
 * the row's typed BSON document, and the embedded form that minus the
 * relation columns), its encoded primary key and one
 * encoded key per index slot of its table (len 0 when the key holds a
 * NULL: such a row joins nothing through that slot).
 *
 * A row's keys are not stored in it: once the row is in its table, ptr
 * points at the key held by its index bucket (which is how removal finds
 * the bucket without a lookup); before that, at bytes the builder lends
 * (the table's scratch, a loaded chunk), valid until view_table_insert. */
typedef struct view_row_key {
    uint8_t *ptr;
    uint32_t len;
    uint32_t position; /* in its index bucket, for O(1) removal */
} view_row_key;

typedef struct view_row {
    uint32_t pk_len;
    uint32_t values_len; /* packed (row_pack.c) */
} view_row;

/* The parts follow the lengths: found by arithmetic, not pointers. */
static inline uint8_t *view_row_pk(const view_row *row) { return (uint8_t *)(uintptr_t)(row + 1); }

static inline uint8_t *view_row_values(const view_row *row)
{
    return view_row_pk(row) + row->pk_len;
}

static inline size_t view_row_keys_offset(size_t pk_len, size_t values_len)
{
    return (sizeof(view_row) + pk_len + values_len + 7) & ~(size_t)7;
}

/* table->slot_count of them */
static inline view_row_key *view_row_keys(const view_row *row)
{
    return (view_row_key *)(void *)((uint8_t *)(uintptr_t)row +
                                    view_row_keys_offset(row->pk_len, row->values_len));
}

/* The rows sharing one key of a slot. Most keys have one row (an order's
 * customer, an order's items), held inline; the key bytes follow the
 * header without padding, then (8-aligned) one link per view_slot_link of
 * the slot: the bucket of the same key on the other side of that join, or
 * NULL when that side holds no row with the key. Links turn each step of
 * a document build or a fan-out walk into a pointer chase instead of a
 * hash lookup. */
#define VIEW_BUCKET_INLINE 1
typedef struct view_bucket {
    view_row **rows;
    uint32_t count, cap;
    view_row *inline_rows[VIEW_BUCKET_INLINE];
    uint32_t key_len;
    uint8_t key[];
} view_bucket;

static inline size_t view_bucket_links_offset(size_t key_len)
{
    return (offsetof(view_bucket, key) + key_len + 7) & ~(size_t)7;
}

static inline struct view_bucket **view_bucket_links(const view_bucket *b)
{
    return (view_bucket **)(void *)((uint8_t *)(uintptr_t)b + view_bucket_links_offset(b->key_len));
}

/* The bucket holding a key of a row that is in its table. */
static inline view_bucket *view_key_bucket(const uint8_t *key)
{
    return (view_bucket *)(void *)((uintptr_t)key - offsetof(view_bucket, key));
}

/* One join this slot takes part in: the slot on the other side and the
 * index of the link back to this side there. */
typedef struct view_slot_link {
    struct view_table *table;
    size_t slot;
    size_t back;
} view_slot_link;

/* An index over some columns of a table: key -> view_bucket of rows. The
 * columns are known by name from the flow until the table is defined. */
typedef struct view_slot {
    size_t column_count;
    char **column_names;
    uint32_t *columns; /* resolved indexes */
    view_map index;
    size_t link_count;
    view_slot_link *links;
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
    view_store *store;   /* of its rows, buckets and maps (the view's) */
    size_t row_bytes;    /* memory accounting: row allocations */
    size_t bucket_bytes; /* and index buckets */
    view_buf scratch;    /* keys of the row being built (see view_row_key) */
    view_buf packed;     /* values of the row being built */
    /* The row document being built, in a buffer reused across rows. */
    bson_writer_t *writer;
    uint8_t *writer_buf;
    size_t writer_len;
} view_table;

/* A table's definition in a chunk (persist.c): {columns: [...], pk: [...]},
 * appended to doc, and parsed back (false on anything malformed; free
 * with view_persist_free_definition). */
void view_persist_append_definition(bson_t *doc, const view_table *t);
bool view_persist_parse_definition(const bson_t *doc, tf_column **cols, size_t *count,
                                   uint32_t **pk, size_t *pk_count);
void view_persist_free_definition(tf_column *cols, size_t count);

view_table *view_table_new(const char *name);
/* Where its rows, buckets and index slots go from now on: only while it
 * holds no rows. */
void view_table_use_store(view_table *t, view_store *store);
void view_table_destroy(view_table *t);
/* The slot indexing these columns (by name, in this order), added when
 * new. Only before rows exist. */
size_t view_table_slot(view_table *t, char **names, size_t count);
/* Same name, type, metadata, signedness, key flag, charset and members. */
bool view_same_column(const tf_column *a, const tf_column *b);
/* Copies the definition; see tf_view_define_table. */
tf_status view_table_define(view_table *t, const tf_column *columns, size_t column_count,
                            const uint32_t *primary_key, size_t primary_key_count, tf_error *err);
/* Joins slot_a of a with slot_b of b (equal keys match): their buckets
 * link to each other; *link_a is the link index in a's buckets (towards
 * b), *link_b in b's. Only before rows exist. */
void view_table_link_slots(view_table *a, size_t slot_a, view_table *b, size_t slot_b,
                           size_t *link_a, size_t *link_b);
/* Column index by name, -1 when none. */
long view_table_column(const view_table *t, const char *name);
/* Resolves slot column names to indexes (after view_table_define; names
 * are known to exist). */
void view_table_resolve_slots(view_table *t);

/* Builds a row from values (typed BSON, keys lent by t->scratch until the
 * row is inserted); NULL with err on a value the type mapping refuses or
 * a NULL primary key column. */
view_row *view_row_build(view_table *t, const tf_value *values, tf_error *err);
/* A row from its parts: pk and packed values are copied, keys (slot_count
 * of them, len 0: NULL key) are lent until view_table_insert (see
 * view_row_key). For persist.c, which saves exactly these parts. */
view_row *view_row_assemble(const view_table *t, const uint8_t *pk, size_t pk_len,
                            const uint8_t *values, size_t values_len, const view_row_key *keys);
void view_row_destroy(const view_table *t, view_row *row);
/* Encodes the primary key of values into out (false: a NULL in it). */
bool view_table_encode_pk(const view_table *t, const tf_value *values, view_buf *out);
view_row *view_table_find(const view_table *t, const uint8_t *pk, size_t pk_len);
/* Asks the cache for the hash slots inserting row will probe. */
void view_table_prefetch(const view_table *t, const view_row *row);
/* Puts row in the table and its indexes (no row with its pk may be held).
 * Returns the slots (bit min(s, 63) for slot s) where the row's key had
 * no row before: a lookup on that key had no match. */
uint64_t view_table_insert(view_table *t, view_row *row);
/* Puts row in old's place (old is out, not destroyed): the same primary
 * key and the same key in every slot, so no index changes. */
void view_table_replace(view_table *t, view_row *old, view_row *row);
/* Takes row out of the table and its indexes (not destroyed). */
void view_table_remove(view_table *t, view_row *row);
/* The rows of slot whose key is (key, len); NULL when none. */
const view_bucket *view_table_matches(const view_table *t, size_t slot, const uint8_t *key,
                                      size_t len);
/* Appends the row's BSON document to out. */
void view_row_bson(const view_table *t, const view_row *row, view_buf *out);
/* The row's element of column index, written into scratch (see
 * view_unpack_element). */
bool view_row_element(const view_table *t, const view_row *row, size_t index, view_buf *scratch,
                      view_raw_element *out);
/* memcmp order of encoded primary keys (shorter first on a common prefix). */
int view_row_pk_compare(const view_row *a, const view_row *b);

/* ---- the engine (engine.c: setup, changes, marking; flush.c: documents
 * and ops) ---- */

/* How a change reaching a node's rows is turned into document ops in
 * TF_VIEW_FANOUT_ARRAY_FILTERS mode (recompute mode always goes up). */
typedef enum view_route {
    VIEW_ROUTE_UP,           /* mark the documents above for recompute */
    VIEW_ROUTE_ROOT_FIELD,   /* lookup under the root: $set it on each document */
    VIEW_ROUTE_ARRAY_FILTER, /* object under a root-level array: one updateMany */
} view_route;

typedef struct view_node {
    view_table *table;
    long parent;      /* node index, -1 for the root */
    const char *name; /* field name in the parent: last path segment */
    size_t name_len;
    tf_lookup_type type;
    const tf_flow_lookup *lookup; /* NULL for the root */
    size_t child_slot;            /* in table: this node's relation columns */
    size_t parent_slot;           /* in the parent's table: parent fields */
    size_t child_link;            /* link of child_slot's buckets to the parent side */
    size_t parent_link;           /* link of parent_slot's buckets to this side */
    bool *omit;                   /* per column: not in the document (relation column of a
                                     lookup, or left out by include / exclude / fields=);
                                     NULL: every column */
    const char **renamed;         /* per column: its name in the document when renamed,
                                     else NULL; NULL: no renames */
    uint32_t *parent_columns;     /* per relation pair: column of the parent table */
    size_t child_count;
    size_t *children;
    view_route route;
    unsigned field_bit;    /* ROOT_FIELD: its bit in view_pending_root.fields */
    size_t computed_count; /* the root's add_fields (computed.c) */
    struct view_computed *computed;
} view_node;

/* In view_pending_root.fields: the root row's own columns changed (its
 * primary key and every index key did not), $set them. The other bits are
 * the ROOT_FIELD lookups' field_bit. */
#define VIEW_ROOT_COLUMNS_BIT 63

/* A document to write at the next flush, keyed by root primary key. */
typedef struct view_pending_root {
    uint64_t fields; /* parts to $set (unless whole) */
    bool whole;      /* recompute and replace (or delete) */
    uint32_t key_len, filter_len;
    uint8_t *filter; /* BSON {pk column: value, ...} of the root row */
    uint8_t key[];
} view_pending_root;

/* An ARRAY_FILTER lookup key whose embedded value changed: data is the
 * node (4 bytes, big-endian: sorts by node) then the key. */
typedef struct view_pending_fanout {
    uint32_t node;
    uint32_t data_len;
    uint8_t data[];
} view_pending_fanout;

struct view_expr;

struct tf_view {
    const tf_flow_spec *spec;
    size_t table_count;
    view_table **tables;
    /* Per table (same index): the filter its rows pass to be held, NULL:
     * every row. One per table: the nodes reading a table agree on it. */
    struct view_expr **filters;
    size_t node_count;
    view_node *nodes;
    bool ready;
    tf_view_fanout fanout;
    view_map pending; /* root pk -> view_pending_root */
    view_map fanouts; /* node + key -> view_pending_fanout */
    view_arena arena; /* the pending records, until the flush */
    view_buf scratch; /* primary key of a before image; fan-out keys */
    /* flush.c: documents are written here, then copied into the op. */
    view_buf out, set, unset, filter, array_filters, path;
    view_buf element; /* one column of a row, unpacked */
    view_store *store; /* of the tables' state; NULL: the heap */
    char *state_dir;   /* where the store's file is */
    bool sealed;       /* kept for the next start (seal.c): no change may reach it */
    /* flush.c's plan: the target's write costs (all 0: none), and what
     * they changed so far. */
    tf_view_write_costs costs;
    bool planning;
    uint64_t planned_replaces, planned_positional_keys;
};

/* The error of a change reaching a sealed view. */
tf_status view_sealed_error(tf_error *err);

/* Marks the documents a held row reaches (see engine.c): appeared = the
 * slots where its key had no row before; columns_only = an update that
 * kept every key. */
void view_mark_row(tf_view *view, const view_table *t, const view_row *row, uint64_t appeared,
                   bool columns_only);
/* Resolves relation columns, routes and slots once every table is
 * defined (again after a table's columns changed); errors name the flow
 * file line. */
tf_status view_resolve(tf_view *view, tf_error *err);

/* Whether a row of t (values as defined) passes the table's filter; rows
 * that do not are absent from the view (engine.c). */
tf_status view_filter_accepts(const tf_view *view, const view_table *t, const tf_value *values,
                              bool *accepted, tf_error *err);

/* Appends the columns of a node's row as the document shows them: the
 * omitted ones left out, renamed ones under their new name, then the
 * computed fields; skip_pk leaves the primary key out too (flush.c). */
void view_append_shown_columns(const view_node *n, const view_row *row, bool skip_pk,
                               view_buf *out);

/* ---- add_fields (computed.c) ---- */

typedef struct view_computed view_computed;

/* Compiles the spec's computed fields for the root node against its
 * table's columns: expression errors, a type that cannot hold the value,
 * a name the document already has (file:line:column). */
tf_status view_computed_resolve(tf_view *view, tf_error *err);
/* Appends node n's computed fields for row (its document) to out. */
void view_computed_append(const view_node *n, const view_row *row, view_buf *out);
void view_computed_cleanup(view_node *n);

/* A flow error at pos: "FILE:LINE:COL: message" (TF_ERR_CONFIG). */
tf_status view_config_error(const tf_view *view, tf_flow_pos pos, tf_error *err, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));

/* The pending documents and fan-out keys are forgotten. */
void view_pending_reset(tf_view *view);

/* Writes the root key filter of root row `row` ({pk_col: value, ...}, the
 * values copied from the row's document) into out, emptied first. */
void view_root_filter(tf_view *view, const view_row *row, view_buf *out);

/* ---- the view's tables, for persist.c (engine.c) ---- */

size_t view_table_count(const tf_view *view);
view_table *view_table_at(const tf_view *view, size_t index);
view_table *view_table_by_name(const tf_view *view, const char *name);

#endif
