/* test_gtid_mysql.c — MySQL GTID sets: the PREVIOUS_GTIDS bodies of real
 * MySQL 8.0 / 9.6 binlogs, published vectors, text, algebra, errors. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREVIOUS_GTIDS_EVENT 35
#define EVENT_HEADER_LEN 19
#define CRC32_LEN 4

/* The body of the first PREVIOUS_GTIDS event of a fixture, without the
 * CRC32 trailer (every fixture used here has binlog_checksum=CRC32). A plain
 * walk over the v4 headers: size at offset 9, type at offset 4. */
static uint8_t *previous_gtids_body(const char *fixture, size_t *body_len)
{
    char path[512];
    if (!tf_test_fixture(fixture, path, sizeof path))
        return NULL;
    size_t len;
    uint8_t *file = tf_test_read_file(path, &len);
    assert_non_null(file);
    size_t pos = 4;
    while (pos + EVENT_HEADER_LEN <= len) {
        uint8_t type = file[pos + 4];
        uint32_t size = (uint32_t)file[pos + 9] | (uint32_t)file[pos + 10] << 8 |
                        (uint32_t)file[pos + 11] << 16 | (uint32_t)file[pos + 12] << 24;
        assert_true(size >= EVENT_HEADER_LEN + CRC32_LEN && pos + size <= len);
        if (type == PREVIOUS_GTIDS_EVENT) {
            /* The event's CRC must hold, or we would test garbage. */
            uint32_t crc = (uint32_t)file[pos + size - 4] | (uint32_t)file[pos + size - 3] << 8 |
                           (uint32_t)file[pos + size - 2] << 16 |
                           (uint32_t)file[pos + size - 1] << 24;
            assert_int_equal(tf_crc32(file + pos, size - CRC32_LEN), crc);
            *body_len = size - EVENT_HEADER_LEN - CRC32_LEN;
            uint8_t *body = malloc(*body_len ? *body_len : 1);
            memcpy(body, file + pos + EVENT_HEADER_LEN, *body_len);
            free(file);
            return body;
        }
        pos += size;
    }
    free(file);
    fail_msg("%s has no PREVIOUS_GTIDS event", fixture);
    return NULL;
}

/* Decodes a fixture's PREVIOUS_GTIDS, checks the text and that encoding
 * the set gives back the server's bytes. */
static void check_previous_gtids(const char *fixture, const char *expected_text)
{
    size_t body_len;
    uint8_t *body = previous_gtids_body(fixture, &body_len);
    if (!body) {
        skip();
        return;
    }
    tf_gtid_set *set = NULL;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_decode_binary(body, body_len, &set, &err), TF_OK);
    char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
    assert_string_equal(text, expected_text);
    assert_int_equal(tf_gtid_set_binary_length(set), body_len);
    uint8_t *again = malloc(body_len);
    assert_int_equal(tf_gtid_set_encode_binary(set, again, body_len), body_len);
    assert_memory_equal(again, body, body_len);
    free(again);
    free(text);
    tf_gtid_set_destroy(set);
    free(body);
}

static void test_previous_gtids_untagged_mysql_8_0_40(void **state)
{
    (void)state;
    /* 01 00.. n_sids 1 | b9b88c66-0755-11f1-9899-4a9da94c4d71 | 1 interval
     * [1, 3) */
    check_previous_gtids("rust_mysql_common/binlog_transaction_previous_GTID_no_tag.000001",
                         "b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2");
}

static void test_previous_gtids_tagged_mysql_9_6(void **state)
{
    (void)state;
    /* 01 | 02 00 00 00 00 00 | 01: tagged format, 2 sources, both uuid
     * 55778904-...; tag "" (00) with [1, 14), tag "mytag" (0a = 5 << 1)
     * with [1, 3). */
    check_previous_gtids("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
                         "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2");
}

static void test_previous_gtids_single_gno_mysql_8_0_32(void **state)
{
    (void)state;
    check_previous_gtids("rust_mysql_common/transaction_compression.000001",
                         "357df524-4139-11ee-9979-b033ee13919e:1");
}

