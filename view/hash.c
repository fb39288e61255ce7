/* hash.c — an open-addressing hash map from byte strings to pointers, for
 * rows by primary key, index buckets by join key and pending documents.
 *
 * The engine is bound by memory latency: a document recompute does a
 * handful of lookups in maps of ~10^5 entries, each a likely cache miss.
 * So the slots are one flat array (value, hash, key length: 16 bytes, four
 * per cache line) and the key bytes are not held by the map but found in
 * the value they belong to (a row's primary key, a bucket's key), which
 * the lookup touches next anyway. Linear probing with backward-shift
 * deletion: no tombstones, probe sequences stay short. The state holds
 * one entry per row and per join key, so the slots are a good part of
 * its memory: they are filled to 0.8 before growing. */
#include "view_internal.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* Each map hashes with a seed of its own. A map filled in another map's
 * slot order (a state saved by walking one map and loaded into a fresh
 * one, in this process or the next) would otherwise receive its keys
 * sorted by home slot, and while it is smaller than the map they came
 * from, they pile into long runs: loading 4.5M rows took 37 us a row. The
 * seeds differ between processes too: a restarted daemon loads what an
 * earlier one saved. */
static uint64_t next_seed(void)
{
    static uint64_t base, count;
    if (!base) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        base = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
               ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&count;
        base |= 1;
    }
    return (base + ++count) * 0x9E3779B97F4A7C15ull;
}

void view_map_init(view_map *m, size_t key_offset)
{
    memset(m, 0, sizeof *m);
    m->key_offset = key_offset;
    m->seed = next_seed();
}

void view_map_cleanup(view_map *m)
{
    view_store_free(m->store, m->entries, m->capacity * sizeof *m->entries);
    m->entries = NULL;
    m->capacity = m->count = 0;
}

void view_map_clear(view_map *m)
{
    /* The slots are kept for the next transaction only while they were
     * well used: a map grown by one large flush (an initial build, a seller
     * embedded in 1,700 orders) and then cleared after each one-document
     * transaction would cost its whole capacity per clear and per
     * iteration of the flush (14% of the change stream's time). */
    if (m->capacity > 4096 || (m->capacity > 16 && m->count * 8 < m->capacity)) {
        view_map_cleanup(m);
        return;
    }
    if (m->count)
        memset(m->entries, 0, m->capacity * sizeof *m->entries);
    m->count = 0;
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* Eight bytes per step (keys are 10-40 bytes: tags, integers, short
 * strings), then a final avalanche so the low bits index the slots. */
static uint32_t hash_bytes(uint64_t seed, const uint8_t *p, size_t len)
{
    uint64_t h = seed ^ (len * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = (h ^ mix(load_u64(p + i))) * 0xc4ceb9fe1a85ec53ull;
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)p[i + k] << (8 * k);
    h = (h ^ mix(tail ^ 0x2545F4914F6CDD1Dull)) * 0xc4ceb9fe1a85ec53ull;
    return (uint32_t)mix(h);
}

static bool entry_is(const view_map *m, const view_map_entry *e, uint32_t h, const uint8_t *key,
                     size_t len)
{
    return e->hash == h && e->key_len == len && memcmp(view_map_key(m, e), key, len) == 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const view_map *m, uint32_t h, const uint8_t *key, size_t len)
{
    size_t mask = m->capacity - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const view_map_entry *e = &m->entries[i];
        if (!e->value || entry_is(m, e, h, key, len))
            return i;
    }
}

void *view_map_get(const view_map *m, const uint8_t *key, size_t len)
{
    if (!m->count)
        return NULL;
    const view_map_entry *e = &m->entries[probe(m, hash_bytes(m->seed, key, len), key, len)];
    return e->value;
}

void view_map_prefetch(const view_map *m, const uint8_t *key, size_t len)
{
    if (m->capacity)
        __builtin_prefetch(&m->entries[hash_bytes(m->seed, key, len) & (m->capacity - 1)]);
}

/* Moves the entries into `capacity` slots (a power of two). */
static void resize(view_map *m, size_t capacity)
{
    size_t old_capacity = m->capacity;
    view_map_entry *old = m->entries;
    m->capacity = capacity;
    m->entries = view_store_alloc_zeroed(m->store, m->capacity * sizeof *m->entries);
    size_t mask = m->capacity - 1;
    for (size_t i = 0; i < old_capacity; i++) {
        if (!old[i].value)
            continue;
        size_t j = old[i].hash & mask;
        while (m->entries[j].value)
            j = (j + 1) & mask;
        m->entries[j] = old[i];
    }
    view_store_free(m->store, old, old_capacity * sizeof *old);
}

static void grow(view_map *m) { resize(m, m->capacity ? m->capacity * 2 : 16); }

void view_map_reserve(view_map *m, size_t count)
{
    size_t capacity = m->capacity ? m->capacity : 16;
    while (count * 5 > capacity * 4)
        capacity *= 2;
    if (capacity > m->capacity)
        resize(m, capacity);
}

view_map_entry *view_map_upsert(view_map *m, const uint8_t *key, size_t len, bool *created)
{
    /* Load factor at most 0.8: a hit takes three probes on average, in
     * one or two lines. */
    if ((m->count + 1) * 5 > m->capacity * 4)
        grow(m);
    uint32_t h = hash_bytes(m->seed, key, len);
    view_map_entry *e = &m->entries[probe(m, h, key, len)];
    if (created)
        *created = !e->value;
    if (!e->value) {
        e->key_len = (uint32_t)len;
        e->hash = h;
        e->value = NULL;
        m->count++;
    }
    return e;
}

void *view_map_remove(view_map *m, const uint8_t *key, size_t len)
{
    if (!m->count)
        return NULL;
    size_t mask = m->capacity - 1;
    size_t i = probe(m, hash_bytes(m->seed, key, len), key, len);
    view_map_entry *e = &m->entries[i];
    if (!e->value)
        return NULL;
    void *value = e->value;
    /* Backward shift: move later entries of the run into the hole when
     * the hole lies between their home slot and where they sit. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->entries[j].value; j = (j + 1) & mask) {
        size_t home = m->entries[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->entries[hole] = m->entries[j];
            hole = j;
        }
    }
    memset(&m->entries[hole], 0, sizeof m->entries[hole]);
    m->count--;
    return value;
}

view_map_entry *view_map_next(const view_map *m, size_t *bucket, view_map_entry *it)
{
    size_t b = it ? *bucket + 1 : *bucket;
    for (; b < m->capacity; b++) {
        if (m->entries[b].value) {
            *bucket = b;
            return &m->entries[b];
        }
    }
    *bucket = b;
    return NULL;
}
