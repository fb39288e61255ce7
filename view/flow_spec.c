/* flow_spec.c — checking a parsed flow as a whole, its canonical form and
 * hash, and freeing it. */
#include "view_internal.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The one place messages get their "file:line:column: " prefix. */
static tf_status fail(tf_error *err, const tf_flow_spec *spec, tf_flow_pos pos, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static tf_status fail(tf_error *err, const tf_flow_spec *spec, tf_flow_pos pos, const char *fmt,
                      ...)
{
    char msg[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (pos.line)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "%.150s:%u:%u: %.340s", spec->file, pos.line,
                            pos.column, msg);
    return tf_error_set(err, TF_ERR_CONFIG, 0, "%.150s: %.340s", spec->file, msg);
}

/* A path is dot-separated non-empty field names, none starting with '$'
 * (MongoDB operators) and not _id at the top (the target owns _id). */
static const char *path_problem(const char *path)
{
    if (!path[0])
        return "the path is empty";
    if (path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return "the path has an empty field name (a '.' at the start, the end or twice)";
    if (path[0] == '$' || strstr(path, ".$"))
        return "a field name in the path starts with '$'";
    if (strcmp(path, "_id") == 0 || strncmp(path, "_id.", 4) == 0)
        return "the path is under _id, which the target owns";
    return NULL;
}

/* A name given twice in one list, or two renames to one name. */
static tf_status check_shape(tf_error *err, const tf_flow_spec *spec, const tf_flow_shape *shape)
{
    const tf_flow_field *lists[] = {shape->include, shape->exclude, shape->renames};
    const size_t counts[] = {shape->include_count, shape->exclude_count, shape->rename_count};
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            for (size_t j = 0; j < i; j++) {
                if (strcmp(lists[l][i].name, lists[l][j].name) == 0)
                    return fail(err, spec, lists[l][i].pos, "column \"%.100s\" named twice",
                                lists[l][i].name);
                if (l == 2 && strcmp(lists[l][i].new_name, lists[l][j].new_name) == 0)
                    return fail(err, spec, lists[l][i].pos, "two columns renamed to \"%.100s\"",
                                lists[l][i].new_name);
            }
    return TF_OK;
}

tf_status tf_flow_spec_validate(tf_flow_spec *spec, tf_error *err)
{
    if (spec->source_table && check_shape(err, spec, &spec->shape) != TF_OK)
        return TF_MALFORMED;
    for (size_t i = 0; i < spec->computed_count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->computed[i].name, spec->computed[j].name) == 0)
                return fail(err, spec, spec->computed[i].pos,
                            "add_fields names field \"%.100s\" twice", spec->computed[i].name);
    for (size_t i = 0; i < spec->lookup_count; i++)
        if (check_shape(err, spec, &spec->lookups[i].shape) != TF_OK)
            return TF_MALFORMED;
    if (!spec->source_table)
        return fail(err, spec, spec->pos,
                    "flow '%.100s' has no read_from(\"Datasource.table\") for its root table",
                    spec->name);
    if (!spec->target_collection)
        return fail(err, spec, spec->pos,
                    "flow '%.100s' has no write_to(\"Datasource.collection\") for its target",
                    spec->name);
    for (size_t i = 0; i < spec->lookup_count; i++) {
        tf_flow_lookup *lk = &spec->lookups[i];
        if (strcmp(lk->datasource, spec->source_datasource) != 0)
            return fail(err, spec, lk->pos,
                        "lookup of %.60s.%.60s: a flow reads one source, and read_from reads "
                        "%.60s",
                        lk->datasource, lk->table, spec->source_datasource);
        const char *problem = path_problem(lk->path);
        if (problem)
            return fail(err, spec, lk->path_pos, "path \"%.100s\": %s", lk->path, problem);
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->lookups[j].path, lk->path) == 0)
                return fail(err, spec, lk->path_pos, "duplicate path \"%.100s\" (first at line %u)",
                            lk->path, spec->lookups[j].pos.line);
    }
    for (size_t i = 0; i < spec->lookup_count; i++) {
        tf_flow_lookup *lk = &spec->lookups[i];
        const char *dot = strrchr(lk->path, '.');
        size_t prefix_len = dot ? (size_t)(dot - lk->path) : 0;
        lk->parent = -1;
        if (dot) {
            for (size_t j = 0; j < spec->lookup_count; j++)
                if (strlen(spec->lookups[j].path) == prefix_len &&
                    memcmp(spec->lookups[j].path, lk->path, prefix_len) == 0)
                    lk->parent = (long)j;
            if (lk->parent < 0)
                return fail(err, spec, lk->path_pos,
                            "unknown lookup parent path \"%.*s\" of path \"%.100s\" (no lookup has "
                            "path=\"%.*s\")",
                            (int)prefix_len, lk->path, lk->path, (int)prefix_len, lk->path);
        }
        for (size_t r = 0; r < lk->relation_count; r++) {
            const tf_flow_relation *rel = &lk->relations[r];
            const char *field = rel->parent_field;
            if (dot) {
                if (strncmp(field, lk->path, prefix_len) != 0 || field[prefix_len] != '.' ||
                    !field[prefix_len + 1] || strchr(field + prefix_len + 1, '.'))
                    return fail(err, spec, rel->pos,
                                "relation parent field \"%.100s\" of path \"%.100s\" must be a "
                                "column of the parent lookup, written \"%.*s.<column>\"",
                                field, lk->path, (int)prefix_len, lk->path);
            } else if (strchr(field, '.')) {
                return fail(err, spec, rel->pos,
                            "relation parent field \"%.100s\" of path \"%.100s\" must be a column "
                            "of the root table %.100s (no '.')",
                            field, lk->path, spec->source_table);
            }
            if (strchr(rel->child_column, '.'))
                return fail(err, spec, rel->pos,
                            "relation child column \"%.100s\" must be a column of %.100s (no '.')",
                            rel->child_column, lk->table);
            for (size_t q = 0; q < r; q++)
                if (strcmp(lk->relations[q].child_column, rel->child_column) == 0)
                    return fail(err, spec, rel->pos, "relation names child column \"%.100s\" twice",
                                rel->child_column);
        }
    }
    return TF_OK;
}

