/* format.c — FORMAT_DESCRIPTION_EVENT into tf_format, and the format used
 * before any FDE has been seen.
 *
 * The FDE is the first event of every v4 binlog (and is re-sent by the dump
 * thread after each ROTATE). It tells how long the common header and each
 * event's post-header are, and which checksum the following events carry.
 * Its own checksum algorithm sits in its last 5 bytes (algorithm byte, CRC)
 * when the server is new enough to know checksums: MySQL >= 5.6.1, MariaDB
 * >= 5.3.0. Older servers end the post-header array at the end of the
 * event. */
#include "event_internal.h"

#include <stdio.h>
#include <string.h>

/* Post-header lengths of a v4 server for every type we decode; used before
 * an FDE and for types past the FDE's own array (a MySQL FDE says nothing
 * about MariaDB codes and vice versa). */
static uint8_t default_post_header_len(uint8_t type)
{
    switch (type) {
    case TF_EV_QUERY: return 13;
    case TF_EV_ROTATE: return 8;
    case TF_EV_LOAD: return 18;
    case TF_EV_CREATE_FILE: return 4;
    case TF_EV_APPEND_BLOCK: return 4;
    case TF_EV_EXEC_LOAD: return 4;
    case TF_EV_DELETE_FILE: return 4;
    case TF_EV_NEW_LOAD: return 18;
    case TF_EV_FORMAT_DESCRIPTION: return 84;
    case TF_EV_BEGIN_LOAD_QUERY: return 4;
    case TF_EV_EXECUTE_LOAD_QUERY: return 26;
    case TF_EV_TABLE_MAP: return 8;
    case TF_EV_WRITE_ROWS_V1:
    case TF_EV_UPDATE_ROWS_V1:
    case TF_EV_DELETE_ROWS_V1: return 8;
    case TF_EV_INCIDENT: return 2;
    case TF_EV_WRITE_ROWS_V2:
    case TF_EV_UPDATE_ROWS_V2:
    case TF_EV_DELETE_ROWS_V2:
    case TF_EV_PARTIAL_UPDATE_ROWS: return 10;
    case TF_EV_GTID:
    case TF_EV_ANONYMOUS_GTID: return 42;
    case TF_EV_TRANSACTION_CONTEXT: return 18;
    case TF_EV_VIEW_CHANGE: return 52;
    case TF_EV_MARIADB_BINLOG_CHECKPOINT: return 4;
    case TF_EV_MARIADB_GTID: return 19;
    case TF_EV_MARIADB_GTID_LIST: return 4;
    case TF_EV_MARIADB_START_ENCRYPTION: return 0;
    case TF_EV_MARIADB_QUERY_COMPRESSED: return 13;
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1: return 8;
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED: return 10;
    default: return 0;
    }
}

void tf_format_init(tf_format *fmt, tf_checksum_alg alg)
{
    memset(fmt, 0, sizeof *fmt);
    fmt->binlog_version = 4;
    fmt->common_header_len = TF_EVENT_HEADER_LEN;
    fmt->checksum_alg = (uint8_t)alg;
    /* post_header_count 0: every lookup falls back to the defaults. */
}

uint8_t tf_format_post_header_len(const tf_format *fmt, uint8_t type)
{
    if (type >= 1 && type <= fmt->post_header_count)
        return fmt->post_header_len[type];
    return default_post_header_len(type);
}

/* "10.11.9-MariaDB-log" -> 10, 11, 9. Missing parts stay 0. */
static void parse_version(tf_format *fmt)
{
    unsigned parts[3] = {0, 0, 0};
    const char *p = fmt->server_version;
    for (int i = 0; i < 3; i++) {
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        parts[i] = v;
        if (*p != '.')
            break;
        p++;
    }
    fmt->version_major = parts[0];
    fmt->version_minor = parts[1];
    fmt->version_patch = parts[2];
    fmt->flavour = strstr(fmt->server_version, "MariaDB") ? TF_FLAVOUR_MARIADB : TF_FLAVOUR_MYSQL;
}