static void test_previous_gtids_empty_in_every_other_fixture(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "rust_mysql_common/binlog-invisible-columns.000001",
        "rust_mysql_common/json.binlog.000001",
        "rust_mysql_common/json-opaque.binlog",
        "rust_mysql_common/minimal_row_metadata.000001",
        "rust_mysql_common/mysql-enum-string-set.000001",
        "rust_mysql_common/mysql_type_bit.000001",
        "rust_mysql_common/time_issue.000001",
        "rust_mysql_common/vector.binlog",
        "mysql-cdc-rs/02_query/binlog.000001",
        "mysql-cdc-rs/folder/binlog.000688",
        "mariadb-test-data/mysql-5.7.11-stm-temporal-round-binlog.000001",
        "mariadb-test-data/mysql-8.0.13-stm-temporal-round-binlog.000001",
    };
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        check_previous_gtids(fixtures[i], "");
}

/* The GTID set a real MySQL 5.7 replica sent in COM_BINLOG_DUMP_GTID,
 * published in go-mysql-org/go-mysql issue #924 ("COM_BINLOG_DUMP_GTID.
 * parseBinlogDumpGTID panic"): the data field, 88 bytes, two sources.
 * (krowinski/php-mysql-replication's GtidCollectionTest vector is not used:
 * it writes the end of 1-177592 as 177592, while MySQL's ends are
 * exclusive, so it disagrees with the server by one.) */
static const char go_mysql_924_data[] = "0200000000000000"
                                        "1544378bb18f11ed8e37e43d1a5e8000"
                                        "0100000000000000"
                                        "0100000000000000"
                                        "3947d45200000000"
                                        "63187044960b11eda2f45c6f692ea084"
                                        "0100000000000000"
                                        "0100000000000000"
                                        "bdeb1b0200000000";

static void test_encoding_matches_real_mysql_5_7_replica(void **state)
{
    (void)state;
    static const char text[] = "63187044-960B-11ED-A2F4-5C6F692EA084:1-35384252,"
                               "1544378b-b18f-11ed-8e37-e43d1a5e8000:1-1389643576";
    size_t expected_len;
    uint8_t *expected = tf_test_hex(go_mysql_924_data, &expected_len);
    assert_int_equal(expected_len, 88);
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, strlen(text), &set, &err), TF_OK);
    assert_int_equal(tf_gtid_set_binary_length(set), 88);
    uint8_t out[88];
    assert_int_equal(tf_gtid_set_encode_binary(set, out, sizeof out), 88);
    assert_memory_equal(out, expected, expected_len);
    /* Too small a buffer: nothing written, the size returned. */
    memset(out, 0xee, sizeof out);
    assert_int_equal(tf_gtid_set_encode_binary(set, out, 87), 88);
    assert_int_equal(out[0], 0xee);
    /* And the bytes decode to the same set. */
    tf_gtid_set *decoded;
    assert_int_equal(tf_gtid_set_decode_binary(expected, expected_len, &decoded, &err), TF_OK);
    char *decoded_text = tf_gtid_set_to_text(decoded, TF_GTID_TEXT_COMPACT);
    assert_string_equal(decoded_text, "1544378b-b18f-11ed-8e37-e43d1a5e8000:1-1389643576,"
                                      "63187044-960b-11ed-a2f4-5c6f692ea084:1-35384252");
    free(decoded_text);
    tf_gtid_set_destroy(decoded);
    tf_gtid_set_destroy(set);
    free(expected);
}

/* ---- text ---------------------------------------------------------- */

static char *canonical(const char *text)
{
    tf_gtid_set *set;
    tf_error err = {0};
    if (tf_gtid_set_parse(text, strlen(text), &set, &err) != TF_OK)
        fail_msg("parse of \"%s\" failed: %s", text, err.message);
    char *out = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
    tf_gtid_set_destroy(set);
    return out;
}

static void assert_canonical(const char *text, const char *expected)
{
    char *out = canonical(text);
    assert_string_equal(out, expected);
    free(out);
}