/* Strings in the canonical form are quoted with their length so that no
 * choice of names can make two different specs print the same. */
static void put_string(bson_string_t *out, const char *key, const char *s)
{
    bson_string_append_printf(out, "%s %zu:%s\n", key, strlen(s), s);
}

/* Only what a shape holds, so that flows without operators keep the
 * canonical form (and hash) they always had. */
static void put_shape(bson_string_t *out, const tf_flow_shape *shape)
{
    if (shape->filter)
        put_string(out, "filter", shape->filter);
    for (size_t i = 0; i < shape->include_count; i++)
        put_string(out, "include", shape->include[i].name);
    for (size_t i = 0; i < shape->exclude_count; i++)
        put_string(out, "exclude", shape->exclude[i].name);
    for (size_t i = 0; i < shape->rename_count; i++) {
        put_string(out, "rename", shape->renames[i].name);
        put_string(out, "to", shape->renames[i].new_name);
    }
}

char *tf_flow_spec_canonical(const tf_flow_spec *spec)
{
    bson_string_t *out = bson_string_new("tapflow-flow 1\n");
    put_string(out, "name", spec->name);
    put_string(out, "source", spec->source_datasource);
    put_string(out, "table", spec->source_table);
    put_shape(out, &spec->shape);
    for (size_t i = 0; i < spec->computed_count; i++) {
        put_string(out, "add_field", spec->computed[i].name);
        put_string(out, "type", spec->computed[i].type);
        put_string(out, "expression", spec->computed[i].expression);
    }
    for (size_t i = 0; i < spec->lookup_count; i++) {
        const tf_flow_lookup *lk = &spec->lookups[i];
        bson_string_append_printf(out, "lookup %zu\n", i);
        put_string(out, "source", lk->datasource);
        put_string(out, "table", lk->table);
        put_string(out, "path", lk->path);
        put_string(out, "type", lk->type == TF_LOOKUP_ARRAY ? "array" : "object");
        for (size_t r = 0; r < lk->relation_count; r++) {
            put_string(out, "parent", lk->relations[r].parent_field);
            put_string(out, "child", lk->relations[r].child_column);
        }
        put_shape(out, &lk->shape);
    }
    put_string(out, "target", spec->target_datasource);
    put_string(out, "collection", spec->target_collection);
    return bson_string_free(out, false);
}

void tf_flow_spec_hash(const tf_flow_spec *spec, char out[TF_FLOW_HASH_HEX_LEN + 1])
{
    char *text = tf_flow_spec_canonical(spec);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL);
    bson_free(text);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    out[TF_FLOW_HASH_HEX_LEN] = '\0';
}

static void free_fields(tf_flow_field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bson_free(fields[i].name);
        bson_free(fields[i].new_name);
    }
    bson_free(fields);
}

static void shape_cleanup(tf_flow_shape *shape)
{
    bson_free(shape->filter);
    free_fields(shape->include, shape->include_count);
    free_fields(shape->exclude, shape->exclude_count);
    free_fields(shape->renames, shape->rename_count);
}

void tf_flow_spec_destroy(tf_flow_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->lookup_count; i++) {
        tf_flow_lookup *lk = &spec->lookups[i];
        for (size_t r = 0; r < lk->relation_count; r++) {
            bson_free(lk->relations[r].parent_field);
            bson_free(lk->relations[r].child_column);
        }
        bson_free(lk->relations);
        bson_free(lk->datasource);
        bson_free(lk->table);
        bson_free(lk->path);
        shape_cleanup(&lk->shape);
    }
    shape_cleanup(&spec->shape);
    for (size_t i = 0; i < spec->computed_count; i++) {
        bson_free(spec->computed[i].name);
        bson_free(spec->computed[i].type);
        bson_free(spec->computed[i].expression);
    }
    bson_free(spec->computed);
    bson_free(spec->lookups);
    bson_free(spec->file);
    bson_free(spec->name);
    bson_free(spec->source_datasource);
    bson_free(spec->source_table);
    bson_free(spec->target_datasource);
    bson_free(spec->target_collection);
    bson_free(spec);
}