static bool version_at_least(const tf_format *fmt, unsigned major, unsigned minor, unsigned patch)
{
    if (fmt->version_major != major)
        return fmt->version_major > major;
    if (fmt->version_minor != minor)
        return fmt->version_minor > minor;
    return fmt->version_patch >= patch;
}

/* r spans the FDE body up to the end of the event (checksum trailer
 * included: whether there is one is what this function finds out). */
tf_status tf_format_decode_fde(tf_reader *r, tf_format *out, bool *has_checksum_field)
{
    tf_status st;
    const uint8_t *version;
    memset(out, 0, sizeof *out);
    *has_checksum_field = false;

    if ((st = tf_read_u16le(r, &out->binlog_version, "binlog version")) != TF_OK)
        return st;
    if (out->binlog_version != 4)
        return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                            "%s: binlog format version %u is not supported (only v4, written by "
                            "MySQL 5.0+ and MariaDB)",
                            r->context, out->binlog_version);
    if ((st = tf_read_bytes(r, 50, &version, "server version")) != TF_OK)
        return st;
    size_t vlen = 0;
    while (vlen < 50 && version[vlen] != 0)
        vlen++;
    memcpy(out->server_version, version, vlen);
    out->server_version[vlen] = '\0';
    parse_version(out);
    if ((st = tf_read_u32le(r, &out->create_timestamp, "create timestamp")) != TF_OK)
        return st;
    if ((st = tf_read_u8(r, &out->common_header_len, "common header length")) != TF_OK)
        return st;
    if (out->common_header_len != TF_EVENT_HEADER_LEN)
        return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                            "%s: common header length %u is not the standard 19 bytes (a "
                            "non-standard server build such as MySQL 5.1 with Google's group id "
                            "or checksum patches, server version '%s'); not supported",
                            r->context, out->common_header_len, out->server_version);

    /* MySQL 5.1.0-5.1.17 wrote pre-GA rows events (types 20-22) and
     * TABLE_MAPs without column metadata: refuse the file at its FDE rather
     * than fail on the first table map. */
    if (out->flavour == TF_FLAVOUR_MYSQL && out->version_major == 5 && out->version_minor == 1 &&
        out->version_patch < 18)
        return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                            "%s: binlog written by MySQL %s; versions 5.1.0-5.1.17 wrote pre-GA "
                            "row events and table maps, which are not supported",
                            r->context, out->server_version);

    bool checksum_capable = out->flavour == TF_FLAVOUR_MARIADB ? version_at_least(out, 5, 3, 0)
                                                               : version_at_least(out, 5, 6, 1);
    size_t left = tf_reader_left(r);
    size_t count = left;
    if (checksum_capable) {
        if (left < 1 + TF_EVENT_CHECKSUM_LEN)
            return tf_reader_short(r, "checksum algorithm and checksum", 1 + TF_EVENT_CHECKSUM_LEN);
        count = left - 1 - TF_EVENT_CHECKSUM_LEN;
    }
    if (count > 255)
        return tf_reader_bad(r, "post-header length array of %zu entries (at most 255 event types)",
                             count);
    const uint8_t *lens;
    if ((st = tf_read_bytes(r, count, &lens, "post-header lengths")) != TF_OK)
        return st;
    out->post_header_count = (uint16_t)count;
    memcpy(out->post_header_len + 1, lens, count);
    if (checksum_capable) {
        uint8_t alg;
        if ((st = tf_read_u8(r, &alg, "checksum algorithm")) != TF_OK)
            return st;
        if (alg != TF_CHECKSUM_OFF && alg != TF_CHECKSUM_CRC32)
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: unknown checksum algorithm %u at offset %zu", r->context, alg,
                                tf_reader_offset(r) - 1);
        out->checksum_alg = alg;
        *has_checksum_field = true;
    } else {
        out->checksum_alg = TF_CHECKSUM_OFF;
    }
    return TF_OK;
}
