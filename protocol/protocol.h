/* protocol.h — what the protocol layer offers.
 *
 * Pure codecs of the MySQL / MariaDB client and replication protocols: bytes
 * in, structs out. Nothing here does I/O or keeps global state. Every decoder
 * takes (buf, len) and answers one of three ways (picohttpparser style):
 *
 *   TF_OK          done; *consumed (where the function has it) says how many
 *                  bytes were used,
 *   TF_NEED_MORE   the input is a valid prefix; call again with more bytes,
 *   TF_MALFORMED   the input can never be valid; err says what and at which
 *                  offset.
 *
 * Sections (each owned by one source file group):
 *   1. common        errors, status codes
 *   2. packet        framing, OK / ERR / EOF, text resultsets, commands
 *   3. handshake     handshake v10, response, auth plugins
 *   4. gtid          MySQL GTID sets, MariaDB GTID lists
 *   5. column/value  column types, decoded values, BSON conversion
 *   6. binlog        event header, format description, every event kind
 */
#ifndef TAPFLOW_PROTOCOL_H
#define TAPFLOW_PROTOCOL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * 1. common
 * ====================================================================== */

typedef enum tf_status {
    TF_OK = 0,
    TF_NEED_MORE = 1,
    TF_MALFORMED = 2,
} tf_status;

/* Error domains say which layer filled the error. */
typedef enum tf_error_domain {
    TF_ERR_NONE = 0,
    TF_ERR_PROTOCOL,    /* malformed bytes */
    TF_ERR_UNSUPPORTED, /* valid but outside what we handle (e.g. old format) */
    TF_ERR_SERVER,      /* an ERR packet from the server */
    TF_ERR_IO,          /* used by layers above: sockets, files */
    TF_ERR_CONFIG,      /* used by layers above: options, flow files */
    TF_ERR_TARGET,      /* used by layers above: MongoDB */
} tf_error_domain;

#define TF_ERROR_MESSAGE_MAX 512

/* One error type for every layer, like bson_error_t: a domain, a code (the
 * server's error number for TF_ERR_SERVER, else 0) and a message written for
 * the person reading the log. */
typedef struct tf_error {
    tf_error_domain domain;
    uint32_t code;
    char message[TF_ERROR_MESSAGE_MAX];
} tf_error;

/* Fills err (if not NULL) with a printf-style message. Always returns
 * TF_MALFORMED so decoders can write `return tf_error_set(...)`. */
