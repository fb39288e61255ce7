/* test_sink_state.c — sink.h section 4 against a live MongoDB-wire server:
 * generation chunks (write, overwrite, read one, read all, remove), the
 * string _ids that FerretDB can push down, and tf_sink_reset removing the
 * checkpoint, every chunk and the documents (the next commit is seq 1).
 * Skips when TAPFLOW_MONGO_URI is not set. */
#include "sink.h"
#include "sink_fixture.h"

#include <mongoc/mongoc.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fixture {
    sink_live_db live;
    char uri[320]; /* the server's URI with live.db as path */
} fixture;

static int group_setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof fx);
    if (!sink_live_db_open(&fx.live, "tf_sink_state"))
        return -1;
    if (fx.live.client != NULL)
        sink_live_db_uri(&fx.live, fx.uri, sizeof fx.uri);
    *state = &fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *fx = *state;
    sink_live_db_close(&fx->live);
    return 0;
}

static const char *const order_key[] = {"order_id"};

static tf_sink *open_sink(fixture *fx, const char *flow)
{
    tf_sink_options o;
    tf_sink_options_init(&o);
    o.uri = fx->uri;
    o.collection = "docs";
    o.flow = flow;
    o.root_key_fields = order_key;
    o.n_root_key_fields = 1;
    o.fanout = TF_FANOUT_FORCE_RECOMPUTE;
    tf_error err = {0};
    tf_sink *sink = tf_sink_open(&o, &err);
    if (!sink)
        fail_msg("tf_sink_open: %s", err.message);
    return sink;
}

static int64_t count(fixture *fx, const char *collection, const bson_t *filter)
{
    mongoc_collection_t *c = mongoc_client_get_collection(fx->live.client, fx->live.db, collection);
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &error);
    mongoc_collection_destroy(c);
    return n;
}

static void assert_chunk(tf_sink *sink, int64_t gen, const char *name, const char *want)
{
    uint8_t *data;
    size_t len;
    bool found;
    tf_error err = {0};
    assert_true(tf_sink_state_read(sink, gen, name, &data, &len, &found, &err));
    if (!want) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data, want, len);
    free(data);
}

typedef struct seen {
    int count;
    char names[8][32];
} seen;

static bool note_chunk(const char *chunk, const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    seen *s = arg;
    assert_true(s->count < 8);
    snprintf(s->names[s->count++], sizeof s->names[0], "%s=%.*s", chunk, (int)len,
             (const char *)data);
    return true;
}

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

static void test_generation_chunks_write_read_remove(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "flow_a");
    tf_sink *other = open_sink(fx, "flow_a.b"); /* a flow whose name extends flow_a's */
    tf_error err = {0};
    assert_true(tf_sink_state_write(sink, 1, "base.0", (const uint8_t *)"one", 3, &err));
    assert_true(tf_sink_state_write(sink, 1, "delta.0", (const uint8_t *)"two", 3, &err));
    assert_true(tf_sink_state_write(sink, 2, "base.0", (const uint8_t *)"new", 3, &err));
    assert_true(tf_sink_state_write(other, 1, "base.0", (const uint8_t *)"alien", 5, &err));
    /* Writing a name again replaces it. */
    assert_true(tf_sink_state_write(sink, 1, "delta.0", (const uint8_t *)"three", 5, &err));
    assert_chunk(sink, 1, "base.0", "one");
    assert_chunk(sink, 1, "delta.0", "three");
    assert_chunk(sink, 2, "base.0", "new");
    assert_chunk(sink, 3, "base.0", NULL);
    assert_chunk(other, 1, "base.0", "alien");

    seen s = {0};
    assert_true(tf_sink_state_read_all(sink, 1, note_chunk, &s, &err));
    assert_int_equal(s.count, 2);
    qsort(s.names, (size_t)s.count, sizeof s.names[0], compare_names);
    assert_string_equal(s.names[0], "base.0=one");
    assert_string_equal(s.names[1], "delta.0=three");

    /* The _id is a string (the one filter FerretDB pushes down). */
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("6:flow_a/g1/base.0"));
    assert_int_equal(count(fx, "tapflow_state", filter), 1);
    bson_destroy(filter);

    assert_true(tf_sink_state_remove(sink, 1, "base.0", &err));
    assert_true(tf_sink_state_remove(sink, 1, "base.0", &err)); /* already gone: fine */
    assert_chunk(sink, 1, "base.0", NULL);
    assert_chunk(sink, 1, "delta.0", "three");

    uint8_t big = 0;
    assert_false(tf_sink_state_write(sink, 1, "huge", &big, TF_STATE_CHUNK_MAX, &err));
    assert_non_null(strstr(err.message, "over the"));
    tf_sink_destroy(other);
    tf_sink_destroy(sink);
}