static void assert_parse_error(const char *text, const char *expected_message)
{
    tf_gtid_set *set = (tf_gtid_set *)1;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, strlen(text), &set, &err), TF_MALFORMED);
    assert_null(set);
    assert_int_equal(err.domain, TF_ERR_PROTOCOL);
    assert_string_equal(err.message, expected_message);
}

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U2 "b9b88c66-0755-11f1-9899-4a9da94c4d71"

static void test_text_canonical_form_lowercase_sorted_merged(void **state)
{
    (void)state;
    assert_canonical(U2 ":1-3," U1 ":7:1-5", U1 ":1-5:7," U2 ":1-3");
    assert_canonical("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", U1 ":1-5");
    assert_canonical(U1 ":3", U1 ":3");
    /* The same uuid twice is one source. */
    assert_canonical(U1 ":1-2," U1 ":5", U1 ":1-2:5");
}

static void test_text_mysql_style_round_trip(void **state)
{
    (void)state;
    /* SELECT @@gtid_executed prints ",\n" between sources. */
    static const char mysql_text[] = U1 ":1-5:7,\n" U2 ":1-3";
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(mysql_text, strlen(mysql_text), &set, &err), TF_OK);
    char *out = tf_gtid_set_to_text(set, TF_GTID_TEXT_MYSQL);
    assert_string_equal(out, mysql_text);
    char small[10];
    assert_int_equal(tf_gtid_set_format(set, TF_GTID_TEXT_MYSQL, small, sizeof small),
                     strlen(mysql_text));
    assert_string_equal(small, "3e11fa47-");
    free(out);
    tf_gtid_set_destroy(set);
}

static void test_text_whitespace_and_empty_elements(void **state)
{
    (void)state;
    assert_canonical("  " U1 " : 1 - 5 : 7 ,\n\t" U2 ":1-3\n", U1 ":1-5:7," U2 ":1-3");
    assert_canonical(",," U1 ":1,,", U1 ":1");
    assert_canonical("", "");
    assert_canonical(" \n ", "");
    /* A uuid without numbers names a source but adds no GTID. */
    assert_canonical(U1, "");
}

static void test_text_adjacent_and_overlapping_intervals_merge(void **state)
{
    (void)state;
    assert_canonical(U1 ":1-3:4-6", U1 ":1-6");
    assert_canonical(U1 ":4-6:1-3", U1 ":1-6");
    assert_canonical(U1 ":1-5:3-8", U1 ":1-8");
    assert_canonical(U1 ":5:1-10:12", U1 ":1-10:12");
    assert_canonical(U1 ":1:3:5:2:4", U1 ":1-5");
    assert_canonical(U1 ":10-20:1-2:5-6:3-4", U1 ":1-6:10-20");
}

static void test_text_tags_lowercased_and_ordered_after_untagged(void **state)
{
    (void)state;
    assert_canonical(U1 ":B:1," U1 ":Tag_1:1-2:4," U1 ":3", U1 ":3:b:1:tag_1:1-2:4");
    /* A tag applies to the numbers after it, up to the next tag. */
    assert_canonical(U1 ":a:1:2:b:3", U1 ":a:1-2:b:3");
    assert_canonical(U1 ":_x:1", U1 ":_x:1");
    /* The longest tag MySQL allows: 32 characters. */
    assert_canonical(U1 ":abcdefghijabcdefghijabcdefghij12:1",
                     U1 ":abcdefghijabcdefghijabcdefghij12:1");
}

