/* keyset.c — a set of byte strings (encoded primary keys): open addressing
 * with linear probing, FNV-1a hashes, keys copied. */
#include "pipeline_internal.h"

#include <string.h>

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static keyset_entry *find_slot(const keyset *s, const uint8_t *key, size_t len, uint64_t h)
{
    size_t mask = s->capacity - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        keyset_entry *e = &s->slots[i];
        if (!e->key || (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0))
            return e;
    }
}

static void grow(keyset *s)
{
    keyset old = *s;
    s->capacity = old.capacity ? old.capacity * 2 : 64;
    s->slots = bson_malloc0(s->capacity * sizeof *s->slots);
    for (size_t i = 0; i < old.capacity; i++)
        if (old.slots[i].key)
            *find_slot(s, old.slots[i].key, old.slots[i].len, old.slots[i].hash) = old.slots[i];
    bson_free(old.slots);
}

void keyset_add(keyset *s, const uint8_t *key, size_t len)
{
    if ((s->count + 1) * 4 > s->capacity * 3)
        grow(s);
    uint64_t h = hash_bytes(key, len);
    keyset_entry *e = find_slot(s, key, len, h);
    if (e->key)
        return;
    e->key = bson_malloc(len ? len : 1);
    if (len)
        memcpy(e->key, key, len);
    e->len = len;
    e->hash = h;
    s->count++;
}

bool keyset_has(const keyset *s, const uint8_t *key, size_t len)
{
    if (!s->count)
        return false;
    return find_slot(s, key, len, hash_bytes(key, len))->key != NULL;
}

void keyset_clear(keyset *s)
{
    for (size_t i = 0; i < s->capacity; i++)
        bson_free(s->slots[i].key);
    bson_free(s->slots);
    memset(s, 0, sizeof *s);
}
