/* fuzz_packet.c — libFuzzer harness for the packet layer: framing, the
 * OK / ERR / EOF / column / row decoders and the streaming resultset reader.
 * The first input byte picks the negotiated capabilities (the same bytes
 * mean different things with and without DEPRECATE_EOF, SESSION_TRACK and
 * MariaDB's extended metadata); the rest is a server's byte stream. */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

static const uint64_t caps_choices[] = {
    UINT64_C(0x000aa204),                          /* classic EOF */
    UINT64_C(0x010aa204),                          /* DEPRECATE_EOF */
    UINT64_C(0x00bfa284) | (UINT64_C(0x1d) << 32), /* mariadb CLI */
    UINT64_C(0x01bfa284) | (UINT64_C(0x1d) << 32),
};

static void decode_alone(const uint8_t *p, size_t n, uint64_t caps)
{
    tf_error err;
    tf_ok_packet ok;
    tf_err_packet ep;
    tf_eof_packet eof;
    tf_column_def def;
    uint64_t count;
    bool follows;
    tf_str values[8];
    bool nulls[8];
    tf_ok_decode(p, n, caps, &ok, &err);
    tf_end_decode(p, n, caps, &ok, &err);
    tf_err_decode(p, n, &ep, &err);
    tf_err_payload_to_error(p, n, &err);
    tf_eof_decode(p, n, caps, &eof, &err);
    tf_local_infile_reject(p, n, &err);
    tf_column_count_decode(p, n, caps, &count, &follows, &err);
    tf_column_def_decode(p, n, caps, &def, &err);
    tf_text_row_decode(p, n, n % 8 + 1, values, nulls, &err);
    tf_response_classify(p, n);
    tf_resultset_classify(p, n, caps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t caps = caps_choices[data[0] % 4];
    data++;
    size--;
    decode_alone(data, size, caps);

    tf_resultset rs;
    tf_str values[64];
    bool nulls[64];
    tf_resultset_init(&rs, caps);
    rs.values = values;
    rs.nulls = nulls;
    rs.capacity = 64;
    size_t pos = 0;
    uint8_t seq = 1;
    while (pos < size) {
        tf_packet_span span;
        tf_error err;
        if (tf_packet_scan(data + pos, size - pos, seq, &span, &err) != TF_OK)
            break;
        uint8_t *copy = malloc(span.payload_len ? span.payload_len : 1);
        tf_packet_assemble(data + pos, &span, copy);
        tf_resultset_item item;
        tf_status st = tf_resultset_feed(&rs, copy, span.payload_len, &item, &err);
        free(copy);
        if (st != TF_OK)
            break;
        pos += span.wire_len;
        seq = span.next_seq;
    }
    return 0;
}
