/* replication_command.c — payloads of the commands a replica sends to
 * start streaming: COM_REGISTER_SLAVE, COM_BINLOG_DUMP and
 * COM_BINLOG_DUMP_GTID. Payload only; the packet layer adds the header. */
#include "protocol.h"

#include <string.h>

/* A little writer that never passes its end: encoders first compute the
 * size, check cap, then write without further checks. */
typedef struct put {
    uint8_t *p;
} put;

static void put_u8(put *w, uint8_t v) { *w->p++ = v; }

static void put_le(put *w, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_bytes(put *w, const void *src, size_t n)
{
    if (n)
        memcpy(w->p, src, n);
    w->p += n;
}

/* Common tail of every encoder: report the size, or that cap is short. */
static tf_status check_room(size_t need, size_t cap, size_t *len)
{
    *len = need;
    return cap < need ? TF_NEED_MORE : TF_OK;
}

static tf_status check_short_string(const tf_str *s, const char *field, tf_error *err)
{
    if (s->len > 255)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "COM_REGISTER_SLAVE: %s is %zu bytes; its 1-byte length allows "
                            "at most 255",
                            field, s->len);
    return TF_OK;
}

/* COM_REGISTER_SLAVE:
 *   1 command 0x15, 4 server_id, 1+n hostname, 1+n user, 1+n password,
 *   2 port, 4 replication rank, 4 master id. */
tf_status tf_com_register_slave_encode(const tf_register_slave *args, uint8_t *buf, size_t cap,
                                       size_t *len, tf_error *err)
{
    tf_status st = check_short_string(&args->hostname, "hostname", err);
    if (st == TF_OK)
        st = check_short_string(&args->user, "user", err);
    if (st == TF_OK)
        st = check_short_string(&args->password, "password", err);
    if (st != TF_OK)
        return st;
    size_t need =
        1 + 4 + 1 + args->hostname.len + 1 + args->user.len + 1 + args->password.len + 2 + 4 + 4;
    st = check_room(need, cap, len);
    if (st != TF_OK)
        return st;
    put w = {buf};
    put_u8(&w, TF_COM_REGISTER_SLAVE);
    put_le(&w, args->server_id, 4);
    put_u8(&w, (uint8_t)args->hostname.len);
    put_bytes(&w, args->hostname.ptr, args->hostname.len);
    put_u8(&w, (uint8_t)args->user.len);
    put_bytes(&w, args->user.ptr, args->user.len);
    put_u8(&w, (uint8_t)args->password.len);
    put_bytes(&w, args->password.ptr, args->password.len);
    put_le(&w, args->port, 2);
    put_le(&w, args->replication_rank, 4);
    put_le(&w, args->master_id, 4);
    return TF_OK;
}

/* COM_BINLOG_DUMP:
 *   1 command 0x12, 4 position, 2 flags, 4 server_id, file name to the end. */
tf_status tf_com_binlog_dump_encode(const tf_binlog_dump *args, uint8_t *buf, size_t cap,
                                    size_t *len, tf_error *err)
{
    (void)err; /* every argument is encodable */
    size_t need = 1 + 4 + 2 + 4 + args->file_name.len;
    tf_status st = check_room(need, cap, len);
    if (st != TF_OK)
        return st;
    put w = {buf};
    put_u8(&w, TF_COM_BINLOG_DUMP);
    put_le(&w, args->position, 4);
    put_le(&w, args->flags, 2);
    put_le(&w, args->server_id, 4);
    put_bytes(&w, args->file_name.ptr, args->file_name.len);
    return TF_OK;
}

/* COM_BINLOG_DUMP_GTID (MySQL's com_binlog_dump_gtid reads exactly this):
 *   1 command 0x1e, 2 flags, 4 server_id, 4 file name length, n file name,
 *   8 position, 4 data size, data = Gtid_set::encode of the set. */
tf_status tf_com_binlog_dump_gtid_encode(const tf_binlog_dump_gtid *args, uint8_t *buf, size_t cap,
                                         size_t *len, tf_error *err)
{
    static const uint8_t empty_set[8] = {0};
    size_t data_len = args->gtids ? tf_gtid_set_binary_length(args->gtids) : sizeof empty_set;
    if (args->file_name.len > UINT32_MAX || data_len > UINT32_MAX)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "COM_BINLOG_DUMP_GTID: file name (%zu bytes) or GTID set (%zu "
                            "bytes) exceeds the 4-byte length field",
                            args->file_name.len, data_len);
    size_t need = 1 + 2 + 4 + 4 + args->file_name.len + 8 + 4 + data_len;
    tf_status st = check_room(need, cap, len);
    if (st != TF_OK)
        return st;
    put w = {buf};
    put_u8(&w, TF_COM_BINLOG_DUMP_GTID);
    put_le(&w, args->flags, 2);
    put_le(&w, args->server_id, 4);
    put_le(&w, args->file_name.len, 4);
    put_bytes(&w, args->file_name.ptr, args->file_name.len);
    put_le(&w, args->position, 8);
    put_le(&w, data_len, 4);
    if (args->gtids)
        tf_gtid_set_encode_binary(args->gtids, w.p, data_len);
    else
        put_bytes(&w, empty_set, sizeof empty_set);
    return TF_OK;
}
