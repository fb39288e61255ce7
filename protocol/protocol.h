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
 *   6. binlog        event header, format description, every event kind,
 *                    the SQL of QUERY events
 */
#ifndef TAPFLOW_PROTOCOL_H
#define TAPFLOW_PROTOCOL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tf_error.h"
#include "tf_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * 1. common
 * ====================================================================== */

/* A string of bytes (not NUL-terminated), borrowed from an input buffer or
 * owned by a table map. Defined here because every section uses it. */
typedef struct tf_str {
    const char *ptr;
    size_t len;
} tf_str;

/* A NUL-terminated copy of exactly len bytes (bson_malloc'd, free with
 * bson_free). bson_strndup is not that: it strncpy's len + 1 bytes, reading
 * one byte past a buffer whose bytes hold no NUL. */
char *tf_strndup(const void *ptr, size_t len);

/* Whether len bytes are UTF-8 as libbson takes it: exactly what
 * bson_utf8_validate(s, len, true) answers (NUL bytes allowed), ASCII runs
 * checked a word at a time. */
bool tf_utf8_valid(const void *s, size_t len);

/* CRC32 as the binlog uses it (protocol/crc32.c): zlib's crc32(), i.e.
 * tf_crc32(buf, len) == crc32(0, buf, len), and tf_crc32_update(crc, buf,
 * len) continues a CRC the way crc32(crc, buf, len) does. */
uint32_t tf_crc32(const uint8_t *buf, size_t len);
uint32_t tf_crc32_update(uint32_t crc, const uint8_t *buf, size_t len);

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

/* ---- framing (packet.c) ----
 *
 * A physical packet is a 4-byte header (3-byte little-endian payload length,
 * 1-byte sequence id) and the payload. A logical payload of 0xffffff bytes or
 * more is sent as packets of exactly 0xffffff bytes followed by one shorter
 * packet (possibly empty); the sequence id grows by one (mod 256) per
 * physical packet, across a whole command/response exchange. */

#define TF_PACKET_HEADER_LEN 4
#define TF_PACKET_MAX_CHUNK 0xffffffu

/* One physical packet, borrowed from the input. */
typedef struct tf_packet {
    const uint8_t *payload;
    uint32_t payload_len;
    uint8_t seq;
} tf_packet;

/* Frames one physical packet at buf. TF_OK: *out borrows the payload and
 * *consumed = 4 + payload_len. TF_NEED_MORE while the header or payload is
 * incomplete. Never TF_MALFORMED: every header is a valid header. */
tf_status tf_packet_frame(const uint8_t *buf, size_t len, tf_packet *out, size_t *consumed);

/* Where a logical packet lies in the input, found without copying. */
typedef struct tf_packet_span {
    size_t wire_len;        /* bytes of input it covers (headers included);
                             on TF_NEED_MORE: the least total input length
                             that can make progress */
    size_t payload_len;     /* logical payload length (sum of the chunks) */
    size_t chunks;          /* physical packets */
    uint8_t first_seq;      /* sequence id of the first chunk */
    uint8_t next_seq;       /* sequence id the next packet must carry */
    const uint8_t *payload; /* chunks == 1: the payload, borrowed from the
                               input (no copy needed); else NULL */
} tf_packet_span;

/* Finds the logical packet at buf whose first chunk must carry expected_seq.
 * TF_OK fills *out; TF_NEED_MORE (out->wire_len says how much input is the
 * least that helps); TF_MALFORMED on a sequence id that is not the expected
 * one ("packet: sequence id 7 where 3 was expected at offset 16777219").
 * For chunks > 1 call tf_packet_assemble to get the payload contiguous. */
tf_status tf_packet_scan(const uint8_t *buf, size_t len, uint8_t expected_seq, tf_packet_span *out,
                         tf_error *err);

/* Copies the payload of a span found by tf_packet_scan at buf into dst
 * (span->payload_len bytes). dst may be buf itself: the chunks are then
 * compacted in place (memmove), so no second buffer is needed. */
void tf_packet_assemble(const uint8_t *buf, const tf_packet_span *span, uint8_t *dst);

/* Wire size of a logical payload of payload_len bytes once framed. */
size_t tf_packet_encoded_size(size_t payload_len);

/* Frames the logical payload head||body (either may be empty/NULL) into out
 * as one or more packets with sequence ids seq, seq+1, ...; the head/body
 * split lets a command byte precede a caller's string without a copy.
 * Returns the bytes written, or 0 if cap < tf_packet_encoded_size(). Sets
 * *next_seq (if not NULL) to the sequence id after the last packet. */
size_t tf_packet_encode(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
                        uint8_t seq, uint8_t *out, size_t cap, uint8_t *next_seq);

/* ---- generic responses (packet.c) ---- */

/* What the first byte of a response payload says it is. */
typedef enum tf_packet_kind {
    TF_PACKET_OK,           /* 0x00 (or the 0xfe OK that ends a resultset) */
    TF_PACKET_ERR,          /* 0xff */
    TF_PACKET_EOF,          /* 0xfe end of columns/rows (see below) */
    TF_PACKET_LOCAL_INFILE, /* 0xfb: server asks for a local file */
    TF_PACKET_DATA,         /* column count, column definition or row */
} tf_packet_kind;

/* Classifies the first packet of a response to a command (COM_QUERY,
 * COM_PING, COM_INIT_DB): OK, ERR, LOCAL_INFILE, or DATA (column count). An
 * empty payload is DATA (and then malformed as a column count). */
tf_packet_kind tf_response_classify(const uint8_t *payload, size_t len);

/* Classifies a packet that follows column definitions: ERR, EOF (end of
 * rows or of columns) or DATA (a row). 0xfe starts both an end packet and a
 * row whose first value is 16 MiB or longer (lenenc 0xfe + 8 bytes); the
 * difference is the payload length: the classic EOF is < 9 bytes, the
 * CLIENT_DEPRECATE_EOF OK is < 0xffffff, and such a row is never shorter
 * than 0xffffff. len is the LOGICAL payload length. */
tf_packet_kind tf_resultset_classify(const uint8_t *payload, size_t len, uint64_t caps);

/* OK packet (also the 0xfe OK of CLIENT_DEPRECATE_EOF and, via
 * tf_end_decode, the classic EOF). Strings borrow from the payload. Real
 * servers (MySQL 5.x+, MariaDB) send the info as a length-encoded string
 * whether or not CLIENT_SESSION_TRACK is set, and omit it when empty. */
typedef struct tf_ok_packet {
    uint64_t affected_rows;
    uint64_t last_insert_id;
    uint16_t status_flags; /* TF_SERVER_* */
    uint16_t warnings;
    tf_str info;          /* human-readable, e.g. "Rows matched: 1 ..." */
    tf_str session_state; /* raw session-state-change block (with
                               CLIENT_SESSION_TRACK and
                               TF_SERVER_SESSION_STATE_CHANGED); its entries
                               are length-checked but not interpreted */
} tf_ok_packet;

/* Decodes an OK payload (header 0x00 or 0xfe). caps are the negotiated
 * capability flags (PROTOCOL_41, TRANSACTIONS, SESSION_TRACK matter). */
tf_status tf_ok_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_ok_packet *out,
                       tf_error *err);

/* Classic EOF: 0xfe, warnings, status (PROTOCOL_41). */
typedef struct tf_eof_packet {
    uint16_t warnings;
    uint16_t status_flags;
} tf_eof_packet;

tf_status tf_eof_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_eof_packet *out,
                        tf_error *err);

/* An end-of-rows packet of either flavour into an OK: with
 * CLIENT_DEPRECATE_EOF the 0xfe OK, else the classic EOF (affected rows and
 * insert id 0, no info). */
tf_status tf_end_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_ok_packet *out,
                        tf_error *err);

/* ERR packet. sql_state is "" when the server sent no '#' marker (errors
 * sent before capabilities are agreed, e.g. 1040 Too many connections). */
typedef struct tf_err_packet {
    uint16_t code;
    char sql_state[6]; /* 5 characters + NUL */
    tf_str message;    /* borrowed */
} tf_err_packet;

tf_status tf_err_decode(const uint8_t *payload, size_t len, tf_err_packet *out, tf_error *err);

/* Puts a server error into err: domain TF_ERR_SERVER, code = server code,
 * message "server error 1146 (42S02): Table 'x.y' doesn't exist". */
void tf_err_packet_to_error(const tf_err_packet *pkt, tf_error *err);

/* Decodes an ERR payload straight into err as above; a malformed ERR gives
 * a TF_ERR_PROTOCOL error instead. Always returns TF_MALFORMED, so a caller
 * can `return tf_err_payload_to_error(p, n, err);`. */
tf_status tf_err_payload_to_error(const uint8_t *payload, size_t len, tf_error *err);

/* Rejects a LOCAL INFILE request (0xfb + file name): tapflow never sends
 * CLIENT_LOCAL_FILES, so a server asking for a file is misbehaving or
 * hostile. Fills err (TF_ERR_UNSUPPORTED, naming the file, printable
 * characters only) and returns TF_MALFORMED. The connection should be
 * closed (answering would need an empty packet, then the server's reply). */
tf_status tf_local_infile_reject(const uint8_t *payload, size_t len, tf_error *err);

/* ---- text resultsets (resultset.c) ---- */

/* Column definition flags. */
#define TF_COLUMN_NOT_NULL 0x0001u
#define TF_COLUMN_PRI_KEY 0x0002u
#define TF_COLUMN_UNIQUE_KEY 0x0004u
#define TF_COLUMN_MULTIPLE_KEY 0x0008u
#define TF_COLUMN_BLOB 0x0010u
#define TF_COLUMN_UNSIGNED 0x0020u
#define TF_COLUMN_ZEROFILL 0x0040u
#define TF_COLUMN_BINARY 0x0080u
#define TF_COLUMN_ENUM 0x0100u
#define TF_COLUMN_AUTO_INCREMENT 0x0200u
#define TF_COLUMN_TIMESTAMP 0x0400u
#define TF_COLUMN_SET 0x0800u
#define TF_COLUMN_NO_DEFAULT_VALUE 0x1000u
#define TF_COLUMN_ON_UPDATE_NOW 0x2000u
#define TF_COLUMN_PART_KEY 0x4000u
#define TF_COLUMN_NUM 0x8000u

/* Column count of a resultset. MariaDB's CACHE_METADATA and MySQL's
 * OPTIONAL_RESULTSET_METADATA add a metadata-follows byte (read when caps
 * has them; *metadata_follows is true otherwise). Counts of 0 or above 65535
 * are malformed. */
tf_status tf_column_count_decode(const uint8_t *payload, size_t len, uint64_t caps, uint64_t *count,
                                 bool *metadata_follows, tf_error *err);

/* Column definition 41. Strings borrow from the payload. */
typedef struct tf_column_def {
    tf_str catalog; /* always "def" */
    tf_str schema;
    tf_str table;             /* alias */
    tf_str org_table;         /* real table */
    tf_str name;              /* alias */
    tf_str org_name;          /* real column */
    tf_str extended_metadata; /* MariaDB EXTENDED_METADATA; empty otherwise */
    uint16_t charset;         /* collation id; 63 = binary */
    uint32_t column_length;
    uint8_t type;   /* tf_column_type */
    uint16_t flags; /* TF_COLUMN_* */
    uint8_t decimals;
} tf_column_def;

tf_status tf_column_def_decode(const uint8_t *payload, size_t len, uint64_t caps,
                               tf_column_def *out, tf_error *err);

/* One text row: column_count length-encoded strings, 0xfb for NULL. Values
 * borrow from the payload (values[i].ptr is NULL for NULL, nulls[i] set).
 * A row with fewer or more values than column_count is TF_MALFORMED. */
tf_status tf_text_row_decode(const uint8_t *payload, size_t len, size_t column_count,
                             tf_str *values, bool *nulls, tf_error *err);

