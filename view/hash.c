/* hash.c — a chained hash map from byte strings to pointers, for rows by
 * primary key, index buckets by join key and pending documents. */
#include "view_internal.h"

#include <string.h>

void view_map_init(view_map *m) { memset(m, 0, sizeof *m); }

void view_map_cleanup(view_map *m)
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        view_map_entry *e = m->buckets[i];
        while (e) {
            view_map_entry *next = e->next;
            bson_free(e);
            e = next;
        }
    }
    bson_free(m->buckets);
    memset(m, 0, sizeof *m);
}

/* FNV-1a with a final avalanche: keys are short and often share prefixes
 * (tags, escapes), so the low bits need the mixing. */
static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static view_map_entry **find(const view_map *m, uint64_t h, const uint8_t *key, size_t len)
{
    if (!m->bucket_count)
        return NULL;
    view_map_entry **link = &m->buckets[h & (m->bucket_count - 1)];
    while (*link) {
        view_map_entry *e = *link;
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return link;
        link = &e->next;
    }
    return link;
}

void *view_map_get(const view_map *m, const uint8_t *key, size_t len)
{
    view_map_entry **link = find(m, hash_bytes(key, len), key, len);
    return link && *link ? (*link)->value : NULL;
}

static void grow(view_map *m)
{
    size_t count = m->bucket_count ? m->bucket_count * 2 : 16;
    view_map_entry **buckets = bson_malloc0(count * sizeof *buckets);
    for (size_t i = 0; i < m->bucket_count; i++) {
        view_map_entry *e = m->buckets[i];
        while (e) {
            view_map_entry *next = e->next;
            size_t b = e->hash & (count - 1);
            e->next = buckets[b];
            buckets[b] = e;
            e = next;
        }
    }
    bson_free(m->buckets);
    m->buckets = buckets;
    m->bucket_count = count;
}

void **view_map_upsert(view_map *m, const uint8_t *key, size_t len)
{
    uint64_t h = hash_bytes(key, len);
    view_map_entry **link = find(m, h, key, len);
    if (link && *link)
        return &(*link)->value;
    if (m->count + 1 > m->bucket_count - m->bucket_count / 4 || !m->bucket_count) {
        grow(m);
        link = find(m, h, key, len);
    }
    view_map_entry *e = bson_malloc(sizeof *e + len);
    e->next = NULL;
    e->hash = h;
    e->value = NULL;
    e->key_len = len;
    memcpy(e->key, key, len);
    *link = e;
    m->count++;
    return &e->value;
}

void *view_map_remove(view_map *m, const uint8_t *key, size_t len)
{
    view_map_entry **link = find(m, hash_bytes(key, len), key, len);
    if (!link || !*link)
        return NULL;
    view_map_entry *e = *link;
    void *value = e->value;
    *link = e->next;
    bson_free(e);
    m->count--;
    return value;
}

view_map_entry *view_map_next(const view_map *m, size_t *bucket, view_map_entry *it)
{
    if (it && it->next)
        return it->next;
    size_t b = it ? *bucket + 1 : *bucket;
    for (; b < m->bucket_count; b++) {
        if (m->buckets[b]) {
            *bucket = b;
            return m->buckets[b];
        }
    }
    *bucket = b;
    return NULL;
}