static void test_text_max_gno(void **state)
{
    (void)state;
    assert_canonical(U1 ":9223372036854775806", U1 ":9223372036854775806");
    assert_canonical(U1 ":9223372036854775800-9223372036854775806",
                     U1 ":9223372036854775800-9223372036854775806");
    assert_parse_error(U1 ":9223372036854775807",
                       "GTID set: transaction number exceeds 9223372036854775806 (MySQL's "
                       "maximum) at column 38");
    assert_parse_error(U1 ":1-99999999999999999999999",
                       "GTID set: transaction number exceeds 9223372036854775806 (MySQL's "
                       "maximum) at column 40");
    /* The binary end of the max gno is INT64_MAX (MySQL's GNO_END). */
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(
        tf_gtid_set_parse(U1 ":9223372036854775806", strlen(U1 ":9223372036854775806"), &set, &err),
        TF_OK);
    uint8_t bin[48];
    assert_int_equal(tf_gtid_set_encode_binary(set, bin, sizeof bin), 48);
    static const uint8_t int64_max[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_memory_equal(bin + 40, int64_max, 8);
    tf_gtid_set *back;
    assert_int_equal(tf_gtid_set_decode_binary(bin, 48, &back, &err), TF_OK);
    assert_true(tf_gtid_set_equal(set, back));
    tf_gtid_set_destroy(back);
    tf_gtid_set_destroy(set);
}

static void test_text_malformed_errors_name_the_column(void **state)
{
    (void)state;
    assert_parse_error("x", "GTID set: expected a UUID, found 'x' at column 1");
    assert_parse_error(U1 ":1,zz", "GTID set: expected a UUID, found 'z' at column 40");
    assert_parse_error("3e11fa47-71ca-11e1-9e33-c80aa942956",
                       "GTID set: the UUID is cut short (36 characters expected) at column 36");
    assert_parse_error("3e11fa47_71ca-11e1-9e33-c80aa9429562:1",
                       "GTID set: expected '-' in the UUID at column 9");
    assert_parse_error("3e11fa47-71cg-11e1-9e33-c80aa9429562:1",
                       "GTID set: expected a hex digit in the UUID at column 13");
    assert_parse_error(U1 ":0", "GTID set: transaction number 0 is not valid (numbers start "
                                "at 1) at column 38");
    assert_parse_error(U1 ":5-3", "GTID set: interval 5-3 ends before it starts at column 38");
    assert_parse_error(U1 ":", "GTID set: expected a transaction number or a tag after ':', "
                               "found the end of the text at column 38");
    assert_parse_error(U1 ":1-", "GTID set: expected a transaction number, found the end of "
                                 "the text at column 40");
    assert_parse_error(U1 ":-3", "GTID set: expected a transaction number or a tag after ':', "
                                 "found '-' at column 38");
    assert_parse_error(U1 ":1;", "GTID set: expected ':' or ',', found ';' at column 39");
    assert_parse_error(U1 ":1 2", "GTID set: expected ':' or ',', found '2' at column 40");
    assert_parse_error(U1 ":1\x01", "GTID set: expected ':' or ',', found byte 0x01 at "
                                    "column 39");
    assert_parse_error(U1 ":abcdefghijabcdefghijabcdefghij123:1",
                       "GTID set: the tag is longer than 32 characters at column 70");
    assert_parse_error(U1 ":1abc", "GTID set: expected ':' or ',', found 'a' at column 39");
}

static void test_text_with_nul_byte_is_malformed_not_truncated(void **state)
{
    (void)state;
    static const char text[] = U1 ":1\0,junk";
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, sizeof text - 1, &set, &err), TF_MALFORMED);
    assert_string_equal(err.message, "GTID set: expected ':' or ',', found byte 0x00 at column 39");
}

static void test_add_text_error_leaves_set_unchanged(void **state)
{
    (void)state;
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(U1 ":1-5", strlen(U1 ":1-5"), &set, &err), TF_OK);
    static const char bad[] = U1 ":6-9," U2 ":0";
    assert_int_equal(tf_gtid_set_add_text(set, bad, strlen(bad), &err), TF_MALFORMED);
    char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
    assert_string_equal(text, U1 ":1-5");
    free(text);
    tf_gtid_set_destroy(set);
}

static void test_single_gtid_parse_and_format(void **state)
{
    (void)state;
    tf_gtid g;
    tf_error err = {0};
    char buf[128];
    assert_int_equal(tf_gtid_parse(U1 ":23", strlen(U1 ":23"), &g, &err), TF_OK);
    assert_int_equal(g.gno, 23);
    assert_string_equal(g.tag, "");
    assert_int_equal(g.uuid[0], 0x3e);
    assert_int_equal(g.uuid[15], 0x62);
    assert_int_equal(tf_gtid_format(&g, buf, sizeof buf), 39);
    assert_string_equal(buf, U1 ":23");
    assert_int_equal(tf_gtid_parse(U1 ":MyTag:7", strlen(U1 ":MyTag:7"), &g, &err), TF_OK);
    assert_string_equal(g.tag, "mytag");
    tf_gtid_format(&g, buf, sizeof buf);
    assert_string_equal(buf, U1 ":mytag:7");
    assert_int_equal(tf_gtid_parse(U1 ":1-2", strlen(U1 ":1-2"), &g, &err), TF_MALFORMED);
    assert_string_equal(err.message, "GTID: expected the end of the GTID, found '-' at column 39");
}