tf_status tf_error_set(tf_error *err, tf_error_domain domain, uint32_t code,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "context: " to an existing message, for callers that add where
 * (e.g. "binlog x.000001 at offset 4123: "). */
void tf_error_prefix(tf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* CRC32 as the binlog uses it (zlib's polynomial). */
uint32_t tf_crc32(const uint8_t *buf, size_t len);

/* ======================================================================
 * 2. packet  (owner: protocol/packet.c, protocol/resultset.c,
 *             protocol/command.c)
 * ====================================================================== */

/* Capability flags (the handshake's capability_flags). The low 32 bits are
 * MySQL's and MariaDB's common flags; MariaDB sends its own extended flags in
 * the 4 "reserved" bytes of the handshake v10 and we keep them as bits 32..63
 * of one uint64_t. A MariaDB server clears TF_CLIENT_MYSQL (bit 0, which is
 * CLIENT_LONG_PASSWORD for MySQL) to say the extended bytes are meaningful. */
#define TF_CLIENT_LONG_PASSWORD (UINT64_C(1) << 0)
#define TF_CLIENT_MYSQL TF_CLIENT_LONG_PASSWORD /* MariaDB's name */
#define TF_CLIENT_FOUND_ROWS (UINT64_C(1) << 1)
#define TF_CLIENT_LONG_FLAG (UINT64_C(1) << 2)
#define TF_CLIENT_CONNECT_WITH_DB (UINT64_C(1) << 3)
#define TF_CLIENT_NO_SCHEMA (UINT64_C(1) << 4)
#define TF_CLIENT_COMPRESS (UINT64_C(1) << 5)
#define TF_CLIENT_ODBC (UINT64_C(1) << 6)
#define TF_CLIENT_LOCAL_FILES (UINT64_C(1) << 7)
#define TF_CLIENT_IGNORE_SPACE (UINT64_C(1) << 8)
#define TF_CLIENT_PROTOCOL_41 (UINT64_C(1) << 9)
#define TF_CLIENT_INTERACTIVE (UINT64_C(1) << 10)
#define TF_CLIENT_SSL (UINT64_C(1) << 11)
#define TF_CLIENT_IGNORE_SIGPIPE (UINT64_C(1) << 12)
#define TF_CLIENT_TRANSACTIONS (UINT64_C(1) << 13)
#define TF_CLIENT_RESERVED (UINT64_C(1) << 14)
#define TF_CLIENT_SECURE_CONNECTION (UINT64_C(1) << 15) /* a.k.a. RESERVED2 */
#define TF_CLIENT_MULTI_STATEMENTS (UINT64_C(1) << 16)
#define TF_CLIENT_MULTI_RESULTS (UINT64_C(1) << 17)
#define TF_CLIENT_PS_MULTI_RESULTS (UINT64_C(1) << 18)
#define TF_CLIENT_PLUGIN_AUTH (UINT64_C(1) << 19)
#define TF_CLIENT_CONNECT_ATTRS (UINT64_C(1) << 20)
#define TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (UINT64_C(1) << 21)
#define TF_CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS (UINT64_C(1) << 22)
#define TF_CLIENT_SESSION_TRACK (UINT64_C(1) << 23)
#define TF_CLIENT_DEPRECATE_EOF (UINT64_C(1) << 24)
#define TF_CLIENT_OPTIONAL_RESULTSET_METADATA (UINT64_C(1) << 25) /* MySQL 8 */
#define TF_CLIENT_ZSTD_COMPRESSION_ALGORITHM (UINT64_C(1) << 26)  /* MySQL 8 */
#define TF_CLIENT_QUERY_ATTRIBUTES (UINT64_C(1) << 27)            /* MySQL 8 */
#define TF_CLIENT_MULTI_FACTOR_AUTHENTICATION (UINT64_C(1) << 28) /* MySQL 8 */
#define TF_CLIENT_CAPABILITY_EXTENSION (UINT64_C(1) << 29)
#define TF_CLIENT_SSL_VERIFY_SERVER_CERT (UINT64_C(1) << 30)
#define TF_CLIENT_REMEMBER_OPTIONS (UINT64_C(1) << 31)
/* MariaDB extended capabilities (handshake bytes 4..7 of the filler). */
#define TF_MARIADB_CLIENT_PROGRESS (UINT64_C(1) << 32)
#define TF_MARIADB_CLIENT_COM_MULTI (UINT64_C(1) << 33)
#define TF_MARIADB_CLIENT_STMT_BULK_OPERATIONS (UINT64_C(1) << 34)
#define TF_MARIADB_CLIENT_EXTENDED_METADATA (UINT64_C(1) << 35)
#define TF_MARIADB_CLIENT_CACHE_METADATA (UINT64_C(1) << 36)
#define TF_MARIADB_CLIENT_BULK_UNIT_RESULTS (UINT64_C(1) << 37)

/* Server status flags (OK / EOF packets). */
#define TF_SERVER_STATUS_IN_TRANS 0x0001u
#define TF_SERVER_STATUS_AUTOCOMMIT 0x0002u
#define TF_SERVER_MORE_RESULTS_EXISTS 0x0008u
#define TF_SERVER_QUERY_NO_GOOD_INDEX_USED 0x0010u
#define TF_SERVER_QUERY_NO_INDEX_USED 0x0020u
#define TF_SERVER_STATUS_CURSOR_EXISTS 0x0040u
#define TF_SERVER_STATUS_LAST_ROW_SENT 0x0080u
#define TF_SERVER_STATUS_DB_DROPPED 0x0100u
#define TF_SERVER_STATUS_NO_BACKSLASH_ESCAPES 0x0200u
#define TF_SERVER_STATUS_METADATA_CHANGED 0x0400u
#define TF_SERVER_QUERY_WAS_SLOW 0x0800u
#define TF_SERVER_PS_OUT_PARAMS 0x1000u
#define TF_SERVER_STATUS_IN_TRANS_READONLY 0x2000u
#define TF_SERVER_SESSION_STATE_CHANGED 0x4000u

/* Command bytes (first payload byte of a client command). The replication
 * commands are encoded by the gtid/replication owner; they are listed here so
 * every command byte lives in one place. */
typedef enum tf_command {
    TF_COM_QUIT = 0x01,
    TF_COM_INIT_DB = 0x02,
    TF_COM_QUERY = 0x03,
    TF_COM_PING = 0x0e,
    TF_COM_BINLOG_DUMP = 0x12,
    TF_COM_REGISTER_SLAVE = 0x15,
    TF_COM_BINLOG_DUMP_GTID = 0x1e,
} tf_command;

/* --- section 2 is filled by its owner --- */

/* ======================================================================
 * 3. handshake  (owner: protocol/handshake.c, protocol/auth.c)
 * ====================================================================== */

/* --- section 3 is filled by its owner --- */

/* ======================================================================
 * 4. gtid  (owner: protocol/gtid_mysql.c, protocol/gtid_mariadb.c)
 * ====================================================================== */

/* MySQL GTID set: uuid[:tag]:interval[:interval...] per source, intervals
 * half-open internally [start, end) as in the binary encoding. */
typedef struct tf_gtid_set tf_gtid_set;

/* Decodes the binary encoding used by PREVIOUS_GTIDS_LOG_EVENT's body and by
 * COM_BINLOG_DUMP_GTID's data field. Allocates *out (free with
 * tf_gtid_set_destroy). */
tf_status tf_gtid_set_decode_binary(const uint8_t *buf, size_t len,
                                    tf_gtid_set **out, tf_error *err);

void tf_gtid_set_destroy(tf_gtid_set *set);

/* --- rest of section 4 is filled by its owner --- */

/* ======================================================================
 * 5. column / value  (owner: protocol/value.c, protocol/decimal.c,
 *                     protocol/temporal.c, protocol/json_binary.c,
 *                     protocol/value_bson.c)
 * ====================================================================== */

/* Column type codes as they appear in TABLE_MAP (enum_field_types). */
typedef enum tf_column_type {
    TF_TYPE_DECIMAL = 0,
    TF_TYPE_TINY = 1,
    TF_TYPE_SHORT = 2,
    TF_TYPE_LONG = 3,
    TF_TYPE_FLOAT = 4,
    TF_TYPE_DOUBLE = 5,
    TF_TYPE_NULL = 6,
    TF_TYPE_TIMESTAMP = 7,
    TF_TYPE_LONGLONG = 8,
    TF_TYPE_INT24 = 9,
    TF_TYPE_DATE = 10,
    TF_TYPE_TIME = 11,
    TF_TYPE_DATETIME = 12,
    TF_TYPE_YEAR = 13,
    TF_TYPE_NEWDATE = 14,
    TF_TYPE_VARCHAR = 15,
    TF_TYPE_BIT = 16,
    TF_TYPE_TIMESTAMP2 = 17,
    TF_TYPE_DATETIME2 = 18,
    TF_TYPE_TIME2 = 19,
    TF_TYPE_TYPED_ARRAY = 20,
    TF_TYPE_VECTOR = 242,
    TF_TYPE_JSON = 245,
    TF_TYPE_NEWDECIMAL = 246,
    TF_TYPE_ENUM = 247,
    TF_TYPE_SET = 248,
    TF_TYPE_TINY_BLOB = 249,
    TF_TYPE_MEDIUM_BLOB = 250,
    TF_TYPE_LONG_BLOB = 251,
    TF_TYPE_BLOB = 252,
    TF_TYPE_VAR_STRING = 253,
    TF_TYPE_STRING = 254,
    TF_TYPE_GEOMETRY = 255,
} tf_column_type;

/* Collation id of binary strings (BINARY/VARBINARY/BLOB). */
#define TF_CHARSET_BINARY 63

/* A length-prefixed name borrowed from, or owned by, a table map. */
typedef struct tf_str {
    const char *ptr;
    size_t len;
} tf_str;

/* One column as the binlog describes it. `type` is the real type: for
 * TF_TYPE_STRING columns that are really ENUM or SET (the binlog writes
 * those as STRING with the real type in the metadata's high byte) the
 * decoder of TABLE_MAP stores TF_TYPE_ENUM / TF_TYPE_SET here and the
 * storage length in `meta`. Optional-metadata fields are empty when the
 * server did not send them (binlog_row_metadata=MINIMAL). */
typedef struct tf_column {
    uint8_t type;      /* tf_column_type (real type) */
    uint16_t meta;     /* type metadata from TABLE_MAP, normalised as below */
    bool nullable;
    bool is_unsigned;  /* SIGNEDNESS optional metadata */
    bool is_primary_key;
    uint16_t charset;  /* collation id, 0 when unknown */
    tf_str name;       /* COLUMN_NAME optional metadata; len 0 if absent */
    uint32_t enum_set_count;  /* ENUM_STR_VALUE / SET_STR_VALUE */
    tf_str *enum_set_values;  /* enum_set_count names, table map owns them */
    uint32_t geometry_type;
} tf_column;

/* `meta` by type (as decoded from TABLE_MAP's metadata block):
 *   FLOAT, DOUBLE: pack length (4 / 8)
 *   VARCHAR, VAR_STRING: max byte length (length prefix is 1 byte if < 256)
 *   BLOB, GEOMETRY, JSON, VECTOR: length-prefix bytes (1..4)
 *   NEWDECIMAL: precision << 8 | scale
 *   BIT: bits % 8 | (bytes << 8)  (as the server writes it)
 *   STRING: max byte length (decoded from the two bytes, incl. >255 trick)
 *   ENUM, SET: storage bytes (1..2 for ENUM, 1..8 for SET)
 *   TIMESTAMP2, DATETIME2, TIME2: fractional-second precision 0..6
 *   others: 0 */

typedef enum tf_value_kind {
    TF_VAL_NULL = 0,
    TF_VAL_ABSENT,    /* not in this row image (partial images) */
    TF_VAL_INT,       /* signed integers, i */
    TF_VAL_UINT,      /* unsigned integers, u */
    TF_VAL_FLOAT,     /* f */
    TF_VAL_DOUBLE,    /* d */
    TF_VAL_DECIMAL,   /* decimal.text, e.g. "-123.450" (scale kept) */
    TF_VAL_STRING,    /* bytes: character data in column charset */
    TF_VAL_BYTES,     /* bytes: binary strings and blobs */
    TF_VAL_DATE,      /* temporal: year, month, day (zero date allowed) */
    TF_VAL_DATETIME,  /* temporal: date + hour..microsecond */
    TF_VAL_TIMESTAMP, /* timestamp: seconds since epoch + microseconds */
    TF_VAL_TIME,      /* temporal: negative, hour (0..838), minute..usec */
    TF_VAL_YEAR,      /* i: 0 or 1901..2155 */
    TF_VAL_BIT,       /* u, bit.width */
    TF_VAL_ENUM,      /* u: 1-based index (0 = the empty error value) */
    TF_VAL_SET,       /* u: bitmask */
    TF_VAL_JSON,      /* bytes: MySQL binary JSON (MariaDB JSON is a
                         LONGTEXT and arrives as TF_VAL_STRING) */
    TF_VAL_GEOMETRY,  /* bytes: SRID (4 bytes LE) + WKB */
    TF_VAL_VECTOR,    /* bytes: little-endian float32 array */
    TF_VAL_JSON_DIFF, /* bytes: PARTIAL_UPDATE_ROWS after-image of a JSON
                         column: a list of binary JSON diffs to apply to the
                         before image */
} tf_value_kind;

#define TF_DECIMAL_TEXT_MAX 96 /* sign + 65 digits + point + NUL, rounded */

typedef struct tf_temporal {
    int32_t year;
    uint8_t month, day;
    uint32_t hour; /* TIME may reach 838 */
    uint8_t minute, second;
    uint32_t microsecond;
    bool negative; /* TIME only */
    uint8_t fsp;   /* fractional digits the column declares */
} tf_temporal;

/* A decoded column value. Byte payloads are borrowed from the event buffer
 * and live as long as it does. */
typedef struct tf_value {
    tf_value_kind kind;
    union {
        int64_t i;
        uint64_t u;
        float f;
        double d;
        struct {
            const uint8_t *ptr;
            size_t len;
        } bytes;
        struct {
            char text[TF_DECIMAL_TEXT_MAX];
            uint8_t precision, scale;
        } decimal;
        tf_temporal temporal;
        struct {
            int64_t seconds;
            uint32_t microsecond;
            uint8_t fsp;
        } timestamp;
    };
    uint16_t bit_width; /* TF_VAL_BIT only */
} tf_value;

/* Decodes one non-NULL value of `col` from buf (a row image cursor).
 * On TF_OK sets *consumed. Never reads past len; a value that runs past the
 * end of the row image is TF_MALFORMED (rows events are decoded whole, so
 * "more bytes" is never the answer here). */
tf_status tf_value_decode(const uint8_t *buf, size_t len, const tf_column *col,
                          tf_value *out, size_t *consumed, tf_error *err);

/* --- rest of section 5 is filled by its owner --- */

/* ======================================================================
 * 6. binlog  (owner: protocol/event*.c, protocol/rows.c,
 *             protocol/table_map.c, protocol/payload.c)
 * ====================================================================== */

/* --- section 6 is filled by its owner --- */

#ifdef __cplusplus
}
#endif

#endif /* TAPFLOW_PROTOCOL_H */