/* Streaming reader of a response to COM_QUERY: feed it one logical packet
 * payload at a time (as tf_packet_scan/assemble deliver them); each call
 * says what that packet was. Rows land in the caller's arrays, borrowed from
 * the payload, so a million-row snapshot is never held in memory. The
 * struct is caller-owned and allocation-free. */
typedef enum tf_resultset_item_kind {
    TF_RS_ITEM_OK,           /* the command returned OK, no rows (item.ok) */
    TF_RS_ITEM_ERR,          /* server error (item.err); resultset is done */
    TF_RS_ITEM_COLUMN_COUNT, /* item.column_count: size the row arrays now
                                and set rs.values / rs.nulls / rs.capacity */
    TF_RS_ITEM_COLUMN,       /* item.column, index item.column_index */
    TF_RS_ITEM_COLUMNS_END,  /* classic EOF after the definitions */
    TF_RS_ITEM_ROW,          /* rs.values / rs.nulls hold the row */
    TF_RS_ITEM_END,          /* end of rows (item.ok: status, warnings) */
} tf_resultset_item_kind;

typedef enum tf_resultset_state {
    TF_RS_EXPECT_RESPONSE = 0, /* first packet: OK, ERR or column count */
    TF_RS_EXPECT_COLUMN,
    TF_RS_EXPECT_COLUMNS_EOF,
    TF_RS_EXPECT_ROW,
    TF_RS_DONE,
} tf_resultset_state;

typedef struct tf_resultset {
    uint64_t caps;
    tf_resultset_state state;
    uint64_t column_count;
    uint64_t columns_seen;
    uint64_t rows_seen;
    /* Row arrays, owned by the caller, at least column_count long. */
    tf_str *values;
    bool *nulls;
    size_t capacity;
} tf_resultset;

typedef struct tf_resultset_item {
    tf_resultset_item_kind kind;
    uint64_t column_count;
    uint64_t column_index;
    tf_column_def column;
    tf_ok_packet ok;
    tf_err_packet err;
} tf_resultset_item;

void tf_resultset_init(tf_resultset *rs, uint64_t caps);

/* Decodes the next packet of the response. TF_OK with *item filled, or
 * TF_MALFORMED (bad bytes, a packet where none is expected, a LOCAL INFILE
 * request, rows arrays too small). After an OK/END with
 * TF_SERVER_MORE_RESULTS_EXISTS the reader expects the next result. */
tf_status tf_resultset_feed(tf_resultset *rs, const uint8_t *payload, size_t len,
                            tf_resultset_item *item, tf_error *err);

/* True once the whole response (every result) has been read. */
static inline bool tf_resultset_done(const tf_resultset *rs) { return rs->state == TF_RS_DONE; }

/* ---- commands (command.c) ----
 *
 * Each writes a complete command (framed, sequence id 0, split over several
 * packets when 16 MiB or longer) into out and returns the bytes written, or
 * 0 if cap is smaller than the matching _size(). *next_seq (if not NULL)
 * gets the sequence id of the response's first packet: 1, or more when the
 * command took several packets. */
size_t tf_com_query_size(size_t query_len);
size_t tf_com_query_encode(const char *query, size_t query_len, uint8_t *out, size_t cap,
                           uint8_t *next_seq);
size_t tf_com_init_db_size(size_t schema_len);
size_t tf_com_init_db_encode(const char *schema, size_t schema_len, uint8_t *out, size_t cap,
                             uint8_t *next_seq);
#define TF_COM_PING_SIZE 5
size_t tf_com_ping_encode(uint8_t *out, size_t cap);
#define TF_COM_QUIT_SIZE 5
size_t tf_com_quit_encode(uint8_t *out, size_t cap);

/* ---- the server's side (server_packets.c) ----
 *
 * For the test primary tapflow runs in its tests. Encoders write one
 * payload (no packet header): TF_OK with *written = its length, or
 * TF_NEED_MORE with *written = the size needed when cap is too small
 * (nothing written; out may be NULL with cap 0 to ask); TF_MALFORMED when
 * an argument cannot be encoded. */

struct tf_handshake; /* section 3 */

/* Handshake v10 from a tf_handshake as tf_handshake_decode fills it:
 * server_version as sent (MariaDB's "5.5.5-" prefix included), the 20-byte
 * nonce in auth_data, capabilities (bits 32..63 go in the reserved bytes
 * when TF_CLIENT_MYSQL is clear), charset, status, auth_plugin. */
tf_status tf_handshake_v10_encode(const struct tf_handshake *hs, uint8_t *out, size_t cap,
                                  size_t *written, tf_error *err);
/* Auth switch request: 0xfe, plugin name, NUL, data (for
 * mysql_native_password: the 20-byte nonce and a NUL, as servers send). */
tf_status tf_auth_switch_encode(const char *plugin_name, const uint8_t *data, size_t data_len,
                                uint8_t *out, size_t cap, size_t *written, tf_error *err);
/* OK (header 0x00) or the 0xfe OK that ends a resultset with
 * CLIENT_DEPRECATE_EOF. The info is written length-encoded when not empty
 * (or when session state follows), as MariaDB and MySQL send it. */
tf_status tf_ok_encode(const tf_ok_packet *ok, uint8_t header, uint64_t caps, uint8_t *out,
                       size_t cap, size_t *written, tf_error *err);
tf_status tf_eof_encode(const tf_eof_packet *eof, uint64_t caps, uint8_t *out, size_t cap,
                        size_t *written, tf_error *err);
/* ERR; an empty sql_state writes no '#' marker (errors before the client's
 * capabilities are known). */
tf_status tf_err_encode(const tf_err_packet *pkt, uint8_t *out, size_t cap, size_t *written,
                        tf_error *err);
/* Column count; with MariaDB CACHE_METADATA or MySQL
 * OPTIONAL_RESULTSET_METADATA in caps, the metadata-follows byte after it. */
tf_status tf_column_count_encode(uint64_t count, bool metadata_follows, uint64_t caps, uint8_t *out,
                                 size_t cap, size_t *written, tf_error *err);
/* Column definition 41 (catalog "def" when empty; the extended-metadata
 * string with MariaDB EXTENDED_METADATA in caps). */
tf_status tf_column_def_encode(const tf_column_def *col, uint64_t caps, uint8_t *out, size_t cap,
                               size_t *written, tf_error *err);
/* Text row; values[i].ptr == NULL or nulls[i] (nulls may be NULL) is SQL
 * NULL (0xfb). */
tf_status tf_text_row_encode(const tf_str *values, const bool *nulls, size_t column_count,
                             uint8_t *out, size_t cap, size_t *written, tf_error *err);

/* COM_REGISTER_SLAVE as the server reads it (strings borrow from the
 * payload). */
typedef struct tf_register_slave_request {
    uint32_t server_id;
    tf_str hostname, user, password;
    uint16_t port;
    uint32_t replication_rank, master_id;
} tf_register_slave_request;

tf_status tf_register_slave_request_decode(const uint8_t *payload, size_t len,
                                           tf_register_slave_request *out, tf_error *err);

/* COM_BINLOG_DUMP or COM_BINLOG_DUMP_GTID as the server reads it. For
 * DUMP_GTID, gtid_data is the binary GTID set (decode it with
 * tf_gtid_set_decode_binary, section 4). */
typedef struct tf_binlog_dump_request {
    uint8_t command; /* TF_COM_BINLOG_DUMP or TF_COM_BINLOG_DUMP_GTID */
    uint16_t flags;  /* TF_BINLOG_DUMP_NON_BLOCK, TF_BINLOG_THROUGH_GTID, ... */
    uint32_t server_id;
    tf_str file_name; /* may be empty */
    uint64_t position;
    const uint8_t *gtid_data;
    size_t gtid_data_len;
} tf_binlog_dump_request;

tf_status tf_binlog_dump_request_decode(const uint8_t *payload, size_t len,
                                        tf_binlog_dump_request *out, tf_error *err);

/* mysql_native_password as a server checks it. The server keeps only
 * stage2 = SHA1(SHA1(password)) (mysql.user's hash without the '*'); the
 * check recovers SHA1(password) from the response (response XOR
 * SHA1(nonce + stage2)) and compares its SHA1 with stage2 in constant
 * time. stage2 NULL means an empty password: only an empty response
 * passes. */
void tf_native_password_hash(const char *password, size_t password_len, uint8_t stage2[20]);
bool tf_native_password_check(const uint8_t *stage2, const uint8_t *nonce, size_t nonce_len,
                              const uint8_t *response, size_t response_len);

/* --- end of section 2 --- */

/* ======================================================================
 * 3. handshake  (owner: protocol/handshake.c, protocol/auth.c)
 * ====================================================================== */

/* Every function here works on one whole packet PAYLOAD (the 4-byte packet
 * header is section 2's business, and so is the sequence id). A payload that
 * ends early is therefore TF_MALFORMED, never TF_NEED_MORE. Encoders write a
 * payload into a caller's buffer: *written is always set to the size needed,
 * and a buffer that is too small is a TF_MALFORMED with that size in err.
 *
 * The server's ERR packet, wherever the connection phase allows one (as the
 * very first packet, e.g. "Host '10.0.0.9' is blocked because of many
 * connection errors", or as the answer to an auth response), comes back as
 * TF_MALFORMED with err->domain == TF_ERR_SERVER, err->code the server's
 * error number and err->message "server error 1045 (28000): Access denied ..."
 * (tf_err_payload_to_error of section 2). */

#define TF_HANDSHAKE_AUTH_DATA_MAX 255 /* auth_plugin_data_len is one byte */
#define TF_HANDSHAKE_NAME_MAX 256      /* server version / plugin name + NUL */
#define TF_SCRAMBLE_LENGTH 20          /* nonce of native and sha2 plugins */

/* Initial handshake (protocol version 10), copied out of the packet so it
 * outlives the packet buffer. */
typedef struct tf_handshake {
    uint8_t protocol_version;                   /* always 10 after a successful decode */
    char server_version[TF_HANDSHAKE_NAME_MAX]; /* as sent, "5.5.5-" kept */
    uint32_t connection_id;
    /* auth-plugin-data part 1 (8 bytes) + part 2 without its trailing NUL:
     * the nonce every auth plugin scrambles with (20 bytes on MySQL and
     * MariaDB). */
    uint8_t auth_data[TF_HANDSHAKE_AUTH_DATA_MAX];
    size_t auth_data_len;
    /* Lower and upper capability words as bits 0..31; MariaDB's extended
     * capabilities (TF_MARIADB_CLIENT_*) as bits 32..63, only when the server
     * cleared TF_CLIENT_MYSQL (bit 0) to say the reserved bytes carry them. */
    uint64_t capabilities;
    uint8_t charset; /* server default collation id */
    uint16_t status_flags;
    char auth_plugin[TF_HANDSHAKE_NAME_MAX]; /* "" without CLIENT_PLUGIN_AUTH */
    bool is_mariadb;
} tf_handshake;

/* server_version without MariaDB's "5.5.5-" replication-compatibility
 * prefix: "10.11.19-MariaDB-0+deb12u1-log" (points into hs). */
const char *tf_handshake_version(const tf_handshake *hs);

/* Decodes the server's first packet. A protocol version other than 10 is
 * TF_MALFORMED (TF_ERR_UNSUPPORTED); a first packet that is an ERR is
 * surfaced as the server's error (see above). */
tf_status tf_handshake_decode(const uint8_t *payload, size_t len, tf_handshake *out, tf_error *err);

/* The capabilities to send: what the client wants that the server offers.
 * Bit 0 follows the server (MariaDB: cleared, so that the extended bits are
 * sent; MySQL: CLIENT_LONG_PASSWORD kept), and the extended bits are kept
 * only for a MariaDB server. The caller still adds or removes
 * TF_CLIENT_CONNECT_WITH_DB / TF_CLIENT_CONNECT_ATTRS / TF_CLIENT_SSL to match
 * what it sends; the encoders check the fields against the flags. */
uint64_t tf_handshake_negotiate(uint64_t client_wants, uint64_t server_capabilities);

