/* command.c — the client commands tapflow sends outside replication:
 * COM_QUERY, COM_INIT_DB, COM_PING, COM_QUIT. A command always starts a new
 * exchange, so its first packet carries sequence id 0. */
#include "protocol.h"

static size_t encode_command(uint8_t command, const char *arg, size_t arg_len, uint8_t *out,
                             size_t cap, uint8_t *next_seq)
{
    return tf_packet_encode(&command, 1, (const uint8_t *)arg, arg_len, 0, out, cap, next_seq);
}

size_t tf_com_query_size(size_t query_len) { return tf_packet_encoded_size(1 + query_len); }

size_t tf_com_query_encode(const char *query, size_t query_len, uint8_t *out, size_t cap,
                           uint8_t *next_seq)
{
    return encode_command(TF_COM_QUERY, query, query_len, out, cap, next_seq);
}

size_t tf_com_init_db_size(size_t schema_len) { return tf_packet_encoded_size(1 + schema_len); }

size_t tf_com_init_db_encode(const char *schema, size_t schema_len, uint8_t *out, size_t cap,
                             uint8_t *next_seq)
{
    return encode_command(TF_COM_INIT_DB, schema, schema_len, out, cap, next_seq);
}

size_t tf_com_ping_encode(uint8_t *out, size_t cap)
{
    return encode_command(TF_COM_PING, NULL, 0, out, cap, NULL);
}

size_t tf_com_quit_encode(uint8_t *out, size_t cap)
{
    return encode_command(TF_COM_QUIT, NULL, 0, out, cap, NULL);
}
