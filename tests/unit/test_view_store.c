/* test_view_store.c — the file-backed state memory (view/store.c).
 *
 * Blocks of every size class (16-byte classes, powers of two, page runs
 * over 1 MB) are allocated, filled, freed and reused at random while the
 * store's thread releases the mapping's pages again and again: every live
 * block keeps its bytes, zeroed allocations are zero (fresh, reused, and
 * punched page runs), frees are reused, the resident part comes back
 * under the limit, and a directory that cannot take the file is an error
 * naming it. A sealed store maps back at its address with its blocks and
 * free lists; a seal that does not describe the file is refused. */
#include "support.h"

#include "view_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct block {
    uint8_t *p;
    size_t size;
    uint8_t seed;
} block;

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static size_t random_size(void)
{
    unsigned r = (unsigned)(next() % 100);
    if (r < 80)
        return 1 + next() % 200; /* rows, buckets */
    if (r < 95)
        return 200 + next() % 8000;
    if (r < 99)
        return 8192 + next() % (1u << 20);
    return (1u << 20) + next() % (3u << 20); /* hash slot arrays */
}

static void fill(block *b)
{
    for (size_t i = 0; i + 1 < b->size; i += 61)
        b->p[i] = (uint8_t)(b->seed + i / 61);
    b->p[b->size - 1] = b->seed;
}

static void check(const block *b)
{
    for (size_t i = 0; i + 1 < b->size; i += 61)
        assert_int_equal(b->p[i], (uint8_t)(b->seed + i / 61));
    assert_int_equal(b->p[b->size - 1], b->seed);
}

static void test_blocks_survive_trims(void **state)
{
    (void)state;
    char dir[] = "/tmp/tf-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tf_error err = {0};
    const size_t limit = (size_t)2 << 20;
    view_store *s = view_store_open(dir, limit, &err);
    assert_non_null(s);
    enum {
        LIVE = 600
    };
    block live[LIVE] = {{0}};
    size_t frees = 0;
    for (int op = 0; op < 20000; op++) {
        block *b = &live[next() % LIVE];
        if (b->p) {
            check(b);
            view_store_free(s, b->p, b->size);
            frees++;
        }
        b->size = random_size();
        b->seed = (uint8_t)next();
        if (next() % 4 == 0) {
            b->p = view_store_alloc_zeroed(s, b->size);
            for (size_t i = 0; i < b->size; i += 97)
                assert_int_equal(b->p[i], 0);
            assert_int_equal(b->p[b->size - 1], 0);
        } else {
            b->p = view_store_alloc(s, b->size);
        }
        fill(b);
        if (op % 2000 == 1999)
            for (int i = 0; i < LIVE; i++)
                if (live[i].p)
                    check(&live[i]);
    }
    assert_true(frees > 10000);
    view_store_stats st;
    view_store_get_stats(s, &st);
    /* Trims happened, and freed blocks were reused: the file is far
     * smaller than the bytes handed out. */
    assert_true(st.released_bytes > 0);
    assert_true(st.file_bytes < (size_t)1 << 30);
    /* Left alone, the store's thread brings the resident part under the
     * limit within a few of its 5 ms checks. */
    usleep(100000);
    view_store_get_stats(s, &st);
    assert_true(st.resident_bytes <= limit);
    for (int i = 0; i < LIVE; i++)
        if (live[i].p) {
            check(&live[i]);
            view_store_free(s, live[i].p, live[i].size);
        }
    view_store_get_stats(s, &st);
    assert_int_equal(st.live_bytes, 0);
    view_store_close(s);
    assert_int_equal(rmdir(dir), 0); /* the file was never named there */
}

static void test_heap_without_store(void **state)
{
    (void)state;
    uint8_t *p = view_store_alloc_zeroed(NULL, 100);
    assert_int_equal(p[99], 0);
    p = view_store_realloc(NULL, p, 100, 5000);
    p[4999] = 1;
    view_store_free(NULL, p, 5000);
    view_store_stats st;
    view_store_get_stats(NULL, &st);
    assert_int_equal(st.file_bytes, 0);
}

static void test_bad_directory(void **state)
{
    (void)state;
    tf_error err = {0};
    assert_null(view_store_open("/nonexistent/tapflow-state", 0, &err));
    assert_non_null(strstr(err.message, "/nonexistent/tapflow-state"));
}

static void test_seal_and_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/tf-store-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/flow.state", dir);
    tf_error err = {0};
    view_store *s = view_store_open(dir, 0, &err);
    assert_non_null(s);
    enum {
        N = 300
    };
    block blocks[N] = {{0}};
    for (int i = 0; i < N; i++) {
        blocks[i].size = random_size();
        blocks[i].seed = (uint8_t)next();
        blocks[i].p = view_store_alloc(s, blocks[i].size);
        fill(&blocks[i]);
    }
    /* Every other block freed: the free lists and page runs are sealed. */
    for (int i = 0; i < N; i += 2)
        view_store_free(s, blocks[i].p, blocks[i].size);
    view_store_stats before;
    view_store_get_stats(s, &before);
    uint8_t *base = view_store_base(s);
    bson_t doc = BSON_INITIALIZER;
    assert_true(view_store_seal(s, path, &doc, &err));
    view_store_free(s, blocks[1].p, blocks[1].size); /* ignored once sealed */
    view_store_close(s);
    assert_int_equal(access(path, F_OK), 0);

    s = view_store_reopen(path, &doc, 0, &err);
    assert_non_null(s);
    assert_ptr_equal(view_store_base(s), base); /* where the pointers point */
    view_store_stats after;
    view_store_get_stats(s, &after);
    assert_int_equal(after.live_bytes, before.live_bytes);
    assert_int_equal(after.file_bytes, before.file_bytes);
    for (int i = 1; i < N; i += 2) {
        assert_true(view_store_holds(s, blocks[i].p, blocks[i].size));
        check(&blocks[i]);
    }
    /* The last block freed of a class is the first handed out again. */
    int last = N - 2;
    while (last >= 0 && blocks[last].size > 4096)
        last -= 2;
    assert_true(last >= 0);
    assert_ptr_equal(view_store_alloc(s, blocks[last].size), blocks[last].p);
    view_store_free(s, blocks[last].p, blocks[last].size);
    for (int i = 1; i < N; i += 2)
        view_store_free(s, blocks[i].p, blocks[i].size);
    view_store_get_stats(s, &after);
    assert_int_equal(after.live_bytes, 0);
    view_store_close(s); /* used and not sealed again: the file goes */
    assert_int_not_equal(access(path, F_OK), 0);

    /* Seals that do not describe the file. */
    bson_t *bad = bson_new();
    assert_null(view_store_reopen(path, bad, 0, &err));
    assert_non_null(strstr(err.message, "allocator"));
    bson_destroy(bad);
    assert_null(view_store_reopen(path, &doc, 0, &err)); /* the file is gone */
    assert_non_null(strstr(err.message, "flow.state"));
    bson_destroy(&doc);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_survive_trims),
        cmocka_unit_test(test_heap_without_store),
        cmocka_unit_test(test_bad_directory),
        cmocka_unit_test(test_seal_and_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