static void test_uuid_parse_and_format(void **state)
{
    (void)state;
    uint8_t uuid[16];
    char text[37];
    tf_error err = {0};
    assert_int_equal(tf_gtid_uuid_parse("3E11FA47-71CA-11E1-9E33-C80AA9429562", 36, uuid, &err),
                     TF_OK);
    tf_gtid_uuid_format(uuid, text);
    assert_string_equal(text, U1);
    assert_int_equal(tf_gtid_uuid_parse(U1 "0", 37, uuid, &err), TF_MALFORMED);
    assert_string_equal(err.message, "UUID: unexpected text after the UUID at column 37");
}

/* ---- algebra ------------------------------------------------------- */

static tf_gtid_set *set_of(const char *text)
{
    tf_gtid_set *set;
    tf_error err = {0};
    if (tf_gtid_set_parse(text, strlen(text), &set, &err) != TF_OK)
        fail_msg("%s", err.message);
    return set;
}

static void assert_set_text(const tf_gtid_set *set, const char *expected)
{
    char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
    assert_string_equal(text, expected);
    free(text);
}

static tf_gtid gtid_of(const char *text)
{
    tf_gtid g;
    tf_error err = {0};
    if (tf_gtid_parse(text, strlen(text), &g, &err) != TF_OK)
        fail_msg("%s", err.message);
    return g;
}

static void test_add_gtid_extends_and_bridges(void **state)
{
    (void)state;
    tf_gtid_set *set = tf_gtid_set_new();
    tf_error err = {0};
    for (int gno = 1; gno <= 5; gno++) {
        tf_gtid g = gtid_of(U1 ":1");
        g.gno = gno;
        assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_OK);
    }
    assert_set_text(set, U1 ":1-5");
    tf_gtid g = gtid_of(U1 ":7");
    assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_OK);
    assert_set_text(set, U1 ":1-5:7");
    g.gno = 6; /* fills the hole: one interval again */
    assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_OK);
    assert_set_text(set, U1 ":1-7");
    g = gtid_of(U2 ":tagA:3");
    assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_OK);
    assert_set_text(set, U1 ":1-7," U2 ":taga:3");
    g.gno = 0;
    assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "GTID: transaction number 0 is outside 1..9223372036854775806");
    memcpy(g.tag, "9bad", 5);
    g.gno = 1;
    assert_int_equal(tf_gtid_set_add(set, &g, &err), TF_MALFORMED);
    assert_string_equal(err.message, "GTID tag: a tag starts with a letter or '_' at column 1");
    tf_gtid_set_destroy(set);
}

static void test_union(void **state)
{
    (void)state;
    tf_gtid_set *a = set_of(U1 ":1-5:10-12," U2 ":x:4");
    tf_gtid_set *b = set_of(U1 ":6-9:20," U2 ":1");
    assert_true(tf_gtid_set_union(a, b));
    assert_set_text(a, U1 ":1-12:20," U2 ":1:x:4");
    tf_gtid_set *empty = tf_gtid_set_new();
    assert_true(tf_gtid_set_union(a, empty));
    assert_set_text(a, U1 ":1-12:20," U2 ":1:x:4");
    assert_true(tf_gtid_set_union(empty, a));
    assert_true(tf_gtid_set_equal(empty, a));
    tf_gtid_set_destroy(a);
    tf_gtid_set_destroy(b);
    tf_gtid_set_destroy(empty);
}