/* One connection attribute (performance_schema.session_connect_attrs). */
typedef struct tf_connect_attr {
    const char *key;
    const char *value;
} tf_connect_attr;

/* HandshakeResponse41. Strings are NUL-terminated and borrowed. */
typedef struct tf_handshake_response {
    uint64_t capabilities; /* as negotiated; written verbatim */
    uint32_t max_packet_size;
    uint8_t charset;
    const char *username;
    const uint8_t *auth_response; /* from tf_auth_start */
    size_t auth_response_len;
    const char *database;         /* needs TF_CLIENT_CONNECT_WITH_DB */
    const char *auth_plugin;      /* needs TF_CLIENT_PLUGIN_AUTH */
    const tf_connect_attr *attrs; /* needs TF_CLIENT_CONNECT_ATTRS */
    size_t attr_count;
} tf_handshake_response;

/* Encodes HandshakeResponse41 (CLIENT_PROTOCOL_41 is required). The auth
 * response is length-encoded with CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, else
 * one length byte (CLIENT_SECURE_CONNECTION, at most 255 bytes). With
 * TF_CLIENT_SSL set this is the response sent after the TLS handshake. */
tf_status tf_handshake_response_encode(const tf_handshake_response *resp, uint8_t *out, size_t cap,
                                       size_t *written, tf_error *err);

/* Encodes the 32-byte SSLRequest (the first 32 bytes of HandshakeResponse41)
 * sent in clear before the TLS handshake; capabilities must have
 * TF_CLIENT_SSL and must equal the ones of the response that follows. */
tf_status tf_ssl_request_encode(uint64_t capabilities, uint32_t max_packet_size, uint8_t charset,
                                uint8_t *out, size_t cap, size_t *written, tf_error *err);

/* A decoded HandshakeResponse41 (SSLRequest when it ends after 32 bytes), for
 * servers we play in tests. Pointers borrow from the payload; the connection
 * attributes stay encoded: walk them with tf_connect_attr_next. */
typedef struct tf_handshake_response_view {
    uint64_t capabilities;
    uint32_t max_packet_size;
    uint8_t charset;
    bool is_ssl_request;
    const char *username; /* NUL-terminated in the payload */
    const uint8_t *auth_response;
    size_t auth_response_len;
    const char *database;    /* NULL without CLIENT_CONNECT_WITH_DB */
    const char *auth_plugin; /* NULL without CLIENT_PLUGIN_AUTH */
    const uint8_t *attrs;    /* the key/value pairs, without their length */
    size_t attrs_len;
} tf_handshake_response_view;

tf_status tf_handshake_response_decode(const uint8_t *payload, size_t len,
                                       tf_handshake_response_view *out, tf_error *err);

/* Reads the connection attribute at *pos of view->attrs, advancing *pos.
 * Returns TF_OK with *done = true at the end. */
tf_status tf_connect_attr_next(const uint8_t *attrs, size_t attrs_len, size_t *pos,
                               const char **key, size_t *key_len, const char **value,
                               size_t *value_len, bool *done, tf_error *err);

/* --- auth plugins ---------------------------------------------------- */

typedef enum tf_auth_plugin {
    TF_AUTH_PLUGIN_UNKNOWN = 0,
    TF_AUTH_MYSQL_NATIVE_PASSWORD,
    TF_AUTH_CACHING_SHA2_PASSWORD,
    TF_AUTH_SHA256_PASSWORD,
    TF_AUTH_CLIENT_ED25519, /* MariaDB's auth_ed25519 */
    TF_AUTH_MYSQL_CLEAR_PASSWORD,
} tf_auth_plugin;

tf_auth_plugin tf_auth_plugin_from_name(const char *name);
const char *tf_auth_plugin_name(tf_auth_plugin plugin);

/* mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))) into
 * out[20]. An empty password is an empty response (*out_len 0). */
void tf_scramble_native(const char *password, size_t password_len, const uint8_t *nonce,
                        size_t nonce_len, uint8_t out[TF_SCRAMBLE_LENGTH], size_t *out_len);

/* caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce)
 * into out[32]; an empty password gives *out_len 0. */
void tf_scramble_caching_sha2(const char *password, size_t password_len, const uint8_t *nonce,
                              size_t nonce_len, uint8_t out[32], size_t *out_len);

/* RSA-OAEP (SHA-1, MGF1-SHA-1, as the MySQL server decrypts) of
 * (password + NUL) XOR nonce (the nonce repeated) with the server's PEM
 * public key ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY"). out needs the
 * key size in bytes (256 for 2048 bits); *written says how many. */
tf_status tf_auth_rsa_encrypt_password(const char *password, size_t password_len,
                                       const uint8_t *nonce, size_t nonce_len, const uint8_t *pem,
                                       size_t pem_len, uint8_t *out, size_t cap, size_t *written,
                                       tf_error *err);

/* MariaDB client_ed25519: the Ed25519 signature of the 32-byte nonce with the
 * key whose expanded secret is SHA-512(password) (not SHA-512 of a 32-byte
 * seed as RFC 8032 keys, hence not doable with EVP_PKEY_ED25519; computed
 * with OpenSSL BIGNUM arithmetic). public_key (may be NULL) receives the key
 * the server stores, base64 in mysql.user's authentication_string. */
tf_status tf_auth_ed25519_sign(const char *password, size_t password_len, const uint8_t *nonce,
                               size_t nonce_len, uint8_t signature[64], uint8_t public_key[32],
                               tf_error *err);

#define TF_AUTH_RESPONSE_MAX 1024 /* RSA-8192 ciphertext, the largest reply */

typedef enum tf_auth_action {
    TF_AUTH_SEND,   /* send response[0..response_len) as the next packet */
    TF_AUTH_READ,   /* nothing to send: read the server's next packet */
    TF_AUTH_DONE,   /* the server's OK: authenticated (packet is the OK) */
    TF_AUTH_FAILED, /* err says why: the server's ERR or our refusal */
} tf_auth_action;

/* Client side of the authentication exchange, as a state machine without
 * I/O. The caller:
 *   1. tf_auth_init(), then tf_auth_start() with the decoded handshake: puts
 *      the auth response and the plugin name for HandshakeResponse41 in
 *      auth->response / auth->plugin_name;
 *   2. for every packet the server sends next: tf_auth_step() tells what to
 *      do (send auth->response, read again, done, failed).
 * The password is borrowed and must outlive the exchange; responses can hold
 * it in clear (full authentication over TLS), so tf_auth_cleanup() wipes
 * them. */
typedef struct tf_auth {
    const char *password;
    size_t password_len;
    bool secure_transport;                /* TLS or a unix socket: cleartext is allowed */
    const uint8_t *server_public_key_pem; /* optional, borrowed */
    size_t server_public_key_pem_len;

    tf_auth_plugin plugin;
    char plugin_name[TF_HANDSHAKE_NAME_MAX];
    uint8_t nonce[TF_HANDSHAKE_AUTH_DATA_MAX];
    size_t nonce_len;
    int state;        /* internal */
    bool switched;    /* an auth switch was seen (only one is allowed) */
    uint32_t packets; /* server packets seen since tf_auth_start */
    uint8_t response[TF_AUTH_RESPONSE_MAX];
    size_t response_len;
} tf_auth;

void tf_auth_init(tf_auth *auth, const char *password, size_t password_len, bool secure_transport);
void tf_auth_set_server_public_key(tf_auth *auth, const uint8_t *pem, size_t pem_len);
tf_status tf_auth_start(tf_auth *auth, const tf_handshake *hs, tf_error *err);
tf_auth_action tf_auth_step(tf_auth *auth, const uint8_t *payload, size_t len, tf_error *err);
void tf_auth_cleanup(tf_auth *auth);

/* Auth switch request (0xfe, plugin name, plugin data). Borrows from the
 * payload; a trailing NUL of the data is kept (plugins differ about it). */
typedef struct tf_auth_switch {
    const char *plugin_name;
    const uint8_t *data;
    size_t data_len;
} tf_auth_switch;

tf_status tf_auth_switch_decode(const uint8_t *payload, size_t len, tf_auth_switch *out,
                                tf_error *err);

/* ======================================================================
 * 4. gtid  (owner: protocol/gtid_mysql.c, protocol/gtid_mariadb.c)
 * ====================================================================== */

/* MySQL GTID set: uuid[:tag]:interval[:interval...] per source, intervals
 * half-open internally [start, end) as in the binary encoding. */
typedef struct tf_gtid_set tf_gtid_set;

/* Decodes the binary encoding used by PREVIOUS_GTIDS_LOG_EVENT's body and by
 * COM_BINLOG_DUMP_GTID's data field. Allocates *out (free with
 * tf_gtid_set_destroy). */
tf_status tf_gtid_set_decode_binary(const uint8_t *buf, size_t len, tf_gtid_set **out,
                                    tf_error *err);

void tf_gtid_set_destroy(tf_gtid_set *set);

/* --- rest of section 4 (owner: protocol/gtid_mysql.c, protocol/gtid_mariadb.c,
 *     protocol/replication_command.c) --- */

/* ---- MySQL GTIDs ----------------------------------------------------
 *
 * A GTID is uuid[:tag]:gno. The set keeps, per (uuid, tag) source, sorted
 * and merged half-open intervals [start, end). Sources are ordered as
 * MySQL's Tsid_map orders them (uuid bytes, then tag), so text and binary
 * output are canonical: equal sets give equal bytes.
 *
 * Allocation failure is the only way a set operation returns false; the set
 * is then still valid but may hold part of the result. */

#define TF_GTID_UUID_LEN 16
#define TF_GTID_UUID_TEXT_LEN 36 /* 8-4-4-4-12 hex digits */
#define TF_GTID_TAG_MAX 32       /* MySQL 8.4: [a-z_][a-z0-9_]{0,31} */
/* MySQL's MAX_GNO (GNO_END - 1 with GNO_END = INT64_MAX). */
#define TF_GTID_GNO_MAX INT64_C(9223372036854775806)

/* Half-open [start, end), as in the binary encoding: 1-5 is {1, 6}. */
typedef struct tf_gtid_interval {
    int64_t start;
    int64_t end;
} tf_gtid_interval;

/* One transaction id. tag is "" when untagged; tags are stored lowercase
 * (MySQL compares them case-insensitively and prints them lowercase). */
typedef struct tf_gtid {
    uint8_t uuid[TF_GTID_UUID_LEN];
    char tag[TF_GTID_TAG_MAX + 1];
    int64_t gno;
} tf_gtid;

/* How tf_gtid_set_format separates sources. COMPACT: "a:1-5,b:1-3" (what
 * tapflow stores and logs). MYSQL: "a:1-5,\nb:1-3", byte for byte what
 * SELECT @@gtid_executed returns. Both use lowercase UUIDs, sources sorted,
 * intervals merged, a tag's intervals after the untagged ones of the same
 * uuid ("uuid:1-5:mytag:1-2"); the empty set is "". */
typedef enum tf_gtid_text_style {
    TF_GTID_TEXT_COMPACT = 0,
    TF_GTID_TEXT_MYSQL = 1,
} tf_gtid_text_style;

/* A read-only view of one source of a set, for callers that walk it. */
typedef struct tf_gtid_source_view {
    const uint8_t *uuid;               /* TF_GTID_UUID_LEN bytes */
    const char *tag;                   /* "" when untagged */
    const tf_gtid_interval *intervals; /* sorted, merged, never empty */
    size_t interval_count;
} tf_gtid_source_view;

/* Parses "3e11fa47-71ca-11e1-9e33-c80aa9429562" (any case) into 16 bytes. */
tf_status tf_gtid_uuid_parse(const char *text, size_t len, uint8_t uuid[TF_GTID_UUID_LEN],
                             tf_error *err);
/* Writes the lowercase 36-character form plus a NUL into out. */
void tf_gtid_uuid_format(const uint8_t uuid[TF_GTID_UUID_LEN], char out[TF_GTID_UUID_TEXT_LEN + 1]);

/* Fills gtid->tag from tag bytes (len 0 = untagged), checking MySQL's tag
 * rules and lowering its case. */
