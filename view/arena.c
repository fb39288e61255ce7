/* arena.c — a bump allocator for what lives until the next flush (pending
 * documents and fan-out keys): one free per block instead of one per
 * record. */
#include "view_internal.h"

#include <stddef.h>

#define ARENA_BLOCK 65536

struct view_arena_block {
    view_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

void *view_arena_alloc(view_arena *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    view_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t block = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = bson_malloc(sizeof *b + block);
        b->next = a->head;
        b->used = 0;
        b->size = block;
        a->head = b;
    }
    void *p = (uint8_t *)b->data + b->used;
    b->used += size;
    return p;
}

void view_arena_reset(view_arena *a)
{
    if (!a->head)
        return;
    view_arena_block *keep = a->head;
    view_arena_block *b = keep->next;
    while (b) {
        view_arena_block *next = b->next;
        bson_free(b);
        b = next;
    }
    keep->next = NULL;
    keep->used = 0;
}

void view_arena_cleanup(view_arena *a)
{
    view_arena_reset(a);
    bson_free(a->head);
    a->head = NULL;
}
