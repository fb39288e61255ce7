/* flow_edit.c — a saved flow whose lookups changed, continued without a
 * full rebuild (view.h, "flow edits").
 *
 * What a table's held rows need under a flow is its columns and one key per
 * join index (slot): the columns a lookup joins on, as a child or as a
 * parent. Rows carry over to the new flow's view when every index the new
 * flow wants on their table existed under the old one (the keys are then
 * copied, not computed again); a table new to the flow, or one that needs
 * an index it did not have, is read again from the source. The root table,
 * the target and the datasources must stay: those change every document's
 * identity, which only a rebuild gives. */
#include "view_internal.h"

#include <stdio.h>
#include <string.h>

static bool slot_names_equal(const view_slot *a, const view_slot *b)
{
    if (a->column_count != b->column_count)
        return false;
    for (size_t c = 0; c < a->column_count; c++)
        if (strcmp(a->column_names[c], b->column_names[c]) != 0)
            return false;
    return true;
}

/* The slot of from_t indexing the same columns as to_slot, or -1. */
static long matching_slot(const view_table *from_t, const view_slot *to_slot)
{
    for (size_t s = 0; s < from_t->slot_count; s++)
        if (slot_names_equal(&from_t->slots[s], to_slot))
            return (long)s;
    return -1;
}

static void add_name(char ***list, size_t *count, const char *name)
{
    *list = bson_realloc(*list, (*count + 1) * sizeof **list);
    (*list)[(*count)++] = bson_strdup(name);
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The filter of table in spec (the nodes reading it agree, or the view
 * refuses the flow), NULL when none. */
static const char *table_filter(const tf_flow_spec *spec, const char *table)
{
    if (strcmp(spec->source_table, table) == 0)
        return spec->shape.filter;
    for (size_t i = 0; i < spec->lookup_count; i++)
        if (strcmp(spec->lookups[i].table, table) == 0)
            return spec->lookups[i].shape.filter;
    return NULL;
}

void tf_flow_edit_plan(const tf_flow_spec *old_spec, const tf_flow_spec *new_spec,
                       tf_flow_edit *out)
{
    memset(out, 0, sizeof *out);
    const char *what = NULL;
    if (strcmp(old_spec->name, new_spec->name) != 0)
        what = "its name";
    else if (strcmp(old_spec->source_datasource, new_spec->source_datasource) != 0 ||
             strcmp(old_spec->source_table, new_spec->source_table) != 0)
        what = "its root table (read_from)";
    else if (strcmp(old_spec->target_datasource, new_spec->target_datasource) != 0 ||
             strcmp(old_spec->target_collection, new_spec->target_collection) != 0)
        what = "its target (write_to)";
    else if (!same_text(old_spec->shape.filter, new_spec->shape.filter))
        what = "its root filter";
    if (what) {
        /* The root filter decides which documents exist: those it now
         * refuses must go, which only a rebuild does. */
        out->rebuild = true;
        snprintf(out->reason, sizeof out->reason, "%s changed", what);
        return;
    }
    tf_view *old_view = tf_view_new(old_spec);
    tf_view *new_view = tf_view_new(new_spec);
    for (size_t i = 0; i < view_table_count(new_view); i++) {
        const view_table *t = view_table_at(new_view, i);
        const view_table *o = view_table_by_name(old_view, t->name);
        /* A table whose filter changed holds other rows: read it again. */
        bool keep = o != NULL &&
                    same_text(table_filter(old_spec, t->name), table_filter(new_spec, t->name));
        for (size_t s = 0; keep && s < t->slot_count; s++)
            keep = matching_slot(o, &t->slots[s]) >= 0;
        if (keep)
            add_name(&out->keep, &out->keep_count, t->name);
        else
            add_name(&out->reread, &out->reread_count, t->name);
    }
    tf_view_destroy(old_view);
    tf_view_destroy(new_view);
}

void tf_flow_edit_cleanup(tf_flow_edit *e)
{
    for (size_t i = 0; i < e->keep_count; i++)
        bson_free(e->keep[i]);
    for (size_t i = 0; i < e->reread_count; i++)
        bson_free(e->reread[i]);
    bson_free(e->keep);
    bson_free(e->reread);
    memset(e, 0, sizeof *e);
}

tf_status tf_view_adopt_table(tf_view *to, const tf_view *from, const char *table, tf_error *err)
{
    if (to->sealed)
        return view_sealed_error(err);
    view_table *t = view_table_by_name(to, table);
    const view_table *f = view_table_by_name(from, table);
    if (!t || !f || !f->defined)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "table %.100s: not in both flows, or not defined in the old one",
                            table);
    if (t->slot_count > 64)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "table %.100s: more than 64 join indexes",
                            table);
    long map[64];
    for (size_t s = 0; s < t->slot_count; s++) {
        map[s] = matching_slot(f, &t->slots[s]);
        if (map[s] < 0)
            return tf_error_set(err, TF_ERR_CONFIG, 0,
                                "table %.100s: the new flow joins on columns the old one did not "
                                "index; it must be read again",
                                table);
    }
    if (tf_view_define_table(to, table, f->columns, f->column_count, f->pk, f->pk_count, err) !=
        TF_OK)
        return TF_MALFORMED;
    view_row_key keys[64];
    size_t bucket = 0;
    for (view_map_entry *e = view_map_next(&f->rows, &bucket, NULL); e;
         e = view_map_next(&f->rows, &bucket, e)) {
        const view_row *row = e->value;
        for (size_t s = 0; s < t->slot_count; s++) {
            keys[s].ptr = view_row_keys(row)[map[s]].ptr;
            keys[s].len = view_row_keys(row)[map[s]].len;
            keys[s].position = 0;
        }
        view_row *copy =
            view_row_assemble(t, view_row_pk(row), row->pk_len, view_row_values(row), row->values_len, keys);
        view_table_insert(t, copy);
    }
    return TF_OK;
}