static void test_subtract_names_missing_gtids(void **state)
{
    (void)state;
    /* A server purged 1-100 of U1 and 1-3 of U2; we have U1:1-50:60-70. */
    tf_gtid_set *missing = set_of(U1 ":1-100," U2 ":1-3");
    tf_gtid_set *ours = set_of(U1 ":1-50:60-70");
    assert_true(tf_gtid_set_subtract(missing, ours));
    assert_set_text(missing, U1 ":51-59:71-100," U2 ":1-3");
    tf_gtid_set_destroy(missing);
    tf_gtid_set_destroy(ours);
}

static void test_subtract_edge_cases(void **state)
{
    (void)state;
    tf_gtid_set *a = set_of(U1 ":1-10");
    tf_gtid_set *b = set_of(U1 ":1-10");
    assert_true(tf_gtid_set_subtract(a, b));
    assert_true(tf_gtid_set_is_empty(a)); /* emptied sources disappear */
    assert_int_equal(tf_gtid_set_source_count(a), 0);
    tf_gtid_set_destroy(a);
    tf_gtid_set_destroy(b);

    a = set_of(U1 ":1-10:20-30");
    b = set_of(U1 ":1:5:10-20:30," U2 ":1-100");
    assert_true(tf_gtid_set_subtract(a, b));
    assert_set_text(a, U1 ":2-4:6-9:21-29");
    tf_gtid_set_destroy(a);
    tf_gtid_set_destroy(b);

    /* Tags are separate sources: U1:t:1 does not remove U1:1. */
    a = set_of(U1 ":1-3");
    b = set_of(U1 ":t:1-3");
    assert_true(tf_gtid_set_subtract(a, b));
    assert_set_text(a, U1 ":1-3");
    tf_gtid_set_destroy(a);
    tf_gtid_set_destroy(b);

    /* A set minus itself is empty; a set united with itself unchanged. */
    a = set_of(U1 ":1-3:7," U2 ":t:1");
    assert_true(tf_gtid_set_union(a, a));
    assert_set_text(a, U1 ":1-3:7," U2 ":t:1");
    assert_true(tf_gtid_set_subtract(a, a));
    assert_true(tf_gtid_set_is_empty(a));
    tf_gtid_set_destroy(a);

    a = set_of(U1 ":1-9223372036854775806");
    b = set_of(U1 ":2-9223372036854775805");
    assert_true(tf_gtid_set_subtract(a, b));
    assert_set_text(a, U1 ":1:9223372036854775806");
    tf_gtid_set_destroy(a);
    tf_gtid_set_destroy(b);
}

static void test_contains_at_interval_edges(void **state)
{
    (void)state;
    tf_gtid_set *set = set_of(U1 ":1-5:7:mytag:3");
    static const struct {
        const char *gtid;
        bool in;
    } cases[] = {
        {U1 ":1", true},        {U1 ":5", true},  {U1 ":6", false},
        {U1 ":7", true},        {U1 ":8", false}, {U1 ":MYTAG:3", true},
        {U1 ":mytag:1", false}, {U2 ":1", false}, {U1 ":9223372036854775806", false},
        {U1 ":other:3", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tf_gtid g = gtid_of(cases[i].gtid);
        if (tf_gtid_set_contains(set, &g) != cases[i].in)
            fail_msg("contains(%s) should be %d", cases[i].gtid, cases[i].in);
    }
    tf_gtid_set *empty = tf_gtid_set_new();
    tf_gtid g = gtid_of(U1 ":1");
    assert_false(tf_gtid_set_contains(empty, &g));
    tf_gtid_set_destroy(empty);
    tf_gtid_set_destroy(set);
}

static void test_is_subset_and_equal(void **state)
{
    (void)state;
    tf_gtid_set *big = set_of(U1 ":1-10:20-30," U2 ":1-3");
    tf_gtid_set *small = set_of(U1 ":2-5:20:25-30");
    tf_gtid_set *straddle = set_of(U1 ":9-21");
    tf_gtid_set *other = set_of(U2 ":t:1");
    tf_gtid_set *empty = tf_gtid_set_new();
    assert_true(tf_gtid_set_is_subset(small, big));
    assert_false(tf_gtid_set_is_subset(big, small));
    assert_false(tf_gtid_set_is_subset(straddle, big));
    assert_false(tf_gtid_set_is_subset(other, big));
    assert_true(tf_gtid_set_is_subset(empty, big));
    assert_true(tf_gtid_set_is_subset(empty, empty));
    assert_true(tf_gtid_set_is_subset(big, big));
    tf_gtid_set *same = set_of(U2 ":3:1-2," U1 ":20-30:1-10");
    assert_true(tf_gtid_set_equal(big, same));
    assert_false(tf_gtid_set_equal(big, small));
    tf_gtid_set *copy = tf_gtid_set_copy(big);
    assert_true(tf_gtid_set_equal(big, copy));
    tf_gtid_source_view view;
    assert_true(tf_gtid_set_source_at(copy, 0, &view));
    assert_int_equal(view.interval_count, 2);
    assert_int_equal(view.intervals[1].start, 20);
    assert_int_equal(view.intervals[1].end, 31);
    assert_false(tf_gtid_set_source_at(copy, 2, &view));
    tf_gtid_set_destroy(copy);
    tf_gtid_set_destroy(same);
    tf_gtid_set_destroy(big);
    tf_gtid_set_destroy(small);
    tf_gtid_set_destroy(straddle);
    tf_gtid_set_destroy(other);
    tf_gtid_set_destroy(empty);
}

/* ---- malformed binary ---------------------------------------------- */

static void assert_binary_error(const char *hex, const char *expected_message)
{
    size_t len;
    uint8_t *buf = tf_test_hex(hex, &len);
    tf_gtid_set *set = (tf_gtid_set *)1;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_decode_binary(buf, len, &set, &err), TF_MALFORMED);
    assert_null(set);
    assert_string_equal(err.message, expected_message);
    free(buf);
}