tf_status tf_gtid_set_tag(tf_gtid *gtid, const char *tag, size_t len, tf_error *err);

/* Parses one GTID "uuid:gno" or "uuid:tag:gno". */
tf_status tf_gtid_parse(const char *text, size_t len, tf_gtid *out, tf_error *err);
/* snprintf-style: returns the length of the full text, writes at most cap
 * bytes including the NUL. */
size_t tf_gtid_format(const tf_gtid *gtid, char *buf, size_t cap);

tf_gtid_set *tf_gtid_set_new(void); /* NULL if out of memory */
tf_gtid_set *tf_gtid_set_copy(const tf_gtid_set *set);

/* Parses MySQL's text form: "uuid:1-5:7,uuid2:1-3", tagged sources
 * "uuid:tag:1-5" (8.4+), any case, whitespace (incl. the ",\n" MySQL prints)
 * around every token, empty elements between commas, "" for the empty set.
 * Errors name the 1-based byte column: "GTID set: ... at column 12". */
tf_status tf_gtid_set_parse(const char *text, size_t len, tf_gtid_set **out, tf_error *err);
/* Adds the GTIDs of a text set to *set; on error *set is unchanged. */
tf_status tf_gtid_set_add_text(tf_gtid_set *set, const char *text, size_t len, tf_error *err);

/* Adds one GTID (checks gno in 1..TF_GTID_GNO_MAX and the tag). */
tf_status tf_gtid_set_add(tf_gtid_set *set, const tf_gtid *gtid, tf_error *err);
/* Adds the inclusive range first..last of one source. */
tf_status tf_gtid_set_add_range(tf_gtid_set *set, const uint8_t uuid[TF_GTID_UUID_LEN],
                                const char *tag, int64_t first, int64_t last, tf_error *err);

bool tf_gtid_set_union(tf_gtid_set *set, const tf_gtid_set *other);    /* set |= other */
bool tf_gtid_set_subtract(tf_gtid_set *set, const tf_gtid_set *other); /* set -= other */

bool tf_gtid_set_contains(const tf_gtid_set *set, const tf_gtid *gtid);
bool tf_gtid_set_is_subset(const tf_gtid_set *sub, const tf_gtid_set *super);
bool tf_gtid_set_equal(const tf_gtid_set *a, const tf_gtid_set *b);
bool tf_gtid_set_is_empty(const tf_gtid_set *set);

size_t tf_gtid_set_source_count(const tf_gtid_set *set);
/* Fills view for source i (0 <= i < count); false when i is out of range. */
bool tf_gtid_set_source_at(const tf_gtid_set *set, size_t i, tf_gtid_source_view *view);

/* snprintf-style text output (see tf_gtid_text_style). */
size_t tf_gtid_set_format(const tf_gtid_set *set, tf_gtid_text_style style, char *buf, size_t cap);
/* The same into a new string the caller free()s; NULL if out of memory. */
char *tf_gtid_set_to_text(const tf_gtid_set *set, tf_gtid_text_style style);

/* Binary encoding exactly as MySQL's Gtid_set::encode writes it:
 *   untagged (no source has a tag): n_sids uint64 LE, then per source
 *     uuid[16], n_intervals uint64 LE, n_intervals x (start, end) int64 LE;
 *   tagged (8.4+, some source has a tag): the first 8 bytes are
 *     format 0x01 | n_sids << 8 | format << 56, and each uuid is followed by
 *     its tag: length as a MySQL serialization varlen integer (len << 1 in
 *     one byte for tags up to 32 bytes) then the tag bytes.
 * tf_gtid_set_decode_binary (above) reads both and needs len to be exactly
 * one encoding (no trailing CRC32). */
size_t tf_gtid_set_binary_length(const tf_gtid_set *set);
/* Writes the encoding if cap is large enough; returns its length always. */
size_t tf_gtid_set_encode_binary(const tf_gtid_set *set, uint8_t *buf, size_t cap);

/* ---- MariaDB GTIDs --------------------------------------------------
 *
 * A GTID is domain-server-seq. A position (gtid_slave_pos, gtid_binlog_pos,
 * @slave_connect_state) holds at most one GTID per domain, sorted by domain;
 * it lives on the stack: init / cleanup. */

/* One GTID {domain_id, server_id, seq_no}; the struct is defined once, in
 * section 6 next to GTID_LIST (which yields it), and declared here. */
typedef struct tf_mariadb_gtid tf_mariadb_gtid;

typedef struct tf_mariadb_gtid_pos {
    tf_mariadb_gtid *gtids; /* count entries, ascending domain_id */
    size_t count;
    size_t cap;
} tf_mariadb_gtid_pos;

void tf_mariadb_gtid_pos_init(tf_mariadb_gtid_pos *pos);
void tf_mariadb_gtid_pos_cleanup(tf_mariadb_gtid_pos *pos);

/* Parses "0-1-100" (whitespace around it allowed). */
tf_status tf_mariadb_gtid_parse(const char *text, size_t len, tf_mariadb_gtid *out, tf_error *err);
/* Parses "0-1-100,1-2-5" ("" is the empty position) into an initialised
 * pos, replacing its content. Two GTIDs of one domain are an error, as in
 * SET GLOBAL gtid_slave_pos. Errors name the 1-based byte column. */
tf_status tf_mariadb_gtid_pos_parse(const char *text, size_t len, tf_mariadb_gtid_pos *pos,
                                    tf_error *err);
/* Builds a position from triples in binlog order (e.g. GTID_LIST's list):
 * a later GTID of a domain replaces an earlier one, which keeps the last
 * GTID of each domain, as the server writes its binlog state. */
bool tf_mariadb_gtid_pos_from_list(tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtids,
                                   size_t count);
/* Records gtid as its domain's position (replacing the domain's entry). */
bool tf_mariadb_gtid_pos_update(tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtid);
bool tf_mariadb_gtid_pos_copy(tf_mariadb_gtid_pos *dst, const tf_mariadb_gtid_pos *src);

const tf_mariadb_gtid *tf_mariadb_gtid_pos_find(const tf_mariadb_gtid_pos *pos, uint32_t domain_id);
/* True when gtid's domain is at or past gtid->seq_no in pos: the
 * transaction was already applied (seq_no grows within a domain). */
bool tf_mariadb_gtid_pos_contains(const tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtid);
/* True when pos has every domain of other at an equal or greater seq_no. */
bool tf_mariadb_gtid_pos_covers(const tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid_pos *other);
bool tf_mariadb_gtid_pos_equal(const tf_mariadb_gtid_pos *a, const tf_mariadb_gtid_pos *b);

/* snprintf-style: "0-1-100" / "0-1-100,1-2-5" (ascending domain, no
 * spaces: the form @@gtid_binlog_pos prints and @slave_connect_state takes). */
size_t tf_mariadb_gtid_format(const tf_mariadb_gtid *gtid, char *buf, size_t cap);
size_t tf_mariadb_gtid_pos_format(const tf_mariadb_gtid_pos *pos, char *buf, size_t cap);

/* ---- replication commands -------------------------------------------
 *
 * Encoders of command payloads (command byte first, no packet header; the
 * packet layer frames them). Each returns TF_OK and sets *len to the bytes
 * written; TF_NEED_MORE with *len = the size needed when cap is too small
 * (nothing written; buf may be NULL with cap 0 to ask the size); or
 * TF_MALFORMED when an argument cannot be encoded. */

/* COM_BINLOG_DUMP flags. MariaDB also accepts 0x02 as
 * BINLOG_SEND_ANNOTATE_ROWS_EVENT (MySQL's BINLOG_THROUGH_POSITION). */
#define TF_BINLOG_DUMP_NON_BLOCK 0x0001u
#define TF_BINLOG_SEND_ANNOTATE_ROWS_EVENT 0x0002u
#define TF_BINLOG_THROUGH_POSITION 0x0002u
#define TF_BINLOG_THROUGH_GTID 0x0004u

/* COM_REGISTER_SLAVE: what SHOW SLAVE HOSTS shows of us. hostname, user and
 * password are the replica's report_host / report_user / report_password
 * (1-byte length prefix each: at most 255 bytes; empty is fine). */
typedef struct tf_register_slave {
    uint32_t server_id;
    tf_str hostname;
    tf_str user;
    tf_str password;
    uint16_t port;
    uint32_t replication_rank; /* unused by servers; replicas send 0 */
    uint32_t master_id;        /* unused by servers; replicas send 0 */
} tf_register_slave;

tf_status tf_com_register_slave_encode(const tf_register_slave *args, uint8_t *buf, size_t cap,
                                       size_t *len, tf_error *err);

/* COM_BINLOG_DUMP: start streaming file_name at position (MariaDB, or MySQL
 * without GTIDs). With MariaDB GTIDs the position comes from
 * SET @slave_connect_state and file_name may be empty (position 4). */
typedef struct tf_binlog_dump {
    uint32_t position;
    uint16_t flags; /* TF_BINLOG_DUMP_NON_BLOCK, ... */
    uint32_t server_id;
    tf_str file_name; /* sent without terminator, up to the payload's end */
} tf_binlog_dump;

tf_status tf_com_binlog_dump_encode(const tf_binlog_dump *args, uint8_t *buf, size_t cap,
                                    size_t *len, tf_error *err);

/* COM_BINLOG_DUMP_GTID (MySQL 5.6+): the server streams every transaction
 * not in gtids. The data size and the set's binary encoding are always
 * written (a NULL set is written as the empty set), as MySQL's server always
 * reads them; pass TF_BINLOG_THROUGH_GTID in flags as MySQL's replica does.
 * A set with tags uses the tagged encoding, which only 8.3+ servers read. */
typedef struct tf_binlog_dump_gtid {
    uint16_t flags;
    uint32_t server_id;
    tf_str file_name;  /* usually empty */
    uint64_t position; /* usually 4 */
    const tf_gtid_set *gtids;
} tf_binlog_dump_gtid;

tf_status tf_com_binlog_dump_gtid_encode(const tf_binlog_dump_gtid *args, uint8_t *buf, size_t cap,
                                         size_t *len, tf_error *err);

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

/* tf_str is defined in section 1 (common); packets use it too. */

/* One column as the binlog describes it. `type` is the real type: for
 * TF_TYPE_STRING columns that are really ENUM or SET (the binlog writes
 * those as STRING with the real type in the metadata's high byte) the
 * decoder of TABLE_MAP stores TF_TYPE_ENUM / TF_TYPE_SET here and the
 * storage length in `meta`. Optional-metadata fields are empty when the
 * server did not send them (binlog_row_metadata=MINIMAL). */