typedef struct big_seen {
    size_t count, bytes;
    bool intact;
} big_seen;

static bool note_big(const char *chunk, const uint8_t *data, size_t len, void *arg, tf_error *err)
{
    (void)err;
    big_seen *s = arg;
    /* Each chunk's bytes are its index, then a pattern seeded by it. */
    unsigned index = (unsigned)(chunk[strlen(chunk) - 1] - '0');
    bool intact = len > 0 && data[0] == index;
    for (size_t i = 1; intact && i < len; i += 4093)
        intact = data[i] == (uint8_t)(i * 31 + index);
    s->intact = s->intact && intact;
    s->count++;
    s->bytes += len;
    return true;
}

/* A state larger than one server reply may be (48 MB): five chunks near
 * the chunk limit are all read back, whole. FerretDB answers a find with
 * every document in one batch unless told a batch size. */
static void test_state_past_one_reply_reads_back(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "flow_big");
    tf_error err = {0};
    size_t len = TF_STATE_CHUNK_MAX - 1024;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    for (unsigned c = 0; c < 5; c++) {
        data[0] = (uint8_t)c;
        for (size_t i = 1; i < len; i++)
            data[i] = (uint8_t)(i * 31 + c);
        char name[16];
        snprintf(name, sizeof name, "base.%u", c);
        assert_true(tf_sink_state_write(sink, 1, name, data, len, &err));
    }
    free(data);
    big_seen s = {.intact = true};
    if (!tf_sink_state_read_all(sink, 1, note_big, &s, &err))
        fail_msg("%s", err.message);
    assert_int_equal(s.count, 5);
    assert_true(s.bytes == 5 * len);
    assert_true(s.intact);
    tf_sink_destroy(sink);
}

static void test_reset_removes_checkpoint_state_and_documents(void **state)
{
    fixture *fx = *state;
    NEED_SERVER(&fx->live);
    tf_sink *sink = open_sink(fx, "flow_r");
    tf_error err = {0};
    bool exist = true;
    assert_true(tf_sink_documents_exist(sink, &exist, &err));
    assert_false(exist);
    tf_doc_op op;
    tf_doc_op_insert_steal(&op, BCON_NEW("order_id", "A"), BCON_NEW("order_id", "A"));
    assert_true(tf_sink_add(sink, &op, &err));
    assert_true(tf_sink_state_write(sink, 1, "base.0", (const uint8_t *)"x", 1, &err));
    assert_true(tf_sink_state_put(sink, "meta", (const uint8_t *)"m", 1, &err));
    tf_checkpoint cp = {
        .gtid = "0-1-5", .flavour = "mariadb", .binlog_file = "b.000001", .spec_hash = "h"};
    assert_true(tf_sink_commit(sink, &cp, &err));
    assert_true(tf_sink_commit(sink, &cp, &err));
    assert_true(tf_sink_documents_exist(sink, &exist, &err));
    assert_true(exist);

    assert_true(tf_sink_reset(sink, &err));
    assert_true(tf_sink_documents_exist(sink, &exist, &err));
    assert_false(exist);
    tf_checkpoint read;
    bool found = true;
    assert_true(tf_sink_checkpoint_read(sink, &read, &found, &err));
    assert_false(found);
    bson_t *filter = BCON_NEW("flow", BCON_UTF8("flow_r"));
    assert_int_equal(count(fx, "tapflow_state", filter), 0);
    bson_destroy(filter);

    /* The next checkpoint is seq 1, and its slotted chunk reads back. */
    assert_true(tf_sink_state_put(sink, "meta", (const uint8_t *)"n", 1, &err));
    assert_true(tf_sink_commit(sink, &cp, &err));
    assert_true(tf_sink_checkpoint_read(sink, &read, &found, &err));
    assert_true(found);
    assert_int_equal(read.seq, 1);
    tf_checkpoint_cleanup(&read);
    uint8_t *data;
    size_t len;
    assert_true(tf_sink_state_get(sink, "meta", &data, &len, &found, &err));
    assert_true(found);
    assert_int_equal(len, 1);
    assert_int_equal(data[0], 'n');
    free(data);
    tf_sink_destroy(sink);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generation_chunks_write_read_remove),
        cmocka_unit_test(test_state_past_one_reply_reads_back),
        cmocka_unit_test(test_reset_removes_checkpoint_state_and_documents),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