/* Filler so the "24 bytes per source" precheck passes and the decoder
 * reaches the field under test. */
#define PAD_8 "0000000000000000"

static void test_binary_malformed_errors(void **state)
{
    (void)state;
    assert_binary_error("01000000", "GTID set encoding: source count needs 8 bytes at offset "
                                    "0 but only 4 remain");
    assert_binary_error("0000000000000002", "GTID set encoding: unknown format byte 0x02 (0 "
                                            "untagged, 1 tagged) at offset 0");
    assert_binary_error("0100000000000000", "GTID set encoding: 1 sources need at least 24 "
                                            "bytes but only 0 remain at offset 8");
    /* One source, 1 interval [1, 3), then 2 trailing bytes. */
    assert_binary_error("0100000000000000"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "0100000000000000"
                        "0100000000000000"
                        "0300000000000000"
                        "abcd",
                        "GTID set encoding: 2 bytes after the last source at offset 48");
    /* Intervals [1, 3) then [3, 5): touching, which MySQL never writes. */
    assert_binary_error("0100000000000000"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "0200000000000000"
                        "0100000000000000"
                        "0300000000000000"
                        "0300000000000000"
                        "0500000000000000",
                        "GTID set encoding: interval 1 [3, 5) is empty or does not start "
                        "after the previous end 3 at offset 48");
    /* Start 0 is not a transaction number. */
    assert_binary_error("0100000000000000"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "0100000000000000"
                        "0000000000000000"
                        "0300000000000000",
                        "GTID set encoding: interval 0 [0, 3) is empty or does not start "
                        "after the previous end 0 at offset 32");
    /* A negative end (as int64). */
    assert_binary_error("0100000000000000"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "0100000000000000"
                        "0100000000000000"
                        "ffffffffffffffff",
                        "GTID set encoding: interval 0 [1, -1) is empty or does not start "
                        "after the previous end 0 at offset 32");
    assert_binary_error("0100000000000000"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "ffffffffffffff0f",
                        "GTID set encoding: 1152921504606846975 intervals need "
                        "18446744073709551600 bytes but only 0 remain at offset 32");
    /* Tagged: tag "BAD!" has a '!' */
    assert_binary_error("0101000000000001"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "08"
                        "42414421"
                        "0100000000000000"
                        "0100000000000000"
                        "0200000000000000",
                        "GTID set encoding: a tag holds only letters, digits and '_' at "
                        "offset 28");
    assert_binary_error("0101000000000001"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "42" PAD_8,
                        "GTID set encoding: tag length 33 exceeds 32 at offset 24");
    assert_binary_error("0101000000000001"
                        "3e11fa4771ca11e19e33c80aa9429562"
                        "0100" PAD_8,
                        "GTID set encoding: tag length uses a multi-byte form, but a tag has "
                        "at most 32 bytes at offset 24");
}

