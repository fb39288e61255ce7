/* doc_ops.c — the list of document operations the view emits. */
#include "view.h"

#include <string.h>

void tf_view_ops_init(tf_view_ops *ops) { memset(ops, 0, sizeof *ops); }

static void destroy_if(bson_t *b)
{
    if (b)
        bson_destroy(b);
}

void tf_view_ops_clear(tf_view_ops *ops)
{
    for (size_t i = 0; i < ops->count; i++) {
        tf_view_op *op = &ops->ops[i];
        destroy_if(op->filter);
        destroy_if(op->doc);
        destroy_if(op->set);
        destroy_if(op->unset);
        destroy_if(op->array_filters);
    }
    ops->count = 0;
}

void tf_view_ops_cleanup(tf_view_ops *ops)
{
    tf_view_ops_clear(ops);
    bson_free(ops->ops);
    memset(ops, 0, sizeof *ops);
}

static tf_view_op *push(tf_view_ops *ops)
{
    if (ops->count == ops->cap) {
        ops->cap = ops->cap ? ops->cap * 2 : 16;
        ops->ops = bson_realloc(ops->ops, ops->cap * sizeof *ops->ops);
    }
    tf_view_op *op = &ops->ops[ops->count++];
    memset(op, 0, sizeof *op);
    return op;
}

void tf_view_ops_push_steal(tf_view_ops *ops, tf_view_op_kind kind, bson_t *filter, bson_t *doc)
{
    tf_view_op *op = push(ops);
    op->kind = kind;
    op->filter = filter;
    op->doc = doc;
}

void tf_view_ops_push_update_steal(tf_view_ops *ops, tf_view_op_kind kind, bson_t *filter,
                                   bson_t *set, bson_t *unset, bson_t *array_filters)
{
    tf_view_op *op = push(ops);
    op->kind = kind;
    op->filter = filter;
    op->set = set;
    op->unset = unset;
    op->array_filters = array_filters;
}

static char *json_or_empty(const bson_t *b)
{
    return b ? bson_as_relaxed_extended_json(b, NULL) : bson_strdup("{ }");
}

char *tf_view_op_describe(const tf_view_op *op)
{
    char *filter = bson_as_relaxed_extended_json(op->filter, NULL);
    char *out;
    switch (op->kind) {
    case TF_VIEW_OP_DELETE: out = bson_strdup_printf("delete %s", filter); break;
    case TF_VIEW_OP_SET:
    case TF_VIEW_OP_SET_MANY: {
        char *set = json_or_empty(op->set), *unset = json_or_empty(op->unset);
        char *filters = op->array_filters ? bson_array_as_json(op->array_filters, NULL) : NULL;
        out = bson_strdup_printf("%s %s { \"$set\" : %s, \"$unset\" : %s }%s%s",
                                 op->kind == TF_VIEW_OP_SET ? "set" : "set-many", filter, set,
                                 unset, filters ? " " : "", filters ? filters : "");
        bson_free(set);
        bson_free(unset);
        bson_free(filters);
        break;
    }
    default: {
        char *doc = op->doc ? bson_as_relaxed_extended_json(op->doc, NULL) : NULL;
        out = bson_strdup_printf("replace %s %s", filter, doc ? doc : "");
        bson_free(doc);
    }
    }
    bson_free(filter);
    return out;
}
