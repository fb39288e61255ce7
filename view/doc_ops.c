/* doc_ops.c — the list of document operations the view emits. */
#include "view.h"

#include <string.h>

void tf_view_ops_init(tf_view_ops *ops) { memset(ops, 0, sizeof *ops); }

void tf_view_ops_clear(tf_view_ops *ops)
{
    for (size_t i = 0; i < ops->count; i++) {
        if (ops->ops[i].filter)
            bson_destroy(ops->ops[i].filter);
        if (ops->ops[i].doc)
            bson_destroy(ops->ops[i].doc);
    }
    ops->count = 0;
}

void tf_view_ops_cleanup(tf_view_ops *ops)
{
    tf_view_ops_clear(ops);
    bson_free(ops->ops);
    memset(ops, 0, sizeof *ops);
}

void tf_view_ops_push_steal(tf_view_ops *ops, tf_view_op_kind kind, bson_t *filter, bson_t *doc)
{
    if (ops->count == ops->cap) {
        ops->cap = ops->cap ? ops->cap * 2 : 16;
        ops->ops = bson_realloc(ops->ops, ops->cap * sizeof *ops->ops);
    }
    ops->ops[ops->count++] = (tf_view_op){.kind = kind, .filter = filter, .doc = doc};
}

char *tf_view_op_describe(const tf_view_op *op)
{
    char *filter = bson_as_relaxed_extended_json(op->filter, NULL);
    char *doc = op->doc ? bson_as_relaxed_extended_json(op->doc, NULL) : NULL;
    char *out = op->kind == TF_VIEW_OP_DELETE ? bson_strdup_printf("delete %s", filter)
                                              : bson_strdup_printf("replace %s %s", filter, doc);
    bson_free(filter);
    bson_free(doc);
    return out;
}