static void test_binary_tagged_upper_case_tag_is_lowered(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = tf_test_hex("0101000000000001"
                               "3e11fa4771ca11e19e33c80aa9429562"
                               "06"
                               "414263"
                               "0100000000000000"
                               "0100000000000000"
                               "0200000000000000",
                               &len);
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_decode_binary(buf, len, &set, &err), TF_OK);
    assert_set_text(set, U1 ":abc:1");
    tf_gtid_set_destroy(set);
    free(buf);
}

/* Every prefix of a valid encoding is malformed (the encoding has no
 * optional tail) and never read out of bounds; flipping each byte gives
 * TF_OK or TF_MALFORMED with a message. */
static void check_every_prefix_and_flip(const uint8_t *body, size_t len)
{
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, body, cut);
        tf_gtid_set *set = NULL;
        tf_error err = {0};
        assert_int_equal(tf_gtid_set_decode_binary(prefix, cut, &set, &err), TF_MALFORMED);
        assert_null(set);
        assert_true(strlen(err.message) > 0);
        free(prefix);
    }
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, body, len);
            copy[i] ^= (uint8_t)(1u << bit);
            tf_gtid_set *set = NULL;
            tf_error err = {0};
            tf_status st = tf_gtid_set_decode_binary(copy, len, &set, &err);
            if (st == TF_OK)
                tf_gtid_set_destroy(set);
            else
                assert_true(st == TF_MALFORMED && strlen(err.message) > 0);
        }
    }
    free(copy);
}

static void test_binary_truncation_at_every_offset(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
        "rust_mysql_common/binlog_transaction_previous_GTID_no_tag.000001",
    };
    for (size_t f = 0; f < 2; f++) {
        size_t len;
        uint8_t *body = previous_gtids_body(fixtures[f], &len);
        if (!body) {
            skip();
            return;
        }
        check_every_prefix_and_flip(body, len);
        free(body);
    }
    size_t len;
    uint8_t *data = tf_test_hex(go_mysql_924_data, &len);
    check_every_prefix_and_flip(data, len);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_previous_gtids_untagged_mysql_8_0_40),
        cmocka_unit_test(test_previous_gtids_tagged_mysql_9_6),
        cmocka_unit_test(test_previous_gtids_single_gno_mysql_8_0_32),
        cmocka_unit_test(test_previous_gtids_empty_in_every_other_fixture),
        cmocka_unit_test(test_encoding_matches_real_mysql_5_7_replica),
        cmocka_unit_test(test_text_canonical_form_lowercase_sorted_merged),
        cmocka_unit_test(test_text_mysql_style_round_trip),
        cmocka_unit_test(test_text_whitespace_and_empty_elements),
        cmocka_unit_test(test_text_adjacent_and_overlapping_intervals_merge),
        cmocka_unit_test(test_text_tags_lowercased_and_ordered_after_untagged),
        cmocka_unit_test(test_text_max_gno),
        cmocka_unit_test(test_text_malformed_errors_name_the_column),
        cmocka_unit_test(test_text_with_nul_byte_is_malformed_not_truncated),
        cmocka_unit_test(test_add_text_error_leaves_set_unchanged),
        cmocka_unit_test(test_single_gtid_parse_and_format),
        cmocka_unit_test(test_uuid_parse_and_format),
        cmocka_unit_test(test_add_gtid_extends_and_bridges),
        cmocka_unit_test(test_union),
        cmocka_unit_test(test_subtract_names_missing_gtids),
        cmocka_unit_test(test_subtract_edge_cases),
        cmocka_unit_test(test_contains_at_interval_edges),
        cmocka_unit_test(test_is_subset_and_equal),
        cmocka_unit_test(test_binary_malformed_errors),
        cmocka_unit_test(test_binary_tagged_upper_case_tag_is_lowered),
        cmocka_unit_test(test_binary_truncation_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