typedef struct tf_column {
    uint8_t type;  /* tf_column_type (real type) */
    uint16_t meta; /* type metadata from TABLE_MAP, normalised as below */
    bool nullable;
    bool is_unsigned; /* SIGNEDNESS optional metadata */
    bool is_primary_key;
    uint16_t charset;        /* collation id, 0 when unknown */
    tf_str name;             /* COLUMN_NAME optional metadata; len 0 if absent */
    uint32_t enum_set_count; /* ENUM_STR_VALUE / SET_STR_VALUE */
    tf_str *enum_set_values; /* enum_set_count names, table map owns them */
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
tf_status tf_value_decode(const uint8_t *buf, size_t len, const tf_column *col, tf_value *out,
                          size_t *consumed, tf_error *err);

/* The value a rows event gives for col, from the text a SELECT returns for
 * it (value_text.c; the snapshot's text resultsets): numbers as printed,
 * DECIMAL "[-]d[.d]", DATE / DATETIME / TIMESTAMP "YYYY-MM-DD[ hh:mm:ss[.f]]"
 * (TIMESTAMP in UTC: the session's time_zone is '+00:00'), TIME
 * "[-]h:mm:ss[.f]", ENUM / SET by member names, BIT as its bytes, strings,
 * JSON and GEOMETRY as the bytes (borrowed: out points into text). Every
 * field is range-checked; anything else is TF_MALFORMED naming the column
 * and the text. FLOAT should be selected as DOUBLE (6 digits of text do
 * not read back to the same float). */
tf_status tf_value_from_text(const tf_column *col, const char *text, size_t len, tf_value *out,
                             tf_error *err);

/* Name of a column type for messages and tools: "DATETIME2", "NEWDECIMAL",
 * "BLOB", ...; "type 123" style text is never returned: unknown codes give
 * "UNKNOWN". */
const char *tf_column_type_name(uint8_t type);

/* --- DECIMAL (protocol/decimal.c) ---
 * MySQL's binary DECIMAL: groups of 9 digits in 4 big-endian bytes, a
 * shorter group for the leftover digits of each side, sign in the top bit
 * (negative values store every byte inverted). */

/* Bytes DECIMAL(precision, scale) occupies in a row; 0 when precision is not
 * 1..65 or scale is not 0..30 and <= precision. */
size_t tf_decimal_binary_size(unsigned precision, unsigned scale);

/* Decodes one binary DECIMAL into exact text that keeps the scale
 * ("-123.450", "0.00", "12"), written into text (TF_DECIMAL_TEXT_MAX bytes).
 * Negative zero is written as zero. A digit group above its decimal range is
 * TF_MALFORMED. */
tf_status tf_decimal_decode(const uint8_t *buf, size_t len, unsigned precision, unsigned scale,
                            char text[TF_DECIMAL_TEXT_MAX], size_t *consumed, tf_error *err);

/* Converts decimal text ("-123.450") to Decimal128 exactly. Decimal128 has
 * 34 significant digits: when the text has more, trailing zeros of the
 * fraction are dropped first (same value, smaller exponent kept exact); if it
 * still needs more than 34 digits, returns false and *out is untouched —
 * nothing is ever rounded. */
bool tf_decimal_text_to_decimal128(const char *text, bson_decimal128_t *out);

/* --- temporal (protocol/temporal.c) --- */

/* Milliseconds since 1970-01-01 UTC of a DATE / DATETIME (interpreted as UTC).
 * Microseconds below the millisecond are truncated (toward the past). Returns
 * false for the zero date, for dates with a zero month or day ('2020-00-00')
 * and for days the month lacks ('2020-02-31' under ALLOW_INVALID_DATES):
 * they name no instant, and normalising them would write another date. */
bool tf_temporal_to_unix_ms(const tf_temporal *t, int64_t *ms);

/* Formats as SELECT shows the value: "YYYY-MM-DD" (TF_VAL_DATE),
 * "YYYY-MM-DD hh:mm:ss[.f..]" (TF_VAL_DATETIME, t->fsp digits),
 * "[-]hh:mm:ss[.f..]" (TF_VAL_TIME, at least two hour digits). Returns the
 * length written (always < cap when cap >= 40), or 0 for another kind. */
size_t tf_temporal_format(const tf_temporal *t, tf_value_kind kind, char *out, size_t cap);

/* Converts a TIMESTAMP (seconds since the epoch) to a UTC date and time. */
void tf_timestamp_to_temporal(int64_t seconds, uint32_t microsecond, uint8_t fsp, tf_temporal *out);

/* --- MySQL binary JSON (protocol/json_binary.c) ---
 * The JSON column's binary format (sql/json_binary.h): a type byte, then
 * small (16-bit offsets) or large (32-bit offsets) objects and arrays,
 * literals, int16/32/64, uint16/32/64, double, utf8mb4 strings, and opaque
 * values tagged with their own MySQL column type. Offsets are checked
 * against their container; nesting deeper than TF_JSON_MAX_DEPTH is an
 * error (MySQL itself refuses documents deeper than 100). */
#define TF_JSON_MAX_DEPTH 100

/* Appends the JSON document as one BSON value under key: objects become
 * embedded documents, arrays arrays, a scalar document the scalar. Empty
 * input is the JSON null literal (as MySQL reads it). int16..int64 and
 * uint16/uint32 -> int32 when they fit, else int64; uint64 above INT64_MAX
 * -> Decimal128; double -> double; opaque DECIMAL -> Decimal128 (string when
 * it needs more than 34 digits, see tf_decimal_text_to_decimal128);
 * opaque DATE/DATETIME/TIMESTAMP -> date (UTC, ms; null for zero dates);
 * opaque TIME -> string "hh:mm:ss.ffffff"; other opaque values (BLOB, BIT,
 * GEOMETRY, ...) -> binary subtype 0. On error nothing usable is appended:
 * the caller should discard parent. */
tf_status tf_json_binary_append_bson(bson_t *parent, const char *key, size_t key_len,
                                     const uint8_t *buf, size_t len, tf_error *err);

/* JSON text of a binary JSON document, for tools: the relaxed Extended JSON
 * of its BSON form (so opaque values keep a type: {"$numberDecimal": ...},
 * {"$date": ...}). Returns a string to free with bson_free, or NULL with err
 * filled. */
char *tf_json_binary_to_text(const uint8_t *buf, size_t len, tf_error *err);

/* PARTIAL_UPDATE_ROWS: the after image of a JSON column sent as a diff list
 * (TF_VAL_JSON_DIFF; its bytes are the column's payload after the length
 * prefix). Each diff: operation (1 byte), path (length-encoded length +
 * text such as $.a."b c"[2]), and for REPLACE / INSERT the new value
 * (length-encoded length + binary JSON). */
typedef enum tf_json_diff_op {
    TF_JSON_DIFF_REPLACE = 0,
    TF_JSON_DIFF_INSERT = 1,
    TF_JSON_DIFF_REMOVE = 2,
} tf_json_diff_op;

typedef struct tf_json_diff {
    tf_json_diff_op op;
    tf_str path;          /* borrowed, e.g. "$.a[2]" */
    const uint8_t *value; /* binary JSON; NULL for REMOVE */
    size_t value_len;
} tf_json_diff;

/* Reads the diff at *pos of the list and advances *pos. Returns TF_OK, or
 * TF_MALFORMED (unknown operation, length past the end, ...). The list is
 * done when *pos == len. */
tf_status tf_json_diff_next(const uint8_t *buf, size_t len, size_t *pos, tf_json_diff *out,
                            tf_error *err);

/* Applies a diff list to the JSON value held under key in before_doc (a BSON
 * document such as a row image built with tf_value_append_bson) and appends
 * every field of before_doc to after_doc (initialised, empty), the JSON field
 * with the diffs applied in order, with MySQL's semantics: REPLACE replaces
 * an existing value, INSERT adds an object member or inserts an array
 * element at its index (appends past the end), REMOVE removes. A path that
 * does not name what the operation needs is an error (the view would
 * otherwise drift from the source). */
tf_status tf_json_diff_apply_bson(const bson_t *before_doc, const char *key, size_t key_len,
                                  const uint8_t *diff, size_t diff_len, bson_t *after_doc,
                                  tf_error *err);

/* --- values to BSON and text (protocol/value_bson.c) ---
 * Type mapping (DESIGN.md), per value kind:
 *   INT / UINT       int32 when the column type's range fits int32 (TINY,
 *                    SHORT, INT24, signed LONG, unsigned TINY/SHORT/INT24);
 *                    int64 for unsigned LONG and LONGLONG; unsigned values
 *                    above INT64_MAX -> Decimal128.
 *   DECIMAL          Decimal128, exact; values needing more than 34
 *                    significant digits -> string with the exact text.
 *   FLOAT / DOUBLE   double (FLOAT widened exactly).
 *   DATE / DATETIME  date (UTC, ms; microseconds truncated); zero dates,
 *                    dates with a zero month or day and invalid days ->
 *                    null (see tf_temporal_to_unix_ms).
 *   TIMESTAMP        date; the zero timestamp (0 seconds) -> null.
 *   TIME             string "[-]hh:mm:ss[.ffffff]" (column's fsp digits).
 *   YEAR             int32 (0 for the zero year).
 *   STRING           UTF-8 string. utf8mb3/utf8mb4/ascii/unknown charsets
 *                    must be valid UTF-8; latin1 (MySQL's cp1252) is
 *                    converted; other charsets with bytes that are not UTF-8
 *                    are an error (TF_ERR_UNSUPPORTED), never mojibake.
 *   BYTES, GEOMETRY  binary subtype 0 (GEOMETRY: SRID + WKB as stored;
 *                    BINARY(n) padded with 0x00 to n bytes as SELECT shows
 *                    it: MariaDB's row image drops the pad).
 *   ENUM             string of the member (index 0 -> ""); without
 *                    ENUM_STR_VALUE metadata -> int32 index.
 *   SET              array of member strings in bit order; without
 *                    SET_STR_VALUE metadata -> int64 bitmask.
 *   BIT              int64 of the bits (BIT(64) values >= 2^63 keep their
 *                    bit pattern, so appear negative).
 *   JSON             embedded document / array / scalar
 *                    (tf_json_binary_append_bson).
 *   VECTOR           array of doubles (each float32 widened exactly).
 *   NULL             null; ABSENT: nothing appended.
 *   JSON_DIFF        error: apply it with tf_json_diff_apply_bson. */
tf_status tf_value_append_bson(bson_t *doc, const char *key, size_t key_len, const tf_value *v,
                               const tf_column *col, tf_error *err);

/* Text of a value as SELECT returns it over the text protocol, for tools
 * and the differential tests: integers in decimal, DECIMAL with its scale,
 * FLOAT/DOUBLE in the shortest form that reads back to the same value
 * (%g style, e.g. "1.5", "1e+20"), temporal as tf_temporal_format with the
 * column's fsp, TIMESTAMP in UTC, strings and bytes raw, YEAR as 4 digits,
 * BIT as its raw big-endian bytes, ENUM as its member name, SET as members
 * joined by ",", JSON as tf_json_binary_to_text, VECTOR as
 * "[f1,f2,...]". Returns a buffer to free with bson_free (*len_out = its
 * length, NUL-terminated), or NULL for NULL/ABSENT values (err untouched) or
 * with err filled on error (err->domain != TF_ERR_NONE). */
char *tf_value_to_text(const tf_value *v, const tf_column *col, size_t *len_out, tf_error *err);

/* --- values as SQL literals (protocol/value_sql.c) ---
 * The literal that compares against col's own values as the server compares
 * them (WHERE col > lit, (k1, k2) IN ((..))), for keyset pagination and
 * re-reading rows by key:
 *   INT / UINT / YEAR / BIT   decimal ("-5", "18446744073709551615")
 *   ENUM / SET                the index / bitmask in decimal
 *   DECIMAL                   its text ("-12.50")
 *   FLOAT / DOUBLE            "%.17g" with an exponent ("0.5e0"), FLOAT as
 *                             the double it widens to
 *   STRING                    _charset X'hex' (the column's collation then
 *                             compares); charset_name, or when NULL the
 *                             charset of col->charset's collation id
 *                             (tf_collation_charset_name); X'hex' when the
 *                             column's collation is binary
 *   BYTES                     X'hex'; BINARY(n) (TF_TYPE_STRING) padded with
 *                             0x00 to n bytes
 *   DATE / DATETIME / TIME    quoted, with the column's fractional digits
 *                             (all six when the value has a finer fraction)
 *   TIMESTAMP                 quoted UTC date and time: right in a session
 *                             whose time_zone is '+00:00'; 0 is the zero
 *                             timestamp
 *   NULL                      NULL
 * ABSENT, JSON, JSON_DIFF, GEOMETRY and VECTOR values have none
 * (TF_ERR_UNSUPPORTED), nor strings whose charset is unknown.
 * snprintf-style: writes at most cap bytes, NUL included, and sets *len to
 * the literal's whole length (call again with *len + 1 bytes when
 * *len >= cap). TF_MALFORMED with err on error. */
tf_status tf_value_sql_literal(const tf_value *v, const tf_column *col, const char *charset_name,
                               char *buf, size_t cap, size_t *len, tf_error *err);

/* The charset of a collation id ("utf8mb4" for 45, 224 or 255), as MySQL
 * and MariaDB number them; NULL for an id it does not know. */
const char *tf_collation_charset_name(uint32_t collation_id);

/* --- rest of section 5 is filled by its owner --- */

/* ======================================================================
 * 6. binlog  (owner: protocol/event*.c, protocol/rows.c,
 *             protocol/table_map.c, protocol/payload.c)
 * ====================================================================== */

/* --- section 6: binlog events ---
 *
 * How to read a binlog (file or replication stream):
 *
 *   tf_format fmt;
 *   tf_format_init(&fmt, TF_CHECKSUM_UNDEF);   // file: the FDE comes first
 *   skip the 4-byte magic (tf_binlog_check_magic), then per event:
 *     tf_event_frame(buf, len, &fmt, &event_len, err)  -> TF_NEED_MORE until
 *                                                        the whole event is in
 *     tf_event_decode(buf, event_len, &fmt, &ev, &consumed, err)
 *     if ev.kind == TF_EVENT_FORMAT_DESCRIPTION: fmt = ev.format_description
 *     if ev.kind == TF_EVENT_TABLE_MAP: tf_table_maps_add_event(maps, &ev, err)
 *     if ev.kind == TF_EVENT_ROWS: tf_rows_begin(&cur, &ev, map, err) and
 *                                  tf_rows_next(...) until !tf_rows_has_next
 *     if ev.kind == TF_EVENT_TRANSACTION_PAYLOAD: tf_payload_iter_*
 *
 * tf_binlog_reader below does exactly this over an in-memory file.
 *
 * Everything tf_event_decode returns is borrowed from the event buffer
 * (tf_str, byte pointers): keep the buffer alive while using the event.
 * Table maps are the exception: tf_table_map_new copies what it needs, so a
 * map outlives its event (rows events refer to it by table_id later). */

#define TF_BINLOG_MAGIC_LEN 4   /* fe 62 69 6e at the start of a file */
#define TF_EVENT_HEADER_LEN 19  /* v4 common header */
#define TF_EVENT_CHECKSUM_LEN 4 /* CRC32 trailer when checksums are on */

/* Event type codes (Log_event_type). MySQL 1..42, MariaDB 160..171. */
typedef enum tf_event_type {
    TF_EV_UNKNOWN = 0,
    TF_EV_START_V3 = 1, /* binlog v1-3: unsupported */
    TF_EV_QUERY = 2,
    TF_EV_STOP = 3,
    TF_EV_ROTATE = 4,
    TF_EV_INTVAR = 5,
    TF_EV_LOAD = 6,
    TF_EV_SLAVE = 7,
    TF_EV_CREATE_FILE = 8,
    TF_EV_APPEND_BLOCK = 9,
    TF_EV_EXEC_LOAD = 10,
    TF_EV_DELETE_FILE = 11,
    TF_EV_NEW_LOAD = 12,
    TF_EV_RAND = 13,
    TF_EV_USER_VAR = 14,
    TF_EV_FORMAT_DESCRIPTION = 15,
    TF_EV_XID = 16,
    TF_EV_BEGIN_LOAD_QUERY = 17,
    TF_EV_EXECUTE_LOAD_QUERY = 18,
    TF_EV_TABLE_MAP = 19,
    TF_EV_PRE_GA_WRITE_ROWS = 20, /* MySQL 5.1.0-5.1.17: unsupported */
    TF_EV_PRE_GA_UPDATE_ROWS = 21,
    TF_EV_PRE_GA_DELETE_ROWS = 22,
    TF_EV_WRITE_ROWS_V1 = 23,
    TF_EV_UPDATE_ROWS_V1 = 24,
    TF_EV_DELETE_ROWS_V1 = 25,
    TF_EV_INCIDENT = 26,
    TF_EV_HEARTBEAT = 27,
    TF_EV_IGNORABLE = 28,
    TF_EV_ROWS_QUERY = 29,
    TF_EV_WRITE_ROWS_V2 = 30,
    TF_EV_UPDATE_ROWS_V2 = 31,
    TF_EV_DELETE_ROWS_V2 = 32,
    TF_EV_GTID = 33,
    TF_EV_ANONYMOUS_GTID = 34,
    TF_EV_PREVIOUS_GTIDS = 35,
    TF_EV_TRANSACTION_CONTEXT = 36,
    TF_EV_VIEW_CHANGE = 37,
    TF_EV_XA_PREPARE = 38,
    TF_EV_PARTIAL_UPDATE_ROWS = 39,
    TF_EV_TRANSACTION_PAYLOAD = 40,
    TF_EV_HEARTBEAT_V2 = 41,
    TF_EV_GTID_TAGGED_LOG = 42,
    TF_EV_MARIADB_ANNOTATE_ROWS = 160,
    TF_EV_MARIADB_BINLOG_CHECKPOINT = 161,
    TF_EV_MARIADB_GTID = 162,
    TF_EV_MARIADB_GTID_LIST = 163,
    TF_EV_MARIADB_START_ENCRYPTION = 164, /* encrypted binlog: unsupported */
    TF_EV_MARIADB_QUERY_COMPRESSED = 165,
    TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1 = 166,
    TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1 = 167,
    TF_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1 = 168,
    TF_EV_MARIADB_WRITE_ROWS_COMPRESSED = 169,
    TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED = 170,
    TF_EV_MARIADB_DELETE_ROWS_COMPRESSED = 171,
} tf_event_type;

/* "QUERY", "WRITE_ROWS_V2", "MARIADB_GTID", ...; "UNKNOWN" for codes we do
 * not know. Never NULL. */
const char *tf_event_type_name(uint8_t type);

/* Common header flags (LOG_EVENT_*_F). */
#define TF_EVENT_F_BINLOG_IN_USE \
    0x0001 /* FDE only: file not closed cleanly;
                                           the FDE's CRC32 was computed with
                                           this bit cleared */
#define TF_EVENT_F_THREAD_SPECIFIC 0x0004
#define TF_EVENT_F_SUPPRESS_USE 0x0008
#define TF_EVENT_F_ARTIFICIAL \
    0x0020 /* made up by the dump thread (fake
                                        ROTATE): log_pos means nothing */
#define TF_EVENT_F_RELAY_LOG 0x0040
#define TF_EVENT_F_IGNORABLE 0x0080

/* The 19-byte v4 common header. log_pos is the position just after this
 * event in the primary's binlog (0 for events inside TRANSACTION_PAYLOAD and
 * for some artificial events). */
typedef struct tf_event_header {
    uint32_t timestamp;
    uint8_t type; /* tf_event_type */
    uint32_t server_id;
    uint32_t event_size; /* whole event: header + body + checksum */
    uint32_t log_pos;
    uint16_t flags;
} tf_event_header;

typedef enum tf_checksum_alg {
    TF_CHECKSUM_OFF = 0,
    TF_CHECKSUM_CRC32 = 1,
    TF_CHECKSUM_UNDEF = 255, /* not known yet (before the FDE) */
} tf_checksum_alg;

typedef enum tf_flavour {
    TF_FLAVOUR_UNKNOWN = 0,
    TF_FLAVOUR_MYSQL,   /* MySQL, Percona */
    TF_FLAVOUR_MARIADB, /* "-MariaDB" in the server version */
} tf_flavour;

/* What a FORMAT_DESCRIPTION event says about the events after it. Copy the
 * decoded ev.format_description into the reader's tf_format. */
typedef struct tf_format {
    uint16_t binlog_version;                              /* 4 (1..3 are rejected) */
    char server_version[51];                              /* NUL-terminated, e.g. "8.0.32" */
    unsigned version_major, version_minor, version_patch; /* 10, 11, 9 */
    tf_flavour flavour;
    uint32_t create_timestamp;
    uint8_t common_header_len; /* 19 (anything else is rejected) */
    /* post_header_len[type] for type 1..post_header_count; 0 elsewhere. */
    uint16_t post_header_count;
    uint8_t post_header_len[256];
    uint8_t checksum_alg; /* tf_checksum_alg of the events after it */
} tf_format;

/* Format to read with before any FDE: binlog v4, 19-byte header, the
 * post-header lengths a v4 server uses, and the given checksum algorithm.
 * Files: TF_CHECKSUM_UNDEF (the FDE comes first and says). Replication
 * streams: TF_CHECKSUM_CRC32 if the replica set @master_binlog_checksum /
 * @source_binlog_checksum to CRC32, so the artificial ROTATE sent before the
 * FDE decodes; else TF_CHECKSUM_OFF. With UNDEF, an event other than FDE is
 * rejected (TF_ERR_UNSUPPORTED) rather than guessed. */
void tf_format_init(tf_format *fmt, tf_checksum_alg alg);

/* Post-header length of `type` in this format (0 when unknown). */
uint8_t tf_format_post_header_len(const tf_format *fmt, uint8_t type);

/* Checks the 4-byte binlog file magic fe 62 69 6e. TF_NEED_MORE if len < 4,
 * TF_MALFORMED ("not a binlog file: magic ...") otherwise on mismatch. */
tf_status tf_binlog_check_magic(const uint8_t *buf, size_t len, tf_error *err);

/* Framing: how long is the event starting at buf? Needs 19 bytes; then
 * TF_NEED_MORE until len >= event_size (err then says how many bytes are
 * announced and how many are there, for callers at end of file).
 * TF_MALFORMED when event_size is smaller than header (+ checksum). */
tf_status tf_event_frame(const uint8_t *buf, size_t len, const tf_format *fmt, size_t *event_len,
                         tf_error *err);

/* Reads the common header only (needs 19 bytes). */
tf_status tf_event_header_decode(const uint8_t *buf, size_t len, tf_event_header *out,
                                 tf_error *err);

/* ---- per-kind bodies (all pointers borrow from the event buffer) ---- */

typedef enum tf_event_kind {
    TF_EVENT_OTHER = 0, /* known or unknown type, body not interpreted:
                               BEGIN_LOAD_QUERY, INCIDENT, IGNORABLE,
                               XA_PREPARE, TRANSACTION_CONTEXT, VIEW_CHANGE,
                               LOAD events, codes we do not know */
    TF_EVENT_FORMAT_DESCRIPTION,
    TF_EVENT_ROTATE,
    TF_EVENT_QUERY, /* QUERY and MariaDB QUERY_COMPRESSED */
    TF_EVENT_XID,
    TF_EVENT_STOP,
    TF_EVENT_INTVAR,
    TF_EVENT_RAND,
    TF_EVENT_USER_VAR,
    TF_EVENT_TABLE_MAP,
    TF_EVENT_ROWS, /* WRITE/UPDATE/DELETE v1, v2, PARTIAL_UPDATE,
                               MariaDB compressed rows */
    TF_EVENT_GTID, /* MySQL GTID, ANONYMOUS_GTID, GTID_TAGGED_LOG */
    TF_EVENT_PREVIOUS_GTIDS,
    TF_EVENT_MARIADB_GTID,
    TF_EVENT_MARIADB_GTID_LIST,
    TF_EVENT_MARIADB_BINLOG_CHECKPOINT,
    TF_EVENT_ROWS_QUERY, /* MySQL ROWS_QUERY and MariaDB ANNOTATE_ROWS */
    TF_EVENT_HEARTBEAT,  /* HEARTBEAT and HEARTBEAT_V2 */
    TF_EVENT_TRANSACTION_PAYLOAD,
} tf_event_kind;

typedef struct tf_rotate_event {
    uint64_t position; /* where to start in next_file */
    tf_str next_file;
} tf_rotate_event;

typedef struct tf_query_event {
    uint32_t thread_id;
    uint32_t exec_time;
    uint16_t error_code;
    const uint8_t *status_vars; /* raw Q_* key/value list */
    size_t status_vars_len;
    tf_str database;  /* current database, may be empty */
    tf_str statement; /* for QUERY_COMPRESSED: the compressed
                                   bytes; use tf_query_uncompress */
    bool compressed;  /* MariaDB QUERY_COMPRESSED */
} tf_query_event;

typedef struct tf_intvar_event {
    uint8_t type; /* 1 LAST_INSERT_ID, 2 INSERT_ID */
    uint64_t value;
} tf_intvar_event;

typedef struct tf_rand_event {
    uint64_t seed1, seed2;
} tf_rand_event;

typedef struct tf_user_var_event {
    tf_str name;
    bool is_null;
    uint8_t value_type; /* Item_result: 0 STRING, 1 REAL, 2 INT, 4 DECIMAL */
    uint32_t charset;
    const uint8_t *value; /* raw value bytes */
    size_t value_len;
    bool has_flags;
    uint8_t flags; /* 1 = unsigned */
} tf_user_var_event;

/* TABLE_MAP as it is on the wire (borrowed). tf_table_map_new turns it into
 * an owned, fully decoded map. */
typedef struct tf_table_map_event {
    uint64_t table_id;
    uint16_t flags;
    tf_str database;
    tf_str table;
    uint64_t column_count;
    const uint8_t *column_types; /* column_count bytes */
    const uint8_t *metadata;     /* per-column type metadata block */
    size_t metadata_len;
    const uint8_t *null_bitmap;       /* (column_count + 7) / 8 bytes */
    const uint8_t *optional_metadata; /* TLV list, may be empty */
    size_t optional_metadata_len;
    size_t optional_metadata_offset; /* in the event, for messages */
    /* From the format: MySQL and MariaDB number the columns of optional
     * metadata differently (MariaDB counts GEOMETRY among character
     * columns and not YEAR among numeric ones; MySQL 9 counts VECTOR). */
    tf_flavour flavour;
} tf_table_map_event;

typedef enum tf_rows_kind {
    TF_ROWS_WRITE = 0,
    TF_ROWS_UPDATE,
    TF_ROWS_DELETE,
    TF_ROWS_PARTIAL_UPDATE, /* PARTIAL_UPDATE_ROWS (JSON diffs) */
} tf_rows_kind;

/* Rows events flags (post-header). */
#define TF_ROWS_F_STMT_END 0x0001
#define TF_ROWS_F_NO_FOREIGN_KEY_CHECKS 0x0002
#define TF_ROWS_F_RELAXED_UNIQUE_CHECKS 0x0004
#define TF_ROWS_F_COMPLETE_ROWS 0x0008

typedef struct tf_rows_event {
    tf_rows_kind kind;
    uint8_t version; /* 1 or 2 */
    bool compressed; /* MariaDB *_ROWS_COMPRESSED: `rows` is the
                                 compressed block; tf_rows_begin inflates */
    uint64_t table_id;
    uint16_t flags; /* TF_ROWS_F_* */
    /* v2 extra row info, parsed and bounds-checked. */
    const uint8_t *extra; /* raw extra data (without its length field) */
    size_t extra_len;
    bool has_ndb_info;
    uint8_t ndb_format;
    const uint8_t *ndb_data;
    size_t ndb_data_len;
    bool has_partition_info;
    uint16_t partition_id;
    uint16_t source_partition_id; /* UPDATE / PARTIAL_UPDATE only */
    uint64_t column_count;
    /* Which columns each image carries: (column_count + 7) / 8 bytes each.
     * WRITE has only an after image, DELETE only a before image, UPDATE and
     * PARTIAL_UPDATE both; the bitmap of a missing image is NULL. */
    const uint8_t *columns_before;
    const uint8_t *columns_after;
    /* false when the image exists and lacks some columns
     * (binlog_row_image=MINIMAL or NOBLOB); true when it carries every
     * column or does not exist. Callers that need whole rows must refuse
     * such events rather than write partial documents. */
    bool before_image_full;
    bool after_image_full;
    const uint8_t *rows; /* row images */
    size_t rows_len;
    size_t rows_offset; /* offset of `rows` in the event */
} tf_rows_event;

/* MySQL GTID / ANONYMOUS_GTID / GTID_TAGGED_LOG. Fields past the original
 * 5.6 layout are flagged by has_*: older servers do not write them. */
typedef struct tf_gtid_event {
    uint8_t flags;   /* 1 = may have changes outside transactions */
    uint8_t sid[16]; /* source UUID (zero for ANONYMOUS_GTID) */
    uint64_t gno;    /* transaction number (0 anonymous) */
    bool anonymous;
    char tag[33]; /* GTID_TAGGED_LOG: tag, "" when none */
    bool has_logical_clock;
    uint64_t last_committed;
    uint64_t sequence_number;
    bool has_commit_timestamps;
    uint64_t immediate_commit_timestamp; /* microseconds since epoch */
    uint64_t original_commit_timestamp;  /* = immediate when not written */
    bool has_transaction_length;
    uint64_t transaction_length;
    bool has_server_versions;
    uint32_t immediate_server_version; /* e.g. 80032 */
    uint32_t original_server_version;
    bool has_commit_group_ticket;
    uint64_t commit_group_ticket;
} tf_gtid_event;

/* PREVIOUS_GTIDS: the body is the binary GTID set encoding; decode it with
 * tf_gtid_set_decode_binary(data, data_len, ...) (section 4). The event
 * decoder checks its outer structure (sid count, interval counts, tags)
 * against the length and reports sid_count. */
typedef struct tf_previous_gtids_event {
    const uint8_t *data;
    size_t data_len;
    uint64_t sid_count;
    bool tagged; /* 8.4+ tagged encoding */
} tf_previous_gtids_event;

/* MariaDB GTID_EVENT (starts an event group). */
#define TF_MARIADB_GTID_F_STANDALONE 0x01
#define TF_MARIADB_GTID_F_GROUP_COMMIT_ID 0x02
#define TF_MARIADB_GTID_F_TRANSACTIONAL 0x04
#define TF_MARIADB_GTID_F_ALLOW_PARALLEL 0x08
#define TF_MARIADB_GTID_F_WAITED 0x10
#define TF_MARIADB_GTID_F_DDL 0x20
#define TF_MARIADB_GTID_F_PREPARED_XA 0x40
#define TF_MARIADB_GTID_F_COMPLETED_XA 0x80
typedef struct tf_mariadb_gtid_event {
    uint64_t seq_no;
    uint32_t domain_id;
    uint32_t server_id; /* from the common header */
    uint8_t flags2;     /* TF_MARIADB_GTID_F_* */
    bool has_commit_id;
    uint64_t commit_id;
    bool has_xid; /* PREPARED_XA / COMPLETED_XA */
    uint32_t xa_format_id;
    uint8_t xa_gtrid_len, xa_bqual_len;
    const uint8_t *xa_data; /* gtrid then bqual */
    bool has_flags_extra;
    uint8_t flags_extra;
    uint8_t extra_engines; /* when flags_extra & 0x01 */
    bool has_sa_seq_no;
    uint64_t sa_seq_no; /* START/COMMIT/ROLLBACK ALTER */
    bool has_thread_id;
    uint64_t thread_id; /* 11.x, flags_extra & 0x10 */
} tf_mariadb_gtid_event;

typedef struct tf_mariadb_gtid {
    uint32_t domain_id;
    uint32_t server_id;
    uint64_t seq_no;
} tf_mariadb_gtid;

/* MariaDB GTID_LIST: the binlog state at the start of the file. */
typedef struct tf_mariadb_gtid_list_event {
    uint32_t count;
    uint8_t flags;          /* high 4 bits of the count field */
    const uint8_t *entries; /* count * 16 bytes; use _get */
} tf_mariadb_gtid_list_event;

void tf_mariadb_gtid_list_get(const tf_mariadb_gtid_list_event *list, uint32_t index,
                              tf_mariadb_gtid *out);

typedef struct tf_heartbeat_event {
    tf_str log_file;
    uint64_t log_pos; /* v1: header log_pos; v2: serialized */
} tf_heartbeat_event;

#define TF_PAYLOAD_COMPRESSION_ZSTD 0
#define TF_PAYLOAD_COMPRESSION_NONE 255
typedef struct tf_transaction_payload_event {
    uint8_t compression_type; /* TF_PAYLOAD_COMPRESSION_* */
    uint64_t payload_size;
    uint64_t uncompressed_size; /* as declared: checked, never trusted */
    const uint8_t *payload;
    size_t payload_len;
} tf_transaction_payload_event;

typedef struct tf_event {
    tf_event_header header;
    tf_event_kind kind;
    const uint8_t *body; /* after the common header, checksum off */
    size_t body_len;
    bool has_checksum;
    uint32_t checksum;
    union {
        tf_format format_description;
        tf_rotate_event rotate;
        tf_query_event query;
        uint64_t xid;
        tf_intvar_event intvar;
        tf_rand_event rand;
        tf_user_var_event user_var;
        tf_table_map_event table_map;
        tf_rows_event rows;
        tf_gtid_event gtid;
        tf_previous_gtids_event previous_gtids;
        tf_mariadb_gtid_event mariadb_gtid;
        tf_mariadb_gtid_list_event mariadb_gtid_list;
        tf_str binlog_checkpoint_file;
        tf_str rows_query; /* the statement text */
        tf_heartbeat_event heartbeat;
        tf_transaction_payload_event payload;
    };
} tf_event;

/* Decodes one whole event (buf holds at least the event; frame it first).
 * Verifies the CRC32 when fmt->checksum_alg is CRC32 (the FDE decides its
 * own: it carries its algorithm). Errors:
 *   TF_NEED_MORE  len < event_size (so the same call works on a stream),
 *   TF_MALFORMED  domain TF_ERR_PROTOCOL: "checksum mismatch", bad lengths
 *                 ("TABLE_MAP event: column count ... at offset N"),
 *                 domain TF_ERR_UNSUPPORTED: START_V3 / binlog v1-3, pre-GA
 *                 rows events, non-19-byte headers, encrypted binlogs.
 * Offsets in messages are from the start of the event; callers add the file
 * position with tf_error_prefix. Allocates nothing. */
tf_status tf_event_decode(const uint8_t *buf, size_t len, const tf_format *fmt, tf_event *out,
                          size_t *consumed, tf_error *err);

/* MariaDB QUERY_COMPRESSED: inflates ev.query.statement into a new buffer
 * (*out, free()), at most max_len bytes. */
tf_status tf_query_uncompress(const tf_query_event *query, size_t max_len, uint8_t **out,
                              size_t *out_len, tf_error *err);

/* ---- statement text of QUERY events (owner: protocol/statement.c) ----
 *
 * In a ROW-format binlog, table data arrives as rows events; what comes as a
 * QUERY event is transaction control (BEGIN, COMMIT, XA), DDL, and, when a
 * session used binlog_format=STATEMENT or MIXED, row changes written as SQL.
 * tf_statement_classify reads just enough of that SQL to say which of these
 * it is and which tables it names, so a caller can tell "touches a flow
 * table" from "does not" without a SQL parser.
 *
 * What it understands: comments anywhere (-- , #, C-style); executable
 * comments (MySQL's versioned and unversioned ones, MariaDB's M-prefixed
 * ones) read as SQL whatever their version number, since the server that
 * logged them ran them; keywords in any case; names bare, in backquotes or
 * in double quotes (ANSI_QUOTES), qualified or not; string literals with
 * backslash escapes and doubled quotes (the default sql_mode: under
 * NO_BACKSLASH_ESCAPES a string ending in a backslash is misread).
 *
 * What it does not follow: the statements a trigger, stored function or
 * foreign-key cascade runs, and the base table behind a view name. A QUERY
 * event holds one statement (the server logs each statement of a
 * multi-statement query on its own), so nothing after a top-level ';' is
 * read. */

typedef enum tf_statement_kind {
    TF_STMT_OTHER = 0,     /* anything not below (SET, GRANT, CREATE USER, FLUSH, RELEASE
                              SAVEPOINT, ...): touches no table data */
    TF_STMT_BEGIN,         /* BEGIN [WORK], START TRANSACTION, XA START / XA BEGIN */
    TF_STMT_COMMIT,        /* COMMIT, XA END / XA PREPARE / XA COMMIT (xa set) */
    TF_STMT_ROLLBACK,      /* ROLLBACK, XA ROLLBACK (xa set); ROLLBACK TO SAVEPOINT sets
                              to_savepoint: only the work after the savepoint is undone */
    TF_STMT_SAVEPOINT,     /* SAVEPOINT name */
    TF_STMT_DML,           /* INSERT, REPLACE, UPDATE, DELETE, LOAD DATA / XML (row changes
                              written as SQL); also SELECT, DO, CALL, EXECUTE and
                              BEGIN NOT ATOMIC, which are logged only when stored code
                              they run changed data: tables_unknown */
    TF_STMT_TRUNCATE,      /* TRUNCATE [TABLE] t */
    TF_STMT_ALTER_TABLE,   /* ALTER [ONLINE|OFFLINE] [IGNORE] TABLE [IF EXISTS] t ...; a
                              RENAME [TO|AS] clause sets tables[0].rename_to_* */
    TF_STMT_RENAME_TABLE,  /* RENAME TABLE[S] [IF EXISTS] a TO b [, c TO d ...]: one entry
                              per pair, the new name in rename_to_* */
    TF_STMT_DROP_TABLE,    /* DROP [TEMPORARY] TABLE[S] [IF EXISTS] a [, b ...] */
    TF_STMT_CREATE_TABLE,  /* CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t
                              (... | LIKE u | AS SELECT ...): tables[0] = t */
    TF_STMT_DROP_DATABASE, /* DROP DATABASE|SCHEMA [IF EXISTS] db: no tables, database set */
    TF_STMT_OTHER_DDL,     /* other schema changes: CREATE/DROP INDEX (tables[0] = the
                              indexed table), CREATE TRIGGER (its table), CREATE/ALTER/DROP
                              VIEW and SEQUENCE (their names), CREATE/ALTER DATABASE
                              (database set), OPTIMIZE/ANALYZE/REPAIR/CHECK TABLE (their
                              tables), DROP TRIGGER, PROCEDURE, FUNCTION, EVENT and any
                              CREATE/ALTER/DROP of an object we do not know (no tables);
                              MySQL's IMPORT TABLE (tables_unknown) */
} tf_statement_kind;

/* One table a statement names. All names borrow from the classified text. */
typedef struct tf_statement_table {
    tf_str database;           /* empty when not qualified: the QUERY event's current
                                  database applies */
    tf_str table;              /* without its quotes */
    tf_str rename_to_database; /* RENAME TABLE / ALTER TABLE ... RENAME: the new name's
                                  database (empty when not qualified), else empty */
    tf_str rename_to_table;    /* the new name, else empty */
    bool has_escaped_quote;    /* one of the four names above held an escaped quote: it is
                                  left as written (`a``b` gives a``b, "a""b" gives a""b, a
                                  backslash in double quotes stays); collapse the doubled
                                  quote before comparing, or treat the entry as any table */
} tf_statement_table;

#define TF_STATEMENT_MAX_TABLES 16

typedef struct tf_statement {
    tf_statement_kind kind;
    /* CREATE/DROP TEMPORARY TABLE (or SEQUENCE): a session's own table, never
     * a flow table's data. */
    bool temporary;
    /* DROP ... IF EXISTS, ALTER TABLE|SEQUENCE IF EXISTS, RENAME TABLE IF EXISTS. */
    bool if_exists;
    /* CREATE ... IF NOT EXISTS: nothing happens if the object exists. */
    bool if_not_exists;
    /* CREATE OR REPLACE (MariaDB): for a table, an existing table of that name
     * is dropped first, with its rows. */
    bool replaces;
    /* ROLLBACK [WORK] TO [SAVEPOINT] name. */
    bool to_savepoint;
    /* An XA statement (XA START/END/PREPARE/COMMIT/ROLLBACK/RECOVER). */
    bool xa;
    /* ALTER TABLE with a clause that removes or replaces rows without rows
     * events: DROP/TRUNCATE/EXCHANGE/CONVERT PARTITION, CONVERT TABLE,
     * DISCARD/IMPORT TABLESPACE. */
    bool changes_rows;
    /* Entries used in tables[]: the tables the statement writes, targets
     * first, each once; for a multi-table UPDATE or DELETE every table it
     * names (some may only be read). Aliases are resolved to their tables; a
     * WITH name used as a table is listed as one. */
    size_t table_count;
    /* It names more than TF_STATEMENT_MAX_TABLES: callers must assume any
     * table. */
    bool tables_truncated;
    /* Its tables could not all be determined (a multi-table UPDATE or DELETE
     * we could not follow, a WITH we could not parse, stored code, text cut
     * off before or inside a name): callers must assume any table. */
    bool tables_unknown;
    tf_statement_table tables[TF_STATEMENT_MAX_TABLES];
    /* DROP/CREATE/ALTER DATABASE: its name, else empty. */
    tf_str database;
    /* As tf_statement_table.has_escaped_quote, for database. */
    bool database_has_escaped_quote;
} tf_statement;

/* Classifies one statement's SQL (a QUERY event's statement, a ROWS_QUERY's
 * text). The tf_str fields of *out point into sql: keep it alive while using
 * them. Never fails and never reads past len: any bytes are accepted, NULs
 * included, and text that does not start with a statement listed above is
 * TF_STMT_OTHER. Allocates nothing. */
void tf_statement_classify(const char *sql, size_t len, tf_statement *out);

/* ---- table maps ---- */

/* Which TABLE_MAP optional metadata the server sent (bit per type:
 * 1u << TF_TABLE_META_*). */
enum {
    TF_TABLE_META_SIGNEDNESS = 1,
    TF_TABLE_META_DEFAULT_CHARSET = 2,
    TF_TABLE_META_COLUMN_CHARSET = 3,
    TF_TABLE_META_COLUMN_NAME = 4,
    TF_TABLE_META_SET_STR_VALUE = 5,
    TF_TABLE_META_ENUM_STR_VALUE = 6,
    TF_TABLE_META_GEOMETRY_TYPE = 7,
    TF_TABLE_META_SIMPLE_PRIMARY_KEY = 8,
    TF_TABLE_META_PRIMARY_KEY_WITH_PREFIX = 9,
    TF_TABLE_META_ENUM_AND_SET_DEFAULT_CHARSET = 10,
    TF_TABLE_META_ENUM_AND_SET_COLUMN_CHARSET = 11,
    TF_TABLE_META_COLUMN_VISIBILITY = 12,
    TF_TABLE_META_VECTOR_DIMENSIONALITY = 13,
};

/* An owned, decoded TABLE_MAP. Strings are NUL-terminated copies. */
typedef struct tf_table_map {
    uint64_t table_id;
    uint16_t flags;
    tf_str database;
    tf_str table;
    uint32_t column_count;
    tf_column *columns;           /* column_count entries, see section 5 */
    uint32_t optional_metadata;   /* bit set of TF_TABLE_META_* received */
    uint32_t primary_key_count;   /* columns of the primary key, key order */
    uint32_t *primary_key;        /* column indexes */
    uint32_t *primary_key_prefix; /* prefix length per key column, 0 = whole */
} tf_table_map;

/* Decodes a TABLE_MAP event (ev->kind == TF_EVENT_TABLE_MAP) into a new
 * owned map: real types for ENUM/SET, normalised meta (section 5),
 * nullability and every optional metadata field. Bad lengths give
 * TF_MALFORMED naming the field and offset. */
tf_status tf_table_map_new(const tf_event *ev, tf_table_map **out, tf_error *err);
void tf_table_map_destroy(tf_table_map *map);

/* table_id -> map. A new map with the same id replaces the old one (ids
 * are reused after FLUSH TABLES / ALTER). */
typedef struct tf_table_maps tf_table_maps;

tf_table_maps *tf_table_maps_new(void);
void tf_table_maps_destroy(tf_table_maps *maps);
/* Takes ownership of map (destroyed by the registry). false if out of
 * memory (map is then destroyed). */
bool tf_table_maps_put_steal(tf_table_maps *maps, tf_table_map *map);
/* Decodes ev with tf_table_map_new and puts it. */
tf_status tf_table_maps_add_event(tf_table_maps *maps, const tf_event *ev, tf_error *err);
const tf_table_map *tf_table_maps_get(const tf_table_maps *maps, uint64_t table_id);
/* The map a rows event refers to; TF_MALFORMED "rows event for table_id N
 * without a TABLE_MAP" when there is none. */
tf_status tf_table_maps_find(const tf_table_maps *maps, const tf_event *ev,
                             const tf_table_map **out, tf_error *err);
size_t tf_table_maps_count(const tf_table_maps *maps);
void tf_table_maps_clear(tf_table_maps *maps);

/* ---- rows ---- */

/* Walks the rows of one rows event without allocating. Values borrow from
 * the event buffer (or, for MariaDB compressed rows, from a buffer the
 * cursor owns until tf_rows_cleanup). */
typedef struct tf_rows_cursor {
    const tf_rows_event *rows;
    const tf_table_map *map;
    const uint8_t *data; /* row images */
    size_t len;
    size_t pos;
    size_t base; /* offset of data[0] in the event */
    uint64_t row_index;
    uint8_t *inflated; /* owned, compressed rows only */
} tf_rows_cursor;

/* Starts at the first row. Checks the map matches (same table_id, same
 * column count). */
tf_status tf_rows_begin(tf_rows_cursor *cur, const tf_event *ev, const tf_table_map *map,
                        tf_error *err);
bool tf_rows_has_next(const tf_rows_cursor *cur);
/* Decodes the next row into before[] and after[] (map->column_count values
 * each; either may be NULL to skip: that image is then only validated,
 * with the same checks and error messages, and nothing is decoded that
 * only the values would hold, e.g. DECIMAL text). Columns not in an image are
 * TF_VAL_ABSENT; WRITE fills only after (before all ABSENT), DELETE only
 * before, UPDATE both. PARTIAL_UPDATE: a JSON column sent as a diff in the
 * after image is TF_VAL_JSON_DIFF. */
tf_status tf_rows_next(tf_rows_cursor *cur, tf_value *before, tf_value *after, tf_error *err);
void tf_rows_cleanup(tf_rows_cursor *cur);

/* ---- TRANSACTION_PAYLOAD ---- */

/* Inflates a TRANSACTION_PAYLOAD and yields its inner events (no checksum,
 * log_pos 0), decoded with tf_event_decode. The declared uncompressed size
 * is checked against max_uncompressed and against what zstd produces.
 * Inner events borrow from the iterator's buffer: valid until cleanup. */
typedef struct tf_payload_iter {
    uint8_t *buf;
    size_t len;
    size_t pos;
    tf_format inner_format; /* outer format, checksum off */
} tf_payload_iter;

tf_status tf_payload_iter_init(tf_payload_iter *it, const tf_event *ev, const tf_format *fmt,
                               size_t max_uncompressed, tf_error *err);
bool tf_payload_iter_has_next(const tf_payload_iter *it);
tf_status tf_payload_iter_next(tf_payload_iter *it, tf_event *inner, tf_error *err);
void tf_payload_iter_cleanup(tf_payload_iter *it);

/* ---- whole files in memory ---- */

/* Iterates a binlog file held in memory: checks the magic, frames, decodes,
 * follows FORMAT_DESCRIPTION. Error messages are prefixed with the file
 * offset of the event ("at offset 316: ..."). */
typedef struct tf_binlog_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;          /* offset of the next event */
    size_t event_offset; /* offset of the event last returned */
    tf_format fmt;
} tf_binlog_reader;

/* TF_MALFORMED if the magic is wrong. */
tf_status tf_binlog_reader_init(tf_binlog_reader *r, const uint8_t *buf, size_t len, tf_error *err);
bool tf_binlog_reader_at_end(const tf_binlog_reader *r);
/* TF_OK: next event in *ev. TF_NEED_MORE: the file ends inside an event
 * (err says where and how much is missing). TF_MALFORMED: err. */
tf_status tf_binlog_reader_next(tf_binlog_reader *r, tf_event *ev, tf_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TAPFLOW_PROTOCOL_H */
