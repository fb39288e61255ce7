/* doc_op.c — document operations as data (sink.h section 1).
 *
 * An op is a handful of pointers to BSON plus one flag saying whether the op
 * owns them; constructors only fill the struct, so view/ can build ops on
 * its hot path without copying. */
#include "sink.h"

#include <string.h>

static void op_fill(tf_doc_op *op, tf_doc_op_kind kind, bool owns, const bson_t *filter,
                    const bson_t *document, const bson_t *set, const bson_t *unset,
                    const bson_t *array_filters)
{
    op->kind = kind;
    op->owns_bson = owns;
    op->filter = filter;
    op->document = document;
    op->set = set;
    op->unset = unset;
    op->array_filters = array_filters;
}

void tf_doc_op_replace_steal(tf_doc_op *op, bson_t *key, bson_t *document)
{
    op_fill(op, TF_DOC_OP_REPLACE, true, key, document, NULL, NULL, NULL);
}

void tf_doc_op_replace_borrow(tf_doc_op *op, const bson_t *key, const bson_t *document)
{
    op_fill(op, TF_DOC_OP_REPLACE, false, key, document, NULL, NULL, NULL);
}

void tf_doc_op_update_steal(tf_doc_op *op, bson_t *key, bson_t *set, bson_t *unset)
{
    op_fill(op, TF_DOC_OP_UPDATE, true, key, NULL, set, unset, NULL);
}

void tf_doc_op_update_borrow(tf_doc_op *op, const bson_t *key, const bson_t *set,
                             const bson_t *unset)
{
    op_fill(op, TF_DOC_OP_UPDATE, false, key, NULL, set, unset, NULL);
}

void tf_doc_op_update_many_steal(tf_doc_op *op, bson_t *filter, bson_t *set, bson_t *unset,
                                 bson_t *array_filters)
{
    op_fill(op, TF_DOC_OP_UPDATE_MANY, true, filter, NULL, set, unset, array_filters);
}

void tf_doc_op_update_many_borrow(tf_doc_op *op, const bson_t *filter, const bson_t *set,
                                  const bson_t *unset, const bson_t *array_filters)
{
    op_fill(op, TF_DOC_OP_UPDATE_MANY, false, filter, NULL, set, unset, array_filters);
}

void tf_doc_op_insert_steal(tf_doc_op *op, bson_t *key, bson_t *document)
{
    op_fill(op, TF_DOC_OP_INSERT, true, key, document, NULL, NULL, NULL);
}

void tf_doc_op_insert_borrow(tf_doc_op *op, const bson_t *key, const bson_t *document)
{
    op_fill(op, TF_DOC_OP_INSERT, false, key, document, NULL, NULL, NULL);
}

void tf_doc_op_delete_steal(tf_doc_op *op, bson_t *key)
{
    op_fill(op, TF_DOC_OP_DELETE, true, key, NULL, NULL, NULL, NULL);
}

void tf_doc_op_delete_borrow(tf_doc_op *op, const bson_t *key)
{
    op_fill(op, TF_DOC_OP_DELETE, false, key, NULL, NULL, NULL, NULL);
}

void tf_doc_op_cleanup(tf_doc_op *op)
{
    if (op->owns_bson) {
        /* The const in the struct is for readers of borrowed ops; owned
         * BSON came from the caller's bson_new() and is ours to destroy. */
        const bson_t *all[] = {op->filter, op->document, op->set, op->unset, op->array_filters};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i] != NULL)
                bson_destroy((bson_t *)all[i]);
    }
    memset(op, 0, sizeof *op);
}

size_t tf_doc_op_size(const tf_doc_op *op)
{
    const bson_t *all[] = {op->filter, op->document, op->set, op->unset, op->array_filters};
    size_t total = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] != NULL)
            total += all[i]->len;
    return total;
}
